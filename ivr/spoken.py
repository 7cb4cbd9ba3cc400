"""Values of a prompt in spoken form for the call's language: an amount (Decimal) as money words, a date as a
spoken date, a name the flow works with (checking, debit, in) as the language says it (config/words `names`)."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from tts.normalize import date_to_words, money_to_words
from tts.normalize_zh import date_to_zh, money_to_zh

from .words import Lexicon

MONEY = {"en": money_to_words, "zh": money_to_zh}
DATES = {"en": date_to_words, "zh": date_to_zh}


def spoken(value, lex: Lexicon) -> str:
    if isinstance(value, Decimal):
        return MONEY.get(lex.language, money_to_words)(f"{value:.2f}")
    if isinstance(value, date):
        return DATES.get(lex.language, date_to_words)(value)
    if isinstance(value, str):
        return lex.names.get(value, value)
    return str(value)


class _Spoken(dict):
    def __init__(self, values: dict, lex: Lexicon):
        super().__init__(values)
        self.lex = lex

    def __getitem__(self, key):
        return spoken(super().__getitem__(key), self.lex)


def fill(template: str, values: dict, lex: Lexicon) -> str:
    """A prompt with its {placeholders} filled in, every value in spoken form."""
    return template.format_map(_Spoken(values, lex))
