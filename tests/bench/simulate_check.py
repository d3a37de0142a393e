#!/usr/bin/python3
"""Validates `taskfarm simulate` against real runs on this machine (prints a table; never fails on timing).

For each policy and rank count: the makespan `taskfarm simulate JOB --ranks P` predicts and the one
a real `mpirun -n P taskfarm run JOB` measures (median of --repeat), and their ratio. Tasks burn CPU
time (clock = "cpu"); P ranks on C < P cores are modelled as processor sharing, every rank running
at C/P speed (the simulated job gets slow_ranks = all, slowdown = P/C) with --fixed-speed, else as
processor sharing (`simulate --cores C`: B ranks computing at once run at min(1, C/B)). With --calibrate (the
default) the simulated master's time per message is measured, not assumed: one real fac2 run per
rank count first, whose output `taskfarm simulate --service-from` reads.

    /usr/bin/python3 tests/bench/simulate_check.py --taskfarm build/release/bin/taskfarm
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


_calibrations = {}


def calibration(taskfarm, workdir, ranks, text):
    """The output of one real run on `ranks` ranks (made once), whose measured master service time
    `taskfarm simulate --service-from` uses."""
    if ranks not in _calibrations:
        job = os.path.join(workdir, f"calibrate_{ranks}.toml")
        out = os.path.join(workdir, f"calibrate_{ranks}.h5")
        with open(job, "w") as f:
            f.write(text)
        subprocess.run(["mpirun", "-n", str(ranks), taskfarm, "run", job, "-o", out, "--force", "-q"],
                       env=bench.mpi_env(), check=True, capture_output=True)
        _calibrations[ranks] = out
    return _calibrations[ranks]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--taskfarm", required=True)
    p.add_argument("--tasks", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--policies", default="static,ss,gss,fac2,af,auto")
    p.add_argument("--ranks", default="2,3,4")
    p.add_argument("--fixed-speed", dest="sharing", action="store_false",
                   help="model P ranks on C < P cores as all running at C/P speed (instead of --cores C sharing)")
    p.add_argument("--no-calibrate", dest="calibrate", action="store_false",
                   help="simulate with the default 5 us per message instead of a measured one")
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
                extra = ["--service-from", calibration(args.taskfarm, tmp, ranks, bench.job_text("fac2", args.tasks, app))] \
                    if args.calibrate else []
                if args.sharing:  # ranks share the cores while they compute: fewer computing, faster each
                    model = text
                    extra += ["--cores", str(cores)]
                else:  # every rank at C/P speed throughout
                    model = text + f"slow_ranks = {list(range(ranks))}\nslowdown = {share}\n"
                predicted = bench.simulated_makespan(args.taskfarm, tmp, f"{policy}_model", model, ranks, extra)
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
