"""The Calls list: every filter, search, sort, pages, the CSV export and who may see it; on the seeded console
database, and on a small hand-made one (calls not analysed yet, a bank time zone, formula-like text), which also
runs on PostgreSQL."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

from models import Analysis, Call, CallTopic, MetricValue, SpeakerSentiment

from .console_data import PASSWORDS, ConsoleData, client

COLUMNS = ["id", "started_at", "channel", "ani", "duration_s", "outcome", "intents", "analysis", "score",
           "auto_failed", "reviewed", "sentiment", "complaint", "complaint_subject"]


@pytest.fixture(scope="module")
def sue(console_data):
    return client(console_data, "sue")


@pytest.fixture(scope="module")
def stored(console_data) -> dict[int, dict]:
    """What the database holds per call, read with plain queries (the expectations of the filter tests)."""
    with console_data.sessions() as s:
        calls = {c.id: {"outcome": c.outcome and str(c.outcome), "started_at": c.started_at}
                 for c in s.scalars(select(Call))}
        for a in s.scalars(select(Analysis)):
            calls[a.call_id].update(score=a.qa_score, complaint=a.complaint, auto_failed=a.qa_auto_failed)
        for m in s.scalars(select(MetricValue).where(MetricValue.name == "duration_s")):
            calls[m.call_id]["duration"] = m.value
        for x in s.scalars(select(SpeakerSentiment).where(SpeakerSentiment.speaker == "caller")):
            calls[x.call_id]["sentiment"] = x.overall
    return calls


def ids(c, **params) -> set[int]:
    r = c.get("/api/calls", params={"page_size": 200, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(body["calls"])
    return {row["id"] for row in body["calls"]}


def where(stored, test) -> set[int]:
    return {i for i, c in stored.items() if test(c)}


def test_outcome_intent_and_complaint_filters(sue, console_data, stored):
    transferred = ids(sue, outcome="transferred")
    assert transferred == where(stored, lambda c: c["outcome"] == "transferred")
    assert {console_data.chat_ids[3], console_data.chat_ids[4]} <= transferred
    assert console_data.import_id not in transferred
    assert ids(sue, intent="report_lost_card") == {console_data.chat_ids[2]}
    assert ids(sue, complaint="true") == {console_data.import_id} == where(stored, lambda c: c.get("complaint"))
    assert ids(sue, complaint="false") == set(stored) - {console_data.import_id}
    assert ids(sue, auto_failed="false") == where(stored, lambda c: not c.get("auto_failed"))
    assert ids(sue, outcome="transferred", complaint="true") == set()


def test_full_text_search_needs_every_word_in_any_case(sue, console_data):
    lost = ids(sue, q="lost card")
    assert console_data.chat_ids[2] in lost and console_data.import_id not in lost
    assert ids(sue, q="Supermarket DECLINED") == {console_data.import_id}
    assert ids(sue, q="blah quux") == {console_data.chat_ids[4]}
    assert ids(sue, q="supermarket quux") == set()              # both words occur, but never in one call
    assert ids(sue, q="%") == set() and ids(sue, q="_") == set()   # LIKE wildcards are searched as text


def test_score_sentiment_duration_and_date_filters(sue, console_data, stored):
    high = ids(sue, score_min=80, score_max=100)
    assert high == where(stored, lambda c: c.get("score") is not None and 80 <= c["score"] <= 100)
    assert high and high != set(stored)
    assert ids(sue, score_max=79.9) == where(stored, lambda c: c.get("score") is not None and c["score"] <= 79.9)
    negative = ids(sue, sentiment="negative")
    assert negative == where(stored, lambda c: c.get("sentiment") is not None and c["sentiment"] < -0.05)
    assert console_data.import_id in negative
    moods = {i: c["sentiment"] for i, c in stored.items() if c.get("sentiment") is not None}
    assert ids(sue, sentiment="positive") == {i for i, m in moods.items() if m > 0.05}
    assert ids(sue, sentiment="neutral") == {i for i, m in moods.items() if -0.05 <= m <= 0.05}
    middle = ids(sue, duration_min=40, duration_max=50)
    assert middle == where(stored, lambda c: 40 <= (c.get("duration") or 0) <= 50) and middle
    assert ids(sue, **{"from": "2000-01-01", "to": "2000-01-31"}) == set()
    day = stored[console_data.chat_ids[0]]["started_at"].date().isoformat()   # the test bank's zone is UTC
    assert ids(sue, **{"from": day, "to": day}) == where(stored, lambda c: c["started_at"].date().isoformat() == day)
    next_day = (stored[console_data.chat_ids[0]]["started_at"] + timedelta(days=1)).date().isoformat()
    assert console_data.chat_ids[0] not in ids(sue, **{"from": next_day})


@pytest.mark.parametrize("sort,key", [("duration", "duration_s"), ("score", "score"), ("sentiment", "sentiment"),
                                      ("started_at", "started_at"), ("outcome", "outcome")])
def test_sorting_either_way(sue, sort, key):
    for order in ("asc", "desc"):
        calls = sue.get("/api/calls", params={"sort": sort, "order": order}).json()["calls"]
        values = [c[key] for c in calls if c[key] is not None]
        assert values == sorted(values, reverse=order == "desc"), (sort, order, values)
        assert len(set(values)) > 1


def test_default_order_is_newest_first_and_pages_cover_the_set(sue, stored):
    everything = sue.get("/api/calls").json()
    assert everything["page"] == 1 and everything["total"] == len(stored) == len(everything["calls"])
    newest_first = sorted(stored, key=lambda i: (stored[i]["started_at"], i), reverse=True)
    assert [c["id"] for c in everything["calls"]] == newest_first
    walked = []
    for number in range(1, 5):
        page = sue.get("/api/calls", params={"page_size": 2, "page": number}).json()
        assert page["total"] == len(stored) and page["page_size"] == 2
        walked += [c["id"] for c in page["calls"]]
    assert walked == newest_first and sue.get("/api/calls", params={"page": 99}).json()["calls"] == []


def test_a_row_carries_the_columns(sue, console_data):
    row = next(c for c in sue.get("/api/calls").json()["calls"] if c["id"] == console_data.import_id)
    assert list(row) == COLUMNS
    assert row["channel"] == "import" and row["analysis"] == "done" and row["complaint"] is True
    assert row["complaint_subject"] and row["sentiment"] < -0.05 and row["duration_s"] > 0
    lost = next(c for c in sue.get("/api/calls").json()["calls"] if c["id"] == console_data.chat_ids[2])
    assert lost["intents"] == ["report_lost_card"] and lost["started_at"].endswith("+00:00")


def test_csv_has_every_filtered_row_and_no_formulas(sue, console_data):
    params = {"outcome": "completed", "sort": "duration", "order": "asc"}
    listed = sue.get("/api/calls", params={**params, "page_size": 1}).json()
    r = sue.get("/api/calls.csv", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    header, *rows = list(csv.reader(io.StringIO(r.text)))
    assert header == COLUMNS and len(rows) == listed["total"] > 1
    assert [float(row[4]) for row in rows] == sorted(float(row[4]) for row in rows)
    anis = {row[3] for row in rows if row[3]}
    assert anis and all(a.startswith("'+1555") for a in anis)      # '+...' would be a formula in a spreadsheet
    assert sue.get("/api/calls.csv", params={"score_min": 101}).status_code == 422


@pytest.mark.parametrize("params", [
    {"from": "2026-13-01"}, {"from": "1699999200"}, {"to": "yesterday"}, {"from": "2026-02-02", "to": "2026-02-01"},
    {"outcome": "lost"}, {"intent": "x" * 33}, {"intent": "a b"}, {"score_min": "101"}, {"score_max": "-1"},
    {"score_min": "nan"}, {"score_min": "90", "score_max": "80"}, {"auto_failed": "maybe"}, {"complaint": "2"},
    {"sentiment": "angry"}, {"duration_min": "-1"}, {"duration_min": "9", "duration_max": "3"},
    {"q": "x" * 201}, {"q": " ".join("abcdefghijk")}, {"sort": "ani"}, {"order": "up"}, {"page": "0"},
    {"page": "x"}, {"page_size": "0"}, {"page_size": "201"},
])
def test_bad_values_are_422_json(sue, params):
    r = sue.get("/api/calls", params=params)
    assert r.status_code == 422, (params, r.text)
    assert r.headers["content-type"] == "application/json" and r.json()["error"]


def test_the_page_lists_rows_keeps_filters_and_links_to_each_call(sue, console_data, stored):
    r = sue.get("/calls", params={"outcome": "transferred", "q": "agent", "sort": "score", "order": "asc",
                                  "score_min": "", "page_size": 1}, headers={"accept": "text/html"})
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    html = r.text
    transferred = where(stored, lambda c: c["outcome"] == "transferred")
    assert f"{len(transferred)} calls, page 1 of {len(transferred)}" in html
    assert '<option value="transferred" selected>' in html and 'name="q" maxlength="200" value="agent"' in html
    assert 'name="sort" value="score"' in html and 'aria-sort="ascending"' in html
    assert "/api/calls.csv?outcome=transferred&amp;q=agent&amp;sort=score&amp;order=asc" in html
    assert "page=2&amp;page_size=1" in html and 'rel="next"' in html
    shown = {i for i in stored if f'href="/calls/{i}"' in html}
    assert len(shown) == 1 and shown <= transferred
    assert "<script>" not in html and "style=" not in html and "onclick" not in html
    bad = sue.get("/calls", params={"score_min": "abc"}, headers={"accept": "text/html"})
    assert bad.status_code == 400 and "score_min" in bad.text


def test_qa_may_read_calls_admin_may_not(console_data):
    quinn = client(console_data, "quinn")
    assert quinn.get("/calls", headers={"accept": "text/html"}).status_code == 200
    assert quinn.get("/api/calls").json()["total"] >= 7
    assert quinn.get("/api/calls.csv").status_code == 200
    admin = client(console_data, "admin")
    for url in ("/calls", "/api/calls", "/api/calls.csv"):
        assert admin.get(url).status_code == 403
    assert client(console_data).get("/api/calls").status_code == 401


# A hand-made database: calls before and after analysis, a bank in New York, text that looks like formulas.

def seed_edge_calls(sessions) -> dict[str, int]:
    from models import Segment, Turn

    start = datetime(2026, 3, 10, 3, 0)          # UTC: still 9 March in New York (EDT, UTC-4)
    with sessions.begin() as s:
        pending = Call(channel="chat", ani="=cmd|' /C calc'!A0", started_at=start,
                       ended_at=start + timedelta(seconds=90), outcome="completed")
        queued = Call(channel="chat", ani="+15550199", started_at=start + timedelta(days=1),
                      ended_at=start + timedelta(days=1, seconds=30), outcome="caller_hangup")
        done = Call(channel="import", started_at=start + timedelta(days=2),
                    ended_at=start + timedelta(days=2, seconds=5), outcome="completed")
        open_call = Call(channel="sip", ani="+15550198", started_at=start + timedelta(days=3))
        s.add_all([pending, queued, done, open_call])
        s.flush()
        s.add_all([Turn(call_id=pending.id, seq=1, speaker="caller", text="I need a Mortgage quote"),
                   Turn(call_id=queued.id, seq=1, speaker="caller", text="mortgage rates please"),
                   Turn(call_id=done.id, seq=1, speaker="caller", text="mortgage (live turn, superseded)"),
                   Analysis(call_id=queued.id, status="queued"),
                   Analysis(call_id=done.id, status="done", score=55.0, qa_score=61.5, qa_auto_failed=True,
                            reviewed=True, complaint=True, complaint_subject='=HYPERLINK("http://evil")'),
                   Segment(call_id=done.id, seq=1, speaker="customer", text="my card was declined", start_ms=0,
                           end_ms=900),
                   MetricValue(call_id=done.id, name="duration_s", value=300.0),
                   SpeakerSentiment(call_id=done.id, speaker="customer", overall=-0.8),
                   CallTopic(call_id=done.id, kind="intent", text="card_declined")])
        return {"pending": pending.id, "queued": queued.id, "done": done.id, "open": open_call.id}


def edge_settings(tmp_path, url: str):
    from config import ConsoleSettings, Settings

    return Settings(data_dir=tmp_path, database_url=url, console=ConsoleSettings(timezone="America/New_York"))


def open_edge_db(url: str):
    from models import make_engine, session_factory
    from models.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    return engine, session_factory(engine)


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    from web.auth import add_user

    path = tmp_path_factory.mktemp("calls-edge")
    settings = edge_settings(path, f"sqlite:///{path}/edge.sqlite3")
    engine, sessions = open_edge_db(settings.db_url)
    made = seed_edge_calls(sessions)
    with sessions.begin() as s:
        add_user(s, "sue", "supervisor", PASSWORDS["sue"])
    return engine, made, client(ConsoleData(settings, sessions, [], 0), "sue")


def test_unanalysed_calls_search_their_turns_and_time_their_ends(edge):
    _, made, c = edge
    assert ids(c, q="mortgage") == {made["pending"], made["queued"]}   # the analysed call: its redacted segments
    assert ids(c, q="declined card") == {made["done"]}
    assert ids(c, duration_min=60) == {made["pending"], made["done"]}
    assert ids(c, duration_max=60) == {made["queued"]}                 # the open call has no duration
    order = [x["id"] for x in c.get("/api/calls", params={"sort": "duration", "order": "asc"}).json()["calls"]]
    assert order == [made["queued"], made["pending"], made["done"], made["open"]]
    assert ids(c, sentiment="negative") == {made["done"]}              # a "customer" speaker counts as the caller
    assert ids(c, auto_failed="true") == {made["done"]} and ids(c, score_min=60, score_max=62) == {made["done"]}
    assert ids(c, intent="card_declined") == {made["done"]}
    rows = {x["id"]: x for x in c.get("/api/calls").json()["calls"]}
    assert rows[made["pending"]]["analysis"] == "pending" and rows[made["queued"]]["analysis"] == "queued"
    assert rows[made["pending"]]["duration_s"] == 90 and rows[made["open"]]["duration_s"] is None
    assert rows[made["done"]]["score"] == 61.5 and rows[made["done"]]["reviewed"] is True


def test_dates_are_days_of_the_bank_zone(edge):
    _, made, c = edge
    assert ids(c, **{"from": "2026-03-09", "to": "2026-03-09"}) == {made["pending"]}
    assert made["pending"] not in ids(c, **{"from": "2026-03-10"})
    row = next(x for x in c.get("/api/calls").json()["calls"] if x["id"] == made["pending"])
    assert row["started_at"] == "2026-03-09T23:00:00-04:00"
    page = c.get("/calls", params={"to": "2026-03-09"}, headers={"accept": "text/html"}).text
    assert "2026-03-09 23:00" in page and 'name="to" value="2026-03-09"' in page


def test_csv_neutralises_formulas(edge):
    _, made, c = edge
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(c.get("/api/calls.csv").text))}
    assert set(rows) == set(made.values())
    assert rows[made["pending"]]["ani"] == "'=cmd|' /C calc'!A0"
    assert rows[made["done"]]["complaint_subject"] == "'=HYPERLINK(\"http://evil\")"
    assert rows[made["done"]]["sentiment"] == "-0.8"                   # numbers stay numbers
    assert rows[made["queued"]]["ani"] == "'+15550199" and rows[made["done"]]["intents"] == "card_declined"


def test_a_page_costs_the_same_queries_whatever_its_size(edge):
    engine, _, c = edge
    statements: list[str] = []

    def listen(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        counts = []
        for size in (1, 4):
            statements.clear()
            assert len(c.get("/api/calls", params={"page_size": size, "sort": "sentiment"}).json()["calls"]) == size
            counts.append(len([q for q in statements if q.startswith("SELECT") and "web_sessions" not in q
                               and "FROM users" not in q]))
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert counts == [3, 3], counts        # count, page, the page's intents


def test_the_same_query_on_postgresql(tmp_path, postgres):
    from web.calls_query import CallFilter, filtered_ids, page_of_calls
    from web.console import Console

    settings = edge_settings(tmp_path, postgres.create_database("calls_list"))
    engine, sessions = open_edge_db(settings.db_url)
    made = seed_edge_calls(sessions)
    console = Console(settings, sessions)

    def found(**params) -> list[int]:
        with sessions() as s:
            return filtered_ids(s, console, CallFilter.model_validate(params))

    assert set(found(q="MORTGAGE")) == {made["pending"], made["queued"]} and found(q="50%") == []
    assert found(duration_min=60, sort="duration", order="desc") == [made["done"], made["pending"]]
    assert found(sort="duration", order="asc") == [made["queued"], made["pending"], made["done"], made["open"]]
    assert found(sentiment="negative") == [made["done"]]
    assert found(complaint=False, outcome="completed") == [made["pending"]]
    assert found(**{"from": "2026-03-09", "to": "2026-03-09"}) == [made["pending"]]
    with sessions() as s:
        page = page_of_calls(s, console, CallFilter.model_validate({"page_size": 2, "sort": "sentiment"}))
    assert page["total"] == 4 and page["calls"][0]["id"] == made["done"] and page["calls"][0]["duration_s"] == 300
    engine.dispose()
