"""A console database as a bank's would look after a morning of calls, built by the real parts: chat calls through
the real dialog and call log, an agent call recording imported and re-transcribed, every call analysed by the real
analyzer, and one user per role. Shared by the console's API, browser and benchmark code."""
from __future__ import annotations

import io
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from fastapi.testclient import TestClient

from bench.agent_call import build_agent_call

PASSWORDS = {"admin": "admin-pass-0123", "sue": "supervisor-pass-0123", "quinn": "qa-reviewer-pass-0123"}
ROLES = {"admin": "admin", "sue": "supervisor", "quinn": "qa"}
CHATS = [  # (caller ID, what the caller types, line by line)
    ("+15550100", ["2468", "what is my balance", "no thanks"]),
    ("+15550101", ["1357", "recent transactions", "no"]),
    ("+15550100", ["2468", "I lost my card", "debit", "yes", "no thanks"]),
    ("+15550101", ["this is ridiculous I want to complain about your fees", "agent"]),
    (None, ["blah blah", "foo bar baz", "qux quux"]),
    ("+15550100", ["2468", "branch hours", "no thanks"]),
]


@dataclass
class ConsoleData:
    settings: object
    sessions: object
    chat_ids: list[int]
    import_id: int


def build(path: Path, database_url: str | None = None) -> ConsoleData:
    """Seed the demo bank, place the chat calls, import one agent recording, analyse all, add the users
    (on SQLite under `path`, or on `database_url`)."""
    from analytics.importer import import_files
    from analytics.worker import Analyzer
    from config import AnalyticsSettings
    from ivr.chat import run_chat
    from web.auth import add_user

    from .conftest import demo_app

    app = demo_app(path, database_url)
    chat_ids = []
    for ani, lines in CHATS:
        run_chat(app, ani, io.StringIO("\n".join(lines) + "\n"), io.StringIO(), io.StringIO())
        with app.sessions() as s:
            from sqlalchemy import func, select

            from models import Call
            chat_ids.append(s.scalar(select(func.max(Call.id))))
    wav = path / "agent-call.wav"
    build_agent_call(wav)
    import_id = import_files(app.sessions, [str(wav)], path / "recordings")[0]
    settings = app.settings.model_copy(update={"analytics": AnalyticsSettings(transcribe=True)})
    analyzer = Analyzer(app.sessions, settings)
    analyzer.enqueue_ended()
    analyzer.drain()
    with app.sessions.begin() as s:
        for name, password in PASSWORDS.items():
            add_user(s, name, ROLES[name], password)
    return ConsoleData(settings, app.sessions, chat_ids, import_id)


def start_web(env: dict) -> tuple[subprocess.Popen, str]:
    """`ivr web` as an operator starts it, on a free port: (the process, its base URL) once /healthz answers."""
    import httpx

    from .conftest import IVR
    from .sip_peers import free_port

    port = free_port(socket.SOCK_STREAM)
    proc = subprocess.Popen([IVR, "web", "--port", str(port)], env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/healthz")
            return proc, base
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the console did not start: {proc.stderr.read()[-2000:]}") from None
            time.sleep(0.3)


def client(data: ConsoleData, user: str | None = None) -> TestClient:
    """A TestClient of the console, signed in as `user` (with its CSRF header set) or anonymous."""
    from web import create_app

    c = TestClient(create_app(data.settings, data.sessions), raise_server_exceptions=False)
    if user:
        r = c.post("/api/login", json={"username": user, "password": PASSWORDS[user]})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return c
