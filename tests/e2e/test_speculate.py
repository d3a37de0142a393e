#!/usr/bin/python3
"""End-to-end: with `[schedule] speculate = true`, a rank that stops mid-run (SIGSTOP: a hung node,
a swapped-out process) does not hold the job back (issue 12).

- 3 ranks, wall-clock tasks; rank 1 is stopped mid-run. Every task is done (the live status beside
  the output says so) while rank 1 is still stopped: an idle rank computed a copy of what rank 1 held.
  After SIGCONT the job exits 0 at once (rank 1 is told to stop); the file is complete and its results
  equal an uninterrupted run's, each task once; /chunks shows the copy, `speculative_copies` counts it.
- An app with side effects (command) refuses speculate = true: one line, exit 2, nothing run.

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_speculate.py
"""

import os
import signal
import time
import tomllib

import numpy as np

import farmproc  # noqa: F401  (first: makes TASKFARM default to the dev build)
import common
from farmproc import DONE, EXIT_BAD_INPUT, EXIT_OK

RANKS = 3
N_TASKS = 600
MEAN_MS = 5.0
SPECULATE = '[schedule]\npolicy = "fac2"\nspeculate = true\n'


def job(extra=SPECULATE):
    return farmproc.synthetic_job(N_TASKS, MEAN_MS, spread=0.2, seed=3) + "\n" + extra


def live_done(output):
    """Tasks done according to the live status beside `output` (None while it is not there)."""
    try:
        with open(str(output) + ".status.toml", "rb") as f:
            return int(tomllib.load(f)["done"])
    except (FileNotFoundError, tomllib.TOMLDecodeError, KeyError):
        return None


def process_state(pid):
    """The one-letter state of /proc/PID/stat ("T": stopped)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class Speculate(common.TempDirTestCase):
    def setUp(self):
        super().setUp()
        self.taskfarm = common.taskfarm()

    def test_a_stopped_rank_does_not_hold_the_job_back(self):
        self.write("job.toml", job(""))
        r = common.mpirun(RANKS, [self.taskfarm, "run", "job.toml", "-o", "reference.h5", "--progress-seconds", "0"],
                          cwd=self.tmp)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        reference = farmproc.read_output(self.tmp / "reference.h5")

        self.write("job.toml", job())
        launch = farmproc.Launch(RANKS, [self.taskfarm, "run", "job.toml", "-o", "out.h5", "--progress-seconds",
                                         "0.1"], self.tmp, tag="run")
        self.addCleanup(launch.kill_all)
        ranks = launch.wait_ranks(RANKS)
        self.assertIsNotNone(ranks, launch.describe())
        deadline = time.monotonic() + 60
        while not any(d > 0 for d, _ in launch.progress()):  # mid-run: rank 1 holds a chunk
            self.assertTrue(launch.running() and time.monotonic() < deadline, launch.describe())
            time.sleep(0.02)
        stopped = ranks[1]
        os.kill(stopped, signal.SIGSTOP)
        t_stop = time.monotonic()
        try:
            while process_state(stopped) != "T":  # the signal is delivered asynchronously
                self.assertLess(time.monotonic() - t_stop, 5, "rank 1 did not stop")
                time.sleep(0.01)
            done = None
            while done != N_TASKS:
                self.assertLess(time.monotonic() - t_stop, 30, f"done {done} of {N_TASKS}\n" + launch.describe())
                self.assertEqual(process_state(stopped), "T")
                time.sleep(0.1)
                done = live_done(self.tmp / "out.h5")
            print(f"\nevery task done {time.monotonic() - t_stop:.1f} s after rank 1 stopped, rank 1 still stopped",
                  flush=True)
        finally:
            os.kill(stopped, signal.SIGCONT)
        t_cont = time.monotonic()
        code = launch.wait()
        self.assertEqual(code, EXIT_OK, launch.describe())
        self.assertLess(time.monotonic() - t_cont, 10, "the job waited for the stopped rank's chunk")
        self.assertIn("speculative copy", launch.stderr())

        out = farmproc.read_output(self.tmp / "out.h5")
        self.assertEqual(out["status"], "complete")
        self.assertTrue(np.all(out["state"] == DONE))
        for name, values in reference["results"].items():
            np.testing.assert_array_equal(out["results"][name], values, err_msg=name)
        with farmproc.open_h5(self.tmp / "out.h5") as f:
            self.assertGreaterEqual(int(f.attrs["speculative_copies"]), 1)
            chunks = f["chunks"][()]
        # Every position is in a chunk some rank other than 1 finished, or in one rank 1 finished
        # before it stopped; and some range rank 1 was handed appears again under another rank.
        covered = np.zeros(N_TASKS, dtype=bool)
        for c in chunks:
            covered[int(c["begin"]):int(c["end"])] = True
        self.assertTrue(covered.all())
        copies = chunks[chunks["speculative"] == 1]
        self.assertGreaterEqual(len(copies), 1, chunks)
        self.assertTrue((copies["rank"] != 1).all(), copies)  # computed elsewhere than on the stopped rank

    def test_an_app_with_side_effects_refuses_speculation(self):
        self.write("job.toml", '[job]\napp = "command"\n[schedule]\nspeculate = true\n[params]\nx = { range = [0, 3] }\n'
                               '[app]\ncommand = "touch f{x}"\n')
        r = common.mpirun(2, [self.taskfarm, "run", "job.toml", "-o", "out.h5"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_BAD_INPUT, r.describe())
        self.assertIn("[schedule] speculate: app \"command\" has side effects", r.stderr)
        ours = [line for line in r.stderr.splitlines() if line.startswith("taskfarm")]  # mpiexec adds its own
        self.assertEqual(len(ours), 1, r.stderr)
        self.assertFalse((self.tmp / "f0").exists())
        self.assertFalse((self.tmp / "out.h5").exists())


if __name__ == "__main__":
    common.main()
