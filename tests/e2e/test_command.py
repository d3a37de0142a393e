#!/usr/bin/python3
"""End-to-end: the command app runs real programs as real processes (issue 9).

- Arguments: values with spaces, quotes, ; | $(...) backticks, globs, a line break, UTF-8, empty
  strings and leading dashes reach the program as exactly the intended argv (it prints its argv as
  JSON), on 1 to 4 ranks, with and without `shell = true`; no injected command ever runs.
- Exit codes and signals are recorded; a missing program fails its task with a clear message and
  the job goes on; a `sleep 100` task and the child it forked are killed at the timeout, recorded as
  timed out and retried; 10 MB of output is cut to keep_output bytes and marked truncated.
- Sources: a CSV table (quoted fields) and a command list; working directory, environment,
  threads_per_task, stdin from /dev/null, a declared output file; read back with h5py, pandas and
  xarray.
- A stop signal interrupts running commands: they stay pending (no failure, no retry used), exit 75,
  and resume finishes the job. kill -9 mid-run, then resume: no task lost, none recorded done runs
  again. Walltime-aware start: with --deadline and expected_seconds the job stops (exit 75) instead
  of starting a task that cannot end in time. Several slots run commands at once.

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_command.py
"""

import json
import os
import signal
import subprocess
import time

import h5py
import numpy as np

import farmproc  # noqa: F401  (first: makes TASKFARM default to the dev build)
import common
from farmproc import DONE, EXIT_INTERRUPTED, EXIT_OK, EXIT_TASKS_FAILED, FAILED, PENDING

DUMP = "import json, os, sys\nprint(json.dumps(sys.argv[1:]))\n"

NASTY = ["a b", "it's", 'say "hi"', "x; touch PWNED", "a | touch PWNED", "$(touch PWNED)", "`touch PWNED`",
         "*", "line one\nline two", "ünïcødé ✓", "", "--help", "-rf /", "{x}", "back\\slash", "'"]


def toml_string(s):
    return json.dumps(s, ensure_ascii=False)  # a TOML basic string is a JSON string


def job(params, app, job_extra="", output="out.h5"):
    return f'[job]\napp = "command"\noutput = "{output}"\n{job_extra}\n[params]\n{params}\n[app]\n{app}\n'


class Command(common.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    def run_job(self, text, ranks=2, expect=EXIT_OK, extra=()):
        self.write("job.toml", text)
        r = common.mpirun(ranks, [self.taskfarm, "run", "job.toml", "-q", *extra], cwd=self.tmp)
        self.assertEqual(r.code, expect, r.describe())
        return r

    def results(self, name="out.h5"):
        with h5py.File(self.tmp / name, "r") as f:
            out = {k: (f["results"][k].asstr()[()] if f["results"][k].dtype.kind == "S" else f["results"][k][()])
                   for k in f["results"]}
            out["state"] = f["tasks/state"][()]
            out["attempts"] = f["tasks/attempts"][()]
            out["failures"] = [(int(r["task"]), int(r["attempt"]), r["message"].decode()) for r in f["failures"][()]]
            return out

    # -- arguments -----------------------------------------------------------------------------------------

    def test_every_value_reaches_the_program_as_one_argument(self):
        self.write("dump.py", DUMP)
        values = "v = [" + ", ".join(toml_string(v) for v in NASTY) + "]"
        for ranks in (1, 2, 3, 4):
            for k, (shell, command) in enumerate(((False, 'python3 dump.py {v} "-{v}-" lit'),
                                                  (True, "python3 dump.py {v} -{v}- lit | cat"),
                                                  (True, 'python3 dump.py "{v}" "-{v}-" lit'))):
                with self.subTest(ranks=ranks, shell=shell, command=command):
                    app = f"command = {toml_string(command)}\nshell = {'true' if shell else 'false'}"
                    self.run_job(job(values, app, output=f"argv{ranks}-{k}.h5"), ranks=ranks)
                    r = self.results(f"argv{ranks}-{k}.h5")
                    self.assertTrue(np.all(r["state"] == DONE))
                    for i, v in enumerate(NASTY):
                        self.assertEqual(json.loads(r["stdout"][i]), [v, f"-{v}-", "lit"], f"task {i}: {v!r}")
                    self.assertFalse((self.tmp / "PWNED").exists(), "a value ran a command")

    def test_a_shell_template_that_cannot_pass_a_value_safely_is_refused(self):
        for command, needle in (("echo '{v}'", "{v} is inside single quotes"),
                                ("echo \\{v}", "a backslash right before {v}")):
            self.write("job.toml", job('v = ["a"]', f"command = {toml_string(command)}\nshell = true"))
            r = common.mpirun(2, [self.taskfarm, "run", "job.toml"], cwd=self.tmp)
            self.assertEqual(r.code, farmproc.EXIT_BAD_INPUT, r.describe())
            self.assertIn(needle, r.stderr)
            self.assertFalse((self.tmp / "out.h5").exists())

    def test_dry_run_shows_the_argv_with_its_quoting(self):
        self.write("job.toml", job('v = ["a b", "", "x\\ny"]', 'command = "prog --name={v} {v:>3}"'))
        r = common.run([self.taskfarm, "run", "--dry-run", "job.toml"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertIn("prog '--name=a b' 'a b'", r.stdout)
        self.assertIn("prog --name= '   '", r.stdout)
        self.assertIn("prog $'--name=x\\ny' $'x\\ny'", r.stdout)
        self.assertFalse((self.tmp / "out.h5").exists(), "a dry run wrote an output")

    # -- outcomes ----------------------------------------------------------------------------------------

    def test_exit_codes_signals_and_a_missing_program(self):
        cases = ["exit 0", "exit 3", "kill -TERM $$", "echo oops >&2; exit 1"]
        params = "what = [" + ", ".join(toml_string(c) for c in cases) + "]"
        self.run_job(job(params, 'command = "sh -c {what}"', "retries = 0"), expect=EXIT_TASKS_FAILED)
        r = self.results()
        self.assertEqual(list(r["exit_code"]), [0, 3, -1, 1])
        self.assertEqual(list(r["signal"]), [0, 0, signal.SIGTERM, 0])
        self.assertEqual(list(r["state"]), [DONE, FAILED, FAILED, FAILED])
        self.assertEqual(r["stderr"][3], "oops\n")  # a failed task keeps what it said
        self.assertEqual(list(r["attempts"]), [1, 1, 1, 1])
        messages = {t: m for t, _, m in r["failures"]}
        self.assertEqual(messages[1], "exit code 3")
        self.assertIn("ended by signal 15", messages[2])
        self.assertIn("stderr ends: oops", messages[3])

        # fails once, then succeeds: done, two attempts; bytes that are not UTF-8 become U+FFFD
        script = "printf 'ok \\377\\376 \\342\\234\\223'; [ -e flag ] && exit 0; touch flag; exit 1"
        self.run_job(job("n = [0]", "command = " + toml_string("sh -c " + "\"" + script + "\""), output="retry.h5"),
                     ranks=1)
        r = self.results("retry.h5")
        self.assertEqual((r["state"][0], r["attempts"][0], r["exit_code"][0]), (DONE, 2, 0))
        self.assertEqual(r["stdout"][0], "ok \ufffd\ufffd \u2713")

        self.run_job(job("x = [1, 2, 3]", 'command = "no-such-program-xyz {x}"', "retries = 1", output="missing.h5"),
                     expect=EXIT_TASKS_FAILED)
        r = self.results("missing.h5")
        self.assertTrue(np.all(r["state"] == FAILED))
        self.assertEqual(len(r["failures"]), 6, "each task tried twice (retries = 1)")
        self.assertEqual(list(r["attempts"]), [2, 2, 2])
        for _, _, m in r["failures"]:
            self.assertEqual(m, "cannot run no-such-program-xyz: No such file or directory")

    def test_a_timeout_kills_the_whole_process_group_and_is_retried(self):
        script = "sleep 100 & echo $! > child.{index}; sleep 100"
        app = "command = " + toml_string("sh -c " + "'" + script + "'") + "\ntimeout = 1\nkill_grace = 1\n"
        t0 = time.monotonic()
        self.run_job(job("n = [1]", app, "retries = 1"), ranks=1, expect=EXIT_TASKS_FAILED)
        seconds = time.monotonic() - t0
        r = self.results()
        self.assertEqual(r["timed_out"][0], 1)
        self.assertEqual(r["state"][0], FAILED)
        self.assertEqual([(t, a) for t, a, _ in r["failures"]], [(0, 1), (0, 2)], "timed out twice: retried once")
        self.assertIn("timed out after 1 s", r["failures"][0][2])
        child = int((self.tmp / "child.0").read_text())
        self.assertFalse(os.path.exists(f"/proc/{child}") and "Z" not in open(f"/proc/{child}/stat").read().split()[2],
                         "the forked child outlived the timeout")
        self.assertLess(seconds, 60, "the sleeps ran their 100 s")

    def test_ten_megabytes_of_output_are_cut_and_marked(self):
        app = ('command = "python3 -c \\"import sys; sys.stdout.write(\'x\' * 10_000_000 + \'END\')\\""\n'
               "keep_output = 1000\n")
        self.run_job(job("n = [1, 2]", app))
        r = self.results()
        self.assertEqual(list(r["stdout_bytes"]), [10_000_003] * 2)
        self.assertEqual(list(r["stdout_truncated"]), [1, 1])
        self.assertEqual(list(r["stderr_truncated"]), [0, 0])
        self.assertEqual(len(r["stdout"][0]), 1000)
        self.assertTrue(r["stdout"][0].endswith("xxxEND"))

    # -- sources, directories, environment ------------------------------------------------------------------

    def test_a_csv_table_with_workdir_env_threads_stdin_and_an_output_file(self):
        self.write("tasks.csv", 'name,size,note\nalpha,1,"plain"\nbeta,20,"with, comma"\ngamma,300,"say ""hi""\nsecond line"\n')
        self.write("work.py", "import os, sys\n"
                   "data = sys.stdin.read()\n"
                   "open('result.txt', 'w').write(sys.argv[1])\n"
                   "print(os.environ['TAG'], os.environ['OMP_NUM_THREADS'], os.getcwd().split('/')[-1], repr(data), sys.argv[1:])\n")
        app = ('command = "python3 ../../work.py {note} {size:04d}"\nworkdir = "runs/{name}"\ncreate_workdir = true\n'
               'env = ["TAG=t{index}-{name}"]\noutput_file = "result.txt"\n')
        self.run_job(job('table = "tasks.csv"', app, "threads_per_task = 2"))
        r = self.results()
        self.assertTrue(np.all(r["state"] == DONE))
        self.assertEqual(list(r["output_exists"]), [1, 1, 1])
        self.assertEqual(r["stdout"][0], "t0-alpha 2 alpha '' ['plain', '0001']\n")
        self.assertEqual(r["stdout"][2], "t2-gamma 2 gamma '' ['say \"hi\"\\nsecond line', '0300']\n")
        self.assertEqual((self.tmp / "runs" / "beta" / "result.txt").read_text(), "with, comma")

        import pandas as pd
        import xarray as xr
        with h5py.File(self.tmp / "out.h5", "r") as f:
            df = pd.DataFrame({"name": f["params/name"].asstr()[()], "stdout": f["results/stdout"].asstr()[()],
                               "size": f["params/size"][()]})
        self.assertEqual(list(df["size"]), [1, 20, 300])
        self.assertTrue(df["stdout"].str.startswith("t").all())
        ds = xr.open_dataset(self.tmp / "out.h5", engine="h5netcdf")
        self.assertEqual(str(ds["stdout"].values[1]), "t1-beta 2 beta '' ['with, comma', '0020']\n")
        self.assertEqual(str(ds["host"].values[0]), os.uname().nodename)
        ds.close()

        # a declared output that is not there fails the task (after exit code 0)
        self.run_job(job("x = [1]", 'command = "true"\noutput_file = "nothing-{x}.dat"', "retries = 0",
                         output="nofile.h5"), expect=EXIT_TASKS_FAILED)
        r = self.results("nofile.h5")
        self.assertEqual(r["output_exists"][0], 0)
        self.assertIn("nothing-1.dat does not exist", r["failures"][0][2])

    def test_a_command_list_runs_each_line(self):
        self.write("commands.txt", "# a comment\necho one 'two three'\n\nprintf '%s' \"a  b\"\nsh -c 'exit 4'\n"
                                   "echo hi > out.txt\necho '>' quoted\n")
        self.run_job(job('lines = "commands.txt"', "", "retries = 0"), expect=EXIT_TASKS_FAILED)
        r = self.results()
        self.assertEqual(list(r["stdout"][:2]), ["one two three\n", "a  b"])
        self.assertEqual(list(r["exit_code"][:3]), [0, 0, 4])
        self.assertEqual(r["stdout"][4], "> quoted\n")
        self.assertIn((3, 1, "line 6: `>` is shell syntax, but commands run without a shell: set [app] shell = true "
                          "(or quote it to pass it as an argument)"), r["failures"])
        self.assertFalse((self.tmp / "out.txt").exists())
        shown = common.run([self.taskfarm, "validate", "--show", "5", "job.toml"], cwd=self.tmp)
        self.assertEqual(shown.code, EXIT_OK, shown.describe())
        self.assertIn("(fails: line 6: `>` is shell syntax", shown.stdout)
        with h5py.File(self.tmp / "out.h5", "r") as f:
            self.assertEqual(list(f["params/line_number"][()]), [2, 4, 5, 6, 7])

        self.write("bad.toml", job('lines = "missing.txt"', ""))
        r = common.run([self.taskfarm, "validate", "bad.toml"], cwd=self.tmp)
        self.assertEqual(r.code, farmproc.EXIT_BAD_INPUT, r.describe())
        self.assertIn("missing.txt", r.stderr)
        for bad, needle in (('table = "ragged.csv"', "ragged.csv:3: 1 cells, but the header names 2"),
                            ('x = [1]', "{y} names no parameter")):
            self.write("ragged.csv", "a,b\n1,2\n3\n")
            self.write("bad.toml", job(bad, 'command = "echo {y}"' if "x" in bad else 'command = "echo {a}"'))
            r = common.mpirun(2, [self.taskfarm, "run", "bad.toml"], cwd=self.tmp)
            self.assertEqual(r.code, farmproc.EXIT_BAD_INPUT, r.describe())
            self.assertIn(needle, r.stderr)

    def test_slots_run_commands_at_once(self):
        self.write("stamp.py", "import sys, time\nt = time.time()\ntime.sleep(0.3)\nprint(t, time.time())\n")
        self.run_job(job("i = { range = [0, 6] }", 'command = "python3 stamp.py {i}"', "slots = 3"), ranks=1)
        r = self.results()
        spans = sorted(tuple(map(float, s.split())) for s in r["stdout"])
        overlapping = sum(1 for a, b in zip(spans, spans[1:]) if b[0] < a[1])
        self.assertGreaterEqual(overlapping, 2, f"no two commands ran at once: {spans}")

    # -- stops, crashes, deadlines -----------------------------------------------------------------------

    def test_fail_fast_cuts_running_commands_short_on_every_rank(self):
        # Task 0 fails at once; the others sleep a minute, on every rank: the job must not wait for them.
        script = "[ {i} -eq 0 ] && exit 5; sleep 60"
        # On 1 rank, task 0 fails on rank 0's compute thread; on 3, on whichever rank drew it.
        for ranks in (1, 3):
            with self.subTest(ranks=ranks):
                out = f"ff{ranks}.h5"
                self.write("job.toml", job("i = { range = [0, 6] }", "command = " + toml_string("sh -c '" + script + "'"),
                                           "fail_fast = true\nretries = 0\n[schedule]\npolicy = \"ss\"", output=out))
                t0 = time.monotonic()
                r = common.mpirun(ranks, [self.taskfarm, "run", "job.toml", "-q"], cwd=self.tmp)
                self.assertEqual(r.code, EXIT_TASKS_FAILED, r.describe())
                self.assertLess(time.monotonic() - t0, 20, "the job waited for the sleeping commands")
                res = self.results(out)
                self.assertEqual(res["state"][0], FAILED)
                self.assertTrue(np.all(res["state"][1:] == PENDING), res["state"])
                self.assertEqual(len(res["failures"]), 1, "a command cut short counted as a failure")
                left = subprocess.run(["pgrep", "-f", "sleep 60"], capture_output=True, text=True).stdout.split()
                self.assertEqual(left, [], "commands outlived the job")

    def test_resume_refuses_a_changed_task_table_and_programs_do_not_see_mpi(self):
        self.write("tasks.csv", "x\n1\n2\n3\n")
        self.write("slow", "")
        app = 'command = "sh -c \\"[ -e slow ] && [ {x} -eq 3 ] && exit 9; env\\""'
        self.run_job(job('table = "tasks.csv"', app, "retries = 0"), expect=EXIT_TASKS_FAILED)
        r = self.results()
        self.assertNotIn("OMPI_COMM_WORLD_RANK", r["stdout"][0])  # an MPI program it starts is on its own
        self.assertIn("TASKFARM_TASK=0", r["stdout"][0])
        self.assertIn("OMP_NUM_THREADS=1", r["stdout"][0])
        self.write("tasks.csv", "x\n1\n3\n2\n")  # sorted differently: other tasks at the same indices
        res = common.mpirun(2, [self.taskfarm, "resume", "--retry-failed", "out.h5"], cwd=self.tmp)
        self.assertEqual(res.code, farmproc.EXIT_BAD_INPUT, res.describe())
        self.assertIn("tasks.csv has changed since this job started", res.stderr)
        self.write("tasks.csv", "x\n1\n2\n3\n")
        (self.tmp / "slow").unlink()
        res = common.mpirun(2, [self.taskfarm, "resume", "--retry-failed", "out.h5", "-q"], cwd=self.tmp)
        self.assertEqual(res.code, EXIT_OK, res.describe())
        self.assertEqual(list(self.results()["attempts"]), [1, 1, 2])

    def test_a_stop_signal_leaves_running_commands_pending(self):
        self.write("slow", "")
        self.write("job.toml", job("i = { range = [0, 8] }",
                                   'command = "sh -c \\"if [ -e slow ]; then sleep 60; fi; echo {i}\\""'))
        launch = farmproc.Launch(2, [self.taskfarm, "run", "job.toml", "--progress-seconds", "0"], self.tmp)
        self.addCleanup(launch.kill_all)
        pids = launch.wait_ranks(2)
        self.assertIsNotNone(pids, launch.describe())
        deadline = time.monotonic() + 30
        while not any(farmproc.children(p) for p in pids.values()):  # a command is running
            self.assertLess(time.monotonic(), deadline, "no command started\n" + launch.describe())
            time.sleep(0.05)
        t0 = time.monotonic()
        os.kill(launch.pid, signal.SIGUSR1)
        self.assertEqual(launch.wait(), EXIT_INTERRUPTED, launch.describe())
        self.assertLess(time.monotonic() - t0, 10)
        r = self.results()
        self.assertTrue(np.all(r["state"] == PENDING), r["state"])
        self.assertEqual(r["failures"], [], "an interrupted task counted as a failure")
        (self.tmp / "slow").unlink()
        res = common.mpirun(2, [self.taskfarm, "resume", "out.h5", "-q"], cwd=self.tmp)
        self.assertEqual(res.code, EXIT_OK, res.describe())
        r = self.results()
        self.assertTrue(np.all(r["state"] == DONE))
        self.assertEqual([s.strip() for s in r["stdout"]], [str(i) for i in range(8)])

    def test_kill_9_then_resume_loses_nothing_and_reruns_nothing_recorded(self):
        self.write("log.py", "import os, sys, time\n"
                   "fd = os.open('runs.log', os.O_WRONLY | os.O_APPEND | os.O_CREAT)\n"
                   "os.write(fd, (sys.argv[1] + '\\n').encode())\ntime.sleep(0.02)\nprint(sys.argv[1])\n")
        n = 300
        self.write("job.toml", job(f"i = {{ range = [0, {n}] }}", 'command = "python3 log.py {i}"'))
        launch = farmproc.Launch(3, [self.taskfarm, "run", "job.toml", "--checkpoint-seconds", "0.2",
                                     "--progress-seconds", "0.1"], self.tmp)
        self.addCleanup(launch.kill_all)
        deadline = time.monotonic() + 60
        while not any(d >= 40 for d, _ in launch.progress()):
            self.assertTrue(launch.running(), launch.describe())
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        for pid in launch.ranks().values():
            os.kill(pid, signal.SIGKILL)
        launch.wait_gone()
        time.sleep(0.3)  # commands the killed ranks left running end (each takes 20 ms)
        with h5py.File(self.tmp / "out.h5", "r") as f:
            done_before = set(np.flatnonzero(f["tasks/state"][()] == DONE))
        self.assertGreater(len(done_before), 0)
        self.assertLess(len(done_before), n)
        runs_before = (self.tmp / "runs.log").read_text().split()
        res = common.mpirun(3, [self.taskfarm, "resume", "out.h5", "-q"], cwd=self.tmp)
        self.assertEqual(res.code, EXIT_OK, res.describe())
        r = self.results()
        self.assertTrue(np.all(r["state"] == DONE))
        self.assertEqual([int(s) for s in r["stdout"]], list(range(n)))
        rerun = (self.tmp / "runs.log").read_text().split()[len(runs_before):]
        again = done_before & {int(t) for t in rerun}
        self.assertEqual(again, set(), "tasks recorded done ran again after the resume")

    def test_a_task_that_cannot_end_before_the_deadline_is_not_started(self):
        app = 'command = "sleep {s}"'
        self.write("job.toml", job("s = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]", app, 'expected_seconds = "s + 0.5"'))
        r = common.mpirun(1, [self.taskfarm, "run", "job.toml", "-q", "--deadline", "+2.2"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_INTERRUPTED, r.describe())
        self.assertIn("not expected to end before the job's end time", r.stderr)
        res = self.results()
        done = int(np.sum(res["state"] == DONE))
        self.assertGreaterEqual(done, 1)
        self.assertLess(done, 6)
        self.assertEqual(res["failures"], [])
        r = common.mpirun(2, [self.taskfarm, "resume", "out.h5", "-q"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertTrue(np.all(self.results()["state"] == DONE))


if __name__ == "__main__":
    common.main()
