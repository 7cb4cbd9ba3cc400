"""Supervisor: the contact center at a glance - KPIs, volumes, topics, complaints and this week's movers."""
from __future__ import annotations

from fastapi import APIRouter, Query, Request

from models import Role

from .. import stats
from ..auth import guard
from ..console import console_of, page, utcnow

router = APIRouter()
DAYS = Query(7, ge=1, le=90, description="the last N days in the bank's zone, today included")
PERIODS = (7, 30, 90)


@router.get("/dashboard", include_in_schema=False, **guard(Role.supervisor))
def dashboard_page(request: Request, days: int = DAYS):
    return page(request, "dashboard.html", days=days, periods=sorted({*PERIODS, days}))


@router.get("/api/dashboard", **guard(Role.supervisor))
def dashboard(request: Request, days: int = DAYS):
    """KPIs, calls per hour and day, top intents, topic and complaint trends of the last `days` days."""
    console = console_of(request)
    with console.sessions() as s:
        return stats.dashboard(s, console.zone, days)


@router.get("/api/dashboard/movers", **guard(Role.supervisor))
def movers(request: Request):
    """Topics rising this week (last 7 days) against the 7 days before, recomputed at most every 5 minutes."""
    console = console_of(request)
    result = stats.movers(console.sessions, console.settings.data_dir / "models", utcnow())
    return {**result, "computed_at": console.show(result.get("computed_at"))}
