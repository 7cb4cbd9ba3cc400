"""Soak: many speech calls through Kamailio, a few at a time; nothing lost, nothing leaked, no secret kept.

    python bench/soak.py [--calls 1000] [--concurrent 10] [--endpoints 4] [--warmup 40]

Starts `ivr cluster --endpoints N --demo` (Kamailio, N endpoints, analyzer, console, local PostgreSQL; the
analyzer scores the live turns, transcribe off, so that its backlog keeps up on 2 cores) and runs SIPp speech calls
through Kamailio, `--concurrent` at once, each ended call replaced at once. Nine callers in ten are Alex's balance
call (tests/speech_pcap.py: PIN keyed during the welcome, "what is my balance", "goodbye"); one in ten reads out a
card number and its security code at the menu instead ("my card number is 4111 1111 1111 1111, the security code
is 739"), so that the secrets scan has spoken secrets to look for.

Checks after the run:
  - every call SIPp made is stored once, ended, with its turns complete: turns and events numbered 1..n with no
    gap (a write lost anywhere leaves a gap), the keyed PIN stored as [PIN], the caller's spoken turns and the
    IVR's goodbye there; and every call analysed (`lost` counts the calls that miss any of this);
  - each endpoint's RSS, open file descriptors and threads when idle after `--warmup` calls, and when idle after
    the run: growth must stay under 50 MB, and no descriptor or thread may be left behind;
  - the secrets scan: every text and JSON value of every table, every log file of the cluster and the spool, for
    the demo customers' PINs, the spoken card number (also with its digits split by spaces) and the CVV.
Prints one line: calls, failures, lost turns, RSS growth, fds/threads, secrets found, duration.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import load  # noqa: E402
from tests import speech_pcap  # noqa: E402
from tests.speech_pcap import Keys, Recorded, Silence, Synthesized, Until  # noqa: E402

CARD, CVV = "4111111111111111", "739"
CARD_TIMELINE = [Silence(1.0), Keys("2468#"), Until(16.0),
                 Synthesized("my card number is 4111 1111 1111 1111, the security code is 739"),
                 Until(35.5), Recorded(speech_pcap.goodbye_recording()), Silence(3.0)]
RSS_GROWTH_LIMIT_MB = 50


@dataclass
class Footprint:
    rss_mb: float
    fds: int
    threads: int


def footprint(pid: int) -> Footprint:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
    return Footprint(rss, len(list(Path(f"/proc/{pid}/fd").iterdir())), len(list(Path(f"/proc/{pid}/task").iterdir())))


def endpoint_pids(root: int) -> dict[str, int]:
    """The endpoints under `root` (the cluster's process), by name (`endpoint :5071`)."""
    return {name: pid for pid in load.descendants(root) if (name := load.label(pid) or "").startswith("endpoint")}



def thread_dumps(root: int, logs: Path, wait_s: float = 2.0) -> str:
    """Every endpoint's Python thread stacks (SIGUSR1: `ivr serve` dumps them to its log), for a stuck call's
    post-mortem; only the stacks that pass through the project's own code."""
    sizes = {p: p.stat().st_size for p in logs.glob("endpoint-*.log")}
    for pid in endpoint_pids(root).values():
        os.kill(pid, signal.SIGUSR1)
    time.sleep(wait_s)
    out = []
    for path, size in sorted(sizes.items()):
        with open(path, errors="replace") as f:
            f.seek(size)
            stacks = re.split(r"\n(?=Thread 0x|Current thread 0x)", f.read())
        ours = [st.strip() for st in stacks if re.search(r"/(ivr|telephony|analytics)/", st)]
        out.append(f"== {path.name}\n" + "\n".join(ours))
    return "\n".join(out)

# -- calls ------------------------------------------------------------------------------------------------------
@dataclass
class CallsRun:
    made: int = 0
    successful: int = 0
    failed: int = 0
    outputs: list[str] = field(default_factory=list)


def run_calls(target: str, work: Path, calls: int, concurrent: int) -> CallsRun:
    """`calls` SIPp speech calls, `concurrent` at once: one caller stream in ten reads out a card number."""
    card_calls = max(1, calls // 10)
    mixes = [(speech_pcap.alex_balance_call(), calls - card_calls, max(1, concurrent - 1)),
             (speech_pcap.build(CARD_TIMELINE), card_calls, 1)]
    results: list = [None, None]

    def one(i, pcap, n, at_once):
        results[i] = speech_pcap.run_speech_calls(target, work / f"sipp-{i}", calls=n, concurrent=at_once,
                                                  rate=1, pcap=pcap)

    threads = [threading.Thread(target=one, args=(i, *mix)) for i, mix in enumerate(mixes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run = CallsRun(made=calls)
    for r in results:
        run.successful += r.successful
        run.failed += r.failed
        run.outputs.append(r.output)
    return run


def wait_idle(sessions, after_id: int, count: int, timeout: float = 180) -> None:
    """Until `count` calls after `after_id` are stored and ended (then a moment for pjsua to free them)."""
    from sqlalchemy import func, select

    from models import Call

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as s:
            ended = s.scalar(select(func.count()).where(Call.id > after_id, Call.ended_at.is_not(None)))
            total = s.scalar(select(func.count()).where(Call.id > after_id))
        if total >= count and ended == total:
            break
        time.sleep(1)
    time.sleep(3)


def report_progress(sessions, after_id: int, pids: dict[str, int], stop: threading.Event, every_s: float = 120) -> None:
    """Every `every_s`: calls ended so far and each endpoint's RSS (the curve behind the one-line result)."""
    from sqlalchemy import func, select

    from models import Call

    start = time.monotonic()
    while not stop.wait(every_s):
        with sessions() as s:
            ended = s.scalar(select(func.count()).where(Call.id > after_id, Call.ended_at.is_not(None)))
        rss = []
        for name, pid in sorted(pids.items()):
            try:
                rss.append(f"{name.split(':')[-1]} {footprint(pid).rss_mb:.0f}")
            except OSError:
                rss.append(f"{name.split(':')[-1]} gone")
        print(f"  {time.monotonic() - start:5.0f} s: {ended} calls ended; endpoint RSS MB: {', '.join(rss)}",
              flush=True)


# -- what was stored ----------------------------------------------------------------------------------------------
@dataclass
class Stored:
    calls: int
    lost: list[tuple[int, str]]          # (call id, what is missing)
    analysed: int
    unavailable: int                     # calls told the bank was unreachable (a database outage)


def call_problem(call, turns, events) -> str | None:
    """What is missing from a stored call of these callers, or None."""
    seqs = sorted([t.seq for t in turns] + [e.seq for e in events])
    if seqs != list(range(1, len(seqs) + 1)):
        return f"turns/events not numbered 1..n: {seqs}"
    if call.ended_at is None or call.outcome not in ("completed", "transferred"):
        return f"outcome {call.outcome}"
    kinds = {e.kind for e in events}
    if "service_unavailable" in kinds:   # told the bank could not be reached: the apology must be there
        ok = any(t.state == "service_unavailable" and t.speaker == "ivr" for t in turns)
        return None if ok else "no apology after service_unavailable"
    caller = [t for t in turns if t.speaker == "caller"]
    if not any(t.text == "[PIN]" for t in caller):
        return "no [PIN] turn"
    if not any(t.text not in ("[PIN]", "") and not t.text.startswith("dtmf:") for t in caller):
        return "no spoken caller turn"
    if not any(t.speaker == "ivr" and "Goodbye" in t.text for t in turns):
        return "no goodbye"
    return None


def check_stored(sessions, after_id: int, ani: str = "+15550100") -> Stored:
    """The calls of the soak's callers (`ani`) since `after_id`."""
    from sqlalchemy import select

    from models import Analysis, Call, CallEvent, Turn

    with sessions() as s:
        calls = s.scalars(select(Call).where(Call.id > after_id, Call.ani == ani).order_by(Call.id)).all()
        ids = [c.id for c in calls]
        turns, events = {i: [] for i in ids}, {i: [] for i in ids}
        for t in s.scalars(select(Turn).where(Turn.call_id.in_(ids))):
            turns[t.call_id].append(t)
        for e in s.scalars(select(CallEvent).where(CallEvent.call_id.in_(ids))):
            events[e.call_id].append(e)
        done = set(s.scalars(select(Analysis.call_id).where(Analysis.call_id.in_(ids), Analysis.status == "done")))
    lost = [(c.id, p) for c in calls if (p := call_problem(c, turns[c.id], events[c.id]))]
    lost += [(i, "not analysed") for i in ids if i not in done]
    unavailable = sum(any(e.kind == "service_unavailable" for e in events[i]) for i in ids)
    return Stored(len(calls), lost, len(done), unavailable)


def wait_analysed(sessions, after_id: int, timeout: float) -> None:
    from sqlalchemy import func, select

    from models import Analysis, Call

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as s:
            calls = s.scalar(select(func.count()).where(Call.id > after_id))
            done = s.scalar(select(func.count()).where(Analysis.call_id > after_id, Analysis.status == "done"))
        if done >= calls:
            return
        time.sleep(2)


# -- secrets -------------------------------------------------------------------------------------------------------
def secret_patterns() -> dict[str, re.Pattern]:
    """The demo PINs, the spoken card number (whole or in groups) and the CVV, as whole numbers only."""
    from models.demo import CUSTOMERS

    def whole(digits: str) -> str:   # a number of its own: not part of a longer one, a hex id, a decimal, a pid (also
        # PostgreSQL's "UTC [739] LOG" and Kamailio's "0(739) INFO"), a log time's milliseconds ("04:26:06,739"), or
        # SIPp's Call-ID "739-4242@127.0.0.1" (call number 739)
        return rf"(?<![\w.])(?<!:\d\d,)(?<!pid )(?:(?<![\[(]){digits}|{digits}(?![\])]))(?!\w|\.\d|-\d+@)"

    found = {f"PIN of {c['name']}": re.compile(whole(c["pin"])) for c in CUSTOMERS}
    found["card number"] = re.compile(whole(r"[ -]?".join(CARD)))
    found["CVV"] = re.compile(whole(CVV))
    return found


def scan_secrets(engine, files: list[Path]) -> list[str]:
    """Every text and JSON value of every table and every given file, searched for the secrets: the hits."""
    import json

    from sqlalchemy import JSON, MetaData, String, Text, select

    patterns, hits = secret_patterns(), []
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            cols = [c for c in table.columns if isinstance(c.type, (String, Text, JSON))]
            if not cols:
                continue
            for row in conn.execute(select(*cols)):
                for col, value in zip(cols, row):
                    text = value if isinstance(value, str) else json.dumps(value) if value is not None else ""
                    hits += [f"{table.name}.{col.name}: {name}" for name, p in patterns.items() if p.search(text)]
    for path in files:
        text = path.read_text(errors="replace")
        hits += [f"{path.name}: {name}" for name, p in patterns.items() if p.search(text)]
    return hits


def cluster_files(data_dir: Path) -> list[Path]:
    """The logs of every process of the cluster and whatever is left in the spool."""
    return [p for p in [*(data_dir / "cluster" / "logs").glob("*"), *(data_dir / "spool").rglob("*")] if p.is_file()]


# -- the benchmark ---------------------------------------------------------------------------------------------------
def growth(before: dict[str, Footprint], after: dict[str, Footprint]) -> tuple[float, int, int]:
    """The largest RSS growth (MB) and the fds and threads gained, over the endpoints."""
    common = [n for n in before if n in after]
    return (max(after[n].rss_mb - before[n].rss_mb for n in common),
            max(after[n].fds - before[n].fds for n in common),
            max(after[n].threads - before[n].threads for n in common))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--concurrent", type=int, default=10)
    ap.add_argument("--endpoints", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=40, help="calls before the first idle footprint")
    args = ap.parse_args()
    if args.concurrent < 2 or args.calls < 10:
        sys.exit("soak: --concurrent must be at least 2 and --calls at least 10")

    from sqlalchemy import create_engine

    from models import session_factory

    data = Path(tempfile.mkdtemp(prefix="ivr-soak-"))
    data.chmod(0o755)
    os.environ["IVR_ANALYTICS__TRANSCRIBE"] = "false"   # scores the live turns: its backlog keeps up on 2 cores
    cluster, target, env = load.start_cluster(args.endpoints, data)
    try:
        engine = create_engine(load.cluster_database_url(env, args.endpoints))
        sessions = session_factory(engine)
        start = time.monotonic()
        first = load.last_call_id(sessions)
        run_calls(target, data / "warmup", args.warmup, args.concurrent)
        wait_idle(sessions, first, args.warmup)
        pids = endpoint_pids(cluster.pid)
        before = {n: footprint(p) for n, p in pids.items()}
        after_warmup = load.last_call_id(sessions)
        print(f"  warm-up: {args.warmup} calls; endpoint RSS MB: "
              + ", ".join(f"{n.split(':')[-1]} {f.rss_mb:.0f}" for n, f in sorted(before.items())), flush=True)
        stop = threading.Event()
        threading.Thread(target=report_progress, args=(sessions, after_warmup, pids, stop), daemon=True).start()
        run = run_calls(target, data / "soak", args.calls, args.concurrent)
        stop.set()
        wait_idle(sessions, after_warmup, args.calls)
        after = {n: footprint(p) for n, p in endpoint_pids(cluster.pid).items() if pids.get(n) == p}
        wait_analysed(sessions, first, timeout=600)
        stored = check_stored(sessions, after_warmup)
        hits = scan_secrets(engine, cluster_files(data))
        rss, fds, threads = growth(before, after)
        restarted = len(pids) - len(after)
        print(f"soak: calls {args.calls} ({args.concurrent} at a time, {args.endpoints} endpoints, after "
              f"{args.warmup} warm-up), failed {run.failed}, stored {stored.calls}, lost turns {len(stored.lost)}, "
              f"analysed {stored.analysed}, endpoint RSS growth max {rss:+.0f} MB (limit {RSS_GROWTH_LIMIT_MB}), "
              f"fds {fds:+d}, threads {threads:+d}, crashes {restarted}, secrets found {len(hits)}, "
              f"{time.monotonic() - start:.0f} s")
        for call_id, problem in stored.lost[:10]:
            print(f"  call {call_id}: {problem}")
        if stored.lost:
            print(thread_dumps(cluster.pid, data / "cluster" / "logs"))
        for hit in hits[:10]:
            print(f"  secret: {hit}")
        for name in sorted(before):
            b, a = before[name], after.get(name)
            print(f"  {name}: RSS {b.rss_mb:.0f} -> {a.rss_mb:.0f} MB, fds {b.fds} -> {a.fds}, threads "
                  f"{b.threads} -> {a.threads}" if a else f"  {name}: restarted during the run (crashed)")
    finally:
        load.stop(cluster)
        subprocess.run(["rm", "-rf", str(data)], check=False)


if __name__ == "__main__":
    main()
