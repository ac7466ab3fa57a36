"""Telegram-shaped inputs for the in-process benchmarks (handling_cost's last row, reply_phases).

The coach's own adapter turns them into what `CoachService.handle` takes: a stored outbox row's
buttons go through `telegram_adapter.sender.keyboard` (the callback data the person would tap),
and an update built like the stand-in's `user_taps` / `user_sends_text` goes through
`telegram_adapter.inbound.to_inbound`. So these benchmarks do not depend on how the coach stores
its choices or shapes its `Inbound`.
"""

from __future__ import annotations

import itertools
import time
from typing import Any

_callback_ids = itertools.count(1)


def callback_data_for(buttons: Any, label: str) -> str:
    """The callback data of the first button whose text contains `label`, as the coach's
    sender would put it on the keyboard."""
    from coach.telegram_adapter.sender import keyboard

    markup = keyboard(buttons)
    if markup is None:
        raise LookupError(f"no buttons (looking for {label!r})")
    for row in markup.inline_keyboard:
        for button in row:
            if label in button.text and button.callback_data is not None:
                return str(button.callback_data)
    raise LookupError(f"no button {label!r}")


def _user(chat: int) -> dict[str, Any]:
    return {"id": chat, "is_bot": False, "first_name": "Bench", "language_code": "en"}


def _chat(chat: int) -> dict[str, Any]:
    return {"id": chat, "type": "private", "first_name": "Bench"}


def text_inbound(chat: int, text: str, update_id: int) -> Any:
    from telegram import Update

    from coach.telegram_adapter.inbound import to_inbound

    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    message = {
        "message_id": update_id,
        "from": _user(chat),
        "chat": _chat(chat),
        "date": int(time.time()),
        "text": text,
        **({"entities": entities} if text.startswith("/") else {}),
    }
    return to_inbound(Update.de_json({"update_id": update_id, "message": message}, None))


def tap_inbound(
    chat: int, message_id: int, message_text: str, buttons: Any, label: str, update_id: int
) -> Any:
    from telegram import Update

    from coach.telegram_adapter.inbound import to_inbound

    query = {
        "id": f"{4_200_000_000 + next(_callback_ids)}",
        "from": _user(chat),
        "message": {
            "message_id": message_id,
            "from": {"id": 7000001, "is_bot": True, "first_name": "Recovery Coach"},
            "chat": _chat(chat),
            "date": int(time.time()),
            "text": message_text,
        },
        "chat_instance": str(-7_000_000_000_000 - chat),
        "data": callback_data_for(buttons, label),
    }
    return to_inbound(Update.de_json({"update_id": update_id, "callback_query": query}, None))
