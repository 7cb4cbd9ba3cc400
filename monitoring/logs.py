"""Log records that name their call, as text or JSON lines, with card numbers and a call's PIN masked.

The call id lives in a ContextVar: a thread sets it for itself (`call_context`), and work handed to a pool with
`contextvars.copy_context().run` keeps it. A call registers what its caller keyed or said at a PIN prompt
(`keep_secret`); until `forget_secrets`, those digits are masked in every line, whoever logs them."""
from __future__ import annotations

import json
import logging
import re
import threading
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import datetime, timezone

_call_id: ContextVar[int | str | None] = ContextVar("ivr_call_id", default=None)
PAN = re.compile(r"(?<![\d])\d(?:[ -]?\d){12,18}(?![\d])")   # 13-19 digits, spaces or dashes between
_secrets: dict[object, set[str]] = {}
_secrets_lock = threading.Lock()
_secret_rx: re.Pattern | None = None


def set_call_id(call_id: int | str | None) -> Token:
    """This thread (context) works for `call_id` from now on; returns the token to reset it."""
    return _call_id.set(call_id)


def current_call_id() -> int | str | None:
    return _call_id.get()


@contextmanager
def call_context(call_id: int | str | None):
    token = _call_id.set(call_id)
    try:
        yield
    finally:
        _call_id.reset(token)


def keep_secret(call_id: object, value: str) -> None:
    """Mask `value` (a PIN, keyed or spoken) in every log line until the call forgets its secrets."""
    value = (value or "").strip()
    if len(value) < 3:   # one or two digits are everywhere; a PIN has at least four
        return
    global _secret_rx
    with _secrets_lock:
        _secrets.setdefault(call_id, set()).add(value)
        _secret_rx = _compile()


def forget_secrets(call_id: object) -> None:
    global _secret_rx
    with _secrets_lock:
        if _secrets.pop(call_id, None) is not None:
            _secret_rx = _compile()


def _compile() -> re.Pattern | None:
    values = sorted({v for vs in _secrets.values() for v in vs}, key=len, reverse=True)
    if not values:
        return None
    return re.compile("|".join(rf"(?<![\w]){re.escape(v)}(?![\w])" for v in values), re.IGNORECASE)


def redact(text: str) -> str:
    """Card numbers (13-19 digits) become [PAN]; registered PINs become [PIN]."""
    text = PAN.sub("[PAN]", text)
    rx = _secret_rx
    return rx.sub("[PIN]", text) if rx is not None else text


class TextFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("ivr: %(levelname)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, process, logger, msg, call_id and node when known, exc on errors."""

    def __init__(self, process: str, node: callable):
        super().__init__()
        self.process, self.node = process, node

    def format(self, record: logging.LogRecord) -> str:
        line = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "process": self.process, "logger": record.name,
                "msg": redact(record.getMessage()), "thread": record.threadName}
        call_id = getattr(record, "call_id", None) or _call_id.get()
        if call_id is not None:
            line["call_id"] = call_id
        if node := self.node():
            line["node"] = node
        if record.exc_info:
            line["exc"] = redact(self.formatException(record.exc_info))
        elif record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)
