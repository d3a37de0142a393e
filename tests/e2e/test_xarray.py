#!/usr/bin/python3
"""Issue 11: the output opens in xarray (Debian's python3-xarray + python3-h5netcdf) with no options
and no custom code: a named `task` dimension, the parameters as coordinates, units as attributes,
no phony dimension anywhere; a product sweep unstacks to its grid in one line; pandas gets
parameters + results in one line. Every example job's output opens too.

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_xarray.py
"""

import itertools
import shutil
import unittest

import h5py
import numpy as np
import xarray as xr

import common

SWEEP = """[job]
app = "synthetic"
[params]
T = { linspace = [1.0, 2.0, 3] }
L = [8, 16]
seed = { range = [0, 4] }
label = ["a", "b c"]
[app]
distribution = "uniform"
mean_ms = 0.0
"""


def every_dataset(f):
    out = []
    f.visititems(lambda name, obj: out.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
    return out


class XarrayView(common.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    def run_job(self, text, ranks=2, name="out.h5", extra=()):
        job = self.write("job.toml", text)
        out = self.tmp / name
        r = common.mpirun(ranks, [self.taskfarm, "run", job, "-o", out, *extra], cwd=self.tmp)
        self.assertEqual(r.code, 0, r.describe())
        return out

    def assert_no_phony_dimension(self, path):
        with h5py.File(path, "r") as f:
            for name, ds in every_dataset(f):
                if ds.attrs.get("CLASS") == b"DIMENSION_SCALE":
                    continue
                for axis, dim in enumerate(ds.dims):
                    self.assertEqual(len(dim), 1, f"/{name} axis {axis} has {len(dim)} dimension scales")

    def test_sweep_opens_with_parameters_as_coordinates(self):
        out = self.run_job(SWEEP, ranks=3)
        self.assert_no_phony_dimension(out)
        with xr.open_dataset(out, engine="h5netcdf") as ds, h5py.File(out, "r") as f:
            n = 3 * 2 * 4 * 2
            self.assertEqual(ds.sizes["task"], n)
            self.assertEqual(ds["seconds"].dims, ("task",))
            for axis in ["T", "L", "seed", "label"]:
                self.assertIn(axis, ds.coords, axis)
                self.assertEqual(ds[axis].dims, ("task",))
                expected = f["params"][axis][:]
                if expected.dtype == object:
                    expected = [v.decode() for v in expected]
                self.assertEqual(list(ds[axis].values), list(expected), axis)
            self.assertEqual(ds["seconds"].attrs["units"], "s")
            self.assertIn("description", ds["seconds"].attrs)
            self.assertEqual(ds.attrs["status"], "complete")
            # product order, first axis slowest: task 0 is (T=1, L=8, seed=0, "a"), the last (3, 16, 3, "b c")
            combos = list(itertools.product([1.0, 1.5, 2.0], [8, 16], range(4), ["a", "b c"]))
            got = list(zip(ds.T.values, ds.L.values, ds.seed.values, ds.label.values))
            self.assertEqual(got, combos)
            np.testing.assert_array_equal(ds["seconds"].values, f["results/seconds"][:])

            # The grid view, one line (README): T x L x seed x label.
            grid = ds.set_index(task=["T", "L", "seed", "label"]).unstack("task")
            self.assertEqual(grid["seconds"].shape, (3, 2, 4, 2))
            self.assertEqual(float(grid["seconds"].sel(T=1.5, L=16, seed=2, label="b c")),
                             float(ds["seconds"][combos.index((1.5, 16, 2, "b c"))]))

            # pandas, one line (README): parameters + scalar results, one row per task.
            df = ds.drop_dims(["chunk", "failure", "rank"]).to_dataframe()
            self.assertEqual(len(df), n)
            self.assertIn("seconds", df.columns)
            self.assertEqual(sorted(df.reset_index().columns), sorted(["task", "T", "L", "seed", "label", "seconds"]))

            # The bookkeeping tables are variables on their own dimensions, not phony ones.
            self.assertEqual(ds["chunks"].dims, ("chunk",))
            self.assertEqual(ds.sizes["rank"], 3)
        for group in ["results", "params", "tasks"]:
            with xr.open_dataset(out, engine="h5netcdf", group=group) as g:
                self.assertEqual(dict(g.sizes), {"task": n}, group)
        with xr.open_dataset(out, engine="h5netcdf", group="tasks") as t:
            self.assertTrue((t["state"].values == 1).all())

    def test_per_task_arrays_get_their_own_dimension(self):
        out = self.run_job('[job]\napp = "mandelbrot"\n[app]\nwidth = 24\nheight = 10\n', ranks=2)
        self.assert_no_phony_dimension(out)
        with xr.open_dataset(out, engine="h5netcdf") as ds, h5py.File(out, "r") as f:
            self.assertEqual(ds["iterations"].dims, ("task", "iterations_dim1"))
            self.assertEqual(ds["iterations"].shape, (10, 24))
            self.assertIn("row", ds.coords)
            np.testing.assert_array_equal(ds["iterations"].values, f["results/iterations"][:])
            np.testing.assert_array_equal(ds.set_index(task="row")["iterations"].sel(task=3).values,
                                          f["results/iterations"][3])

    def test_failures_and_a_resumed_file_open_too(self):
        job = SWEEP.replace('mean_ms = 0.0\n', 'mean_ms = 0.0\nfail_tasks = [3, 7]\n')
        out = self.tmp / "out.h5"
        r = common.mpirun(2, [self.taskfarm, "run", self.write("job.toml", job), "-o", out], cwd=self.tmp)
        self.assertEqual(r.code, 1, r.describe())  # tasks failed
        with xr.open_dataset(out, engine="h5netcdf") as ds:
            self.assertEqual(ds.sizes["failure"], 6)  # 3 attempts each (retries = 2)
            self.assertEqual(sorted({int(r["task"]) for r in ds["failures"].values}), [3, 7])
        r = common.mpirun(2, [self.taskfarm, "resume", "--retry-failed", out], cwd=self.tmp)
        self.assertIn(r.code, (0, 1), r.describe())
        self.assert_no_phony_dimension(out)
        with xr.open_dataset(out, engine="h5netcdf") as ds:
            self.assertEqual(ds.sizes["failure"], 12)
            self.assertEqual(ds.sizes["rank"], 2)

    def test_every_example_job_opens(self):
        # A copy of jobs/, run from its parent as from the repository root: a job that writes files of
        # its own (the command example's runs) writes them here, never into the source tree.
        root = self.tmp / "repo"
        shutil.copytree(common.source_dir() / "jobs", root / "jobs")
        for job in sorted((root / "jobs").glob("*.toml")):
            with self.subTest(job=job.name):
                out = self.tmp / (job.stem + ".h5")
                path = job.relative_to(root)
                if 'app = "ising"' in job.read_text():  # a minute of physics: the same job, short chains
                    path = self.write(job.name, job.read_text().replace("measure = 10000", "measure = 640")
                                      .replace("thermalize = 1000", "thermalize = 50"))
                r = common.mpirun(2, [self.taskfarm, "run", path, "-o", out, "--no-fsync"], cwd=root, timeout=240)
                self.assertEqual(r.code, 0, r.describe())
                self.assert_no_phony_dimension(out)
                with xr.open_dataset(out, engine="h5netcdf") as ds:
                    self.assertGreater(ds.sizes["task"], 0)
                    self.assertTrue(any(v for v in ds.data_vars if ds[v].dims[:1] == ("task",)))
                figures = self.tmp / job.stem
                figures.mkdir()
                r = common.run([self.taskfarm, "plot", out, "-o", figures], cwd=root, timeout=240)
                self.assertEqual(r.code, 0, r.describe())
                written = sorted(p.name for p in figures.iterdir())
                self.assertIn(f"{job.stem}.timeline.png", written)
                self.assertGreaterEqual(len(written), 3, written)  # timeline, balance, a result
                self.assertTrue(all((figures / p).stat().st_size > 5000 for p in written), written)
                out.unlink()


if __name__ == "__main__":
    common.main()
