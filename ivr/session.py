"""Per-call dialog session: caller events in, actions out. Transport-independent: the same session runs
behind `ivr chat` (text) and behind a SIP call (telephony/).

One turn: `understand(text)` says what the words mean here (no side effects; a call may ask early to end the
caller's turn), then `handle(CallerSaid(text, conf, understanding=u))` acts on it. The session records caller
turns and call events; the transport records each `Say` when it is actually heard (`ivr chat` when printed).

Type-ahead: the `Say` that asks the question of the `Listen` after it has `question=True`. A transport that
already holds input given for that Listen (a PIN keyed during the welcome notice) may skip those Says and
deliver the input: the session is already in the Listen's state and takes it as the answer.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from .bank import BankBackend, BankUnavailable
from .context import CallContext
from .dialog_events import (  # noqa: F401
    CallerHungUp,
    CallerKeyed,
    CallerSaid,
    Hangup,
    Listen,
    NoInput,
    Say,
    Transfer,
)
from .flow import LANGUAGE, REPEAT, State
from .language import LanguagePack
from .slots import answer, clear_yes
from .spoken import fill
from .understanding import Interpreter, Understanding

log = logging.getLogger(__name__)
PIN_MASK = "[PIN]"
DEFAULT_TIMEOUT_S = 6.0


class DialogSession:
    def __init__(self, language: LanguagePack, bank: BankBackend, ani: str | None = None, call_log=None,
                 languages: Callable[[str], LanguagePack] | None = None, available: list[str] | None = None,
                 chosen: bool = False, predictor=None):
        """`language`: what the call starts in; `languages(code)` gives another (a caller may switch between
        `available`); `chosen`: the language was chosen for this call (its number), not taken by default;
        `predictor`: why an identified customer is likely calling (ivr/proactive.py), offered before the menu."""
        self.ctx = CallContext(bank, ani, predictor=predictor, task_names=set(language.flow.tasks))
        self.use(language)
        self.languages, self.available = languages, available or [language.code]
        self.chosen = chosen
        self.log = call_log
        self.failures: dict[str, int] = {}
        self.last_said: list[Say] = []      # what `repeat` says again: the last answer and question
        self.last_intent: str | None = None
        self.task: str | None = None         # the task in hand (an intent of the flow's `requests` state)
        self.pending: tuple[str, dict] | None = None  # a request made at a confirmation, served after it
        self.guess: Understanding | None = None     # what the last words sounded like, asked about ("Did you say")
        self.outcome: str | None = None
        self.visited: list[str] = []        # the states entered while handling the last event

    def use(self, language: LanguagePack) -> None:
        """Speak and understand `language` from now on (the state and what the call knows stay)."""
        self.language = language
        self.flow, self.prompts, self.nlu, self.lex = language.flow, language.prompts, language.nlu, language.words
        self.intent_hints = language.intent_hints
        self.interpreter = Interpreter(self.flow, self.nlu, self.lex)
        self.ctx.prompts, self.ctx.words = self.prompts, self.lex
        if "card_options" in self.ctx.vars:   # said again in the new language
            from .actions import card_options

            self.ctx.vars["card_options"] = card_options(self.ctx)
        if "offer_signal" in self.ctx.vars:
            from .proactive import offer_text

            self.ctx.vars["offer"] = offer_text(self.ctx)

    # -- public API -------------------------------------------------------------------------------------
    @property
    def state(self) -> State:
        return self.flow.states[self.ctx.state]

    @property
    def done(self) -> bool:
        return self.outcome is not None

    def start(self) -> list:
        self.visited = []
        return self._respond(self._unless_unavailable(lambda: self._run(self.flow.start)))

    def understand(self, text: str, confidence: float = 1.0) -> Understanding:
        """What `text` means in the current state, and whether it is already a whole answer; no side effects."""
        return self.interpreter.understand(self.state, text, confidence, self.ctx, self.task)

    def handle(self, event) -> list:
        if self.done:
            return []
        st, self.visited = self.state, []
        if isinstance(event, CallerHungUp):
            self._event("caller_hangup")
            return self._finish("caller_hangup", [])
        if isinstance(event, NoInput):
            self._event("no_input")
            return self._respond(self._failure(st))
        if isinstance(event, CallerKeyed):
            u = self.interpreter.keys(st, event.digits)
            self._caller_turn(st, u, f"dtmf:{event.digits}", 1.0)
        else:
            u = event.understanding
            if u is None or u.state != st.name or u.text != event.text:
                u = self.understand(event.text, event.confidence)
            self._caller_turn(st, u, event.text, event.confidence)
        return self._respond(self._unless_unavailable(lambda: self._decide(st, u)))

    def transfer_failed(self) -> list:
        """The agent transfer was refused: tell the caller and carry on in the flow's `transfer_failed_state`."""
        if not self.flow.transfer_failed_state:
            raise RuntimeError(f"flow {self.flow.path} names no 'transfer_failed_state'")
        self.outcome, self.visited = None, []
        if self.log:
            self.log.reopen()
        return self._respond(self._unless_unavailable(lambda: self._run(self.flow.transfer_failed_state)))

    def _unless_unavailable(self, step) -> list:
        """Run a step of the dialog; if the bank cannot be reached, say so and go to the flow's
        `unavailable_state` (which offers an agent) instead of failing the call."""
        try:
            return step()
        except BankUnavailable as err:
            log.warning("the bank is unavailable in state %s: %s", self.ctx.state, err)
            self._event("service_unavailable", reason=str(err)[:200])
            if not self.flow.unavailable_state:
                raise
            self.ctx.take_events()      # what the failed step had half prepared is not said or stored
            self.ctx.take_speech()
            return self._run(self.flow.unavailable_state)

    # -- deciding ---------------------------------------------------------------------------------------
    def _decide(self, st: State, u: Understanding) -> list:
        guess, self.guess = self.guess, None
        if guess is not None and guess.state == st.name and u.kind not in ("request", "correction"):
            said = answer(u.text, self.lex)   # a yes/no here answers "Did you say ...?", whatever the menu makes of it
            if said == "yes" and clear_yes(u.text, self.lex):
                self._event("sounds_like", phrase=guess.target, value=guess.value, confirmed=True)
                kind = "global" if guess.value in self.flow.globals else "answer"
                u = replace(guess, kind=kind, is_global=kind == "global", complete=True)
            elif said == "no":
                self._event("sounds_like", phrase=guess.target, value=guess.value, confirmed=False)
                return self._failure(st)
        if u.kind == "guess":          # words that mean nothing here but sound like a choice of this menu
            self.guess = u
            listen = self._listen(st)
            return [self._say("did_you_say", st, question=True, phrase=u.target),
                    replace(listen, hints=[*self.lex.hints.get("confirm", []), *listen.hints])]
        if u.kind == "global":
            return self._global(u.value)
        if u.kind == "request":
            return self._request(st, u)
        if u.kind == "correction":
            target = self.flow.states[u.target]
            self.ctx.state = target.name
            self.visited.append(target.name)
            return self._accept(target, u.value)
        if u.kind == "frustrated" and self.flow.frustration_state:
            self._event("no_match", reason="frustrated")
            return self._run(self.flow.frustration_state)
        if u.value is None:
            self._event("no_match")
            return self._failure(st)
        return self._accept(st, u.value, u.slots)

    def _request(self, st: State, u: Understanding) -> list:
        """A new task asked for in the middle of another: a confirmation counts it as no (the caller hears
        what was not done), and the request is served when the flow next offers it. Asked before the caller is
        identified (at the PIN), it waits until then: no account data before authentication."""
        self.pending = (u.value, u.slots)
        if not self.ctx.authenticated:   # served once the caller is identified: first the question in hand
            return self._failure(st, "identify_first")
        if st.expect == "confirm" and "no" in st.on:
            return self._run(st.on["no"])
        intent, slots = self.pending
        self.pending = None
        return self._accept(self.flow.states[self.flow.requests], intent, slots)

    def _global(self, intent: str) -> list:
        target = self.flow.globals[intent]
        if target == REPEAT:
            self._event("repeat")
            return [*self.last_said, self._listen(self.state)]
        if target == LANGUAGE or target.startswith(LANGUAGE + ":"):
            others = [c for c in self.available if c != self.language.code]
            wanted = target.partition(":")[2] or next(iter(others), None)
            if wanted not in others or self.languages is None:   # the language in use (or none other): as if
                return self._failure(self.state)                  # not understood ("in the correct" ~ "in english")
            self._switch(wanted, "caller")
            self.chosen = True
            return self._run(self.ctx.state)   # the question again, in the caller's language
        self.last_intent = intent
        return self._run(target)

    def _accept(self, st: State, value: str, slots: dict | None = None) -> list:
        out: list = []
        outcome = value
        if st.expect == "intent" and value in self.flow.tasks:
            self.task = self.last_intent = value
            self.ctx.slots = dict(slots or {})     # a slot belongs to the task it was said for
        elif st.expect not in ("intent", "confirm"):
            self.ctx.slots[st.expect] = value
            self.ctx.answers[st.name] = value
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
            say = [self._say(name, st, question=True)]
            if name == st.prompt:
                say.insert(0, self._say("not_understood", st))
        return [*say, self._listen(st)]

    def _to_agent(self, reason: str) -> list:
        self.ctx.vars["transfer_reason"] = reason
        return self._run(self.flow.agent_state, reason)

    # -- moving through the flow ------------------------------------------------------------------------
    def _run(self, name: str, transfer_reason: str | None = None) -> list:
        out: list = []
        for _ in range(100):  # a flow that loops without listening is a configuration error
            st = self.flow.states[name]
            self.ctx.state = name
            self.visited.append(name)
            self.failures.pop(name, None)
            if st.skip_if and st.skip_if in self.ctx.vars and (st.next or "ok" in st.on):
                name = st.next or st.on["ok"]
                continue
            if st.expect:
                if st.expect == "intent":
                    self.ctx.slots, self.task = {}, None
                    if self.pending and self.pending[0] in st.on:
                        (intent, slots), self.pending = self.pending, None
                        return out + self._accept(st, intent, slots)
                return out + [self._say(st.prompt, st, question=True), self._listen(st)]
            outcome = None
            if st.action:
                outcome, spoken = self._act(st)
                out += spoken
            out += [self._say(p, st) for p in st.say]
            out += [self._say_in(code, p, st) for p in st.say_in_others
                    for code in self.available if code != self.language.code and self.languages is not None]
            if st.end:
                return self._finish(st.end, out)
            if st.transfer:
                return self._transfer(transfer_reason or self.ctx.vars.get("transfer_reason") or st.transfer, out)
            name = st.on.get(outcome) or st.next
        raise RuntimeError(f"flow {self.flow.path} loops without asking the caller")

    def _switch(self, code: str, reason: str) -> None:
        self._event("language_changed", language=code, previous=self.language.code, reason=reason)
        self.use(self.languages(code))
        if self.log:
            self.log.set_language(code)

    def _act(self, st: State) -> tuple[str, list[Say]]:
        from .actions import ACTIONS

        done_before = len(self.ctx.tasks)
        outcome = ACTIONS[st.action](self.ctx)
        for kind, detail in self.ctx.take_events():
            self._event(kind, **detail)
        customer = self.ctx.customer
        wanted = customer.language if customer else None
        if (not self.chosen and wanted and wanted != self.language.code and wanted in self.available
                and self.languages is not None):   # identified: the customer's own language from now on
            self._switch(wanted, "customer")
        for task in self.ctx.tasks[done_before:]:
            self._event("task_done", task=task)
        spoken = [self._say(p, st, **values) for p, values in self.ctx.take_speech()]
        return outcome, spoken

    def _transfer(self, reason: str, out: list) -> list:
        ctx = self.ctx
        context = {"reason": reason, "intent": self.last_intent, "state": ctx.state, "tasks": list(ctx.tasks),
                   "customer_id": ctx.customer.id if ctx.customer and ctx.authenticated else None,
                   "authenticated": ctx.authenticated}
        if self.log:
            context["call_id"] = self.log.call_id
        self._event("transfer_requested", reason=reason)
        out.append(Transfer(reason, context))
        return self._finish("transferred", out, reason)

    def _finish(self, outcome: str, out: list, reason: str | None = None) -> list:
        self.outcome = outcome
        if self.log:
            self.log.end(outcome, reason, self.ctx.customer.id if self.ctx.customer else None)
        if outcome in ("completed", "failed"):
            out.append(Hangup(outcome))
        return out

    # -- building actions and the record ----------------------------------------------------------------
    def _respond(self, actions: list) -> list:
        if actions and isinstance(actions[-1], Listen):
            self.last_said = [a for a in actions if isinstance(a, Say) and a.interruptible]
        return actions

    def _say(self, prompt: str, st: State, question: bool = False, **values) -> Say:
        text = fill(self.prompts[prompt], {**self.ctx.vars, **values}, self.lex)
        return Say(text, st.name, st.interruptible, question, self.language.code)

    def _say_in(self, code: str, prompt: str, st: State) -> Say:
        """A prompt of another language, in that language (the offer to switch to it)."""
        other = self.languages(code)
        return Say(fill(other.prompts[prompt], dict(self.ctx.vars), other.words), st.name, st.interruptible, False,
                   code)

    def hints(self, state: str) -> list[str]:
        """The phrases a live call gives the recognizer in `state`."""
        return self._listen(self.flow.states[state]).hints

    def _listen(self, st: State) -> Listen:
        hints = st.hints or (self.intent_hints if st.expect == "intent" else self.lex.hints.get(st.expect, []))
        digits = st.expect == "digits"
        timing = st.digit_timeout_s
        return Listen(st.name, st.expect, hints, st.timeout_s or DEFAULT_TIMEOUT_S, st.sensitive,
                      st.digits[1] if digits else None, st.digits[0] if digits else None,
                      timing.get("between_keys", 3.0), timing.get("after_min", 1.5))

    def _caller_turn(self, st: State, u: Understanding, text: str, confidence: float) -> None:
        if not self.log:
            return
        if st.sensitive:
            self.log.turn("caller", PIN_MASK, st.name, None, confidence)
            return
        slots = dict(u.slots)
        if st.expect not in ("intent", "confirm") and u.kind == "answer" and u.value is not None:
            slots[st.expect] = u.value
        intent = u.nlu.intent if u.nlu else (u.value if u.kind in ("global", "request") else None)
        self.log.turn("caller", text, st.name, intent, confidence, slots=slots or None)

    def _event(self, kind: str, **detail) -> None:
        if self.log:
            self.log.event(kind, self.ctx.state, **detail)
