"""Slot parsers for what callers say: digit strings, amounts, account names, yes/no, card choice. The words
come from config/words/<language>.yaml (ivr/words.py); the default is English."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from .words import CJK, Lexicon, find, is_cjk, join, load_words, lookup, tokens

words = tokens  # the tokenizer, under its old name


def _lex(lex: Lexicon | None) -> Lexicon:
    return lex or load_words("en")


def parse_digits(text: str, lex: Lexicon | None = None) -> str | None:
    """'four five six seven' / 'oh eight one five' / 'double five' / '24 68' / 'twenty four sixty eight'."""
    w = _lex(lex)
    out: list[str] = []
    toks = tokens(text)
    i = 0
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if w.grammar == "chinese" and (t in w.scales or nxt in w.scales) and (t in w.units or t in w.scales):
            n, j = _chinese_number(toks, i, w)   # 两千四百六十八 is 2468, not 2, 4, 6, 8 with places dropped
            if n is not None and n == int(n):
                out.append(str(int(n)))
                i = j
                continue
        if t in w.repeat and (nxt in w.units or nxt.isdigit()):
            d = str(w.units[nxt]) if nxt in w.units else nxt
            out.append(d * w.repeat[t])
            i += 2
            continue
        after = toks[i + 2] if i + 2 < len(toks) else ""
        if t in w.units and w.units[t] and nxt in w.counter and after in w.units:   # 三个八 -> 888
            out.append(str(w.units[after]) * w.units[t])
            i += 3
            continue
        if re.fullmatch(r"[\d.]+", t):
            out.append(t.replace(".", ""))  # Whisper writes spoken digits as "2.4.6.8." at times
        elif t in w.spoken_zero and not out and not (w.number_word(nxt) or nxt.isdigit()):
            pass  # "oh, I think it's..." is not a zero
        elif t in w.units:
            out.append(str(w.units[t]))
        elif t in w.teens:
            out.append(str(w.teens[t]))
        elif t in w.tens:
            if nxt in w.units and w.units[nxt] and nxt not in w.spoken_zero:
                out.append(str(w.tens[t] + w.units[nxt]))
                i += 1
            else:
                out.append(str(w.tens[t]))
        elif w.scales.get(t) == 100 and out:
            out[-1] += "00"
        i += 1
    digits = "".join(out)
    return digits or None


def _number_words(toks: list[str], i: int, w: Lexicon) -> tuple[int | None, int]:
    """One spoken number from toks[i], by the rules of number words: 'one fifty' is two numbers (1, 50),
    'a hundred and five' one. Returns (value, next index)."""
    if w.grammar == "chinese":
        return _chinese_number(toks, i, w)
    total, current, last = 0, 0, None  # last: unit | teen | tens | hundred | scale | article
    while i < len(toks):
        t = toks[i]
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if t in w.units and t not in w.spoken_zero and (
                last in (None, "hundred", "scale") or (last == "tens" and current % 10 == 0)):
            current, last = current + w.units[t], "unit"
        elif t in w.teens and last in (None, "hundred", "scale"):
            current, last = current + w.teens[t], "teen"
        elif t in w.tens and last in (None, "hundred", "scale"):
            current, last = current + w.tens[t], "tens"
        elif w.scales.get(t) == 100 and last in (None, "unit", "teen", "article"):
            current, last = (current or 1) * 100, "hundred"
        elif t in w.scales and w.scales[t] > 100 and last is not None:
            total, current, last = total + (current or 1) * w.scales[t], 0, "scale"
        elif t in w.article and last is None and nxt in w.scales:
            last = "article"
        elif t in w.joiner and last in ("hundred", "scale") and (nxt in w.units or nxt in w.teens or nxt in w.tens):
            pass
        else:
            break
        i += 1
    return (total + current if last not in (None, "article") else None), i


def _chinese_number(toks: list[str], i: int, w: Lexicon) -> tuple[Decimal | None, int]:
    """One number in Chinese numerals (or digits with them) from toks[i]: 一百零五 105, 两千四百五十 2450, 十五 15,
    一万二千 12000, 3千 3000; a last digit right after 百/千/万 counts in the next lower place, as callers say it:
    一百五 150, 两万五 25000. Two digits in a row are two numbers. Returns (value, next index)."""
    total, section, digit, last_scale, zero, start = Decimal(0), Decimal(0), None, 0, False, i
    while i < len(toks):
        t = toks[i]
        if digit is None and re.fullmatch(r"\d+(?:\.\d+)?", t) and i == start:
            digit = Decimal(t)
        elif digit is None and t in w.units and not (zero and w.units[t] == 0):
            if w.units[t] == 0 and i > start:
                zero = True          # 一百零五: a place left empty
            else:
                digit = Decimal(w.units[t])
        elif t in w.scales and (digit is not None or w.scales[t] == 10 or i > start):
            scale = w.scales[t]
            if scale >= 10000:
                total, section = (total + section + (digit or 0)) * scale, Decimal(0)
            else:
                section += (digit if digit is not None else 1) * scale
            digit, last_scale, zero = None, scale, False
        else:
            break
        i += 1
    if i == start:
        return None, i
    if i < len(toks) and toks[i] in w.decimal_point and i + 1 < len(toks) and toks[i + 1] in w.units:
        fraction, i = "", i + 1   # 一点五 1.5, 零点五 0.5
        while i < len(toks) and toks[i] in w.units:
            fraction, i = fraction + str(w.units[toks[i]]), i + 1
        whole = total + section + (digit or 0)
        return whole + Decimal(f"0.{fraction}"), i
    nxt = toks[i] if i < len(toks) else ""
    after_unit = start > 0 and _money_word(toks[start - 1], w)   # 一百二十块五到...: the 五 is 五角
    if (i == start + 1 and digit is not None and is_cjk(toks[start]) and is_cjk(nxt) and not _money_word(nxt, w)
            and not after_unit):
        return None, i   # a numeral inside a word: 一下, 一些, 一半, 一点点
    if digit is not None:
        section += digit * (last_scale // 10 if last_scale >= 100 and not zero else 1)
    return total + section, i


def _money_word(tok: str, w: Lexicon) -> bool:
    """A word that may follow a number in an amount or a count (块, 毛, 分, 个, 钱) or is one (四)."""
    return any(tok in s for s in (w.dollars, w.tenths, w.cents, w.counter, w.joiner, w.units, w.scales))


@dataclass(frozen=True)
class Amount:
    """What an answer to 'how much?' says: status ok (value), negative (value < 0), ambiguous ('one fifty':
    $150 or $1.50?), everything ('all of it'), or None when it names no amount."""
    status: str | None
    value: Decimal | None = None


def read_amount(text: str, lex: Lexicon | None = None) -> Amount:
    w = _lex(lex)
    toks = tokens(text)
    groups: list[dict] = []  # value, unit (dollars | cents | ""), negative, start, end (token indexes)
    i, marks, negative = 0, [], False
    corrections = {s for s, _ in find(toks, w.corrections)}
    while i < len(toks):
        t, start = toks[i], i
        if i in corrections:
            marks.append(i)
        if t in w.negative or t == "-":
            negative, i = True, i + 1
            continue
        dollar_sign = t == w.currency_symbol
        if dollar_sign:
            i += 1
            if i >= len(toks):
                break
            t = toks[i]
        if re.fullmatch(r"\d+(?:\.\d+)?", t) and w.grammar != "chinese":
            value, i = Decimal(t), i + 1
        else:
            n, j = _number_words(toks, i, w)
            if n is None:
                negative, i = False, i + 1
                continue
            value, i = Decimal(n), j
        unit = "dollars" if dollar_sign else ""
        if i < len(toks) and toks[i] in w.dollars:
            unit, i = "dollars", i + 1
        elif i < len(toks) and toks[i] in w.cents:
            unit, i = "cents", i + 1
        elif i < len(toks) and toks[i] in w.tenths:
            unit, i = "tenths", i + 1
        groups.append(dict(value=value, unit=unit, negative=negative, start=start, end=i))
        negative = False
    if not groups:
        return Amount("everything") if find(toks, w.everything) else Amount(None)
    # a correction ("no wait", "make it", "I mean") before a later amount: only the last amount counts
    last_mark = max((m for m in marks if any(g["start"] > m for g in groups)), default=-1)
    groups = [g for g in groups if g["start"] > last_mark]

    def adjacent(a: dict, b: dict) -> bool:
        return b["start"] == a["end"] or (b["start"] == a["end"] + 1 and toks[a["end"]] in w.joiner)

    main = next((g for g in reversed(groups) if g["unit"] == "dollars"), None)
    if main is None:
        fraction_at = {k + 1 for k, g in enumerate(groups) if g["unit"] in ("tenths", "cents")}   # 五毛五: 0.55
        bare = [g for k, g in enumerate(groups) if g["unit"] == "" and k not in fraction_at]
        if len(bare) > 1 and any(adjacent(a, b) for a, b in zip(bare, bare[1:])):
            return Amount("ambiguous")
        main = bare[-1] if bare else None
    k = groups.index(main) if main else -1
    if main is not None and k > 0 and groups[k - 1]["unit"] == "" and adjacent(groups[k - 1], main):
        return Amount("ambiguous")  # "one fifty dollars"
    if main is not None:
        fraction = _fraction(groups[k + 1:], main, w.after_dollars, adjacent)
    else:
        first = next((j for j, g in enumerate(groups) if g["unit"] in ("cents", "tenths")), None)
        fraction = _fraction(groups[first:], None, "", adjacent) if first is not None else Decimal(0)
    amount = (main["value"] if main else Decimal(0)) + fraction
    if (main or groups[0])["negative"]:
        return Amount("negative", -amount.quantize(Decimal("0.01")))
    return Amount("ok", amount.quantize(Decimal("0.01")))


def _fraction(groups: list[dict], before: dict | None, bare_unit: str, adjacent) -> Decimal:
    """The part below the currency unit spoken right after it: 'fifty dollars twenty' (cents), 一百二十块五 (五 is
    tenths: .5), 三块五毛六 (.56); each part must follow the one before it."""
    fraction, expect = Decimal(0), bare_unit
    for g in groups:
        unit = g["unit"] or expect
        if before is not None and not adjacent(before, g):
            break
        if unit == "tenths" and expect in ("tenths", "cents", "") and g["value"] < 10:
            fraction, expect = fraction + g["value"] / 10, "cents"
        elif unit == "cents" and expect != "done" and g["value"] < 100:
            fraction, expect = fraction + g["value"] / 100, "done"   # the cents end it
        else:
            break
        before = g
    return fraction


def parse_amount(text: str, lex: Lexicon | None = None) -> str | None:
    """'two hundred dollars' -> '200.00'; 'fifty bucks' -> '50.00'; '75 dollars and 20 cents' -> '75.20';
    'minus fifty' -> '-50.00'; None for no amount, 'all of it' and the ambiguous 'one fifty'."""
    a = read_amount(text, lex)
    return f"{a.value}" if a.status in ("ok", "negative") else None


def parse_accounts(text: str, lex: Lexicon | None = None) -> list[str]:
    """Account names in the order spoken: 'from savings to checking' -> ['savings', 'checking']."""
    w = _lex(lex)
    return [kind for _, _, kind in lookup(tokens(text), w.account_table)]


def parse_transfer_accounts(text: str, lex: Lexicon | None = None) -> tuple[str | None, str | None]:
    """(from, to): 'from'/'to'/'into' decide when spoken, else the order spoken; one side implies the other."""
    w = _lex(lex)
    toks = tokens(text)
    src = dst = None
    loose: list[str] = []
    for k, _, kind in lookup(toks, w.account_table):
        prep = next((toks[j] for j in range(k - 1, max(-1, k - 1 - w.direction_window), -1)
                     if toks[j] in w.from_words | w.to_words), None)
        if prep in w.from_words:
            src = kind
        elif prep in w.to_words:
            dst = kind
        else:
            loose.append(kind)
    for acc in loose:
        if src is None:
            src = acc
        elif dst is None:
            dst = acc
    kinds = sorted(set(w.accounts.values()))
    other = {kinds[0]: kinds[1], kinds[1]: kinds[0]} if len(kinds) == 2 else {}
    if src and not dst:
        dst = other.get(src)
    elif dst and not src:
        src = other.get(dst)
    return src, dst


def answer(text: str, lex: Lexicon | None = None) -> str | None:
    """'yes', 'no', 'unsure' or None. Unsure words ('not sure', 'maybe') win; a negated yes ('absolutely not',
    'not right', "don't do it") is a no; yes and no together are not clear (None)."""
    w = _lex(lex)
    toks = tokens(text)
    if not toks:
        return None
    if find(toks, w.unsure):
        return "unsure"
    yes_spans = find(toks, w.yes)
    no = [(s, e) for s, e in find(toks, w.no)   # a longer yes holds it: 就这样办 (do it so) is not 就这样 (that's all)
          if not any(a <= s and e <= b and b - a > e - s for a, b in yes_spans)]
    yes = []
    for s, e in yes_spans:
        if any(s <= a < e for a, _ in no):
            continue
        if set(toks[max(0, s - 2):s]) & w.negators or (e < len(toks) and toks[e] in w.negate_after):
            no.append((s, e))
        else:
            yes.append((s, e))
    if yes and no:
        return None
    return "yes" if yes else "no" if no else None


def clear_yes(text: str, lex: Lexicon | None = None) -> bool:
    """A yes that may act: only lead-in words ("that is") before the first yes, nothing but polite words after
    the last, and not cut off ('...'). Anything else around it may be a negation the recogniser lost ("and
    correct" for "incorrect"), so the caller is asked again."""
    w = _lex(lex)
    if re.search(r"(\.\.\.|…|-|—)\s*$", text) or (w.question_unclear and re.search(r"[?？]\s*$", text)):
        return False   # cut off, or asked back ("对吧？" is "right?")
    toks = tokens(text)
    spans = find(toks, w.yes)
    if not spans:
        return False
    start, end = min(s for s, _ in spans), max(e for _, e in spans)
    return (all(t in w.before_yes or t in w.fillers for t in toks[:start])
            and all((t in w.after_yes or t in w.fillers) and t not in w.asking for t in toks[end:]))


def parse_yes_no(text: str, lex: Lexicon | None = None) -> str | None:
    """'yes'/'no'/None (None for anything unclear: 'I'm not sure', 'yes no')."""
    a = answer(text, lex)
    return a if a in ("yes", "no") else None


def pick_card(text: str, cards: list[tuple[str, str]], lex: Lexicon | None = None) -> str | None:
    """Which of `cards` [(kind, last4), ...] the caller means, as its key '1', '2'...: by kind ('the credit
    one', 'not the debit'), ordinal ('the second one', 'the last one'), last four digits, or a bare option
    number ('two', 'press 2'). Signals must agree on one card, else None."""
    w = _lex(lex)
    toks = tokens(text)
    n = len(cards)
    signals: list[set[int]] = []
    wanted, unwanted = set(), set()
    for k, _, kind in lookup(toks, w.card_table):
        j = k - 1
        while j >= 0 and toks[j] in w.determiners:
            j -= 1
        (unwanted if j >= 0 and toks[j] in w.negators else wanted).add(kind)
    if wanted:
        signals.append({i for i, (kind, _) in enumerate(cards) if kind in wanted})
    if unwanted:
        signals.append({i for i, (kind, _) in enumerate(cards) if kind not in unwanted})
    ordinals = {o for _, _, o in lookup(toks, w.ordinal_table)}
    if ordinals:
        signals.append({(o - 1) if o > 0 else n + o for o in ordinals})
    digits = parse_digits(text, w) or ""
    if len(digits) >= 4:
        signals.append({i for i, (_, last4) in enumerate(cards) if last4 in digits})
    rest = [t for t in toks if t not in w.card_key_words - {"one"}]
    if not signals and len(rest) == 1 and (rest[0] in w.units or rest[0].isdigit()):
        key = w.units.get(rest[0], None) if not rest[0].isdigit() else int(rest[0])
        signals.append({key - 1} if key else set())
    if not signals:
        return None
    chosen = set.intersection(*signals) & set(range(n))
    return str(chosen.pop() + 1) if len(chosen) == 1 else None


def mentions(text: str, table: list[tuple[str, ...]]) -> bool:
    return bool(find(tokens(text), table))


def strip_fillers(text: str, lex: Lexicon | None = None) -> str:
    """Only the words that carry a command: 'uh agent please' -> 'agent' (for exact keyword rules)."""
    w = _lex(lex)
    return join([t for t in tokens(text) if t not in w.fillers])


def strip_disfluencies(text: str, lex: Lexicon | None = None) -> str:
    """'um I'd like to, uh, move money' -> 'I'd like to, move money' (for the embedding model)."""
    w = _lex(lex)
    if re.search(f"[{CJK}]", text):
        return join([t for t in tokens(text) if t not in w.disfluencies]) or text
    return " ".join(t for t in text.split() if t.lower().strip(",.") not in w.disfluencies).strip() or text
