"""Supervisor and QA: the Calls list (filters, search, sort, pages) as a page, as JSON and as a CSV download."""
from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import datetime
from functools import cache
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from config import CONFIG_DIR, IvrError, load_yaml
from models import Outcome

from ..auth import CALL_READERS, guard
from ..calls_query import COLUMNS, CallFilter, filtered_ids, page_of_calls, rows_by_id
from ..console import console_of, page, utcnow

router = APIRouter()
Filters = Annotated[CallFilter, Query()]
CSV_CHUNK = 500
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SORT_LABELS = {"started_at": "Started", "duration": "Duration", "score": "Score", "sentiment": "Caller sentiment",
               "outcome": "Outcome"}


@cache
def _known_intents() -> tuple[str, ...]:
    """The intents the IVR declares, offered as suggestions in the filter form."""
    try:
        data = load_yaml(CONFIG_DIR / "intents" / "en.yaml", "intents")
        return tuple(sorted(data["intents"])) if isinstance(data, dict) and isinstance(data.get("intents"), dict) else ()
    except IvrError:
        return ()


@router.get("/calls", include_in_schema=False, **guard(*CALL_READERS))
def calls_page(request: Request, f: Filters):
    console = console_of(request)
    with console.sessions() as s:
        result = page_of_calls(s, console, f)
    for row in result["calls"]:
        row["shown_at"] = console.show(datetime.fromisoformat(row["started_at"])) if row["started_at"] else ""
    pages = max(1, math.ceil(result["total"] / result["page_size"]))
    kept = f.params(paging=True)

    def link(**changes) -> str:
        return "/calls?" + urlencode({**kept, **{k: str(v) for k, v in changes.items()}})

    def sort_link(key: str) -> str:
        order = "asc" if f.sort == key and f.order == "desc" else "desc"
        return link(sort=key, order=order, page=1)

    return page(request, "calls.html", f=f, form=f.params(), result=result, pages=pages, link=link,
                sort_link=sort_link, sort_labels=SORT_LABELS, outcomes=[o.value for o in Outcome],
                intents=_known_intents(), sizes=sorted({25, 50, 100, 200, result["page_size"]}),
                csv_url="/api/calls.csv?" + urlencode(f.params()))


@router.get("/api/calls", **guard(*CALL_READERS))
def list_calls(request: Request, f: Filters):
    """Calls matching the filters, one page, sorted; `total` counts every match."""
    console = console_of(request)
    with console.sessions() as s:
        return page_of_calls(s, console, f)


def _cell(value) -> str | float | int:
    """A CSV cell; text that a spreadsheet would run as a formula gets a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return value
    text = "; ".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_lines(request: Request, f: CallFilter) -> Iterator[str]:
    console = console_of(request)
    with console.sessions() as s:
        ids = filtered_ids(s, console, f)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for start in range(0, len(ids), CSV_CHUNK):
        with console.sessions() as s:
            rows = rows_by_id(s, console, ids[start:start + CSV_CHUNK])
        writer.writerows([_cell(row[c]) for c in COLUMNS] for row in rows)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


@router.get("/api/calls.csv", **guard(*CALL_READERS))
def export_calls(request: Request, f: Filters):
    """Every call matching the filters (no pages) as CSV, in the chosen sort order."""
    name = f"calls-{console_of(request).local(utcnow()):%Y%m%d-%H%M}.csv"
    return StreamingResponse(_csv_lines(request, f), media_type="text/csv; charset=utf-8",
                             headers={"content-disposition": f'attachment; filename="{name}"'})
