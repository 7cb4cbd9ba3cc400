"""Every confirming state of the shipped flow (found from the flow YAML, so a new one is covered without a
change here) against a table of answers: a clear yes acts, a clear no does not, an unclear answer is asked
again and never acts, a new request is served instead, a correction is read back again.
Real NLU, real SQLite, the real session."""
from collections import deque
from decimal import Decimal

import pytest
from sqlalchemy import select

from ivr.flow import load_flow
from ivr.session import CallerKeyed, CallerSaid, Listen, Say
from models import Account, Card

from .conftest import demo_app

CALLERS = {"+15550100": "2468", "+15550101": "1357",    # Alex: two accounts, one card; Priya: one account, two cards
           "+15550102": "8080", "+15550109": "9371"}    # Wei: offered his declined payment; Dan: offered a person
CANNED = {"account": ["checking"], "amount": ["ten dollars"], "card": ["dtmf:1"], "confirm": ["yes", "no"]}
CORRECTIONS = {"amount": "no, make it thirty dollars", "card": "no, the credit one"}

YES = ["yes", "yes please", "that's right", "yeah go ahead", "dtmf:1", "correct"]
NO = ["no", "absolutely not", "definitely not", "of course not", "no thank you", "that's not right", "dtmf:2"]
UNCLEAR = ["I'm not sure", "maybe", "hmm", "yes no", "purple elephants", "I don't know", "wait", "I guess so"]
REQUESTS = ["I want to hear my recent transactions", "no, what are my recent transactions",
            "yes, read me my recent transactions"]

FLOW = load_flow()
# every confirmation a caller can reach with the bank up (the outage's offer of an agent: tests/test_outage.py)
CONFIRMING = sorted(name for name, st in FLOW.states.items() if st.confirming and name != FLOW.unavailable_state)


def event(line: str):
    return CallerKeyed(line[5:]) if line.startswith("dtmf:") else CallerSaid(line)


def replay(app, ani: str, inputs: list[str]):
    session = app.new_session(ani)
    session.start()
    for line in inputs:
        session.handle(event(line))
    return session


def answers_for(st, pin: str) -> list[str]:
    if st.expect == "digits":
        return [f"dtmf:{pin}"]
    if st.expect == "intent":
        return [f"dtmf:{key}" for key in st.dtmf] or []
    return CANNED.get(st.expect, [])


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    """For each confirming state, the shortest input sequences (per caller) that reach it, by breadth-first
    search over the flow: {state: [(ani, inputs, states asked on the way)]}."""
    app = demo_app(tmp_path_factory.mktemp("paths"), calls=True)
    found: dict[str, list] = {}
    for ani, pin in CALLERS.items():
        seen, queue = set(), deque([([], ())])
        while queue:
            inputs, asked = queue.popleft()
            session = replay(app, ani, inputs)
            if session.done or session.ctx.state in seen or len(inputs) > 8:
                continue
            seen.add(session.ctx.state)
            asked = asked + (session.ctx.state,)
            if session.state.confirming:
                found.setdefault(session.ctx.state, []).append((ani, inputs, asked))
            queue.extend((inputs + [a], asked) for a in answers_for(session.state, pin))
    return found


def path_to(paths, state: str, via: str | None = None) -> tuple[str, list[str]]:
    ani, inputs, _ = next((p for p in paths[state] if via in p[2]), paths[state][0])
    return ani, inputs


def test_every_confirming_state_is_reachable(paths):
    assert set(CONFIRMING) >= {"anything_else", "lost_card_confirm", "transfer_confirm"}
    assert set(paths) == set(CONFIRMING)


def bank_state(app):
    with app.sessions() as s:
        return (sorted((a.number, a.balance) for a in s.scalars(select(Account))),
                sorted((c.last4, c.status) for c in s.scalars(select(Card))))


CASES = ([(s, "yes", a) for s in CONFIRMING for a in YES] + [(s, "no", a) for s in CONFIRMING for a in NO]
         + [(s, "unclear", a) for s in CONFIRMING for a in UNCLEAR]
         + [(s, "request", a) for s in CONFIRMING for a in REQUESTS] + [(s, "correction", None) for s in CONFIRMING])


@pytest.mark.parametrize("state,kind,said", CASES)
def test_confirmation_answers(tmp_path, paths, state, kind, said):
    app = demo_app(tmp_path, calls=True)
    correct = FLOW.states[state].correct
    ani, inputs = path_to(paths, state, correct[0] if kind == "correction" and correct else None)
    session = replay(app, ani, inputs)
    st = session.state
    assert st.name == state
    before = bank_state(app)
    if kind == "correction":
        said = CORRECTIONS.get(FLOW.states[st.correct[0]].expect) if st.correct else "no, make it thirty dollars"
    out = session.handle(event(said))
    acted = st.on["yes"] in session.visited
    if kind == "yes":
        assert acted, session.visited
        return
    assert not acted, (said, session.visited)
    if state != "anything_else":
        assert bank_state(app) == before          # no money moved, no card blocked
    if kind == "no":
        assert st.on["no"] in session.visited
    elif kind == "unclear":
        assert session.ctx.state == state and session.visited == []
        assert isinstance(out[-1], Listen) and out[-1].state == state and any(isinstance(a, Say) for a in out)
    elif kind == "request":
        assert FLOW.tasks["recent_transactions"] in session.visited
        assert any("transactions on your" in a.text for a in out if isinstance(a, Say))
    elif st.correct:
        assert st.correct[0] in session.visited and session.ctx.state == state   # read back again
        question = [a for a in out if isinstance(a, Say) and a.question]
        assert question and question[-1].state == state
        assert ("thirty dollars" in question[-1].text) or ("credit card" in question[-1].text)


def test_a_correction_then_yes_moves_the_corrected_amount(tmp_path):
    app = demo_app(tmp_path, calls=True)
    session = replay(app, "+15550100", ["dtmf:2468", "transfer 40 dollars to savings", "no, make it 100 dollars",
                                        "yes but make it 30 dollars"])
    assert session.ctx.state == "transfer_confirm"
    session.handle(CallerSaid("yes"))
    with app.sessions() as s:
        assert s.scalar(select(Account.balance).where(Account.number == "50008765")) == Decimal("10230.00")
