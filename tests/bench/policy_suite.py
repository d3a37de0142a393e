#!/usr/bin/python3
"""Every scheduling policy on the irregular-workload set, measured for real (prints a markdown table).

Policies x cost distributions {constant, uniform, exponential, lognormal s=1, lognormal s=2,
bimodal, increasing, decreasing} x {2, 4} ranks, plus a heterogeneous run (rank 1 spins 2x longer,
synthetic `slow_ranks`). Tasks burn CPU time (clock = "cpu") so that 4 ranks on 2 cores are
meaningful. Figures: makespan (s), efficiency = sum of nominal costs / (cores x makespan), chunks,
master CPU seconds. Median of --repeat runs. Never fails on a timing.

    /usr/bin/python3 tests/bench/policy_suite.py --taskfarm build/release/bin/taskfarm [--tasks 2000]
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (run_case, job_text)

POLICIES = ["static", "ss", "mfsc", "gss", "tss", "fac2", "fac", "wf", "awf", "awf-b", "awf-c", "awf-d", "awf-e", "af",
            "auto"]
DISTRIBUTIONS = {
    "constant": 'distribution = "constant"',
    "uniform": 'distribution = "uniform"',
    "exponential": 'distribution = "exponential"',
    "lognormal s=1": 'distribution = "lognormal"\nspread = 1.0',
    "lognormal s=2": 'distribution = "lognormal"\nspread = 2.0',
    "bimodal": 'distribution = "bimodal"',
    "increasing": 'distribution = "increasing"',
    "decreasing": 'distribution = "decreasing"',
}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--taskfarm", required=True)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--mean-ms", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--policies", default=",".join(POLICIES))
    p.add_argument("--ranks", default="2,4")
    args = p.parse_args()
    cpus = os.cpu_count() or 1
    policies = args.policies.split(",")
    rank_counts = [int(r) for r in args.ranks.split(",")]
    print(f"taskfarm policy suite: {time.strftime('%Y-%m-%d')}, {cpus} CPUs, {os.uname().nodename}; "
          f"{args.tasks} tasks, mean {args.mean_ms} ms, CPU-time tasks; median of {args.repeat}; "
          f"cells: efficiency (makespan s, chunks)\n")
    workloads = [(name, f"{app}\nmean_ms = {args.mean_ms}\nclock = \"cpu\"\n") for name, app in DISTRIBUTIONS.items()]
    workloads.append(("heterogeneous (rank 1 2x slower), lognormal s=1",
                      f'distribution = "lognormal"\nspread = 1.0\nmean_ms = {args.mean_ms}\nclock = "cpu"\n'
                      f"slow_ranks = [1]\nslowdown = 2.0\n"))
    broken = 0
    import tempfile
    with tempfile.TemporaryDirectory(prefix="taskfarm_suite_") as tmp:
        for ranks in rank_counts:
            cores = min(ranks, cpus)
            print(f"### {ranks} ranks{' (oversubscribed)' if ranks > cpus else ''}\n")
            print("| workload | " + " | ".join(policies) + " |")
            print("|---|" + "---:|" * len(policies))
            for wname, app in workloads:
                cells = []
                best = None
                results = {}
                for policy in policies:
                    text = bench.job_text(policy, args.tasks, app)
                    m = bench.run_case(args.taskfarm, tmp, f"s_{policy}", text, ranks, args.repeat)
                    if m is None or not m["all_done"]:
                        broken += 1
                        results[policy] = None
                        continue
                    # Work of the slowed rank counts at its nominal cost: the machine's capacity is the cores.
                    results[policy] = m
                    best = m["makespan"] if best is None else min(best, m["makespan"])
                for policy in policies:
                    m = results[policy]
                    if m is None:
                        cells.append("failed")
                        continue
                    eff = m["nominal"] / (cores * m["makespan"])
                    mark = "**" if m["makespan"] <= best * 1.005 else ""
                    cells.append(f"{mark}{eff:.3f}{mark} ({m['makespan']:.2f}, {m['chunks']:.0f})")
                print(f"| {wname} | " + " | ".join(cells) + " |", flush=True)
            print()
    print("Bold: within 0.5 % of the best makespan in the row.")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
