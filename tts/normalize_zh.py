"""Mandarin text normalisation for banking speech: money (¥2,450.75 -> 两千四百五十元七角五分), digits one at a time
(尾号 4 3 2 1 -> 四三二一), dates (11月29日 -> 十一月二十九日), times (9:00 -> 上午九点) and other numbers."""
from __future__ import annotations

import re
from datetime import date, time

DIGITS = "零一二三四五六七八九"
_PLACES = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
_GROUPS = ((10**8, "亿"), (10**4, "万"), (1, ""))


def _below_10000(n: int, leading: bool = True) -> str:
    out, gap = "", False
    for value, unit in _PLACES:
        d = n // value % 10
        if d == 0:
            gap = bool(out)
            continue
        if gap:
            out += "零"
        # a number that starts with 2 before 百 / 千 says 两, as amounts are said (两千四百); 二 elsewhere
        out += ("两" if d == 2 and value >= 100 and leading and not out else DIGITS[d]) + unit
        gap = False
    return out


def number_to_zh(n: int) -> str:
    """1250 -> 一千二百五十, 10 -> 十, 105 -> 一百零五, 20000 -> 两万, 10086 -> 一万零八十六."""
    if n < 0:
        return "负" + number_to_zh(-n)
    if n == 0:
        return "零"
    out, rest, gap = "", n, False
    for value, unit in _GROUPS:
        group, rest = divmod(rest, value)
        if group:
            if out and (group < 1000 or gap):
                out += "零"
            out += ("两" if group == 2 and unit and not out else _below_10000(group, not out)) + unit
            gap = False
        elif out:
            gap = True
    out = re.sub("零+", "零", out).rstrip("零")
    return out[1:] if out.startswith("一十") else out


def digits_to_zh(digits: str) -> str:
    """'4321' -> 四三二一, one digit at a time (card and reference numbers)."""
    return "".join(DIGITS[int(d)] for d in digits if d.isdigit())


def money_to_zh(amount: str) -> str:
    """'2,450.75' -> 两千四百五十元七角五分; '5.05' -> 五元零五分; '0.50' -> 五角."""
    whole, _, frac = amount.replace(",", "").partition(".")
    negative = whole.startswith("-")
    yuan = int(whole.lstrip("-") or 0)
    cents = int((frac + "00")[:2]) if frac else 0
    jiao, fen = divmod(cents, 10)
    out = ("两" if yuan == 2 else number_to_zh(yuan)) + "元" if yuan or not cents else ""
    if jiao:
        out += DIGITS[jiao] + "角"
    if fen:
        out += ("零" if yuan and not jiao else "") + DIGITS[fen] + "分"
    return ("负" if negative else "") + out


def date_to_zh(d: date) -> str:
    return f"{number_to_zh(d.month)}月{number_to_zh(d.day)}日"


def time_to_zh(t: time) -> str:
    """9:00 -> 上午九点, 13:30 -> 下午一点三十分, 12:00 -> 中午十二点."""
    period = "凌晨" if t.hour < 6 else "上午" if t.hour < 12 else "中午" if t.hour == 12 else "下午" if t.hour < 19 \
        else "晚上"
    hour = t.hour if t.hour <= 12 else t.hour - 12
    hour_words = "两" if hour == 2 else number_to_zh(hour)
    return f"{period}{hour_words}点" + (f"{number_to_zh(t.minute)}分" if t.minute else "")


_MONEY = re.compile(r"(-)?[¥￥$]\s?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?|(\d+(?:\.\d{1,2})?)\s?元")
_SPACED_DIGITS = re.compile(r"\d(?: \d)+")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_MONTH_DAY = re.compile(r"(\d{1,2})月(\d{1,2})日")
_CLOCK = re.compile(r"(上午|下午|中午|晚上)?(\d{1,2}):(\d{2})")
_HOUR = re.compile(r"(上午|下午|中午|晚上)?(\d{1,2})点")
_DECIMAL = re.compile(r"(\d+)\.(\d+)")
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")


def _money_sub(m: re.Match) -> str:
    if m.group(4):
        return money_to_zh(m.group(4))
    words = money_to_zh(m.group(2) + ("." + m.group(3) if m.group(3) else ""))
    return ("负" if m.group(1) else "") + words


def _clock_sub(m: re.Match) -> str:
    hour, minute = int(m.group(2)), int(m.group(3))
    if m.group(1) in ("下午", "晚上") and hour < 12:
        hour += 12
    return time_to_zh(time(hour % 24, minute)) if hour < 24 and minute < 60 else m.group(0)


def _hour_sub(m: re.Match) -> str:
    hour = int(m.group(2))
    return (m.group(1) or "") + ("两" if hour == 2 else number_to_zh(hour)) + "点"


def normalize_zh(text: str) -> str:
    """Rewrite a Mandarin prompt so a TTS voice reads amounts, digits, dates and times correctly."""
    text = _MONEY.sub(_money_sub, text)
    text = _SPACED_DIGITS.sub(lambda m: digits_to_zh(m.group(0)), text)
    text = _ISO_DATE.sub(lambda m: date_to_zh(date(int(m.group(1)), int(m.group(2)), int(m.group(3)))), text)
    text = _MONTH_DAY.sub(lambda m: f"{number_to_zh(int(m.group(1)))}月{number_to_zh(int(m.group(2)))}日", text)
    text = _CLOCK.sub(_clock_sub, text)
    text = _HOUR.sub(_hour_sub, text)
    text = re.sub(r"(?<![\d.])2(?=[笔张个位次])", "两", text)   # 两笔交易, not 二笔
    text = _DECIMAL.sub(lambda m: number_to_zh(int(m.group(1))) + "点" + digits_to_zh(m.group(2)), text)
    text = _NUMBER.sub(lambda m: number_to_zh(int(m.group(0).replace(",", ""))), text)
    return re.sub(r"(?<=[^\x00-\x7f])\s+|\s+(?=[^\x00-\x7f])", "", text).strip()   # spaces stay between Latin words
