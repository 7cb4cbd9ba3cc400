"""Asterisk's recorded prompts (Debian asterisk-core-sounds-en-wav) with their transcripts, for WER."""
from __future__ import annotations

import gzip
import random
import re
from dataclasses import dataclass
from pathlib import Path

SOUNDS = Path("/usr/share/asterisk/sounds/en")
TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")


@dataclass(frozen=True)
class Prompt:
    path: Path
    text: str


def load_corpus() -> list[Prompt]:
    """Every prompt whose WAV exists and whose transcript is speech (not '[beep tone]')."""
    items = []
    with gzip.open(TRANSCRIPTS, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith(";") or ":" not in line:
                continue
            name, text = (s.strip() for s in line.split(":", 1))
            wav = SOUNDS / f"{name}.wav"
            text = re.sub(r"\[[^\]]*\]", "", text).replace("#", " pound ").replace("*", " star ").strip()
            if text and wav.is_file():
                items.append(Prompt(wav, text))
    return items


def sample(n: int, seed: int = 2026) -> list[Prompt]:
    """A fixed random sample of n prompts (same for every run)."""
    items = load_corpus()
    random.Random(seed).shuffle(items)
    return items[:n]


_normalizer = None


def wer_normalize(text: str) -> str:
    """Whisper's English normalisation, minus leftover lone punctuation."""
    global _normalizer
    if _normalizer is None:
        from whisper_normalizer.english import EnglishTextNormalizer

        _normalizer = EnglishTextNormalizer()
    return " ".join(w for w in _normalizer(text).split() if any(c.isalnum() for c in w))


def corpus_wer(refs: list[str], hyps: list[str]) -> float:
    import jiwer

    pairs = [(wer_normalize(r), wer_normalize(h)) for r, h in zip(refs, hyps)]
    pairs = [(r, h) for r, h in pairs if r]
    return jiwer.wer([r for r, _ in pairs], [h for _, h in pairs])
