"""espeak-ng (Debian package): the always-available fallback; many languages incl. Mandarin. For Mandarin the
voice `cmn-latn-pinyin` is given pinyin with tone numbers (pypinyin, which reads each character in its word:
银行 yin2 hang2); espeak-ng's own reading of characters says 银行 "yin xing" and its `cmn` voice reads tone digits
as English numbers."""
from __future__ import annotations

import io
import shutil
import subprocess
from functools import lru_cache

import numpy as np
import soundfile as sf

from .synthesizer import Synthesizer, TtsError


@lru_cache(maxsize=1)
def installed_voices() -> frozenset[str]:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise TtsError("espeak-ng is not installed (apt-get install espeak-ng)")
    out = subprocess.run([exe, "--voices"], capture_output=True, text=True, check=True).stdout.splitlines()[1:]
    names = set()
    for line in out:
        cols = line.split()
        if len(cols) >= 5:
            names.add(cols[1])          # language code, e.g. en-us, cmn, ko
            names.add(cols[4].split("/")[-1].lower())  # file name, e.g. en-us
    return frozenset(names)


class EspeakSynthesizer(Synthesizer):
    engine = "espeak"

    def __init__(self, voice: str = "en-us", words_per_minute: int = 160):
        if voice.lower().split("+")[0] not in installed_voices():   # "en-us+m3": a voice with a variant
            raise TtsError(f"unknown espeak-ng voice {voice!r} (see `espeak-ng --voices`)")
        super().__init__(voice)
        self.wpm = words_per_minute

    def render(self, sentence: str) -> tuple[np.ndarray, int]:
        if self.voice.lower().startswith("cmn-latn-pinyin"):
            sentence = to_pinyin(sentence)
        proc = subprocess.run(["espeak-ng", "-v", self.voice, "-s", str(self.wpm), "--stdout", sentence],
                              capture_output=True, timeout=30)
        if proc.returncode != 0:
            raise TtsError(f"espeak-ng failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
        data, rate = sf.read(io.BytesIO(proc.stdout), dtype="float32")
        return data * 0.8, rate


def to_pinyin(text: str) -> str:
    """Chinese characters as pinyin with tone numbers (neutral tone 5); other text as it is."""
    from pypinyin import Style, lazy_pinyin

    return " ".join(lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda s: s))
