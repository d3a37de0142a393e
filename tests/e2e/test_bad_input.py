#!/usr/bin/python3
"""End-to-end: every bad input is reported as exactly one "taskfarm: error:" line naming the file (or
path) and the key, with exit code 2, and never leaves or clobbers an output file.

Job-file errors go through `taskfarm validate` (no MPI), and a subset also through
`mpiexec -n 3 taskfarm run` (there Open MPI adds its own banner about the non-zero exit; only our
line is checked).

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_bad_input.py
"""

import os
import re
import unittest

import h5py

import common

BAD_INPUT = 2
ERROR_PREFIX = "taskfarm: error: "
MPI_RANKS = 3

JOB_MANDELBROT = '[job]\napp = "mandelbrot"\noutput = "out.h5"\n'
APP_SMALL = "[app]\nwidth = 8\nheight = 4\n"
JOB_SYNTHETIC = '[job]\napp = "synthetic"\noutput = "out.h5"\n'

GOOD_JOB = JOB_MANDELBROT + APP_SMALL


def job_case(text, *needles, line=None):
    """A bad job file: the error must contain every needle and, if line is given, 'FILE:LINE:'."""
    return {"text": text, "needles": needles, "line": line}


# name -> case. The file is written as <name>.toml and passed by that relative path.
JOB_CASES = {
    "malformed_toml": job_case('[job\napp = "mandelbrot"\n', "malformed TOML", line=1),
    "unknown_table": job_case(GOOD_JOB + "[foo]\nx = 1\n", "foo", "unknown table", line=7),
    "missing_job": job_case(APP_SMALL, "[job]", "missing"),
    "missing_app": job_case('[job]\noutput = "out.h5"\n', "[job] app", "missing"),
    "unknown_app": job_case('[job]\napp = "mandelbrott"\noutput = "out.h5"\n', "[job] app", '"mandelbrott"',
                            "mandelbrot, synthetic"),
    "unknown_policy": job_case(JOB_MANDELBROT + '[schedule]\npolicy = "fastest"\n' + APP_SMALL,
                               "[schedule] policy", '"fastest"', "fac2", "fac (the default)", line=5),
    "unknown_schedule_key": job_case(JOB_MANDELBROT + '[schedule]\npolicy = "ss"\nchunck = 3\n' + APP_SMALL,
                                     "[schedule] chunck", "unknown key", line=6),
    "unknown_app_key": job_case(JOB_MANDELBROT + "[app]\nwidht = 8\nheight = 4\n", "[app] widht", "unknown key",
                                "width", line=5),
    "unknown_order": job_case(JOB_MANDELBROT + '[schedule]\norder = "slowest"\n' + APP_SMALL,
                              "[schedule] order", '"slowest"', "cost:<expression>", line=5),
    # the mandelbrot app fills in its `row` axis itself: the expression is checked after that
    "order_unknown_parameter": job_case(JOB_MANDELBROT + '[schedule]\norder = "cost:col * 2"\n' + APP_SMALL,
                                        "[schedule] order", "no parameter named 'col'", "row", line=5),
    "order_bad_expression": job_case(JOB_MANDELBROT + '[schedule]\norder = "by:row +* 2"\n' + APP_SMALL,
                                     "[schedule] order", "column 6", line=5),
    "fsc_without_chunk": job_case(JOB_MANDELBROT + '[schedule]\npolicy = "fsc"\n' + APP_SMALL,
                                  "[schedule] chunk", "fsc"),
    "negative_chunk": job_case(JOB_MANDELBROT + '[schedule]\npolicy = "fsc"\nchunk = -4\n' + APP_SMALL,
                               "[schedule] chunk", "-4", line=6),
    "max_chunk_below_min_chunk": job_case(JOB_MANDELBROT + "[schedule]\nmin_chunk = 8\nmax_chunk = 4\n" + APP_SMALL,
                                          "[schedule] max_chunk", "min_chunk", line=6),
    "prefetch_zero": job_case(JOB_MANDELBROT + "[schedule]\nprefetch = 0\n" + APP_SMALL,
                              "[schedule] prefetch", "got 0", line=5),
    "empty_list_axis": job_case(JOB_SYNTHETIC + "[params]\na = []\n", "[params] a", "empty", line=5),
    "empty_range_axis": job_case(JOB_SYNTHETIC + "[params]\na = { range = [5, 5] }\n", "[params] a", "empty",
                                 line=5),
    "linspace_count_zero": job_case(JOB_SYNTHETIC + "[params]\na = { linspace = [0.0, 1.0, 0] }\n",
                                    "linspace", "count", line=5),
    "range_step_zero": job_case(JOB_SYNTHETIC + "[params]\na = { range = [0, 10, 0] }\n", "range", "step",
                                line=5),
    "zip_unequal_lengths": job_case(JOB_SYNTHETIC + '[params]\ncombine = "zip"\na = [1, 2, 3]\nb = [1, 2]\n',
                                    "[params]", "'a' has 3", "'b' has 2"),
    "wrong_type": job_case(JOB_MANDELBROT + '[app]\nwidth = "big"\nheight = 4\n', "[app] width", '"big"',
                           line=5),
    "negative_width": job_case(JOB_MANDELBROT + "[app]\nwidth = -3\nheight = 4\n", "[app] width", "-3", line=5),
    "synthetic_unknown_distribution": job_case(
        JOB_SYNTHETIC + "[params]\ntask = { range = [0, 10] }\n[app]\ndistribution = \"poisson\"\n",
        "[app] distribution", '"poisson"', line=7),
    "synthetic_without_params": job_case(JOB_SYNTHETIC + "[app]\nmean_ms = 1.0\n", "[params]", "missing",
                                         "synthetic"),
}

# The job-file cases that are also run through `mpiexec -n 3 taskfarm run`.
MPI_CASES = ["malformed_toml", "unknown_policy", "unknown_app_key", "zip_unequal_lengths",
             "synthetic_without_params"]


class BadInputTestCase(common.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    # -- assertions --------------------------------------------------------------------------------

    def assert_one_error_line(self, r, *needles, source=None, line=None, exact=True):
        """Exit code 2 and exactly one 'taskfarm: error:' line containing every needle.

        exact: stderr is nothing but that line (no MPI launcher around the command).
        source: the line starts with 'taskfarm: error: SOURCE' (and 'SOURCE:LINE:' when line is given).
        Returns the message after the prefix.
        """
        self.assertEqual(r.code, BAD_INPUT, r.describe())
        lines = r.stderr.splitlines()
        ours = [x for x in lines if x.startswith(ERROR_PREFIX)]
        self.assertEqual(len(ours), 1, "expected exactly one 'taskfarm: error:' line\n" + r.describe())
        others = [x for x in lines if x.startswith("taskfarm") and x not in ours]
        self.assertEqual(others, [], "unexpected taskfarm output on stderr\n" + r.describe())
        if exact:
            self.assertEqual(len(lines), 1, "stderr must be exactly one line\n" + r.describe())
            self.assertTrue(r.stderr.endswith("\n"), r.describe())
        message = ours[0][len(ERROR_PREFIX):]
        if source is not None:
            self.assertTrue(message.startswith(str(source)), f"error does not start with {source!r}\n" + r.describe())
            if line is not None:
                self.assertTrue(message.startswith(f"{source}:{line}:"),
                                f"error does not name {source}:{line}\n" + r.describe())
        for needle in needles:
            self.assertIn(needle, message, r.describe())
        self.assertNotIn("AddressSanitizer", r.stderr, r.describe())
        return message

    def assert_no_output(self, name="out.h5"):
        self.assertFalse((self.tmp / name).exists(), f"{name} was created for a bad input")

    # -- job files through validate ------------------------------------------------------------------

    def check_validate(self, name):
        case = JOB_CASES[name]
        job = self.write(f"{name}.toml", case["text"])
        r = common.run([self.taskfarm, "validate", job.name], cwd=self.tmp)
        self.assert_one_error_line(r, *case["needles"], source=job.name, line=case["line"])
        self.assertEqual(r.stdout, "", r.describe())
        self.assert_no_output()

    # -- job files through mpiexec -n 3 run ------------------------------------------------------------

    def check_mpi_run(self, name):
        case = JOB_CASES[name]
        job = self.write(f"{name}.toml", case["text"])
        r = common.mpirun(MPI_RANKS, [self.taskfarm, "run", job.name], cwd=self.tmp)
        self.assert_one_error_line(r, *case["needles"], source=job.name, line=case["line"], exact=False)
        self.assert_no_output()

    def test_mpi_bad_job_with_force_never_clobbers(self):
        # A bad job file with --force must not touch an existing output: validation comes first.
        job = self.write("bad.toml", JOB_CASES["unknown_app_key"]["text"])
        precious = self.tmp / "out.h5"
        precious.write_bytes(b"precious bytes, not HDF5\n")
        r = common.mpirun(MPI_RANKS, [self.taskfarm, "run", "--force", job.name], cwd=self.tmp)
        self.assert_one_error_line(r, "[app] widht", source=job.name, exact=False)
        self.assertEqual(precious.read_bytes(), b"precious bytes, not HDF5\n")

    # -- output file ---------------------------------------------------------------------------------

    def test_output_exists_without_force(self):
        self.write("job.toml", GOOD_JOB)
        existing = self.tmp / "out.h5"
        existing.write_bytes(b"an earlier result\x00\x01\x02")
        r = common.mpirun(MPI_RANKS, [self.taskfarm, "run", "job.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "exists", "--force", source="out.h5", exact=False)
        self.assertEqual(existing.read_bytes(), b"an earlier result\x00\x01\x02")

        # -o names the same file: same refusal
        r = common.run([self.taskfarm, "run", "-o", "out.h5", "job.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "exists", "--force", source="out.h5")
        self.assertEqual(existing.read_bytes(), b"an earlier result\x00\x01\x02")

        # with --force it is replaced by a complete taskfarm output
        r = common.mpirun(MPI_RANKS, [self.taskfarm, "run", "--force", "job.toml"], cwd=self.tmp)
        self.assertEqual(r.code, 0, r.describe())
        with h5py.File(existing, "r") as f:
            self.assertEqual(f.attrs["status"], "complete")
            self.assertEqual(f["results/iterations"].shape, (4, 8))

    def test_output_directory_missing(self):
        self.write("job.toml", GOOD_JOB)
        target = os.path.join("no_such_dir", "out.h5")
        r = common.mpirun(MPI_RANKS, [self.taskfarm, "run", "-o", target, "job.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "no_such_dir", "does not exist", source=target, exact=False)
        self.assertFalse((self.tmp / "no_such_dir").exists())
        self.assert_no_output()

        # the same through [job] output, without MPI
        self.write("job2.toml", GOOD_JOB.replace('"out.h5"', '"missing/out.h5"'))
        r = common.run([self.taskfarm, "run", "job2.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "missing", "does not exist", source="missing/out.h5")
        self.assertFalse((self.tmp / "missing").exists())

    def test_output_directory_not_writable(self):
        if os.geteuid() == 0:
            print("\nnote: running as root, which can write to a mode-555 directory; "
                  "output-directory-not-writable case skipped")
            self.skipTest("root can write anywhere")
        self.write("job.toml", GOOD_JOB)
        locked = self.tmp / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        self.addCleanup(locked.chmod, 0o755)
        r = common.run([self.taskfarm, "run", "-o", "locked/out.h5", "job.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "locked", "not writable", source="locked/out.h5")
        self.assertEqual(list(locked.iterdir()), [])

    def test_output_path_is_a_directory(self):
        self.write("job.toml", GOOD_JOB)
        (self.tmp / "adir").mkdir()
        r = common.run([self.taskfarm, "run", "--force", "-o", "adir", "job.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "directory", source="adir")
        self.assertTrue((self.tmp / "adir").is_dir())
        self.assertEqual(list((self.tmp / "adir").iterdir()), [])

    # -- job file missing, command line ---------------------------------------------------------------

    def test_job_file_missing(self):
        r = common.run([self.taskfarm, "validate", "nope.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "cannot read", source="nope.toml")
        r = common.mpirun(MPI_RANKS, [self.taskfarm, "run", "nope.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "cannot read", source="nope.toml", exact=False)
        self.assertEqual(sorted(p.name for p in self.tmp.iterdir()), [])

    def test_unknown_cli_option(self):
        self.write("job.toml", GOOD_JOB)
        r = common.run([self.taskfarm, "validate", "--bogus", "job.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "--bogus")
        r = common.run([self.taskfarm, "run", "--bogus", "job.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "--bogus")
        self.assert_no_output()
        # Under mpiexec only rank 0 prints it (the other ranks exit quietly with the same code).
        r = common.mpirun(MPI_RANKS, [self.taskfarm, "run", "--bogus", "job.toml"], cwd=self.tmp)
        self.assert_one_error_line(r, "--bogus", exact=False)
        self.assert_no_output()

    def test_unknown_or_missing_subcommand(self):
        r = common.run([self.taskfarm, "frobnicate"], cwd=self.tmp)
        self.assert_one_error_line(r, '"frobnicate"', "run, resume, validate, inspect, verify, export, plot or simulate")
        r = common.run([self.taskfarm], cwd=self.tmp)
        self.assert_one_error_line(r)

    def test_job_path_is_a_directory(self):
        os.mkdir(os.path.join(self.tmp, "adir"))
        r = common.run([self.taskfarm, "validate", "adir"], cwd=self.tmp)
        self.assert_one_error_line(r, "is a directory, not a job file", source="adir")

    # -- inspect ---------------------------------------------------------------------------------------

    def test_inspect_not_hdf5(self):
        self.write("plain.h5", "this is not HDF5\n")
        r = common.run([self.taskfarm, "inspect", "plain.h5"], cwd=self.tmp)
        self.assert_one_error_line(r, "not a readable HDF5 file", source="plain.h5")
        self.assertEqual(r.stdout, "", r.describe())

    def test_inspect_hdf5_not_taskfarm(self):
        with h5py.File(self.tmp / "other.h5", "w") as f:
            f["x"] = [1, 2, 3]
            f.attrs["something"] = "else"
        r = common.run([self.taskfarm, "inspect", "other.h5"], cwd=self.tmp)
        self.assert_one_error_line(r, "not a taskfarm output", source="other.h5")
        self.assertEqual(r.stdout, "", r.describe())

    def test_inspect_missing_file(self):
        r = common.run([self.taskfarm, "inspect", "missing.h5"], cwd=self.tmp)
        self.assert_one_error_line(r, "no such file", source="missing.h5")


def _add(name, method, case):
    def test(self):
        method(self, case)
    test.__name__ = name
    setattr(BadInputTestCase, name, test)


for _case in JOB_CASES:
    _add(f"test_validate_{_case}", BadInputTestCase.check_validate, _case)
for _case in MPI_CASES:
    _add(f"test_mpi_run_{_case}", BadInputTestCase.check_mpi_run, _case)


if __name__ == "__main__":
    common.main()
