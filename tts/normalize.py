"""Text normalisation for banking speech: money, account digits, numbers, dates and times as words."""
from __future__ import annotations

import re
from datetime import date, datetime, time

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_ORDINAL_EXCEPTIONS = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                       "nine": "ninth", "twelve": "twelfth"}
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def number_to_words(n: int) -> str:
    """1250 -> 'one thousand two hundred fifty' (US style, no 'and')."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return _ONES[n // 100] + " hundred" + (" " + number_to_words(n % 100) if n % 100 else "")
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            return number_to_words(head) + " " + name + (" " + number_to_words(rest) if rest else "")
    raise AssertionError(n)


def ordinal_to_words(n: int) -> str:
    words = number_to_words(n)
    if "-" in words.rsplit(" ", 1)[-1]:
        stem, last = words.rsplit("-", 1)
        sep = "-"
    else:
        stem, _, last = words.rpartition(" ")
        sep = " " if stem else ""
    if last in _ORDINAL_EXCEPTIONS:
        last = _ORDINAL_EXCEPTIONS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{stem}{sep}{last}"


def digits_to_words(digits: str) -> str:
    """'4321' -> '4 3 2 1' spoken one digit at a time."""
    return " ".join(_ONES[int(d)] for d in digits if d.isdigit())


def money_to_words(amount: str) -> str:
    """'2,450.75' -> 'two thousand four hundred fifty dollars and seventy-five cents'."""
    whole, _, frac = amount.replace(",", "").partition(".")
    dollars = int(whole or 0)
    cents = int((frac + "00")[:2]) if frac else 0
    parts = []
    if dollars or not cents:
        parts.append(f"{number_to_words(dollars)} dollar{'s' if dollars != 1 else ''}")
    if cents:
        parts.append(f"{number_to_words(cents)} cent{'s' if cents != 1 else ''}")
    return " and ".join(parts)


def date_to_words(d: date) -> str:
    return f"{MONTHS[d.month - 1]} {ordinal_to_words(d.day)}"


def time_to_words(t: time) -> str:
    hour = t.hour % 12 or 12
    suffix = "a.m." if t.hour < 12 else "p.m."
    if t.minute == 0:
        return f"{number_to_words(hour)} {suffix}" if (t.hour, t.minute) not in ((12, 0), (0, 0)) else (
            "noon" if t.hour == 12 else "midnight")
    minute = number_to_words(t.minute) if t.minute >= 10 else f"oh {number_to_words(t.minute)}"
    return f"{number_to_words(hour)} {minute} {suffix}"


_MONEY = re.compile(r"(-)?\$\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?")
_ACCOUNT = re.compile(r"\b(ending(?: in)?|account(?: number)?|card(?: number)?|reference(?: number)?(?: is)?|PIN)\s+(?:…|\.\.\.)?(\d[\d ]*\d|\d)\b",
                      re.IGNORECASE)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)(?:\s?([AaPp])\.?[Mm]\.?)?(?![\d:])")
_PERCENT = re.compile(r"\b(\d+(?:\.\d+)?)\s?%")
_NUMBER = re.compile(r"\b\d{1,3}(?:,\d{3})+\b|\b\d+\b")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")


def _time_sub(m: re.Match) -> str:
    hour, minute, ampm = int(m.group(1)), int(m.group(2)), m.group(3)
    if ampm:
        hour = hour % 12 + (12 if ampm.lower() == "p" else 0)
    return time_to_words(time(hour, minute))


def _iso_date_sub(m: re.Match) -> str:
    try:
        return date_to_words(datetime(int(m.group(1)), int(m.group(2)), int(m.group(3))).date())
    except ValueError:
        return m.group(0)


def _money_sub(m: re.Match) -> str:
    words = money_to_words(m.group(2) + ("." + m.group(3) if m.group(3) else ""))
    return ("minus " if m.group(1) else "") + words


def normalize(text: str, language: str = "en") -> str:
    """Rewrite a prompt so any TTS engine reads amounts, account digits, dates and times correctly."""
    if language == "zh":
        from .normalize_zh import normalize_zh

        return normalize_zh(text)
    text = _MONEY.sub(_money_sub, text)
    text = _ACCOUNT.sub(lambda m: f"{m.group(1)} {digits_to_words(m.group(2))}", text)
    text = _ISO_DATE.sub(_iso_date_sub, text)
    text = _TIME.sub(_time_sub, text)
    text = _PERCENT.sub(lambda m: m.group(1) + " percent", text)
    text = _ORDINAL.sub(lambda m: ordinal_to_words(int(m.group(1))), text)
    text = re.sub(r"(\d)\.(\d)", lambda m: f"{m.group(1)} point {m.group(2)}", text)
    text = _NUMBER.sub(lambda m: number_to_words(int(m.group(0).replace(",", ""))), text)
    text = re.sub(r"\b([ap])\.m\.\.", r"\1.m.", text)  # "at 17:00." -> "five p.m." not "p.m.."
    return re.sub(r"\s+", " ", text).strip()
