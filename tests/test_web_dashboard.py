"""The supervisor's dashboard and customer pages on the seeded console database: every number recomputed here from
the stored calls, the bank-zone buckets, the open-issue rule, access by role and bad input."""
from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from statistics import mean
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from models import Account, Analysis, Call, CallEvent, Customer, SpeakerSentiment
from web import create_app
from web.routers.customers import open_issues

from .console_data import PASSWORDS, client

KPI_LABELS = ("Calls", "Containment", "Self-service completion", "Zero-out rate", "Average QA score",
              "Average caller sentiment", "Complaints")
SEEDED_INTENTS = {"check_balance", "recent_transactions", "report_lost_card", "branch_hours"}


@pytest.fixture(scope="module")
def sue(console_data):
    return client(console_data, "sue")


def rows_of(data) -> dict:
    """The seeded rows, read plainly: calls, events, analyses, caller sentiments, customers."""
    with data.sessions() as s:
        return {"calls": s.scalars(select(Call).order_by(Call.id)).all(),
                "events": s.scalars(select(CallEvent)).all(),
                "analyses": s.scalars(select(Analysis)).all(),
                "caller_mood": [x.overall for x in s.scalars(select(SpeakerSentiment)
                                                             .where(SpeakerSentiment.speaker == "caller"))],
                "customers": {c.name: c for c in s.scalars(select(Customer))},
                "account_numbers": [a.number for a in s.scalars(select(Account))]}


@pytest.fixture(scope="module")
def stored(console_data):
    return rows_of(console_data)


def test_kpis_match_the_seeded_calls(sue, stored):
    k = sue.get("/api/dashboard?days=7").json()["kpis"]
    calls = stored["calls"]
    chats = [c for c in calls if c.channel == "chat"]
    assert len(calls) == 7 and len(chats) == 6
    transferred = {c.id for c in chats if c.outcome == "transferred"}
    assert len(transferred) == 2    # the seeded data: the complaint chat and the gibberish chat
    assert k["calls"] == 7 and k["self_service_calls"] == 6
    assert k["contained_calls"] == 4 and k["containment"] == round(4 / 6, 4)
    done = {e.call_id for e in stored["events"] if e.kind == "task_done"}
    assert k["task_done_calls"] == len(done) == 4 and k["completion"] == round(4 / 6, 4)
    asked = {e.call_id for e in stored["events"] if e.kind == "transfer_requested"
             and e.detail["reason"] in ("caller_request", "caller_frustrated")}
    assert asked and asked < transferred          # a transfer the flow made itself is not a zero-out
    assert k["zero_out_calls"] == len(asked) and k["zero_out"] == round(len(asked) / 6, 4)
    assert k["avg_qa_score"] == round(mean(a.qa_score for a in stored["analyses"]), 1)
    assert k["avg_caller_sentiment"] == round(mean(stored["caller_mood"]), 2)
    assert len(stored["caller_mood"]) == 7
    assert k["complaints"] == sum(a.complaint for a in stored["analyses"]) == 1


def test_the_dashboard_reports_proactive_offers(sue, stored):
    """Alex blocks his debit card in one chat and calls again: he is offered the blocked card, and asking for
    branch hours instead declines it. The other identified calls went through the menu."""
    o = sue.get("/api/dashboard?days=7").json()["offers"]
    assert (o["offered"], o["accepted"], o["declined"], o["acceptance"]) == (1, 0, 1, 0.0)
    assert o["by_reason"] == [{"reason": "card_blocked", "offered": 1, "accepted": 0, "declined": 1, "turned_off": 0,
                               "acceptance": 0.0}]
    menu = o["to_help"]["menu"]
    assert menu["calls"] == 3 and menu["turns"] == 1.0 and o["to_help"]["saved"] is None
    assert {e.kind for e in stored["events"]} >= {"offer_made", "offer_declined"}


def test_volumes_are_bucketed_in_the_bank_zone(console_data, stored):
    """Kolkata is UTC+05:30: a half-hour offset moves calls across hour (and maybe day) boundaries."""
    zone = "Asia/Kolkata"
    settings = console_data.settings.model_copy(
        update={"console": console_data.settings.console.model_copy(update={"timezone": zone})})
    c = TestClient(create_app(settings, console_data.sessions), raise_server_exceptions=False)  # same DB, other zone
    assert c.post("/api/login", json={"username": "sue", "password": PASSWORDS["sue"]}).status_code == 200
    d = c.get("/api/dashboard?days=3").json()
    local = [c.started_at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)) for c in stored["calls"]]
    assert d["per_hour"] == [sum(1 for t in local if t.hour == h) for h in range(24)]
    assert sum(d["per_hour"]) == d["kpis"]["calls"] == 7
    by_day = Counter(t.date().isoformat() for t in local)
    assert {x["day"]: x["calls"] for x in d["per_day"] if x["calls"]} == dict(by_day)
    assert len(d["per_day"]) == 3 and d["period"]["zone"] == zone


def tiny_db(path, started: list[datetime]):
    """A fresh database holding one completed IVR call (intent check_balance) per start time; call 5 complained."""
    from models import Base, CallTopic, make_engine, session_factory

    engine = make_engine(f"sqlite:///{path}/tiny.sqlite3")
    Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    with sessions.begin() as s:
        s.add_all(Call(id=i, channel="sip", started_at=at, outcome="completed") for i, at in enumerate(started, 1))
        s.flush()
        s.add_all(CallTopic(call_id=i, kind="intent", text="check_balance") for i in range(1, len(started) + 1))
        s.add(Analysis(call_id=5, complaint=True, complaint_subject="fees", qa_score=50.0))
    return engine, sessions


def test_hours_in_a_zone_with_a_quarter_hour_offset(tmp_path):
    from web.stats import dashboard

    engine, sessions = tiny_db(tmp_path, [datetime(2026, 3, 9, 14, 10), datetime(2026, 3, 9, 14, 20),
                                          datetime(2026, 3, 9, 18, 14, 59), datetime(2026, 3, 9, 18, 15),
                                          datetime(2026, 3, 9, 2, 0)])
    with sessions() as s:          # Kathmandu is UTC+05:45
        d = dashboard(s, ZoneInfo("Asia/Kathmandu"), 2, now=datetime(2026, 3, 10, 12, tzinfo=UTC))
    assert {h: n for h, n in enumerate(d["per_hour"]) if n} == {7: 1, 19: 1, 20: 1, 23: 1, 0: 1}
    assert d["per_day"] == [{"day": "2026-03-09", "calls": 4}, {"day": "2026-03-10", "calls": 1}]
    engine.dispose()


def test_days_across_a_dst_change(tmp_path):
    """New York's clocks went forward on 2026-03-08 at 07:00 UTC: that day is 23 hours long."""
    from web.stats import dashboard

    utc = [(3, 7, 4, 59), (3, 7, 5, 0), (3, 8, 4, 59), (3, 8, 5, 0), (3, 9, 3, 59), (3, 9, 4, 0), (3, 8, 6, 59),
           (3, 8, 7, 0)]
    engine, sessions = tiny_db(tmp_path, [datetime(2026, m, d, h, mi) for m, d, h, mi in utc])
    with sessions() as s:
        d = dashboard(s, ZoneInfo("America/New_York"), 3, now=datetime(2026, 3, 9, 12, tzinfo=UTC))
    assert [x["day"] for x in d["per_day"]] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert [x["calls"] for x in d["per_day"]] == [2, 4, 1] and d["kpis"]["calls"] == 7   # the first is on 03-06
    assert {h: n for h, n in enumerate(d["per_hour"]) if n} == {0: 3, 23: 2, 1: 1, 3: 1}  # 01:59 EST, 03:00 EDT
    assert d["topic_trends"]["series"] == [{"topic": "check_balance", "kind": "intent", "total": 7,
                                            "counts": [2, 4, 1]}]
    assert d["complaint_trends"]["series"] == [{"topic": "fees", "kind": "complaint", "total": 1,
                                                "counts": [0, 1, 0]}]
    assert d["kpis"]["containment"] == 1.0 and d["kpis"]["avg_qa_score"] == 50.0 and d["kpis"]["complaints"] == 1
    with sessions() as s:
        one = dashboard(s, ZoneInfo("America/New_York"), 1, now=datetime(2026, 3, 9, 12, tzinfo=UTC))
    assert one["per_day"] == [{"day": "2026-03-09", "calls": 1}] and one["topic_trends"]["series"][0]["counts"] == [1]
    engine.dispose()


def test_topics_intents_and_complaints(sue, stored):
    d = sue.get("/api/dashboard?days=30").json()
    assert sum(d["per_hour"]) == sum(x["calls"] for x in d["per_day"]) == d["kpis"]["calls"] == 7
    assert len(d["per_day"]) == 30
    assert {r["intent"] for r in d["top_intents"]} == SEEDED_INTENTS
    assert all(r["calls"] == 1 for r in d["top_intents"])
    topics = d["topic_trends"]
    assert len(topics["series"]) == 5 and topics["days"] == [x["day"] for x in d["per_day"]]
    assert [s["kind"] for s in topics["series"]][:4] == ["intent"] * 4   # ties: intents before key phrases
    assert all(sum(s["counts"]) == s["total"] >= 1 for s in topics["series"])
    subject = next(a.complaint_subject for a in stored["analyses"] if a.complaint)
    assert [(s["topic"], s["total"]) for s in d["complaint_trends"]["series"]] == [(subject, 1)]


def test_movers_this_week(sue):
    m = sue.get("/api/dashboard/movers").json()
    assert "error" not in m and m["previous_calls"] == 0 and m["calls"] >= 6
    assert m["risers"] and all(r["count"] > r["previous"] and r["change"] is None for r in m["risers"])
    assert len(m["risers"]) <= 10 and m["computed_at"]
    assert any(r["kind"] == "intent" and r["topic"] in SEEDED_INTENTS for r in m["risers"])


@pytest.mark.parametrize("days", ["0", "abc", "91", "-3"])
def test_bad_period_is_a_json_422(sue, days):
    r = sue.get(f"/api/dashboard?days={days}")
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/json")
    assert "days" in r.json()["error"]


def test_customer_search(sue, stored):
    alex = stored["customers"]["Alex Morgan"]
    for q in ("alex", "ALEX", "+1555010", "Morg"):
        found = {c["name"]: c for c in sue.get("/api/customers", params={"q": q}).json()["customers"]}
        assert "Alex Morgan" in found, q
    row = found["Alex Morgan"]
    assert row["id"] == alex.id and row["ani"] == "+15550100"
    assert row["calls"] == sum(1 for c in stored["calls"] if c.customer_id == alex.id) == 3
    assert row["last_call"]
    assert sue.get("/api/customers", params={"q": "%"}).json()["customers"] == []   # LIKE wildcards are literal
    assert sue.get("/api/customers", params={"q": "x" * 65}).status_code == 422
    everyone = sue.get("/api/customers").json()["customers"]
    assert {c["name"] for c in everyone} == set(stored["customers"])


def test_customer_detail_lists_exactly_their_calls(sue, stored):
    alex = stored["customers"]["Alex Morgan"]
    r = sue.get(f"/api/customers/{alex.id}")
    d = r.json()
    mine = [c for c in stored["calls"] if c.customer_id == alex.id]
    assert sorted(c["id"] for c in d["calls"]) == [c.id for c in mine]
    assert d["calls_total"] == len(mine) == 3 and d["name"] == "Alex Morgan" and d["ani"] == "+15550100"
    assert {i["intent"] for i in d["intents"]} == {"check_balance", "report_lost_card", "branch_hours"}
    assert d["outcomes"] == [{"outcome": "completed", "calls": 3}] and d["issues"] == [] and d["complaints"] == []
    assert len(d["sentiment"]) == 3 and d["accounts"] >= 1
    for number in stored["account_numbers"]:      # never an account number (nor a balance, which is not read)
        assert number not in r.text
    assert set(d) == {"id", "name", "ani", "accounts", "calls_total", "first_call", "last_call", "calls_shown", "calls",
                      "sentiment", "intents", "outcomes", "complaints", "issues"}


def test_open_issue_of_a_transferred_call(sue, stored):
    priya = stored["customers"]["Priya Shah"]
    d = sue.get(f"/api/customers/{priya.id}").json()
    transferred = [c.id for c in stored["calls"] if c.customer_id == priya.id and c.outcome == "transferred"]
    assert [(i["call_id"], i["issue"], i["open"]) for i in d["issues"]] == [(transferred[0], "transferred", True)]


def _call(id, outcome, intents, complaint=False, subject=None):
    return {"id": id, "started_at": f"2026-01-0{id}T10:00:00", "date": f"2026-01-0{id} 10:00", "outcome": outcome,
            "intents": intents, "complaint": complaint, "complaint_subject": subject}


def test_open_issue_rule():
    calls = [_call(1, "completed", ["report_lost_card"]),          # before the issue: resolves nothing
             _call(2, "transferred", ["report_lost_card"]),
             _call(3, "failed", ["transfer_funds"]),
             _call(4, "completed", ["check_balance", "report_lost_card"]),
             _call(5, "completed", ["branch_hours"], complaint=True, subject="fees"),
             _call(6, "interrupted", []),
             _call(7, "caller_hangup", ["transfer_funds"])]           # hung up: not completed, not an issue
    issues = {i["call_id"]: i for i in open_issues(list(reversed(calls)))}
    assert set(issues) == {2, 3, 5, 6}
    assert not issues[2]["open"] and issues[2]["resolved_by"] == 4
    assert issues[3]["open"] and issues[3]["resolved_by"] is None
    assert issues[5]["open"] and issues[5]["issue"] == "complaint: fees"
    assert issues[6]["open"] and issues[6]["issue"] == "interrupted"


def test_unknown_or_bad_customer(sue):
    r = sue.get("/api/customers/999999")
    assert r.status_code == 404 and r.json() == {"error": "no customer 999999"}
    page = sue.get("/customers/999999", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    for bad in ("0", str(2**31), "abc"):
        assert sue.get(f"/api/customers/{bad}").status_code == 422


@pytest.mark.parametrize("url", ["/api/dashboard", "/api/dashboard/movers", "/api/customers", "/api/customers/1",
                                 "/dashboard", "/customers", "/customers/1"])
def test_only_supervisors(console_data, url):
    for user in ("quinn", "admin"):
        r = client(console_data, user).get(url)
        assert r.status_code == 403, (user, url)
    assert client(console_data).get(url, headers={"accept": "application/json"}).status_code == 401


def test_pages_render(sue, stored):
    html = {"accept": "text/html"}
    r = sue.get("/dashboard?days=30", headers=html)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for label in KPI_LABELS:
        assert f'<div class="label">{label}</div>' in r.text
    assert 'data-days="30"' in r.text and "/static/dashboard.js" in r.text and "/static/charts.js" in r.text
    assert sue.get("/dashboard?days=0", headers=html).status_code == 400
    r = sue.get("/customers", params={"q": "alex"}, headers=html)
    alex = stored["customers"]["Alex Morgan"]
    assert r.status_code == 200 and f'href="/customers/{alex.id}">Alex Morgan<' in r.text
    assert "Priya Shah" not in r.text
    r = sue.get(f"/customers/{alex.id}", headers=html)
    assert r.status_code == 200 and "Alex Morgan" in r.text and "Open issues" in r.text
    for call in (c for c in stored["calls"] if c.customer_id == alex.id):
        assert f'href="/calls/{call.id}"' in r.text
    assert "data-points=" in r.text
    for page in (sue.get("/dashboard", headers=html).text, r.text):
        assert "<script>" not in page and 'style="' not in page and "onclick" not in page
    for asset in ("/static/charts.js", "/static/dashboard.js", "/static/customer.js", "/static/dashboard.css"):
        assert sue.get(asset).status_code == 200


def test_the_same_numbers_on_postgresql(tmp_path, postgres, console_data, sue):
    """The bank-zone day buckets (a CASE over UTC bounds), LIKE escapes and NULLS LAST run on PostgreSQL too."""
    from .console_data import build

    data = build(tmp_path, postgres.create_database("dashboard"))
    pg, rows = client(data, "sue"), rows_of(data)
    got, want = pg.get("/api/dashboard?days=30").json(), sue.get("/api/dashboard?days=30").json()
    same = ("calls", "contained_calls", "containment", "task_done_calls", "completion", "zero_out_calls", "complaints")
    assert {k: got["kpis"][k] for k in same} == {k: want["kpis"][k] for k in same}
    assert got["kpis"]["avg_qa_score"] == round(mean(a.qa_score for a in rows["analyses"]), 1)
    assert got["kpis"]["avg_caller_sentiment"] == round(mean(rows["caller_mood"]), 2)
    assert got["top_intents"] == want["top_intents"]
    assert sum(got["per_hour"]) == sum(x["calls"] for x in got["per_day"]) == 7
    assert got["per_hour"] == [sum(1 for c in rows["calls"] if c.started_at.hour == h) for h in range(24)]  # UTC
    assert [s["topic"] for s in got["topic_trends"]["series"]] == [s["topic"] for s in want["topic_trends"]["series"]]
    assert got["complaint_trends"]["series"][0]["total"] == 1
    assert pg.get("/api/dashboard/movers").json()["risers"]
    found = pg.get("/api/customers", params={"q": "ALEX"}).json()["customers"]
    assert [c["name"] for c in found] == ["Alex Morgan"] and found[0]["calls"] == 3
    assert pg.get("/api/customers", params={"q": "50%"}).json()["customers"] == []
    assert [c["name"] for c in pg.get("/api/customers").json()["customers"]][:2] in (
        ["Alex Morgan", "Priya Shah"], ["Priya Shah", "Alex Morgan"])
    priya = next(c for c in pg.get("/api/customers", params={"q": "priya"}).json()["customers"])
    issues = pg.get(f"/api/customers/{priya['id']}").json()["issues"]
    assert [(i["issue"], i["open"]) for i in issues] == [("transferred", True)]
