"""Telegram updates → the coach's `Inbound`s. The only place that reads an Update's shape.

A tap counts only from the person whose private chat the message is in: a button pressed by
someone else (a forwarded message, a group) is a `ForeignTap`, answered and otherwise ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, Update
from telegram.constants import ChatMemberStatus, ChatType

from coach.coaching.replies import Inbound, UserRef
from coach.telegram_adapter import callback_data

MAX_TEXT_READ = 4096


@dataclass(frozen=True)
class ForeignTap:
    callback_query_id: str
    language_code: str | None = None  # the tapper's app language, for the alert


def to_inbound(update: Update) -> Inbound | ForeignTap | None:
    """What the update means to the coach; None for what it ignores (edits, channel posts)."""
    user = update.effective_user
    if update.my_chat_member is not None:
        change = update.my_chat_member
        if change.chat.type != ChatType.PRIVATE:
            return None
        gone = change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
        ref = UserRef(change.from_user.id, change.chat.id, change.from_user.language_code)
        return Inbound("blocked" if gone else "unblocked", ref, update.update_id)
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message
        if (
            message is None
            or message.chat.type != ChatType.PRIVATE
            or message.chat.id != query.from_user.id
        ):
            return ForeignTap(query.id, query.from_user.language_code)
        ref = UserRef(query.from_user.id, message.chat.id, query.from_user.language_code)
        text = message.text if isinstance(message, Message) else None
        return Inbound(
            "button",
            ref,
            update.update_id,
            tap=callback_data.decode(query.data or ""),
            message_id=message.message_id,
            message_text=text,
        )
    message = update.message
    if message is None or user is None:
        return None  # edits are not answers; channel posts and the rest are not for the coach
    ref = UserRef(user.id, message.chat.id, user.language_code)
    text = message.text or ""
    if message.chat.type != ChatType.PRIVATE:
        # The coach works only in private chats and keeps nothing from groups.
        return Inbound("group", ref, update.update_id) if text.startswith("/") else None
    if text.startswith("/"):
        name = text.split()[0].lstrip("/").split("@")[0].lower()[:32]
        return Inbound("command", ref, update.update_id, text=name)
    if message.text is not None:
        return Inbound("text", ref, update.update_id, text=message.text[:MAX_TEXT_READ])
    return Inbound("unsupported", ref, update.update_id)


def kind_of(update: Update) -> str:
    if update.callback_query:
        return "callback_query"
    if update.message:
        return "message"
    if update.edited_message:
        return "edited_message"
    if update.my_chat_member:
        return "my_chat_member"
    return "other"
