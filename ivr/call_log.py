"""Stores a call and each turn as it happens (one short transaction per turn)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import sessionmaker

from models import Call, Turn


class CallLog:
    def __init__(self, sessions: sessionmaker, ani: str | None, channel: str = "sip"):
        self.sessions = sessions
        self._seq = 0
        self._last_caller_turn: int | None = None
        with sessions.begin() as s:
            call = Call(ani=ani, channel=channel)
            s.add(call)
            s.flush()
            self.call_id = call.id

    def turn(self, speaker: str, text: str, state: str | None = None, intent: str | None = None,
             confidence: float | None = None, latency_ms: float | None = None) -> None:
        self._seq += 1
        with self.sessions.begin() as s:
            turn = Turn(call_id=self.call_id, seq=self._seq, speaker=speaker, text=text, state=state, intent=intent,
                        confidence=confidence, latency_ms=latency_ms)
            s.add(turn)
            s.flush()
            if speaker == "caller":
                self._last_caller_turn = turn.id

    def reopen(self) -> None:
        """The call goes on after all (a refused transfer)."""
        with self.sessions.begin() as s:
            call = s.get(Call, self.call_id)
            call.ended_at, call.outcome, call.transfer_reason = None, None, None

    def set_latency(self, latency_ms: float, timings_json: str) -> None:
        """Attach the measured response time (end of caller speech -> first IVR audio) to the caller's turn."""
        if self._last_caller_turn is None:
            return
        with self.sessions.begin() as s:
            turn = s.get(Turn, self._last_caller_turn)
            turn.latency_ms, turn.timings = round(latency_ms, 1), timings_json

    def set_recording(self, path: str) -> None:
        with self.sessions.begin() as s:
            s.get(Call, self.call_id).recording_path = path

    def end(self, outcome: str, reason: str | None = None, customer_id: int | None = None) -> None:
        with self.sessions.begin() as s:
            call = s.get(Call, self.call_id)
            call.ended_at, call.outcome, call.transfer_reason = datetime.now(), outcome, reason
            call.customer_id = customer_id
