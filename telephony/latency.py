"""The latency meter, an observer: from the end of the caller's turn to the first frame of the reply on the wire,
with where the time went. It completes the caller's turn in the call record (stored once, with its timings) and
feeds the turn latency and stage histograms (ivr_turn_latency_seconds, ivr_stage_seconds)."""
from __future__ import annotations

from monitoring import metrics


class LatencyMeter:
    def __init__(self, call_log):
        self.call_log = call_log
        self._turn: dict | None = None   # the caller turn waiting for its reply's first frame

    def turn_ended(self, speech_end: float, start_s: float, end_s: float, timings: dict) -> None:
        """A caller turn (speech or keys) was taken at `speech_end`."""
        self._turn = {"speech_end": speech_end, "start_ms": round(start_s * 1000, 1),
                      "end_ms": round(end_s * 1000, 1), "timings": dict(timings)}

    def replied(self, dialog_ms: float, speaks: bool) -> None:
        """The dialog answered; `speaks`: its reply has audio (else the turn is complete now)."""
        if self._turn is None:
            return
        self._turn["timings"]["dialog_ms"] = round(dialog_ms, 1)
        if not speaks:
            self._store(None, None)

    def first_audio(self, t: float, tts_first_chunk_ms: float | None) -> None:
        if self._turn is not None:
            self._store(t, tts_first_chunk_ms)

    def _store(self, first_audio: float | None, tts_first_chunk_ms: float | None) -> None:
        turn, self._turn = self._turn, None
        timings = turn["timings"]
        latency = None
        if first_audio is not None:
            latency = round((first_audio - turn["speech_end"]) * 1000, 1)
            timings["tts_first_chunk_ms"] = round(tts_first_chunk_ms or 0.0, 1)
            timings["latency_ms"] = latency
            spent = sum(timings.get(k, 0.0) for k in ("endpoint_ms", "asr_ms", "dialog_ms", "tts_first_chunk_ms"))
            timings["media_ms"] = round(latency - spent, 1)
        self.call_log.complete_turn(latency_ms=latency, timings=timings, start_ms=turn["start_ms"],
                                    end_ms=turn["end_ms"])
        metrics.turn(timings, latency)
