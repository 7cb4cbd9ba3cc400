"""Schema upgrades keep what an existing database holds."""
from alembic import command
from sqlalchemy import inspect, select, text

from models import CallEvent, Turn, make_engine, session_factory
from models.migrate import alembic_config, upgrade


def test_upgrade_from_0002_moves_event_turns_into_call_events(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/old.sqlite3")
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002")
        conn.commit()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO calls (id, channel, ani, started_at, outcome) "
                          "VALUES (1, 'sip', '+15550100', CURRENT_TIMESTAMP, 'completed')"))
        rows = [(1, "ivr", "Welcome.", None), (2, "caller", "[PIN]", '{"latency_ms": 300.0}'),
                (3, "event", "barge-in (12 frames dropped)", None), (4, "event", "no input", None),
                (5, "event", "transfer refused (603)", None)]
        for seq, speaker, said, timings in rows:
            conn.execute(text("INSERT INTO turns (call_id, seq, speaker, state, text, timings, at) "
                              "VALUES (1, :seq, :speaker, 'main_menu', :text, :timings, CURRENT_TIMESTAMP)"),
                         {"seq": seq, "speaker": speaker, "text": said, "timings": timings})
    upgrade(engine)
    with session_factory(engine)() as s:
        turns = s.scalars(select(Turn).order_by(Turn.seq)).all()
        events = s.scalars(select(CallEvent).order_by(CallEvent.seq)).all()
    assert [(t.seq, t.speaker, t.text) for t in turns] == [(1, "ivr", "Welcome."), (2, "caller", "[PIN]")]
    assert turns[1].timings == {"latency_ms": 300.0}                 # the JSON text became a JSON value
    assert [(e.seq, e.kind) for e in events] == [(3, "barge_in"), (4, "no_input"), (5, "transfer_refused")]
    assert events[0].detail == {"text": "barge-in (12 frames dropped)"}
    uniques = inspect(engine).get_unique_constraints("turns")
    assert any(u["column_names"] == ["call_id", "seq"] for u in uniques)
