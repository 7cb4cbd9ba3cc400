"""Side by side with Pipecat: the same caller turns through both, turn latency and accuracy as a ratio in one run.

    make peers                          # once: .venv-peers (the project's packages + requirements-peers.txt)
    .venv-peers/bin/python bench/peers.py [--quick] [--sides ours,pipecat,pipecat-fast]

A scripted caller (bench/peers_caller.py) says whole banking conversations (PIN, a request, yes/no, goodbye;
development phrasings, Piper's voice, 8 kHz) in real time, 20 ms frames, into:
- ours: the per-call stages exactly as `ivr serve` runs them (bench/peers_ours.py), no SIP;
- pipecat: an idiomatic Pipecat pipeline of the same job (bench/peers_pipecat.py): Silero VAD, the smart-turn
  v3 model, WhisperSTTService on the same tiny.en weights, a processor that asks our dialog for the reply (the
  same words), PiperTTSService with the same voice;
- pipecat-fast: the same with a shorter VAD stop time (a setting of theirs that makes them answer sooner).
Each side runs alone, in its own process, on a fresh demo bank. Per turn: end of the caller's audio -> first
voiced reply audio; cut (the reply began while the caller was still speaking), missed (no reply in 10 s), wrong
(the reply is not the one the dialog gives the script's words; digits masked: reference numbers differ).
Prints p50 / p95 / max latency, cut, missed, wrong turns, CPU seconds per turn and peak RSS per side, and last
`ratio ours/pipecat p50 <x.xx> p95 <y.yy>`. Target: ours <= 0.7 x Pipecat at p50 and p95, no more cut or wrong.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ALEX, PRIYA = ("+15550100", "two four six eight"), ("+15550101", "one three five seven")
# (caller, what they say after the PIN): development phrasings (tests/data/nlu_dev.yaml), never the held-out table
CONVERSATIONS = [
    (ALEX, ["um what's my account balance", "no thanks"]),
    (ALEX, ["move one thousand dollars into savings", "yeah that's right", "no"]),
    (ALEX, ["list my latest transactions", "no that's all"]),
    (PRIYA, ["I need to report a stolen card", "the credit one", "yes", "no"]),
    (ALEX, ["what are the branch opening hours", "no thank you"]),
]
QUICK = 2


def script(quick: bool) -> list[tuple[str, list[str]]]:
    chosen = CONVERSATIONS[:QUICK] if quick else CONVERSATIONS
    return [(ani, [pin, *said]) for (ani, pin), said in chosen]


def masked(text: str) -> str:
    """Reference numbers differ between runs (and are stored redacted): digits and redaction marks as '#'."""
    text = re.sub(r"\[[A-Z]+\]", "#", text)
    return re.sub(r"\d+", "#", re.sub(r"\b\d( \d)+\b", "#", text)).strip().lower()


def demo_bank() -> dict:
    """A fresh data dir with the demo bank and rendered prompts; the environment for a side."""
    data = Path(tempfile.mkdtemp(prefix="peers-"))
    env = {**os.environ, "IVR_DATA_DIR": str(data), "IVR_LOG_LEVEL": "WARNING"}
    ivr = str(Path(sys.executable).parent / "ivr")
    if not Path(ivr).exists():
        ivr = str(ROOT / ".venv" / "bin" / "ivr")
    for cmd in (["db", "init", "--demo"], ["prompts", "render"]):
        subprocess.run([ivr, *cmd], env=env, check=True, capture_output=True)
    return env


def expected_replies(conversations) -> list[list[str]]:
    """What the dialog answers the script's own words (text in, no audio), on a fresh demo bank."""
    env = demo_bank()
    code = ("import json, sys\nfrom bench.peers import text_replies\n"
            "print(json.dumps(text_replies(json.loads(sys.stdin.read()))))")
    r = subprocess.run([sys.executable, "-c", code], input=json.dumps(conversations), env=env, cwd=ROOT,
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def text_replies(conversations) -> list[list[str]]:
    from ivr.app import get_app
    from ivr.session import CallerSaid, Say

    app = get_app()
    out = []
    for ani, said in conversations:
        _, session = app.open_call(ani, "chat")
        session.start()
        out.append([" ".join(a.text for a in session.handle(CallerSaid(text)) if isinstance(a, Say)) for text in said])
    return out


def clips(conversations, work: Path) -> dict[str, str]:
    """Each distinct utterance spoken by Piper at 8 kHz, as a WAV file; {words: path}."""
    import soundfile as sf
    import numpy as np

    from tts import get_synthesizer

    synth = get_synthesizer("piper", "en_US-joe-medium")
    paths = {}
    for _, said in conversations:
        for text in said:
            if text not in paths:
                path = work / f"say-{len(paths):02d}.wav"
                pcm = np.frombuffer(synth.synthesize(text, 8000), np.int16)
                sf.write(str(path), pcm, 8000, subtype="PCM_16")
                paths[text] = str(path)
    return paths


def run_side(side: str, conversations, paths: dict[str, str]) -> dict:
    """One side in its own process on a fresh demo bank: per-turn results, CPU seconds and peak RSS."""
    env = demo_bank()
    job = json.dumps({"side": side, "conversations": conversations, "clips": paths})
    r = subprocess.run([sys.executable, str(Path(__file__)), "--run-side"], input=job, env=env, cwd=ROOT,
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        sys.exit(f"peers: side {side} failed: {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.splitlines()[-1])


def side_main() -> None:
    """In the side's process: run every conversation, print one JSON line."""
    import soundfile as sf

    from bench.peers_caller import Caller

    job = json.loads(sys.stdin.read())
    side, audio = job["side"], {k: sf.read(v, dtype="int16")[0].tobytes() for k, v in job["clips"].items()}
    if side == "ours":
        from bench import peers_ours as impl
    else:
        from bench import peers_pipecat as impl
    ready = impl.services() if side == "ours" else impl.services(fast=side == "pipecat-fast")
    cpu0 = _cpu()
    turns, replies, heard = [], [], []
    for ani, said in job["conversations"]:
        caller = Caller([(text, audio[text]) for text in said])
        got, words = impl.converse(ready, ani, caller)
        replies.append(got)
        heard.append(words)
        turns.append([{"said": t.said, "latency_ms": t.latency_ms, "cut": t.cut} for t in caller.turns])
    print(json.dumps({"turns": turns, "replies": replies, "heard": heard, "cpu_s": round(_cpu() - cpu0, 2),
                      "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))


def _cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def summary(name: str, result: dict, expected: list[list[str]]) -> dict:
    lat, cut, missed, wrong, n = [], 0, 0, 0, 0
    for turns, got, want in zip(result["turns"], result["replies"], expected):
        for k, t in enumerate(turns):
            n += 1
            cut += t["cut"]
            if t["latency_ms"] is None:
                missed += 1
            else:
                lat.append(t["latency_ms"])
            if k >= len(got) or masked(got[k]) != masked(want[k]):
                wrong += 1
    q = statistics.quantiles(lat, n=20, method="inclusive") if len(lat) >= 2 else lat * 19
    return {"side": name, "turns": n, "p50": statistics.median(lat) if lat else None, "p95": q[18] if lat else None,
            "max": max(lat) if lat else None, "cut": cut, "missed": missed, "wrong": wrong,
            "cpu_per_turn": result["cpu_s"] / max(1, n), "rss_mb": result["rss_mb"]}


def main() -> None:
    if "--run-side" in sys.argv:
        side_main()
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"the first {QUICK} conversations only")
    ap.add_argument("--sides", default="ours,pipecat,pipecat-fast")
    args = ap.parse_args()
    conversations = script(args.quick)
    work = Path(tempfile.mkdtemp(prefix="peers-clips-"))
    paths = clips(conversations, work)
    expected = expected_replies(conversations)
    rows, details = [], {}
    for side in args.sides.split(","):
        started = time.monotonic()
        result = run_side(side, conversations, paths)
        details[side] = result
        rows.append(summary(side, result, expected))
        print(f"{side}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(f"{len(conversations)} conversations, {rows[0]['turns']} caller turns each side, 2 CPU cores "
          f"({os.cpu_count()} visible); latency = end of caller audio -> first voiced reply audio")
    print(f"{'side':14} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} {'cut':>4} {'missed':>6} {'wrong':>5} "
          f"{'CPU s/turn':>10} {'RSS MB':>7}")
    for r in rows:
        print(f"{r['side']:14} {r['p50'] or 0:7.0f} {r['p95'] or 0:7.0f} {r['max'] or 0:7.0f} {r['cut']:4d} "
              f"{r['missed']:6d} {r['wrong']:5d} {r['cpu_per_turn']:10.2f} {r['rss_mb']:7d}")
    for side, result in details.items():
        for turns, got, want, heard in zip(result["turns"], result["replies"], expected, result["heard"]):
            for k, t in enumerate(turns):
                if k >= len(got) or masked(got[k]) != masked(want[k]) or t["latency_ms"] is None or t["cut"]:
                    print(f"  {side}: said {t['said']!r}, heard {heard[k] if k < len(heard) else None!r}, "
                          f"{t['latency_ms']} ms{', cut' if t['cut'] else ''}: replied "
                          f"{got[k] if k < len(got) else None!r}, the dialog's reply {want[k]!r}")
    by = {r["side"]: r for r in rows}
    if "ours" in by and "pipecat" in by and by["pipecat"]["p50"]:
        print(f"ratio ours/pipecat p50 {by['ours']['p50'] / by['pipecat']['p50']:.2f} "
              f"p95 {by['ours']['p95'] / by['pipecat']['p95']:.2f}")


if __name__ == "__main__":
    main()
