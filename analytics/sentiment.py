"""Turn and call sentiment on Amazon Contact Lens' scale, -5 (very negative) to +5 (very positive).

English turns are scored by VADER (compound x 5), Chinese ones by SnowNLP ((p - 0.5) x 10). A call is then
summarized per speaker: overall, per quarter of the call, and the change from the first quarter spoken in
to the last."""
from __future__ import annotations

import re
from functools import cache

from .timeline import CallTimeline, Segment

# Phone-banking adjustments to VADER's general lexicon: "like" is nearly always the verb here ("I'd like to
# check my balance"), and "nobody" heads complaints ("nobody helps", "nobody called back").
DOMAIN_LEXICON = {"like": 0.0, "nobody": -1.0}
# "No thanks" / "no, that's all" answer "anything else?": VADER would read the "no" as negating the thanks.
POLITE_NO = re.compile(r"^\s*(no|nope|nah)\b[,.!]?\s*(?=(thanks|thank you|that'?s all|that is all|i'?m good))", re.I)
REDACTION = re.compile(r"\[[A-Z_]+\]")        # "[PIN]" and other markers the call log writes instead of text


@cache
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    analyzer.lexicon.update(DOMAIN_LEXICON)
    return analyzer


def _is_chinese(language: str) -> bool:
    return language.lower().replace("_", "-").split("-")[0] in ("zh", "cmn")


def score_text(text: str, language: str = "en") -> float:
    """Sentiment of one turn, -5..+5: VADER compound x 5 for English; SnowNLP for Chinese (language
    "zh"/"cmn": (p - 0.5) x 10). Empty or redaction-only text -> 0.0. Rounded to 2 places."""
    text = REDACTION.sub(" ", text).strip()
    if not any(ch.isalnum() for ch in text):
        return 0.0
    if _is_chinese(language):
        from snownlp import SnowNLP

        return round((SnowNLP(text).sentiments - 0.5) * 10, 2)
    return round(_vader().polarity_scores(POLITE_NO.sub("", text))["compound"] * 5, 2)


def score_segments(timeline: CallTimeline) -> None:
    """Fill Segment.sentiment for every segment with text (all speakers)."""
    for seg in timeline.segments:
        if seg.text.strip():
            seg.sentiment = score_text(seg.text, timeline.language)


def _words(seg: Segment) -> int:
    return len(seg.words) or len(seg.text.split()) or 1


def _weighted(turns: list[tuple[Segment, float]]) -> float | None:
    if not turns:
        return None
    total = sum(_words(seg) for seg, _ in turns)
    return round(sum(_words(seg) * score for seg, score in turns) / total, 2)


def summarize(timeline: CallTimeline) -> dict[str, dict]:
    """Per speaker present: {"overall", "quarters": [q1..q4] (None where the speaker said nothing in that
    quarter of the call), "change": last non-None quarter minus first}. Values are word-count-weighted means
    of the turn scores (scored here if not yet), rounded to 2 places; a turn belongs to the quarter holding
    its midpoint."""
    duration = timeline.duration_s or max((seg.end for seg in timeline.segments), default=0.0)
    out: dict[str, dict] = {}
    for speaker in timeline.speakers():
        turns = [(seg, seg.sentiment if seg.sentiment is not None else score_text(seg.text, timeline.language))
                 for seg in timeline.segments if seg.speaker == speaker and seg.text.strip()]
        if not turns:
            continue
        by_quarter: list[list[tuple[Segment, float]]] = [[], [], [], []]
        for seg, score in turns:
            mid = (seg.start + seg.end) / 2
            q = min(3, max(0, int(mid / duration * 4))) if duration > 0 else 0
            by_quarter[q].append((seg, score))
        quarters = [_weighted(t) for t in by_quarter]
        spoken = [q for q in quarters if q is not None]
        out[speaker] = {"overall": _weighted(turns), "quarters": quarters,
                        "change": round(spoken[-1] - spoken[0], 2)}
    return out
