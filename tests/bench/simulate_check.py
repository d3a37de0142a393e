#!/usr/bin/python3
"""Validates `taskfarm simulate` against real runs on this machine (prints a table; never fails on timing).

For each policy and rank count: the makespan `taskfarm simulate JOB --ranks P` predicts and the one
a real `mpirun -n P taskfarm run JOB` measures (median of --repeat), and their ratio. Tasks burn CPU
time (clock = "cpu"); P ranks on C < P cores are modelled as processor sharing, every rank running
at C/P speed (the simulated job gets slow_ranks = all, slowdown = P/C).

    /usr/bin/python3 tests/bench/simulate_check.py --taskfarm build/release/bin/taskfarm
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--taskfarm", required=True)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--policies", default="static,ss,gss,fac2,af,auto")
    p.add_argument("--ranks", default="2,3,4")
    args = p.parse_args()
    app = 'distribution = "lognormal"\nspread = 1.0\nmean_ms = 1.0\nclock = "cpu"\n'
    cores = os.cpu_count() or 1
    print(f"simulate vs measured: {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs; {args.tasks} lognormal "
          f"tasks (sigma 1, mean 1 ms, CPU-time tasks); measured = median of {args.repeat}\n")
    print("| policy | ranks | predicted s | measured s | measured / predicted |")
    print("|---|---:|---:|---:|---:|")
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="taskfarm_simcheck_") as tmp:
        for policy in args.policies.split(","):
            for ranks in [int(r) for r in args.ranks.split(",")]:
                text = bench.job_text(policy, args.tasks, app)
                share = max(1.0, ranks / cores)
                model = text + f"slow_ranks = {list(range(ranks))}\nslowdown = {share}\n"
                predicted = bench.simulated_makespan(args.taskfarm, tmp, f"{policy}_model", model, ranks)
                m = bench.run_case(args.taskfarm, tmp, policy, text, ranks, args.repeat)
                if m is None:
                    print(f"| {policy} | {ranks} | {predicted:.3f} | run failed | |")
                    continue
                ratio = m["makespan"] / predicted
                worst = max(worst, abs(ratio - 1))
                print(f"| {policy} | {ranks} | {predicted:.3f} | {m['makespan']:.3f} | {ratio:.3f} |", flush=True)
    print(f"\nlargest deviation: {100 * worst:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
