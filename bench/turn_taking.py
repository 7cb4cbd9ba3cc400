"""Semantic end of turn: how much sooner it answers, and how often it cuts a caller who only paused.

    python bench/turn_taking.py [--pauses 250 300 350]

Replays banking requests (espeak-ng caller voice, 8 kHz, at the main menu) frame by frame through the VAD
endpointer, the live recognizer (its real decode time on this machine moves the decision later) and the dialog's
`completes_turn`, as a call does: recognition starts after `speculate_ms` of silence, and the turn ends after
`early_end_ms` when the transcript so far is a whole answer, else after the full hangover. Prints, for whole
requests, how many ended early and the silence waited; for requests with a pause inside, how many were cut at
the pause (the VAD hangover alone cuts none of them while the pause is shorter than the hangover).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr import get_recognizer  # noqa: E402
from asr.audio import ASR_RATE, pcm16_to_float, resample  # noqa: E402
from asr.vad import Endpointer, Utterance  # noqa: E402
from config import Settings, get_settings  # noqa: E402
from tts import get_synthesizer  # noqa: E402

RATE = 8000
# (what a caller says first, what may follow after a pause)
REQUESTS = [
    ("what is my balance", "on the savings account"), ("I lost my card", "yesterday at the mall"),
    ("when are you open", "on saturday"), ("I want to transfer money", "from checking to savings"),
    ("check my balance", "please"), ("I need to speak to someone", "about a charge"),
    ("tell me my recent transactions", "on my checking account"), ("I want to", "check my balance"),
    ("can you tell me", "my balance"), ("my card was", "stolen"), ("I'd like to hear", "my last transactions"),
    ("what's the balance", "of my savings"), ("how much money do I have", "in savings"),
    ("I want to report", "a lost card"), ("transfer", "two hundred dollars to savings"), ("goodbye", "and thank you"),
]


def trimmed(pcm: bytes) -> bytes:
    """Without the synthesizer's leading and trailing silence, so that a pause is as long as stated."""
    x = np.frombuffer(pcm, dtype="<i2")
    loud = np.flatnonzero(np.abs(x) > 300)
    return x[loud[0] : loud[-1] + 1].tobytes() if len(loud) else b""


def frames(pcm: bytes, size: int) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm) - size + 1, size)]


def end_of_turn(pcm: bytes, settings: Settings, recognizer, session) -> tuple[str, int, int]:
    """Replay one caller turn; return (how it ended, frame index of the decision, last voiced frame)."""
    vad = settings.vad
    ep = Endpointer(vad, RATE)
    speculation = None  # (last voiced frame, frame index when its transcript is ready, text)
    for i, frame in enumerate(frames(pcm, ep.frame_bytes)):
        events = ep.process(frame)
        silence = ep.trailing_silence_ms
        if speculation and ep.in_speech and silence == 0:
            speculation = None
        if ep.in_speech and silence == vad.speculate_ms:
            audio, last_voiced = ep.audio_so_far()
            start = time.perf_counter()
            text = recognizer.transcribe(resample(pcm16_to_float(audio), RATE, ASR_RATE), word_timestamps=False).text
            ready = i + int((time.perf_counter() - start) * 1000 // vad.frame_ms) + 1
            speculation = (last_voiced, ready, text)
        for event in events:
            if isinstance(event, Utterance):
                return "hangover", i, event.end_frame
        if (speculation and ep.in_speech and i >= speculation[1] and silence >= vad.early_end_ms
                and speculation[0] == ep.last_voiced_frame and session.completes_turn(speculation[2])):
            return "early", i, speculation[0]
    return "none", -1, -1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pauses", type=int, nargs="+", default=[250, 300, 350], help="pause inside a request, ms")
    args = ap.parse_args()
    from ivr.app import App
    from models.demo import seed_demo
    from models.migrate import upgrade

    data = Path(tempfile.mkdtemp(prefix="ivr-turns-"))
    settings = get_settings()
    app = App(Settings(data_dir=data, database_url=f"sqlite:///{data}/bank.sqlite3"))
    upgrade(app.engine)
    seed_demo(app.sessions())
    session = app.new_session("+15550100")
    session.start()
    session.ctx.state = "main_menu"  # as after the PIN: what the caller answers is "How can I help you?"
    recognizer = get_recognizer()
    voice = get_synthesizer("espeak")
    speak = {text: trimmed(voice.synthesize(text, RATE)) for pair in REQUESTS for text in pair}
    speak |= {f"{a} {b}": trimmed(voice.synthesize(f"{a} {b}", RATE)) for a, b in REQUESTS}
    lead, tail = b"\0" * (RATE // 2 * 2), b"\0" * (RATE * 2)
    vad = settings.vad
    print(f"speculate after {vad.speculate_ms} ms of silence, end early after >= {vad.early_end_ms} ms, "
          f"hangover {vad.hangover_ms} ms; {len(REQUESTS)} requests, espeak-ng caller, main menu")

    waited, early = [], 0
    for a, b in REQUESTS:
        how, at, last_voiced = end_of_turn(lead + speak[f"{a} {b}"] + tail, settings, recognizer, session)
        early += how == "early"
        waited.append((at - last_voiced) * vad.frame_ms)
    print(f"  whole requests: ended early {early}/{len(REQUESTS)}; silence waited median {statistics.median(waited):.0f} ms,"
          f" max {max(waited)} ms (hangover alone: {vad.hangover_ms} ms)")

    for pause_ms in args.pauses:
        gap = b"\0" * (RATE * pause_ms // 1000 * 2)
        cut = []
        for a, b in REQUESTS:
            first_end = len(lead + speak[a] + gap) // (vad.frame_ms * RATE // 1000 * 2)
            how, at, _ = end_of_turn(lead + speak[a] + gap + speak[b] + tail, settings, recognizer, session)
            if 0 <= at < first_end:
                cut.append(f"{a!r} ({how})")
        print(f"  pause of {pause_ms} ms inside: cut at the pause {len(cut)}/{len(REQUESTS)}"
              + (f": {', '.join(cut)}" if cut else ""))


if __name__ == "__main__":
    main()
