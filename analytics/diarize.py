"""Two-speaker diarization of a mono agent-call recording, without a neural speaker model (none ships offline).

Each voiced stretch is described by the mean and spread of its MFCCs (the classic speaker-clustering feature);
two-means clustering, tried from many seed pairs, keeps the tightest split in which each voice holds at least 15 %
of the speech, and the voice that speaks first is the agent (an inbound call is answered by the agent's greeting).
Keypad tones are the customer's. Measured on our constructed two-voice call: 13 of 14 stretches right, the miss a
half-second "goodbye". For overlapping or similar voices import the stereo recording the call-recording system
makes (one channel per party): that needs no guessing."""
from __future__ import annotations

import numpy as np
from scipy.fft import dct

from .dtmf import detect_keys
from .metrics import voice_activity

N_MELS = 24
MIN_STRETCH_S = 0.3
MIN_SHARE = 0.15          # the smaller voice holds at least this share of the speech
MAX_SEEDS = 30            # seed pairs come from the longest stretches


def split_speakers(samples: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(customer, agent): the mono signal divided into two channels of the same length."""
    keys = detect_keys(samples, rate)
    stretches = [(a, b) for a, b in voice_activity(samples, rate) if b - a >= MIN_STRETCH_S]
    spoken = [(a, b) for a, b in stretches if not any(k0 < b and k1 > a for _, k0, k1 in keys)]
    customer, agent = samples.copy(), np.zeros_like(samples)
    if len(spoken) < 2:
        return customer, agent
    features = np.stack([_features(samples[int(a * rate):int(b * rate)], rate) for a, b in spoken])
    labels = _two_voices(features, np.array([b - a for a, b in spoken]))
    for (a, b), label in zip(spoken, labels):
        if label == labels[0]:
            i, j = int(a * rate), int(b * rate)
            agent[i:j], customer[i:j] = samples[i:j], 0.0
    return customer, agent


def _features(x: np.ndarray, rate: int) -> np.ndarray:
    frame, hop = int(0.025 * rate), int(0.010 * rate)
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[::hop] * np.hanning(frame)
    mel = np.log((np.abs(np.fft.rfft(frames, axis=1)) ** 2) @ _mel_bank(rate, frame).T + 1e-10)
    energy = mel.sum(axis=1)
    mfcc = dct(mel[energy > np.percentile(energy, 30)], type=2, axis=1, norm="ortho")[:, 1:13]
    return np.concatenate([mfcc.mean(axis=0), mfcc.std(axis=0)])


def _mel_bank(rate: int, frame: int) -> np.ndarray:
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)   # noqa: E731
    edges = hz(np.linspace(mel(80), mel(min(3800, rate / 2)), N_MELS + 2))
    bins = np.fft.rfftfreq(frame, 1 / rate)
    bank = np.zeros((N_MELS, len(bins)))
    for i in range(N_MELS):
        lo, mid, hi = edges[i:i + 3]
        bank[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return bank


def _two_voices(x: np.ndarray, durations: np.ndarray) -> np.ndarray:
    """Labels 0/1: the tightest two-means split (over many seed pairs) with both voices holding MIN_SHARE."""
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
    seeds = np.argsort(-durations)[:MAX_SEEDS]
    best, best_labels = np.inf, np.zeros(len(x), int)
    for i in seeds:
        for j in seeds:
            if i >= j:
                continue
            labels, inertia = _two_means(x, np.stack([x[i], x[j]]))
            share = durations[labels == 1].sum() / durations.sum()
            if min(share, 1 - share) >= MIN_SHARE and inertia < best:
                best, best_labels = inertia, labels
    return best_labels


def _two_means(x: np.ndarray, centres: np.ndarray, rounds: int = 30) -> tuple[np.ndarray, float]:
    labels = np.zeros(len(x), int)
    for _ in range(rounds):
        labels = ((x[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)
        new = np.stack([x[labels == k].mean(axis=0) if (labels == k).any() else centres[k] for k in (0, 1)])
        if np.allclose(new, centres):
            break
        centres = new
    return labels, float(((x - centres[labels]) ** 2).sum())
