"""TTS benchmark: time to first audio chunk and real-time factor per engine, and a prompt-cache hit.

    python bench/tts.py
Target on a 2-core CPU: Piper first audio <= 150 ms for a one-sentence prompt.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import Settings  # noqa: E402
from tts import PromptCache, get_synthesizer  # noqa: E402

PROMPTS = [
    "Your checking account ending 4321 has a balance of $2,450.75.",
    "Please enter your four digit PIN, followed by the pound key.",
    "I have blocked your debit card ending 1111, and your reference number is 508213.",
    "Our branches are open Monday to Friday from 9:00 to 17:00, and Saturday from 9:00 to 13:00.",
    "Is there anything else I can help you with?",
]
RATE = 8000


def measure(synth, rounds: int = 3) -> tuple[float, float, float]:
    list(synth.stream("Warm up.", RATE))
    synth.phrases.clear()
    firsts, rtfs = [], []
    for _ in range(rounds):
        for text in PROMPTS:
            synth.phrases.clear()  # measure synthesis, not the live phrase cache
            start = time.perf_counter()
            stream = synth.stream(text, RATE)
            first = next(stream)
            firsts.append(time.perf_counter() - start)
            total = len(first) + sum(len(c) for c in stream)
            rtfs.append((time.perf_counter() - start) / (total / 2 / RATE))
    return statistics.median(firsts), max(firsts), statistics.median(rtfs)


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    settings = Settings(data_dir=tmp, tts={"edge_timeout_s": 2.0})
    print(f"{len(PROMPTS)} one-sentence banking prompts at {RATE} Hz, medians over 3 rounds")
    for engine in ("piper", "espeak", "edge"):
        synth = get_synthesizer(engine, None, settings)
        first, worst, rtf = measure(synth)
        note = " (offline here: falls back to piper after one failed connect)" if engine == "edge" else ""
        print(f"  {engine:<7} first audio {first * 1000:4.0f} ms (max {worst * 1000:4.0f} ms)   RTF {rtf:.3f}{note}", flush=True)
    cache = PromptCache(tmp, get_synthesizer("piper", None, settings), RATE)
    cache.render(PROMPTS[-1])
    start = time.perf_counter()
    for _ in range(20):
        cache.get(PROMPTS[-1])
    print(f"  prompt cache hit: {(time.perf_counter() - start) / 20 * 1000:.1f} ms to the whole prompt")


if __name__ == "__main__":
    main()
