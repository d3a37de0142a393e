"""A real single-node Slurm cluster for the end-to-end tests, started and stopped by the test itself
(no systemd, nothing outside one scratch directory). Why each setting is what it is, and what the
daemons need from the machine: tests/e2e/README.md ("The one-node Slurm cluster").

- munged on its own socket ($DIR/munge/munge.socket), key from `mungekey`;
- slurmctld, then slurmd (`-N <node>`, SlurmdParameters=config_overrides so the node declares
  CPUs=8 on however few cores the machine has), MpiDefault=pmix with PMIxCliTmpDirBase in mpi.conf,
  cred_expire=10 (a requeued job restarts in ~15 s instead of ~130 s), EnforcePartLimits=ALL;
- ports 6817/6818: refused if anything listens there already;
- stop: cancel every job, wait for the queue to empty, then SIGTERM slurmd, slurmctld and munged by the
  PIDs in their pid files (checked against /proc/PID/comm), SIGKILL after a grace period. Never by name.

Not a test itself. Use:

    with SlurmCluster() as cluster:
        job_id = cluster.sbatch(["-n", "2", "script.sh", "arg"], cwd=tmp)
        info = cluster.wait(job_id, timeout=60)      # {"JobState": "COMPLETED", "ExitCode": "0:0", ...}

Standard library only. Needs root (SlurmUser=root), the Debian packages slurmctld, slurmd,
slurm-client and munge, a cgroup file system on /sys/fs/cgroup (slurmd) and free ports 6817/6818;
`unavailable()` says what is missing, for a test to skip.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CTLD_PORT = 6817
SLURMD_PORT = 6818
POLL = 0.25  # seconds between squeue polls
QUERY_SECONDS = 10  # squeue/scontrol show: longer than this and the query is asked again at the next poll
UNANSWERED = "UNANSWERED"  # queue_state() when slurmctld did not answer within QUERY_SECONDS
FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
                "BOOT_FAIL", "DEADLINE"}
BINARIES = {  # program -> Debian package
    "munged": "munge", "mungekey": "munge", "munge": "munge", "unmunge": "munge",
    "slurmctld": "slurmctld", "slurmd": "slurmd",
    "sbatch": "slurm-client", "squeue": "slurm-client", "scontrol": "slurm-client", "scancel": "slurm-client",
    "sinfo": "slurm-client",
}
SBIN = ("/usr/sbin", "/sbin")
CGROUP_ROOT = "/sys/fs/cgroup"
MOUNTINFO = "/proc/self/mountinfo"  # a test of the skip may point this at a made-up file


def which(program):
    path = os.environ.get("PATH", "") + os.pathsep + os.pathsep.join(SBIN)
    return shutil.which(program, path=path)


def unavailable():
    """Why a cluster cannot be started here (one line), or None when it can be: binaries, root, the
    cgroup file system slurmd needs, ports."""
    gone = sorted({f"{p} ({pkg})" for p, pkg in BINARIES.items() if which(p) is None})
    if gone:
        return "Slurm/munge binaries missing: " + ", ".join(gone) + " (cmake/setup-debian.sh installs them)"
    if os.geteuid() != 0:
        return "a test Slurm cluster runs its daemons as root (SlurmUser=root); not root here"
    reason = cgroup_problem()
    if reason:
        return reason
    for port in (CTLD_PORT, SLURMD_PORT):
        if port_taken(port):
            return f"port {port} is in use (another Slurm running?): the test cluster needs it free"
    return None


def _mounts(mountinfo):
    """{mount point: file system type} from a /proc/PID/mountinfo file; of several mounts on one point
    the last (the visible one) wins."""
    out = {}
    for line in Path(mountinfo).read_text().splitlines():
        fields, sep, rest = line.partition(" - ")
        fields = fields.split()
        if not sep or len(fields) < 5 or not rest.split():
            continue
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])  # "\040" is a space
        out[point] = rest.split()[0]
    return out


def cgroup_problem(mountinfo=None):
    """Why slurmd cannot start for want of a cgroup file system (one line), or None. slurmd 22.05
    (Debian 12's) picks its cgroup plugin at start-up even when slurm.conf configures none, and exits
    when that fails; this repeats its test: /sys/fs/cgroup must be a cgroup2 mount, or a tmpfs with a
    cgroup (v1) or cgroup2 mount on /sys/fs/cgroup/systemd (cgroup2 there also needs .../unified).
    `mountinfo` defaults to MOUNTINFO (this process's mounts, which are slurmd's)."""
    root = CGROUP_ROOT
    try:
        mounts = _mounts(mountinfo or MOUNTINFO)
    except OSError as e:
        return f"cannot tell whether {root} is mounted, which slurmd needs: {e}"
    fs = mounts.get(root)
    if fs is None:
        return (f"no file system mounted on {root}: slurmd 22.05 refuses to start without one "
                f"(\"No filesystem mounted on {root}\"), even with no cgroup plugin configured")
    if fs == "cgroup2":
        return None
    if fs != "tmpfs":
        return f"{root} is a {fs} mount; slurmd 22.05 knows only cgroup2 or a tmpfs of cgroup hierarchies there"
    systemd = mounts.get(f"{root}/systemd")
    if systemd == "cgroup":
        return None
    if systemd == "cgroup2":
        unified = f"{root}/unified"
        return None if unified in mounts or os.path.isdir(unified) else \
            f"{root}/systemd is cgroup2 but {unified} is missing, which slurmd 22.05 then needs"
    return (f"{root} is a tmpfs without a cgroup hierarchy on {root}/systemd "
            f"({systemd or 'nothing mounted'}): slurmd 22.05 refuses to start")


def port_taken(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        return False
    except OSError:
        return True
    finally:
        s.close()


def parse_show(text):
    """`scontrol -o show ...` one-liner -> {key: value}; values may contain spaces."""
    out = {}
    for m in re.finditer(r"(?:^|\s)([A-Za-z:/]+)=(.*?)(?=\s+[A-Za-z:/]+=|\s*$)", text.strip()):
        out.setdefault(m.group(1), m.group(2))
    return out


def _alive(pid, comm):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == comm
    except OSError:
        return False


def _is_zombie(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


class SlurmError(RuntimeError):
    pass


class SlurmCluster:
    """A one-node cluster under `root` (a fresh temporary directory unless given). A context manager:
    `__enter__` starts it and waits until the node is idle, `__exit__` stops it and removes the
    directory (kept when `keep` or TASKFARM_E2E_KEEP is set)."""

    def __init__(self, root=None, cpus=8, partition="debug", keep=None, verbose=True):
        self.cpus = cpus
        self.partition = partition
        self.keep = bool(os.environ.get("TASKFARM_E2E_KEEP")) if keep is None else keep
        self.verbose = verbose
        self._own_root = root is None
        self.root = Path(root) if root else None
        self.node = socket.gethostname().split(".")[0]
        self.started = []  # (name, pid file, comm) of daemons started, in start order

    # -- paths and environment ---------------------------------------------------------------------------

    @property
    def conf(self):
        return self.root / "etc" / "slurm.conf"

    @property
    def munge_socket(self):
        return self.root / "munge" / "munge.socket"

    def env(self, base=None):
        """The environment for Slurm clients (sbatch, squeue, ...) talking to this cluster."""
        e = dict(os.environ if base is None else base)
        e["SLURM_CONF"] = str(self.conf)
        e["PATH"] = e.get("PATH", "") + os.pathsep + os.pathsep.join(SBIN)
        for k in [k for k in e if k.startswith("SLURM_") and k != "SLURM_CONF"]:
            del e[k]  # a test run inside a Slurm job must not leak that job's settings into sbatch
        return e

    def log(self, message):
        if self.verbose:
            print(f"[slurm] {message}", file=sys.stderr, flush=True)

    # -- start -------------------------------------------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        reason = unavailable()
        if reason:
            raise SlurmError(reason)
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="taskfarm-slurm-"))
        t0 = time.monotonic()
        try:
            self._write_files()
            self._start_munge()
            self._start_slurmctld()
            self._start_slurmd()
        except BaseException:
            self._dump_logs()
            self.stop()
            raise
        self.log(f"cluster up in {time.monotonic() - t0:.2f} s: node {self.node}, {self.cpus} CPUs, "
                 f"SLURM_CONF={self.conf}")

    def _write_files(self):
        r = self.root
        r.chmod(0o755)
        for d in ("etc", "munge", "state", "spool", "log", "run", "tmp/pmix"):
            (r / d).mkdir(parents=True, exist_ok=True)
        (r / "munge").chmod(0o755)  # munged refuses a socket directory other users cannot reach
        mem_kb = int(re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.M).group(1))
        real_memory = int(mem_kb / 1024 * 0.9)
        self.conf.write_text(f"""\
# written by tests/e2e/slurm_cluster.py
ClusterName=taskfarmtest
SlurmctldHost={self.node}(127.0.0.1)
SlurmctldPort={CTLD_PORT}
SlurmdPort={SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket},cred_expire=10
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool/%n
SlurmctldPidFile={r}/run/slurmctld.pid
SlurmdPidFile={r}/run/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=5
MpiDefault=pmix
SlurmdParameters=config_overrides
ReturnToService=2
EnforcePartLimits=ALL
MailProg=/bin/true
OverTimeLimit=0
KillWait=5
InactiveLimit=0
MinJobAge=300
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={real_memory} State=UNKNOWN
PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
""")
        (r / "etc" / "mpi.conf").write_text(f"PMIxCliTmpDirBase={r}/tmp/pmix\n")

    def _run(self, args, timeout=30, check=True, input=None):
        p = subprocess.run([str(a) for a in args], env=self.env(), capture_output=True, text=True,
                           errors="replace", timeout=timeout, input=input,
                           stdin=subprocess.DEVNULL if input is None else None)
        if check and p.returncode != 0:
            raise SlurmError(f"{' '.join(map(str, args))}: exit code {p.returncode}\n{p.stdout}{p.stderr}")
        return p

    def _wait_for(self, what, predicate, timeout):
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            if time.monotonic() > deadline:
                raise SlurmError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(0.05)

    def _pid(self, pid_file):
        try:
            return int(Path(pid_file).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _start_daemon(self, name, comm, args, pid_file):
        self.started.append((name, pid_file, comm))
        self._run(args, timeout=30)  # each daemonizes and writes its pid file
        self._wait_for(f"{name}'s pid file", lambda: self._pid(pid_file) and _alive(self._pid(pid_file), comm), 10)

    def _start_munge(self):
        m = self.root / "munge"
        key = m / "munge.key"
        self._run([which("mungekey"), "--create", "--bits", "1024", "--keyfile", key])
        key.chmod(0o600)
        self._start_daemon("munged", "munged", [
            which("munged"), "--socket", self.munge_socket, "--key-file", key, "--pid-file", m / "munged.pid",
            "--log-file", m / "munged.log", "--seed-file", m / "munged.seed"], m / "munged.pid")
        cred = self._run([which("munge"), "-n", "-S", self.munge_socket]).stdout
        self._run([which("unmunge"), "-S", self.munge_socket], input=cred)

    def _start_slurmctld(self):
        self._start_daemon("slurmctld", "slurmctld", [which("slurmctld"), "-f", self.conf],
                           self.root / "run" / "slurmctld.pid")
        self._wait_for("`scontrol ping` to say UP",
                       lambda: "UP" in self._run(["scontrol", "ping"], check=False).stdout, 20)

    def _start_slurmd(self):
        self._start_daemon("slurmd", "slurmd", [which("slurmd"), "-f", self.conf, "-N", self.node],
                           self.root / "run" / "slurmd.pid")
        self._wait_for(f"node {self.node} to be idle",
                       lambda: self._run(["sinfo", "-h", "-N", "-n", self.node, "-o", "%T"],
                                         check=False).stdout.strip() == "idle", 30)

    # -- stop --------------------------------------------------------------------------------------------

    def stop(self, grace=10.0):
        """Cancels every job, waits for the queue to empty, stops the daemons by pid (newest first)."""
        if self.root is None:
            return
        t0 = time.monotonic()
        names = {name for name, _, _ in self.started}
        if "slurmctld" in names:
            try:
                ids = self._run(["squeue", "-h", "-o", "%i"], check=False, timeout=10).stdout.split()
                if ids:
                    self._run(["scancel", *ids], check=False, timeout=10)
                    self._wait_for("the queue to empty",
                                   lambda: not self._run(["squeue", "-h", "-o", "%i"], check=False,
                                                         timeout=10).stdout.split(), 30)
            except (SlurmError, subprocess.TimeoutExpired) as e:
                self.log(f"stop: {e}")
        for name, pid_file, comm in reversed(self.started):
            pid = self._pid(pid_file)
            if pid is None or not _alive(pid, comm):
                continue
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while _alive(pid, comm) and not _is_zombie(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if _alive(pid, comm) and not _is_zombie(pid):
                self.log(f"stop: {name} (pid {pid}) ignored SIGTERM for {grace} s: SIGKILL")
                os.kill(pid, signal.SIGKILL)
        self.started = []
        self.log(f"cluster stopped in {time.monotonic() - t0:.2f} s")
        if self._own_root and not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)
        elif self.keep:
            self.log(f"kept {self.root}")

    def _dump_logs(self, lines=30):
        for p in ("munge/munged.log", "log/slurmctld.log", "log/slurmd.log"):
            path = self.root / p
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                print(f"--- {path} (last {len(tail)} lines) ---\n" + "\n".join(tail), file=sys.stderr)

    # -- jobs --------------------------------------------------------------------------------------------

    def sbatch(self, args, cwd, env=None):
        """`sbatch --parsable ARGS` in `cwd` (with `env`, default os.environ, plus SLURM_CONF);
        returns the job id."""
        p = subprocess.run(["sbatch", "--parsable", *map(str, args)], cwd=cwd, env=self.env(env),
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise SlurmError(f"sbatch {' '.join(map(str, args))}: exit code {p.returncode}\n{p.stdout}{p.stderr}")
        return p.stdout.strip().split(";")[0]

    def job(self, job_id):
        """`scontrol -o show job ID` as a dict (JobState, ExitCode, Restarts, ...); {} if unknown."""
        try:
            p = self._run(["scontrol", "-o", "show", "job", job_id], check=False, timeout=QUERY_SECONDS)
        except subprocess.TimeoutExpired:
            return {}
        return parse_show(p.stdout) if p.returncode == 0 else {}

    def queue_state(self, job_id):
        """The job's state as plain `squeue -j ID` lists it (pending/running/completing...), None once
        it has left the queue, or UNANSWERED if slurmctld did not answer within QUERY_SECONDS (seen
        once in CI, on a loaded machine around a requeue: a busy controller, not a verdict on the
        job, so callers ask again)."""
        try:
            p = self._run(["squeue", "-h", "-j", job_id, "-o", "%T"], check=False, timeout=QUERY_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"[slurm] squeue -j {job_id}: no answer within {QUERY_SECONDS} s, asking again",
                  file=sys.stderr, flush=True)
            self._dump_logs(lines=8)  # what the controller was doing, for the next look at a stall
            return UNANSWERED
        state = p.stdout.strip()
        return state or None

    def scancel(self, *args):
        return self._run(["scancel", *args], timeout=10)

    def scontrol(self, *args):
        return self._run(["scontrol", *args], timeout=10)

    def wait(self, job_id, timeout=60, on_state=None):
        """Polls `squeue -j ID` every 0.25 s until the job has left the queue in a final state; returns
        `scontrol -o show job ID`. `on_state(state, seconds)` is called whenever the squeue state
        changes (seconds since the call). A requeued job goes back to PENDING and is waited for again.
        Raises AssertionError on timeout (after cancelling the job)."""
        t0 = time.monotonic()
        last = object()
        while True:
            state = self.queue_state(job_id)
            if state == UNANSWERED:
                state = last  # nothing learned; the timeout below still bounds the wait
            elif state is None:
                info = self.job(job_id)
                if info.get("JobState") in FINAL_STATES:
                    if on_state and info["JobState"] != last:
                        on_state(info["JobState"], time.monotonic() - t0)
                    return info
                state = info.get("JobState", "UNKNOWN")  # e.g. REQUEUED between two runs
            if state != last:
                if on_state:
                    on_state(state, time.monotonic() - t0)
                last = state
            if time.monotonic() - t0 > timeout:
                info = self.job(job_id)
                self._run(["scancel", job_id], check=False)
                raise AssertionError(f"job {job_id} not finished after {timeout} s: {info}")
            time.sleep(POLL)
