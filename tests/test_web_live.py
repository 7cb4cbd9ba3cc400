"""The Live page: open calls written by the real call log on two endpoint nodes, the snapshot API, the stuck rule,
roles, and the Server-Sent Events stream read from a real uvicorn server."""
from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy import event, insert

from ivr.call_log import CallLog

from .console_data import PASSWORDS, client

NODE_A, NODE_B = "host-a:5060", "host-b:5062"


@contextmanager
def open_calls(data, *specs: tuple[str, str | None]):
    """Calls in progress, one per (node, caller ID), ended and closed afterwards whatever happens."""
    logs = [CallLog(data.sessions, ani, "sip", node=node) for node, ani in specs]
    try:
        yield logs
    finally:
        for log in logs:
            log.end("completed")
            log.close()


def ours(snap: dict) -> dict[int, dict]:
    return {c["id"]: c for c in snap["calls"] if c["node"] in (NODE_A, NODE_B)}


def live(c) -> dict:
    r = c.get("/api/live")
    assert r.status_code == 200, r.text
    return r.json()


def test_snapshot_lists_open_calls_per_node_with_state_and_redacted_turns(console_data):
    c = client(console_data, "sue")
    with open_calls(console_data, (NODE_A, "+15550177"), (NODE_B, "+15550188"), (NODE_A, "+15550199")) as (a, b, gone):
        a.turn("ivr", "Welcome. How can I help?", "main_menu")
        a.turn("caller", "I lost my card 4111 1111 1111 1111", "main_menu", "lost_card", 0.93)
        a.event("task_done", "report_card", task="lost_card")
        b.turn("ivr", "Please key in your PIN.", "pin")
        b.event("dtmf", "pin", digits="****")
        gone.turn("ivr", "Goodbye.", "goodbye")
        gone.end("completed")
        for log in (a, b, gone):
            log.flush()
        snap = live(c)
    calls = ours(snap)
    assert set(calls) == {a.call_id, b.call_id}, "an ended call is not live"
    nodes = {n["node"]: n["calls"] for n in snap["nodes"]}
    assert nodes[NODE_A] == [a.call_id] and nodes[NODE_B] == [b.call_id]
    first, second = calls[a.call_id], calls[b.call_id]
    assert first["ani"] == "+15550177" and first["channel"] == "sip"
    assert first["state"] == "report_card", "the newest event's state"
    assert second["state"] == "pin"
    assert [(t["speaker"], t["state"]) for t in first["turns"]] == [("ivr", "main_menu"), ("caller", "main_menu")]
    said = first["turns"][1]["text"]
    assert "4111" not in said and "[PAN]" in said
    assert 0 <= first["elapsed_s"] < 60 and first["started_at"][:4].isdigit()
    assert first["no_match"] == first["no_input"] == 0 and first["stuck"] is False
    assert ours(live(c)) == {}, "calls disappear once ended"


def test_transcript_keeps_the_last_twelve_turns(console_data):
    c = client(console_data, "sue")
    with open_calls(console_data, (NODE_A, None)) as (log,):
        for i in range(15):
            log.turn("ivr", f"prompt {i}", "menu")
        log.flush()
        call = ours(live(c))[log.call_id]
    assert [t["text"] for t in call["turns"]] == [f"prompt {i}" for i in range(3, 15)]
    assert call["ani"] is None


def _no_match(log: CallLog, state: str, said: str) -> None:
    log.turn("caller", said, state, None, 0.4)
    log.event("no_match", state)
    log.turn("ivr", "Sorry, I didn't get that. Which account?", state)


def test_two_no_matches_make_a_call_stuck_and_an_understood_turn_clears_it(console_data):
    c = client(console_data, "sue")
    with open_calls(console_data, (NODE_A, "+15550111"), (NODE_B, "+15550122")) as (calm, lost):
        calm.turn("ivr", "Welcome.", "main_menu")
        lost.turn("ivr", "Which account?", "pick_account")
        _no_match(lost, "pick_account", "blah blah")
        lost.flush()
        once = ours(live(c))[lost.call_id]
        assert once["no_match"] == 1 and once["stuck"] is False
        _no_match(lost, "pick_account", "foo bar")
        lost.flush()
        calm.flush()
        snap = live(c)
        stuck = ours(snap)[lost.call_id]
        assert stuck["stuck"] is True and stuck["no_match"] == 2
        ids = [x["id"] for x in snap["calls"]]
        assert ids.index(lost.call_id) < ids.index(calm.call_id), "stuck calls first, though newer"
        assert "stuck" in snap["stuck_rule"]
        lost.turn("caller", "checking", "pick_account", "answer", 0.95, slots={"account": "checking"})
        lost.flush()
        cleared = ours(live(c))[lost.call_id]
        assert cleared["stuck"] is False and cleared["no_match"] == 2


def test_no_inputs_and_the_same_question_three_times_are_stuck(console_data):
    c = client(console_data, "sue")
    with open_calls(console_data, (NODE_A, "+1"), (NODE_A, "+2"), (NODE_B, "+3")) as (silent, pin, menu):
        silent.turn("ivr", "How can I help?", "main_menu")
        for _ in range(2):
            silent.event("no_input", "main_menu")
            silent.turn("ivr", "How can I help?", "main_menu")
        for _ in range(3):   # understood each time, but the wrong PIN sends the caller back
            pin.turn("ivr", "Key in your PIN.", "pin")
            pin.turn("caller", "[PIN]", "pin", None, 1.0)
            pin.event("auth_failure", "pin", reason="wrong_pin")
        pin.turn("ivr", "Key in your PIN.", "pin")
        for task, says in (("balance", "Your balance is $10."), ("history", "Your last payment was $5.")):
            menu.turn("ivr", "Anything else?", "anything_else")
            menu.turn("caller", task, "anything_else", task, 0.9)
            menu.turn("ivr", says, task)
        menu.turn("ivr", "Anything else?", "anything_else")
        for log in (silent, pin, menu):
            log.flush()
        calls = ours(live(c))
        assert calls[silent.call_id]["stuck"] is True and calls[silent.call_id]["no_input"] == 2
        assert calls[pin.call_id]["stuck"] is True, "the PIN asked for the fourth time"
        assert calls[menu.call_id]["stuck"] is False, "back at the menu after each task is progress"
        pin.turn("caller", "[PIN]", "pin", None, 1.0)
        pin.flush()
        assert ours(live(c))[pin.call_id]["stuck"] is False, "an answer not yet refused clears it"


def test_snapshot_is_one_query_per_table_and_fast(tmp_path):
    """40 open calls among 10,000 stored ones: three SELECTs, well under the console's 150 ms."""
    from config import Settings
    from models import Call, CallEvent, Turn, make_engine, session_factory
    from models.migrate import upgrade
    from web.console import Console, utcnow
    from web.live_calls import snapshot

    engine = make_engine(f"sqlite:///{tmp_path}/live.sqlite3")
    upgrade(engine)
    sessions = session_factory(engine)
    now = utcnow().replace(microsecond=0)
    calls, turns, events = [], [], []
    for i in range(1, 10_041):
        open_ = i > 10_000
        started = now - (timedelta(minutes=i % 30) if open_ else timedelta(hours=1 + i % 200))
        calls.append({"id": i, "channel": "sip", "ani": f"+1555{i:07d}", "node": f"host-{i % 3}:5060",
                      "started_at": started, "ended_at": None if open_ else started + timedelta(minutes=3),
                      "outcome": None if open_ else "completed"})
        for seq in range(1, (31 if open_ else 9)):
            speaker = "ivr" if seq % 2 else "caller"
            turns.append({"call_id": i, "seq": seq, "speaker": speaker, "state": f"s{seq // 4}",
                          "text": f"turn {seq} of call {i}", "at": started + timedelta(seconds=seq)})
        events.append({"call_id": i, "seq": 100, "kind": "no_match", "state": "s1", "at": started})
    with sessions.begin() as s:
        for model, rows in ((Call, calls), (Turn, turns), (CallEvent, events)):
            s.execute(insert(model), rows)
    console = Console(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/live.sqlite3"), sessions)
    statements = []

    def record(conn, cursor, statement, *rest):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    with sessions() as s:
        snap = snapshot(s, console)
    event.remove(engine, "before_cursor_execute", record)
    assert len(snap["calls"]) == 40 and all(len(c["turns"]) == 12 for c in snap["calls"])
    assert all(c["turns"][-1]["text"] == f"turn 30 of call {c['id']}" for c in snap["calls"])
    selects = [q for q in statements if q.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 3, selects
    took = []
    for _ in range(7):
        t0 = time.perf_counter()
        with sessions() as s:
            snapshot(s, console)
        took.append(time.perf_counter() - t0)
    print("snapshot of 40 open calls among 10,040:", [round(t * 1000, 1) for t in took], "ms")
    assert statistics.median(took) < 0.15, took
    engine.dispose()


def test_page_and_roles(console_data):
    sue = client(console_data, "sue")
    r = sue.get("/live", headers={"accept": "text/html"})
    assert r.status_code == 200
    html = r.text
    assert 'id="live-calls"' in html and "/static/live.js" in html and "<script>" not in html
    assert "no match or no input" in html and "stuck" in html
    assert sue.get("/static/live.js").status_code == 200
    for user in ("quinn", "admin"):
        other = client(console_data, user)
        for path in ("/live", "/api/live", "/api/live/stream"):
            assert other.get(path).status_code == 403, (user, path)
    anonymous = client(console_data)
    for path in ("/api/live", "/api/live/stream"):
        assert anonymous.get(path).status_code == 401
    assert anonymous.get("/live", headers={"accept": "text/html"}, follow_redirects=False).status_code == 303


# -- the stream, from a real server ------------------------------------------------------------------------------
@pytest.fixture
def server(console_data):
    from web import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(console_data.settings, console_data.sessions), host="127.0.0.1",
                                        port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield srv, f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    assert not thread.is_alive(), "the server did not shut down: a stream is still running"


@contextmanager
def signed_in(base: str):
    """An HTTP client holding sue's session cookie; a silent stream fails it after 6 s instead of hanging."""
    with httpx.Client(base_url=base, timeout=httpx.Timeout(10, read=6)) as http:
        r = http.post("/api/login", json={"username": "sue", "password": PASSWORDS["sue"]})
        assert r.status_code == 200, r.text
        yield http


def sse(response: httpx.Response):
    """(event name, data) per event, ('comment', text) per comment line, from a streamed response."""
    name, data = None, []
    for line in response.iter_lines():
        if line.startswith(":"):
            yield "comment", line[1:].strip()
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and (name or data):
            yield name, "\n".join(data)
            name, data = None, []


def test_stream_sends_the_snapshot_then_new_turns_and_stops_with_the_client(console_data, server):
    srv, base = server
    with open_calls(console_data, (NODE_B, "+15550144")) as (log,):
        log.turn("ivr", "Welcome to First Demo Bank.", "welcome")
        log.flush()
        with signed_in(base) as http, http.stream("GET", "/api/live/stream") as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["cache-control"] == "no-store" and r.headers["x-accel-buffering"] == "no"
            events = sse(r)
            name, data = next(events)
            assert name == "snapshot"
            first = json.loads(data)
            assert log.call_id in ours(first) and ours(first)[log.call_id]["state"] == "welcome"
            log.turn("ivr", "Your balance is two hundred dollars.", "balance")
            log.flush()
            written, deadline = time.monotonic(), time.monotonic() + 5
            for name, data in events:
                assert time.monotonic() < deadline, "the new turn did not arrive"
                if name == "snapshot" and "two hundred dollars" in data:
                    call = ours(json.loads(data))[log.call_id]
                    assert call["state"] == "balance" and call["turns"][-1]["speaker"] == "ivr"
                    break
            assert time.monotonic() - written < 3
        deadline = time.monotonic() + 5   # the client went: its request task must end, not poll on
        while srv.server_state.tasks:
            assert time.monotonic() < deadline, "the stream kept running after the client left"
            time.sleep(0.1)


def test_stream_keeps_alive_and_ends_by_itself(console_data, server, monkeypatch):
    from web.routers import live as live_router

    monkeypatch.setattr(live_router, "KEEPALIVE_S", 0.3)
    monkeypatch.setattr(live_router, "MAX_STREAM_S", 2.0)
    _, base = server
    with signed_in(base) as http, http.stream("GET", "/api/live/stream") as r:
        t0 = time.monotonic()
        got = list(sse(r))          # ends when the server closes the stream
    assert got[0][0] == "snapshot" and ("comment", "keepalive") in got
    assert 1.5 < time.monotonic() - t0 < 5
