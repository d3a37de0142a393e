#!/usr/bin/python3
"""Every example job in jobs/*.toml passes `taskfarm validate` (exit 0, no error output).

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_jobs_smoke.py
"""

import unittest

import common


class JobsSmoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()
        cls.jobs = sorted((common.source_dir() / "jobs").glob("*.toml"))

    def test_there_are_jobs(self):
        self.assertTrue(self.jobs, f"no jobs/*.toml under {common.source_dir()}")

    def test_every_job_validates(self):
        root = common.source_dir()
        for job in self.jobs:
            with self.subTest(job=job.name):
                # As documented: run from the repository root with the relative path (a job may name
                # files relative to it, e.g. a synthetic costs_file).
                rel = job.relative_to(root)
                r = common.run([self.taskfarm, "validate", rel], cwd=root)
                self.assertEqual(r.code, 0, r.describe())
                self.assertEqual(r.stderr, "", r.describe())
                self.assertTrue(r.stdout.startswith(f"{rel}: ok\n"), r.describe())


if __name__ == "__main__":
    common.main()
