"""Call flows as data: load config/flows/*.yaml and validate it, naming the file, state and field of any error."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from config import CONFIG_DIR, IvrError, load_yaml

EXPECTS = ("intent", "confirm", "digits", "account", "amount", "card")
OUTCOMES = ("completed", "failed")
DTMF_KEYS = set("0123456789*#")
REPEAT = "@repeat"
LANGUAGE = "@language"   # a global that switches the call to the other language of `languages` (settings);
                         # "@language:zh" to that language
STATE_FIELDS = {"say", "say_in_others", "action", "prompt", "reprompts", "expect", "confirm", "digits", "sensitive", "dtmf",
                "skip_if", "on", "next", "end", "transfer", "retry_on", "interruptible", "hints", "timeout_s",
                "correct", "digit_timeout_s"}
CONFIRM = ("yes", "no")


@dataclass
class State:
    name: str
    say: list[str] = field(default_factory=list)
    say_in_others: list[str] = field(default_factory=list)   # prompts said in each of the call's other languages
    action: str | None = None
    prompt: str | None = None
    reprompts: list[str] = field(default_factory=list)
    expect: str | None = None
    confirm: bool = False
    digits: tuple[int, int] = (1, 20)
    sensitive: bool = False
    dtmf: dict[str, str] = field(default_factory=dict)
    skip_if: str | None = None
    on: dict[str, str] = field(default_factory=dict)
    next: str | None = None
    end: str | None = None
    transfer: str | None = None
    retry_on: dict[str, str] = field(default_factory=dict)
    interruptible: bool = True
    hints: list[str] = field(default_factory=list)
    timeout_s: float | None = None
    correct: list[str] = field(default_factory=list)  # states whose answer, said here, corrects what is confirmed
    digit_timeout_s: dict[str, float] = field(default_factory=dict)  # {between_keys: s, after_min: s}

    @property
    def confirming(self) -> bool:
        """Asks the caller to say yes or no (a read-back, 'anything else?')."""
        return self.expect == "confirm" or self.confirm


@dataclass
class Flow:
    path: Path
    start: str
    states: dict[str, State]
    globals: dict[str, str]
    dtmf_globals: dict[str, str]
    max_failures: int
    agent_state: str
    requests: str | None = None            # the state whose intents are tasks a caller may ask for anywhere
    transfer_failed_state: str | None = None   # where a call goes on when the agent transfer was refused
    frustration_state: str | None = None   # where an exasperated caller goes ("this is useless")
    unavailable_state: str | None = None   # where a call goes when the bank's systems cannot be reached

    @property
    def tasks(self) -> dict[str, str]:
        return self.states[self.requests].on if self.requests else {}


class FlowError(IvrError):
    pass


def _as_list(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def load_flow(path: Path | None = None, prompts: dict[str, str] | None = None,
              actions: set[str] | None = None, intents: set[str] | None = None, language: str = "en") -> Flow:
    """Parse and check a flow file: every target state, prompt, action and intent must exist (in the prompts and
    intents of `language`: one flow serves every language)."""
    from tts import load_prompts

    from .actions import ACTIONS
    from .nlu import intent_names

    path = path or CONFIG_DIR / "flows" / "banking.yaml"
    prompts = prompts if prompts is not None else load_prompts(language)
    actions = actions if actions is not None else set(ACTIONS)
    intents = intents if intents is not None else intent_names(CONFIG_DIR / "intents" / f"{language}.yaml")
    try:
        data = load_yaml(path, "flow")
    except IvrError as err:
        raise FlowError(str(err)) from None

    def fail(where: str, msg: str):
        raise FlowError(f"{path}: {where}: {msg}")

    if not isinstance(data, dict) or not isinstance(data.get("states"), dict) or not data["states"]:
        fail("top level", "expected a mapping with a non-empty 'states' mapping")
    states: dict[str, State] = {}
    for name, spec in data["states"].items():
        where = f"state {name!r}"
        if not isinstance(spec, dict):
            fail(where, "expected a mapping of fields")
        unknown = set(spec) - STATE_FIELDS
        if unknown:
            fail(where, f"unknown field {sorted(unknown)[0]!r}")
        st = State(name=name)
        for key, value in spec.items():
            if key in ("say", "say_in_others", "reprompts", "hints", "correct"):
                value = _as_list(value)
            elif key == "digits":
                if not isinstance(value, dict) or not {"min", "max"} <= set(value):
                    fail(f"{where} field 'digits'", "expected {min: N, max: M}")
                value = (int(value["min"]), int(value["max"]))
            elif key == "digit_timeout_s":
                if not isinstance(value, dict) or not set(value) <= {"between_keys", "after_min"}:
                    fail(f"{where} field 'digit_timeout_s'", "expected {between_keys: S, after_min: S}")
                value = {k: float(v) for k, v in value.items()}
            elif key in ("on", "dtmf", "retry_on"):
                if not isinstance(value, dict):
                    fail(f"{where} field {key!r}", "expected a mapping")
                value = {str(k): str(v) for k, v in value.items()}
            setattr(st, key, value)
        states[name] = st

    def check_state(where: str, target: str) -> None:
        if target not in (REPEAT, LANGUAGE) and not target.startswith(LANGUAGE + ":") and target not in states:
            fail(where, f"unknown state {target!r}")

    def check_prompt(where: str, name: str) -> None:
        if name not in prompts:
            fail(where, f"unknown prompt {name!r} (config/prompts/{language}.yaml)")

    for st in states.values():
        where = f"state {st.name!r}"
        for p in st.say:
            check_prompt(f"{where} field 'say'", p)
        for p in st.say_in_others:
            check_prompt(f"{where} field 'say_in_others'", p)
        for p in st.reprompts + ([st.prompt] if st.prompt else []):
            check_prompt(f"{where} field 'prompt'", p)
        for p in st.retry_on.values():
            check_prompt(f"{where} field 'retry_on'", p)
        if st.action and st.action not in actions:
            fail(f"{where} field 'action'", f"unknown action {st.action!r}")
        if st.expect and st.expect not in EXPECTS:
            fail(f"{where} field 'expect'", f"must be one of {', '.join(EXPECTS)}")
        if st.expect and not st.prompt:
            fail(where, "a state that expects input needs a 'prompt'")
        if st.end and st.end not in OUTCOMES:
            fail(f"{where} field 'end'", f"must be one of {', '.join(OUTCOMES)}")
        for key in st.dtmf:
            if not set(key) <= DTMF_KEYS:
                fail(f"{where} field 'dtmf'", f"{key!r} is not a phone key")
        for outcome, target in st.on.items():
            check_state(f"{where} field 'on.{outcome}'", target)
        if st.next:
            check_state(f"{where} field 'next'", st.next)
        for target in st.correct:
            check_state(f"{where} field 'correct'", target)
        if st.expect == "intent":
            for intent in list(st.on) + list(st.dtmf.values()):
                if intent not in intents and not (st.confirm and intent in CONFIRM):
                    fail(f"{where} field 'on.{intent}'", f"unknown intent {intent!r} (config/intents/{language}.yaml)")
        if not (st.expect or st.on or st.next or st.end or st.transfer):
            fail(where, "leads nowhere: give 'next', 'on', 'end', 'transfer' or 'expect'")

    start = data.get("start")
    if start not in states:
        fail("field 'start'", f"unknown state {start!r}")
    agent = data.get("agent_state", "agent")
    check_state("field 'agent_state'", agent)
    glob = {str(k): str(v) for k, v in (data.get("globals") or {}).items()}
    for intent, target in glob.items():
        check_state(f"field 'globals.{intent}'", target)
    for intent in glob:
        if intent not in intents:
            fail(f"field 'globals.{intent}'", f"unknown intent {intent!r} (config/intents/{language}.yaml)")
    dtmf_glob = {str(k): str(v) for k, v in (data.get("dtmf_globals") or {}).items()}
    for key, intent in dtmf_glob.items():
        if intent not in glob:
            fail(f"field 'dtmf_globals.{key}'", f"{intent!r} is not one of the globals")
    extra = {}
    for key in ("requests", "transfer_failed_state", "frustration_state", "unavailable_state"):
        if data.get(key) is not None:
            check_state(f"field {key!r}", str(data[key]))
            extra[key] = str(data[key])
    return Flow(Path(path), start, states, glob, dtmf_glob, int(data.get("max_failures", 3)), agent, **extra)
