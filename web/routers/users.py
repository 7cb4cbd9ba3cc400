"""Admin: the console's users (add, unlock, disable)."""
from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, Field
from sqlalchemy import delete, select

from config import IvrError
from models import Role, User, WebSession

from ..auth import Principal, add_user, guard, user_of
from ..console import console_of, page, utcnow

router = APIRouter()
USER_NAME = Path(min_length=1, max_length=64, pattern=r"^[a-z0-9._-]+$")


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Role
    password: str = Field(min_length=1, max_length=256)


def _rows(request: Request) -> list[dict]:
    console, now = console_of(request), utcnow()
    with console.sessions() as s:
        return [{"name": u.name, "role": str(u.role), "disabled": u.disabled,
                 "locked": bool(u.locked_until and u.locked_until > now),
                 "created_at": console.show(u.created_at), "last_login_at": console.show(u.last_login_at)}
                for u in s.scalars(select(User).order_by(User.name))]


@router.get("/users", include_in_schema=False, **guard(Role.admin))
def users_page(request: Request):
    return page(request, "users.html", users=_rows(request), roles=[r.value for r in Role])


@router.get("/api/users", **guard(Role.admin))
def list_users(request: Request):
    """Every console user: role, locked, disabled, last sign-in (never a password hash)."""
    return {"users": _rows(request)}


@router.post("/api/users", status_code=201, **guard(Role.admin))
def create_user(body: NewUser, request: Request):
    """Add a user with a role and an initial password (12+ characters)."""
    try:
        with console_of(request).sessions.begin() as s:
            user = add_user(s, body.name, body.role.value, body.password)
            return {"name": user.name, "role": str(user.role)}
    except IvrError as err:
        raise HTTPException(409 if "already exists" in str(err) else 422, str(err)) from None


def _change(request: Request, name: str, **values) -> dict:
    with console_of(request).sessions.begin() as s:
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            raise HTTPException(404, f"no user {name!r}")
        for key, value in values.items():
            setattr(user, key, value)
        if values.get("disabled"):
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))
        return {"name": user.name, "role": str(user.role), "disabled": user.disabled}


@router.post("/api/users/{name}/unlock", **guard(Role.admin))
def unlock_user(request: Request, name: str = USER_NAME):
    """Lift a lockout after failed logins."""
    return _change(request, name, locked_until=None, failed_logins=0)


@router.post("/api/users/{name}/disable", **guard(Role.admin))
def disable_user(request: Request, name: str = USER_NAME, me: Principal = Depends(user_of)):
    """Disable a user and end their sessions (an admin cannot disable themself)."""
    if name == me.name:
        raise HTTPException(409, "you cannot disable your own account")
    return _change(request, name, disabled=True)


@router.post("/api/users/{name}/enable", **guard(Role.admin))
def enable_user(request: Request, name: str = USER_NAME):
    """Enable a disabled user."""
    return _change(request, name, disabled=False)
