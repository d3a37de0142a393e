#!/usr/bin/python3
"""End-to-end, adversarial: nothing a user has is lost or clobbered, and nothing wrong is passed off as
a result (issue 13). Each test tries to lose a user's work the way a tired person at 2 a.m. would:

- replace or remove the output of a job that is still running;
- write an output over one of the job's own inputs;
- flip bytes inside a finished or partial output, then inspect, verify and resume it;
- feed unbounded or nonsensical inputs (devices, FIFOs, NaN, NUL, unstorable names, 10^12 tasks);
- stop a job while it creates its output, or kill it there;
- resume with an edited job (parameter identity), or with changed [app] settings;
- fill the disk under a running job; hold the output open in h5py.

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_data_safety.py
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

import h5py
import numpy as np

import farmproc  # noqa: F401  (first: makes TASKFARM default to the dev build)
import common
from farmproc import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_TASKS_FAILED, assert_one_error_line

EXIT_FATAL = 3


def sweep_job(temperatures, seeds, output="out.h5", app_extra="", mean_ms=0.01):
    """A product sweep over T (explicit list) and seed (range) of the synthetic app: every result is a
    nonzero cost drawn from (seed, task index), so a result kept at a wrong index shows."""
    t_list = ", ".join(repr(float(t)) for t in temperatures)
    return (f'[job]\nname = "sweep"\napp = "synthetic"\noutput = "{output}"\n'
            f"[params]\nT = [{t_list}]\nseed = {{ range = [{seeds[0]}, {seeds[1]}] }}\n"
            f'[app]\ndistribution = "uniform"\nmean_ms = {mean_ms}\nspread = 0.5\nseed = 11\n{app_extra}')


def rows_job(rows, output="out.h5", width=64):
    """Mandelbrot rows: a row's pixels depend on its `row` value alone (results follow parameters)."""
    return (f'[job]\nname = "rows"\napp = "mandelbrot"\noutput = "{output}"\n'
            f"[params]\nrow = [{', '.join(map(str, rows))}]\n[app]\nwidth = {width}\nheight = 200\nmax_iter = 300\n")


def rows_by_value(path):
    """{row: (pixels, state)} of a mandelbrot output."""
    with farmproc.open_h5(path) as f:
        rows = f["params/row"][()]
        pixels = f["results/iterations"][()]
        state = f["tasks/state"][()]
    return {int(r): (p.tobytes(), int(s)) for r, p, s in zip(rows, pixels, state)}


def flip(path, offset, count=4):
    """XORs `count` bytes at `offset` with 0x5a (a few flipped bits, as a bad sector or a bit rot would)."""
    with open(path, "r+b") as f:
        f.seek(offset)
        data = bytearray(f.read(count))
        f.seek(offset)
        f.write(bytes(b ^ 0x5A for b in data))


def chunk_offset(path, dataset, index=0):
    """Byte offset in the file of chunk `index` of `dataset` (h5py's low-level chunk query)."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(index)
        return info.byte_offset, info.size


def results_by_params(path):
    """{(T, seed): (seconds result, state)} of an output: a task's identity is its parameter values."""
    with farmproc.open_h5(path) as f:
        t = f["params/T"][()]
        seed = f["params/seed"][()]
        res = f["results/seconds"][()]
        state = f["tasks/state"][()]
    return {(float(a), int(b)): (float(r), int(s)) for a, b, r, s in zip(t, seed, res, state)}


class DataSafety(common.TempDirTestCase):

    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    def run_tf(self, *args, ranks=None, timeout=common.COMMAND_TIMEOUT):
        command = [self.taskfarm, *map(str, args)]
        if ranks:
            return common.mpirun(ranks, command, cwd=self.tmp, timeout=timeout)
        return common.run(command, cwd=self.tmp, timeout=timeout)

    def no_temporaries(self):
        self.assertEqual(sorted(p.name for p in self.tmp.glob("*.creating-*")), [])

    # -- 1. a running job's output -------------------------------------------------------------------------

    def start_slow_job(self, n=3000, mean_ms=20.0, hdf5_locking=True):
        self.write("slow.toml", farmproc.synthetic_job(n, mean_ms=mean_ms, spread=0.1, output="running.h5"))
        # one rank: the job busy-spins, and the commands this test runs beside it need the other core
        args = [self.taskfarm, "run", "slow.toml", "--progress-seconds", "0", "--checkpoint-seconds", "0.2"]
        if not hdf5_locking:  # HDF5 takes no flock anywhere: taskfarm's own lock is all that protects
            os.environ["HDF5_USE_FILE_LOCKING"] = "FALSE"
            self.addCleanup(os.environ.pop, "HDF5_USE_FILE_LOCKING", None)
        launch = farmproc.Launch(1, args, self.tmp)
        self.addCleanup(launch.kill_all)
        deadline = time.monotonic() + 60
        while not (self.tmp / "running.h5").exists():
            self.assertTrue(launch.running(), launch.describe())
            self.assertLess(time.monotonic(), deadline, "the job never created its output")
            time.sleep(0.02)
        return launch

    def test_force_never_replaces_a_running_jobs_output(self):
        self.check_running_output_is_safe(self.start_slow_job())

    def test_force_never_replaces_a_running_jobs_output_without_hdf5_locks(self):
        self.check_running_output_is_safe(self.start_slow_job(hdf5_locking=False))

    def check_running_output_is_safe(self, launch):
        self.write("other.toml", farmproc.synthetic_job(10, mean_ms=0.0, name="other"))
        for env_lock in (None, "FALSE"):  # also when the other command turns HDF5's own locking off
            env = dict(common.env())
            if env_lock:
                env["HDF5_USE_FILE_LOCKING"] = env_lock
            proc = subprocess.run([self.taskfarm, "run", "other.toml", "-o", "running.h5", "--force"], cwd=self.tmp,
                                  env=env, capture_output=True, text=True, timeout=60)
            r = common.Result(["run", "other.toml", "-o", "running.h5", "--force"], proc, 0)
            with self.subTest(hdf5_locking=env_lock):
                assert_one_error_line(self, r, "running job", "--force", source="running.h5")
        for command in ("resume", "verify"):  # nor does anything else touch or misread it
            with self.subTest(command=command):
                assert_one_error_line(self, self.run_tf(command, "running.h5"), "running job", source="running.h5")
        # inspect shows the job's live status (issue 11) without opening the file it is writing
        r = self.run_tf("inspect", "running.h5")
        self.assertEqual(r.code, 0, r.describe())
        self.assertIn("running.h5: running", r.stdout)
        self.assertTrue(launch.running(), "the job must still be running for this test to mean anything")
        os.kill(launch.pid, signal.SIGUSR1)
        self.assertEqual(launch.wait(), EXIT_INTERRUPTED, launch.describe())
        self.assertNotIn("removed or replaced", launch.stderr())
        with farmproc.open_h5(self.tmp / "running.h5") as f:
            self.assertEqual(farmproc.text(f.attrs["job_name"]), "crash")
            self.assertEqual(f["tasks/state"].shape, (3000,))
        self.no_temporaries()

    def test_a_job_whose_output_is_removed_fails_loudly_and_saves_its_work(self):
        launch = self.start_slow_job()
        time.sleep(0.8)
        os.remove(self.tmp / "running.h5")
        code = launch.wait()
        self.assertNotEqual(code, EXIT_OK, launch.describe())
        self.assertIn("removed or replaced", launch.stderr(), launch.describe())
        orphans = list(self.tmp.glob("running.h5.orphaned-*"))
        self.assertEqual(len(orphans), 1, launch.describe())
        with h5py.File(orphans[0], "r") as f:  # the work so far, readable, checkpoint-consistent
            self.assertEqual(f["tasks/state"].shape, (3000,))
            self.assertGreater(int(np.count_nonzero(f["tasks/state"][()] == farmproc.DONE)), 0)

    def test_a_job_whose_output_is_renamed_over_fails_loudly(self):
        launch = self.start_slow_job()
        time.sleep(0.8)
        imposter = self.write("imposter.h5", "not the job's file\n")
        os.replace(imposter, self.tmp / "running.h5")
        launch.wait()
        self.assertNotEqual(launch.code, EXIT_OK, launch.describe())
        self.assertIn("removed or replaced", launch.stderr(), launch.describe())
        self.assertEqual((self.tmp / "running.h5").read_text(), "not the job's file\n")  # never written over

    # -- 2. an output over an input -------------------------------------------------------------------------

    def assert_input_kept(self, path, *args):
        before = Path(path).read_bytes()
        r = self.run_tf("run", *args, "--force")
        assert_one_error_line(self, r, "input of the job", "--force")
        self.assertEqual(Path(path).read_bytes(), before, f"{path} was changed")
        self.no_temporaries()

    def test_output_over_the_job_file_is_refused(self):
        job = self.write("job.toml", farmproc.synthetic_job(10, mean_ms=0.0))
        self.assert_input_kept(job, "job.toml", "-o", "job.toml")
        self.assert_input_kept(job, "job.toml", "-o", str(job))  # another spelling of the same file
        os.symlink("job.toml", self.tmp / "link.toml")
        self.assert_input_kept(job, "job.toml", "-o", "link.toml")  # a symlink to it
        os.link(job, self.tmp / "hard.toml")
        self.assert_input_kept(job, "job.toml", "-o", "hard.toml")  # a hard link to it
        r = self.run_tf("run", "job.toml", "-o", "job.toml", "--force", ranks=3)
        assert_one_error_line(self, r, "input of the job", exact=False)

    def test_output_over_a_costs_file_or_replayed_output_is_refused(self):
        costs = self.write("costs.txt", "1\n2\n3\n")
        self.write("file.toml", '[job]\napp = "synthetic"\n[params]\ntask = { range = [0, 3] }\n'
                                '[app]\ndistribution = "file"\ncosts_file = "costs.txt"\nmean_ms = 0.01\n')
        self.assert_input_kept(costs, "file.toml", "-o", "costs.txt")
        self.write("first.toml", farmproc.synthetic_job(5, mean_ms=0.0, output="first.h5"))
        self.assertEqual(self.run_tf("run", "first.toml").code, EXIT_OK)
        self.write("replay.toml", '[job]\napp = "synthetic"\n[params]\ntask = { range = [0, 5] }\n'
                                  '[app]\ndistribution = "replay"\nreplay = "first.h5"\n')
        self.assert_input_kept(self.tmp / "first.h5", "replay.toml", "-o", "first.h5")

    # -- 3. silent corruption ---------------------------------------------------------------------------

    def reference(self, text, name="ref.h5"):
        self.write("ref.toml", text.replace('output = "out.h5"', f'output = "{name}"'))
        r = self.run_tf("run", "ref.toml", "--progress-seconds", "0", ranks=2)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        return farmproc.read_output(self.tmp / name)

    def test_flipped_bytes_are_found_and_recomputed(self):
        text = sweep_job([1.0, 2.0, 3.0], (0, 100))
        ref = self.reference(text)
        self.write("job.toml", text)
        for dataset in ("results/seconds", "tasks/state", "tasks/seconds", "params/T"):
            with self.subTest(dataset=dataset):
                out = self.tmp / "out.h5"
                if out.exists():
                    out.unlink()
                for stale in self.tmp.glob("out.h5.before-resume-*"):
                    stale.unlink()
                self.assertEqual(self.run_tf("run", "job.toml", "--progress-seconds", "0", ranks=2).code, EXIT_OK)
                offset, size = chunk_offset(out, dataset)
                flip(out, offset + size // 2)
                damaged_bytes = out.read_bytes()
                # h5py refuses to return the damaged values (the checksum), it never returns wrong ones
                with h5py.File(out, "r") as f:
                    with self.assertRaises(OSError):
                        f[dataset][()]
                r = self.run_tf("verify", "out.h5")
                self.assertEqual(r.code, EXIT_TASKS_FAILED, r.describe())
                self.assertIn(f"/{dataset} is damaged for tasks 0-299", r.stdout)
                r = self.run_tf("inspect", "out.h5")
                self.assertEqual(r.code, EXIT_TASKS_FAILED, r.describe())
                self.assertIn("DAMAGED", r.stdout)
                r = self.run_tf("resume", "out.h5", "--progress-seconds", "0", ranks=3)
                self.assertEqual(r.code, EXIT_OK, r.describe())
                self.assertEqual(len([x for x in r.stderr.splitlines() if "damaged" in x]), 1, r.stderr)
                got = farmproc.read_output(out)
                for k in ref["results"]:
                    self.assertTrue(farmproc.same_bytes(got["results"][k], ref["results"][k]), k)
                for k in ref["params"]:
                    self.assertTrue(farmproc.same_bytes(got["params"][k], ref["params"][k]), k)
                self.assertTrue(farmproc.same_bytes(got["state"], ref["state"]))
                self.assertEqual(self.run_tf("verify", "out.h5").code, EXIT_OK)
                backups = list(self.tmp.glob("out.h5.before-resume-*"))
                if dataset != "params/T":  # results were lost: the damaged file is kept as it was
                    self.assertEqual(len(backups), 1, r.stderr)
                    self.assertEqual(backups[0].read_bytes(), damaged_bytes)
                with h5py.File(out, "r") as f:
                    self.assertIn("damaged", farmproc.text(f.attrs["history"]))

    def test_damage_in_a_partial_file_is_recomputed(self):
        text = sweep_job([1.0, 2.0, 3.0, 4.0], (0, 300), mean_ms=5.0)
        ref = self.reference(text)
        self.write("job.toml", text)
        launch = farmproc.Launch(2, [self.taskfarm, "run", "job.toml", "--progress-seconds", "0",
                                     "--checkpoint-seconds", "0.1"], self.tmp)
        self.addCleanup(launch.kill_all)
        out = self.tmp / "out.h5"
        while not out.exists() and launch.running():
            time.sleep(0.01)
        time.sleep(1.5)  # a running job's file is locked: wait, do not poll it
        os.kill(launch.pid, signal.SIGUSR1)
        self.assertEqual(launch.wait(), EXIT_INTERRUPTED, launch.describe())
        self.assertGreater(farmproc.count_done(out), 0)
        offset, size = chunk_offset(out, "results/seconds")
        flip(out, offset + 8)
        r = self.run_tf("resume", "out.h5", "--progress-seconds", "0", ranks=2)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        got = farmproc.read_output(out)
        self.assertTrue(farmproc.same_bytes(got["results"]["seconds"], ref["results"]["seconds"]))
        self.assertTrue((got["state"] == farmproc.DONE).all())

    # -- 4. unbounded or nonsensical inputs ----------------------------------------------------------------

    def test_devices_fifos_and_huge_files_are_refused_at_once(self):
        os.mkfifo(self.tmp / "fifo.toml")
        big = self.tmp / "big.toml"
        with open(big, "wb") as f:
            f.truncate(17 << 20)
        for job, needle in (("/dev/zero", "not a regular file"), ("fifo.toml", "not a regular file"),
                            ("big.toml", "too large")):
            with self.subTest(job=job):
                r = self.run_tf("validate", job, timeout=20)
                assert_one_error_line(self, r, needle, source=job)
                r = self.run_tf("run", job, timeout=20)
                assert_one_error_line(self, r, needle, source=job)
        costs = self.write("costs.toml", '[job]\napp = "synthetic"\n[params]\ntask = { range = [0, 3] }\n'
                                         '[app]\ndistribution = "file"\ncosts_file = "/dev/zero"\n')
        r = self.run_tf("validate", costs.name, timeout=20)
        assert_one_error_line(self, r, "[app] costs_file", "not a regular file")

    def test_bad_numbers_on_the_command_line(self):
        self.write("job.toml", farmproc.synthetic_job(5, mean_ms=0.0))
        for option, value in (("--checkpoint-seconds", "nan"), ("--checkpoint-seconds", "inf"),
                              ("--checkpoint-seconds", "-1"), ("--checkpoint-seconds", "1e300"),
                              ("--checkpoint-seconds", "0"), ("--progress-seconds", "nan"),
                              ("--progress-seconds", "-0.5")):
            with self.subTest(option=option, value=value):
                r = self.run_tf("run", "job.toml", option, value)
                assert_one_error_line(self, r, option, value)
                self.assertFalse((self.tmp / "out.h5").exists())
        r = self.run_tf("run", "job.toml", "-o", "")
        assert_one_error_line(self, r, "--output", "empty")
        r = self.run_tf("resume", "")
        assert_one_error_line(self, r, "empty")
        self.write("sim.toml", farmproc.synthetic_job(5, mean_ms=1.0))
        r = self.run_tf("simulate", "sim.toml", "--ranks", "2", "--latency-us", "nan")
        assert_one_error_line(self, r, "--latency-us")
        self.assertFalse((self.tmp / "out.h5").exists())

    def test_values_taskfarm_cannot_store_are_refused_by_validate(self):
        head = '[job]\napp = "synthetic"\n'
        cases = {
            "nan_in_list": (head + "[params]\nx = [1.0, nan, 2.0]\n", "[params] x", "finite"),
            "inf_in_linspace": (head + "[params]\nx = { linspace = [0.0, inf, 3] }\n", "finite"),
            "logspace_overflow": (head + "[params]\nx = { logspace = [0, 400, 3] }\n", "[params] x", "finite"),
            "nan_setting": (head + "[app]\nmean_ms = nan\n", "[app] mean_ms", "finite"),
            "nul_in_axis_value": (head + '[params]\nname = ["a\\u0000b", "c"]\n', "[params] name", "NUL"),
            "nul_in_output": (head + 'output = "out\\u0000.h5"\n', "[job] output", "NUL"),
            "slash_in_axis_name": (head + '[params]\n"a/b" = [1, 2]\n', "'/'"),
            "dot_axis_name": (head + '[params]\n"." = [1, 2]\n', "reserved"),
            "empty_axis_name": (head + '[params]\n"" = [1, 2]\n', "empty"),
            "control_char_axis_name": (head + '[params]\n"a\\tb" = [1, 2]\n', "control character"),
        }
        for name, (text, *needles) in cases.items():
            with self.subTest(case=name):
                self.write(f"{name}.toml", text)
                r = self.run_tf("validate", f"{name}.toml")
                assert_one_error_line(self, r, *needles, source=f"{name}.toml")

    def test_a_job_larger_than_the_disk_is_refused_before_anything_is_written(self):
        self.write("huge.toml", '[job]\napp = "synthetic"\noutput = "huge.h5"\n'
                                "[params]\ntask = { range = [0, 1000000000000] }\n[app]\nmean_ms = 0\n")
        r = self.run_tf("validate", "huge.toml", timeout=30)
        assert_one_error_line(self, r, "needs about", "TiB", "free", source="huge.h5")
        # with its output there already (a resume makes no new file), validate reports it only
        self.write("huge.h5", "stands in for an existing output\n")
        r = self.run_tf("validate", "huge.toml", timeout=30)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertIn("a new output would not fit", r.stdout)
        (self.tmp / "huge.h5").unlink()
        r = self.run_tf("run", "huge.toml", ranks=2, timeout=60)
        assert_one_error_line(self, r, "needs about", exact=False)
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir() if p.suffix != ".toml"), [])

    def test_an_output_under_proc_or_sys_is_one_line(self):
        self.write("job.toml", farmproc.synthetic_job(5, mean_ms=0.0))
        for path in ("/proc/out.h5", "/sys/out.h5", "/proc/self/out.h5"):
            with self.subTest(path=path):
                r = self.run_tf("run", "job.toml", "-o", path)
                assert_one_error_line(self, r, source=path)

    # -- stopped or killed while creating the output -------------------------------------------------------

    def big_creation_job(self):
        # /params of 4 * 10^8 tasks take many seconds to write: long enough to stop the creation
        return self.write("big.toml", '[job]\napp = "synthetic"\noutput = "big.h5"\n'
                                      "[params]\ntask = { range = [0, 400000000] }\n[app]\nmean_ms = 0\n")

    def test_a_creation_stopped_by_a_signal_leaves_nothing(self):
        self.big_creation_job()
        proc = subprocess.Popen([self.taskfarm, "run", "big.toml"], cwd=self.tmp, env=common.env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not list(self.tmp.glob("big.h5.creating-*")) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, EXIT_INTERRUPTED, err)
        self.assertIn("nothing was written", err)
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir()), ["big.toml"])

    def test_a_temporary_left_by_kill_9_is_removed_by_the_next_run(self):
        self.big_creation_job()
        proc = subprocess.Popen([self.taskfarm, "run", "big.toml"], cwd=self.tmp, env=common.env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not list(self.tmp.glob("big.h5.creating-*")) and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.kill()
        proc.wait()
        self.assertEqual(len(list(self.tmp.glob("big.h5.creating-*"))), 1)
        # another host's temporary (a shared file system) is not ours to judge: it stays
        foreign = self.tmp / "big.h5.creating-some-other-host-1"
        foreign.write_text("")
        self.write("small.toml", farmproc.synthetic_job(5, mean_ms=0.0, output="big.h5"))
        r = self.run_tf("run", "small.toml")
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertEqual(sorted(p.name for p in self.tmp.glob("big.h5.creating-*")), [foreign.name])

    # -- 5. resume with an edited job: parameter identity ------------------------------------------------

    def test_resume_with_edited_parameters_keeps_what_still_holds(self):
        # mandelbrot: a row's pixels follow its `row` value, so a kept row may move to a new index
        self.write("job.toml", rows_job(range(0, 40)))
        self.assertEqual(self.run_tf("run", "job.toml", "--progress-seconds", "0", ranks=2).code, EXIT_OK)
        before = rows_by_value(self.tmp / "out.h5")
        edited = rows_job(range(10, 60))  # shifted and grown: rows 10..39 stay, 0..9 go, 40..59 come
        self.write("edited.toml", edited)
        r = self.run_tf("resume", "out.h5", "edited.toml", ranks=2)
        self.assertEqual(r.code, EXIT_BAD_INPUT, r.describe())  # still refused without --force-spec
        r = self.run_tf("resume", "out.h5", "edited.toml", "--force-spec", "--progress-seconds", "0", ranks=3)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertIn("kept 30 done and 0 failed tasks, 20 of 50 tasks to run", r.stderr)
        self.assertIn("10 earlier results are not part of the job any more", r.stderr)
        self.reference(edited, "fresh.h5")
        after = rows_by_value(self.tmp / "out.h5")
        self.assertEqual(after, rows_by_value(self.tmp / "fresh.h5"))  # results and /params agree, row by row
        for row in range(10, 40):
            self.assertEqual(after[row], before[row])
        with h5py.File(self.tmp / "out.h5", "r") as f:
            self.assertEqual(farmproc.text(f.attrs["job_spec"]), edited)
            self.assertIn("kept 30 done", farmproc.text(f.attrs["history"]))
        backups = list(self.tmp.glob("out.h5.before-resume-*"))
        self.assertEqual(len(backups), 1)  # rows 0..9 are not thrown away
        self.assertEqual(rows_by_value(backups[0]), before)

        reordered = rows_job(range(59, -1, -1))  # every row moves; 0..9 come back as new tasks
        self.write("reordered.toml", reordered)
        r = self.run_tf("resume", "out.h5", "reordered.toml", "--force-spec", "--progress-seconds", "0", ranks=2)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertIn("kept 50 done", r.stderr)
        self.reference(reordered, "fresh2.h5")
        self.assertEqual(rows_by_value(self.tmp / "out.h5"), rows_by_value(self.tmp / "fresh2.h5"))

    def test_resume_of_an_index_dependent_kernel_keeps_only_unmoved_tasks(self):
        # the synthetic app draws a task's cost from its index: a result may not move
        self.write("job.toml", sweep_job([1.0, 2.0, 3.0], (0, 50)))
        self.assertEqual(self.run_tf("run", "job.toml", "--progress-seconds", "0", ranks=2).code, EXIT_OK)
        before = results_by_params(self.tmp / "out.h5")
        shifted = sweep_job([1.0, 2.0, 3.5], (0, 50))  # same size: T = 1, 2 keep index and values
        self.write("shifted.toml", shifted)
        r = self.run_tf("resume", "out.h5", "shifted.toml", "--force-spec", "--progress-seconds", "0", ranks=3)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertIn("kept 100 done and 0 failed tasks, 50 of 150 tasks to run", r.stderr)
        self.reference(shifted, "fresh.h5")
        after = results_by_params(self.tmp / "out.h5")
        self.assertEqual(after, results_by_params(self.tmp / "fresh.h5"))
        self.assertEqual({k: v for k, v in after.items() if k[0] < 3}, {k: v for k, v in before.items() if k[0] < 3})
        grown = sweep_job([0.5, 1.0, 2.0, 3.5], (0, 60))  # another size: nothing can be trusted
        self.write("grown.toml", grown)
        r = self.run_tf("resume", "out.h5", "grown.toml", "--force-spec", "--progress-seconds", "0", ranks=2)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertIn("kept 0 done", r.stderr)
        self.reference(grown, "fresh2.h5")
        self.assertEqual(results_by_params(self.tmp / "out.h5"), results_by_params(self.tmp / "fresh2.h5"))

    def test_resume_with_changed_app_settings_recomputes_everything(self):
        self.write("job.toml", sweep_job([1.0, 2.0], (0, 20)))
        self.assertEqual(self.run_tf("run", "job.toml", "--progress-seconds", "0").code, EXIT_OK)
        changed = sweep_job([1.0, 2.0], (0, 20)).replace("seed = 11", "seed = 12")
        self.write("changed.toml", changed)
        r = self.run_tf("resume", "out.h5", "changed.toml", "--force-spec", "--progress-seconds", "0")
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertIn("[app] settings", r.stderr)
        self.assertIn("kept 0 done", r.stderr)
        self.reference(changed, "fresh.h5")
        self.assertEqual(results_by_params(self.tmp / "out.h5"), results_by_params(self.tmp / "fresh.h5"))

    def test_resume_with_only_a_schedule_change_keeps_the_file(self):
        self.write("job.toml", sweep_job([1.0, 2.0], (0, 20)))
        self.assertEqual(self.run_tf("run", "job.toml", "--progress-seconds", "0").code, EXIT_OK)
        self.write("policy.toml", sweep_job([1.0, 2.0], (0, 20)) + '[schedule]\npolicy = "ss"\n')
        r = self.run_tf("resume", "out.h5", "policy.toml", "--force-spec", "--progress-seconds", "0")
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertNotIn("kept", r.stderr)
        self.assertEqual(list(self.tmp.glob("out.h5.before-resume-*")), [])

    # -- 6. one line, whatever the cause ------------------------------------------------------------------

    def test_resume_of_a_file_open_in_h5py_names_the_reader(self):
        self.write("job.toml", farmproc.synthetic_job(20, mean_ms=0.0))
        self.assertEqual(self.run_tf("run", "job.toml").code, EXIT_OK)
        reader = subprocess.Popen(["/usr/bin/python3", "-c",
                                   "import h5py, sys, time; f = h5py.File('out.h5', 'r'); print('open', flush=True); "
                                   "time.sleep(60)"], cwd=self.tmp, stdout=subprocess.PIPE, text=True)
        self.addCleanup(reader.kill)
        self.assertEqual(reader.stdout.readline().strip(), "open")
        before = (self.tmp / "out.h5").read_bytes()
        r = self.run_tf("resume", "out.h5")
        assert_one_error_line(self, r, "another program", "open for reading", source="out.h5")
        self.assertEqual((self.tmp / "out.h5").read_bytes(), before)
        r = self.run_tf("verify", "out.h5")  # reading alongside a reader is fine
        self.assertEqual(r.code, EXIT_OK, r.describe())

    def test_a_full_disk_is_one_line(self):
        mnt = Path(tempfile.mkdtemp(prefix="taskfarm-tmpfs-"))
        self.addCleanup(shutil.rmtree, mnt, ignore_errors=True)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                          capture_output=True).returncode != 0:
            self.skipTest("cannot mount a small tmpfs here (needs root)")
        self.addCleanup(subprocess.run, ["umount", "-l", str(mnt)], capture_output=True)
        # 200 tasks of 64 KiB results (mandelbrot rows of 16384 uint32) = 12.5 MiB: refused up front
        self.write("wide.toml", '[job]\napp = "mandelbrot"\n[app]\nwidth = 16384\nheight = 200\nmax_iter = 4\n')
        r = self.run_tf("run", "wide.toml", "-o", str(mnt / "wide.h5"), ranks=2)
        assert_one_error_line(self, r, "needs about", "free", exact=False)
        # a disk that fills while the job runs: the writer's error is one line, no HDF5 stack
        self.write("fits.toml", '[job]\napp = "mandelbrot"\n[app]\nwidth = 1024\nheight = 300\nmax_iter = 64\n'
                                '[schedule]\npolicy = "ss"\n')
        launch = farmproc.Launch(2, [self.taskfarm, "run", "fits.toml", "-o", str(mnt / "fits.h5"),
                                     "--progress-seconds", "0", "--checkpoint-seconds", "0.05"], self.tmp)
        self.addCleanup(launch.kill_all)
        while not (mnt / "fits.h5").exists() and launch.running():
            time.sleep(0.005)
        with open(mnt / "filler", "wb") as f:  # take every free byte
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        launch.wait()
        err = launch.stderr()
        if launch.code == EXIT_OK:
            self.skipTest("the job finished before the disk filled")
        self.assertNotIn("HDF5-DIAG", err, launch.describe())
        ours = [x for x in err.splitlines() if x.startswith("taskfarm")]
        self.assertEqual(len(ours), 1, launch.describe())
        self.assertIn("No space left on device", ours[0], launch.describe())


if __name__ == "__main__":
    common.main()
