#!/usr/bin/python3
"""One rank 2x slower: adaptive policies against static and gss, measured (prints a markdown table).

Workload: lognormal task costs (sigma = 1, mean 1 ms), synthetic `slow_ranks = [S]`, `slowdown = 2`.
Tasks take wall-clock time (clock = "wall"), so every rank behaves as a processor of its own even
when there are more ranks than cores: 4 ranks are 4 processors, one of them half as fast. (With
CPU-time tasks on an oversubscribed node the OS time-slicing, not the policy, decides who gets the
cores, and a "slow rank" merely takes a larger share of them.) Which rank is slow matters: gss's
first chunk is R/P, and the rank that gets it (rank 0's compute thread asks first) decides whether
a big early chunk lands on the slow processor. Every slow position is shown.

Cells: makespan in seconds (median of --repeat runs); the last columns compare the best adaptive
policy with static and gss: 1 - adaptive / other, the share of the makespan it saves. Also the
`taskfarm simulate` prediction for the same job, to show the effect is the policy's, not noise.

    /usr/bin/python3 tests/bench/heterogeneous.py --taskfarm build/release/bin/taskfarm [--repeat 3]
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (run_case, job_text)

BASELINES = ["static", "gss"]
ADAPTIVE = ["awf-b", "awf-c", "af", "auto"]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--taskfarm", required=True)
    p.add_argument("--tasks", type=int, default=4000)
    p.add_argument("--mean-ms", type=float, default=1.0)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--ranks", default="2,4")
    args = p.parse_args()
    policies = BASELINES + ADAPTIVE
    print(f"taskfarm heterogeneous run: {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
          f"{os.uname().nodename}; {args.tasks} lognormal (s=1) tasks of mean {args.mean_ms} ms, wall-clock; "
          f"one rank 2x slower; median of {args.repeat}\n")
    print("| ranks | slow rank | " + " | ".join(policies) +
          " | best adaptive vs static | vs gss | simulate: gss / best adaptive |")
    print("|---:|---:|" + "---:|" * len(policies) + "---:|---:|---:|")
    broken = 0
    with tempfile.TemporaryDirectory(prefix="taskfarm_hetero_") as tmp:
        for ranks in [int(r) for r in args.ranks.split(",")]:
            for slow in sorted({0, 1, ranks - 1}):
                app = (f'distribution = "lognormal"\nspread = 1.0\nmean_ms = {args.mean_ms}\nseed = 3\n'
                       f'clock = "wall"\nslow_ranks = [{slow}]\nslowdown = 2.0\n')
                spans = {}
                sims = {}
                for policy in policies:
                    text = bench.job_text(policy, args.tasks, app)
                    m = bench.run_case(args.taskfarm, tmp, f"h_{policy}", text, ranks, args.repeat)
                    if m is None or not m["all_done"]:
                        broken += 1
                        continue
                    spans[policy] = m["makespan"]
                    sims[policy] = bench.simulated_makespan(args.taskfarm, tmp, "predict", text, ranks)
                cells = [f"{spans[p]:.3f}" if p in spans else "failed" for p in policies]
                best = min((spans[p] for p in ADAPTIVE if p in spans), default=float("nan"))
                best_sim = min((sims[p] for p in ADAPTIVE if p in sims), default=float("nan"))
                save = [f"{100 * (1 - best / spans[b]):.0f} %" if b in spans else "-" for b in BASELINES]
                sim = f"{sims['gss']:.3f} / {best_sim:.3f}" if "gss" in sims else "-"
                print(f"| {ranks} | {slow} | " + " | ".join(cells) + f" | {save[0]} | {save[1]} | {sim} |",
                      flush=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
