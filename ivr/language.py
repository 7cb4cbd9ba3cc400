"""A language of the product as data: its prompts, intents (NLU), words, and the shared flow checked against
them. `App.language(code)` makes each once; a call's DialogSession holds one and may switch to another."""
from __future__ import annotations

from dataclasses import dataclass

from .flow import Flow
from .words import Lexicon


@dataclass(frozen=True)
class LanguagePack:
    code: str
    flow: Flow
    prompts: dict[str, str]
    nlu: object           # ivr.nlu.IntentClassifier
    words: Lexicon

    @property
    def intent_hints(self) -> list[str]:
        """The phrases a live call gives the recognizer at a menu: the intents' exact commands."""
        return sorted(set(self.nlu.keywords))
