"""`ivr chat`: a text-mode call. Each input line is what the caller says; `dtmf:DIGITS` keys digits;
`silence` is a no-input turn; end of input is a hang-up. Each prompt is recorded as it is printed (heard)."""
from __future__ import annotations

from typing import TextIO

from .call_log import CallLog
from .session import (
    CallerHungUp,
    CallerKeyed,
    CallerSaid,
    Hangup,
    Listen,
    NoInput,
    Say,
    Transfer,
)


def parse_line(line: str):
    line = line.strip()
    if line.lower().startswith("dtmf:"):
        digits = line[5:].strip()
        if not digits or not set(digits) <= set("0123456789*#"):
            return None
        return CallerKeyed(digits)
    if line.lower() == "silence" or not line:
        return NoInput()
    return CallerSaid(line)


def run_chat(app, ani: str | None, inp: TextIO, out: TextIO, err: TextIO, language: str | None = None) -> str:
    call_log, session = app.open_call(ani, "chat", language=language)
    try:
        return _converse(session, inp, out, err, call_log)
    finally:
        call_log.close()


def _converse(session, inp: TextIO, out: TextIO, err: TextIO, call_log: CallLog | None = None) -> str:
    actions = session.start()
    while True:
        for a in actions:
            if isinstance(a, Say):
                print(f"IVR: {a.text}", file=out, flush=True)
                if call_log:
                    call_log.turn("ivr", a.text, a.state)
        if session.done:
            print(f"END: {session.outcome}", file=out, flush=True)
            return session.outcome
        assert isinstance(actions[-1], Listen) or any(isinstance(a, (Transfer, Hangup)) for a in actions)
        line = inp.readline()
        if line == "":
            actions = session.handle(CallerHungUp())
            continue
        event = parse_line(line)
        if event is None:
            print(f"ivr: ignored malformed key input {line.strip()!r} (use dtmf:0-9*#)", file=err, flush=True)
            continue
        actions = session.handle(event)
