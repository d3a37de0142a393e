#!/usr/bin/python3
"""End-to-end: `taskfarm resume` refuses, with exit code 2 and one "taskfarm: error:" line naming the
file, every output it must not touch, and leaves that file byte for byte as it was (issue 4):

- a job file whose text differs from the job stored in the output (unless --force-spec; a changed
  comment counts as a change), or one that does not fit the output's tasks or datasets;
- a file that is not HDF5, an HDF5 file that is not a taskfarm output, a truncated file, a corrupt
  file, a missing file;
- a file a running job has open ("a running job is writing this file").

Most cases run `taskfarm resume` without mpiexec (stderr must be exactly the one line); a subset also
under `mpiexec -n 3`.

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_resume_refusals.py
"""

import os
import signal
import time

import h5py

import farmproc  # noqa: F401  (first: makes TASKFARM default to the dev build)
import common
from farmproc import EXIT_INTERRUPTED, EXIT_OK, assert_one_error_line

N_TASKS = 300
JOB = farmproc.synthetic_job(N_TASKS, mean_ms=0.2, seed=3)
MPI_RANKS = 3


class ResumeRefusals(common.TempDirTestCase):
    output_bytes = None

    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    def setUp(self):
        super().setUp()
        self.job = self.write("job.toml", JOB)
        self.out = self.tmp / "out.h5"
        if ResumeRefusals.output_bytes is None:  # one real output for the class, copied into each test
            r = common.mpirun(MPI_RANKS, [self.taskfarm, "run", "job.toml", "--progress-seconds", "0"], cwd=self.tmp)
            self.assertEqual(r.code, EXIT_OK, r.describe())
            ResumeRefusals.output_bytes = self.out.read_bytes()
        else:
            self.out.write_bytes(ResumeRefusals.output_bytes)

    # -- helpers -----------------------------------------------------------------------------------------

    def resume(self, *args, mpi=False):
        command = [self.taskfarm, "resume", *args, "--progress-seconds", "0"]
        if mpi:
            return common.mpirun(MPI_RANKS, command, cwd=self.tmp)
        return common.run(command, cwd=self.tmp)

    def assert_refused(self, name, *needles, args=(), mpi=False):
        """`taskfarm resume NAME ARGS` is refused naming NAME, and NAME is unchanged byte for byte."""
        path = self.tmp / name
        before = path.read_bytes() if path.exists() else None
        r = self.resume(name, *args, mpi=mpi)
        message = ""
        with self.subTest(f"resume {name}: refused with one error line"):  # both checks, even if one fails
            message = assert_one_error_line(self, r, *needles, source=name, exact=not mpi)
            self.assertEqual(r.stdout, "", r.describe())
        with self.subTest(f"resume {name}: the file is left as it was"):
            if before is not None:
                after = path.read_bytes()
                self.assertTrue(after == before, f"a refused resume changed {name} ({len(before)} -> {len(after)} "
                                f"bytes)\n" + r.describe())
            else:
                self.assertFalse(path.exists(), f"a refused resume created {name}")
            self.assertEqual(sorted(p.name for p in self.tmp.glob("*.creating-*")), [])
        return message

    def header_address(self, path, dataset):
        with h5py.File(path, "r") as f:
            return h5py.h5o.get_info(f[dataset].id).addr

    # -- the job file ------------------------------------------------------------------------------------

    def test_job_file_differs(self):
        self.write("changed.toml", JOB.replace("seed = 3", "seed = 4"))
        message = self.assert_refused("out.h5", "differs", "changed.toml", "--force-spec", args=["changed.toml"])
        print(f"\n  {message}")
        self.assert_refused("out.h5", "differs", "--force-spec", args=["changed.toml"], mpi=True)

    def test_job_file_differs_by_a_comment(self):
        self.write("commented.toml", "# the same job, one comment more\n" + JOB)
        self.assert_refused("out.h5", "differs", "commented.toml", args=["commented.toml"])

    def test_same_job_file_is_accepted(self):
        # the control: the job file the output was made from is not refused (the output is complete:
        # nothing to do, exit 0)
        r = self.resume("out.h5", "job.toml")
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertEqual(farmproc.status(self.out), "complete")

    def test_force_spec_with_other_task_count(self):
        # not a refusal any more: resume is keyed by parameter identity (issue 13). The synthetic
        # app draws costs from the task index and count, so in a job of another size no earlier
        # result holds: every task runs, and the old file is kept
        self.write("bigger.toml", farmproc.synthetic_job(N_TASKS + 1, mean_ms=0.2, seed=3))
        r = self.resume("out.h5", "--force-spec", "bigger.toml")
        self.assertEqual(r.code, EXIT_OK, r.describe())
        self.assertIn(f"kept 0 done and 0 failed tasks, {N_TASKS + 1} of {N_TASKS + 1} tasks to run", r.stderr)
        self.assertEqual(farmproc.count_done(self.out), N_TASKS + 1)
        self.assertEqual(len(list(self.tmp.glob("out.h5.before-resume-*"))), 1)

    def test_force_spec_with_other_app(self):
        self.write("mandel.toml", '[job]\napp = "mandelbrot"\noutput = "out.h5"\n'
                                  f"[app]\nwidth = 4\nheight = {N_TASKS}\n")
        self.assert_refused("out.h5", args=["--force-spec", "mandel.toml"])

    # -- the output file ---------------------------------------------------------------------------------

    def test_missing_file(self):
        self.assert_refused("nothing.h5", "no such file")

    def test_not_hdf5(self):
        self.write("plain.h5", "just text, not HDF5\n")
        self.assert_refused("plain.h5", "not a readable HDF5 file")
        self.assert_refused("plain.h5", "not a readable HDF5 file", mpi=True)

    def test_empty_file(self):
        # a 0-byte file (e.g. a copy that never happened): not HDF5, and must stay 0 bytes
        self.write("empty.h5", "")
        self.assert_refused("empty.h5", "not a readable HDF5 file")

    def test_hdf5_but_not_taskfarm(self):
        with h5py.File(self.tmp / "other.h5", "w") as f:
            f["results/seconds"] = [1.0, 2.0]
            f.attrs["status"] = "complete"
        self.assert_refused("other.h5", "not a taskfarm output")
        self.assert_refused("other.h5", "not a taskfarm output", mpi=True)

    def test_truncated(self):
        size = len(self.output_bytes)
        for keep in (size // 2, size - 1, 4096, 100):
            with self.subTest(keep=keep):
                name = f"truncated_{keep}.h5"
                (self.tmp / name).write_bytes(self.output_bytes[:keep])
                message = self.assert_refused(name)
                self.assertRegex(message, "truncated|corrupt|damaged")
        self.assert_refused(f"truncated_{size // 2}.h5", "truncated", mpi=True)

    def corrupt(self, name, offset, length=64):
        data = bytearray(self.output_bytes)
        data[offset:offset + length] = b"\xff" * length
        (self.tmp / name).write_bytes(bytes(data))

    def test_corrupt_superblock(self):
        self.corrupt("bad_superblock.h5", 40)  # the root group's addresses
        self.assert_refused("bad_superblock.h5", "not a readable HDF5 file")

    def test_corrupt_object_headers(self):
        for dataset in ("results", "results/seconds", "tasks/state", "failures"):
            with self.subTest(dataset=dataset):
                name = f"bad_{dataset.replace('/', '_')}.h5"
                self.corrupt(name, self.header_address(self.out, dataset))
                message = self.assert_refused(name)
                self.assertRegex(message, "damaged|corrupt")
        self.assert_refused("bad_tasks_state.h5", "damaged", mpi=True)

    # -- a running job's file --------------------------------------------------------------------------

    def test_locked_by_running_job(self):
        self.write("long.toml", farmproc.synthetic_job(200000, mean_ms=1.0, output="long.h5"))
        launch = farmproc.Launch(MPI_RANKS, [self.taskfarm, "run", "long.toml", "--progress-seconds", "0"], self.tmp,
                                 tag="long")
        self.addCleanup(launch.kill_all)
        deadline = time.monotonic() + 60
        while not (self.tmp / "long.h5").exists():
            self.assertTrue(launch.running(), launch.describe())
            self.assertLess(time.monotonic(), deadline, "the output did not appear")
            time.sleep(0.02)
        try:
            message = self.assert_refused_while_running("long.h5", launch)
            print(f"\n  {message}")
            self.assert_refused_while_running("long.h5", launch, mpi=True)
        finally:
            launch.ranks()
            os.kill(launch.pid, signal.SIGUSR1)  # stop the run
            launch.wait(timeout=60)
            launch.wait_gone()
        self.assertEqual(launch.code, EXIT_INTERRUPTED, launch.describe())
        # the job the refused resume ran beside is intact
        self.assertEqual(farmproc.status(self.tmp / "long.h5"), "incomplete")
        with farmproc.open_h5(self.tmp / "long.h5") as f:
            self.assertNotIn("resume_count", f.attrs, "the refused resume wrote to the running job's file")

    def assert_refused_while_running(self, name, launch, mpi=False):
        r = self.resume(name, mpi=mpi)
        self.assertTrue(launch.running(), "the job ended during the check\n" + launch.describe())
        message = assert_one_error_line(self, r, "a running job is writing this file", source=name, exact=not mpi)
        self.assertEqual(r.stdout, "", r.describe())
        return message


if __name__ == "__main__":
    common.main()
