"""What the caller may have said when the recognizer's words mean nothing in a state: the heard words and the
state's expected phrases compared as sounds (espeak-ng's phonemes, from libespeak-ng), by edit distance.

Whisper tiny over a phone line mishears short commands as other words that sound alike ("branch hours" ->
"Brand Coward", "agent please" -> "Agent Clean"): far in meaning, close in sound. A close match is a guess the
dialog confirms ("Did you say branch hours?"), never an action taken on its own.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import re
import threading
from dataclasses import dataclass

from config import IvrError

ESPEAK_CHARS_UTF8 = 1
AUDIO_OUTPUT_SYNCHRONOUS = 2
_STRESS_AND_SPACE = re.compile(r"[ˈˌ'_:,\-\s]")


class Phonemizer:
    """Text -> espeak-ng phoneme string (ASCII, no stress marks or spaces), for one voice; thread-safe."""

    _lock = threading.Lock()          # libespeak-ng keeps global state: one caller at a time, one voice
    _lib = None
    _voice: str | None = None

    def __init__(self, voice: str = "en-us"):
        self.voice = voice
        with Phonemizer._lock:
            if Phonemizer._lib is None:
                name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
                try:
                    lib = ctypes.CDLL(name)
                except OSError as err:
                    raise IvrError(f"libespeak-ng is not installed (Debian espeak-ng): {err}") from err
                lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
                lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
                if lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, 0) <= 0:
                    raise IvrError("libespeak-ng could not start (its data in /usr/lib/*/espeak-ng-data?)")
                Phonemizer._lib = lib

    def __call__(self, text: str) -> str:
        buf = ctypes.create_string_buffer(text.encode())
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        out = []
        with Phonemizer._lock:
            if Phonemizer._voice != self.voice:
                if Phonemizer._lib.espeak_SetVoiceByName(self.voice.encode()) != 0:
                    raise IvrError(f"unknown espeak-ng voice {self.voice!r}")
                Phonemizer._voice = self.voice
            while ptr.value:
                clause = Phonemizer._lib.espeak_TextToPhonemes(ctypes.byref(ptr), ESPEAK_CHARS_UTF8, 0)
                if clause:
                    out.append(clause.decode(errors="replace"))
        return _STRESS_AND_SPACE.sub("", "".join(out))


def distance(a: str, b: str) -> float:
    """Levenshtein distance over the longer length: 0 the same, 1 nothing in common."""
    if not a or not b:
        return 1.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1] / max(len(a), len(b))


@dataclass(frozen=True)
class SoundMatch:
    value: str          # what the nearest phrase means in the state (an intent, yes, no)
    phrase: str         # the phrase it sounds like
    distance: float     # 0 (the same sounds) .. 1
    margin: float       # how much further the nearest phrase that means something else is


class SoundsLike:
    """The expected phrases of one state ({phrase: value}), ready to be compared with what was heard."""

    def __init__(self, phrases: dict[str, str], phonemizer: Phonemizer):
        self.phonemize = phonemizer
        self.phrases = [(phrase, value, phonemizer(phrase)) for phrase, value in phrases.items()]

    def match(self, heard: str) -> SoundMatch | None:
        """The phrase that sounds most like `heard`, with its distance and margin; None for no words."""
        sounds = self.phonemize(heard) if heard.strip() else ""
        if not sounds or not self.phrases:
            return None
        ranked = sorted((distance(sounds, p), phrase, value) for phrase, value, p in self.phrases)
        best, phrase, value = ranked[0]
        other = next((d for d, _, v in ranked[1:] if v != value), 1.0)
        return SoundMatch(value, phrase, round(best, 3), round(other - best, 3))
