"""The supervisor / QA console: `create_app()` builds the FastAPI app that `ivr web` serves."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from config import Settings, get_settings
from monitoring.metrics import HTTP_REQUESTS

from .console import HERE, Console, page

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                               "form-action 'self'",
    "x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "same-origin",
}


def create_app(settings: Settings | None = None, sessions: sessionmaker | None = None) -> FastAPI:
    settings = settings or get_settings()
    if sessions is None:
        from models import make_engine, session_factory

        sessions = session_factory(make_engine(settings.db_url))
    app = FastAPI(title="Bank IVR console", version="1", docs_url=None, redoc_url=None, openapi_url=None,
                  description="Supervisor and QA console of the phone-banking IVR. Sign in with POST /api/login; "
                              "send the returned csrf_token as X-CSRF-Token on every POST.")
    app.state.console = Console(settings, sessions)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    from .routers import auth, call_detail, calls, customers, dashboard, live, users

    for module in (auth, users, calls, call_detail, dashboard, customers, live):
        app.include_router(module.router)
    _add_guards(app)
    _count_requests(app)
    return app


def _count_requests(app: FastAPI) -> None:
    """ivr_http_requests_total{route, status}: the route's template (/api/calls/{call_id}), never the raw path."""
    @app.middleware("http")
    async def count(request: Request, call_next):
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            HTTP_REQUESTS.labels(getattr(route, "path", None) or "unmatched", str(status)).inc()


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api") or "text/html" not in request.headers.get("accept", "")


def _add_guards(app: FastAPI) -> None:
    @app.middleware("http")
    async def limits_and_headers(request: Request, call_next):
        if request.method in STATE_CHANGING:
            length = request.headers.get("content-length", "0")
            if not length.isdigit():
                return JSONResponse({"error": "bad Content-Length"}, 400)
            if int(length) > MAX_BODY:
                return JSONResponse({"error": f"request body over {MAX_BODY // 1024} KiB"}, 413)
            kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
            allowed = ("application/json",) if request.url.path.startswith("/api") else (
                "application/json", "application/x-www-form-urlencoded")
            if int(length) > 0 and kind not in allowed:
                return JSONResponse({"error": f"send {' or '.join(allowed)}, not {kind or 'no content type'}"}, 415)
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static"):
            response.headers.setdefault("cache-control", "no-store")
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        if _wants_json(request):
            return JSONResponse({"error": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None))
        if exc.status_code == 401:
            return RedirectResponse(f"/login?next={request.url.path}", 303)
        return page(request, "error.html", exc.status_code, status=exc.status_code, message=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def bad_input(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        message = f"{where}: {first.get('msg', 'invalid input')}" if where else first.get("msg", "invalid input")
        if _wants_json(request):
            return JSONResponse({"error": message}, 422)
        return page(request, "error.html", 400, status=400, message=message)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("console error on %s %s", request.method, request.url.path)
        return JSONResponse({"error": "internal error; it has been logged"}, 500)

