"""What the coach says and hears, independent of any chat transport.

A reply's buttons are domain `Choice`s: an answer to the question on screen (its value, and the
token of the question it answers) or an action by name. How a choice travels in a chat (Telegram's
callback data) is the adapter's business; the coach only ever sees the decoded `Tap`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# How a choice is stored in an outbox row (a JSON list of strings, no transport format).
STORED_ANSWER = "q"
STORED_ACTION = "a"


@dataclass(frozen=True)
class Choice:
    """One button: `Choice(label, value=..., token=...)` answers the question asked with that
    token; `Choice(label, action=...)` starts an action ("checkin", "seen", ...)."""

    label: str
    value: str | None = None
    token: int | None = None
    action: str | None = None

    def __post_init__(self) -> None:
        is_answer = self.action is None and self.value is not None and self.token is not None
        is_action = self.action is not None and self.value is None and self.token is None
        if not (is_answer or is_action):
            raise ValueError(f"a choice is either an answer or an action: {self!r}")

    def stored(self) -> list[str]:
        """The outbox form: [label, "q", token, value] or [label, "a", action]."""
        if self.action is not None:
            return [self.label, STORED_ACTION, self.action]
        return [self.label, STORED_ANSWER, str(self.token), str(self.value)]

    @classmethod
    def from_stored(cls, cell: Sequence[str]) -> Choice:
        if cell[1] == STORED_ACTION:
            return cls(cell[0], action=cell[2])
        return cls(cell[0], value=cell[3], token=int(cell[2]))


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[tuple[Choice, ...], ...] = ()  # rows of buttons


@dataclass(frozen=True)
class Tap:
    """A tapped button, decoded by the transport: an answer (`token` and `value`), an action, or
    neither when the button could not be read (the router answers it as stale)."""

    token: int | None = None
    value: str | None = None
    action: str | None = None


# A picture or page to draw from data gathered in the unit of work. Drawing takes a tenth of a
# second or more, so it runs after the commit, without the person's lock (on SQLite the whole
# database's write lock); the message waits for it in the outbox, in its place in the chat.
Drawing = Callable[[], bytes]


@dataclass
class Outcome:
    """The coach's answer to one input."""

    replies: list[Reply] = field(default_factory=list)
    ack: str | None = None  # short toast for a button tap
    chosen: str | None = None  # label of the tapped option, shown on the old message
    # (file name, content), e.g. the data export, or the clinician's page still to be drawn
    document: tuple[str, bytes | Drawing] | None = None
    photo: tuple[str, Drawing] | None = None  # (one-line caption, PNG to draw): the pain chart
    # The replies are only the next question of the questionnaire being answered: it may take
    # the answered question's place (one message that moves on, no new notification). Never set
    # with advice: advice arrives as a message of its own.
    in_place: bool = False


@dataclass(frozen=True)
class UserRef:
    """Who sent an input, as the transport knows them."""

    user_id: int
    chat_id: int
    language_code: str | None = None


@dataclass(frozen=True)
class Inbound:
    """One input from a person, as the coach sees it (no transport types).

    kind: "command" (text is the command name), "button" (tap is the decoded button), "text",
    "unsupported" (stickers, photos...), "blocked" / "unblocked" (the person blocked the bot or
    came back), "flooded" (more input than the flood guard lets through; `warn` says whether to
    send the one slow-down note), "group" (a command in a group chat: explain and keep nothing).
    """

    kind: str
    user: UserRef
    update_id: int | None = None
    text: str = ""
    tap: Tap | None = None
    message_id: int | None = None  # the message a tapped button was on
    message_text: str | None = None  # its text, to show the choice on it
    warn: bool = False
