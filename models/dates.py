"""Calendar arithmetic on the bank's posting dates."""
from __future__ import annotations

from datetime import date


def month_after(d: date, months: int = 1) -> date:
    """The same day `months` later (or earlier, if negative), on the month's last day where it is shorter."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return date(year, month, min(d.day, day))
        except ValueError:
            continue
    raise AssertionError("unreachable")
