"""The analyzer: a queue of ended calls in the `analyses` table that several analyzers share.

A job is taken with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite serialises writers instead) and held by
a lease that a heartbeat renews; a job whose analyzer died is taken again when its lease runs out. Results are
stored only while the lease is still ours, so no call is analysed twice and none is lost. A failure is stored
with its reason and retried after a pause, at most `max_attempts` times in all."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta
from typing import Callable

from sqlalchemy import and_, exists, func, insert, literal, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import sessionmaker

from config import Settings
from models import Analysis, AnalysisStatus, Call, utcnow
from monitoring import call_context, metrics

from . import pipeline

log = logging.getLogger(__name__)
OUTAGE_RETRY_S = 2.0


def lower_priority(nice: int) -> None:
    """Analysis yields the CPU to live calls (threads started after this inherit it)."""
    if nice > 0:
        os.nice(max(0, nice - os.nice(0)))


class Analyzer:
    def __init__(self, sessions: sessionmaker, settings: Settings, recognizer=None, embedder=None,
                 worker_id: str | None = None):
        self.sessions, self.settings = sessions, settings
        self.cfg = settings.analytics
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self._recognizer, self._embedder = recognizer, embedder

    # -- models, loaded on first use ----------------------------------------------------------------------
    @property
    def recognizer(self):
        if self._recognizer is None and self.cfg.transcribe:
            from asr import get_recognizer

            s = self.settings
            own = s.model_copy(update={"asr": s.asr.model_copy(update={"cpu_threads": self.cfg.cpu_threads,
                                                                       "workers": 1})})
            self._recognizer = get_recognizer("whisper", s.asr.accurate_model, own)
        return self._recognizer

    @property
    def embedder(self):
        if self._embedder is None:
            from embedding import Embedder

            self._embedder = Embedder.load(self.settings.data_dir / "models")
        return self._embedder

    # -- the queue ----------------------------------------------------------------------------------------
    def enqueue_ended(self) -> int:
        """A queued job for every ended call that has none yet (safe when several analyzers do it at once)."""
        with self.sessions.begin() as s:
            missing = select(Call.id, literal(AnalysisStatus.queued.value), literal(0), literal(False), literal(False),
                             literal(False)).where(
                Call.ended_at.is_not(None), ~exists().where(Analysis.call_id == Call.id))
            stmt = _insert_ignore(s, Analysis).from_select(
                ["call_id", "status", "attempts", "transcribed", "auto_failed", "complaint"], missing)
            return s.execute(stmt).rowcount or 0

    def requeue(self, call_ids: list[int]) -> None:
        """Analyse these calls again (ended ones only), whatever their state."""
        with self.sessions.begin() as s:
            ended = set(s.scalars(select(Call.id).where(Call.id.in_(call_ids), Call.ended_at.is_not(None))))
            for call_id in call_ids:
                if call_id not in ended:
                    continue
                job = s.scalar(select(Analysis).where(Analysis.call_id == call_id))
                if job is None:
                    s.add(Analysis(call_id=call_id, status=AnalysisStatus.queued, attempts=0))
                elif job.status != AnalysisStatus.running or _expired(job):
                    job.status, job.attempts, job.error, job.retry_at = AnalysisStatus.queued, 0, None, None

    def _due(self, now):
        """Jobs to take: queued, failed and due for a retry, or running under an expired lease (each at most
        `max_attempts` times: a recording that kills its analyzer every time must not be taken forever)."""
        return or_(Analysis.status == AnalysisStatus.queued,
                   and_(Analysis.status == AnalysisStatus.running, Analysis.lease_until < now,
                        Analysis.attempts < self.cfg.max_attempts),
                   and_(Analysis.status == AnalysisStatus.failed, Analysis.attempts < self.cfg.max_attempts,
                        Analysis.retry_at <= now))

    def backlog(self) -> int:
        """Jobs waiting for an analyzer now (also exported as ivr_analyzer_backlog)."""
        with self.sessions() as s:
            pending = s.scalar(select(func.count()).select_from(Analysis).where(self._due(utcnow()))) or 0
        metrics.ANALYZER_BACKLOG.set(pending)
        return pending

    def claim(self, only: set[int] | None = None) -> int | None:
        """Take the next job: queued, failed and due for a retry, or running under an expired lease."""
        now = utcnow()
        with self.sessions.begin() as s:
            s.execute(update(Analysis).where(
                Analysis.status == AnalysisStatus.running, Analysis.lease_until < now,
                Analysis.attempts >= self.cfg.max_attempts).values(
                status=AnalysisStatus.failed, lease_until=None, finished_at=now,
                error="the analyzer stopped (killed or crashed) during every attempt"))
            q = select(Analysis).where(self._due(now))
            if only is not None:
                q = q.where(Analysis.call_id.in_(only))
            job = s.scalar(q.order_by(Analysis.id).limit(1).with_for_update(skip_locked=True))
            if job is None:
                return None
            job.status, job.worker, job.attempts = AnalysisStatus.running, self.worker_id, job.attempts + 1
            job.lease_until = now + timedelta(seconds=self.cfg.lease_s)
            job.started_at, job.error = now, None
            return job.call_id

    def run_one(self, only: set[int] | None = None) -> int | None:
        """Claim one job and analyse it; returns its call id (None: nothing to do)."""
        call_id = self.claim(only)
        if call_id is None:
            return None
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(call_id, stop), daemon=True,
                                name=f"analysis-lease-{call_id}")
        beat.start()
        started, result_kind = time.monotonic(), "failed"
        try:
            with call_context(call_id):
                result_kind = self._analyse(call_id)
        finally:
            stop.set()
            metrics.ANALYSES.labels(result_kind).inc()
            metrics.ANALYSIS_SECONDS.observe(time.monotonic() - started)
        return call_id

    def _analyse(self, call_id: int) -> str:
        """Analyse one claimed call and store the result; returns done, failed or lost (the lease)."""
        try:
            stored = pipeline.StoredCall.read(self.sessions, call_id)
            language = stored.call.language or self.settings.asr.language   # the language the call was served in
            result = pipeline.analyze(stored, self.recognizer, self.embedder, language)
            recording = stored.call.recording_path
            with self.sessions.begin() as s:
                job = self._own_job(s, call_id)
                if job is None:
                    log.warning("call %s: lease lost while analysing; another analyzer has it", call_id)
                    return "lost"
                pipeline.store(s, job, result, recording)
                job.status, job.finished_at, job.lease_until = AnalysisStatus.done, utcnow(), None
            return "done"
        except Exception as err:  # noqa: BLE001 - stored as failed, retried; the call itself stays
            log.exception("call %s: analysis failed", call_id)
            self._fail(call_id, f"{type(err).__name__}: {err}".splitlines()[0][:500])
            return "failed"

    def drain(self, only: set[int] | None = None, progress: Callable[[int], None] | None = None) -> int:
        """Analyse every due job (of `only`, when given); returns how many were taken."""
        done = 0
        while (call_id := self.run_one(only)) is not None:
            done += 1
            if progress:
                progress(call_id)
        return done

    def follow(self, stop: threading.Event | None = None) -> None:
        """Analyse calls as they end, until `stop` is set. A database outage pauses it (the job in hand is
        taken again when its lease runs out); it does not end it."""
        stop = stop or threading.Event()
        while not stop.is_set():
            try:
                self.enqueue_ended()
                self.backlog()
                idle = self.run_one() is None
            except (OperationalError, InterfaceError) as err:
                log.warning("the database is unavailable (%s); retrying in %.0f s",
                            str(err.orig or err).splitlines()[0], OUTAGE_RETRY_S)
                stop.wait(OUTAGE_RETRY_S)
                continue
            if idle:
                stop.wait(self.cfg.poll_s)

    # -- internals ----------------------------------------------------------------------------------------
    def _own_job(self, s, call_id: int) -> Analysis | None:
        job = s.scalar(select(Analysis).where(Analysis.call_id == call_id).with_for_update())
        if job is None or job.worker != self.worker_id or job.status != AnalysisStatus.running:
            return None
        return job

    def _heartbeat(self, call_id: int, stop: threading.Event) -> None:
        while not stop.wait(self.cfg.lease_s / 3):
            try:
                with self.sessions.begin() as s:
                    s.execute(update(Analysis).where(Analysis.call_id == call_id, Analysis.worker == self.worker_id,
                                                     Analysis.status == AnalysisStatus.running)
                              .values(lease_until=utcnow() + timedelta(seconds=self.cfg.lease_s)))
            except (OperationalError, InterfaceError):
                log.warning("call %s: the lease could not be renewed (database unavailable)", call_id)

    def _fail(self, call_id: int, reason: str) -> None:
        with self.sessions.begin() as s:
            job = self._own_job(s, call_id)
            if job is None:
                return
            job.status, job.error, job.lease_until = AnalysisStatus.failed, reason, None
            job.finished_at = utcnow()
            job.retry_at = utcnow() + timedelta(seconds=self.cfg.retry_s * job.attempts)


def _expired(job: Analysis) -> bool:
    return job.lease_until is None or job.lease_until < utcnow()


def _insert_ignore(s, table):
    """INSERT … ON CONFLICT DO NOTHING in the session's dialect."""
    name = s.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    return insert(table)
