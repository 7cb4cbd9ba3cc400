"""Who may use what: every route of the console, enumerated from the app itself (a new route cannot be forgotten),
without a session, as each role, and with a missing or wrong CSRF token."""
from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from .console_data import PASSWORDS, ROLES, client

PUBLIC = {("GET", "/healthz"), ("GET", "/login"), ("POST", "/api/login")}
STREAMS = {"/api/live/stream"}           # endless: the allowed role is checked by tests/test_web_live.py
MATRIX_USER = "matrix-user"


def path_values(data) -> dict[str, str]:
    from sqlalchemy import select

    from models import Customer, ScoreItem

    with data.sessions() as s:
        customer = s.scalar(select(Customer.id).order_by(Customer.id))
        item = s.scalars(select(ScoreItem).where(ScoreItem.call_id == data.import_id).order_by(ScoreItem.id)).first()
        REVIEW.update(item=item.item, answer=item.answer)
    return {"call_id": str(data.import_id), "customer_id": str(customer), "name": MATRIX_USER}


REVIEW: dict = {}                        # the import call's first question, answered as the analyzer did


def bodies(route_path: str) -> dict | None:
    """A valid body for each state-changing route (a new one without an entry fails the test)."""
    return {
        "/api/logout": None,
        "/api/users": {"name": "matrix-new", "role": "qa", "password": "matrix-pass-0123"},
        "/api/users/{name}/unlock": None, "/api/users/{name}/disable": None, "/api/users/{name}/enable": None,
        "/api/calls/{call_id}/reviews": {**REVIEW, "comment": "access matrix check"},
    }[route_path]


def api_routes(routes):
    """Every APIRoute, also inside included routers (FastAPI keeps those as their own route objects)."""
    for r in routes:
        if isinstance(r, APIRoute):
            yield r
        elif hasattr(r, "original_router"):
            assert not r.include_context.prefix, "routers are included without a prefix"
            yield from api_routes(r.original_router.routes)


def routes(app) -> list[tuple[str, str, APIRoute]]:
    out = [(m, r.path, r) for r in api_routes(app.routes) for m in sorted(r.methods) if m != "HEAD"]
    assert len(out) >= 20, "the console's routes were not found"
    return out


@pytest.fixture(scope="module")
def matrix(console_data):
    from web import create_app
    from web.auth import add_user

    with console_data.sessions.begin() as s:
        add_user(s, MATRIX_USER, "qa", "matrix-user-pass-0123")
    app = create_app(console_data.settings, console_data.sessions)
    return app, path_values(console_data)


def url_of(path: str, values: dict[str, str]) -> str:
    import re

    names = re.findall(r"{(\w+)}", path)
    missing = [n for n in names if n not in values]
    assert not missing, f"{path}: give the access matrix a value for {missing}"
    return path.format(**{n: values[n] for n in names})


def test_every_route_is_public_by_intent_or_guarded_with_roles(matrix):
    app, _ = matrix
    for method, path, route in routes(app):
        roles = (route.openapi_extra or {}).get("x-roles")
        if (method, path) in PUBLIC:
            assert roles is None, f"{method} {path} is public but declares roles"
        else:
            assert roles, f"{method} {path} has no guard(): every route needs a session and a role"
            assert set(roles) <= set(ROLES.values())


def call(c, method: str, url: str, path: str):
    if method == "GET":
        return c.get(url, headers={"accept": "application/json"}, follow_redirects=False)
    body = bodies(path)
    return c.request(method, url, json=body, headers={"accept": "application/json"})


def test_without_a_session_every_guarded_route_answers_401(matrix, console_data):
    app, values = matrix
    anon = client(console_data)
    checked = 0
    for method, path, route in routes(app):
        if (method, path) in PUBLIC:
            continue
        r = call(anon, method, url_of(path, values), path)
        assert r.status_code == 401, f"{method} {path}: {r.status_code} {r.text[:200]}"
        assert r.json()["error"]
        checked += 1
    assert checked >= 20


@pytest.mark.parametrize("user", sorted(PASSWORDS))
def test_each_role_gets_exactly_its_routes(matrix, console_data, user):
    app, values = matrix
    role = ROLES[user]
    for method, path, route in routes(app):
        if (method, path) in PUBLIC:
            continue
        allowed = role in route.openapi_extra["x-roles"]
        c = client(console_data, user)            # fresh: logout or disable must not change the next check
        url = url_of(path, values)
        if path in STREAMS and allowed:
            continue
        r = call(c, method, url, path)
        if not allowed:
            assert r.status_code == 403, f"{user} ({role}) {method} {path}: {r.status_code} {r.text[:200]}"
            continue
        expected = {200, 201} if method != "GET" or not path.startswith("/api") else {200}
        if method == "GET" and not path.startswith("/api"):
            expected = {200, 303}                 # a page, or / redirecting to the role's home
        assert r.status_code in expected, f"{user} ({role}) {method} {path}: {r.status_code} {r.text[:300]}"
        if path == "/api/users":
            _drop_user(console_data, "matrix-new")
        if path.endswith("/disable"):
            c2 = client(console_data, "admin")
            assert c2.post(f"/api/users/{MATRIX_USER}/enable").status_code == 200


def _drop_user(data, name: str) -> None:
    from sqlalchemy import delete, select

    from models import User, WebSession

    with data.sessions.begin() as s:
        uid = s.scalar(select(User.id).where(User.name == name))
        s.execute(delete(WebSession).where(WebSession.user_id == uid))
        s.execute(delete(User).where(User.id == uid))


@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_state_changing_routes_need_the_sessions_csrf_token(matrix, console_data, token):
    app, values = matrix
    checked = 0
    for method, path, route in routes(app):
        if method == "GET" or (method, path) in PUBLIC:
            continue
        role = route.openapi_extra["x-roles"][0]
        user = next(u for u, r in ROLES.items() if r == role)
        c = client(console_data, user)
        headers = {"accept": "application/json"}
        if token:
            headers["X-CSRF-Token"] = token
        del c.headers["X-CSRF-Token"]
        r = c.request(method, url_of(path, values), json=bodies(path), headers=headers)
        assert r.status_code == 403 and "CSRF" in r.json()["error"], f"{method} {path}: {r.status_code} {r.text[:200]}"
        checked += 1
    assert checked >= 5
