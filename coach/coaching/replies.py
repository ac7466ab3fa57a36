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
