"""Telegram callback data for the coach's choices: `q:<token>:<value>` answers the question asked
with that token, `a:<action>` starts an action. Telegram allows at most 64 bytes: option values
are short words fixed by the clinical core, times and zone names, far below that.

Anything else decodes to an empty `Tap`, which the coach answers as a stale button.
"""

from __future__ import annotations

from coach.coaching.replies import Choice, Tap

ANSWER = "q"
ACTION = "a"


def encode(choice: Choice) -> str:
    if choice.action is not None:
        return f"{ACTION}:{choice.action}"
    return f"{ANSWER}:{choice.token}:{choice.value}"


def decode(data: str) -> Tap:
    parts = data.split(":", 2)  # a value may hold ":" itself ("19:00")
    if len(parts) == 3 and parts[0] == ANSWER:
        return Tap(token=_token(parts[1]), value=parts[2])
    if len(parts) == 2 and parts[0] == ACTION:
        return Tap(action=parts[1])
    return Tap()


def _token(text: str) -> int | None:
    if not text.isdigit():
        return None
    try:
        return int(text)
    except ValueError:  # digits int() does not read, such as "²"
        return None
