#!/usr/bin/python3
"""taskfarm memory benchmark: peak RSS of every rank (from the output's /ranks table) as N grows.
Prints figures, never fails on them. Issue 12's goal: at 10^8 tasks at most 1.2x the figure at 10^6.

    /usr/bin/python3 tests/bench/memory.py --taskfarm build/release/bin/taskfarm [--sizes 6,7,8] [--ranks 2]

Tasks of cost 0 (synthetic, constant), results written, `--no-fsync` (the fsync adds time, not memory).
"""

import argparse
import os
import subprocess
import sys
import tempfile

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (mpi_env)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--taskfarm", required=True)
    p.add_argument("--sizes", default="6,7,8", help="powers of ten")
    p.add_argument("--ranks", type=int, default=2)
    p.add_argument("--policy", default="fac2")
    args = p.parse_args()
    env = bench.mpi_env()
    rows = []
    with tempfile.TemporaryDirectory(prefix="taskfarm-memory-") as tmp:
        for power in [int(x) for x in args.sizes.split(",")]:
            n = 10 ** power
            job = os.path.join(tmp, "job.toml")
            with open(job, "w") as f:
                f.write(f'[job]\napp = "synthetic"\n[schedule]\npolicy = "{args.policy}"\n'
                        f'[params]\ntask = {{ range = [0, {n}] }}\n[app]\nmean_ms = 0.0\n')
            out = os.path.join(tmp, f"out{power}.h5")
            r = subprocess.run(["mpirun", "-n", str(args.ranks), args.taskfarm, "run", job, "-o", out, "--no-fsync",
                                "--quiet"], env=env, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit(f"10^{power}: exit {r.returncode}\n{r.stderr}")
            with h5py.File(out, "r") as f:
                ranks = f["ranks"][:]
                wall = float(f.attrs["wall_seconds"])
            rows.append((power, wall, [float(x) for x in ranks["peak_rss_mib"]]))
            os.unlink(out)
    base = rows[0][2]
    print(f"| tasks | wall s | " + " | ".join(f"rank {r} peak RSS MiB (x 10^{rows[0][0]})" for r in range(args.ranks))
          + " |")
    print("|---:|---:|" + "---:|" * args.ranks)
    for power, wall, rss in rows:
        cells = " | ".join(f"{v:.0f} ({v / b:.2f}x)" for v, b in zip(rss, base))
        print(f"| 10^{power} | {wall:.2f} | {cells} |")


if __name__ == "__main__":
    main()
