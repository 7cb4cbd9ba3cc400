"""Turn latency of `ivr serve` under N concurrent scripted SIP calls (the project's pjsua2 softphone).

    python bench/latency.py [--calls 1 4] [--turns 3] [--rounds 2] [--with-analyzer] [--languages en zh]

Each caller keys the PIN, then speaks requests. Two figures per spoken turn, side by side:
- server side: what `ivr serve` stores, from the end of the caller's speech to the first IVR frame it sends,
  broken down into VAD hangover, ASR, dialog (NLU + bank), TTS first chunk and media;
- caller side: from the softphone's own stereo recording (what it sent on the left, what it heard on the
  right, after its jitter buffer): end of the caller's speech -> first IVR audio, in 10 ms energy frames.
Prints p50/p95/max, calls completed/failed, server CPU and RSS.
Targets (2 cores, 4 concurrent calls, caller side): p50 <= 450 ms, p95 <= 700 ms, zero failures.
--with-analyzer measures each N again with `ivr analyze --follow` busy re-transcribing a backlog of recorded
calls beside the live ones (target: p95 within 15 % of without).
--languages en zh measures Mandarin calls too (sip:bank-zh@, the softphone speaking Mandarin in the zh voice,
heard by Whisper base with the language forced; target: zh turns within 1.5x the English ones).
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

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
IVR = str(Path(sys.executable).with_name("ivr"))
CALLERS = [("+15550100", "2468#"), ("+15550101", "1357#")]
REQUESTS = {"en": ["what is my balance", "I want to hear my recent transactions", "when are you open on saturday"],
            "zh": ["我想查一下余额", "最近的交易记录", "你们周六几点开门"]}
GOODBYE = {"en": "goodbye", "zh": "再见"}
USERS = {"en": "bank", "zh": "bank-zh"}


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


def energy_db(x: np.ndarray, rate: int = 8000, frame_s: float = 0.01) -> np.ndarray:
    n = int(rate * frame_s)
    frames = x[: len(x) // n * n].reshape(-1, n).astype(np.float64)
    return 10 * np.log10((frames**2).mean(axis=1) + 1e-12)


def caller_side_latencies(wav: Path, floor_db: float = -45.0, gap_s: float = 0.5) -> list[float]:
    """Per spoken caller turn in a softphone recording: end of caller speech (left) -> first IVR audio (right),
    where the IVR was quiet when the caller stopped (a turn spoken over a prompt is left out)."""
    audio, rate = sf.read(str(wav), dtype="float32")
    left, right = energy_db(audio[:, 0], rate) > floor_db, energy_db(audio[:, 1], rate) > floor_db
    voiced = np.flatnonzero(left)
    if not len(voiced):
        return []
    ends = [voiced[i] for i in range(len(voiced)) if i + 1 == len(voiced) or voiced[i + 1] - voiced[i] > gap_s * 100]
    out = []
    for end in ends:
        if right[max(0, end - 5): end + 1].any():
            continue
        onset = np.flatnonzero(right[end + 1:])
        if len(onset):
            out.append((onset[0] + 1) * 10.0)
    return out


def run_calls(n: int, port: int, env: dict, turns: int, record_dir: Path, language: str = "en") -> list[int]:
    """Start n scripted softphone calls 0.3 s apart, each recording what it sent and heard; wait for all;
    return their exit codes."""
    procs = []
    for i in range(n):
        ani, pin = CALLERS[i % len(CALLERS)]
        steps = ["--dtmf", pin]
        for req in REQUESTS[language][:turns]:
            steps += ["--say", req]
        steps += ["--say", GOODBYE[language], "--language", language]
        record = record_dir / f"call-{time.monotonic_ns()}.wav"
        procs.append(subprocess.Popen([IVR, "call", f"sip:{USERS[language]}@127.0.0.1:{port}", "--ani", ani, *steps,
                                       "--record", str(record), "--no-transcribe", "--json"], env=env,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
        time.sleep(0.3)
    return [p.wait(600) for p in procs]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--turns", type=int, default=3, help="spoken requests per call")
    ap.add_argument("--rounds", type=int, default=2, help="batches of N concurrent calls, one after the other")
    ap.add_argument("--with-analyzer", action="store_true", help="measure again with the analyzer busy")
    ap.add_argument("--languages", nargs="+", choices=["en", "zh"], default=["en"], help="the calls' language(s)")
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    port = free_port()
    env = {**os.environ, "IVR_DATA_DIR": str(data), "IVR_TELEPHONY__RTP_PORT": str(free_port() // 2 * 2)}
    subprocess.run([IVR, "db", "init", "--demo"], env=env, check=True, capture_output=True)
    for language in args.languages:
        subprocess.run([IVR, "prompts", "render", "--language", language], env=env, check=True, capture_output=True)
    server_log = data / "serve.log"
    with server_log.open("w") as out:
        server = subprocess.Popen([IVR, "serve", "--sip-port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while "IVR listening" not in server_log.read_text():
        if server.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"server did not start; see {server_log}")
        time.sleep(0.5)
    from sqlalchemy import select

    from sqlalchemy import func

    from models import Analysis, Call, Turn, make_engine, session_factory

    sessions = session_factory(make_engine(f"sqlite:///{data}/ivr.sqlite3"))
    print(f"ivr serve on 127.0.0.1:{port}; {os.cpu_count()} CPU cores; {args.turns} spoken turns per call")
    def measure(n: int, label: str, language: str = "en") -> float | None:
        """Run the calls; print the figures; return the caller-side p95 (ms)."""
        with sessions() as s:
            first_id = (s.scalar(select(Call.id).order_by(Call.id.desc()).limit(1)) or 0) + 1
        cpu0, t0 = proc_cpu_s(server.pid), time.monotonic()
        rcs, records = [], data / f"records-{n}-{label}"
        records.mkdir()
        for _ in range(args.rounds):
            rcs += run_calls(n, port, env, args.turns, records, language)
        wall, cpu = time.monotonic() - t0, proc_cpu_s(server.pid) - cpu0
        time.sleep(1.0)
        with sessions() as s:
            calls = s.scalars(select(Call).where(Call.id >= first_id, Call.channel == "sip")).all()
            turns = s.scalars(select(Turn).where(Turn.call_id.in_([c.id for c in calls]),
                                                 Turn.latency_ms.is_not(None))).all()
            timings = [t.timings if isinstance(t.timings, dict) else json.loads(t.timings) for t in turns
                       if t.text != "[PIN]" and not t.text.startswith("dtmf:")]
        done, total = sum(c.outcome == "completed" for c in calls), len(calls)
        lat = [t["latency_ms"] for t in timings]
        heard = [ms for wav in sorted(records.glob("*.wav")) for ms in caller_side_latencies(wav)]
        medians[(n, language)] = (pct(heard, 0.5), pct(heard, 0.95)) if heard else None
        print(f"\n{n} concurrent call(s) x {args.rounds} rounds, {label}: completed {done}/{total}, "
              f"failed {total - done} (softphone exit codes {rcs})")
        if lat:
            print("  turn latency, end of caller speech -> first IVR audio (spoken turns):")
            print(f"    server side, {len(lat):3d} turns: p50 {pct(lat, 0.5):4.0f} ms, p95 {pct(lat, 0.95):4.0f} ms, "
                  f"max {max(lat):4.0f} ms")
            if heard:
                print(f"    caller side, {len(heard):3d} turns: p50 {pct(heard, 0.5):4.0f} ms, "
                      f"p95 {pct(heard, 0.95):4.0f} ms, max {max(heard):4.0f} ms   (softphone recordings)")
            early = sum(t.get("end_of_turn") == "early" for t in timings)
            print(f"    ended early (the transcript so far was a whole answer): {early}/{len(timings)} turns")
            for key in ("endpoint_ms", "asr_ms", "dialog_ms", "tts_first_chunk_ms", "media_ms"):
                vals = [t[key] for t in timings]
                print(f"    {key:<20} median {statistics.median(vals):7.1f}  max {max(vals):7.1f}")
        if server.poll() is not None:
            sys.exit(f"the server exited with {server.returncode}; see {server_log}")
        print(f"  server CPU {cpu / wall * 100:.0f}% of one core over {wall:.0f} s; "
              f"RSS {proc_rss_mb(server.pid):.0f} MB (peak {proc_rss_mb(server.pid, 'VmHWM'):.0f} MB)")
        return pct(heard, 0.95) if heard else None

    analyzer = None
    medians: dict = {}
    try:
        for language in args.languages[1:]:
            for n in args.calls:
                measure(n, f"{language} calls", language)
        without = {n: measure(n, "no analyzer" if args.with_analyzer else args.languages[0], args.languages[0])
                   for n in args.calls}
        for language in args.languages[1:]:
            for n in args.calls:
                ours, base = medians.get((n, language)), medians.get((n, args.languages[0]))
                if ours and base:
                    print(f"\n{language} / {args.languages[0]}, {n} call(s), caller side: p50 {ours[0] / base[0]:.2f}x, "
                          f"p95 {ours[1] / base[1]:.2f}x   (target <= 1.5x)")
        if args.with_analyzer:
            analyzer, backlog = start_analyzer(data, env, sessions)
            busy = {n: measure(n, "analyzer busy") for n in args.calls}
            cpu = proc_cpu_s(analyzer.pid)
            with sessions() as s:
                analysed = s.scalar(select(func.count()).select_from(Analysis).where(Analysis.status == "done"))
            print(f"\nanalyzer: {analysed} calls analysed of a backlog of {backlog} recorded calls plus the live ones, "
                  f"{cpu:.0f} s CPU (nice 19, 1 model thread)")
            for n in args.calls:
                if without[n] and busy[n]:
                    print(f"  {n} concurrent call(s): caller-side p95 {without[n]:.0f} ms without, {busy[n]:.0f} ms with "
                          f"the analyzer busy: {(busy[n] / without[n] - 1) * 100:+.0f} %   (target within +15 %)")
    finally:
        if analyzer is not None:
            analyzer.terminate()
            analyzer.wait(60)
        server.terminate()
        server.wait(60)


def start_analyzer(data: Path, env: dict, sessions, backlog: int = 40):
    """`ivr analyze --follow` with a backlog of recorded agent calls to re-transcribe: busy for the whole run."""
    from analytics.importer import import_files
    from bench.agent_call import build_agent_call

    wav = data / "agent-call.wav"
    build_agent_call(wav)
    import_files(sessions, [str(wav)] * backlog, data / "recordings")
    log = (data / "analyzer.log").open("w")
    proc = subprocess.Popen([IVR, "analyze", "--follow"], env=env, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(15)                                    # it has loaded its models and is transcribing
    return proc, backlog


if __name__ == "__main__":
    main()
