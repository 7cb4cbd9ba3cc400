"""edge-tts (online neural voices). Every result is cached on disk by (engine, voice, text); when the service
cannot be reached within a short timeout, the offline fallback speaks instead and one warning is logged."""
from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import math
import re
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from .synthesizer import Synthesizer, TtsError

log = logging.getLogger(__name__)
_VOICE = re.compile(r"^[a-z]{2,3}-[A-Z][A-Za-z]+-\w+Neural$")
RETRY_AFTER_S = 60.0  # after a failure, do not wait on the network again for this long


class EdgeSynthesizer(Synthesizer):
    engine = "edge"

    def __init__(self, voice: str, cache_dir: Path, fallback: Synthesizer, timeout_s: float = 3.0):
        if not _VOICE.match(voice):
            raise TtsError(f"unknown edge-tts voice {voice!r}: expected a name like en-US-AriaNeural")
        super().__init__(voice)
        self.cache_dir = cache_dir / "edge"
        self.fallback = fallback
        self.timeout_s = timeout_s
        self._offline_until = 0.0
        self._warned = False

    def _cache_file(self, sentence: str) -> Path:
        key = hashlib.sha256(f"edge|{self.voice}|{sentence}".encode()).hexdigest()
        return self.cache_dir / f"{key}.mp3"

    async def _fetch(self, sentence: str) -> bytes:
        import edge_tts

        seconds = max(1, math.ceil(self.timeout_s))  # edge-tts takes whole seconds
        comm = edge_tts.Communicate(sentence, self.voice, connect_timeout=seconds, receive_timeout=seconds)
        audio = bytearray()
        async for chunk in comm.stream():
            if chunk["type"] == "audio":
                audio += chunk["data"]
        return bytes(audio)

    def _download(self, sentence: str) -> bytes | None:
        if time.monotonic() < self._offline_until:
            return None
        try:
            mp3 = asyncio.run(asyncio.wait_for(self._fetch(sentence), self.timeout_s))
            if not mp3:
                raise TtsError("edge-tts returned no audio")
            return mp3
        except Exception as err:  # network down, DNS, TLS, service error: all mean "use the fallback"
            self._offline_until = time.monotonic() + RETRY_AFTER_S
            if not self._warned:
                self._warned = True
                log.warning("edge-tts unreachable (%s); speaking with %s instead",
                            type(err).__name__, self.fallback.engine)
            return None

    def render(self, sentence: str) -> tuple[np.ndarray, int]:
        cached = self._cache_file(sentence)
        if cached.is_file():
            mp3 = cached.read_bytes()
        else:
            mp3 = self._download(sentence)
            if mp3 is None:
                return self.fallback.render(sentence)
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_suffix(".tmp")
            tmp.write_bytes(mp3)
            tmp.replace(cached)
        data, rate = sf.read(io.BytesIO(mp3), dtype="float32", always_2d=True)
        return data.mean(axis=1), rate
