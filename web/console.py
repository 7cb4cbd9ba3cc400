"""What every route of the console shares: settings, database sessions, the bank's time zone, templates."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import sessionmaker

from config import Settings
from models.db import read_session_factory, utcnow  # noqa: F401 - the routers take utcnow from here

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")


class Sessions:
    """`sessions()` reads, `sessions.begin()` writes. Readers take no write lock on SQLite, so a busy console never
    makes a live call wait to store its turns."""

    def __init__(self, factory: sessionmaker):
        self.write = factory
        self.read = read_session_factory(factory.kw["bind"])

    def __call__(self):
        return self.read()

    def begin(self):
        return self.write.begin()


@dataclass
class Console:
    settings: Settings
    factory: sessionmaker
    zone: ZoneInfo = field(init=False)
    sessions: Sessions = field(init=False)

    def __post_init__(self):
        self.zone = ZoneInfo(self.settings.console.timezone)
        self.sessions = Sessions(self.factory)

    def local(self, dt: datetime | None) -> datetime | None:
        """A stored time (naive UTC) in the bank's time zone."""
        if dt is None:
            return None
        return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(self.zone)

    def show(self, dt: datetime | None, seconds: bool = False) -> str:
        """A stored time as the console prints it: '2026-11-29 09:41' in the bank's zone."""
        local = self.local(dt)
        return "" if local is None else local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")

    def to_utc(self, local: datetime) -> datetime:
        """A time typed in the bank's zone (naive) as stored (naive UTC)."""
        aware = local if local.tzinfo else local.replace(tzinfo=self.zone)
        return aware.astimezone(timezone.utc).replace(tzinfo=None)


def console_of(request: Request) -> Console:
    return request.app.state.console


def page(request: Request, name: str, status_code: int = 200, **context):
    """Render a page with the signed-in user, the CSRF token and the time helpers in its context."""
    console = console_of(request)
    user = getattr(request.state, "user", None)
    return templates.TemplateResponse(request, name, {"user": user, "show": console.show, "zone": console.zone.key,
                                                      **context}, status_code=status_code)
