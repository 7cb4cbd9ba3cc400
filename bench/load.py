"""Concurrent calls through Kamailio: how many this host holds with p95 turn latency <= 1.0 s and no failures.

    python bench/load.py [--levels 4 8 12 16 20] [--calls-per-level N] [--endpoints 4] [--ramp-s 40] [--quick]
    python bench/load.py --target 127.0.0.1:5060 --database-url URL [--pids PID ...]   # load what is running

Starts `ivr cluster --endpoints N` (Kamailio's dispatcher, N `ivr serve` endpoints, the analyzer, the console and a
local PostgreSQL, in a fresh data dir), then for each level L runs SIPp speech calls through Kamailio: L calls
at once (SIPp -l L), 2 L calls in all (--calls-per-level), the first L started over --ramp-s seconds (default 40,
about one call's length, so that callers' turns fall at random moments as in real traffic; each call that ends is
replaced at once, so L stay up). `--ramp-s 2` is the worst case: every caller speaks at the same moment.
Each call is Alex's PCAP from tests/speech_pcap.py: the PIN keyed (RFC 2833) during the welcome, "what is my balance" (Piper), "goodbye"
(Asterisk's recorded voice); the IVR hangs up (tests/sipp/speech_call.xml). Per level it prints calls completed and
failed (SIPp's count, and the calls stored with outcome `completed`), the nodes that took them, p50/p95/max turn
latency of the spoken caller turns (stored `latency_ms`: end of the caller's speech -> first IVR audio out), and
per process the CPU seconds and the peak memory (PSS, so that Kamailio's and PostgreSQL's shared memory is counted
once; equal to RSS for a process that shares nothing). Last line: the most concurrent calls held with p95 turn
latency <= 1.0 s and no failures. Stops at the first level that misses (--all-levels to go on).
--quick: levels 2 and 4 on 2 endpoints.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import speech_pcap  # noqa: E402

IVR = str(Path(sys.executable).with_name("ivr"))
P95_LIMIT_MS = 1000.0


# -- processes, from /proc ---------------------------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            tree[ppid].append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    tree, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += tree.get(p, [])
    return out


def label(pid: int) -> str | None:
    """A short name for a process of the cluster (None for the ones not worth a row)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return None
    joined = " ".join(argv)
    if "kamailio" in Path(argv[0]).name:
        return "kamailio"
    if "postgres" in joined.split(" ")[0] or joined.startswith("postgres:"):
        return "postgres"
    if " serve" in joined and "--sip-port" in argv:
        return f"endpoint :{argv[argv.index('--sip-port') + 1]}"
    for word, name in ((" analyze", "analyzer"), (" web", "console"), ("supervisord", "supervisord")):
        if word in joined:
            return name
    return None


def cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class ProcessMeter:
    """CPU seconds and peak PSS per process group while a level runs (sampled every 0.5 s)."""

    def __init__(self, roots: list[int]):
        self.roots = roots
        self.peak: dict[str, float] = defaultdict(float)
        self.cpu: dict[int, float] = {}
        self.labels: dict[int, str] = {}
        self._stop = threading.Event()

    def _pids(self) -> dict[int, str]:
        found = {}
        for root in self.roots:
            for pid in descendants(root):
                if (name := self.labels.get(pid) or label(pid)) is not None:
                    found[pid] = name
        self.labels.update(found)
        return found

    def _sample(self) -> None:
        mem = defaultdict(float)
        for pid, name in self._pids().items():
            mem[name] += pss_mb(pid)
            self.cpu[pid] = cpu_s(pid)
        for name, mb in mem.items():
            self.peak[name] = max(self.peak[name], mb)

    def __enter__(self):
        self._sample()
        self.cpu0 = dict(self.cpu)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(0.5):
            self._sample()

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()

    def rows(self) -> list[tuple[str, float, float]]:
        cpu = defaultdict(float)
        for pid, total in self.cpu.items():
            cpu[self.labels[pid]] += total - self.cpu0.get(pid, 0.0)
        return [(name, cpu[name], self.peak[name]) for name in sorted(self.peak, key=_order)]


def _order(name: str) -> tuple:
    rank = ["kamailio", "endpoint", "analyzer", "console", "postgres", "supervisord"]
    head = name.split()[0]
    return (rank.index(head) if head in rank else 9, name)


# -- the cluster -------------------------------------------------------------------------------------------------
def start_cluster(endpoints: int, data: Path) -> tuple[subprocess.Popen, str, dict]:
    """`ivr cluster` on free ports in `data`; returns it, Kamailio's host:port and the environment."""
    base = speech_pcap.free_port()
    sip_port = speech_pcap.free_port()
    env = {**os.environ, "IVR_DATA_DIR": str(data), "IVR_CLUSTER__ENDPOINT_SIP_PORT": str(base),
           "IVR_CLUSTER__METRICS_PORT": str(speech_pcap.free_port(tcp=True)),
           "IVR_CLUSTER__CONSOLE_PORT": str(speech_pcap.free_port(tcp=True)),
           "IVR_CLUSTER__POSTGRES_PORT": str(speech_pcap.free_port(tcp=True)),
           "IVR_TELEPHONY__RTP_PORT": str(20000 + (os.getpid() % 100) * 200),
           "IVR_CLUSTER__TRUNKS": '["127.0.0.1"]'}          # SIPp stands for the bank's trunk: not rate-limited
    env.pop("IVR_DATABASE_URL", None)
    log = (data / "cluster.log").open("w")
    proc = subprocess.Popen([IVR, "cluster", "--endpoints", str(endpoints), "--sip-port", str(sip_port), "--demo"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 400
    while "cluster up:" not in (data / "cluster.log").read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            sys.exit(f"ivr cluster did not come up; see {data / 'cluster.log'}:\n"
                     + (data / "cluster.log").read_text()[-3000:])
        time.sleep(1)
    time.sleep(3)                                          # Kamailio's first OPTIONS probes mark them up
    return proc, f"127.0.0.1:{sip_port}", env


def cluster_database_url(env: dict, endpoints: int) -> str:
    """The URL `ivr cluster` chose (its local PostgreSQL, or SQLite for one endpoint), from the same settings."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("IVR_")})
    from config import get_settings
    from ivr.cluster import database_for

    return database_for(get_settings(), endpoints, allow_sqlite=False, prepare=False)[0]


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


# -- one level ---------------------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def stored(sessions, after_id: int):
    from sqlalchemy import select

    from models import Call, Turn

    with sessions() as s:
        calls = s.scalars(select(Call).where(Call.id > after_id, Call.channel == "sip")).all()
        turns = s.scalars(select(Turn).where(Turn.call_id.in_([c.id for c in calls]), Turn.speaker == "caller",
                                             Turn.latency_ms.is_not(None))).all()
    spoken = [t.latency_ms for t in turns if t.text != "[PIN]" and not t.text.startswith("dtmf:")]
    return calls, spoken


def last_call_id(sessions) -> int:
    from sqlalchemy import func, select

    from models import Call

    with sessions() as s:
        return s.scalar(select(func.max(Call.id))) or 0


def run_level(level: int, calls: int, ramp_s: float, target: str, sessions, roots: list[int], work: Path) -> bool:
    first = last_call_id(sessions)
    t0 = time.monotonic()
    with ProcessMeter(roots) as meter:
        run = speech_pcap.run_speech_calls(target, work / f"level-{level}", calls=calls, concurrent=level,
                                           rate=level / ramp_s if ramp_s > 0 else None)
        rows, spoken = stored(sessions, first)
        deadline = time.monotonic() + 30                   # the last hang-ups are committed
        while any(c.ended_at is None for c in rows) and time.monotonic() < deadline:
            time.sleep(1.0)
            rows, spoken = stored(sessions, first)
    wall = time.monotonic() - t0
    if open_calls := [c.id for c in rows if c.ended_at is None]:
        print(f"  still open 30 s after SIPp ended: call(s) {open_calls}")
    completed = sum(c.outcome == "completed" for c in rows)
    nodes = Counter(c.node or "?" for c in rows)
    failed = max(run.failed, calls - run.successful, len(rows) - completed, calls - completed)
    print(f"\n{level} concurrent call(s), {calls} call(s) started over {ramp_s:g} s, {wall:.0f} s: "
          f"completed {completed}, failed {failed}   (SIPp: {run.successful} ok, {run.failed} failed, exit "
          f"{run.returncode}; stored {len(rows)}: {dict(Counter(str(c.outcome) for c in rows))})")
    print(f"  nodes: {', '.join(f'{n} {k}' for n, k in sorted(nodes.items()))}")
    if spoken:
        print(f"  turn latency, {len(spoken)} spoken caller turns: p50 {pct(spoken, 0.5):.0f} ms, "
              f"p95 {pct(spoken, 0.95):.0f} ms, max {max(spoken):.0f} ms")
    else:
        print("  turn latency: no spoken caller turns stored")
    print(f"  {'process':<16} {'CPU s':>7} {'% core':>7} {'peak PSS MB':>12}")
    for name, cpu, mb in meter.rows():
        print(f"  {name:<16} {cpu:7.1f} {cpu / wall * 100:7.0f} {mb:12.0f}")
    if failed:
        print(f"  SIPp's output is in {run.work}")
    return not failed and bool(spoken) and pct(spoken, 0.95) <= P95_LIMIT_MS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--levels", type=int, nargs="+", default=[4, 8, 12, 16, 20])
    ap.add_argument("--calls-per-level", type=int, default=0, help="calls per level (default: the level: one wave)")
    ap.add_argument("--endpoints", type=int, default=4)
    ap.add_argument("--ramp-s", type=float, default=40.0, help="start a level's first L calls over this many seconds")
    ap.add_argument("--quick", action="store_true", help="levels 2 and 4 on 2 endpoints")
    ap.add_argument("--all-levels", action="store_true", help="go on after a level misses")
    ap.add_argument("--target", help="host:port of a running Kamailio or endpoint (no cluster started)")
    ap.add_argument("--database-url", help="with --target: the database the endpoints write (default: settings)")
    ap.add_argument("--pids", type=int, nargs="*", default=[], help="with --target: processes to measure")
    args = ap.parse_args()
    if args.quick:
        args.levels, args.endpoints = [2, 4], 2
    if os.geteuid() != 0:
        sys.exit("SIPp plays the speech PCAP through a raw socket: run as root")
    data = Path(tempfile.mkdtemp(prefix="ivr-load-"))
    data.chmod(0o755)                                      # the local PostgreSQL runs as `postgres`
    pcap = speech_pcap.alex_balance_call()
    cluster = None
    try:
        if args.target:
            target, roots = args.target, args.pids
            from config import get_settings

            url = args.database_url or get_settings().db_url
        else:
            cluster, target, env = start_cluster(args.endpoints, data)
            roots, url = [cluster.pid], cluster_database_url(env, args.endpoints)
        from models import make_engine, session_factory

        sessions = session_factory(make_engine(url))
        what = (f"ivr cluster: Kamailio on {target} -> {args.endpoints} endpoint(s)" if cluster
                else f"target {target}")
        print(f"{what}; {os.cpu_count()} CPU cores; database {url.split('@')[-1]}; "
              f"caller: {pcap.name} ({speech_pcap.read_pcap(pcap)[-1].t:.0f} s, PIN + 2 spoken turns)")
        held = 0
        for level in args.levels:
            ok = run_level(level, args.calls_per_level or 2 * level, args.ramp_s, target, sessions, roots, data)
            if ok:
                held = max(held, level)
            elif not args.all_levels:
                break
        print(f"\nmost concurrent calls held with p95 turn latency <= {P95_LIMIT_MS / 1000:.1f} s and no failures: "
              f"{held or 'none'} (levels tried: {', '.join(map(str, args.levels))}; {os.cpu_count()} cores)")
    finally:
        if cluster is not None:
            stop(cluster)


if __name__ == "__main__":
    main()
