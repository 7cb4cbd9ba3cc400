"""Wiring shared by `ivr chat` and `ivr serve`: database, bank backend, flow, prompts, NLU."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import inspect

from config import CONFIG_DIR, IvrError, Settings, get_settings
from models import make_engine, session_factory

from .bank import SqlBank
from .call_log import CallLog
from .flow import Flow, load_flow
from .language import LanguagePack
from .spool import Spool
from .session import DialogSession
from .words import load_words


@dataclass
class App:
    settings: Settings

    @cached_property
    def engine(self):
        return make_engine(self.settings.db_url)

    @cached_property
    def sessions(self):
        return session_factory(self.engine)

    @property
    def default_language(self) -> str:
        return self.settings.languages[0]

    @cached_property
    def prompts(self) -> dict[str, str]:
        from tts import load_prompts

        return load_prompts(self.default_language)

    @cached_property
    def flow(self) -> Flow:
        return load_flow(prompts=self.prompts, language=self.default_language)

    @cached_property
    def nlu(self):
        from .nlu import get_classifier

        return get_classifier(self.default_language)

    @cached_property
    def _languages(self) -> dict[str, LanguagePack]:
        return {}

    def language(self, code: str) -> LanguagePack:
        """A language of `languages` (settings): the shared flow with that language's prompts, intents and words."""
        from tts import load_prompts

        from .nlu import get_classifier, intent_names

        if code not in self.settings.languages:
            raise IvrError(f"language {code!r} is not one of languages {self.settings.languages} (config/settings.yaml)")
        if code not in self._languages:
            if code == self.default_language:
                pack = LanguagePack(code, self.flow, self.prompts, self.nlu, load_words(code))
            else:
                prompts = load_prompts(code)
                flow = load_flow(self.flow.path, prompts=prompts, language=code,
                                 intents=intent_names(CONFIG_DIR / "intents" / f"{code}.yaml"))
                pack = LanguagePack(code, flow, prompts, get_classifier(code), load_words(code))
            self._languages[code] = pack
        return self._languages[code]

    @cached_property
    def predictor(self):
        """Why an identified customer is likely calling (config/proactive.yaml), shared by the app's calls."""
        from .contact_history import ContactHistory
        from .proactive import Predictor

        return Predictor(self.sessions, ContactHistory(self.sessions))

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

    def new_session(self, ani: str | None, call_log=None, language: str | None = None) -> DialogSession:
        """A dialog session; `language` chosen for the call (its number, `ivr chat --language`), else the default
        until the caller is identified (then the customer's stored language) or asks for another."""
        pack = self.language(language or self.default_language)
        return DialogSession(pack, SqlBank(self.sessions), ani, call_log, self.language, self.settings.languages,
                             chosen=language is not None, predictor=self.predictor)

    def open_call(self, ani: str | None, channel: str, clock=None, node: str | None = None,
                  language: str | None = None) -> tuple[CallLog, DialogSession]:
        """A new stored call and its dialog session: what every transport (chat, SIP) starts a call with.
        `node` names the endpoint (host:port) so that its next start-up can close what a crash left open."""
        self.require_schema()
        if language is not None:
            self.language(language)   # an unknown language is refused before anything is stored
        call_log = CallLog(self.sessions, ani, channel=channel, node=node, spool=self.spool(node),
                           language=language or self.default_language, **({"clock": clock} if clock else {}))
        return call_log, self.new_session(ani, call_log, language)

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
