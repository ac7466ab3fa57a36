"""A scripted person: one driver for `coach simulate`, the end-to-end tests and the vignettes.

A person only sees messages and their buttons, taps a button by its label, types, and lives
through the days. `ScriptedPerson` does exactly that over a `Channel`: in-process for the
simulator (the coach's service and courier with a recording sender, coach/simulate.py), or the
real Telegram application over the Bot API stand-in for the tests (tests/support/bot_harness.py).
Which question is on screen is read from its button labels, as a person would read it, using
the content's own labels: scripts name answers by label and questions by id.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from coach.content import Content

MAX_TAPS = 25  # a script step that taps more often than this has lost its way


@dataclass(frozen=True)
class Shown:
    """A text message the person received: what it says, its buttons' labels (in order) and the
    channel's own handle on it (to tap it, to know whether its buttons are still there)."""

    text: str
    labels: tuple[str, ...]
    handle: object


class Channel(Protocol):
    """How a scripted person reaches the coach."""

    def now(self) -> datetime: ...

    def received(self) -> Sequence[Shown]:
        """Every text message the person received, oldest first."""
        ...

    def live(self, shown: Shown) -> bool:
        """Whether the message's buttons are still on screen (answered questions lose them)."""
        ...

    async def type(self, text: str) -> None: ...

    async def press(self, shown: Shown, label: str) -> None: ...

    async def let_time_pass(self, until: datetime) -> None:
        """Move the clock to `until` (never back) and let the coach send what fell due."""
        ...


class Stalled(Exception):
    """A scripted step could not be played against what the coach shows."""


class ScriptedPerson:
    def __init__(self, channel: Channel, content: Content) -> None:
        self.channel = channel
        self.content = content
        self.by_labels: dict[frozenset[str], str] = {}
        for question in content.questions():
            labels = frozenset(label for _, label in question.options)
            self.by_labels.setdefault(labels, question.id)
        # A screening question after typed words adds one tap to confirm what was understood.
        self.extra_labels = {content.ui("screen_confirm")}

    # -- what is on screen
    def on_screen(self) -> Shown | None:
        """The latest message whose buttons are still there."""
        for shown in reversed(self.channel.received()):
            if shown.labels and self.channel.live(shown):
                return shown
        return None

    def qid_of(self, shown: Shown) -> str | None:
        labels = frozenset(shown.labels)
        exact = self.by_labels.get(labels) or self.by_labels.get(labels - self.extra_labels)
        # A daily re-screen leaves out the one sign asked only at the first check (an accident).
        return exact or next(
            (
                qid
                for known, qid in self.by_labels.items()
                if labels < known and len(known - labels) == 1
            ),
            None,
        )

    def question(self) -> tuple[str | None, Shown | None]:
        """The question on screen (its id, if it is one of the content's) and its message."""
        shown = self.on_screen()
        return (None, None) if shown is None else (self.qid_of(shown), shown)

    def label(self, qid: str, value: str) -> str:
        """The label a person sees for an answer's value."""
        return self.content.question(qid).label(value)

    # -- what the person does
    async def say(self, text: str) -> list[Shown]:
        before = len(self.channel.received())
        await self.channel.type(text)
        return list(self.channel.received()[before:])

    async def tap(self, label: str, shown: Shown | None = None) -> list[Shown]:
        """Tap the button `label` (or the one containing it) on `shown` or on the screen."""
        shown = shown or self.on_screen()
        if shown is None:
            raise Stalled(f"no buttons on screen to tap {label!r}")
        chosen = (
            label
            if label in shown.labels
            else next((text for text in shown.labels if label in text), None)
        )
        if chosen is None:
            raise Stalled(f"no button {label!r} on screen; buttons: {list(shown.labels)}")
        before = len(self.channel.received())
        await self.channel.press(shown, chosen)
        return list(self.channel.received()[before:])

    async def onboard(self, zone_label: str, time_label: str) -> None:
        await self.say("/start")
        await self.tap(self.content.ui("consent_yes"))
        await self.tap(zone_label)
        await self.tap(time_label)

    async def answer_while_asked(
        self,
        answers: Mapping[str, str],
        *,
        stop_before: str | None = None,
        before_each: Callable[[], object] | None = None,
    ) -> list[str]:
        """Tap the label given for each question the coach asks (by question id) until it asks
        one the script does not answer; returns the question ids answered. `before_each` runs
        before every tap (the simulator lets twenty seconds pass there)."""
        answered: list[str] = []
        for _ in range(MAX_TAPS):
            qid, shown = self.question()
            if qid is None or shown is None or qid not in answers or qid == stop_before:
                return answered
            if before_each is not None:
                before_each()
            await self.tap(answers[qid], shown)
            answered.append(qid)
        raise Stalled("the coach kept asking")

    async def wait_until(self, instant: datetime) -> list[Shown]:
        """Live until `instant`; returns what arrived meanwhile."""
        before = len(self.channel.received())
        await self.channel.let_time_pass(instant)
        return list(self.channel.received()[before:])
