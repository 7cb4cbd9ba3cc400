"""Speech out: synthesizers (piper, espeak-ng, edge-tts), banking text normalisation, prompt cache."""
from __future__ import annotations

from config import Settings, get_settings, model_cache

from .normalize import normalize
from .prompt_cache import PromptCache, load_prompts
from .synthesizer import Synthesizer, TtsError

ENGINES = ("piper", "espeak", "edge", "kokoro")


def _default_voice(engine: str, s: Settings) -> str:
    return {"piper": s.tts.piper_voice, "espeak": s.tts.espeak_voice, "edge": s.tts.edge_voice}[engine]


def get_synthesizer(engine: str | None = None, voice: str | None = None, settings: Settings | None = None,
                    language: str | None = None) -> Synthesizer:
    """A synthesizer for `engine`/`voice` (defaults from settings); edge-tts wraps the offline fallback. A language
    other than the default one (settings.languages[0]) speaks with its voice of tts.languages."""
    s = settings or get_settings()
    if language and language != s.languages[0]:
        return _language_synthesizer(language, engine, voice, s)
    engine = engine or s.tts.engine
    _check(engine)
    voice = voice or (s.tts.voice if engine == s.tts.engine and s.tts.voice else _default_voice(engine, s))
    return _build(engine, voice, s, lambda: get_synthesizer(s.tts.fallback_engine, None, s))


def _language_synthesizer(language: str, engine: str | None, voice: str | None, s: Settings) -> Synthesizer:
    spec = s.tts.languages.get(language)
    if spec is None:
        raise TtsError(f"no voice for language {language!r} (tts.languages in config/settings.yaml)")
    engine = engine or spec.engine
    _check(engine)
    voices = {"piper": spec.piper_voice, "espeak": spec.espeak_voice, "edge": spec.edge_voice,
              "kokoro": spec.kokoro_voice}
    voice = voice or voices[engine]
    if not voice:
        raise TtsError(f"no {engine} voice for language {language!r} (tts.languages.{language})")
    synth = _build(engine, voice, s, lambda: _language_synthesizer(language, spec.fallback_engine, None, s))
    synth.language = language
    return synth


def _check(engine: str) -> None:
    if engine not in ENGINES:
        raise TtsError(f"unknown TTS engine {engine!r}: use one of {', '.join(ENGINES)}")


def _build(engine: str, voice: str, s: Settings, fallback) -> Synthesizer:
    """The synthesizer of one engine and voice; `fallback()` makes edge-tts's offline fallback."""
    if engine == "piper":
        from .piper_backend import PiperSynthesizer

        return PiperSynthesizer(voice, s.tts.cpu_threads)
    if engine == "espeak":
        from .espeak_backend import EspeakSynthesizer

        return EspeakSynthesizer(voice)
    if engine == "kokoro":
        from .kokoro_backend import KokoroSynthesizer

        return KokoroSynthesizer(voice, model_cache() / "kokoro")
    from .edge_backend import EdgeSynthesizer

    return EdgeSynthesizer(voice, s.data_dir / "tts-cache", fallback(), s.tts.edge_timeout_s)


__all__ = ["ENGINES", "PromptCache", "Synthesizer", "TtsError", "get_synthesizer", "load_prompts", "normalize"]
