"""Users, passwords (argon2id), sessions (only a hash of the cookie token is stored), lockout, roles and CSRF.

A route declares who may use it with `**guard(Role.supervisor, ...)`: the dependency answers 401 without a valid
session, 403 for another role, and 403 for a state-changing request without the session's CSRF token. The roles
are also written into the OpenAPI operation (`x-roles`), so tests can enumerate every route and check it."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, HTTPException, Request
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from config import IvrError, Settings
from models import Role, User, WebSession

from .console import console_of, utcnow

COOKIE = "ivr_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD, MAX_PASSWORD = 12, 256

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))   # unknown users cost the same time as known ones


@dataclass(frozen=True)
class Principal:
    """The signed-in user of a request."""
    user_id: int
    name: str
    role: Role
    csrf_token: str
    session_id: int


class LoginRefused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name_and_role(name: str, role: str) -> None:
    if not NAME.fullmatch(name or ""):
        raise IvrError("a user name is 2-64 characters: lower-case letters, digits, '.', '_' or '-', "
                       "starting with a letter or digit")
    if role not in {r.value for r in Role}:
        raise IvrError(f"role must be admin, supervisor or qa, not {role!r}")


def check_password(name: str, password: str) -> None:
    if not MIN_PASSWORD <= len(password or "") <= MAX_PASSWORD:
        raise IvrError(f"a password is {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    if password.lower() == name.lower() or len(set(password)) < 5:
        raise IvrError("that password is too easy to guess")


def add_user(s: Session, name: str, role: str, password: str) -> User:
    """A new user with an argon2id hash of the password (inside the caller's transaction)."""
    check_name_and_role(name, role)
    check_password(name, password)
    if s.scalar(select(User.id).where(User.name == name)) is not None:
        raise IvrError(f"user {name!r} already exists")
    user = User(name=name, role=Role(role), password_hash=_hasher.hash(password), failed_logins=0, disabled=False)
    s.add(user)
    s.flush()
    return user


def login(s: Session, settings: Settings, name: str, password: str) -> tuple[str, WebSession, User]:
    """Check the password and open a session: (cookie token, session row, user). Raises LoginRefused."""
    cfg = settings.console
    user = s.scalar(select(User).where(User.name == (name or "").strip().lower()))
    now = utcnow()
    if user is not None and user.locked_until and user.locked_until > now:
        raise LoginRefused(429, "this account is locked after repeated failed logins; try again later")
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        if user is not None and not ok:
            user.failed_logins += 1
            if user.failed_logins >= cfg.lockout_failures:
                user.locked_until, user.failed_logins = now + timedelta(minutes=cfg.lockout_min), 0
        raise LoginRefused(401, "invalid user name or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    token = secrets.token_urlsafe(32)
    row = WebSession(token_hash=_token_hash(token), user_id=user.id, csrf_token=secrets.token_urlsafe(32),
                     created_at=now, last_seen_at=now)
    s.add(row)
    s.flush()
    return token, row, user


def logout(s: Session, session_id: int) -> None:
    s.execute(delete(WebSession).where(WebSession.id == session_id))


def principal_of(request: Request) -> Principal | None:
    """The request's signed-in user, or None (no cookie, unknown, expired or disabled)."""
    token = request.cookies.get(COOKIE)
    if not token or len(token) > 128:
        return None
    console = console_of(request)
    cfg, now = console.settings.console, utcnow()
    with console.sessions() as s:
        row = s.scalar(select(WebSession).where(WebSession.token_hash == _token_hash(token)))
        user = s.get(User, row.user_id) if row is not None else None
    if row is None:
        return None
    expired = (now - row.last_seen_at > timedelta(minutes=cfg.session_idle_min)
               or now - row.created_at > timedelta(hours=cfg.session_max_h))
    if expired or user is None or user.disabled:
        with console.sessions.begin() as s:
            s.execute(delete(WebSession).where(WebSession.id == row.id))
        return None
    if now - row.last_seen_at > timedelta(seconds=30):   # the idle timer, without a write per request
        with console.sessions.begin() as s:
            s.execute(update(WebSession).where(WebSession.id == row.id).values(last_seen_at=now))
    return Principal(user.id, user.name, Role(user.role), row.csrf_token, row.id)


async def _csrf_of(request: Request) -> str:
    token = request.headers.get(CSRF_HEADER, "")
    if not token and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        token = str((await request.form()).get("csrf_token", ""))
    return token


def _require(roles: frozenset[Role]):
    async def check(request: Request) -> Principal:
        from starlette.concurrency import run_in_threadpool

        user = await run_in_threadpool(principal_of, request)
        if user is None:
            raise HTTPException(401, "sign in first")
        if user.role not in roles:
            raise HTTPException(403, f"the {user.role} role may not use this")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(await _csrf_of(request), user.csrf_token):
            raise HTTPException(403, "missing or wrong CSRF token")
        request.state.user = user
        return user

    return check


def guard(*roles: Role) -> dict:
    """Route keyword arguments: only these roles, with a session (and CSRF on state-changing methods)."""
    allowed = frozenset(roles or Role)
    return {"dependencies": [Depends(_require(allowed))],
            "openapi_extra": {"x-roles": sorted(r.value for r in allowed)}}


def user_of(request: Request) -> Principal:
    """The principal that the route's guard put on the request."""
    return request.state.user


EVERYONE = tuple(Role)
CALL_READERS = (Role.supervisor, Role.qa)
