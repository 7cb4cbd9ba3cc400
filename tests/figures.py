"""One line of figures per fault test and benchmark run inside the suite, printed together at the end of
`make test` (pytest captures a test's own output): `report("soak: calls 60, failed 0, ...")`."""
from __future__ import annotations

LINES: list[str] = []


def report(line: str) -> None:
    LINES.append(line)
    print(line)
