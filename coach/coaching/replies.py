"""What the coach says, independent of any chat transport."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    label: str
    data: str  # callback data, at most 64 bytes: "q:<token>:<value>" or "a:<action>"


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


@dataclass
class Outcome:
    """The coach's answer to one input."""

    replies: list[Reply] = field(default_factory=list)
    ack: str | None = None  # short toast for a button tap
    chosen: str | None = None  # label of the tapped option, shown on the old message
    document: tuple[str, bytes] | None = None  # (file name, content), e.g. the data export


@dataclass(frozen=True)
class UserRef:
    """Who sent an input, as the transport knows them."""

    user_id: int
    chat_id: int
    language_code: str | None = None


@dataclass(frozen=True)
class Inbound:
    """One input from a person, as the coach sees it (no transport types).

    kind: "command" (text is the command name), "button" (text is the button's data),
    "text", "unsupported" (stickers, photos...), "blocked" / "unblocked" (the person blocked the bot
    or came back), "flooded" (more input than the flood guard lets through; `warn` says whether
    to send the one slow-down note), "group" (a command in a group chat: explain and keep nothing).
    """

    kind: str
    user: UserRef
    update_id: int | None = None
    text: str = ""
    message_id: int | None = None  # the message a tapped button was on
    message_text: str | None = None  # its text, to show the choice on it
    warn: bool = False
