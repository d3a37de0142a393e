#!/usr/bin/python3
"""Commands per second: N tasks of `echo {i}` on this machine, taskfarm's command app beside what
users would pick instead, all measured in the same run (median of --repeat runs each).

  taskfarm      mpiexec -n RANKS taskfarm run (slots per rank as given), every command's exit code,
                stdout, stderr, wall time and memory in the HDF5 output; end to end (mpiexec start
                to exit) and the farm's own wall time (the file's wall_seconds)
  xargs -P      seq N | xargs -P RANKS -n 1 echo > /dev/null (no per-task record at all)
  parallel      GNU parallel -j RANKS echo ::: 1..N > /dev/null, if installed
  python pool   multiprocessing.Pool(RANKS) of subprocess.run(capture_output=True)

    /usr/bin/python3 tests/bench/command_bench.py --taskfarm build/release/bin/taskfarm [--tasks 2000]
"""

import argparse
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (mpi_env)

ENV = bench.mpi_env()


def timed(args, cwd, **kw):
    t0 = time.monotonic()
    r = subprocess.run(args, cwd=cwd, env=ENV, stdin=subprocess.DEVNULL, **kw)
    seconds = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(map(str, args))}")
    return seconds


def run_one(i):
    subprocess.run(["echo", str(i)], capture_output=True, check=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--taskfarm", required=True)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--slots", default="1,2", help="slots per rank to measure, comma-separated")
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    taskfarm = str(Path(a.taskfarm).resolve())
    n = a.tasks
    tmp = Path(tempfile.mkdtemp(prefix="taskfarm-cmdbench-"))
    rows = []
    try:
        for slots in [int(s) for s in a.slots.split(",")]:
            (tmp / "job.toml").write_text(f'[job]\napp = "command"\nslots = {slots}\n[params]\ni = {{ range = [0, {n}] }}\n'
                                          f'[app]\ncommand = "echo {{i}}"\nkeep_output = 256\n')
            ends, farms = [], []
            for _ in range(a.repeat):
                out = tmp / "out.h5"
                if out.exists():
                    out.unlink()
                ends.append(timed(["mpiexec", "-n", str(a.ranks), taskfarm, "run", "job.toml", "-q", "-o", "out.h5"],
                                  tmp, capture_output=True))
                with h5py.File(out, "r") as f:
                    farms.append(float(f.attrs["wall_seconds"]))
                    assert (f["tasks/state"][()] == 1).all()
                    assert f["results/stdout"].asstr()[n - 1] == f"{n - 1}\n"
            rows.append((f"taskfarm {a.ranks} ranks x {slots} slot(s), end to end", statistics.median(ends)))
            rows.append((f"taskfarm {a.ranks} ranks x {slots} slot(s), farm wall time", statistics.median(farms)))
        seq = "\n".join(str(i) for i in range(n)) + "\n"
        xs = []
        for _ in range(a.repeat):
            t0 = time.monotonic()
            subprocess.run(["xargs", "-P", str(a.ranks), "-n", "1", "echo"], input=seq.encode(),
                           stdout=subprocess.DEVNULL, check=True)
            xs.append(time.monotonic() - t0)
        rows.append((f"xargs -P {a.ranks} -n 1 echo (no record)", statistics.median(xs)))
        if shutil.which("parallel"):
            ps = []
            for _ in range(min(a.repeat, 3)):
                t0 = time.monotonic()
                subprocess.run(["parallel", "-j", str(a.ranks), "echo", ":::", *map(str, range(n))],
                               stdout=subprocess.DEVNULL, check=True)
                ps.append(time.monotonic() - t0)
            rows.append((f"GNU parallel -j {a.ranks}", statistics.median(ps)))
        else:
            rows.append(("GNU parallel: not installed", None))
        pools = []
        for _ in range(a.repeat):
            t0 = time.monotonic()
            with multiprocessing.Pool(a.ranks) as pool:
                pool.map(run_one, range(n), chunksize=16)
            pools.append(time.monotonic() - t0)
        rows.append((f"python multiprocessing.Pool({a.ranks}) + subprocess.run", statistics.median(pools)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\n{n} tasks of `echo {{i}}`, {os.cpu_count()} cores, median of {a.repeat}")
    print(f"{'':62} {'seconds':>8} {'commands/s':>11}")
    for name, s in rows:
        if s is None:
            print(f"{name:62} {'-':>8} {'-':>11}")
        else:
            print(f"{name:62} {s:8.3f} {n / s:11.0f}")


if __name__ == "__main__":
    main()
