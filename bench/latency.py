"""Turn latency of `ivr serve` under N concurrent scripted SIP calls (the project's pjsua2 softphone).

    python bench/latency.py [--calls 1 4] [--turns 3] [--rounds 2]

Each caller keys the PIN, then speaks requests; the server stores, per caller turn, the time from the end of
the caller's speech to the first IVR audio frame on the wire, broken down into VAD hangover, ASR, dialog
(NLU + bank), TTS first chunk and media. Prints p50/p95/max, calls completed/failed, server CPU and RSS.
Targets (2 cores): 1 call p50 <= 400 ms; 4 calls p50 <= 450 ms, p95 <= 750 ms, zero failures.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
IVR = str(Path(sys.executable).with_name("ivr"))
CALLERS = [("+15550100", "2468#"), ("+15550101", "1357#")]
REQUESTS = ["what is my balance", "I want to hear my recent transactions", "when are you open on saturday"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run_calls(n: int, port: int, env: dict, turns: int) -> list[int]:
    """Start n scripted softphone calls 0.3 s apart; wait for all; return their exit codes."""
    procs = []
    for i in range(n):
        ani, pin = CALLERS[i % len(CALLERS)]
        steps = ["--dtmf", pin]
        for req in REQUESTS[:turns]:
            steps += ["--say", req]
        steps += ["--say", "goodbye"]
        procs.append(subprocess.Popen([IVR, "call", f"sip:bank@127.0.0.1:{port}", "--ani", ani, *steps,
                                       "--no-transcribe", "--json"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
        time.sleep(0.3)
    return [p.wait(600) for p in procs]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--turns", type=int, default=3, help="spoken requests per call")
    ap.add_argument("--rounds", type=int, default=2, help="batches of N concurrent calls, one after the other")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    port = free_port()
    env = {**os.environ, "IVR_DATA_DIR": str(data), "IVR_TELEPHONY__RTP_PORT": str(free_port() // 2 * 2)}
    subprocess.run([IVR, "db", "init", "--demo"], env=env, check=True, capture_output=True)
    subprocess.run([IVR, "prompts", "render"], env=env, check=True, capture_output=True)
    server_log = data / "serve.log"
    with server_log.open("w") as out:
        server = subprocess.Popen([IVR, "serve", "--sip-port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while "IVR listening" not in server_log.read_text():
        if server.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"server did not start; see {server_log}")
        time.sleep(0.5)
    from sqlalchemy import select

    from models import Call, Turn, make_engine, session_factory

    sessions = session_factory(make_engine(f"sqlite:///{data}/ivr.sqlite3"))
    print(f"ivr serve on 127.0.0.1:{port}; {os.cpu_count()} CPU cores; {args.turns} spoken turns per call")
    try:
        for n in args.calls:
            with sessions() as s:
                first_id = (s.scalar(select(Call.id).order_by(Call.id.desc()).limit(1)) or 0) + 1
            cpu0, t0 = proc_cpu_s(server.pid), time.monotonic()
            rcs = []
            for _ in range(args.rounds):
                rcs += run_calls(n, port, env, args.turns)
            wall, cpu = time.monotonic() - t0, proc_cpu_s(server.pid) - cpu0
            time.sleep(1.0)
            with sessions() as s:
                calls = s.scalars(select(Call).where(Call.id >= first_id)).all()
                turns = s.scalars(select(Turn).where(Turn.call_id >= first_id, Turn.latency_ms.is_not(None))).all()
                timings = [json.loads(t.timings) for t in turns]
            done, total = sum(c.outcome == "completed" for c in calls), len(calls)
            lat = [t["latency_ms"] for t in timings]
            print(f"\n{n} concurrent call(s) x {args.rounds} rounds: completed {done}/{total}, failed {total - done} "
                  f"(softphone exit codes {rcs})")
            if lat:
                print(f"  turn latency (end of caller speech -> first IVR audio), {len(lat)} turns: "
                      f"p50 {pct(lat, 0.5):.0f} ms, p95 {pct(lat, 0.95):.0f} ms, max {max(lat):.0f} ms")
                early = sum(t.get("end_of_turn") == "early" for t in timings)
                print(f"    ended early (the transcript so far was a whole answer): {early}/{len(timings)} turns")
                for key in ("endpoint_ms", "asr_ms", "dialog_ms", "tts_first_chunk_ms", "media_ms"):
                    vals = [t[key] for t in timings]
                    print(f"    {key:<20} median {statistics.median(vals):7.1f}  max {max(vals):7.1f}")
            if server.poll() is not None:
                sys.exit(f"the server exited with {server.returncode}; see {server_log}")
            print(f"  server CPU {cpu / wall * 100:.0f}% of one core over {wall:.0f} s; "
                  f"RSS {proc_rss_mb(server.pid):.0f} MB (peak {proc_rss_mb(server.pid, 'VmHWM'):.0f} MB)")
    finally:
        server.terminate()
        server.wait(60)


if __name__ == "__main__":
    main()
