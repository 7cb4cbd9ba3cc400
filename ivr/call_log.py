"""Stores a call and each turn as it happens (one short transaction per turn)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import sessionmaker

from models import Call, Turn


class CallLog:
    def __init__(self, sessions: sessionmaker, ani: str | None, channel: str = "sip"):
        self.sessions = sessions
        self._seq = 0
        with sessions.begin() as s:
            call = Call(ani=ani, channel=channel)
            s.add(call)
            s.flush()
            self.call_id = call.id

    def turn(self, speaker: str, text: str, state: str | None = None, intent: str | None = None,
             confidence: float | None = None, latency_ms: float | None = None) -> None:
        self._seq += 1
        with self.sessions.begin() as s:
            s.add(Turn(call_id=self.call_id, seq=self._seq, speaker=speaker, text=text, state=state, intent=intent,
                       confidence=confidence, latency_ms=latency_ms))

    def end(self, outcome: str, reason: str | None = None, customer_id: int | None = None) -> None:
        with self.sessions.begin() as s:
            call = s.get(Call, self.call_id)
            call.ended_at, call.outcome, call.transfer_reason = datetime.now(), outcome, reason
            call.customer_id = customer_id
