"""The analyzer worker: calls picked up as they end, shared by several analyzers on one PostgreSQL with none taken
twice, a dead analyzer's job taken again when its lease runs out, failures stored and retried (bounded)."""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from analytics.worker import Analyzer
from config import AnalyticsSettings, Settings
from ivr.call_log import CallLog
from models import Analysis, MetricValue, ScoreItem, Segment, Turn, make_engine, session_factory
from models.migrate import upgrade


@pytest.fixture(scope="module")
def embedder(data_dir):
    from embedding import Embedder

    return Embedder.load(data_dir / "models")


def settings(tmp_path, url: str | None = None, **analytics) -> Settings:
    return Settings(data_dir=tmp_path, database_url=url or f"sqlite:///{tmp_path}/calls.sqlite3",
                    analytics=AnalyticsSettings(**{"transcribe": False, "retry_s": 0, **analytics}))


def store_calls(sessions, n: int, ended: bool = True) -> list[int]:
    """Calls written by the real call record writer, as a chat call would leave them."""
    ids = []
    for i in range(n):
        log = CallLog(sessions, "+15550100", channel="chat")
        log.turn("ivr", "Welcome to First Demo Bank. Calls are recorded.", "welcome")
        log.turn("caller", "what's my balance" if i % 2 else "I lost my card", "main_menu",
                 "check_balance" if i % 2 else "report_lost_card", 0.9)
        log.complete_turn(latency_ms=640.0 + i)
        log.event("auth_success", "verify_pin")
        log.event("task_done", "balance", task="check_balance")
        log.turn("ivr", "Thank you for calling First Demo Bank. Goodbye.", "goodbye")
        if ended:
            log.end("completed")
        log.close()
        ids.append(log.call_id)
    return ids


def open_db(cfg: Settings):
    engine = make_engine(cfg.db_url)
    upgrade(engine)
    return session_factory(engine)


def jobs(sessions) -> dict[int, Analysis]:
    with sessions() as s:
        return {j.call_id: j for j in s.scalars(select(Analysis))}


def test_an_ended_call_is_picked_up_and_analysed_an_open_one_waits(tmp_path, embedder):
    cfg = settings(tmp_path)
    sessions = open_db(cfg)
    done, still_open = store_calls(sessions, 1)[0], store_calls(sessions, 1, ended=False)[0]
    stop = threading.Event()
    worker = threading.Thread(target=Analyzer(sessions, cfg, embedder=embedder).follow, args=(stop,))
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while jobs(sessions).get(done) is None or jobs(sessions)[done].status != "done":
            assert time.monotonic() < deadline, jobs(sessions)
            time.sleep(0.2)
    finally:
        stop.set()
        worker.join(30)
    assert still_open not in jobs(sessions)
    with sessions() as s:
        metrics = {m.name: m.value if m.detail is None else m.detail
                   for m in s.scalars(select(MetricValue).where(MetricValue.call_id == done))}
        segments = s.scalars(select(Segment).where(Segment.call_id == done)).all()
        items = s.scalars(select(ScoreItem).where(ScoreItem.call_id == done)).all()
    assert metrics["auth"] == "success" and metrics["tasks"] == ["check_balance"] and metrics["contained"] == 1
    assert metrics["dead_air_s"] == 0 and metrics["overtalk_count"] == 0     # a text chat: turns back to back
    assert [seg.speaker for seg in segments] == ["ivr", "caller", "ivr"]
    assert items and jobs(sessions)[done].scorecard == "banking_ivr"


def test_two_analyzers_on_postgresql_never_take_the_same_call(tmp_path, postgres, embedder):
    cfg = settings(tmp_path, postgres.create_database("two_analyzers"))
    sessions = open_db(cfg)
    ids = store_calls(sessions, 24)
    taken: list[tuple[str, int]] = []
    lock = threading.Lock()

    class Counting(Analyzer):
        def claim(self, only=None):
            call_id = super().claim(only)
            if call_id is not None:
                with lock:
                    taken.append((self.worker_id, call_id))
            return call_id

    analyzers = [Counting(session_factory(make_engine(cfg.db_url)), cfg, embedder=embedder, worker_id=f"analyzer-{i}")
                 for i in (1, 2)]
    analyzers[0].enqueue_ended()
    analyzers[1].enqueue_ended()           # both enqueue: still one job per call
    threads = [threading.Thread(target=a.drain) for a in analyzers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    per_call = Counter(call_id for _, call_id in taken)
    assert sorted(per_call) == sorted(ids) and set(per_call.values()) == {1}, per_call
    assert {w for w, _ in taken} == {"analyzer-1", "analyzer-2"}      # the work was shared
    final = jobs(sessions)
    assert all(j.status == "done" and j.attempts == 1 for j in final.values()), final
    with sessions() as s:
        assert s.query(Segment).count() == 3 * len(ids)                 # stored once per call, not twice


def test_a_dead_analyzers_job_is_taken_again_when_its_lease_runs_out(tmp_path, embedder):
    cfg = settings(tmp_path, lease_s=5)
    sessions = open_db(cfg)
    call_id = store_calls(sessions, 1)[0]
    dead = Analyzer(sessions, cfg, embedder=embedder, worker_id="dies-mid-job")
    alive = Analyzer(sessions, cfg, embedder=embedder, worker_id="survivor")
    dead.enqueue_ended()
    assert dead.claim() == call_id            # ... and the process dies here: no heartbeat, no result
    assert alive.claim() is None              # leased: not taken while the lease runs
    time.sleep(5.5)
    assert alive.run_one() == call_id
    job = jobs(sessions)[call_id]
    assert (job.status, job.worker, job.attempts) == ("done", "survivor", 2)
    with sessions() as s:
        assert dead._own_job(s, call_id) is None  # a late result of the dead one would not be stored


def test_a_job_that_kills_its_analyzer_every_time_is_given_up_after_max_attempts(tmp_path, embedder):
    cfg = settings(tmp_path, lease_s=5, max_attempts=2)
    sessions = open_db(cfg)
    call_id = store_calls(sessions, 1)[0]
    Analyzer(sessions, cfg, embedder=embedder).enqueue_ended()
    for attempt in (1, 2):                    # each analyzer dies holding it: no heartbeat, no result
        assert Analyzer(sessions, cfg, embedder=embedder, worker_id=f"dies-{attempt}").claim() == call_id
        time.sleep(5.2)
    assert Analyzer(sessions, cfg, embedder=embedder, worker_id="next").claim() is None
    job = jobs(sessions)[call_id]
    assert (job.status, job.attempts) == ("failed", 2) and "every attempt" in job.error


def test_a_failed_analysis_is_stored_with_its_reason_and_retried_a_bounded_number_of_times(tmp_path, embedder):
    broken = settings(tmp_path, transcribe=True, max_attempts=2).model_copy(
        update={"asr": Settings().asr.model_copy(update={"accurate_model": str(tmp_path / "no-such-model")})})
    sessions = open_db(broken)
    call_id = store_calls(sessions, 1)[0]
    analyzer = Analyzer(sessions, broken, embedder=embedder)
    analyzer.enqueue_ended()
    assert analyzer.run_one() == call_id
    job = jobs(sessions)[call_id]
    assert job.status == "failed" and "no-such-model" in job.error and job.attempts == 1
    assert analyzer.run_one() == call_id      # retried
    assert analyzer.run_one() is None         # ... at most max_attempts times
    assert jobs(sessions)[call_id].attempts == 2
    with sessions() as s:
        assert s.query(Turn).filter_by(call_id=call_id).count() == 3   # the call itself is untouched

    fixed = Analyzer(sessions, settings(tmp_path), embedder=embedder)   # the model is put right, the call asked again
    fixed.requeue([call_id])
    assert fixed.run_one() == call_id and jobs(sessions)[call_id].status == "done"
