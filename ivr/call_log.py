"""The one writer of a call's record: the call row, its turns and its events, committed as they happen.

Writes go in order through the call's own writer thread, so that a reply is never held up by a database commit
(7 prompts of a transaction list cost ~80 ms of fsyncs on SQLite). A caller turn is stored once, complete: it
waits for `complete_turn` (latency, timings and recording offsets, known when the reply starts to play), or
for the next caller turn or the end of the call. `close()` waits until everything is stored.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable

from sqlalchemy.orm import Session, sessionmaker

from analytics.redaction import redact_keys, redact_text
from models import Call, CallEvent, EventKind, Turn, utcnow

from monitoring import call_context

log = logging.getLogger(__name__)


def _redacted(value):
    """Card numbers, CVVs, account numbers, SSNs said or keyed in a turn never reach the database (PCI DSS 3.3.1)."""
    if not isinstance(value, str):
        return value
    if value.startswith("dtmf:"):
        return "dtmf:" + redact_keys(value.removeprefix("dtmf:"))[0]
    return redact_text(value)[0]


class CallLog:
    def __init__(self, sessions: sessionmaker, ani: str | None, channel: str = "sip", clock=time.monotonic,
                 node: str | None = None):
        self.sessions, self.clock = sessions, clock
        self.t0 = clock()            # offsets (start_ms, at_ms) count from here: the start of the recording
        self._seq = 0
        self._pending: dict | None = None   # the caller turn waiting for its timings
        self._lock = threading.Lock()
        with sessions.begin() as s:
            call = Call(ani=ani, channel=channel, node=node)
            s.add(call)
            s.flush()
            self.call_id = call.id
        self._jobs: queue.Queue[Callable[[Session], None] | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write, name=f"call-log-{self.call_id}", daemon=True)
        self._writer.start()

    def offset_ms(self, at: float | None = None) -> float:
        return round(((self.clock() if at is None else at) - self.t0) * 1000, 1)

    # -- what happened ------------------------------------------------------------------------------------
    def turn(self, speaker: str, text: str, state: str | None = None, intent: str | None = None,
             confidence: float | None = None, slots: dict | None = None, **fields) -> None:
        """Store a turn; a caller turn is held until `complete_turn` (or the next caller turn, or the end)."""
        text, slots = _redacted(text), {k: _redacted(v) for k, v in (slots or {}).items()}
        with self._lock:
            row = dict(call_id=self.call_id, seq=self._next_seq(), speaker=speaker, text=text, state=state,
                       intent=intent, confidence=confidence, slots=slots or None, **fields)
            if speaker != "caller":
                self._submit_row(Turn, row)
                return
            self._flush_pending()
            self._pending = row

    def complete_turn(self, **fields) -> None:
        """Add timings (latency_ms, timings, start_ms, end_ms) to the caller turn and store it."""
        with self._lock:
            if self._pending is not None:
                self._pending.update(fields)
                self._flush_pending()

    def event(self, kind: str, state: str | None = None, at: float | None = None, **detail) -> None:
        """Something that happened (see models.EventKind); `detail` must hold no PIN digits."""
        EventKind(kind)  # an unknown kind is a programming error: fail where it is made
        with self._lock:
            row = dict(call_id=self.call_id, seq=self._next_seq(), kind=kind, state=state,
                       at_ms=self.offset_ms(at), detail=detail or None)
            self._submit_row(CallEvent, row)

    def set_recording(self, path: str) -> None:
        self._update_call(recording_path=path)

    def end(self, outcome: str, reason: str | None = None, customer_id: int | None = None) -> None:
        self._update_call(ended_at=utcnow(), outcome=outcome, transfer_reason=reason, customer_id=customer_id)

    def reopen(self) -> None:
        """The call goes on after all (a refused transfer)."""
        self._update_call(ended_at=None, outcome=None, transfer_reason=None)

    # -- lifetime -----------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Wait until everything logged so far is committed (a held caller turn included)."""
        with self._lock:
            self._flush_pending()
        self._jobs.join()

    def close(self) -> None:
        """Store what is queued and stop the writer (idempotent)."""
        with self._lock:
            self._flush_pending()
        if self._writer.is_alive():
            self._jobs.put(None)
            self._writer.join()

    # -- the writer ---------------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _flush_pending(self) -> None:
        if self._pending is not None:
            self._submit_row(Turn, self._pending)
            self._pending = None

    def _submit_row(self, model, row: dict) -> None:
        self._submit(lambda s: s.add(model(**row)))

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
        with call_context(self.call_id):   # this thread's log lines carry the call id
            self._write_jobs()

    def _write_jobs(self) -> None:
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
