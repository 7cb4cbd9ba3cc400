"""What a call knows so far; bank actions (ivr/actions.py) read and extend it."""
from __future__ import annotations

from .bank import BankBackend, CustomerInfo
from .spoken import fill
from .words import Lexicon, load_words


class CallContext:
    def __init__(self, bank: BankBackend, ani: str | None, prompts: dict[str, str] | None = None,
                 words: Lexicon | None = None, predictor=None, task_names: set[str] | None = None):
        self.bank, self.ani = bank, ani
        self.predictor = predictor     # why the customer may be calling (ivr/proactive.py); None: never offered
        self.task_names = task_names or set()   # the flow's self-service tasks
        self.prompts = prompts or {}
        self.words = words or load_words("en")   # the call's language: how values are said
        self.customer: CustomerInfo | None = None
        self.authenticated = False
        self.slots: dict = {}          # what the caller said for the task in hand (cleared for each new task)
        self.vars: dict = {}           # what the flow has settled (chosen card, transfer accounts, amount...)
        self.answers: dict = {}        # the last answer accepted in each state
        self.tasks: list[str] = []
        self.state = ""
        self._speech: list[tuple[str, dict]] = []
        self._events: list[tuple[str, dict]] = []

    def set_customer(self, customer: CustomerInfo | None) -> None:
        self.customer, self.authenticated = customer, False

    def require_auth(self) -> None:
        if not (self.customer and self.authenticated):
            raise PermissionError("account data requested before the caller was authenticated")

    def speak(self, prompt: str, **values) -> None:
        self._speech.append((prompt, values))

    def text(self, prompt: str, **values) -> str:
        """A prompt filled in, for a sentence made of parts (the card options)."""
        return fill(self.prompts[prompt], {**self.vars, **values}, self.words)

    def event(self, kind: str, **detail) -> None:
        """A call event for the record (see models.EventKind); never PIN digits in `detail`."""
        self._events.append((kind, detail))

    def take_speech(self) -> list[tuple[str, dict]]:
        out, self._speech = self._speech, []
        return out

    def take_events(self) -> list[tuple[str, dict]]:
        out, self._events = self._events, []
        return out
