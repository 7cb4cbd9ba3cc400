"""Signing in and out of the console: argon2 hashes, HttpOnly SameSite cookies, CSRF, lockout, expiry, disabled users,
safe redirects, security headers, and the `ivr users` / `ivr web` commands."""
from __future__ import annotations

import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from models import User, WebSession

from .conftest import run_ivr
from .console_data import PASSWORDS, client, start_web


def test_login_sets_an_httponly_samesite_cookie_and_returns_the_csrf_token(console_data):
    c = client(console_data)
    r = c.post("/api/login", json={"username": "sue", "password": PASSWORDS["sue"]})
    assert r.status_code == 200 and r.json()["role"] == "supervisor" and len(r.json()["csrf_token"]) >= 32
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert c.get("/api/me").json()["user"] == "sue"
    with console_data.sessions() as s:
        stored = s.scalars(select(WebSession.token_hash)).all()
        hashed = s.scalar(select(User.password_hash).where(User.name == "sue"))
    token = c.cookies.get("ivr_session")
    assert token not in stored and len(stored[0]) == 64            # only a hash of the token is stored
    assert hashed.startswith("$argon2id$") and PASSWORDS["sue"] not in hashed


@pytest.mark.parametrize("body", [{"username": "sue", "password": "wrong-password-123"},
                                  {"username": "nobody", "password": "whatever-password"}])
def test_bad_credentials_are_401_with_one_message(console_data, body):
    r = client(console_data).post("/api/login", json=body)
    assert r.status_code == 401 and r.json() == {"error": "invalid user name or password"}
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize("body, status", [("not json", 422), ('{"username": "sue"}', 422),
                                          ('{"username": "' + "x" * 100 + '", "password": "p"}', 422)])
def test_malformed_logins_are_4xx_json(console_data, body, status):
    r = client(console_data).post("/api/login", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status and "error" in r.json()


def test_repeated_failures_lock_the_account_until_an_admin_unlocks_it(console_data):
    with console_data.sessions.begin() as s:
        from web.auth import add_user

        add_user(s, "locky", "qa", "locky-pass-01234")
    c = client(console_data)
    for _ in range(console_data.settings.console.lockout_failures):
        assert c.post("/api/login", json={"username": "locky", "password": "bad-guess-0000"}).status_code == 401
    right = {"username": "locky", "password": "locky-pass-01234"}
    r = c.post("/api/login", json=right)
    assert r.status_code == 429 and "locked" in r.json()["error"]
    admin = client(console_data, "admin")
    users = {u["name"]: u for u in admin.get("/api/users").json()["users"]}
    assert users["locky"]["locked"]
    assert admin.post("/api/users/locky/unlock").status_code == 200
    assert c.post("/api/login", json=right).status_code == 200


def test_logout_ends_the_session_for_good(console_data):
    c = client(console_data, "quinn")
    token = c.cookies.get("ivr_session")
    assert c.post("/api/logout").status_code == 200
    again = client(console_data)
    again.cookies.set("ivr_session", token)
    assert again.get("/api/me").status_code == 401


def age_sessions(data, column: str, by: timedelta) -> None:
    with data.sessions.begin() as s:
        for row in s.scalars(select(WebSession)):
            setattr(row, column, getattr(row, column) - by)


def test_an_idle_or_too_old_session_is_signed_out(console_data):
    c = client(console_data, "quinn")
    age_sessions(console_data, "last_seen_at", timedelta(minutes=20))
    assert c.get("/api/me").status_code == 200                       # idle less than 30 minutes: still in (and renewed)
    age_sessions(console_data, "last_seen_at", timedelta(minutes=31))
    assert c.get("/api/me").status_code == 401
    c = client(console_data, "quinn")
    age_sessions(console_data, "created_at", timedelta(days=1))
    assert c.get("/api/me").status_code == 401


def test_a_disabled_user_loses_the_session_and_cannot_sign_in(console_data):
    with console_data.sessions.begin() as s:
        from web.auth import add_user

        add_user(s, "leaver", "supervisor", "leaver-pass-01234")
    c = client(console_data)
    assert c.post("/api/login", json={"username": "leaver", "password": "leaver-pass-01234"}).status_code == 200
    admin = client(console_data, "admin")
    assert admin.post("/api/users/leaver/disable").status_code == 200
    assert c.get("/api/me").status_code == 401
    assert c.post("/api/login", json={"username": "leaver", "password": "leaver-pass-01234"}).status_code == 401
    assert admin.post("/api/users/admin/disable").status_code == 409          # never locks the last door


def test_pages_redirect_to_the_login_page_and_never_off_site(console_data):
    anon = client(console_data)
    r = anon.get("/users", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/users"
    page = anon.get("/login?next=//evil.example/x").text
    assert "evil.example" not in page
    assert 'data-next="/calls"' in anon.get("/login?next=/calls").text


def test_headers_limits_and_unknown_paths(console_data):
    c = client(console_data, "admin")
    r = c.get("/api/me")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    big = c.post("/api/users", content=b"{" + b" " * 70000 + b"}", headers={"content-type": "application/json"})
    assert big.status_code == 413 and "error" in big.json()
    assert c.post("/api/users", content="name=x", headers={"content-type": "text/plain"}).status_code == 415
    assert c.get("/api/nothing-here").status_code == 404 and c.get("/api/nothing-here").json()["error"]
    page = c.get("/nothing-here", headers={"accept": "text/html"})
    assert page.status_code == 404 and "Not found" in page.text


def test_weak_or_duplicate_users_are_refused(console_data):
    admin = client(console_data, "admin")
    for body in ({"name": "sue", "role": "qa", "password": "another-pass-0123"},
                 {"name": "shorty", "role": "qa", "password": "short"},
                 {"name": "Bad Name", "role": "qa", "password": "long-enough-pass-1"},
                 {"name": "roleless", "role": "root", "password": "long-enough-pass-1"}):
        r = admin.post("/api/users", json=body)
        assert r.status_code in (409, 422) and r.json()["error"], body


def test_the_api_reference_lists_every_api_route(console_data):
    c = client(console_data, "quinn")
    spec = c.get("/api/openapi.json").json()
    docs = c.get("/api/docs", headers={"accept": "text/html"}).text
    for path in spec["paths"]:
        assert path in docs
    assert "/api/login" in spec["paths"] and "/api/calls" in spec["paths"]


def test_users_and_web_commands(tmp_path):
    env = {"IVR_DATA_DIR": str(tmp_path)}
    assert run_ivr("db", "init", env=env).returncode == 0
    first = run_ivr("users", "bootstrap", env=env)
    assert first.returncode == 0 and "password" in first.stdout
    password = first.stdout.split("password ")[1].split()[0]
    assert run_ivr("users", "bootstrap", env=env).stdout == ""            # printed once, never again
    added = run_ivr("users", "add", "sam", "--role", "qa", "--password-stdin", env=env, stdin="sam-pass-012345\n")
    assert added.returncode == 0
    for args, stdin in ((("users", "add", "sam", "--role", "qa", "--password-stdin"), "other-pass-012345\n"),
                        (("users", "add", "tim", "--role", "qa", "--password-stdin"), "short\n"),
                        (("users", "add", "tim", "--role", "qa"), "")):
        r = run_ivr(*args, env=env, stdin=stdin)
        assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert run_ivr("users", "add", "tim", "--role", "root", env=env).returncode == 2
    proc, base = start_web(env)
    try:
        assert httpx.get(base + "/healthz").json()["status"] == "ok"
        r = httpx.post(base + "/api/login", json={"username": "admin", "password": password})
        assert r.status_code == 200 and r.json()["home"] == "/users"
        busy = run_ivr("web", "--port", base.rsplit(":", 1)[1], env=env, timeout=60)
        assert busy.returncode == 1 and "cannot serve the console" in busy.stderr
    finally:
        proc.terminate()
        proc.wait(20)


def test_the_console_reading_never_holds_up_a_live_calls_writes(console_data):
    """SQLite: a console page reading the store takes no write lock, so an endpoint storing a turn never waits."""
    from sqlalchemy import func

    from sqlalchemy import delete

    from ivr.call_log import CallLog
    from models import Call, Turn
    from web.console import Sessions

    reads = Sessions(console_data.sessions)
    with reads() as s:
        s.scalar(select(func.count(Call.id)))                # a read transaction is open
        started = time.monotonic()
        log = CallLog(console_data.sessions, "+15550100", channel="chat")
        log.turn("ivr", "Welcome to Demo Bank.", "welcome")
        log.end("completed")
        log.close()
        assert time.monotonic() - started < 2.0              # busy_timeout is 10 s: it did not wait for the reader
    with console_data.sessions.begin() as s:                  # leave the shared store as the other tests expect
        assert s.get(Call, log.call_id).outcome == "completed"
        s.execute(delete(Turn).where(Turn.call_id == log.call_id))
        s.execute(delete(Call).where(Call.id == log.call_id))
