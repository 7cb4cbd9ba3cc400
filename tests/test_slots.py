"""Slot parsers against tables of what callers actually say (and what Whisper writes down)."""
import pytest

from ivr.slots import parse_accounts, parse_amount, parse_digits, parse_transfer_accounts, parse_yes_no


@pytest.mark.parametrize("said,digits", [
    ("four five six seven", "4567"),
    ("oh eight one five", "0815"),
    ("zero eight one five", "0815"),
    ("double five", "55"),
    ("two double five eight", "2558"),
    ("triple seven one", "7771"),
    ("2468", "2468"),
    ("2, 4, 6, 8.", "2468"),
    ("2.4.6.8.", "2468"),
    ("24 68", "2468"),
    ("twenty four sixty eight", "2468"),
    ("my pin is one three five seven", "1357"),
    ("um it's five zero zero one five five five five", "50015555"),
    ("five oh oh one five five five five", "50015555"),
    ("nineteen eighty four", "1984"),
    ("twelve", "12"),
    ("four-five-six-seven", "4567"),
    ("one hundred", "100"),
])
def test_digits(said, digits):
    assert parse_digits(said) == digits


@pytest.mark.parametrize("said", ["oh I don't know", "hello", "", "my card please"])
def test_no_digits(said):
    assert parse_digits(said) is None


@pytest.mark.parametrize("said,amount", [
    ("two hundred dollars", "200.00"),
    ("fifty bucks", "50.00"),
    ("one thousand two hundred and fifty", "1250.00"),
    ("one thousand two hundred fifty dollars", "1250.00"),
    ("75 dollars and 20 cents", "75.20"),
    ("seventy five dollars and twenty cents", "75.20"),
    ("$1,250.50", "1250.50"),
    ("$200", "200.00"),
    ("a hundred dollars", "100.00"),
    ("transfer a thousand dollars to savings", "1000.00"),
    ("twelve hundred dollars", "1200.00"),
    ("thirty five cents", "0.35"),
    ("ninety nine dollars and ninety nine cents", "99.99"),
    ("um let's say 300", "300.00"),
    ("two hundred and fifty dollars and five cents", "250.05"),
    ("ten thousand", "10000.00"),
    ("one dollar", "1.00"),
])
def test_amounts(said, amount):
    assert parse_amount(said) == amount


@pytest.mark.parametrize("said", ["nothing", "all of it", "", "checking please"])
def test_no_amount(said):
    assert parse_amount(said) is None


@pytest.mark.parametrize("said,accounts", [
    ("my checking account", ["checking"]),
    ("savings", ["savings"]),
    ("chequing", ["checking"]),
    ("from savings to checking", ["savings", "checking"]),
    ("check my balance", []),
])
def test_accounts(said, accounts):
    assert parse_accounts(said) == accounts


@pytest.mark.parametrize("said,pair", [
    ("from savings to checking", ("savings", "checking")),
    ("move money to savings", ("checking", "savings")),
    ("into checking from savings", ("savings", "checking")),
    ("from checking", ("checking", "savings")),
    ("checking to savings", ("checking", "savings")),
    ("transfer money", (None, None)),
])
def test_transfer_direction(said, pair):
    assert parse_transfer_accounts(said) == pair


@pytest.mark.parametrize("said,answer", [
    ("yes", "yes"), ("yeah", "yes"), ("yep", "yes"), ("sure", "yes"), ("correct", "yes"), ("that's right", "yes"),
    ("uh huh", "yes"), ("go ahead", "yes"), ("yes please do it", "yes"), ("okay", "yes"), ("absolutely", "yes"),
    ("no", "no"), ("nope", "no"), ("nah", "no"), ("no that is all", "no"), ("no, that's all", "no"),
    ("that's not right", "no"), ("not correct", "no"), ("don't", "no"), ("cancel", "no"), ("wrong", "no"),
    ("um no", "no"), ("no thank you", "no"), ("that isn't correct", "no"),
    ("hello", None), ("check my balance", None), ("", None),
])
def test_yes_no(said, answer):
    assert parse_yes_no(said) == answer


@pytest.mark.parametrize("said,status,value", [
    ("one fifty", "ambiguous", None),
    ("twelve fifty", "ambiguous", None),
    ("one fifty dollars", "ambiguous", None),
    ("a hundred and five dollars fifty", "ok", "105.50"),
    ("2 dollars 50", "ok", "2.50"),
    ("50 dollars no wait 100 dollars", "ok", "100.00"),
    ("100 dollars, actually make it 80", "ok", "80.00"),
    ("no, make it 100 dollars", "ok", "100.00"),
    ("minus fifty dollars", "negative", "-50.00"),
    ("-20 dollars", "negative", "-20.00"),
    ("all of it", "everything", None),
    ("everything", "everything", None),
    ("the whole balance please", "everything", None),
    ("hello", None, None),
])
def test_amount_readings(said, status, value):
    from ivr.slots import read_amount

    a = read_amount(said)
    assert a.status == status and (str(a.value) if a.value is not None else None) == value


@pytest.mark.parametrize("said,answer", [
    ("absolutely not", "no"), ("definitely not", "no"), ("of course not", "no"), ("certainly not", "no"),
    ("I'm not sure", None), ("not sure", None), ("maybe", None), ("I don't know", None), ("I guess so", None),
    ("yeah no", None), ("yes no", None), ("ok no", None), ("don't do it", "no"), ("not at all", "no"),
    ("yes I'm sure", "yes"), ("of course", "yes"), ("definitely", "yes"), ("alright", "yes"),
])
def test_yes_no_only_when_clear(said, answer):
    assert parse_yes_no(said) == answer


CARDS = [("debit", "2222"), ("credit", "3333")]


@pytest.mark.parametrize("said,key", [
    ("the second one", "2"), ("the last one", "2"), ("the first one", "1"), ("not the debit, the credit one", "2"),
    ("no, the credit one", "2"), ("not the credit card", "1"), ("the one ending in three three three three", "2"),
    ("ending 2222", "1"), ("credit", "2"), ("the debit card", "1"), ("two", "2"), ("press 1", "1"),
    ("number two", "2"), ("the third one", None), ("the debit one ending 3333", None), ("the one ending in 3 3", None),
    ("the blue one", None), ("", None),
])
def test_card_choice(said, key):
    from ivr.slots import pick_card

    assert pick_card(said, CARDS) == key


@pytest.mark.parametrize("text, clear", [
    ("yes", True), ("yes please", True), ("Yes, that's right.", True), ("sure, go ahead", True),
    ("absolutely", True), ("okay thank you", True),
    ("And, absolutely, our...", False),       # "absolutely not" as tiny.en heard it over the phone
    ("yes but make it 30 dollars", False), ("definitely...", False), ("of course we", False),
    ("that is correct", True), ("um, yes please", True), ("I said yes", True),
    # "incorrect" and "not right" as tiny.en heard them from Piper and espeak-ng over G.711 (bench/spoken_nlu.py)
    ("and correct.", False), ("be correct.", False), ("in the correct.", False), ("and off-right.", False),
])
def test_only_a_clear_yes_may_act(text, clear):
    from ivr.slots import clear_yes

    assert clear_yes(text) is clear


@pytest.mark.parametrize("text, value", [("two dollars fifty cents ten cents", "2.50"),
                                         ("fifty cents twenty cents", "0.50")])
def test_the_cents_end_an_amount(text, value):
    """Only one cents part follows the dollars: a second is not added to it."""
    from decimal import Decimal

    from ivr.slots import read_amount

    assert read_amount(text).value == Decimal(value)
