"""Outbox rows out to Telegram: keyboards built from the stored choices, errors mapped to what
the courier does next."""

from __future__ import annotations

import warnings

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from coach.coaching.replies import Choice
from coach.pipeline.courier import PermanentError, RecipientBlocked, RetryLater, TransientError
from coach.storage.models import OutboxMessage
from coach.telegram_adapter import callback_data

NOT_MODIFIED = "message is not modified"


def keyboard(rows: list[list[list[str]]]) -> InlineKeyboardMarkup | None:
    """Rows of stored choices (see `Choice.stored`) as an inline keyboard."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(cell[0], callback_data=_data(cell)) for cell in row] for row in rows]
    )


def _data(cell: list[str]) -> str:
    if len(cell) == 2:
        # [label, callback data]: a row written before choices were stored, still deliverable.
        return cell[1]
    return callback_data.encode(Choice.from_stored(cell))


class TelegramSender:
    """The courier's transport over the Bot API."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def _edit(self, message: OutboxMessage) -> int | None:
        """Mark an answered question, or put the next question in its place. A question that
        cannot go in its place (the message is too old to edit, or gone) is sent anew: the person
        must never be left without it."""
        assert message.edit_message_id is not None
        try:
            await self.bot.edit_message_text(
                message.text,
                chat_id=message.chat_id,
                message_id=message.edit_message_id,
                reply_markup=keyboard(message.buttons),
            )
        except BadRequest as exc:
            if not message.buttons or NOT_MODIFIED in exc.message:
                raise
            sent = await self.bot.send_message(
                message.chat_id, message.text, reply_markup=keyboard(message.buttons)
            )
            return sent.message_id
        return message.edit_message_id

    async def send(self, message: OutboxMessage) -> int | None:
        try:
            if message.kind == "document":
                assert message.document_name is not None and message.document_body is not None
                sent = await self.bot.send_document(
                    message.chat_id,
                    InputFile(message.document_body, filename=message.document_name),
                )
                return sent.message_id
            if message.kind == "photo":
                assert message.document_body is not None
                sent = await self.bot.send_photo(
                    message.chat_id,
                    InputFile(message.document_body, filename="chart.png"),
                    caption=message.text or None,
                )
                return sent.message_id
            if message.kind == "edit":
                return await self._edit(message)
            sent = await self.bot.send_message(
                message.chat_id, message.text, reply_markup=keyboard(message.buttons)
            )
            return sent.message_id
        except Forbidden as exc:
            raise RecipientBlocked(str(exc)) from exc
        except RetryAfter as exc:
            with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
                warnings.simplefilter("ignore")
                retry = exc.retry_after
            seconds = retry if isinstance(retry, int | float) else retry.total_seconds()
            raise RetryLater(float(seconds)) from exc
        except TimedOut as exc:
            raise TransientError("timed out") from exc
        except BadRequest as exc:
            if message.kind == "edit" and NOT_MODIFIED in exc.message:
                return message.edit_message_id  # already shows the choice: nothing to do
            raise PermanentError(exc.message) from exc
        except NetworkError as exc:  # 5xx and connection errors
            raise TransientError("network") from exc
