#!/usr/bin/env python3
"""Scheduling efficiency on irregular wall-clock work (issue 12's three workloads).

For each workload and policy: `taskfarm run` on R ranks (rank 0 computes too) with the synthetic app
spinning for each task's cost in wall-clock time, the median of --repeat runs over seeds 7, 8, ...
Efficiency = sum of the measured task seconds / (ranks x the farm's own wall time), read back from
the output file. Prints a Markdown table; never fails on a figure.

  lognormal-1   4000 tasks, mean 1 ms, lognormal sigma = 1
  increasing    4000 tasks, mean 1 ms, cost rising linearly with the index
  lognormal-2   2000 tasks, mean 1 ms, lognormal sigma = 2 (half under 0.15 ms, rare tasks of 50-200 ms)

With index-order dispatch no policy can beat the bound printed beside lognormal-2: a task that
starts late cannot end before (work before it) / R + its own cost.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

WORKLOADS = {
    "lognormal-1": (4000, 'distribution = "lognormal"\nspread = 1.0'),
    "increasing": (4000, 'distribution = "increasing"'),
    "lognormal-2": (2000, 'distribution = "lognormal"\nspread = 2.0'),
}


def run(taskfarm, ranks, policy, workload, seed, tmp):
    n, app = WORKLOADS[workload]
    schedule = "" if policy == "default" else f'[schedule]\npolicy = "{policy}"\n'
    job = os.path.join(tmp, "job.toml")
    out = os.path.join(tmp, "out.h5")
    with open(job, "w") as f:
        f.write(f'[job]\napp = "synthetic"\n{schedule}[params]\ntask = {{ range = [0, {n}] }}\n'
                f'[app]\n{app}\nmean_ms = 1.0\nseed = {seed}\nclock = "wall"\n')
    if os.path.exists(out):
        os.unlink(out)
    subprocess.run(["mpiexec", "-n", str(ranks), taskfarm, "run", job, "-o", out, "-q", "--no-fsync"],
                   env=bench.mpi_env(), check=True, capture_output=True)
    with h5py.File(out) as f:
        seconds = f["tasks/seconds"][:]
        wall = float(f.attrs["wall_seconds"])
    # The best any index-order schedule can do: the task t starts after the work before it is spread.
    prefix = np.concatenate(([0.0], np.cumsum(seconds)[:-1]))
    bound = seconds.sum() / (ranks * max(seconds.sum() / ranks, float((prefix / ranks + seconds).max())))
    return seconds.sum() / (ranks * wall), bound


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--taskfarm", required=True)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--policies", default="default,auto,fac2,af,ss")
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    args = ap.parse_args()
    policies = args.policies.split(",")
    print(f"efficiency, {args.ranks} ranks, median of {args.repeat} (seeds 7..{6 + args.repeat})\n")
    print("| workload | " + " | ".join(policies) + " | index-order bound |")
    print("|---|" + "---:|" * (len(policies) + 1))
    with tempfile.TemporaryDirectory() as tmp:
        for w in args.workloads.split(","):
            cells, bounds = [], []
            for p in policies:
                effs = []
                for r in range(args.repeat):
                    e, b = run(args.taskfarm, args.ranks, p, w, 7 + r, tmp)
                    effs.append(e)
                    bounds.append(b)
                cells.append(f"{statistics.median(effs):.3f} ({min(effs):.3f}-{max(effs):.3f})")
            print(f"| {w} | " + " | ".join(cells) + f" | {statistics.median(bounds):.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
