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
        """The phrases a live call gives the recognizer at a menu: the intents' exact commands, not the languages'
        names (Whisper echoes a hint at times: a Mandarin "营业时间" came back "英语. 营业时间." and the call
        switched to English)."""
        switch = {i for i, target in self.flow.globals.items() if target.startswith("@language")}
        return sorted({kw for kw, intent in self.nlu.keywords.items() if intent not in switch})
