"""ASR benchmark on Asterisk's recorded prompts (real 8 kHz IVR speech): WER, real-time factor, VAD hangover.

    python bench/asr.py [--n N] [--n-slow N]

Prints WER (Whisper English normalisation) and RTF for tiny.en (live, short-window path), tiny.en on the
standard 30 s path, base (accurate), and the latency for a ~3 s utterance; then a VAD hangover sweep.
Targets on a 2-core CPU: live WER <= 6 %, RTF <= 0.15 for a 3 s utterance.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr import get_recognizer, load_audio  # noqa: E402
from asr.audio import float_to_pcm16  # noqa: E402
from asr.vad import split_utterances  # noqa: E402
from bench.corpus import corpus_wer, load_corpus, sample  # noqa: E402
from config import VadSettings  # noqa: E402


def run_wer(label: str, transcribe, items) -> None:
    audios = [load_audio(p.path) for p in items]
    transcribe(audios[0])  # warm-up
    hyps, spent = [], 0.0
    for a in audios:
        start = time.perf_counter()
        hyps.append(transcribe(a))
        spent += time.perf_counter() - start
    audio_s = sum(len(a) for a in audios) / 16000
    wer = corpus_wer([p.text for p in items], hyps)
    print(f"{label:<34} files={len(items):>4}  audio={audio_s:7.1f}s  WER={wer * 100:5.2f}%  RTF={spent / audio_s:.3f}",
          flush=True)


def three_second_latency(rec, items) -> None:
    audios = [a for a in (load_audio(p.path) for p in items[:300]) if 2.5 <= len(a) / 16000 <= 3.5][:20]
    rec.transcribe(audios[0], word_timestamps=False)
    times = []
    for a in audios:
        start = time.perf_counter()
        rec.transcribe(a, word_timestamps=False)
        times.append((time.perf_counter() - start, len(a) / 16000))
    lat = statistics.median(t for t, _ in times)
    rtf = statistics.median(t / d for t, d in times)
    print(f"3 s utterances (n={len(times)}): median latency {lat * 1000:.0f} ms, median RTF {rtf:.3f}  (target <= 0.15)")


def hangover_sweep(items) -> None:
    print("\nVAD hangover sweep (8 kHz prompts, several words each): a prompt cut in two = a false end of turn")
    multi = [p for p in items if len(p.text.split()) >= 4][:200]
    pcms = [float_to_pcm16(load_audio(p.path, 8000)) for p in multi]
    for hangover in (200, 300, 400, 500, 600, 800):
        cfg = VadSettings(hangover_ms=hangover)
        split = sum(len(split_utterances(pcm, cfg, 8000)) > 1 for pcm in pcms)
        print(f"  hangover {hangover:>4} ms: {split:>3}/{len(pcms)} prompts split ({split / len(pcms) * 100:4.1f}%); "
              f"adds {hangover} ms to every turn")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=0, help="prompts for the live model (0 = the whole corpus)")
    ap.add_argument("--n-slow", type=int, default=120, help="prompts for the slower configurations")
    args = ap.parse_args()
    corpus = load_corpus()
    live_items = sample(args.n) if args.n else corpus
    slow_items = sample(args.n_slow)
    print(f"Asterisk corpus: {len(corpus)} prompts; CPU cores: {os.cpu_count()}\n")

    live = get_recognizer("whisper", "live")
    print(f"device={live.device} compute_type={live.compute_type}")
    run_wer("tiny.en live (short window)", lambda a: live.transcribe(a, word_timestamps=False).text, live_items)
    run_wer("tiny.en standard 30 s window", lambda a: live._decode_long(a, None, "en", False).text, slow_items)
    run_wer("tiny.en live, same sample", lambda a: live.transcribe(a, word_timestamps=False).text, slow_items)
    accurate = get_recognizer("whisper", "accurate")
    run_wer("base accurate (short window)", lambda a: accurate.transcribe(a, language="en", word_timestamps=False).text,
            slow_items)
    three_second_latency(live, corpus)
    vosk_model = os.environ.get("IVR_ASR__VOSK_MODEL")
    if vosk_model and os.environ.get("IVR_ASR__LANGUAGE", "en") == "en":
        vosk = get_recognizer("vosk", vosk_model)
        run_wer("vosk (configured English model)", lambda a: vosk.transcribe(a).text, slow_items)
    else:
        print("vosk: only the Korean model is installed; English WER needs IVR_ASR__VOSK_MODEL (an English model)")
    hangover_sweep(corpus)


if __name__ == "__main__":
    main()
