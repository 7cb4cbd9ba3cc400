"""Stores a call and each turn as it happens, one short transaction per turn.

Writes go in order through the call's own writer thread, so that a reply is never held up by a database commit
(7 prompts of a transaction list cost ~80 ms of fsyncs on SQLite). `close()` waits until all are stored.
"""
from __future__ import annotations

import logging
import queue
import threading
from datetime import datetime
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Call, Turn

log = logging.getLogger(__name__)


class CallLog:
    def __init__(self, sessions: sessionmaker, ani: str | None, channel: str = "sip"):
        self.sessions = sessions
        self._seq = 0
        self._last_caller_seq: int | None = None
        with sessions.begin() as s:
            call = Call(ani=ani, channel=channel)
            s.add(call)
            s.flush()
            self.call_id = call.id
        self._jobs: queue.Queue[Callable[[Session], None] | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write, name=f"call-log-{self.call_id}", daemon=True)
        self._writer.start()

    def turn(self, speaker: str, text: str, state: str | None = None, intent: str | None = None,
             confidence: float | None = None, latency_ms: float | None = None) -> None:
        self._seq += 1
        if speaker == "caller":
            self._last_caller_seq = self._seq
        self._submit(lambda s, seq=self._seq: s.add(Turn(
            call_id=self.call_id, seq=seq, speaker=speaker, text=text, state=state, intent=intent,
            confidence=confidence, latency_ms=latency_ms)))

    def event(self, kind: str, state: str | None = None, **detail) -> None:
        """Something that happened in the call (dtmf, no_input, no_match, barge_in, transfer_requested,
        auth_success, auth_failure, lockout, repeat, ...); `detail` must hold no PIN digits."""
        text = kind if not detail else f"{kind} {detail}"
        self.turn("event", text, state)

    def reopen(self) -> None:
        """The call goes on after all (a refused transfer)."""
        self._update_call(ended_at=None, outcome=None, transfer_reason=None)

    def set_latency(self, latency_ms: float, timings_json: str) -> None:
        """Attach the measured response time (end of caller speech -> first IVR audio) to the caller's turn."""
        if self._last_caller_seq is None:
            return

        def store(s: Session, seq: int = self._last_caller_seq) -> None:
            turn = s.scalars(select(Turn).where(Turn.call_id == self.call_id, Turn.seq == seq)).one()
            turn.latency_ms, turn.timings = round(latency_ms, 1), timings_json

        self._submit(store)

    def set_recording(self, path: str) -> None:
        self._update_call(recording_path=path)

    def end(self, outcome: str, reason: str | None = None, customer_id: int | None = None) -> None:
        self._update_call(ended_at=datetime.now(), outcome=outcome, transfer_reason=reason, customer_id=customer_id)

    def flush(self) -> None:
        """Wait until everything logged so far is committed."""
        self._jobs.join()

    def close(self) -> None:
        """Store what is queued and stop the writer (idempotent)."""
        if self._writer.is_alive():
            self._jobs.put(None)
            self._writer.join()

    def _update_call(self, **values) -> None:
        def store(s: Session) -> None:
            call = s.get(Call, self.call_id)
            for key, value in values.items():
                setattr(call, key, value)

        self._submit(store)

    def _submit(self, job: Callable[[Session], None]) -> None:
        if not self._writer.is_alive():
            log.warning("call %s: the call log is closed; a late write was dropped", self.call_id)
            return
        self._jobs.put(job)

    def _write(self) -> None:
        while True:
            job = self._jobs.get()
            try:
                if job is None:
                    return
                with self.sessions.begin() as s:
                    job(s)
            except Exception:  # noqa: BLE001 - keep storing the rest of the call
                log.exception("call %s: a write to the call log failed", self.call_id)
            finally:
                self._jobs.task_done()
