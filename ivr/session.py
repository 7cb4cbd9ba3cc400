"""Per-call dialog session: caller events in, actions out. Transport-independent: the same session runs
behind `ivr chat` (text) and behind a SIP call (telephony/)."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from .bank import BankBackend, CustomerInfo
from .flow import REPEAT, Flow, State
from .slots import parse_accounts, parse_amount, parse_digits, parse_yes_no

log = logging.getLogger(__name__)
PIN_MASK = "[PIN]"
DEFAULT_TIMEOUT_S = 6.0
EARLY_END_CONFIDENCE = 0.65  # intent confidence that lets a turn end before the full hangover
TRAILING_WORDS = frozenset(  # a turn that stops on one of these is not finished
    "a an the my our your to of for from and or but with about in on at into is are was i i'd i'm like want "
    "um uh er so because if than then".split())
AMOUNT_UNITS = frozenset({"dollar", "dollars", "cent", "cents", "buck", "bucks"})


# ---- caller events -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CallerSaid:
    text: str
    confidence: float = 1.0


@dataclass(frozen=True)
class CallerKeyed:
    digits: str


@dataclass(frozen=True)
class NoInput:
    pass


@dataclass(frozen=True)
class CallerHungUp:
    pass


# ---- actions for the transport -------------------------------------------------------------------------
@dataclass(frozen=True)
class Say:
    text: str
    prompt: str | None = None          # prompt name: static prompts come from the prompt cache
    interruptible: bool = True


@dataclass(frozen=True)
class Listen:
    state: str
    expect: str
    hints: list[str]
    timeout_s: float
    sensitive: bool = False            # PIN: mute the recording, mask the transcript
    max_digits: int | None = None
    min_digits: int | None = None


@dataclass(frozen=True)
class Transfer:
    reason: str
    context: dict


@dataclass(frozen=True)
class Hangup:
    outcome: str


class CallContext:
    """What a call knows so far; bank actions (ivr/actions.py) read and extend it."""

    def __init__(self, bank: BankBackend, ani: str | None):
        self.bank, self.ani = bank, ani
        self.customer: CustomerInfo | None = None
        self.authenticated = False
        self.slots: dict = {}
        self.vars: dict = {}
        self.tasks: list[str] = []
        self.state = ""
        self._speech: list[tuple[str, dict]] = []

    def set_customer(self, customer: CustomerInfo | None) -> None:
        self.customer, self.authenticated = customer, False

    def require_auth(self) -> None:
        if not (self.customer and self.authenticated):
            raise PermissionError("account data requested before the caller was authenticated")

    def speak(self, prompt: str, **values) -> None:
        self._speech.append((prompt, values))

    def take_speech(self) -> list[tuple[str, dict]]:
        out, self._speech = self._speech, []
        return out


EXPECT_HINTS = {
    "confirm": ["yes", "no", "that's right", "cancel"],
    "digits": ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero", "oh"],
    "account": ["checking", "savings"],
    "amount": ["dollars", "cents", "hundred", "thousand"],
    "card": ["debit", "credit"],
}


class DialogSession:
    def __init__(self, flow: Flow, bank: BankBackend, prompts: dict[str, str], nlu, ani: str | None = None,
                 call_log=None, intent_hints: list[str] | None = None):
        self.flow, self.prompts, self.nlu = flow, prompts, nlu
        self.ctx = CallContext(bank, ani)
        self.log = call_log
        self.failures: dict[str, int] = {}
        self.last_question: list[Say] = []
        self.last_intent: str | None = None
        self.outcome: str | None = None
        self.intent_hints = intent_hints or []
        self._last_nlu: tuple = (None, None, None)  # (text, nlu state, result)

    # -- public API -------------------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self.flow.states[self.ctx.state]

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def start(self) -> list:
        return self._run(self.flow.start)

    def handle(self, event) -> list:
        if self.done:
            return []
        st = self.state
        if isinstance(event, CallerHungUp):
            self._record("event", "caller hung up")
            return self._finish("caller_hangup", [])
        if isinstance(event, NoInput):
            self._record("event", "no input")
            return self._failure(st)
        if isinstance(event, CallerKeyed):
            self._record("caller", PIN_MASK if st.sensitive else f"dtmf:{event.digits}")
            value, is_global = self._from_dtmf(st, event.digits)
        else:
            value, is_global = self._from_speech(st, event)
        if is_global:
            return self._global(value)
        if value is None:
            return self._failure(st)
        return self._accept(st, value)

    def transfer_failed(self) -> list:
        """The agent transfer was refused: tell the caller and carry on in the flow's `transfer_failed` state."""
        self.outcome = None
        if self.log:
            self.log.reopen()
        return self._run("transfer_failed")

    # -- interpreting input -----------------------------------------------------------------------------
    def _from_dtmf(self, st: State, keys: str) -> tuple[str | None, bool]:
        keys = keys.rstrip("#")
        if st.expect == "digits":
            if keys == "*" or keys == "0":
                return self.flow.dtmf_globals.get(keys), True
            lo, hi = st.digits
            return (keys if keys.isdigit() and lo <= len(keys) <= hi else None), False
        key = keys[:1]
        if key in st.dtmf:
            return st.dtmf[key], False
        if key in self.flow.dtmf_globals:
            return self.flow.dtmf_globals[key], True
        return None, False

    def _from_speech(self, st: State, said: CallerSaid) -> tuple[str | None, bool]:
        value, is_global, result = self._interpret(st, said.text)
        if st.sensitive:
            self._record("caller", PIN_MASK, confidence=said.confidence)
        elif result is None:
            self._record("caller", said.text, confidence=said.confidence)
        else:
            self._record("caller", said.text, intent=result.intent, confidence=said.confidence)
        if result is not None and not is_global and value is not None:
            self.last_intent = value
            self.ctx.slots.update(result.slots)
        return value, is_global

    def _interpret(self, st: State, text: str):
        """What `text` means in state `st`: (value, is a global intent, NLU result or None). No side effects;
        the last NLU result is kept so that a turn checked early is not classified twice."""
        value = None
        if st.expect == "digits":
            digits = parse_digits(text)
            lo, hi = st.digits
            value = digits if digits and lo <= len(digits) <= hi else None
        elif st.expect == "confirm":
            value = parse_yes_no(text)
        elif st.expect == "account":
            value = next(iter(parse_accounts(text)), None)
        elif st.expect == "amount":
            value = parse_amount(text)
        elif st.expect == "card":
            low = text.lower()
            value = text if ("debit" in low or "credit" in low or parse_digits(text)) else None
        if value is not None and st.expect != "intent":
            return value, False, None
        nlu_state = "confirm" if (st.confirm or st.expect == "confirm") else None
        if self._last_nlu[:2] != (text, nlu_state):
            self._last_nlu = (text, nlu_state, self.nlu.classify(text, nlu_state))
        result = self._last_nlu[2]
        if result.intent in self.flow.globals:
            return result.intent, True, result
        if st.expect == "intent" and result.intent in st.on:
            return result.intent, False, result
        return None, False, result

    def completes_turn(self, text: str) -> bool:
        """Whether `text`, heard so far, is already a whole answer here: a confident intent, yes/no, all the
        digits, an account, an amount with its unit. Lets a call end the caller's turn before the full VAD
        hangover; a phrase that trails off ("I want to...") or a partial number never does."""
        st = self.state
        words = re.findall(r"[a-z0-9']+", text.lower())
        if not words or words[-1] in TRAILING_WORDS or re.search(r"(,|\.\.\.|…|-)\s*$", text):
            return False
        value, is_global, result = self._interpret(st, text)
        if value is None:
            return False
        if result is not None:
            return result.confidence >= EARLY_END_CONFIDENCE
        if st.expect == "digits":
            return len(value) == st.digits[1]
        if st.expect == "amount":
            return bool(AMOUNT_UNITS & set(words))
        if st.expect == "card":  # "the debit one", or the last four digits
            return bool({"debit", "credit"} & set(words)) or len(parse_digits(text) or "") >= 4
        return True

    # -- moving through the flow ------------------------------------------------------------------------
    def _global(self, intent: str) -> list:
        target = self.flow.globals.get(intent, REPEAT if intent == "repeat" else None)
        if target == REPEAT or intent == "repeat":
            return [*self.last_question, self._listen(self.state)]
        self.last_intent = intent
        return self._run(target)

    def _accept(self, st: State, value: str) -> list:
        out: list = []
        outcome = value
        if st.expect not in ("intent", "confirm"):
            self.ctx.slots[st.expect] = value
        if st.action:
            outcome, spoken = self._act(st)
            out += spoken
        if outcome in st.retry_on:
            return out + self._failure(st, st.retry_on[outcome])
        target = st.on.get(outcome) or st.next
        if target is None:
            log.error("flow %s: state %s has no transition for %r", self.flow.path, st.name, outcome)
            return out + self._to_agent("flow_error")
        return out + self._run(target)

    def _failure(self, st: State, retry_prompt: str | None = None) -> list:
        n = self.failures[st.name] = self.failures.get(st.name, 0) + 1
        if n >= self.flow.max_failures:
            return self._to_agent(f"{st.name}_failed")
        if retry_prompt:
            say = [self._say(retry_prompt, st)]
        else:
            name = st.reprompts[n - 1] if n - 1 < len(st.reprompts) else st.prompt
            say = [self._say(name, st)]
            if name == st.prompt:
                say.insert(0, self._say("not_understood", st))
        return [*say, self._listen(st)]

    def _to_agent(self, reason: str) -> list:
        self.ctx.vars["transfer_reason"] = reason
        return self._run(self.flow.agent_state, reason)

    def _run(self, name: str, transfer_reason: str | None = None) -> list:
        out: list = []
        for _ in range(100):  # a flow that loops without listening is a configuration error
            st = self.flow.states[name]
            self.ctx.state = name
            self.failures.pop(name, None)
            if st.skip_if and st.skip_if in self.ctx.vars and st.next:
                name = st.next
                continue
            if st.skip_if and st.skip_if in self.ctx.vars and "ok" in st.on:
                name = st.on["ok"]
                continue
            if st.expect:
                self.last_question = [self._say(st.prompt, st)]
                return out + [*self.last_question, self._listen(st)]
            outcome = None
            if st.action:
                outcome, spoken = self._act(st)
                out += spoken
            out += [self._say(p, st) for p in st.say]
            if st.end:
                return self._finish(st.end, out)
            if st.transfer:
                return self._transfer(transfer_reason or self.ctx.vars.get("transfer_reason") or st.transfer, out)
            name = st.on.get(outcome) or st.next
        raise RuntimeError(f"flow {self.flow.path} loops without asking the caller")

    def _act(self, st: State) -> tuple[str, list[Say]]:
        from .actions import ACTIONS

        outcome = ACTIONS[st.action](self.ctx)
        spoken = [self._say(p, st, **values) for p, values in self.ctx.take_speech()]
        return outcome, spoken

    def _transfer(self, reason: str, out: list) -> list:
        ctx = self.ctx
        context = {"reason": reason, "intent": self.last_intent, "state": ctx.state, "tasks": list(ctx.tasks),
                   "customer_id": ctx.customer.id if ctx.customer and ctx.authenticated else None,
                   "authenticated": ctx.authenticated}
        if self.log:
            context["call_id"] = self.log.call_id
        out.append(Transfer(reason, context))
        return self._finish("transferred", out, reason)

    def _finish(self, outcome: str, out: list, reason: str | None = None) -> list:
        self.outcome = outcome
        if self.log:
            self.log.end(outcome, reason, self.ctx.customer.id if self.ctx.customer else None)
        if outcome in ("completed", "failed"):
            out.append(Hangup(outcome))
        return out

    # -- building actions -------------------------------------------------------------------------------
    def _say(self, prompt: str, st: State, **values) -> Say:
        text = self.prompts[prompt].format_map({**self.ctx.vars, **values})
        self._record("ivr", text)
        static = "{" not in self.prompts[prompt]
        return Say(text, prompt if static else None, st.interruptible)

    def _listen(self, st: State) -> Listen:
        hints = st.hints or (self.intent_hints if st.expect == "intent" else EXPECT_HINTS.get(st.expect, []))
        digits = st.expect == "digits"
        return Listen(st.name, st.expect, hints, st.timeout_s or DEFAULT_TIMEOUT_S, st.sensitive,
                      st.digits[1] if digits else None, st.digits[0] if digits else None)

    def _record(self, speaker: str, text: str, intent: str | None = None, confidence: float | None = None) -> None:
        if self.log:
            self.log.turn(speaker, text, self.ctx.state, intent, confidence)
