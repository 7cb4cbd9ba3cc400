"""In-band DTMF detection for imported recordings: which keypad keys the customer pressed, and when.

Goertzel powers of the 8 DTMF tones and their second harmonics on 25 ms frames every 10 ms. A frame holds a
key when one row and one column tone stand well above the other tones, together carry most of the frame's
energy, are within the twist limits and have weak second harmonics (speech has strong harmonics and spreads
its energy over many frequencies). A key needs >= 40 ms of consecutive such frames."""
from __future__ import annotations

import numpy as np

ROWS = (697.0, 770.0, 852.0, 941.0)
COLS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")

FRAME_S, HOP_S = 0.025, 0.010
MIN_KEY_S = 0.040
MIN_LEVEL = 10 ** (-45 / 20)        # weakest tone amplitude accepted (full scale = 1.0)
MIN_SHARE = 0.5                     # of the frame's energy in the row + column tones
PEAK_RATIO = 10 ** (8 / 10)         # best row (column) tone over the next best
TWIST_DB, REVERSE_TWIST_DB = 8.0, 4.0
HARMONIC_RATIO = 10 ** (-12 / 10)   # second harmonic power over its tone's power


def goertzel(frames: np.ndarray, freqs: np.ndarray, rate: int) -> np.ndarray:
    """Energy of each frequency in each frame (rows of `frames`): 2|X(f)|^2 / N, which is the energy of a
    sinusoid at exactly that frequency."""
    coeff = 2 * np.cos(2 * np.pi * freqs / rate)
    s1 = np.zeros((len(frames), len(freqs)))
    s2 = np.zeros_like(s1)
    for x in frames.T:
        s1, s2 = x[:, None] + coeff * s1 - s2, s1
    n = frames.shape[1]
    return 2 * (s1 ** 2 + s2 ** 2 - coeff * s1 * s2) / n


def _frame_keys(frames: np.ndarray, rate: int) -> list[str | None]:
    """The key each frame holds, or None."""
    tones = np.array(ROWS + COLS)
    power = goertzel(frames, np.concatenate([tones, 2 * tones]), rate)
    fund, harm = power[:, :8], power[:, 8:]
    energy = np.sum(frames ** 2, axis=1) + 1e-12
    keys = []
    for p, h, e in zip(fund, harm, energy):
        r, c = int(np.argmax(p[:4])), 4 + int(np.argmax(p[4:]))
        pr, pc = p[r], p[c]
        others_r, others_c = np.delete(p[:4], r).max(), np.delete(p[4:], c - 4).max()
        twist = 10 * np.log10((pr + 1e-20) / (pc + 1e-20))
        ok = (min(pr, pc) * 2 / len(frames[0]) >= MIN_LEVEL ** 2
              and (pr + pc) / e >= MIN_SHARE
              and pr >= PEAK_RATIO * others_r and pc >= PEAK_RATIO * others_c
              and -REVERSE_TWIST_DB <= twist <= TWIST_DB
              and h[r] <= HARMONIC_RATIO * pr and h[c] <= HARMONIC_RATIO * pc)
        keys.append(KEYS[r][c - 4] if ok else None)
    return keys


def detect_keys(samples: np.ndarray, rate: int) -> list[tuple[str, float, float]]:
    """Keys pressed as in-band DTMF tones in float32 mono audio: (key, start_s, end_s), in order. Goertzel on
    ~20 ms frames at 8 or 16 kHz; a key needs >= 40 ms of both its row and column tone, twist and
    second-harmonic checks so speech does not trigger it."""
    n, hop = round(FRAME_S * rate), round(HOP_S * rate)
    x = np.asarray(samples, dtype=np.float64).ravel()
    if len(x) < n:
        return []
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop]
    runs = []                                # [key, first frame, last frame]
    for i, key in enumerate(_frame_keys(frames, rate)):
        if key and runs and runs[-1][0] == key and i - runs[-1][2] <= 2:
            runs[-1][2] = i                  # one missed frame inside a key is bridged
        elif key:
            runs.append([key, i, i])
    step, centre = hop / rate, n / 2 / rate
    spans = [(key, a * step + centre - step / 2, b * step + centre + step / 2) for key, a, b in runs]
    # frame centres every `step` place a tone's edges to within one step
    return [(key, round(a, 3), round(b, 3)) for key, a, b in spans if b - a > MIN_KEY_S - 1e-6]
