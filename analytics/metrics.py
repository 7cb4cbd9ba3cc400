"""Industry-standard call metrics (talk time, dead air, overtalk, containment, ...) for one CallTimeline.

Who spoke when comes from `timeline.activity` (voiced spans found in the recording by voice_activity), or
from segment times for a speaker without audio. Dead air is any stretch of more than DEAD_AIR_S where no
speaker is active, including the stretch before the first speech and after the last: a caller left waiting
in silence at either end of the call is dead air all the same."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

from .timeline import SPEAKERS, CallTimeline

FRAME_S = 0.01
FLOOR_DBFS = -45.0          # below this a frame is silence whatever the VAD says
LOUD_DBFS = -25.0           # 20 dB above the floor: voiced even where the VAD disagrees (onsets, clipped vowels)
VAD_MODE = 2
BRIDGE_S = 0.3              # shorter gaps inside speech are pauses, not silence
MIN_SPAN_S = 0.1            # shorter voiced spans are clicks
DEAD_AIR_S = 3.0
OVERTALK_MIN_S = 0.1
EPS = 1e-6

Spans = list[tuple[float, float]]


def voice_activity(samples: np.ndarray, rate: int) -> Spans:
    """Voiced spans (seconds) of one channel (float32 mono, 8 or 16 kHz): a 10 ms frame is voiced when its
    energy is above FLOOR_DBFS and webrtcvad (mode 2) agrees, or its energy is above LOUD_DBFS; gaps shorter
    than BRIDGE_S are bridged, spans shorter than MIN_SPAN_S dropped. Deterministic."""
    import webrtcvad

    if rate not in (8000, 16000):
        raise ValueError(f"voice_activity needs 8 or 16 kHz audio, not {rate} Hz")
    frame = int(rate * FRAME_S)
    n = len(samples) // frame
    frames = np.asarray(samples[:n * frame], np.float32).reshape(n, frame)
    db = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    pcm = (np.clip(frames, -1.0, 1.0) * 32767).astype("<i2")
    vad = webrtcvad.Vad(VAD_MODE)
    voiced = [bool(d > LOUD_DBFS or (d > FLOOR_DBFS and vad.is_speech(p.tobytes(), rate)))
              for d, p in zip(db, pcm)]
    spans: Spans = []
    start = None
    for i, v in enumerate([*voiced, False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            spans.append((start * FRAME_S, i * FRAME_S))
            start = None
    bridged: Spans = []
    for s, e in spans:
        if bridged and s - bridged[-1][1] < BRIDGE_S - EPS:
            bridged[-1] = (bridged[-1][0], e)
        else:
            bridged.append((s, e))
    return [(round(s, 2), round(e, 2)) for s, e in bridged if e - s >= MIN_SPAN_S - EPS]


def _merge(spans: Spans, duration: float) -> Spans:
    """Sorted, non-overlapping spans clipped to [0, duration]."""
    out: Spans = []
    for s, e in sorted((max(0.0, s), min(duration, e)) for s, e in spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _activity(timeline: CallTimeline) -> dict[str, Spans]:
    """Speaker -> merged active spans: audio activity where the timeline has it, else segment times."""
    present = [s for s in SPEAKERS if s in timeline.activity or any(g.speaker == s for g in timeline.segments)]
    return {s: _merge(timeline.activity[s] if s in timeline.activity else
                      [(g.start, g.end) for g in timeline.segments if g.speaker == s], timeline.duration_s)
            for s in present}


def _overlaps(active: dict[str, Spans], duration: float) -> tuple[Spans, Spans]:
    """(silences, overtalks): intervals of [0, duration] where no speaker / two or more speakers are active."""
    edges = sorted([(s, 1) for spans in active.values() for s, _ in spans] +
                   [(e, -1) for spans in active.values() for _, e in spans], key=lambda x: (x[0], x[1]))
    silent: Spans = []
    over: Spans = []
    count, last = 0, 0.0
    for t, step in [*edges, (duration, 0)]:
        if t > last:
            if count == 0:
                silent.append((last, t))
            elif count >= 2:
                over.append((last, t))
        count += step
        last = max(last, t)
    return silent, _merge(over, duration)


def _percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least p% of values at or below it)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 2)


def _auth(kinds: list[tuple[str, dict]]) -> str:
    """Last auth event wins; a lockout (or a failure because the account was already locked) over a failure."""
    auth = [(k, d) for k, d in kinds if k in ("auth_success", "auth_failure", "lockout")]
    if not auth:
        return "none"
    if auth[-1][0] == "auth_success":
        return "success"
    locked = any(k == "lockout" or d.get("reason") == "locked" for k, d in auth)
    return "lockout" if locked else "failure"


def _distinct(items) -> list:
    return list(dict.fromkeys(i for i in items if i))


def compute(timeline: CallTimeline) -> dict:
    """Flat dict of metrics for one call; numbers rounded to 2 places, times in seconds."""
    duration = max(0.0, timeline.duration_s)
    active = _activity(timeline)
    m: dict = {"duration_s": round(duration, 2)}
    for speaker, spans in active.items():
        talk = sum(e - s for s, e in spans)
        words = sum(len(g.words) or len(g.text.split()) for g in timeline.segments if g.speaker == speaker)
        m[f"talk_s_{speaker}"] = round(talk, 2)
        m[f"talk_ratio_{speaker}"] = round(talk / duration, 2) if duration else 0.0
        m[f"wpm_{speaker}"] = round(words / (talk / 60), 2) if talk > 0 else 0.0

    silent, over = _overlaps(active, duration)
    dead = [e - s for s, e in silent if e - s > DEAD_AIR_S + EPS]
    over = [e - s for s, e in over if e - s >= OVERTALK_MIN_S - EPS]
    m |= {"dead_air_s": round(sum(dead), 2), "dead_air_count": len(dead),
          "dead_air_share": round(sum(dead) / duration, 2) if duration else 0.0,
          "dead_air_max_s": round(max(dead, default=0.0), 2),
          "overtalk_count": len(over), "overtalk_s": round(sum(over), 2)}

    events = [(e.kind, e.detail or {}) for e in timeline.events]
    n = Counter(k for k, _ in events)
    transferred = timeline.outcome == "transferred" or n["transfer_accepted"] > 0
    tasks = _distinct([*timeline.tasks, *(d.get("task") for k, d in events if k == "task_done")])
    intents = _distinct(g.intent for g in timeline.segments if g.speaker == "caller")
    m |= {"barge_ins": n["barge_in"], "no_input": n["no_input"], "no_match": n["no_match"],
          "repeats": n["repeat"], "holds": n["hold"],
          "latency_p50_ms": _percentile(timeline.latencies_ms, 50),
          "latency_p95_ms": _percentile(timeline.latencies_ms, 95),
          "contained": int(not transferred),
          "zero_out": int(any(g.intent == "speak_to_agent" for g in timeline.segments)
                          or n["transfer_requested"] > 0),
          "self_service_completed": int(bool(tasks) and not transferred),
          "auth": _auth(events), "intents": intents, "tasks": tasks}
    return m
