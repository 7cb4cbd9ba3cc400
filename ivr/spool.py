"""A call's records that the database cannot take now (an outage), kept on local disk and written when it is back.

One JSON-lines file per call, appended and fsynced record by record, in the order they happened: `call` (only for
a call that started during the outage, so it has no id yet), `turn`, `event`, `update` (values of the call row).
`replay()` writes a whole file in one transaction and then deletes it. It may run again on the same file (a crash
between the commit and the delete): a call is found again by its node and start time, turns and events by their
(call id, seq), so nothing is written twice. The rows were redacted before they got here (no PIN, no card number).
"""
from __future__ import annotations

import json
import logging
import os
import re
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from models import Call, CallEvent, Turn, utcnow

log = logging.getLogger(__name__)
# the database cannot be reached, or not in time (not a bug in a row): keep the records and try again
OUTAGE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
MODELS = {"turn": Turn, "event": CallEvent}


def _encode(value):
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    raise TypeError(f"{type(value).__name__} cannot go in the spool")


def _decode(obj: dict):
    return datetime.fromisoformat(obj["$dt"]) if set(obj) == {"$dt"} else obj


def apply(s: Session, record: dict, call_id: int | None, replaying: bool = False) -> int:
    """Write one record; returns the call's id (new for a `call` record)."""
    op = record["op"]
    if op == "call":
        fields = record["fields"]
        found = s.scalar(select(Call.id).where(Call.node == fields.get("node"), Call.ani == fields.get("ani"),
                                               Call.started_at == fields["started_at"])) if replaying else None
        if found is not None:
            return found
        call = Call(**fields)
        s.add(call)
        s.flush()
        return call.id
    if op == "update":
        call = s.get(Call, call_id)
        for key, value in record["values"].items():
            setattr(call, key, value)
        return call_id
    model, row = MODELS[op], {**record["row"], "call_id": call_id}
    if replaying and s.scalar(select(model.id).where(model.call_id == call_id, model.seq == row["seq"])):
        return call_id
    s.add(model(**row))
    return call_id


class Spool:
    """The spool directory of one endpoint (its node name), and the thread that writes orphaned files back."""

    def __init__(self, directory: Path, sessions: sessionmaker, retry_s: float = 2.0):
        self.dir, self.sessions, self.retry_s = directory, sessions, retry_s
        self._orphans: list[Path] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_node(cls, data_dir: Path, node: str | None, sessions: sessionmaker) -> "Spool":
        return cls(data_dir / "spool" / (re.sub(r"[^\w.-]", "_", node) if node else "local"), sessions)

    def path(self, name: str) -> Path:
        self.dir.mkdir(parents=True, exist_ok=True)
        return self.dir / f"{name}.jsonl"

    @staticmethod
    def append(path: Path, record: dict) -> None:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=_encode) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def replay(self, path: Path, call_id: int | None = None, interrupted: bool = False) -> int:
        """Write the file in one transaction and delete it; raises OUTAGE if the database is still away.
        `interrupted`: the call's process died, so a call left open is ended as `interrupted`."""
        call_id = call_id if call_id is not None else _call_id_of(path)
        records = [json.loads(line, object_hook=_decode) for line in path.read_text().splitlines() if line.strip()]
        with self.sessions.begin() as s:
            for record in records:
                call_id = apply(s, record, call_id, replaying=True)
            if interrupted and call_id is not None and (call := s.get(Call, call_id)).ended_at is None:
                call.ended_at, call.outcome = utcnow(), "interrupted"
        path.unlink()
        log.warning("spool: wrote %d record(s) of call %s kept during a database outage", len(records), call_id)
        return call_id

    # -- files whose writer is gone (the call ended during the outage, or the process died) ---------------------
    def adopt(self, path: Path, call_id: int | None) -> None:
        """Keep trying to write this file in the background until the database is back."""
        with self._lock:
            self._orphans.append((path, call_id, False))
            self._start()

    def recover(self) -> int:
        """At start-up: files a dead process of this node left behind are written back (in the background)."""
        leftovers = sorted(self.dir.glob("*.jsonl")) if self.dir.exists() else []
        with self._lock:
            self._orphans += [(p, None, True) for p in leftovers]
            if leftovers:
                self._start()
        return len(leftovers)

    def _start(self) -> None:   # under self._lock
        if self._thread is None:
            self._thread = threading.Thread(target=self._retry, name="spool", daemon=True)
            self._thread.start()

    def _retry(self) -> None:
        while True:
            with self._lock:
                orphans, self._orphans = self._orphans, []
                if not orphans:
                    self._thread = None
                    return
            left = []
            for path, call_id, interrupted in orphans:
                try:
                    self.replay(path, call_id, interrupted)
                except OUTAGE:
                    left.append((path, call_id, interrupted))
                except Exception:  # noqa: BLE001 - a broken file must not stop the others
                    log.exception("spool: %s cannot be written; it is kept for an engineer", path)
            with self._lock:
                self._orphans = left + self._orphans
            if left:
                self._wake.wait(self.retry_s)


def _call_id_of(path: Path) -> int | None:
    """`call-123.jsonl` belongs to stored call 123; `pending-....jsonl` to a call that has no id yet."""
    m = re.fullmatch(r"call-(\d+)", path.stem)
    return int(m.group(1)) if m else None
