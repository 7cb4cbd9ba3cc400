"""Database outage: the dialog apologises and offers an agent; the call's record is kept on local disk and written
once when PostgreSQL is back (a real PostgreSQL, stopped and started again)."""
import shutil

import pytest
from sqlalchemy import func, select

from ivr.bank import SqlBank
from ivr.call_log import CallLog
from ivr.session import CallerKeyed, CallerSaid, Listen, Say, Transfer
from ivr.spool import Spool
from models import Call, CallEvent, Turn, make_engine, session_factory

from .conftest import demo_app

ALEX = "+15550100"


def unreachable_bank(tmp_path):
    """A bank whose database cannot be opened: what SqlBank meets when its server is down."""
    return SqlBank(session_factory(make_engine(f"sqlite:///{tmp_path}/missing/dir/bank.sqlite3")))


def said(actions) -> str:
    return " ".join(a.text for a in actions if isinstance(a, Say))


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return demo_app(tmp_path_factory.mktemp("outage"))


def test_outage_at_the_start_of_a_call_offers_an_agent(app, tmp_path):
    session = app.new_session(ALEX)
    session.ctx.bank = unreachable_bank(tmp_path)
    first = session.start()
    assert "can't reach our banking systems" in said(first) and isinstance(first[-1], Listen)
    assert session.ctx.state == "service_unavailable"
    out = session.handle(CallerSaid("yes please", 0.9))
    assert [a.reason for a in out if isinstance(a, Transfer)] == ["service_unavailable"]


def test_an_unclear_answer_to_the_offer_is_asked_again(app, tmp_path):
    session = app.new_session(ALEX)
    session.ctx.bank = unreachable_bank(tmp_path)
    session.start()
    out = session.handle(CallerSaid("hmm I'm not sure", 0.9))
    assert session.ctx.state == "service_unavailable" and not session.done and isinstance(out[-1], Listen)
    assert not any(isinstance(a, Transfer) for a in out)


def test_outage_after_the_pin_apologises_and_the_caller_may_call_back(app, tmp_path):
    session = app.new_session(ALEX)
    session.start()
    out = session.handle(CallerKeyed("2468#"))
    assert session.ctx.authenticated and session.ctx.state == "main_menu", said(out)
    session.ctx.bank = unreachable_bank(tmp_path)
    out = session.handle(CallerSaid("what is my balance", 0.9))
    assert "can't reach our banking systems" in said(out) and "$" not in said(out)
    out = session.handle(CallerSaid("no thanks, I'll call back", 0.9))
    assert "call back in a few minutes" in said(out) and session.outcome == "completed"


@pytest.fixture
def pg(tmp_path):
    from tests.postgres import PostgresServer, pg_bin

    if pg_bin() is None:
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql)")
    server = PostgresServer().start()
    a = demo_app(tmp_path, server.url())
    yield server, a.sessions
    server.stop()


def test_records_made_during_an_outage_are_written_once_when_the_database_is_back(pg, tmp_path):
    server, sessions = pg
    spool = Spool(tmp_path / "spool", sessions, retry_s=0.3)
    before = CallLog(sessions, ALEX, node="ep-1", spool=spool, retry_s=0.3)   # answered before the outage
    before.turn("ivr", "Welcome to Demo Bank.", "welcome")
    before.flush()
    server.pause()
    before.turn("caller", "what is my balance", "main_menu", "check_balance", 0.9)
    before.event("service_unavailable", "main_menu", reason="test")
    during = CallLog(sessions, "+15550101", node="ep-1", spool=spool, retry_s=0.3)   # answered during it
    assert str(during.call_id).startswith("pending-")
    during.turn("ivr", "I'm sorry, I can't reach our banking systems right now.", "service_unavailable")
    during.turn("caller", "my card is 4111 1111 1111 1111", "service_unavailable")   # redacted before disk
    during.end("completed")
    during.close()                                    # the call ended in the outage: the spool keeps it
    kept = list((tmp_path / "spool").glob("*.jsonl"))
    assert len(kept) == 2 and all("4111" not in p.read_text() for p in kept)
    (tmp_path / "again").mkdir()
    copies = [shutil.copy(p, tmp_path / "again" / p.name) for p in kept]
    server.resume()
    before.turn("ivr", "Goodbye.", "goodbye")
    before.end("completed")
    before.close()
    spool._thread and spool._thread.join(30)
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    for copy in copies:                               # a crash between commit and delete: written again
        Spool(tmp_path / "again", sessions).replay(copy)
    with sessions() as s:
        calls = s.scalars(select(Call).order_by(Call.id)).all()
        assert [(c.ani, c.outcome) for c in calls] == [(ALEX, "completed"), ("+15550101", "completed")]
        for call, count in zip(calls, (4, 2)):
            seqs = s.scalars(select(Turn.seq).where(Turn.call_id == call.id)).all()
            seqs += s.scalars(select(CallEvent.seq).where(CallEvent.call_id == call.id)).all()
            assert sorted(seqs) == list(range(1, count + 1)), (call.id, seqs)
        assert s.scalar(select(func.count()).select_from(Turn)) == 5
        assert "4111" not in " ".join(s.scalars(select(Turn.text)).all())
