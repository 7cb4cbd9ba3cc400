"""In-band DTMF detection: synthetic keypad tones are found with their times; recorded speech gives none."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from analytics.dtmf import COLS, KEYS, ROWS, detect_keys

SOUNDS = sorted(Path("/usr/share/asterisk/sounds/en").glob("*.wav"))
needs_speech = pytest.mark.skipif(len(SOUNDS) < 30, reason="asterisk English prompts not installed")
ALL_KEYS = "123A456B789C*0#D"


def tone(key: str, dur: float, rate: int, dbfs: float) -> np.ndarray:
    """The key's row + column sines, peak level `dbfs`."""
    r = next(i for i, row in enumerate(KEYS) if key in row)
    t = np.arange(round(dur * rate)) / rate
    return 10 ** (dbfs / 20) * (np.sin(2 * np.pi * ROWS[r] * t) + np.sin(2 * np.pi * COLS[KEYS[r].index(key)] * t)) / 2


def add_keys(x: np.ndarray, rate: int, keys: str, at: float, dur: float, gap: float, dbfs=(-6.0,)):
    """Mix `keys` into `x` from `at` seconds; returns the (key, start, end) placed."""
    placed = []
    for i, key in enumerate(keys):
        start = at + i * (dur + gap)
        s = round(start * rate)
        x[s:s + round(dur * rate)] += tone(key, dur, rate, dbfs[i % len(dbfs)])
        placed.append((key, start, start + dur))
    return placed


def assert_found(found, placed, tol=0.02):
    assert "".join(k for k, _, _ in found) == "".join(k for k, _, _ in placed)
    for (key, start, end), (_, s, e) in zip(found, placed):
        assert abs(start - s) <= tol and abs(end - e) <= tol, (key, start, end, s, e)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_sixteen_keys_in_noise(rate):
    rng = np.random.default_rng(rate)
    x = rng.normal(0, 10 ** (-50 / 20), 3 * rate)
    placed = add_keys(x, rate, ALL_KEYS, at=0.333, dur=0.08, gap=0.06, dbfs=(-6.0, -20.0))
    found = detect_keys(x.astype(np.float32), rate)
    assert_found(found, placed)


@pytest.mark.parametrize("rate", [8000, 16000])
def test_repeated_key_and_shortest_press(rate):
    x = np.zeros(2 * rate)
    placed = add_keys(x, rate, "5500", at=0.205, dur=0.05, gap=0.05, dbfs=(-10.0,))
    assert_found(detect_keys(x, rate), placed)


def test_too_short_or_single_tones_are_not_keys():
    rate = 8000
    x = np.zeros(rate)
    add_keys(x, rate, "1", at=0.1, dur=0.02, gap=0.0)                       # 20 ms blip
    t = np.arange(round(0.2 * rate)) / rate
    x[4000:4000 + len(t)] += 0.3 * np.sin(2 * np.pi * ROWS[0] * t)          # row tone alone
    assert detect_keys(x, rate) == []
    assert detect_keys(np.zeros(50, dtype=np.float32), rate) == []


def test_twisted_tones_are_rejected():
    rate = 8000
    t = np.arange(round(0.1 * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * ROWS[1] * t) + 0.03 * np.sin(2 * np.pi * COLS[1] * t)   # column 20 dB down
    assert detect_keys(x, rate) == []


@needs_speech
def test_recorded_speech_gives_no_keys():
    for path in SOUNDS[::max(1, len(SOUNDS) // 30)][:30]:
        audio, rate = sf.read(path, dtype="float32")
        assert detect_keys(audio, rate) == [], path.name


@needs_speech
def test_keys_over_speech_are_found():
    speech = np.concatenate([sf.read(p, dtype="float32")[0] for p in SOUNDS[:8]]).astype(np.float64)
    x = 0.5 * speech[:8000 * 6]
    placed = add_keys(x, 8000, "4111111111111111", at=0.5, dur=0.08, gap=0.12, dbfs=(-6.0,))
    assert_found(detect_keys(x.astype(np.float32), 8000), placed)


def test_words_heard_in_keypad_tones_are_not_speech():
    """Whisper hears words in tones ("Thank you for watching!"): a caller segment mostly inside a keypad entry
    becomes [KEYPAD] (no sentiment, topics or scorecard from it); speech before or after the keys is kept."""
    from analytics.pipeline import KEYPAD, mark_keypad
    from analytics.timeline import Segment

    run = [(k, 30.0 + i * 0.16, 30.09 + i * 0.16) for i, k in enumerate("4111111111111111")]   # 30.0 - 32.5 s
    segments = [Segment(1, "caller", "Sure, here it is.", 27.0, 29.6),
                Segment(2, "caller", "Thank you so much for watching!", 29.8, 32.9),
                Segment(3, "caller", "So", 29.7, 30.1),                         # starts before the tones
                Segment(4, "agent", "Thank you.", 30.5, 31.0),                  # the other channel
                Segment(5, "caller", "Did that work?", 32.6, 34.0)]
    mark_keypad(segments, [run])
    assert [s.text for s in segments] == ["Sure, here it is.", KEYPAD, KEYPAD, "Thank you.", "Did that work?"]
