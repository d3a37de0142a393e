#!/usr/bin/python3
"""Issue 11: analysis where users work. `taskfarm export --csv` (checked against h5py and read back
with pandas), `taskfarm plot` (files exist, are not blank, in every format), `taskfarm inspect` on a
running job (live status from another process, --json, --watch until the end, the job never
blocked), progress lines off a terminal and --quiet.

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_analysis.py
"""

import csv
import json
import os
import subprocess
import time

import h5py
import numpy as np

import common

SWEEP = """[job]
app = "synthetic"
[params]
T = { linspace = [1.0, 2.0, 3] }
L = [8, 16]
name = ["plain", "with, comma", "with \\"quote\\""]
[app]
distribution = "uniform"
mean_ms = 0.0
fail_tasks = [4]
"""

# Slow enough to be seen running: 300 tasks of 20 ms on 1 rank (a singleton keeps the second core
# free for the inspecting process), one task failing.
SLOW = """[job]
app = "synthetic"
[params]
task = { range = [0, 300] }
[app]
distribution = "constant"
mean_ms = 20.0
fail_tasks = [7]
"""


class Analysis(common.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    def run_sweep(self):
        out = self.tmp / "sweep.h5"
        r = common.mpirun(2, [self.taskfarm, "run", self.write("sweep.toml", SWEEP), "-o", out], cwd=self.tmp)
        self.assertEqual(r.code, 1, r.describe())  # task 4 failed for good
        return out

    # -- export ----------------------------------------------------------------------------------

    def test_export_csv_matches_the_file(self):
        out = self.run_sweep()
        csv_path = self.tmp / "sweep.csv"
        r = common.run([self.taskfarm, "export", out, "--csv", "-o", csv_path], cwd=self.tmp)
        self.assertEqual(r.code, 0, r.describe())
        with open(csv_path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        with h5py.File(out, "r") as f:
            n = f.attrs["n_tasks"]
            self.assertEqual(len(rows), n)
            self.assertEqual(list(rows[0].keys()),
                             ["task", "T", "L", "name", "seconds", "task_state", "task_rank", "task_seconds", "task_attempts"])
            names = [v.decode() for v in f["params/name"][:]]
            for i, row in enumerate(rows):
                self.assertEqual(int(row["task"]), i)
                self.assertEqual(float(row["T"]), f["params/T"][i])
                self.assertEqual(int(row["L"]), f["params/L"][i])
                self.assertEqual(row["name"], names[i])  # commas and quotes survive the quoting
                state = f["tasks/state"][i]
                self.assertEqual(row["task_state"], ["pending", "done", "failed"][state])
                if state == 1:
                    self.assertEqual(float(row["seconds"]), f["results/seconds"][i])  # shortest round trip
                    self.assertEqual(float(row["task_seconds"]), f["tasks/seconds"][i])
                    self.assertEqual(int(row["task_rank"]), f["tasks/rank"][i])
                else:
                    self.assertEqual(row["seconds"], "")  # no result: an empty cell, not a zero
            self.assertEqual(rows[4]["task_state"], "failed")
        # stdout by default; the same bytes
        r = common.run([self.taskfarm, "export", out], cwd=self.tmp)
        self.assertEqual(r.code, 0, r.describe())
        self.assertEqual(r.stdout, csv_path.read_text())

    def test_export_never_replaces_a_file_and_names_bad_input(self):
        out = self.run_sweep()
        keep = self.write("keep.csv", "precious\n")
        r = common.run([self.taskfarm, "export", out, "-o", keep], cwd=self.tmp)
        self.assertEqual(r.code, 2, r.describe())
        self.assertIn("keep.csv: exists", r.stderr)
        self.assertEqual(keep.read_text(), "precious\n")
        for bad, words in [(self.tmp / "missing.h5", "no such file"), (keep, "not a readable HDF5 file")]:
            r = common.run([self.taskfarm, "export", bad], cwd=self.tmp)
            self.assertEqual(r.code, 2, r.describe())
            self.assertIn(words, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.describe())

    # -- plot ------------------------------------------------------------------------------------

    def assert_png_not_blank(self, path, min_bytes=5000):
        import matplotlib.image

        self.assertTrue(path.exists(), path)
        self.assertGreater(path.stat().st_size, min_bytes, path)
        pixels = matplotlib.image.imread(path)
        self.assertGreater(pixels.shape[0] * pixels.shape[1], 100 * 100, path)
        self.assertGreater(float(pixels[..., :3].std()), 0.01, f"{path} is blank")

    def test_plot_a_sweep_and_a_mandelbrot_image(self):
        out = self.run_sweep()
        figures = self.tmp / "figures"
        figures.mkdir()
        r = common.run([self.taskfarm, "plot", out, "-o", figures], cwd=self.tmp)
        self.assertEqual(r.code, 0, r.describe())
        for kind in ["timeline", "balance", "seconds"]:
            self.assert_png_not_blank(figures / f"sweep.{kind}.png")
        self.assertEqual(sorted(r.stdout.split()), sorted(str(figures / f"sweep.{k}.png")
                                                          for k in ["timeline", "balance", "seconds"]))

        m = self.tmp / "m.h5"
        job = self.write("m.toml", '[job]\napp = "mandelbrot"\n[app]\nwidth = 120\nheight = 90\n')
        r = common.mpirun(2, [self.taskfarm, "run", job, "-o", m], cwd=self.tmp)
        self.assertEqual(r.code, 0, r.describe())
        r = common.run([self.taskfarm, "plot", m], cwd=self.tmp)  # beside the file by default
        self.assertEqual(r.code, 0, r.describe())
        self.assert_png_not_blank(self.tmp / "m.iterations.png", min_bytes=2000)
        for fmt, magic in [("svg", b"<?xml"), ("pdf", b"%PDF")]:
            r = common.run([self.taskfarm, "plot", m, "--format", fmt], cwd=self.tmp)
            self.assertEqual(r.code, 0, r.describe())
            path = self.tmp / f"m.timeline.{fmt}"
            self.assertTrue(path.read_bytes().startswith(magic), path)
            self.assertGreater(path.stat().st_size, 3000)

    def test_plot_bad_input_is_one_line(self):
        not_h5 = self.write("x.h5", "not hdf5")
        for args, words in [([self.tmp / "none.h5"], "no such file"),
                            ([not_h5], "not a readable HDF5 file"),
                            ([not_h5, "--format", "gif"], "--format")]:
            r = common.run([self.taskfarm, "plot", *args], cwd=self.tmp)
            self.assertEqual(r.code, 2, r.describe())
            self.assertIn(words, r.stderr)
            self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.describe())

    # -- live view -------------------------------------------------------------------------------

    def start_slow(self, *extra):
        job = self.write("slow.toml", SLOW)
        out = self.tmp / "slow.h5"
        proc = subprocess.Popen([common.mpiexec(), "-n", "1", self.taskfarm, "run", str(job), "-o", str(out),
                                 *extra], cwd=self.tmp, env=common.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        status = self.tmp / "slow.h5.status.toml"
        deadline = time.monotonic() + 60
        while not status.exists():
            self.assertIsNone(proc.poll(), "the job ended before writing its live status")
            self.assertLess(time.monotonic(), deadline, "no live status after 60 s")
            time.sleep(0.05)
        return proc, out, status

    def test_inspect_a_running_job(self):
        proc, out, status = self.start_slow("--progress-seconds", "0.5")
        seen = []
        while proc.poll() is None:
            r = common.run([self.taskfarm, "inspect", out, "--json"], cwd=self.tmp)
            self.assertEqual(r.code, 0, r.describe())
            doc = json.loads(r.stdout)
            if doc["status"] != "running":
                break  # the job ended between two looks: the file's own summary
            if doc.get("no_status_yet"):
                self.assertEqual(doc["n_tasks"], 0)  # the output is locked, rank 0 has not written a status yet
            elif "done" in doc:
                self.assertEqual(doc["n_tasks"], 300)
                self.assertEqual(doc["done"] + doc["failed"] + doc["pending"], 300)
                self.assertEqual(sum(r["tasks"] for r in doc["ranks"]), doc["done"])
                held = sum(r["in_open_chunks"] for r in doc["ranks"])  # handed out, chunk not finished
                self.assertLessEqual(held, doc["pending"] + doc["done"], doc)
                seen.append(doc)
            time.sleep(0.3)
        stdout, stderr = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 1, stderr)  # task 7 failed
        self.assertGreaterEqual(len(seen), 2, "inspect saw the job running fewer than twice")
        self.assertTrue(any(sum(r["in_open_chunks"] for r in d["ranks"]) > 0 for d in seen), seen)
        done = [d["done"] for d in seen]
        self.assertEqual(done, sorted(done))  # never torn, never backwards
        last = seen[-1]
        self.assertGreater(last["tasks_per_second"], 0)
        if last["done"] > 8:
            self.assertEqual([f["task"] for f in last["recent_failures"]][-1:], [7])
            self.assertTrue(all(0.015 < t["seconds"] < 5 for t in last["slowest"]), last["slowest"])
        self.assertFalse(status.exists(), "the live status outlived the job")
        # off a terminal: progress lines with rank and host, then the final one
        lines = [l for l in stderr.splitlines() if l.startswith("taskfarm: rank 0 on ")]
        self.assertGreaterEqual(len(lines), 2, stderr)
        self.assertIn("300/300 tasks", lines[-1])
        # the finished file: same JSON schema, plus status and checks
        r = common.run([self.taskfarm, "inspect", out, "--json"], cwd=self.tmp)
        doc = json.loads(r.stdout)
        self.assertEqual((doc["status"], doc["done"], doc["failed"], doc["pending"]), ("failed", 299, 1, 0))
        self.assertEqual(doc["damaged_blocks"], 0)
        with h5py.File(out, "r") as f:
            secs = f["tasks/seconds"][:]
            self.assertAlmostEqual(doc["slowest"][0]["seconds"], float(np.max(secs)))

    def test_watch_follows_the_job_to_its_end_and_quiet_prints_nothing(self):
        proc, out, _ = self.start_slow("--quiet")
        r = common.run([self.taskfarm, "inspect", out, "--watch", "0.5"], cwd=self.tmp, timeout=120)
        self.assertEqual(r.code, 0, r.describe())
        self.assertIn("running", r.stdout)
        self.assertIn("tasks/s", r.stdout)
        final = r.stdout.rfind("taskfarm output, status failed")  # the file's own summary, once it ended
        self.assertGreater(final, r.stdout.rfind(": running"), r.stdout)
        stdout, stderr = proc.communicate(timeout=60)
        self.assertNotIn("tasks/s", stderr)  # --quiet: no progress lines
        self.assertIn("299 tasks done, 1 failed", stderr)


if __name__ == "__main__":
    common.main()
