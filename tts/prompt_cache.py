"""Prompt cache: static prompts rendered once to WAV files under the data dir and served from disk."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import soundfile as sf
import numpy as np
from config import CONFIG_DIR, IvrError, load_yaml

from .normalize import normalize
from .synthesizer import Synthesizer, split_for_speech

PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def load_prompts(language: str = "en") -> dict[str, str]:
    """config/prompts/<language>.yaml: {name: text}."""
    path = CONFIG_DIR / "prompts" / f"{language}.yaml"
    data = load_yaml(path, "prompts")
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise IvrError(f"{path}: expected a mapping of prompt name to text")
    return data


LINE_RATE = 8000   # calls carry G.711 at 8 kHz: the cache holds prompts at the line's rate


class PromptCache:
    """WAV files keyed by (engine, voice, rate, text); any text already rendered plays without synthesis."""

    def __init__(self, root: Path, synth: Synthesizer, rate: int):
        self.dir = root / "prompts" / f"{synth.engine}-{Path(synth.voice).stem}-{rate}"
        self.synth, self.rate = synth, rate

    def path_for(self, text: str) -> Path:
        key = hashlib.sha256(f"{self.synth.engine}|{self.synth.voice}|{self.rate}|{text}".encode()).hexdigest()
        return self.dir / f"{key[:32]}.wav"

    def get(self, text: str) -> bytes | None:
        path = self.path_for(text)
        if not path.is_file():
            return None
        data, _ = sf.read(str(path), dtype="int16")
        return data.astype("<i2").tobytes()

    def render(self, text: str) -> Path:
        path = self.path_for(text)
        if not path.is_file():
            pcm = np.frombuffer(self.synth.synthesize(text, self.rate), dtype="<i2")
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.wav")
            sf.write(str(tmp), pcm, self.rate, subtype="PCM_16")
            tmp.replace(path)
        return path

    def render_all(self, prompts: dict[str, str]) -> dict[str, Path]:
        return {name: self.render(text) for name, text in prompts.items()}

    def warm_openings(self, prompts: dict[str, str]) -> int:
        """Synthesize the opening phrase of each filled-in prompt ("The balance of your {kind} account...") into
        the synthesizer's phrase cache when it does not depend on the values, so that the first audio of a live
        reply needs no synthesis. Returns how many phrases were cached."""
        openings = set()
        for text in prompts.values():
            if PLACEHOLDER.search(text):
                firsts = {split_for_speech(normalize(PLACEHOLDER.sub(value, text), self.synth.language))[0]
                          for value in ("savings", "12")}
                if len(firsts) == 1:
                    openings |= firsts
        for piece in openings:
            if self.synth.phrases.get(piece, self.rate) is None:
                self.synth.cache_phrase(piece, self.rate)
        return len(openings)
