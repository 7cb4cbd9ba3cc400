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
