"""Proactive service through the real dialog engine (as `ivr chat` runs it) on the seeded demo bank: the likely
reason for the call offered once the caller is identified, yes going straight to its help, no (or another
request) to the menu; signals from the accounts and the call store; the opt-out; learning from outcomes."""
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from ivr.bank import Signal, SqlBank
from ivr.chat import run_chat
from ivr.proactive import learned_weights, rank
from ivr.proactive_rules import load_rules
from models import Account, Call, CallEvent, Card, CardDecline, Customer, EventKind, Transaction, TransferOrder, utcnow
from models.dates import month_after

from .conftest import demo_app, run_ivr

ALEX, PRIYA, WEI, MARIA, TOM, SARA, OMAR, EMMA, DAN, LUCY = (
    "+15550100", "+15550101", "+15550102", "+15550104", "+15550105", "+15550106", "+15550107", "+15550108",
    "+15550109", "+15550110")
PINS = {ALEX: "2468", PRIYA: "1357", WEI: "8080", MARIA: "4826", TOM: "5937", SARA: "6048", OMAR: "7159",
        EMMA: "8260", DAN: "9371", LUCY: "1482"}
WEI_OFFER = ("I can see a card payment of eighty-four dollars and twenty cents at Fresh Market was declined "
             "yesterday. Is that what you're calling about?")
MENU = ("How can I help you today? You can say check my balance, recent transactions, I lost my card, "
        "transfer money, or branch hours.")


@pytest.fixture
def app(tmp_path):
    return demo_app(tmp_path, calls=True)


def chat(app, ani, *lines, language=None):
    """A call: the PIN keyed, then `lines`; what the IVR said and the outcome."""
    out, err = io.StringIO(), io.StringIO()
    script = "".join(f"{line}\n" for line in (f"dtmf:{PINS[ani]}#", *lines))
    outcome = run_chat(app, ani, io.StringIO(script), out, err, language)
    return [line.removeprefix("IVR: ") for line in out.getvalue().splitlines() if line.startswith("IVR: ")], outcome


def events(app, *kinds):
    with app.sessions() as s:
        return [(e.kind.value, e.detail) for e in s.scalars(
            select(CallEvent).where(CallEvent.kind.in_(kinds)).order_by(CallEvent.id))]


def balances(app, ani):
    with app.sessions() as s:
        return dict(s.execute(select(Account.kind, Account.balance).join(Customer).where(Customer.ani == ani)).all())


def last_transfer_reason(app):
    with app.sessions() as s:
        return s.scalars(select(Call.transfer_reason).order_by(Call.id)).all()[-1]


def after_pin(said):
    """What was said after the PIN question."""
    return said[said.index("To keep your account safe, please say or key in your telephone banking PIN.") + 1:]


# -- Wei Chen: the declined card payment ------------------------------------------------------------------------
def test_wei_is_offered_the_declined_payment_and_yes_lifts_the_hold(app):
    said, outcome = chat(app, WEI, "yes", "yes please", "no thanks")
    assert after_pin(said)[:5] == [
        WEI_OFFER,
        "It was declined because our fraud checks put a temporary hold on your credit card ending 7 0 7 0.",
        "If you made this payment yourself, I can lift the hold now so the card works again. Shall I lift it?",
        "Done. The hold is lifted, and you can use the card again. You can try the payment again now.",
        "Is there anything else I can help you with?"]
    assert outcome == "completed"
    with app.sessions() as s:
        assert s.scalar(select(Card.status).where(Card.last4 == "7070")) == "active"
    made, accepted = events(app, EventKind.offer_made, EventKind.offer_accepted)
    assert made[1]["reason"] == "declined_payment" and made[1]["likelihood"] >= 0.5
    assert accepted[1] == {"reason": "declined_payment"}


def test_a_no_at_the_offer_goes_to_the_menu_with_no_penalty_and_no_card_change(app):
    said, outcome = chat(app, WEI, "no", "what's my balance", "no")
    rest = after_pin(said)
    assert rest[:2] == [WEI_OFFER, MENU]
    assert not any("Sorry" in s for s in rest)
    assert "The balance of your checking account ending 6 0 6 0 is one thousand two hundred seventy-five dollars " \
           "and forty cents." in rest
    with app.sessions() as s:
        assert s.scalar(select(Card.status).where(Card.last4 == "7070")) == "held"
    assert [d["reason"] for _, d in events(app, EventKind.offer_declined)] == ["declined_payment"]


def test_another_request_at_the_offer_counts_as_no_and_is_served_at_once(app):
    said, _ = chat(app, WEI, "no, I want my recent transactions", "no")
    rest = after_pin(said)
    assert rest[0] == WEI_OFFER
    assert rest[1].startswith("Here are the last 5 transactions on your checking account ending 6 0 6 0")
    assert MENU not in rest
    assert events(app, EventKind.offer_accepted) == []
    assert len(events(app, EventKind.offer_declined)) == 1


@pytest.mark.parametrize("unsure", ["I'm not sure", "maybe"])
def test_an_unsure_answer_to_the_offer_is_asked_again_and_nothing_changes(app, unsure):
    said, _ = chat(app, WEI, unsure, "no", "goodbye")
    rest = after_pin(said)
    assert rest[:3] == [WEI_OFFER, "Sorry, is that what you're calling about? Please say yes or no.", MENU]
    with app.sessions() as s:
        assert s.scalar(select(Card.status).where(Card.last4 == "7070")) == "held"


def test_a_no_to_lifting_the_hold_keeps_it(app):
    said, _ = chat(app, WEI, "yes", "no", "no")
    assert "Okay, the hold stays on the card for your protection." in said
    with app.sessions() as s:
        assert s.scalar(select(Card.status).where(Card.last4 == "7070")) == "held"


def test_key_3_turns_offers_off_for_this_and_later_calls(app):
    said, _ = chat(app, WEI, "dtmf:3", "goodbye")
    assert after_pin(said)[:3] == [WEI_OFFER, "Okay, I won't make suggestions like that on your future calls.", MENU]
    with app.sessions() as s:
        assert s.scalar(select(Customer.proactive_offers).where(Customer.ani == WEI)) is False
    said, _ = chat(app, WEI, "goodbye")
    assert after_pin(said)[0] == MENU
    assert [k for k, _ in events(app, EventKind.offers_turned_off)] == ["offers_turned_off"]


# -- privacy ------------------------------------------------------------------------------------------------------
def test_nothing_is_offered_before_the_pin_is_accepted(app):
    out = io.StringIO()
    outcome = run_chat(app, WEI, io.StringIO("dtmf:1111#\ndtmf:2222#\ndtmf:3333#\n"), out, io.StringIO())
    text = out.getvalue()
    assert outcome == "transferred" and "Fresh Market" not in text and "declined" not in text
    assert events(app, EventKind.offer_made) == []


def test_a_caller_identified_by_account_number_hears_the_offer_only_after_the_pin(app):
    out = io.StringIO()
    run_chat(app, "+15559999", io.StringIO("dtmf:50036060\ndtmf:8080#\nno\ngoodbye\n"), out, io.StringIO())
    said = [line.removeprefix("IVR: ") for line in out.getvalue().splitlines() if line.startswith("IVR: ")]
    pin = next(i for i, s in enumerate(said) if "telephone banking PIN" in s)
    assert said[pin + 1] == WEI_OFFER
    assert not any("Fresh Market" in s for s in said[:pin + 1])


def test_offers_never_say_a_full_card_or_account_number(app):
    numbers = []
    with app.sessions() as s:
        numbers = [a.number for a in s.scalars(select(Account))]
    for ani in (WEI, MARIA, TOM, SARA, OMAR, EMMA, DAN, LUCY):
        said, _ = chat(app, ani, "no", "goodbye")
        offer = after_pin(said)[0]
        assert "calling about" in offer or "speak to a person" in offer, (ani, offer)
        spoken_digits = "".join(c for c in offer if c.isdigit())
        assert len(spoken_digits) <= 4 and not any(n in offer or n[-8:] in spoken_digits for n in numbers)


# -- no signal: the calls stay as they were ----------------------------------------------------------------------
@pytest.mark.parametrize("ani", [ALEX, PRIYA])
def test_customers_with_no_signal_go_straight_to_the_menu(app, ani):
    said, outcome = chat(app, ani, "what's my balance", "no")
    assert after_pin(said)[0] == MENU and outcome == "completed"
    assert events(app, EventKind.offer_made) == []


def test_an_offer_below_the_threshold_is_not_made(app):
    with app.sessions.begin() as s:   # two days and an hour ago: outside the 48 h window
        s.execute(CardDecline.__table__.update().values(at=utcnow() - timedelta(hours=49)))
    said, _ = chat(app, WEI, "goodbye")
    assert after_pin(said)[0] == MENU


# -- each signal -------------------------------------------------------------------------------------------------
def test_maria_is_told_about_her_blocked_card(app):
    said, _ = chat(app, MARIA, "yes", "no")
    rest = after_pin(said)
    assert rest[0] == ("I can see your debit card ending 5 1 5 1 was blocked yesterday. Is that what you're calling "
                       "about?")
    assert rest[1].startswith("Your reference number is 4 8 2 9 1 3, and a new card is on its way")


def test_tom_accepting_the_large_payment_offer_goes_to_the_fraud_team(app):
    said, outcome = chat(app, TOM, "yes")
    assert after_pin(said)[0].startswith("I can see a payment of one thousand nine hundred fifty dollars to "
                                         "Electro World from your checking account yesterday")
    assert outcome == "transferred" and last_transfer_reason(app) == "disputed_payment"


def test_sara_hears_why_her_transfer_failed(app):
    said, _ = chat(app, SARA, "yes", "no")
    rest = after_pin(said)
    assert rest[0].startswith("I can see your transfer of five hundred dollars to Jin Kim at Harbor Bank, made on ")
    assert rest[0].endswith("didn't go through. Is that what you're calling about?")
    assert rest[1].startswith("It was returned because the other bank couldn't match the payee's account details.")


def test_a_pending_transfer_is_offered_with_its_expected_date(app):
    with app.sessions.begin() as s:
        s.execute(TransferOrder.__table__.update().values(status="pending", reason=None,
                                                          expected_on=utcnow().date() + timedelta(days=2)))
    said, _ = chat(app, SARA, "yes", "no")
    rest = after_pin(said)
    assert "is still pending" in rest[0]
    assert rest[1].startswith("It's being processed by the other bank and should arrive by ")


def test_omar_covers_his_overdraft_from_savings_after_the_read_back(app):
    said, _ = chat(app, OMAR, "yes", "yes", "no")
    rest = after_pin(said)
    assert rest[:3] == [
        "I can see your checking account ending 7 8 7 8 is overdrawn by one hundred forty-two dollars and thirty "
        "cents. Is that what you're calling about?",
        "I can move one hundred forty-two dollars and thirty cents from your savings to cover it.",
        "You want to transfer one hundred forty-two dollars and thirty cents from your savings account to your "
        "checking account. Is that right?"]
    assert balances(app, OMAR) == {"checking": Decimal("0.00"), "savings": Decimal("757.70")}


@pytest.mark.parametrize("refusal", ["no", "no, don't do that", "actually not now"])
def test_no_money_moves_when_omar_refuses_the_read_back(app, refusal):
    said, _ = chat(app, OMAR, "yes", refusal, "no")
    assert balances(app, OMAR) == {"checking": Decimal("-142.30"), "savings": Decimal("900.00")}


def test_emma_is_told_her_salary_is_late(app):
    said, _ = chat(app, EMMA, "yes", "no")
    rest = after_pin(said)
    assert rest[0] == ("I can see your usual payment from Acme Corp salary hasn't arrived this month. Is that what "
                       "you're calling about?")
    assert rest[1].startswith("It usually arrives by ")


def test_dan_with_an_open_complaint_is_offered_a_person_first(app):
    said, outcome = chat(app, DAN, "yes")
    assert after_pin(said)[0].startswith("I can see you have an open complaint with us about a monthly fee charged "
                                         "twice, from your call on ")
    assert after_pin(said)[0].endswith("Would you like to speak to a person about it now?")
    assert outcome == "transferred" and last_transfer_reason(app) == "open_complaint"


def test_lucy_is_taken_back_to_the_transfer_her_last_call_did_not_finish_with_what_she_said_then(app):
    said, _ = chat(app, LUCY, "yes", "fifty dollars", "no", "no")
    rest = after_pin(said)
    assert rest[:2] == ["You called us yesterday about a transfer, and it wasn't finished. Is that what you're "
                        "calling about?",   # she asked to move money to savings: from checking, the amount asked
                        "How much would you like to transfer from your checking account to your savings account?"]
    assert "Okay, I've cancelled that transfer. No money was moved." in rest


def test_a_failed_call_becomes_a_signal_for_the_next_one_but_a_caller_asked_transfer_does_not(app):
    chat(app, PRIYA, "agent")                       # transferred at the caller's request: a person took it
    said, _ = chat(app, PRIYA, "goodbye")
    assert after_pin(said)[0] == MENU
    with app.sessions.begin() as s:                 # a call that asked for the balance and then failed
        call = s.scalars(select(Call).order_by(Call.id)).all()[-1]
        call.outcome, call.transfer_reason = "failed", None
        s.execute(CallEvent.__table__.delete().where(CallEvent.call_id == call.id,
                                                     CallEvent.kind == EventKind.task_done))
        from models import Turn
        s.add(Turn(call_id=call.id, seq=99, speaker="caller", text="what's my balance", intent="check_balance"))
    said, _ = chat(app, PRIYA, "yes", "no")
    rest = after_pin(said)
    assert rest[0] == "You called us today about your balance, and it wasn't finished. Is that what you're calling " \
                      "about?"
    assert rest[1].startswith("The balance of your checking account ending 5 5 5 5")


# -- Mandarin ---------------------------------------------------------------------------------------------------
def test_the_offer_in_mandarin(app):
    said, _ = chat(app, WEI, "是的", "好的", "没有了", language="zh")
    assert "我看到您昨天在Fresh Market的一笔八十四元二角的刷卡消费被拒绝了。请问您是为这件事来电的吗？" in said
    assert "已经解除冻结，您的卡可以正常使用了。您现在可以重新付款。" in said


# -- ranking and learning ----------------------------------------------------------------------------------------
def test_likelihood_decays_with_age_and_is_shared_between_signals():
    rules, now = load_rules(), datetime(2026, 11, 30, 12)
    fresh = Signal("declined_payment", now, {})
    old = Signal("declined_payment", now - timedelta(hours=47), {})
    assert rank([fresh], rules, now)[0].likelihood == 0.8          # 4 / (1 + 4)
    assert rank([old], rules, now)[0].likelihood < rank([fresh], rules, now)[0].likelihood
    two = rank([fresh, Signal("overdraft", now, {})], rules, now)
    assert [r.signal.kind for r in two] == ["declined_payment", "overdraft"]
    assert two[0].likelihood == round(4 / 7.5, 3) and two[1].likelihood == round(2.5 / 7.5, 3)
    assert rank([Signal("declined_payment", now - timedelta(hours=49), {})], rules, now) == []


def test_weights_are_learned_from_offer_outcomes_once_there_are_enough(app):
    rules, now = load_rules(), utcnow()
    assert learned_weights(app.sessions, rules, now)["declined_payment"] == 4.0
    with app.sessions.begin() as s:
        call = Call(ani=ALEX, started_at=now)
        s.add(call)
        s.flush()
        for i in range(40):    # offered 40 times, accepted twice
            s.add(CallEvent(call_id=call.id, seq=2 * i, kind=EventKind.offer_made, detail={"reason": "declined_payment"},
                            at=now))
            if i < 2:
                s.add(CallEvent(call_id=call.id, seq=2 * i + 1, kind=EventKind.offer_accepted,
                                detail={"reason": "declined_payment"}, at=now))
    learned = learned_weights(app.sessions, rules, now)["declined_payment"]
    assert learned == pytest.approx(((2 + 10 * 0.8) / 50) / (1 - (2 + 10 * 0.8) / 50), abs=0.001)
    assert learned / (1 + learned) < rules.offer_at           # callers keep saying no: no longer offered
    app.predictor._weights = None
    said, _ = chat(app, WEI, "goodbye")
    assert after_pin(said)[0] == MENU


def test_salary_detection_is_per_payer_and_month_arithmetic_clamps():
    assert month_after(datetime(2026, 1, 31).date()) == datetime(2026, 2, 28).date()
    assert month_after(datetime(2026, 3, 15).date(), -3) == datetime(2025, 12, 15).date()


def test_alex_with_a_monthly_salary_that_arrived_has_no_signal(app):
    with app.sessions.begin() as s:   # two earlier months of the same payroll as the one four days ago
        acct = s.scalar(select(Account).where(Account.number == "50004321"))
        last = s.scalar(select(Transaction.posted_on).where(Transaction.account_id == acct.id,
                                                           Transaction.description == "Payroll deposit"))
        for k in (1, 2):
            s.add(Transaction(account=acct, posted_on=month_after(last, -k), description="Payroll deposit",
                              amount=Decimal("1850.00")))
    bank = SqlBank(app.sessions)
    with app.sessions() as s:
        alex = s.scalar(select(Customer.id).where(Customer.ani == ALEX))
    assert bank.signals(alex, utcnow()) == []


def test_chat_from_the_shell_offers_wei_the_declined_payment(tmp_path):
    env = {"IVR_DATA_DIR": str(tmp_path)}
    assert run_ivr("db", "init", "--demo", "--demo-calls", env=env).returncode == 0
    bad = run_ivr("db", "init", "--demo-calls", env=env)
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "--demo" in bad.stderr
    r = run_ivr("chat", "--ani", LUCY, stdin="1482#\nyes\nten dollars\nno\nno\n", env=env)
    assert "You called us yesterday about a transfer" in r.stdout     # the seeded earlier call
    r = run_ivr("chat", "--ani", WEI, stdin="8080#\nyes\nno\nno\n", env=env)
    assert r.returncode == 0 and WEI_OFFER in r.stdout and "the hold is lifted" not in r.stdout.lower()


def test_a_request_that_failed_in_a_real_call_is_offered_next_time_and_resumed_with_its_details(app):
    said, outcome = chat(app, ALEX, "move money to my savings", "purple", "purple", "purple")
    assert outcome == "transferred"           # three failures at the amount: handed to an agent, not at his asking
    said, _ = chat(app, ALEX, "yes", "twenty dollars", "yes", "no")
    rest = after_pin(said)
    assert rest[:2] == ["You called us today about a transfer, and it wasn't finished. Is that what you're calling "
                        "about?", "How much would you like to transfer from your checking account to your savings "
                        "account?"]
    assert any(s.startswith("Done. I have moved twenty dollars from your checking account") for s in rest)


def test_offer_outcomes_and_the_turns_they_save_are_reported(app):
    from analytics.offers import offer_report

    chat(app, WEI, "yes", "yes", "no")                       # accepted
    chat(app, MARIA, "yes", "no")                            # accepted
    chat(app, OMAR, "no", "goodbye")                         # declined
    chat(app, ALEX, "I'd like to hear", "recent transactions", "no")   # no offer: help on the second turn
    chat(app, PRIYA, "what's my balance", "no")              # no offer: help on the first
    with app.sessions() as s:
        r = offer_report(s, utcnow() - timedelta(hours=1), utcnow() + timedelta(minutes=1))
    assert (r["offered"], r["accepted"], r["declined"], r["turned_off"]) == (3, 2, 1, 0)
    assert r["acceptance"] == round(2 / 3, 4)
    assert {x["reason"]: (x["offered"], x["accepted"]) for x in r["by_reason"]} == {
        "declined_payment": (1, 1), "card_blocked": (1, 1), "overdraft": (1, 0)}
    h = r["to_help"]
    assert h["offer"]["calls"] == 2 and h["offer"]["turns"] == 1.0
    assert h["menu"]["calls"] == 2 and h["menu"]["turns"] == 1.5
    assert h["saved"]["turns"] == 0.5
    out = run_ivr("offers", "--json", env={"IVR_DATABASE_URL": app.settings.db_url})
    assert out.returncode == 0 and '"offered": 3' in out.stdout
    bad = run_ivr("offers", "--since", "yesterday", env={"IVR_DATABASE_URL": app.settings.db_url})
    assert bad.returncode != 0 and bad.stderr.count("\n") == 1 and "--since" in bad.stderr
