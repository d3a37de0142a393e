#!/usr/bin/python3
"""End-to-end: a job stopped by a signal checkpoints, exits 75 ("interrupted, resume me") and
`taskfarm resume` finishes it with exactly the results of an uninterrupted run (issue 4).

- SIGUSR1 to mpiexec (which forwards it to every rank): exit code 75 within 5 s of the signal,
  status incomplete, some but not all tasks done; resume: exit 0, complete, equal to the reference.
- SIGTERM, and SIGINT, sent to every rank process (not to mpiexec: when mpiexec itself gets SIGTERM,
  Open MPI exits with its own code 1): the file is incomplete and resumes to the identical result.
  The exit code mpiexec returns is printed.
- SIGTERM to rank 0 alone: the workers hear of the stop only from the master; same expectations as
  SIGUSR1 (exit 75, incomplete, resumable).

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_signals.py
"""

import os
import signal
import time

import numpy as np

import farmproc  # noqa: F401  (first: makes TASKFARM default to the dev build)
import common
from farmproc import DONE, EXIT_INTERRUPTED, EXIT_OK

RANKS = 3
N_TASKS = 2500
MEAN_MS = 2.0
STOP_DEADLINE = 5.0  # seconds from the signal to mpiexec's exit
OPTIONS = ["--checkpoint-seconds", "1", "--progress-seconds", "0.1"]


class Signals(common.TempDirTestCase):
    reference = None

    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    def setUp(self):
        super().setUp()
        self.write("job.toml", farmproc.synthetic_job(N_TASKS, MEAN_MS, seed=11))
        if Signals.reference is None:  # once for the class: every test compares with it
            r = common.mpirun(RANKS, [self.taskfarm, "run", "job.toml", "-o", "reference.h5",
                                      "--progress-seconds", "0"], cwd=self.tmp)
            self.assertEqual(r.code, EXIT_OK, r.describe())
            self.assertTrue((self.tmp / "reference.h5").exists(), "exit code 0 but no output\n" + r.describe())
            Signals.reference = farmproc.read_output(self.tmp / "reference.h5")
            self.assertEqual(Signals.reference["status"], "complete")
            print(f"\nreference run: {r.seconds:.1f} s", flush=True)

    # -- helpers -----------------------------------------------------------------------------------------

    def start_and_wait_mid_run(self):
        """Starts the job; returns the launch once rank 0 reports results received (mid-run)."""
        launch = farmproc.Launch(RANKS, [self.taskfarm, "run", "job.toml", *OPTIONS], self.tmp, tag="run")
        self.addCleanup(launch.kill_all)
        deadline = time.monotonic() + 60
        while not any(d > 0 for d, _ in launch.progress()):
            self.assertTrue(launch.running(), "the job ended before it was signalled\n" + launch.describe())
            self.assertLess(time.monotonic(), deadline, "no progress within 60 s\n" + launch.describe())
            time.sleep(0.02)
        time.sleep(0.3)
        self.assertTrue(launch.running(), "the job ended before it was signalled\n" + launch.describe())
        self.assertEqual(len(launch.wait_ranks(RANKS)), RANKS)
        return launch

    def wait_exit(self, launch, t_signal):
        launch.wait(timeout=60)
        seconds = time.monotonic() - t_signal
        _, leftovers = launch.wait_gone(grace=3.0)
        self.assertEqual(leftovers, [], "rank processes outlived mpiexec by 3 s\n" + launch.describe())
        return seconds

    def check_interrupted_file(self, launch):
        out = farmproc.read_output(self.tmp / "out.h5")
        done = int(np.count_nonzero(out["state"] == DONE))
        self.assertEqual(out["status"], "incomplete", launch.describe())
        self.assertGreater(done, 0, "the stop checkpointed nothing\n" + launch.describe())
        self.assertLess(done, N_TASKS, "the job was not stopped\n" + launch.describe())
        # what is marked done is right already
        mask = out["state"] == DONE
        self.assertTrue(farmproc.same_bytes(out["results"]["seconds"][mask],
                                            self.reference["results"]["seconds"][mask]))
        return done

    def resume_to_reference(self):
        r = common.mpirun(RANKS, [self.taskfarm, "resume", "out.h5", "--progress-seconds", "0"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        out = farmproc.read_output(self.tmp / "out.h5")
        self.assertEqual(out["status"], "complete")
        self.assertTrue(np.all(out["state"] == DONE))
        self.assertTrue(farmproc.same_bytes(out["params"]["task"], self.reference["params"]["task"]))
        self.assertTrue(farmproc.same_bytes(out["results"]["seconds"], self.reference["results"]["seconds"]),
                        "/results/seconds after resume differs from the uninterrupted run")
        self.assertTrue(np.all(out["rank"] >= 0))
        return r.seconds

    # -- tests -------------------------------------------------------------------------------------------

    def test_sigusr1_to_mpiexec(self):
        launch = self.start_and_wait_mid_run()
        t_signal = time.monotonic()
        os.kill(launch.pid, signal.SIGUSR1)
        seconds = self.wait_exit(launch, t_signal)
        print(f"\nSIGUSR1 to mpiexec: exit code {launch.code} {seconds:.2f} s after the signal", flush=True)
        self.assertEqual(launch.code, EXIT_INTERRUPTED, launch.describe())
        self.assertLess(seconds, STOP_DEADLINE, launch.describe())
        self.assertIn("signal 10 received", launch.stderr())
        done = self.check_interrupted_file(launch)
        hint = "taskfarm resume out.h5" in launch.stderr()
        resume_seconds = self.resume_to_reference()
        print(f"  {done}/{N_TASKS} done at the stop; resume hint printed: {hint}; resume {resume_seconds:.1f} s")

    def test_sigusr1_with_expensive_tasks_first(self):
        # A sorted order scatters each chunk over the file (task 0, 2499, 1, 2498, ...): the
        # checkpoint, the stop and resume must still land every result at its own task.
        self.write("job.toml", farmproc.synthetic_job(
            N_TASKS, MEAN_MS, seed=11, job_extra='\n[schedule]\norder = "cost:abs(task - 1250)"\n'))
        launch = self.start_and_wait_mid_run()
        t_signal = time.monotonic()
        os.kill(launch.pid, signal.SIGUSR1)
        self.wait_exit(launch, t_signal)
        self.assertEqual(launch.code, EXIT_INTERRUPTED, launch.describe())
        done = self.check_interrupted_file(launch)
        out = farmproc.read_output(self.tmp / "out.h5")
        distance = np.abs(np.arange(N_TASKS) - 1250)
        mask = out["state"] == DONE
        # Tasks far from 1250 went first: what was done at the stop lies further out than what was not.
        self.assertGreater(np.median(distance[mask]), np.median(distance[~mask]))
        resume_seconds = self.resume_to_reference()
        print(f"\norder cost:abs(task - 1250): {done}/{N_TASKS} done at the stop, resume {resume_seconds:.1f} s")

    def signal_every_rank(self, signo):
        launch = self.start_and_wait_mid_run()
        ranks = launch.ranks()
        t_signal = time.monotonic()
        for pid in ranks.values():
            os.kill(pid, signo)
        seconds = self.wait_exit(launch, t_signal)
        name = signal.Signals(signo).name
        print(f"\n{name} to every rank: mpiexec exit code {launch.code}, {seconds:.2f} s after the signal",
              flush=True)
        self.assertLess(seconds, STOP_DEADLINE, launch.describe())
        done = self.check_interrupted_file(launch)
        resume_seconds = self.resume_to_reference()
        print(f"  {done}/{N_TASKS} done at the stop; resume {resume_seconds:.1f} s")
        return launch

    def test_sigterm_to_rank0_only(self):
        # The stop then reaches the workers only as the master's stop order (as with fail_fast): they
        # must leave as cleanly as when the signal reaches them too.
        launch = self.start_and_wait_mid_run()
        t_signal = time.monotonic()
        os.kill(launch.ranks()[0], signal.SIGTERM)
        seconds = self.wait_exit(launch, t_signal)
        print(f"\nSIGTERM to rank 0 only: mpiexec exit code {launch.code}, {seconds:.2f} s after the signal",
              flush=True)
        self.assertLess(seconds, STOP_DEADLINE, launch.describe())
        with self.subTest("rank 0 only: exit code 75 and a clean stop"):  # the file is checked even so
            self.assertEqual(launch.code, EXIT_INTERRUPTED, launch.describe())
            self.assertNotIn("fatal", launch.stderr(), launch.describe())
        with self.subTest("rank 0 only: status incomplete"):
            self.assertEqual(farmproc.status(self.tmp / "out.h5"), "incomplete")
        out = farmproc.read_output(self.tmp / "out.h5")
        done = int(np.count_nonzero(out["state"] == DONE))
        self.assertGreater(done, 0, "the stop checkpointed nothing\n" + launch.describe())
        self.assertLess(done, N_TASKS, "the job was not stopped\n" + launch.describe())
        resume_seconds = self.resume_to_reference()
        print(f"  {done}/{N_TASKS} done at the stop; resume {resume_seconds:.1f} s")

    def test_sigterm_to_every_rank(self):
        self.signal_every_rank(signal.SIGTERM)

    def test_sigint_to_every_rank(self):
        self.signal_every_rank(signal.SIGINT)


if __name__ == "__main__":
    common.main()
