"""Slot parsers for what callers say: digit strings, amounts, account names, yes/no."""
from __future__ import annotations

import re
from decimal import Decimal

UNITS = {"zero": 0, "oh": 0, "o": 0, "nought": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
REPEAT = {"double": 2, "triple": 3}
_DISFLUENCIES = {"um", "uh", "er", "erm", "uhm", "hmm", "mm"}
_FILLERS = {"um", "uh", "er", "erm", "uhm", "hmm", "like", "so", "yeah", "well", "please", "okay", "ok"}


def words(text: str) -> list[str]:
    """Lower-case tokens; digits, '$' and decimals kept; 'twenty-four' -> 'twenty four'."""
    text = text.lower().replace("-", " ").replace("$", " $ ")
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    return re.findall(r"\$|\d+(?:\.\d+)?|[a-z']+", text)


def parse_digits(text: str) -> str | None:
    """'four five six seven' / 'oh eight one five' / 'double five' / '24 68' / 'twenty four sixty eight'."""
    out: list[str] = []
    toks = words(text)
    i = 0
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if t in REPEAT and (nxt in UNITS or nxt.isdigit()):
            d = str(UNITS[nxt]) if nxt in UNITS else nxt
            out.append(d * REPEAT[t])
            i += 2
            continue
        if re.fullmatch(r"[\d.]+", t):
            out.append(t.replace(".", ""))  # Whisper writes spoken digits as "2.4.6.8." at times
        elif t in ("o", "oh") and not out and nxt not in UNITS and nxt not in TENS and not nxt.isdigit():
            pass  # "oh, I think it's..." is not a zero
        elif t in UNITS:
            out.append(str(UNITS[t]))
        elif t in TEENS:
            out.append(str(TEENS[t]))
        elif t in TENS:
            if nxt in UNITS and UNITS[nxt] and nxt not in ("o", "oh"):
                out.append(str(TENS[t] + UNITS[nxt]))
                i += 1
            else:
                out.append(str(TENS[t]))
        elif t == "hundred" and out:
            out[-1] += "00"
        i += 1
    digits = "".join(out)
    return digits or None


def _number_words(toks: list[str], i: int) -> tuple[int | None, int]:
    """Parse a spoken number starting at toks[i]; return (value, next index)."""
    total, current, seen = 0, 0, False
    while i < len(toks):
        t = toks[i]
        if t in UNITS and t not in ("o", "oh"):
            current += UNITS[t]
        elif t in TEENS:
            current += TEENS[t]
        elif t in TENS:
            current += TENS[t]
        elif t == "hundred":
            current = (current or 1) * 100
        elif t in ("thousand", "million"):
            total += (current or 1) * SCALES[t]
            current = 0
        elif t == "a" and i + 1 < len(toks) and toks[i + 1] in SCALES:
            current = current or 0
        elif t == "and" and seen and i + 1 < len(toks) and (toks[i + 1] in UNITS or toks[i + 1] in TEENS
                                                            or toks[i + 1] in TENS):
            pass
        else:
            break
        seen = seen or t != "a"
        i += 1
    return (total + current if seen else None), i


def parse_amount(text: str) -> str | None:
    """'two hundred dollars' -> '200.00'; 'fifty bucks' -> '50.00'; '75 dollars and 20 cents' -> '75.20'."""
    toks = words(text)
    groups: list[tuple[Decimal, str]] = []  # (value, unit: dollars | cents | "")
    i = 0
    while i < len(toks):
        t = toks[i]
        dollar_sign = t == "$"
        if dollar_sign:
            i += 1
            if i >= len(toks):
                break
            t = toks[i]
        if re.fullmatch(r"\d+(?:\.\d+)?", t):
            value, i = Decimal(t), i + 1
        else:
            n, j = _number_words(toks, i)
            if n is None:
                i += 1
                continue
            value, i = Decimal(n), j
        unit = "dollars" if dollar_sign else ""
        if i < len(toks) and toks[i] in ("dollars", "dollar", "bucks", "buck"):
            unit, i = "dollars", i + 1
        elif i < len(toks) and toks[i] in ("cents", "cent"):
            unit, i = "cents", i + 1
        groups.append((value, unit))
    if not groups:
        return None
    dollars = next((v for v, u in groups if u == "dollars"), None)
    if dollars is None:
        dollars = next((v for v, u in groups if u == ""), None)
    cents = next((v for v, u in groups if u == "cents"), None)
    if dollars is None and cents is None:
        return None
    amount = (dollars or Decimal(0)) + (cents or Decimal(0)) / 100
    return f"{amount.quantize(Decimal('0.01'))}"


_ACCOUNTS = {"checking": "checking", "chequing": "checking", "current": "checking", "savings": "savings",
             "saving": "savings"}


def parse_accounts(text: str) -> list[str]:
    """Account names in the order spoken: 'from savings to checking' -> ['savings', 'checking']."""
    return [_ACCOUNTS[t] for t in words(text) if t in _ACCOUNTS]


def parse_transfer_accounts(text: str) -> tuple[str | None, str | None]:
    """(from, to): 'from'/'to'/'into' decide when spoken, else the order spoken; one side implies the other."""
    toks = words(text)
    src = dst = None
    loose: list[str] = []
    for k, t in enumerate(toks):
        if t not in _ACCOUNTS:
            continue
        prep = next((toks[j] for j in range(k - 1, max(-1, k - 4), -1) if toks[j] in ("from", "to", "into")), None)
        if prep == "from":
            src = _ACCOUNTS[t]
        elif prep in ("to", "into"):
            dst = _ACCOUNTS[t]
        else:
            loose.append(_ACCOUNTS[t])
    for acc in loose:
        if src is None:
            src = acc
        elif dst is None:
            dst = acc
    other = {"checking": "savings", "savings": "checking"}
    if src and not dst:
        dst = other[src]
    elif dst and not src:
        src = other[dst]
    return src, dst


_NO = re.compile(r"^(no|nope|nah|negative|not really|nothing|never mind|cancel)\b|\b(don'?t|do not|not (?:\w+ )?"
                 r"(?:right|correct|ok|okay|it)|isn'?t (?:right|correct)|"
                 r"wrong|incorrect|that'?s all|that is all|no thanks|no thank you|stop)\b")
_YES = re.compile(r"\b(yes|yeah|yep|yup|ya|sure|correct|right|ok|okay|affirmative|absolutely|confirm|confirmed|"
                  r"go ahead|do it|please do|definitely|of course|that'?s it|uh huh)\b")


def parse_yes_no(text: str) -> str | None:
    """'yes'/'no'/None; a leading or explicit negative wins ('no, that's all', 'that's not right')."""
    if re.search(r"\b(uh huh|mm hmm)\b", text.lower()):
        return "yes"
    t = " ".join(w for w in words(text) if w not in {"um", "uh", "er", "erm"})
    if _NO.search(t):
        return "no"
    if _YES.search(t):
        return "yes"
    return None


def strip_fillers(text: str) -> str:
    """Only the words that carry a command: 'uh agent please' -> 'agent' (for exact keyword rules)."""
    return " ".join(w for w in words(text) if w not in _FILLERS)


def strip_disfluencies(text: str) -> str:
    """'um I'd like to, uh, move money' -> 'I'd like to, move money' (for the embedding model)."""
    return " ".join(w for w in text.split() if w.lower().strip(",.") not in _DISFLUENCIES).strip() or text
