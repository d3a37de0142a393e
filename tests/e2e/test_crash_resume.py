#!/usr/bin/python3
"""End-to-end: a job SIGKILLed at random instants, again and again, and resumed each time, ends with
exactly the file an uninterrupted run writes ("never lose work", issue 4).

A synthetic job (uniform costs, mean 1 ms) is first run uninterrupted: the reference. The same job is
then started fresh on 3 ranks and SIGKILLed 0.3-1.2 s after each launch (seeded RNG; the seed is
printed, TASKFARM_CRASH_SEED replays it), the target cycling through rank 0, a worker rank (found as
children of mpiexec, told apart by OMPI_COMM_WORLD_RANK) and mpiexec itself. After every kill the test
waits until every process of that launch is gone (SIGKILLing what is left after 3 s), then runs
`taskfarm resume out.h5` (or `taskfarm run` again while out.h5 does not exist: the output is created
atomically), all with --checkpoint-seconds 0.2, until `taskfarm inspect` says complete. The final file
must match the reference byte for byte in /params/task, /results/seconds and /tasks/state.

The job is WORK_SECONDS of work at the throughput a short calibration run measures (TASKFARM_CRASH_TASKS
overrides the task count), so it needs more than MIN_KILLS kills to finish; every launch is killed
until MAX_KILLS (a bound on the test's time), the launches after that run to their end. Should the job
finish with fewer than MIN_KILLS kills (the machine got faster than calibrated), a fresh output is
crashed the same way until the total is reached; every output must end equal to the reference.

Printed, not asserted: the kill/resume cycles, their targets, and the work each crash cost:
lost = (last "D/M tasks" progress line of that launch, --progress-seconds 0.1) - (tasks that launch
made done in the file, read with h5py once its processes are gone).

    TASKFARM=build/dev/bin/taskfarm /usr/bin/python3 tests/e2e/test_crash_resume.py
"""

import os
import random
import signal
import statistics
import sys
import time

import h5py
import numpy as np

import farmproc  # noqa: F401  (first: makes TASKFARM default to the dev build)
import common
from farmproc import DONE, EXIT_OK

RANKS = 3
MEAN_MS = 1.0
KILL_WINDOW = (0.3, 1.2)  # seconds after the launch
MIN_KILLS = 20
WORK_SECONDS = 15.0  # the job: this many seconds of work at the calibrated throughput
MAX_KILLS = 26  # then the launches run to their end (keeps the test within ~2 minutes)
KILL_BUDGET_SECONDS = 75.0  # the same guard, in time
CALIBRATION_TASKS = 1500
TASKS_MIN, TASKS_MAX = 3000, 40000
TARGETS = ("rank 0", "worker", "mpiexec")
LAUNCH_OPTIONS = ["--checkpoint-seconds", "0.2", "--progress-seconds", "0.1"]


class CrashResume(common.TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.taskfarm = common.taskfarm()

    def calibrate(self):
        """(tasks/s, start-up seconds) of this build on this machine, from a short run."""
        self.write("calibrate.toml", farmproc.synthetic_job(CALIBRATION_TASKS, MEAN_MS, output="calibrate.h5"))
        r = common.mpirun(RANKS, [self.taskfarm, "run", "calibrate.toml", "--progress-seconds", "0"], cwd=self.tmp)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        with h5py.File(self.tmp / "calibrate.h5", "r") as f:
            wall = float(f.attrs["wall_seconds"])
        return CALIBRATION_TASKS / wall, max(0.0, r.seconds - wall)

    def test_crash_loop(self):
        seed = int(os.environ.get("TASKFARM_CRASH_SEED") or random.SystemRandom().randrange(2 ** 32))
        print(f"\ncrash loop: seed {seed} (replay with TASKFARM_CRASH_SEED={seed})", flush=True)
        rng = random.Random(seed)
        t_start = time.monotonic()

        rate, startup = self.calibrate()
        n_tasks = int(os.environ.get("TASKFARM_CRASH_TASKS") or
                      min(TASKS_MAX, max(TASKS_MIN, round(WORK_SECONDS * rate, -2))))
        print(f"calibration: {rate:.0f} tasks/s, start-up {startup:.2f} s; the job has {n_tasks} tasks", flush=True)

        self.write("job.toml", farmproc.synthetic_job(n_tasks, MEAN_MS))
        t_ref = time.monotonic()
        r = common.mpirun(RANKS, [self.taskfarm, "run", "job.toml", "-o", "reference.h5", "--progress-seconds", "0"],
                          cwd=self.tmp)
        self.assertEqual(r.code, EXIT_OK, r.describe())
        reference = farmproc.read_output(self.tmp / "reference.h5")
        self.assertEqual(reference["status"], "complete")
        print(f"reference run: {time.monotonic() - t_ref:.1f} s", flush=True)

        cycles = []  # one dict per launch
        kills = 0
        t_loop = time.monotonic()
        rounds = 0
        # Normally one round: the task count is chosen so that the job needs more than MIN_KILLS kills.
        # Should a round finish with fewer (the machine got faster), another fresh output is crashed
        # until the total is reached: every round must end equal to the reference.
        try:
            while kills < MIN_KILLS and rounds < 3:
                rounds += 1
                out = self.tmp / ("out.h5" if rounds == 1 else f"out{rounds}.h5")
                kills = self.crash_round(out, rng, cycles, kills, t_loop, first_round=rounds == 1)
                self.check_against_reference(out, reference)
        finally:  # the figures, also when an assertion failed on the way
            self.report(cycles, sum(1 for c in cycles if c["target"]), time.monotonic() - t_loop, n_tasks, rounds)
        self.assertGreaterEqual(kills, MIN_KILLS, f"only {kills} kills in {rounds} rounds")
        print(f"total {time.monotonic() - t_start:.1f} s", flush=True)

    def crash_round(self, out, rng, cycles, kills, t_loop, first_round):
        """Starts the job fresh into `out` and kills/resumes it until it is complete. Appends one dict
        per launch to `cycles`; returns the total number of kills."""
        status = None
        while status != "complete":
            self.assertLess(len(cycles), 200, "the crash loop does not converge")
            i = len(cycles)
            before = farmproc.count_done(out)
            if out.exists():
                args = [self.taskfarm, "resume", out.name, *LAUNCH_OPTIONS]
            else:  # killed before the output was renamed into place: start again
                args = [self.taskfarm, "run", "job.toml", "-o", out.name, *LAUNCH_OPTIONS]
            if first_round:
                kill_more = kills < MAX_KILLS and time.monotonic() - t_loop < KILL_BUDGET_SECONDS
            else:  # a further round only makes up the kills the first one lacked
                kill_more = kills < MIN_KILLS
            target = TARGETS[kills % len(TARGETS)]
            delay = rng.uniform(*KILL_WINDOW)
            launch = farmproc.Launch(RANKS, args, self.tmp, tag=f"launch{i:03d}")
            self.addCleanup(launch.kill_all)
            cycle = {"i": i, "out": out.name, "command": args[1], "before": before or 0, "target": None, "at": None}
            if kill_more:
                killed_at = self.kill_at(launch, target, delay, rng)
                if killed_at is not None:
                    kills += 1
                    cycle["target"], cycle["at"] = target, killed_at
            if cycle["target"] is None:  # not killed: it runs to its end and must finish the job
                launch.wait()
                self.assertEqual(launch.code, EXIT_OK, launch.describe())
            cycle["gone"], cycle["leftovers"] = launch.wait_gone(grace=3.0)
            cycle["code"] = launch.code

            if out.exists():
                r, status = farmproc.inspect_status(self.taskfarm, out.name, self.tmp)
                self.assertEqual(r.code, EXIT_OK, f"after launch {i} ({cycle['command']}, killed: "
                                 f"{cycle['target']} at {cycle['at']}), inspect fails:\n" + r.describe()
                                 + "\n" + launch.describe())
                self.assertIn(status, ("running", "incomplete", "complete"), r.describe())
            after = farmproc.count_done(out) or 0
            progress = launch.progress()
            cycle["gained"] = after - cycle["before"]
            cycle["last_d"] = progress[-1][0] if progress else 0
            cycle["lost"] = cycle["last_d"] - cycle["gained"]
            cycle["status"] = status if out.exists() else "(no output yet)"
            cycles.append(cycle)
            self.assertGreaterEqual(cycle["gained"], 0, f"launch {i} lost done tasks:\n{launch.describe()}")
        return kills

    def check_against_reference(self, out, reference):
        final = farmproc.read_output(out)
        self.assertEqual(final["status"], "complete")
        self.assertTrue(farmproc.same_bytes(final["params"]["task"], reference["params"]["task"]), "/params/task")
        self.assertTrue(farmproc.same_bytes(final["results"]["seconds"], reference["results"]["seconds"]),
                        f"{out.name}: /results/seconds differs from the uninterrupted run")
        self.assertTrue(farmproc.same_bytes(final["state"], reference["state"]), "/tasks/state")
        self.assertTrue(np.all(final["state"] == DONE))
        self.assertTrue(np.all(final["rank"] >= 0), "/tasks/rank has tasks computed by no rank")
        self.assertTrue(np.all(final["rank"] < RANKS))

    def kill_at(self, launch, target, delay, rng):
        """SIGKILLs `target` of `launch` `delay` s after its start. Returns the instant (s after the
        start) or None when the launch ended first."""
        while launch.elapsed() < delay:
            if not launch.running():
                return None
            launch.ranks()  # remember the rank processes: after mpiexec dies they must be waited for
            time.sleep(0.005)
        if target == "mpiexec":
            launch.ranks()
            pid = launch.pid
        else:
            ranks = launch.wait_ranks(RANKS)
            if ranks is None:
                return None
            pid = ranks[0] if target == "rank 0" else ranks[rng.choice(range(1, RANKS))]
        if not launch.running():
            return None
        at = launch.elapsed()
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return at

    def report(self, cycles, kills, loop_seconds, n_tasks, rounds):
        print(f"{'launch':>6} {'output':>8} {'cmd':>6} {'killed':>8} {'at s':>5} {'exit':>5} {'gone s':>6} {'left':>4} "
              f"{'before':>6} {'gained':>6} {'last D':>6} {'lost':>5}  status")
        for c in cycles:
            at = f"{c['at']:.2f}" if c["at"] is not None else "-"
            print(f"{c['i']:>6} {c['out']:>8} {c['command']:>6} {c['target'] or '-':>8} {at:>5} {c['code']:>5} "
                  f"{c['gone']:>6.2f} {len(c['leftovers']):>4} {c['before']:>6} {c['gained']:>6} {c['last_d']:>6} "
                  f"{c['lost']:>5}  {c['status']}")
        for c in cycles:
            for d in c["leftovers"]:
                print(f"launch {c['i']}: SIGKILLed 3 s after the kill: {d}")
        killed = [c for c in cycles if c["target"] is not None]
        by_target = {t: sum(1 for c in killed if c["target"] == t) for t in TARGETS}
        lost = [c["lost"] for c in killed]
        print(f"crash loop: {n_tasks} tasks, {rounds} round(s), {len(cycles)} launches, {kills} kills "
              f"({', '.join(f'{t}: {k}' for t, k in by_target.items())}), "
              f"{sum(1 for c in cycles if c['command'] == 'run')} of them `run` (no output yet), "
              f"{loop_seconds:.1f} s")
        if lost:
            print(f"work redone per crash: median {statistics.median(lost):.0f} tasks, max {max(lost)} tasks, "
                  f"median {statistics.median(lost) * MEAN_MS / 1000:.3f} s of work "
                  f"(lost = last progress D of the launch - done tasks it added to the file)")
        working = [c["lost"] for c in killed if c["last_d"] > 0 or c["gained"] > 0]
        if working:
            print(f"  of which {len(working)} crashes after results had reached rank 0 (the others hit the "
                  f"start-up): median {statistics.median(working):.0f} tasks, max {max(working)} tasks, median "
                  f"{statistics.median(working) * MEAN_MS / 1000:.3f} s of work")
        by = {t: [c["lost"] for c in killed if c["target"] == t and (c["last_d"] > 0 or c["gained"] > 0)]
              for t in TARGETS}
        print("  by target (crashes after results): " + ", ".join(
            f"{t}: median {statistics.median(v):.0f} max {max(v)} over {len(v)}" if v else f"{t}: none"
            for t, v in by.items()))
        creating = sorted(p.name for p in self.tmp.glob("out*.h5.creating-*"))
        print(f"temporary files left by killed creations: {len(creating)}")
        sys.stdout.flush()


if __name__ == "__main__":
    common.main()
