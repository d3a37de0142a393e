"""Helpers for the end-to-end tests that interrupt jobs (signals, SIGKILL, resume): launches in the
background, the rank processes of an mpiexec, and reading an output back with h5py.

Not a test itself (the e2e tests are tests/e2e/test_*.py). Importing it makes TASKFARM default to the
debug build, build/dev/bin/taskfarm, so every script that uses it runs standalone:

    /usr/bin/python3 tests/e2e/test_signals.py
"""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np

import common

os.environ.setdefault("TASKFARM", str(common.source_dir() / "build" / "dev" / "bin" / "taskfarm"))

EXIT_OK = 0
EXIT_TASKS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 75

PENDING, DONE, FAILED = 0, 1, 2

PROGRESS_LINE = re.compile(r"^taskfarm: (?:rank 0 on [^:]*: )?(\d+)/(\d+) tasks ", re.MULTILINE)


def synthetic_job(n_tasks, mean_ms=1.0, spread=0.5, seed=7, output="out.h5", name="crash", job_extra="",
                  app_extra=""):
    """A synthetic job of n_tasks uniform costs (mean_ms ± spread·mean_ms), wall-clock spin."""
    return (f'[job]\nname = "{name}"\napp = "synthetic"\noutput = "{output}"\n{job_extra}'
            f"\n[params]\ntask = {{ range = [0, {n_tasks}] }}\n"
            f'\n[app]\ndistribution = "uniform"\nmean_ms = {mean_ms}\nspread = {spread}\nseed = {seed}\n'
            f'clock = "wall"\n{app_extra}')


# -- background launches -----------------------------------------------------------------------------

class Launch:
    """`mpiexec -n N taskfarm ARGS` in the background; stdout and stderr go to files in `cwd`."""

    def __init__(self, n, args, cwd, tag="launch"):
        self.cwd = Path(cwd)
        self.args = [common.mpiexec(), "-n", str(n), "--oversubscribe", *map(str, args)]
        self.out_path = self.cwd / f"{tag}.stdout"
        self.err_path = self.cwd / f"{tag}.stderr"
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.t0 = time.monotonic()
            self.proc = subprocess.Popen(self.args, cwd=self.cwd, env=common.env(), stdout=out, stderr=err,
                                         stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self.seen = {}  # pid -> (starttime, rank) of every rank process seen so far

    def elapsed(self):
        return time.monotonic() - self.t0

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout=common.COMMAND_TIMEOUT):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
            raise AssertionError(f"timed out after {timeout} s: {' '.join(self.args)}\n{self.stderr()}") from None

    @property
    def code(self):
        return self.proc.returncode

    def stdout(self):
        return self.out_path.read_text(errors="replace")

    def stderr(self):
        return self.err_path.read_text(errors="replace")

    def describe(self):
        return (f"command: {' '.join(self.args)}\nexit code: {self.code}\n--- stdout ---\n{self.stdout()}"
                f"--- stderr ---\n{self.stderr()}--------------")

    def ranks(self):
        """{rank: pid} of the rank processes started so far (children of mpiexec that have exec'd
        taskfarm: OMPI_COMM_WORLD_RANK is in their environment)."""
        found = {}
        for pid in children(self.pid):
            rank = world_rank(pid)
            start = start_time(pid)
            if rank is not None and start is not None:
                found[rank] = pid
                self.seen[pid] = (start, rank)
        return found

    def wait_ranks(self, n, timeout=30.0):
        """Polls until n rank processes exist; returns {rank: pid}, or None if the launch ended first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.ranks()
            if len(found) >= n:
                return found
            if not self.running():
                return None
            time.sleep(0.005)
        raise AssertionError(f"{n} rank processes did not appear within {timeout} s: {' '.join(self.args)}")

    def processes(self):
        """(pid, starttime) of mpiexec and every rank process seen, that are still alive."""
        alive = []
        if self.running():
            alive.append((self.pid, start_time(self.pid)))
        for pid, (start, _) in self.seen.items():
            if is_alive(pid, start):
                alive.append((pid, start))
        return alive

    def wait_gone(self, grace=3.0):
        """Waits until mpiexec and every rank process seen are gone; SIGKILLs what is left after
        `grace` seconds. Returns (seconds waited, [description of each process that had to be
        SIGKILLed: "pid name state", with the seconds it took to go after the SIGKILL])."""
        t0 = time.monotonic()
        self.ranks()  # a last look, so ranks that appeared just now are known
        leftovers = []
        while True:
            self.proc.poll()
            left = self.processes()
            if not left:
                break
            if time.monotonic() - t0 > grace:
                for pid, start in left:
                    if is_alive(pid, start):
                        leftovers.append(describe_process(pid, self.seen.get(pid, (None, "mpiexec"))[1]))
                        os.kill(pid, signal.SIGKILL)
                t_kill = time.monotonic()
                deadline = t_kill + 30
                while self.processes() and time.monotonic() < deadline:
                    self.proc.poll()
                    time.sleep(0.01)
                leftovers = [f"{d}, gone {time.monotonic() - t_kill:.1f} s after SIGKILL" for d in leftovers]
                break
            time.sleep(0.01)
        self.proc.wait(timeout=30)
        return time.monotonic() - t0, leftovers
    def kill_all(self):
        """Last resort (a test failed mid-launch): SIGKILL mpiexec and the ranks it started."""
        self.ranks()
        for pid, start in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def progress(self):
        """(done, total) of every progress line rank 0 printed so far."""
        return [(int(d), int(n)) for d, n in PROGRESS_LINE.findall(self.stderr())]


# -- /proc ---------------------------------------------------------------------------------------------

def children(pid):
    """PIDs whose parent is `pid`."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat and stat[1] == pid:
            out.append(int(entry))
    return out


def _stat(pid):
    """(state, ppid, starttime) from /proc/PID/stat, or None if the process is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()  # after "pid (comm) "
    return fields[0], int(fields[1]), int(fields[19])


def start_time(pid):
    stat = _stat(pid)
    return stat[2] if stat else None


def is_alive(pid, start):
    """True while the process (pid, starttime) exists and is not a zombie."""
    stat = _stat(pid)
    return stat is not None and stat[2] == start and stat[0] not in ("Z", "X")


def describe_process(pid, what):
    """'PID WHAT state S wchan W' for a report."""
    stat = _stat(pid)
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        wchan = "?"
    rank = what if isinstance(what, str) else f"rank {what}"
    return f"pid {pid} ({rank}) state {stat[0] if stat else 'gone'} wchan {wchan or '-'}"


def world_rank(pid):
    """OMPI_COMM_WORLD_RANK of a rank process, None before it exec'd taskfarm (or if gone)."""
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    for item in env.split(b"\0"):
        if item.startswith(b"OMPI_COMM_WORLD_RANK="):
            return int(item.split(b"=", 1)[1])
    return None


# -- output files -------------------------------------------------------------------------------------

def open_h5(path, wait=10.0):
    """h5py.File(path, "r"), waiting up to `wait` s for a lock to go: after an MPI_Abort, mpiexec may
    return while a rank process is still exiting and holds the file's lock."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return h5py.File(path, "r")
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def read_output(path):
    """The parts of an output that must not depend on how the job was run (or interrupted)."""
    with open_h5(path) as f:
        return {
            "status": text(f.attrs["status"]),
            "n_tasks": int(f.attrs["n_tasks"]),
            "params": {k: f["params"][k][()] for k in f["params"]},
            "results": {k: f["results"][k][()] for k in f["results"]},
            "state": f["tasks/state"][()],
            "rank": f["tasks/rank"][()],
            "failures": f["failures"][()],
        }


def count_done(path):
    """Tasks whose state is done, or None when the file does not exist."""
    if not Path(path).exists():
        return None
    with open_h5(path) as f:
        return int(np.count_nonzero(f["tasks/state"][()] == DONE))


def status(path):
    with open_h5(path) as f:
        return text(f.attrs["status"])


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def same_bytes(a, b):
    """numpy arrays equal byte for byte (same dtype, same shape, same bytes)."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def inspect_status(taskfarm, path, cwd):
    """`taskfarm inspect PATH`: (Result, status word or None)."""
    r = common.run([taskfarm, "inspect", path], cwd=cwd)
    m = re.search(r"taskfarm output, status (\w+)", r.stdout)
    return r, (m.group(1) if m else None)


# -- assertions ---------------------------------------------------------------------------------------

ERROR_PREFIX = "taskfarm: error: "


def assert_one_error_line(test, r, *needles, source=None, exact=True):
    """Exit code 2 and exactly one 'taskfarm: error:' line that starts with `source` and contains every
    needle (as in test_bad_input.py). exact: stderr is nothing but that line (no launcher around the
    command). Returns the message after the prefix."""
    test.assertEqual(r.code, EXIT_BAD_INPUT, r.describe())
    lines = r.stderr.splitlines()
    ours = [x for x in lines if x.startswith(ERROR_PREFIX)]
    test.assertEqual(len(ours), 1, "expected exactly one 'taskfarm: error:' line\n" + r.describe())
    others = [x for x in lines if x.startswith("taskfarm") and x not in ours]
    test.assertEqual(others, [], "unexpected taskfarm output on stderr\n" + r.describe())
    if exact:
        test.assertEqual(len(lines), 1, "stderr must be exactly one line\n" + r.describe())
    message = ours[0][len(ERROR_PREFIX):]
    if source is not None:
        test.assertTrue(message.startswith(f"{source}:"), f"error does not start with {source!r}:\n" + r.describe())
    for needle in needles:
        test.assertIn(needle, message, r.describe())
    test.assertNotIn("AddressSanitizer", r.stderr, r.describe())
    return message
