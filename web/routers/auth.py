"""Sign in and out, who am I, health, the home redirect and the API documentation."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from models import Role

from ..auth import COOKIE, EVERYONE, LoginRefused, Principal, guard, login, logout, user_of
from ..console import console_of, page

router = APIRouter()
HOME = {Role.admin: "/users", Role.supervisor: "/dashboard", Role.qa: "/calls"}


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


def _local_path(target: str | None) -> str | None:
    """Only a path on this site: never //host or a scheme (open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target and len(target) < 300:
        return target
    return None


@router.get("/healthz", tags=["public"])
def healthz(request: Request):
    """Liveness and database reachability; no session needed."""
    try:
        with console_of(request).sessions() as s:
            s.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure is 'unavailable'
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
    return {"status": "ok", "database": "ok"}


@router.get("/login", tags=["public"], include_in_schema=False)
def login_page(request: Request, next: str | None = None):
    return page(request, "login.html", next=_local_path(next) or "")


@router.post("/api/login", tags=["public"])
def api_login(body: LoginIn, request: Request):
    """JSON {username, password} → 200 with an HttpOnly SameSite=Strict session cookie and the CSRF token."""
    console = console_of(request)
    refused = None
    with console.sessions.begin() as s:   # committed either way: a failure counts towards the lockout
        try:
            token, row, user = login(s, console.settings, body.username, body.password)
            result = {"user": user.name, "role": str(user.role), "csrf_token": row.csrf_token,
                      "home": HOME[Role(user.role)]}
        except LoginRefused as err:
            refused = err
    if refused is not None:
        return JSONResponse({"error": refused.message}, refused.status)
    response = JSONResponse(result)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=console.settings.console.secure_cookies,
                        max_age=int(console.settings.console.session_max_h * 3600))
    return response


@router.post("/api/logout", **guard(*EVERYONE))
def api_logout(request: Request, user: Principal = Depends(user_of)):
    """End this session (CSRF token required)."""
    with console_of(request).sessions.begin() as s:
        logout(s, user.session_id)
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/api/me", **guard(*EVERYONE))
def api_me(user: Principal = Depends(user_of)):
    """The signed-in user, role and CSRF token."""
    return {"user": user.name, "role": str(user.role), "csrf_token": user.csrf_token, "home": HOME[user.role]}


@router.get("/", include_in_schema=False, **guard(*EVERYONE))
def home(user: Principal = Depends(user_of)):
    return RedirectResponse(HOME[user.role], 303)


@router.get("/api/openapi.json", **guard(*EVERYONE))
def openapi_spec(request: Request):
    """This API's OpenAPI 3 description."""
    return request.app.openapi()


@router.get("/api/docs", include_in_schema=False, **guard(*EVERYONE))
def api_docs(request: Request):
    """The API reference, rendered here from the OpenAPI description (no CDN)."""
    spec = request.app.openapi()
    operations = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            params = [p["name"] + ("" if p.get("required") else "?") for p in op.get("parameters", [])]
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            operations.append({"method": method.upper(), "path": path, "summary": op.get("summary", ""),
                               "doc": op.get("description", ""), "roles": ", ".join(op.get("x-roles", ["public"])),
                               "params": ", ".join(params), "body": body.get("$ref", "").rsplit("/", 1)[-1]})
    return page(request, "docs.html", operations=operations, info=spec["info"])

