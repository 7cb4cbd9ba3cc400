"""PCI DSS redaction of transcripts and keypad input: card numbers (Luhn-checked), CVV, PIN, SSN, expiry
dates and long account numbers are replaced by one token each ([PAN], [CVV], ...).

Words are read as a stream per speaker, so a number typed ("4111 1111"), spoken ("four one one one"),
mixed ("4111 one one"), with "oh", "double four", "forty one", fillers or a pause that splits it over two
consecutive segments of the same speaker is found as one digit run. Short numbers (amounts, dates, times,
"last four digits 4321") are kept unless a cue such as "CVV" or "PIN" comes just before them."""
from __future__ import annotations

import re
from dataclasses import dataclass, replace

from analytics.timeline import Segment, Word

KINDS = ("PAN", "CVV", "PIN", "ACCOUNT", "SSN", "EXPIRY")
CUE_WINDOW = 6          # words allowed between a cue and the number it introduces

UNITS = {"zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
         "seven": 7, "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
         "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 2, "thirty": 3, "forty": 4, "fifty": 5, "sixty": 6, "seventy": 7, "eighty": 8, "ninety": 9}
REPEAT = {"double": 2, "triple": 3}
SOUNDALIKES = {"for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}   # what ASR writes for a digit
MONTHS = {m: i + 1 for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july",
                                          "august", "september", "october", "november", "december"))}
MONTHS |= {m[:3]: i for m, i in MONTHS.items()} | {"sept": 9}
FILLERS = {"", "um", "umm", "uh", "uhh", "er", "erm", "ah", "hmm", "mm", "dash", "hyphen", "slash"}

CUES = {
    "CVV": ["cvv", "cvv2", "cvc", "cvc2", "cv2", "csc", "security code", "verification code", "card code",
            "digit code", "code on the back", "code on back"],
    "PIN": ["pin", "pin number", "pin code", "passcode", "pass code"],
    "SSN": ["ssn", "social", "social security", "social security number"],
    "EXPIRY": ["expiry", "expiration", "expires", "expire", "exp", "exp date", "valid thru", "valid through",
               "good thru", "good through"],
    "ACCOUNT": ["account", "account number", "account no", "acct", "routing number"],
    "PAN": ["card number", "card no", "number on the card", "long number", "credit card", "debit card"],
}
_CUE_PHRASES = sorted(((tuple(p.split()), k) for k, ps in CUES.items() for p in ps), key=lambda c: -len(c[0]))

_DIGITS = re.compile(r"\d+(?:-\d+)*")
_SSN = re.compile(r"\d{3}-\d{2}-\d{4}")
_DATE = re.compile(r"(\d{1,2})/(\d{2}|\d{4})")


@dataclass
class Redaction:
    kind: str            # "PAN" | "CVV" | "PIN" | "ACCOUNT" | "SSN" | "EXPIRY"
    speaker: str
    start: float | None  # seconds into the recording (None when the text had no word times)
    end: float | None


@dataclass
class _Tok:
    raw: str
    seg: int             # index of its segment
    pos: int             # index in the segment's words (or whitespace-split text)
    start: float | None
    end: float | None

    @property
    def norm(self) -> str:
        return re.sub(r"^[^\w$]+|[^\w]+$", "", self.raw.lower())


def luhn_ok(digits: str) -> bool:
    """True when `digits` passes the Luhn checksum used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _number_at(words: list[str], i: int, expiry: bool) -> tuple[str, int, bool] | None:
    """The digits that words[i:] start with: (digits, words used, typed as an SSN), or None."""
    w, nxt = words[i], (words[i + 1] if i + 1 < len(words) else "")
    if w in REPEAT and (nxt in UNITS or re.fullmatch(r"\d", nxt)):
        return str(UNITS.get(nxt, nxt)) * REPEAT[w], 2, False
    parts = w.split("-")
    if len(parts) == 2 and parts[0] in TENS and parts[1] in UNITS:        # "forty-one"
        return f"{TENS[parts[0]]}{UNITS[parts[1]]}", 1, False
    if w in TENS:
        return (f"{TENS[w]}{UNITS[nxt]}", 2, False) if nxt in UNITS and nxt not in ("oh", "o") \
            else (f"{TENS[w]}0", 1, False)
    if w in TEENS:
        return str(TEENS[w]), 1, False
    if w in UNITS:
        return str(UNITS[w]), 1, False
    if _DIGITS.fullmatch(w):
        return w.replace("-", ""), 1, bool(_SSN.fullmatch(w))
    if expiry and w in MONTHS:
        return f"{MONTHS[w]:02d}", 1, False
    if expiry and (m := _DATE.fullmatch(w)):
        return f"{int(m[1]):02d}{m[2]}", 1, False
    return None


def _cues(words: list[str]) -> dict[int, str]:
    """Index of the last word of each cue phrase -> its kind."""
    found = {}
    for i in range(len(words)):
        for phrase, kind in _CUE_PHRASES:
            if tuple(words[max(0, i + 1 - len(phrase)):i + 1]) == phrase:
                found[i] = kind
                break
    return found


def _classify(digits: str, cue: str | None, typed_ssn: bool) -> str | None:
    n = len(digits)
    if typed_ssn and n == 9:
        return "SSN"
    if (cue == "EXPIRY" and 3 <= n <= 6) or (cue == "CVV" and 3 <= n <= 4) or (cue == "PIN" and 4 <= n <= 6) \
            or (cue == "SSN" and n == 9):
        return cue
    if 13 <= n <= 19 and luhn_ok(digits):
        return "PAN"
    if cue == "PAN" and n >= 12:          # a card number the recogniser got a digit wrong in: still a card number
        return "PAN"
    if (cue == "ACCOUNT" and n >= 6) or n >= 8:
        return "ACCOUNT"
    return None


def _find_spans(toks: list[_Tok]) -> list[tuple[int, int, str]]:
    """Sensitive spans as (first token, last token, kind)."""
    words = [t.norm for t in toks]
    cues = _cues(words)

    def cue_before(i: int) -> str | None:
        near = [c for c in cues if c < i and i - c - 1 <= CUE_WINDOW]
        return cues[max(near)] if near else None

    spans, i = [], 0
    while i < len(words):
        items = []                     # (first, last, digits, typed_ssn) of one run
        j = i
        while j < len(words):
            num = _number_at(words, j, cue_before(items[0][0] if items else j) == "EXPIRY") \
                or _soundalike(words, j, bool(items))
            if num:
                items.append((j, j + num[1] - 1, num[0], num[2]))
                j += num[1]
            elif items and words[j] in FILLERS:
                j += 1
            else:
                break
        if not items:
            i += 1
            continue
        digits = "".join(it[2] for it in items)
        kind = _classify(digits, cue_before(items[0][0]), any(it[3] for it in items))
        if kind in (None, "ACCOUNT") and len(digits) >= 13 and _has_card(items):
            kind = "PAN"
        if kind:
            spans.append((items[0][0], items[-1][1], kind))
        i = items[-1][1] + 1
    return spans


def _soundalike(words: list[str], i: int, in_run: bool) -> tuple[str, int, bool] | None:
    """'for' heard for 'four' (and the like): a digit only inside a number or right before one."""
    if words[i] not in SOUNDALIKES:
        return None
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if in_run or (_number_at(words, i + 1, False) if nxt else None):
        return SOUNDALIKES[words[i]], 1, False
    return None


def _has_card(items: list[tuple]) -> bool:
    """A Luhn-valid 13-19 digit stretch, on item boundaries, inside a longer run."""
    for a in range(len(items)):
        digits = ""
        for it in items[a:]:
            digits += it[2]
            if 13 <= len(digits) <= 19 and luhn_ok(digits):
                return True
    return False


def _token_text(kind: str, first: _Tok, last: _Tok) -> str:
    """The replacing token, keeping the first word's leading space and the last word's trailing punctuation."""
    lead = re.match(r"\s*", first.raw)[0]
    trail = re.search(r"[.,!?;:]*$", last.raw.rstrip())[0]
    return f"{lead}[{kind}]{trail}"


def _redact(toks: list[_Tok]) -> tuple[dict[tuple[int, int], tuple[str, float | None] | None], list[tuple]]:
    """Edits keyed by (segment, position): (new text, end time) at a span's first word in each segment, None
    for the words it swallows; and the spans as (kind, first token, last token)."""
    edits, found = {}, []
    for a, b, kind in _find_spans(toks):
        found.append((kind, toks[a], toks[b]))
        span = toks[a:b + 1]
        for seg in dict.fromkeys(t.seg for t in span):
            part = [t for t in span if t.seg == seg]
            edits[(seg, part[0].pos)] = (_token_text(kind, part[0], part[-1]), part[-1].end)
            edits |= {(seg, t.pos): None for t in part[1:]}
    return edits, found


def redact_text(text: str) -> tuple[str, list[str]]:
    """Redacted text of one live turn (no word times) and the kinds found, one per redacted span,
    e.g. ("my card is [PAN]", ["PAN"])."""
    toks = [_Tok(w, 0, i, None, None) for i, w in enumerate(text.split())]
    edits, found = _redact(toks)
    if not found:
        return text, []
    return " ".join(_rewrite(text.split(), 0, edits)), [kind for kind, _, _ in found]


def redact_segments(segments: list[Segment]) -> tuple[list[Segment], list[Redaction]]:
    """New segments whose words/text have sensitive spans replaced by one token each ([PAN], [CVV], [PIN],
    [ACCOUNT], [SSN], [EXPIRY]); redactions carry the span's time (first redacted word start .. last end).
    Segments without words: redact the text; span = the segment's start..end. A number may run on over
    consecutive segments of the same speaker: each segment then gets its own token."""
    out, redactions, group = list(segments), [], []
    for si, seg in enumerate(segments + [None]):
        if group and (seg is None or seg.speaker != segments[group[0]].speaker):
            toks = [tok for g in group for tok in _tokens(segments[g], g)]
            edits, found = _redact(toks)
            redactions += [Redaction(kind, segments[group[0]].speaker, a.start, b.end) for kind, a, b in found]
            for g in {seg_i for seg_i, _ in edits}:
                out[g] = _apply(segments[g], g, edits)
            group = []
        if seg is not None:
            group.append(si)
    return out, redactions


def _tokens(seg: Segment, si: int) -> list[_Tok]:
    if seg.words:
        return [_Tok(w.text, si, i, w.start, w.end) for i, w in enumerate(seg.words)]
    return [_Tok(w, si, i, seg.start, seg.end) for i, w in enumerate(seg.text.split())]


def _rewrite(raws: list[str], si: int, edits: dict) -> list[str]:
    """Whitespace-split words of segment `si` with its edits made."""
    out = []
    for i, w in enumerate(raws):
        edit = edits.get((si, i), (w,))
        if edit:
            out.append(edit[0])
    return out


def _apply(seg: Segment, si: int, edits: dict) -> Segment:
    """A copy of `seg` with the edits for segment `si` made to its words (or its text)."""
    if not seg.words:
        return replace(seg, text=" ".join(_rewrite(seg.text.split(), si, edits)))
    words = []
    for i, w in enumerate(seg.words):
        edit = edits.get((si, i), 1)
        if edit == 1:
            words.append(replace(w))
        elif edit:
            words.append(Word(edit[0], w.start, edit[1], w.prob))
    return replace(seg, words=words, text=" ".join(w.text.strip() for w in words))


def redact_keys(keys: str) -> tuple[str, list[str]]:
    """A run of keypad digits (DTMF): a Luhn-valid 13-19 digit run -> "[PAN]", other runs of >= 6 digits ->
    "[ACCOUNT]"; shorter runs and the * and # keys are kept."""
    kinds = []

    def sub(m: re.Match) -> str:
        d = m[0]
        kind = "PAN" if 13 <= len(d) <= 19 and luhn_ok(d) else "ACCOUNT" if len(d) >= 6 else None
        if kind:
            kinds.append(kind)
        return f"[{kind}]" if kind else d

    return re.sub(r"\d+", sub, keys), kinds
