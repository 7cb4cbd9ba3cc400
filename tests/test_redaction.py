"""PCI DSS redaction of transcripts and keypad input, on the shapes Whisper and callers really produce."""
from __future__ import annotations

import pytest

from analytics.redaction import Redaction, luhn_ok, redact_keys, redact_segments, redact_text
from analytics.timeline import Segment, Word


def words(text: str, start: float, step: float = 0.3, lead: str = "") -> list[Word]:
    """Timed words: word i spans start + i*step .. + 0.25 s."""
    return [Word(lead + w, round(start + i * step, 2), round(start + i * step + 0.25, 2))
            for i, w in enumerate(text.split())]


def seg(seq: int, speaker: str, text: str, start: float, timed: bool = True, lead: str = "") -> Segment:
    ws = words(text, start, lead=lead) if timed else []
    end = ws[-1].end if ws else start + 2.0
    return Segment(seq, speaker, text, start, end, ws)


def test_test_cards_pass_luhn():
    for pan in ("4111111111111111", "4012888888881881", "5500005555555559", "378282246310005", "6011111111111117"):
        assert luhn_ok(pan)
    assert not luhn_ok("4111111111111112")


@pytest.mark.parametrize("text, expected", [
    ("my card number is 4111111111111111", "my card number is [PAN]"),
    ("it's 4111 1111 1111 1111, thanks", "it's [PAN], thanks"),
    ("4012-8888-8888-1881.", "[PAN]."),
    ("5500 0055 5555 5559 and that's it", "[PAN] and that's it"),
    ("amex 3782 822463 10005", "amex [PAN]"),
    ("4111 1111, 1111 1111", "[PAN]"),
    ("four one one one one one one one one one one one one one one one", "[PAN]"),
    ("Four, one, one, one. One, one, one, one. One, one, one, one. One, one, one, one.", "[PAN]."),
    ("it's four oh one two eight eight eight eight eight eight eight eight one eight eight one ok",
     "it's [PAN] ok"),
    ("four o one two, eight eight eight eight, eight eight eight eight, one eight eight one", "[PAN]"),
    ("four oh one two double eight double eight double eight double eight one eight eight one", "[PAN]"),
    ("four triple one, triple one one, one one one one, one one one one", "[PAN]"),
    ("4111 one one one one 1111 one one one one", "[PAN]"),
    ("4111, um, 1111, uh, 1111 dash 1111 please", "[PAN] please"),
    ("forty one eleven eleven eleven eleven eleven eleven eleven", "[PAN]"),
    ("six oh one one, one one one one, one one one one, one one one seven", "[PAN]"),
])
def test_card_numbers_are_redacted(text, expected):
    assert redact_text(text) == (expected, ["PAN"])


def test_non_luhn_card_length_run_is_account_not_pan():
    assert redact_text("the number is 4111 1111 1111 1112") == ("the number is [ACCOUNT]", ["ACCOUNT"])


@pytest.mark.parametrize("text, expected, kinds", [
    ("the cvv is 123", "the cvv is [CVV]", ["CVV"]),
    ("CVC: 4 5 6", "CVC: [CVV]", ["CVV"]),
    ("security code, um, seven three seven.", "security code, um, [CVV].", ["CVV"]),
    ("the three digit code on the back of the card is 737", "the three digit code on the back of the card is [CVV]",
     ["CVV"]),
    ("my pin is 4321", "my pin is [PIN]", ["PIN"]),
    ("PIN number is four five six seven", "PIN number is [PIN]", ["PIN"]),
    ("the passcode is 908172", "the passcode is [PIN]", ["PIN"]),
    ("my social security number is 123 45 6789", "my social security number is [SSN]", ["SSN"]),
    ("SSN one two three four five six seven eight nine", "SSN [SSN]", ["SSN"]),
    ("it's 123-45-6789", "it's [SSN]", ["SSN"]),
    ("expiry date is 04/27", "expiry date is [EXPIRY]", ["EXPIRY"]),
    ("expiration 0427", "expiration [EXPIRY]", ["EXPIRY"]),
    ("it expires april twenty seven", "it expires [EXPIRY]", ["EXPIRY"]),
    ("exp date oh four twenty seven", "exp date [EXPIRY]", ["EXPIRY"]),
    ("valid thru 4/2027.", "valid thru [EXPIRY].", ["EXPIRY"]),
    ("my account number is 123456", "my account number is [ACCOUNT]", ["ACCOUNT"]),
    ("the reference is 98765432", "the reference is [ACCOUNT]", ["ACCOUNT"]),
    ("card 4111111111111111 expiry 04/27 cvv 123",
     "card [PAN] expiry [EXPIRY] cvv [CVV]", ["PAN", "EXPIRY", "CVV"]),
])
def test_cued_numbers_are_redacted(text, expected, kinds):
    assert redact_text(text) == (expected, kinds)


@pytest.mark.parametrize("text", [
    "your balance is $2,450.75 as of march 15, 2024",
    "I want to send 2,450.75 to my savings",
    "what are the last four digits 4321",
    "your card ending 4 3 2 1 has been blocked",
    "account ending in 4321",
    "press 1 for balances, 2 for transfers, or 0 for an agent",
    "the call was at 10:30 on 12/15/2024",
    "I paid 500 dollars on the 3rd",
    "twenty seven pounds and fifty pence",
    "it was april twenty seven",
    "oh I see, one moment",
    "my pin is not working",
    "the cvv is on the back, right?",
])
def test_short_numbers_stay(text):
    assert redact_text(text) == (text, [])


def test_card_split_across_two_timed_segments_of_the_caller():
    segs = [
        seg(0, "ivr", "please say your card number", 0.0),
        seg(1, "caller", "it's four one one one one one one one,", 3.0, lead=" "),
        seg(2, "caller", "um one one one one one one one one.", 7.0, lead=" "),
        seg(3, "ivr", "thank you", 11.0),
    ]
    out, reds = redact_segments(segs)
    assert reds == [Redaction("PAN", "caller", 3.3, 9.65)]        # "four" .. "one."
    assert out[1].text == "it's [PAN],"
    assert [(w.text, w.start, w.end) for w in out[1].words] == [(" it's", 3.0, 3.25), (" [PAN],", 3.3, 5.65)]
    assert out[2].text == "[PAN]."
    assert [(w.text, w.start, w.end) for w in out[2].words] == [(" [PAN].", 7.0, 9.65)]
    assert out[0] == segs[0] and out[3] == segs[3]
    assert segs[1].text == "it's four one one one one one one one,"        # inputs untouched


def test_typed_card_split_across_text_only_segments():
    segs = [seg(0, "caller", "my card is 4111 1111", 1.0, timed=False),
            seg(1, "caller", "1111 1111 and the cvv is 123", 4.0, timed=False)]
    out, reds = redact_segments(segs)
    assert [s.text for s in out] == ["my card is [PAN]", "[PAN] and the cvv is [CVV]"]
    assert reds == [Redaction("PAN", "caller", 1.0, 6.0), Redaction("CVV", "caller", 4.0, 6.0)]


def test_other_speaker_between_parts_keeps_them_apart():
    segs = [seg(0, "caller", "four one one one one one one one", 0.0),
            seg(1, "agent", "go on", 3.0),
            seg(2, "caller", "one one one one one one one one", 4.0)]
    out, reds = redact_segments(segs)
    assert [r.kind for r in reds] == ["ACCOUNT", "ACCOUNT"]
    assert [s.text for s in out] == ["[ACCOUNT]", "go on", "[ACCOUNT]"]


def test_cue_in_one_segment_number_in_the_next():
    segs = [seg(0, "caller", "the security code is", 0.0), seg(1, "caller", "seven three seven", 2.0)]
    out, reds = redact_segments(segs)
    assert [s.text for s in out] == ["the security code is", "[CVV]"]
    assert reds == [Redaction("CVV", "caller", 2.0, 2.85)]


def test_agent_reading_last_four_is_kept():
    segs = [seg(0, "agent", "I see a card ending 4 3 2 1 and a balance of $2,450.75", 0.0)]
    out, reds = redact_segments(segs)
    assert reds == [] and out[0].text == segs[0].text


@pytest.mark.parametrize("keys, expected", [
    ("4111111111111111#", ("[PAN]#", ["PAN"])),
    ("378282246310005", ("[PAN]", ["PAN"])),
    ("4111111111111112", ("[ACCOUNT]", ["ACCOUNT"])),
    ("12345678#", ("[ACCOUNT]#", ["ACCOUNT"])),
    ("1*4321#", ("1*4321#", [])),
    ("2", ("2", [])),
])
def test_redact_keys(keys, expected):
    assert redact_keys(keys) == expected
