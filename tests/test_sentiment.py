"""Turn sentiment on the -5..+5 scale (English by VADER, Chinese by SnowNLP) and the per-speaker summary."""
from __future__ import annotations

import pytest

from analytics.sentiment import score_segments, score_text, summarize
from analytics.timeline import CallTimeline, Segment


def test_english_turns():
    assert score_text("thank you so much, that was really helpful") > 2
    assert score_text("this is terrible, I was charged twice and nobody helps") < -2
    assert abs(score_text("I would like to check my balance")) < 0.5
    assert abs(score_text("my account number is four five six")) < 0.5


def test_chinese_turns():
    assert score_text("服务很好，谢谢", "zh") > 2
    assert score_text("太差了，我要投诉", "cmn") < -2


@pytest.mark.parametrize("text", ["", "   ", "[PIN]", "[PIN] [PIN]"])
def test_empty_or_redacted_is_neutral(text):
    assert score_text(text) == 0.0
    assert score_text(text, "zh") == 0.0


def test_scores_are_bounded_and_rounded():
    s = score_text("awful awful awful, the worst bank ever, I hate this")
    assert -5 <= s < -4 and s == round(s, 2)


def test_score_segments_fills_every_turn_with_text():
    t = CallTimeline(1, "sip", "completed", 10.0, segments=[
        Segment(0, "ivr", "Welcome to the bank.", 0, 2),
        Segment(1, "caller", "thank you so much", 3, 4),
        Segment(2, "caller", "", 5, 6)])
    score_segments(t)
    assert t.segments[0].sentiment is not None and t.segments[1].sentiment > 0
    assert t.segments[2].sentiment is None


def test_summarize_quarters_weights_and_change():
    # 40 s call: quarters [0,10) [10,20) [20,30) [30,40]; a turn goes to the quarter of its midpoint.
    seg = lambda seq, who, text, start, end, s: Segment(seq, who, text, start, end, sentiment=s)
    t = CallTimeline(1, "sip", "completed", 40.0, segments=[
        seg(0, "caller", "one two three", 1, 3, -3.0),           # q1
        seg(1, "caller", "one", 8, 11, 1.0),                     # midpoint 9.5 -> q1
        seg(2, "ivr", "a b", 12, 14, 0.5),                       # q2 (ivr)
        seg(3, "caller", "a b c d", 28, 34, 2.0),                # midpoint 31 -> q4
        seg(4, "caller", "x y", 35, 39, 4.0)])                   # q4
    s = summarize(t)
    assert set(s) == {"caller", "ivr"}
    c = s["caller"]
    assert c["quarters"] == [-2.0, None, None, 2.67]            # (3*-3 + 1*1)/4 ; (4*2 + 2*4)/6
    assert c["overall"] == 0.8                                  # (-9 + 1 + 8 + 8) / 10 words
    assert c["change"] == 4.67
    assert s["ivr"] == {"overall": 0.5, "quarters": [None, 0.5, None, None], "change": 0.0}


def test_summarize_scores_unscored_turns():
    t = CallTimeline(1, "chat", "completed", 20.0, segments=[
        Segment(0, "caller", "this is terrible, nobody helps", 1, 3),
        Segment(1, "caller", "thank you so much, that was really helpful", 16, 18)])
    c = summarize(t)["caller"]
    assert c["quarters"][0] < 0 < c["quarters"][3]
    assert c["quarters"][1:3] == [None, None] and c["change"] > 4


def test_a_polite_no_to_anything_else_is_not_negative():
    assert score_text("no thanks") > 1 and score_text("No, that's all, thank you") > 1
    assert score_text("no that is all") == 0.0
    assert score_text("No, I did not authorize this, it is fraud") < -2
