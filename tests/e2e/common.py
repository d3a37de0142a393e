"""Shared helpers for the end-to-end tests (stdlib only; run the tests with Debian's /usr/bin/python3).

Environment:
  TASKFARM            path of the taskfarm executable (required)
  MANDELBROT_PNG      path of the mandelbrot_png tool (tests that need it skip without it)
  MPIEXEC             mpiexec to launch with (default "mpiexec")
  TASKFARM_SOURCE_DIR repository root (default: two directories above this file)
  TASKFARM_E2E_KEEP   if set, temporary directories are kept and their paths printed
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

# Defaults for running a debug+ASan build under Open MPI as root on a small machine; ctest sets the
# same variables, and anything already in the environment wins.
MPI_ENV_DEFAULTS = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "ASAN_OPTIONS": "detect_leaks=0",
}

COMMAND_TIMEOUT = 120  # seconds; a hang is a failure, not a stuck test run


def _required_executable(var):
    path = os.environ.get(var)
    if not path:
        sys.exit(f"{var} is not set: point it at the built executable")
    if not os.access(path, os.X_OK):
        sys.exit(f"{var}={path} is not an executable file")
    return str(Path(path).resolve())


def taskfarm():
    return _required_executable("TASKFARM")


def mandelbrot_png():
    path = os.environ.get("MANDELBROT_PNG")
    return str(Path(path).resolve()) if path else None


def mpiexec():
    return os.environ.get("MPIEXEC") or "mpiexec"


def source_dir():
    return Path(os.environ.get("TASKFARM_SOURCE_DIR") or Path(__file__).resolve().parents[2])


def env():
    e = dict(os.environ)
    for k, v in MPI_ENV_DEFAULTS.items():
        e.setdefault(k, v)
    return e


class Result:
    def __init__(self, args, proc, seconds):
        self.args = args
        self.code = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.seconds = seconds

    def describe(self):
        return (f"command: {' '.join(map(str, self.args))}\nexit code: {self.code}\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}--------------")


def run(args, cwd, timeout=COMMAND_TIMEOUT):
    """Runs a command, captures text stdout/stderr; a timeout raises AssertionError."""
    args = [str(a) for a in args]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(args, cwd=cwd, env=env(), capture_output=True, text=True,
                              errors="replace", timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"timed out after {timeout} s: {' '.join(args)}\n"
                             f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}") from None
    return Result(args, proc, time.monotonic() - t0)


def mpirun(n, args, cwd, timeout=COMMAND_TIMEOUT):
    return run([mpiexec(), "-n", str(n), "--oversubscribe", *args], cwd, timeout)


class TempDirTestCase(unittest.TestCase):
    """Each test gets self.tmp, a fresh empty directory (removed afterwards unless TASKFARM_E2E_KEEP)."""

    def setUp(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="taskfarm-e2e-"))
        if os.environ.get("TASKFARM_E2E_KEEP"):
            print(f"\n[{self.id()}] keeping {self.tmp}", file=sys.stderr)
        else:
            self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def write(self, name, text):
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path


def main():
    """unittest.main with verbose output; exits non-zero on any failure."""
    unittest.main(verbosity=2)
