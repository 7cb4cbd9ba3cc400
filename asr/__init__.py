"""Speech in: VAD endpointing and speech recognition (faster-whisper, Vosk)."""
from __future__ import annotations

import os
import threading

from config import IvrError, Settings, get_settings

from .audio import ASR_RATE, AudioError, load_audio
from .recognizer import Recognizer, RecognizerStream, Transcript, Word
from .vad import Endpointer, NoInput, SpeechStarted, Utterance

# CTranslate2's OpenMP threads would otherwise spin after each decode, taking CPU from other calls' audio,
# synthesis and decodes on a small host (must be set before the library loads).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ENGINES = ("whisper", "vosk")
_loaded: dict[tuple, Recognizer] = {}
_lock = threading.Lock()


def get_recognizer(engine: str | None = None, model: str | None = None,
                   settings: Settings | None = None, language: str | None = None) -> Recognizer:
    """The shared recognizer for (engine, model); loaded once per process. A `language` other than the default
    (asr.language) is recognised by its model of asr.models (multilingual Whisper), with the language forced."""
    from . import model_store

    s = settings or get_settings()
    engine = engine or s.asr.engine
    if engine not in ENGINES:
        raise IvrError(f"unknown ASR engine {engine!r}: use one of {', '.join(ENGINES)}")
    forced = language if language and language != s.asr.language else None
    if forced:
        if forced not in s.asr.models:
            raise IvrError(f"no live speech model for language {forced!r} (asr.models in config/settings.yaml)")
        engine, model = "whisper", model or s.asr.models[forced]
    model = model or (s.asr.live_model if engine == "whisper" else s.asr.vosk_model)
    key = (engine, model, forced)
    with _lock:
        if key not in _loaded:
            if engine == "whisper":
                from .whisper_backend import WhisperRecognizer

                path = model_store.whisper_model_dir(model, s.data_dir / "models")
                _loaded[key] = WhisperRecognizer(path, s.asr.device, s.asr.compute_type, s.asr.cpu_threads,
                                                 s.asr.workers, forced or s.asr.language,
                                                 s.asr.min_windows_s.get(forced, s.asr.min_window_s) if forced
                                                 else s.asr.min_window_s,
                                                 tuple(s.asr.whisper_prompt_hints), forced)
            else:
                from .vosk_backend import VoskRecognizer

                path = model_store.vosk_model_dir(model or "")
                _loaded[key] = VoskRecognizer(path, s.asr.language if model else "ko", s.asr.workers)
        return _loaded[key]


__all__ = ["ASR_RATE", "AudioError", "Endpointer", "NoInput", "Recognizer", "RecognizerStream", "SpeechStarted",
           "Transcript", "Utterance", "Word", "get_recognizer", "load_audio"]
