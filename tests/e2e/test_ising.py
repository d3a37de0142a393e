#!/usr/bin/python3
"""Issue 10: the ising app gives the same bits whatever the rank count, the policy, the order or a
kill -9 and resume; its output carries units and error bars; bad settings are one line, exit 2.
(The physics itself is checked in tests/unit/ising_test.cpp against exact enumeration.)

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_ising.py
"""

import os
import signal
import subprocess
import time

import h5py
import numpy as np

import common

JOB = """[job]
app = "ising"
[schedule]
policy = "{policy}"
order = "{order}"
[params]
T = [1.8, 2.27, 3.0]
L = [8, 16]
seed = {{ range = [1, 4] }}
[app]
update = "{update}"
thermalize = 200
measure = {measure}
bins = 20
"""

FIELDS = ["energy", "energy_err", "abs_m", "abs_m_err", "specific_heat", "specific_heat_err", "susceptibility",
          "susceptibility_err", "binder", "binder_err", "tau_int", "acceptance", "cluster_size"]


def results(path):
    with h5py.File(path, "r") as f:
        assert (f["tasks/state"][:] == 1).all(), f"{path}: not every task done"
        return {k: f["results"][k][:] for k in FIELDS}


class Ising(common.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    def job(self, name, policy="fac2", order="index", update="wolff", measure=2000):
        return self.write(name, JOB.format(policy=policy, order=order, update=update, measure=measure))

    def run_job(self, ranks, job, out):
        r = common.mpirun(ranks, [self.taskfarm, "run", job, "-o", out, "--progress-seconds", "0"], cwd=self.tmp,
                          timeout=240)
        self.assertEqual(r.code, 0, r.describe())
        return results(out)

    def assert_same_bits(self, a, b, what):
        for k in FIELDS:
            np.testing.assert_array_equal(a[k].view(np.uint64), b[k].view(np.uint64), f"{what}: /results/{k}")

    def test_same_bits_on_1_and_3_ranks_any_policy_and_order(self):
        for update in ["wolff", "metropolis"]:
            with self.subTest(update=update):
                one = self.run_job(1, self.job(f"a-{update}.toml", update=update), self.tmp / f"one-{update}.h5")
                three = self.run_job(3, self.job(f"b-{update}.toml", policy="ss", order="cost:L^2", update=update),
                                     self.tmp / f"three-{update}.h5")
                self.assert_same_bits(one, three, f"{update}: 1 rank fac2 vs 3 ranks ss cost-ordered")
                self.assertTrue(np.all(one["energy_err"] > 0))
                self.assertTrue(np.all(one["energy"] < 0))
                if update == "wolff":
                    self.assertTrue(np.isnan(one["acceptance"]).all())
                    self.assertTrue(((one["cluster_size"] > 0) & (one["cluster_size"] <= 1)).all())
                else:
                    self.assertTrue(np.isnan(one["cluster_size"]).all())
                    self.assertTrue(((one["acceptance"] > 0) & (one["acceptance"] < 1)).all())
        with h5py.File(self.tmp / "one-wolff.h5", "r") as f:
            self.assertEqual(f["results/energy"].attrs["units"], "J")
            self.assertIn("jackknife", f["results/energy_err"].attrs["description"])

    def test_kill_9_then_resume_gives_the_same_bits(self):
        reference = self.run_job(1, self.job("ref.toml", update="metropolis", measure=200000), self.tmp / "ref.h5")
        job = self.job("job.toml", update="metropolis", measure=200000)
        out = self.tmp / "out.h5"
        proc = subprocess.Popen([common.mpiexec(), "-n", "2", "--oversubscribe", self.taskfarm, "run", str(job), "-o",
                                 str(out), "--checkpoint-seconds", "0.2", "--progress-seconds", "0"],
                                cwd=self.tmp, env=common.env(), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        status = self.tmp / "out.h5.status.toml"
        deadline = time.monotonic() + 120
        done = 0
        while done < 4:  # some tasks in the file, most still to do
            self.assertIsNone(proc.poll(), "the job ended before it could be killed")
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.1)
            if status.exists():
                text = status.read_text()
                for line in text.splitlines():
                    if line.startswith("done = "):
                        done = int(line.split("=")[1])
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        for _ in range(200):  # the ranks die a moment after mpirun; their file lock with them
            try:
                with h5py.File(out, "r") as f:
                    settled = int((f["tasks/state"][:] == 1).sum())
                break
            except BlockingIOError:
                time.sleep(0.1)
        else:
            self.fail("the killed job's ranks still hold the output after 20 s")
        self.assertLess(settled, 18, "the kill came too late to mean anything")
        r = common.mpirun(3, [self.taskfarm, "resume", out, "--progress-seconds", "0"], cwd=self.tmp, timeout=240)
        self.assertEqual(r.code, 0, r.describe())
        self.assert_same_bits(reference, results(out), f"killed at {settled} tasks and resumed on 3 ranks")

    def test_bad_settings_are_one_line(self):
        base = JOB.format(policy="fac2", order="index", update="wolff", measure=2000)
        cases = [
            (base.replace('update = "wolff"', 'update = "heatbath"'), '[app] update: expected "metropolis" or "wolff"'),
            (base.replace("measure = 2000", "measure = 50"), "[app] measure: expected at least 10 sweeps per bin"),
            (base.replace("L = [8, 16]", "L = [1, 16]"), "[params] L: lattice sizes must lie in [2, 4096], got 1"),
            (base.replace("T = [1.8, 2.27, 3.0]", "T = [0.0, 1.0]"), "[params] T: temperatures must be positive"),
            (base.replace("T = [1.8, 2.27, 3.0]", 'T = ["hot"]'), "[params] T: expected numeric values, got text"),
            (base.replace("L = [8, 16]\n", ""), "[params] L: missing"),
            (base.replace("L = [8, 16]\n", "L = [8, 16]\nrep = [1, 2]\n"), "[params] rep: the ising app does not read"),
            (base.replace("bins = 20", "bins = 4294967298"), "[app] bins: expected an integer in [2, 100000]"),
        ]
        for text, words in cases:
            with self.subTest(words=words):
                job = self.write("bad.toml", text)
                r = common.run([self.taskfarm, "validate", job], cwd=self.tmp)
                self.assertEqual(r.code, 2, r.describe())
                self.assertIn(words, r.stderr)
                self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.describe())


if __name__ == "__main__":
    common.main()
