"""A recorded agent call made with real voices (Piper for the customer, espeak-ng for the agent), stereo like a
call recorder writes it: customer left, agent right. The customer says one card number and types another one on
the keypad (in-band DTMF tones). Used by tests/test_analytics_calls.py and the analytics benchmarks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 8000
SPOKEN_PAN = "4111111111111111"
KEYED_PAN = "5555555555554444"
KEYS = {"1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "4": (770, 1209), "5": (770, 1336),
        "6": (770, 1477), "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "0": (941, 1336)}
SCRIPT = [          # (speaker, what is said); "KEYS" is the customer typing a card number on the keypad
    ("agent", "Thank you for calling First Demo Bank, this is Sam. How can I help you today?"),
    ("customer", "Hi. My card was declined at the supermarket twice today and I am really annoyed about it."),
    ("agent", "I'm sorry to hear that. Can you give me the card number please?"),
    ("customer", "Sure. My card number is four one one one, one one one one, one one one one, one one one one."),
    ("agent", "Thank you. Please type the number of your other card on the keypad now."),
    ("customer", "KEYS"),
    ("agent", "Thank you, both cards are checked. Is there anything else I can help you with?"),
    ("customer", "No thanks, that's all."),
    ("agent", "Thank you for calling First Demo Bank. Goodbye."),
]
GAP_S = 0.8


def tones(keys: str) -> np.ndarray:
    """Keypad tones, 90 ms on and 70 ms off each."""
    on, off = int(0.09 * RATE), int(0.07 * RATE)
    t = np.arange(on) / RATE
    parts = []
    for k in keys:
        lo, hi = KEYS[k]
        parts += [0.25 * (np.sin(2 * np.pi * lo * t) + np.sin(2 * np.pi * hi * t)), np.zeros(off)]
    return np.concatenate(parts).astype(np.float32)


def build_agent_call(path: Path) -> dict[str, tuple[float, float]]:
    """Write the call to `path`; return where the card numbers are: {"spoken": (s, e), "keyed": (s, e)}."""
    from tts import get_synthesizer

    voices = {"customer": get_synthesizer("piper"), "agent": get_synthesizer("espeak")}
    parts, spans, at = [], {}, 0.5
    for speaker, text in SCRIPT:
        if text == "KEYS":
            sound = tones(KEYED_PAN)
        else:
            sound = np.frombuffer(voices[speaker].synthesize(text, RATE), "<i2").astype(np.float32) / 32768
        parts.append((0 if speaker == "customer" else 1, at, sound))
        if "four one one one" in text or text == "KEYS":
            spans["keyed" if text == "KEYS" else "spoken"] = (at, at + len(sound) / RATE)
        at += len(sound) / RATE + GAP_S
    audio = np.zeros((int((at + 0.5) * RATE), 2), np.float32)
    for channel, start, sound in parts:
        audio[int(start * RATE):int(start * RATE) + len(sound), channel] = sound
    sf.write(str(path), audio, RATE, subtype="PCM_16")
    return spans
