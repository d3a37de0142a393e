#!/usr/bin/python3
"""End-to-end: tasks that fail are retried, recorded and rerun on demand, and never cost the others
their results (issue 4).

The synthetic app's fail_tasks = [3, 10] makes those tasks throw every time. With retries = 2:
exit 1, tasks 3 and 10 in state failed, /failures holds attempts 1, 2, 3 of each (on 3 ranks, on at
least two different ranks), every other task is done with the right result. Then
`resume --retry-failed --force-spec JOB2` (JOB2: the same job without fail_tasks) completes the file
with exactly the results of a run without failures, and `resume` of a complete file changes nothing.
fail_fast = true stops the job at the first failure (exit 1) and leaves a resumable file.

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_failures.py
"""

import numpy as np

import farmproc  # noqa: F401  (first: makes TASKFARM default to the dev build)
import common
from farmproc import DONE, EXIT_OK, EXIT_TASKS_FAILED, FAILED, PENDING

N_TASKS = 4000
MEAN_MS = 0.5
FAIL_TASKS = [3, 10]
RETRIES = 2


def job(job_extra="", app_extra=""):
    return farmproc.synthetic_job(N_TASKS, MEAN_MS, seed=5, job_extra=job_extra, app_extra=app_extra)


JOB_FAILING = job(job_extra=f"retries = {RETRIES}\n", app_extra=f"fail_tasks = {FAIL_TASKS}\n")
JOB_GOOD = job(job_extra=f"retries = {RETRIES}\n")
JOB_FAIL_FAST = job(job_extra="fail_fast = true\n", app_extra=f"fail_tasks = {FAIL_TASKS}\n")


class Failures(common.TempDirTestCase):
    reference = None

    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    def setUp(self):
        super().setUp()
        self.write("failing.toml", JOB_FAILING)
        self.write("good.toml", JOB_GOOD)
        self.write("fail_fast.toml", JOB_FAIL_FAST)
        if Failures.reference is None:
            r = common.mpirun(3, [self.taskfarm, "run", "good.toml", "-o", "reference.h5", "--progress-seconds", "0"],
                              cwd=self.tmp)
            self.assertEqual(r.code, EXIT_OK, r.describe())
            Failures.reference = farmproc.read_output(self.tmp / "reference.h5")

    def assert_equals_reference(self, out, mask=None):
        ref = self.reference
        self.assertTrue(farmproc.same_bytes(out["params"]["task"], ref["params"]["task"]))
        got, want = out["results"]["seconds"], ref["results"]["seconds"]
        if mask is not None:
            got, want = got[mask], want[mask]
        self.assertTrue(farmproc.same_bytes(got, want), "/results/seconds differs from a run without failures")

    # -- retries, /failures, --retry-failed ---------------------------------------------------------------

    def check_failures(self, ranks):
        r = common.mpirun(ranks, [self.taskfarm, "run", "failing.toml", "--progress-seconds", "0"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_TASKS_FAILED, r.describe())
        self.assertNotIn("AddressSanitizer", r.stderr)
        self.assertIn("--retry-failed", r.stderr, "the run does not say how to rerun the failed tasks")
        out = farmproc.read_output(self.tmp / "out.h5")
        self.assertEqual(out["status"], "failed")
        failed = np.flatnonzero(out["state"] == FAILED).tolist()
        self.assertEqual(failed, FAIL_TASKS)
        others = out["state"] != FAILED
        self.assertTrue(np.all(out["state"][others] == DONE), "tasks other than the failing ones are not done")
        self.assert_equals_reference(out, mask=others)
        self.assertTrue(np.all(out["rank"][others] >= 0))

        rows = out["failures"]
        self.assertEqual(len(rows), len(FAIL_TASKS) * (RETRIES + 1), rows)
        ranks_used = {}
        for task in FAIL_TASKS:
            mine = rows[rows["task"] == task]
            self.assertEqual(sorted(mine["attempt"].tolist()), list(range(1, RETRIES + 2)), mine)
            for row in mine:
                self.assertIn(f"task {task} is listed in fail_tasks", farmproc.text(row["message"]))
                self.assertTrue(farmproc.text(row["host"]), "empty host in /failures")
                self.assertTrue(0 <= row["rank"] < ranks, row)
            ranks_used[task] = sorted(set(mine["rank"].tolist()))
            if ranks > 1:
                self.assertGreaterEqual(len(ranks_used[task]), 2,
                                        f"every attempt of task {task} ran on rank {ranks_used[task]}: a retry should "
                                        f"go to another rank\n{mine}")
        print(f"\n{ranks} rank(s): attempts of tasks {FAIL_TASKS} ran on ranks {ranks_used}; run {r.seconds:.1f} s",
              flush=True)

        # a changed job file is refused without --force-spec ...
        before = (self.tmp / "out.h5").read_bytes()
        r = common.mpirun(ranks, [self.taskfarm, "resume", "--retry-failed", "out.h5", "good.toml"], cwd=self.tmp)
        farmproc.assert_one_error_line(self, r, "differs", "--force-spec", source="out.h5", exact=False)
        self.assertEqual((self.tmp / "out.h5").read_bytes(), before, "a refused resume changed the file")

        # ... and with it, the failed tasks are run again and now succeed
        r = common.mpirun(ranks, [self.taskfarm, "resume", "--retry-failed", "--force-spec", "out.h5", "good.toml",
                                  "--progress-seconds", "0"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        out = farmproc.read_output(self.tmp / "out.h5")
        self.assertEqual(out["status"], "complete")
        self.assertTrue(np.all(out["state"] == DONE))
        self.assert_equals_reference(out)
        self.assertTrue(np.all(out["rank"] >= 0))
        # good.toml changes [app] (fail_tasks), so no earlier result may be trusted: every task ran
        # again (parameter identity, issue 13), and the old file with its /failures history is kept
        self.assertIn("[app] settings", r.stderr, r.describe())
        backups = list(self.tmp.glob("out.h5.before-resume-*"))
        self.assertEqual(len(backups), 1, r.describe())
        self.assertEqual(len(farmproc.read_output(backups[0])["failures"]), len(rows),
                         "the history of failed attempts was lost")

        # resuming a complete file: exit 0, nothing recomputed, /results untouched
        r = common.mpirun(ranks, [self.taskfarm, "resume", "out.h5", "--progress-seconds", "0"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        again = farmproc.read_output(self.tmp / "out.h5")
        self.assertEqual(again["status"], "complete")
        for name in ("state", "rank"):
            self.assertTrue(farmproc.same_bytes(again[name], out[name]), f"/tasks/{name} changed")
        for k in out["results"]:
            self.assertTrue(farmproc.same_bytes(again["results"][k], out["results"][k]), f"/results/{k} changed")

    def test_retries_on_one_rank(self):
        self.check_failures(1)

    def test_retries_on_three_ranks(self):
        self.check_failures(3)

    # -- fail_fast ------------------------------------------------------------------------------------------

    def test_fail_fast(self):
        r = common.mpirun(3, [self.taskfarm, "run", "fail_fast.toml", "--progress-seconds", "0"], cwd=self.tmp)
        self.assertIn("fail_fast", r.stderr)
        out = farmproc.read_output(self.tmp / "out.h5")
        done = int(np.count_nonzero(out["state"] == DONE))
        n_failed = int(np.count_nonzero(out["state"] == FAILED))
        pending = int(np.count_nonzero(out["state"] == PENDING))
        print(f"\nfail_fast: exit code {r.code}, status {out['status']}, {done} done, {n_failed} failed, "
              f"{pending} pending; {len(out['failures'])} failure rows; {r.seconds:.1f} s", flush=True)
        # (subTest: the file is checked, and resumed below, even when these fail)
        with self.subTest("fail_fast: exit code 1, a clean stop"):
            self.assertEqual(r.code, EXIT_TASKS_FAILED, r.describe())
            self.assertNotIn("fatal", r.stderr, r.describe())
        with self.subTest("fail_fast: status of the stopped job"):
            self.assertIn(out["status"], ("failed", "incomplete"))
            self.assertGreaterEqual(n_failed, 1)
        self.assertGreater(pending, 0, "fail_fast did not stop the job early")
        self.assertTrue(set(np.flatnonzero(out["state"] == FAILED).tolist()) <= set(FAIL_TASKS))
        self.assertGreaterEqual(len(out["failures"]), 1)
        self.assert_equals_reference(out, mask=out["state"] == DONE)

        r = common.mpirun(3, [self.taskfarm, "resume", "--retry-failed", "--force-spec", "out.h5", "good.toml",
                              "--progress-seconds", "0"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        out = farmproc.read_output(self.tmp / "out.h5")
        self.assertEqual(out["status"], "complete")
        self.assertTrue(np.all(out["state"] == DONE))
        self.assert_equals_reference(out)


if __name__ == "__main__":
    common.main()
