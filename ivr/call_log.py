"""The one writer of a call's record: the call row, its turns and its events, committed as they happen.

Writes go in order through the call's own writer thread, so that a reply is never held up by a database commit
(7 prompts of a transaction list cost ~80 ms of fsyncs on SQLite). A caller turn is stored once, complete: it
waits for `complete_turn` (latency, timings and recording offsets, known when the reply starts to play), or
for the next caller turn or the end of the call. `close()` waits until everything is stored.

In a database outage the call goes on: its records are kept in the node's spool on local disk (ivr/spool.py) and
written, in order and once, when the database answers again (retried every `retry_s` while the call lasts, then
by the spool's own thread). A call that starts during an outage has a provisional id ("pending-…") until then.
"""
from __future__ import annotations

import logging
import queue
import re
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy.orm import sessionmaker

from analytics.redaction import redact_keys, redact_text
from config import get_settings
from models import EventKind, utcnow
from monitoring import call_context

from .spool import OUTAGE, Spool, apply

log = logging.getLogger(__name__)


def _redacted(value):
    """Card numbers, CVVs, account numbers, SSNs said or keyed in a turn never reach the database (PCI DSS 3.3.1)."""
    if not isinstance(value, str):
        return value
    if value.startswith("dtmf:"):
        return "dtmf:" + redact_keys(value.removeprefix("dtmf:"))[0]
    return redact_text(value)[0]


def _redacted_slots(said: str, redacted: str, slots: dict) -> dict:
    """Slots with no secret: a value redacted on its own, and one that holds a number redacted from the words it
    was understood from ("the security code is 739" stores [CVV], and its amount slot 739 must not stay)."""
    removed = set(re.findall(r"\d{3,}", re.sub(r"(?<=\d)[ -](?=\d)", "", said))) - set(re.findall(r"\d+", redacted))
    out = {}
    for key, value in slots.items():
        value = _redacted(value)
        digits = re.sub(r"\D", "", str(value)) if isinstance(value, (str, int, float)) else ""
        out[key] = "[REDACTED]" if any(run in digits for run in removed) else value
    return out


class CallLog:
    def __init__(self, sessions: sessionmaker, ani: str | None, channel: str = "sip", clock=time.monotonic,
                 node: str | None = None, spool: Spool | None = None, retry_s: float = 2.0, language: str = "en"):
        self.sessions, self.clock, self.retry_s = sessions, clock, retry_s
        self.spool = spool or Spool.for_node(get_settings().data_dir, node, sessions)
        self.t0 = clock()            # offsets (start_ms, at_ms) count from here: the start of the recording
        self._seq = 0
        self._pending: dict | None = None   # the caller turn waiting for its timings
        self._lock = threading.Lock()
        self._spooled: Path | None = None   # records go to this spool file until the database is back
        self.db_id: int | None = None
        first = {"op": "call", "fields": dict(ani=ani, channel=channel, node=node, started_at=utcnow(),
                                              language=language)}
        try:
            with sessions.begin() as s:
                self.db_id = apply(s, first, None)
            self.call_id: int | str = self.db_id
        except OUTAGE as err:
            self.call_id = f"pending-{uuid.uuid4().hex[:12]}"
            log.warning("call %s: the database is unavailable (%s); the call is kept on local disk",
                        self.call_id, str(err.orig or err).splitlines()[0])
            self._spool(first)
        self._jobs: queue.Queue[dict | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write, name=f"call-log-{self.call_id}", daemon=True)
        self._writer.start()

    def offset_ms(self, at: float | None = None) -> float:
        return round(((self.clock() if at is None else at) - self.t0) * 1000, 1)

    # -- what happened ------------------------------------------------------------------------------------
    def turn(self, speaker: str, text: str, state: str | None = None, intent: str | None = None,
             confidence: float | None = None, slots: dict | None = None, **fields) -> None:
        """Store a turn; a caller turn is held until `complete_turn` (or the next caller turn, or the end)."""
        said, text = text, _redacted(text)
        slots = _redacted_slots(said, text, slots or {})
        with self._lock:
            row = dict(seq=self._next_seq(), speaker=speaker, text=text, state=state, intent=intent,
                       confidence=confidence, slots=slots or None, at=utcnow(), **fields)
            if speaker != "caller":
                self._submit({"op": "turn", "row": row})
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
            row = dict(seq=self._next_seq(), kind=kind, state=state, at_ms=self.offset_ms(at),
                       detail=detail or None, at=utcnow())
            self._submit({"op": "event", "row": row})

    def set_language(self, language: str) -> None:
        """The call goes on in another language (the caller asked, or the customer's own)."""
        self._update_call(language=language)

    def set_recording(self, path: str | None) -> None:
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
        """Store what is queued and stop the writer (idempotent). In an outage what is left stays in the spool,
        which writes it when the database is back."""
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
            self._submit({"op": "turn", "row": self._pending})
            self._pending = None

    def _update_call(self, **values) -> None:
        self._submit({"op": "update", "values": values})

    def _submit(self, record: dict) -> None:
        if not self._writer.is_alive():
            log.warning("call %s: the call log is closed; a late write was dropped", self.call_id)
            return
        self._jobs.put(record)

    def _write(self) -> None:
        with call_context(self.call_id):   # this thread's log lines carry the call id
            self._write_jobs()

    def _write_jobs(self) -> None:
        while True:
            try:
                record = self._jobs.get(timeout=self.retry_s if self._spooled else None)
            except queue.Empty:
                self._replay()
                continue
            try:
                if record is None:
                    if self._spooled and not self._replay():
                        self.spool.adopt(self._spooled, self.db_id)
                    return
                self._store(record)
            except Exception:  # noqa: BLE001 - keep storing the rest of the call
                log.exception("call %s: a write to the call log failed", self.call_id)
            finally:
                self._jobs.task_done()

    def _store(self, record: dict) -> None:
        if self._spooled:
            self.spool.append(self._spooled, record)
            return
        try:
            with self.sessions.begin() as s:
                apply(s, record, self.db_id)
        except OUTAGE as err:
            log.warning("call %s: the database is unavailable (%s); keeping the call on local disk",
                        self.call_id, str(err.orig or err).splitlines()[0])
            self._spool(record)

    def _spool(self, record: dict) -> None:
        if self._spooled is None:
            self._spooled = self.spool.path(f"call-{self.db_id}" if self.db_id else str(self.call_id))
        self.spool.append(self._spooled, record)

    def _replay(self) -> bool:
        """Write the spooled records now if the database is back; False if it is not."""
        try:
            self.db_id = self.spool.replay(self._spooled, self.db_id)
        except OUTAGE:
            return False
        except Exception:  # noqa: BLE001 - the file stays for the spool thread and an engineer
            log.exception("call %s: the spooled records could not be written", self.call_id)
            return False
        self._spooled = None
        return True
