"""Sounds-alike matching on the real libespeak-ng: misheard commands land on what they sound like."""
import threading

import pytest

from ivr.sounds_like import Phonemizer, SoundsLike, distance

MENU = {"branch hours": "branch_hours", "opening hours": "branch_hours", "agent": "speak_to_agent",
        "human": "speak_to_agent", "lost card": "report_lost_card", "my card was stolen": "report_lost_card",
        "balance": "check_balance", "repeat": "repeat", "goodbye": "goodbye"}


@pytest.fixture(scope="module")
def menu():
    return SoundsLike(MENU, Phonemizer("en-us"))


def test_phonemes_of_words_that_sound_alike_are_close():
    ph = Phonemizer("en-us")
    assert ph("Brand Coward") != ph("branch hours")
    assert distance(ph("Brand Coward"), ph("branch hours")) < 0.4 < distance(ph("Brand Coward"), ph("goodbye"))
    assert distance("abc", "abc") == 0 and distance("", "abc") == 1


@pytest.mark.parametrize("heard,value", [
    ("Brand Coward", "branch_hours"),          # Whisper tiny's reading of "branch hours" in espeak-ng's voice
    ("Agent Clean.", "speak_to_agent"),         # "agent please"
    ("My first one stolen.", "report_lost_card"),
    ("The locked card.", "report_lost_card"),
])
def test_misheard_commands_sound_like_what_the_caller_said(menu, heard, value):
    m = menu.match(heard)
    assert m.value == value and m.distance < 0.5 and m.margin > 0, m


def test_no_words_no_match_and_unrelated_words_are_far(menu):
    assert menu.match("") is None and menu.match("   ") is None
    far = menu.match("the quarterly earnings report of the company")
    assert far.distance > 0.6, far


def test_one_phonemizer_serves_many_calls_at_once(menu):
    results, errors = [], []

    def worker():
        try:
            for _ in range(50):
                results.append(menu.match("Brand Coward").value)
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == ["branch_hours"] * 200
