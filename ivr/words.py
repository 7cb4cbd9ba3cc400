"""Language words as data: config/words/<language>.yaml (numbers, money, accounts, cards, yes/no/unsure answers,
fillers, ASR hints). The parsers in ivr/slots.py and ivr/understanding.py read them from here.

Text is read as tokens: words of a spaced language, and each Chinese character on its own (Chinese writes no
spaces, and a phrase such as 不是 is then the token sequence 不, 是). Phrases of the YAML are tokenized the same
way, so matching is one rule for every language."""
from __future__ import annotations

import re
import unicodedata
from functools import cache

from config import CONFIG_DIR, IvrError, load_yaml


class Lexicon:
    def __init__(self, data: dict, language: str):
        self.language = language
        n, m = data["numbers"], data["money"]
        self.grammar: str = n.get("grammar", "english")      # how number words combine: english | chinese
        self.counter = set(n.get("counter", []))             # "三个八" = 888: a count, this word, a digit
        self.decimal_point = set(n.get("decimal_point", []))  # 一点五 = 1.5
        self.units: dict[str, int] = n["units"]
        self.spoken_zero = set(n["spoken_zero"])
        self.teens: dict[str, int] = n["teens"]
        self.tens: dict[str, int] = n["tens"]
        self.scales: dict[str, int] = n["scales"]
        self.article = set(n["article"])
        self.joiner = set(n["joiner"])
        self.repeat: dict[str, int] = n["repeat"]
        self.ordinals: dict[str, int] = n["ordinals"]
        self.dollars, self.cents = set(m["dollars"]), set(m["cents"])
        self.tenths = set(m.get("tenths", []))                # 角 / 毛: a tenth of the currency unit
        self.after_dollars: str = m.get("after_dollars", "cents")  # a bare number after the unit: cents | tenths
        self.currency_symbol: str = m["symbol"]
        self.negative = set(m["negative"])
        self.everything = phrases(m["everything"])
        self.corrections = phrases(m["corrections"])
        self.accounts: dict[str, str] = data["accounts"]
        self.account_table = table(self.accounts)
        self.from_words, self.to_words = set(data["directions"]["from"]), set(data["directions"]["to"])
        self.direction_window = int(data["directions"].get("window", 3))   # tokens a from/to may stand before
        self.cards: dict[str, str] = data["cards"]
        self.card_table, self.ordinal_table = table(self.cards), table(self.ordinals)
        self.card_key_words = set(data["card_key_words"])
        self.negators, self.determiners = set(data["negators"]), set(data["determiners"])
        a = data["answers"]
        self.yes, self.no, self.unsure = phrases(a["yes"]), phrases(a["no"]), phrases(a["unsure"])
        self.negate_after, self.after_yes, self.before_yes = set(a["negate_after"]), set(a["after_yes"]), \
            set(a["before_yes"])
        self.question_unclear = bool(a.get("question_unclear", False))   # a yes asked back ("对吧？") is not a yes
        self.asking = set(a.get("asking", []))   # particles that make a yes a question (对吧, 可以吗)
        self.frustration = phrases(data["frustration"])
        self.disfluencies, self.fillers = set(data["disfluencies"]), set(data["fillers"])
        self.trailing = frozenset(data["trailing"])
        self.hints: dict[str, list[str]] = data["hints"]
        self.names: dict[str, str] = data.get("names", {})   # how the flow's names are said (checking -> 活期)
        self.sounds_like_voice: str | None = data.get("sounds_like_voice")   # espeak-ng voice of the sounds-like
                                                                             # guess; none: no guesses

    def number_word(self, tok: str) -> bool:
        return tok in self.units or tok in self.teens or tok in self.tens


def phrases(items: list[str]) -> list[tuple[str, ...]]:
    """Token tuples, longest first, so that 'not sure' is found before 'sure' (and 不是 before 是)."""
    return sorted({tuple(tokens(str(p))) for p in items} - {()}, key=len, reverse=True)


def table(mapping: dict) -> dict[tuple[str, ...], object]:
    """A {phrase: value} table keyed by token tuples ('活期' -> ('活', '期'))."""
    return {tuple(tokens(str(k))): v for k, v in mapping.items()}


def lookup(toks: list[str], mapping: dict[tuple[str, ...], object]) -> list[tuple[int, int, object]]:
    """(start, end, value) of each phrase of a `table()` found in `toks`, in order, longest phrases first."""
    return [(s, e, mapping[tuple(toks[s:e])]) for s, e in find(toks, sorted(mapping, key=len, reverse=True))]


def find(toks: list[str], table: list[tuple[str, ...]]) -> list[tuple[int, int]]:
    """Non-overlapping (start, end) spans of `toks` that are phrases of `table`, longest first."""
    spans, used = [], [False] * len(toks)
    for p in table:
        k = len(p)
        for i in range(len(toks) - k + 1):
            if tuple(toks[i:i + k]) == p and not any(used[i:i + k]):
                spans.append((i, i + k))
                used[i:i + k] = [True] * k
    return sorted(spans)


CJK = "\u3400-\u4dbf\u4e00-\u9fff\u3007"   # Chinese characters (and 〇, the zero)
_TOKEN = re.compile(rf"\$|¥|-|\d+(?:\.\d+)?|[a-z']+|[{CJK}]")


def tokens(text: str) -> list[str]:
    """Lower-case tokens; digits, '$', '¥' and decimals kept; 'twenty-four' -> 'twenty four'; '-50' keeps its sign
    as a '-' token; each Chinese character is a token."""
    text = unicodedata.normalize("NFKC", text).lower().replace("’", "'")   # full-width ２４６８ and ￥ too
    text = re.sub(r"(?<![\w])-(?=\d)", " \0 ", text).replace("-", " ").replace("\0", "-").replace("$", " $ ")
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)   # 1,000元 as well as 1,000 dollars
    return _TOKEN.findall(text)


def join(toks: list[str]) -> str:
    """Tokens back into text: spaces between words, none between Chinese characters."""
    out = ""
    for t in toks:
        if out and not (is_cjk(out[-1]) and is_cjk(t[0])):
            out += " "
        out += t
    return out


def word_count(text: str) -> int:
    """Words in `text`, each Chinese character counted as one."""
    return sum(len(re.findall(f"[{CJK}]", w)) or 1 for w in text.split())


def is_cjk(ch: str) -> bool:
    return bool(re.fullmatch(f"[{CJK}]", ch))


@cache
def load_words(language: str = "en") -> Lexicon:
    path = CONFIG_DIR / "words" / f"{language}.yaml"
    data = load_yaml(path, "language words")
    try:
        return Lexicon(data, language)
    except (KeyError, TypeError) as err:
        raise IvrError(f"{path}: missing or malformed entry {err}") from None
