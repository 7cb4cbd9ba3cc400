"""Wiring shared by `ivr chat` and `ivr serve`: database, bank backend, flow, prompts, NLU."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import inspect

from config import IvrError, Settings, get_settings
from models import make_engine, session_factory

from .bank import SqlBank
from .call_log import CallLog
from .flow import Flow, load_flow
from .spool import Spool
from .session import DialogSession


@dataclass
class App:
    settings: Settings

    @cached_property
    def engine(self):
        return make_engine(self.settings.db_url)

    @cached_property
    def sessions(self):
        return session_factory(self.engine)

    @cached_property
    def prompts(self) -> dict[str, str]:
        from tts import load_prompts

        return load_prompts("en")

    @cached_property
    def flow(self) -> Flow:
        return load_flow(prompts=self.prompts)

    @cached_property
    def nlu(self):
        from .nlu import get_classifier

        return get_classifier()

    @cached_property
    def spools(self) -> dict[str | None, Spool]:
        return {}

    def spool(self, node: str | None) -> Spool:
        """Where this node keeps calls on local disk while the database is unavailable."""
        if node not in self.spools:
            self.spools[node] = Spool.for_node(self.settings.data_dir, node, self.sessions)
        return self.spools[node]

    def require_schema(self) -> None:
        if self.__dict__.get("schema_ok"):
            return   # checked once: a later database outage must not stop calls from being answered
        if not inspect(self.engine).has_table("customers"):
            raise IvrError(f"database {self.engine.url.render_as_string()} is not initialised: run `ivr db init --demo`")
        self.__dict__["schema_ok"] = True

    def new_session(self, ani: str | None, call_log=None) -> DialogSession:
        keywords = sorted({kw for kw in self.nlu.keywords})
        return DialogSession(self.flow, SqlBank(self.sessions), self.prompts, self.nlu, ani, call_log, keywords)

    def open_call(self, ani: str | None, channel: str, clock=None, node: str | None = None
                  ) -> tuple[CallLog, DialogSession]:
        """A new stored call and its dialog session: what every transport (chat, SIP) starts a call with.
        `node` names the endpoint (host:port) so that its next start-up can close what a crash left open."""
        self.require_schema()
        call_log = CallLog(self.sessions, ani, channel=channel, node=node, spool=self.spool(node),
                           **({"clock": clock} if clock else {}))
        return call_log, self.new_session(ani, call_log)

    def close_interrupted_calls(self, node: str) -> int:
        """Calls this endpoint left open when it died: ended now as `interrupted`, every stored turn kept."""
        from sqlalchemy import update

        from models import Call, utcnow

        with self.sessions.begin() as s:
            result = s.execute(update(Call).where(Call.node == node, Call.ended_at.is_(None))
                               .values(ended_at=utcnow(), outcome="interrupted"))
        return result.rowcount


def get_app(settings: Settings | None = None) -> App:
    return App(settings or get_settings())
