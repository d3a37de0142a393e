#!/usr/bin/python3
"""taskfarm benchmark: prints figures, never fails on a timing.

Workloads (issue 2): tiny tasks (synthetic, cost 0, results written) and an irregular workload
(lognormal sigma = 1, mean 1 ms), each on 2 ranks and on 3 oversubscribed ranks of this machine.

Figures per case (median of --repeat runs):
  tasks/s      tasks / makespan (makespan: the farm's wall time, from the file's wall_seconds)
  run s        whole `mpirun` wall time, MPI start-up and file creation included
  eff          efficiency = sum of nominal task costs / (cores x makespan), cores = min(ranks, CPUs).
               Irregular tasks burn CPU time (clock = "cpu"), so time the master or writer threads
               steal from a compute thread shows up as lost efficiency instead of being hidden.
  master CPU   CPU seconds of rank 0's dispatch thread, and as a share of the makespan
  RSS r0       peak resident memory of rank 0 (MiB)

    /usr/bin/python3 tests/bench/bench.py --taskfarm build/release/bin/taskfarm [--quick] [--repeat 3]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import h5py


def job_text(policy, n, app, schedule_extra=""):
    return (f'[job]\napp = "synthetic"\n[schedule]\npolicy = "{policy}"\n{schedule_extra}'
            f"[params]\ntask = {{ range = [0, {n}] }}\n[app]\n{app}")


def simulated_makespan(taskfarm, workdir, name, text, ranks, extra=()):
    """The makespan `taskfarm simulate` predicts for job `text` on `ranks` ranks, in seconds."""
    job = os.path.join(workdir, name + ".toml")
    with open(job, "w") as f:
        f.write(text)
    out = subprocess.run([taskfarm, "simulate", job, "--ranks", str(ranks), *extra], capture_output=True, text=True,
                         check=True).stdout
    return float(re.search(r"makespan\s+([0-9.eE+-]+) s", out).group(1))


def mpi_env():
    """The environment for mpirun here: root allowed, more ranks than cores allowed."""
    return dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                OMPI_MCA_rmaps_base_oversubscribe="1")


def run_case(taskfarm, workdir, name, text, ranks, repeat, run_args=()):
    job = os.path.join(workdir, name + ".toml")
    out = os.path.join(workdir, name + ".h5")
    with open(job, "w") as f:
        f.write(text)
    env = mpi_env()
    samples = []
    for _ in range(repeat):
        t = time.monotonic()
        r = subprocess.run(["mpirun", "-n", str(ranks), taskfarm, "run", job, "-o", out, "--force",
                            "--progress-seconds", "0", *run_args], env=env, capture_output=True, text=True)
        run_s = time.monotonic() - t
        if r.returncode != 0:
            print(f"{name}: exit {r.returncode}\n{r.stderr}", file=sys.stderr)
            return None
        with h5py.File(out, "r") as f:
            a = f.attrs
            makespan = float(a["wall_seconds"])
            n = int(a["n_tasks"])
            nominal = float(f["results/seconds"][:].sum())
            ranks_table = f["ranks"][:]
            samples.append({
                "makespan": makespan, "run_s": run_s, "tasks_s": n / makespan, "nominal": nominal,
                "master_cpu": float(a["master_cpu_seconds"]), "chunks": int(f["chunks"].shape[0]),
                "rss0": float(ranks_table[0]["peak_rss_mib"]), "done": int(a["n_done"]), "n": n})
        os.remove(out)
    med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    med["all_done"] = all(s["done"] == s["n"] for s in samples)
    return med


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--taskfarm", required=True)
    p.add_argument("--quick", action="store_true", help="small sizes, one repeat (CI smoke)")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cases", default="tiny,irregular,master")
    p.add_argument("--run-args", default="", help="extra `taskfarm run` options, e.g. \"--no-fsync\"")
    args = p.parse_args()
    cpus = os.cpu_count() or 1
    repeat = 1 if args.quick else args.repeat
    n_tiny = 100_000 if args.quick else 10_000_000
    n_irr = 400 if args.quick else 4000
    tiny_app = 'distribution = "constant"\nmean_ms = 0.0\n'
    irr_app = 'distribution = "lognormal"\nmean_ms = 1.0\nspread = 1.0\nclock = "cpu"\n'

    cases = []
    wanted = args.cases.split(",")
    if "tiny" in wanted:
        for policy in ("ss", "gss", "fac2", "fac", "auto"):
            for ranks in (2, 3):
                cases.append((f"tiny {policy}", job_text(policy, n_tiny, tiny_app), ranks))
    if "irregular" in wanted:
        for policy in ("static", "ss", "gss", "fac2", "fac", "auto"):
            for ranks in (2, 3):
                cases.append((f"irregular {policy}", job_text(policy, n_irr, irr_app), ranks))
    if "master" in wanted:  # the measurement behind the default master_computes = true
        for computes in ("true", "false"):
            for ranks in (2, 3):
                cases.append((f"irregular fac2 master_computes={computes}",
                              job_text("fac2", n_irr, irr_app, f"master_computes = {computes}\n"), ranks))
                cases.append((f"tiny gss master_computes={computes}",
                              job_text("gss", n_tiny, tiny_app, f"master_computes = {computes}\n"), ranks))

    print(f"taskfarm benchmark: {time.strftime('%Y-%m-%d')}, {cpus} CPUs, {os.uname().nodename}, "
          f"median of {repeat} run(s); tiny N = {n_tiny}, irregular N = {n_irr}")
    print("| case | ranks | tasks/s | makespan s | run s | eff | master CPU s (%) | chunks | RSS r0 MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    broken = 0
    with tempfile.TemporaryDirectory(prefix="taskfarm_bench_") as tmp:
        for name, text, ranks in cases:
            m = run_case(args.taskfarm, tmp, name.replace(" ", "_").replace("=", "_"), text, ranks, repeat,
                         args.run_args.split())
            if m is None or not m["all_done"]:
                print(f"| {name} | {ranks} | run failed | | | | | | |")
                broken += 1
                continue
            cores = min(ranks, cpus)
            eff = m["nominal"] / (cores * m["makespan"]) if m["nominal"] > 0 else float("nan")
            eff_s = "-" if m["nominal"] == 0 else f"{eff:.3f}"
            over = " (oversubscribed)" if ranks > cpus else ""
            print(f"| {name} | {ranks}{over} | {m['tasks_s']:,.0f} | {m['makespan']:.3f} | {m['run_s']:.2f} | {eff_s} | "
                  f"{m['master_cpu']:.3f} ({100 * m['master_cpu'] / m['makespan']:.1f}%) | {m['chunks']:.0f} | "
                  f"{m['rss0']:.0f} |", flush=True)
    # A run that fails is a defect; a slow run is only a figure.
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
