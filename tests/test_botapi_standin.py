"""The Bot API stand-in must talk like Telegram: drive it with the real python-telegram-bot."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import time
import warnings
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

if TYPE_CHECKING:
    from tests.support.botapi_standin import (
        BOT_ID,
        BOT_USERNAME,
        SECRET_TOKEN_HEADER,
        BotApiStandIn,
        render_text,
    )
else:
    try:
        from tests.support.botapi_standin import (
            BOT_ID,
            BOT_USERNAME,
            SECRET_TOKEN_HEADER,
            BotApiStandIn,
            render_text,
        )
    except ModuleNotFoundError:  # the repository root is not on sys.path; pytest put tests/ there
        from support.botapi_standin import (
            BOT_ID,
            BOT_USERNAME,
            SECRET_TOKEN_HEADER,
            BotApiStandIn,
            render_text,
        )

USER = 4242


@pytest.fixture
async def api() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
async def bot(api: BotApiStandIn) -> AsyncIterator[Bot]:
    async with Bot(api.token, base_url=api.base_url) as tg_bot:
        yield tg_bot


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# ------------------------------------------------------------------------------- basics


async def test_get_me(api: BotApiStandIn, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == BOT_ID
    assert me.is_bot is True
    assert me.username == BOT_USERNAME
    assert bot.username == BOT_USERNAME  # filled in by Bot.initialize() from getMe
    assert api.root_url.startswith("http://127.0.0.1:")
    assert [name for name, _ in api.calls].count("getMe") >= 2


async def test_send_message_returns_message_and_keyboard_round_trips(
    api: BotApiStandIn, bot: Bot
) -> None:
    markup = keyboard(("Better", "fb:better"), ("Worse", "fb:worse"))
    message = await bot.send_message(chat_id=USER, text="How is your back?", reply_markup=markup)

    assert isinstance(message, Message)
    assert message.text == "How is your back?"
    assert message.chat.id == USER
    assert message.chat.type == "private"
    assert message.from_user is not None and message.from_user.id == BOT_ID
    assert message.reply_markup == markup
    assert isinstance(message.date, dtm.datetime)
    assert abs(message.date.timestamp() - time.time()) < 5

    sent = api.last_message_to(USER)
    assert sent.method == "sendMessage"
    assert sent.message_id == message.message_id
    assert sent.text == "How is your back?"
    assert sent.reply_markup == markup.to_dict()
    assert sent.callback_data() == ["fb:better", "fb:worse"]
    assert sent.button_data("Worse") == "fb:worse"


async def test_message_ids_increase_per_chat(api: BotApiStandIn, bot: Bot) -> None:
    first = await bot.send_message(USER, "one")
    second = await bot.send_message(USER, "two")
    other = await bot.send_message(USER + 1, "elsewhere")
    assert second.message_id == first.message_id + 1
    assert other.message_id == 1
    assert [m.text for m in api.messages_to(USER)] == ["one", "two"]


async def test_reply_keyboard_is_recorded_but_not_echoed(api: BotApiStandIn, bot: Bot) -> None:
    message = await bot.send_message(USER, "pick", reply_markup=ReplyKeyboardMarkup([["A"]]))
    assert message.reply_markup is None  # Telegram only echoes inline keyboards
    recorded = api.last_message_to(USER).reply_markup
    assert recorded is not None and recorded["keyboard"] == [[{"text": "A"}]]


# ------------------------------------------------------------------------------- updates


async def test_get_updates_delivers_until_confirmed(api: BotApiStandIn, bot: Bot) -> None:
    queued = api.user_sends_text(USER, "/start@recovery_coach_test_bot hello", first_name="Ann")

    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [queued["update_id"]]
    message = updates[0].message
    assert message is not None
    assert message.text == "/start@recovery_coach_test_bot hello"
    assert message.from_user is not None and message.from_user.first_name == "Ann"
    assert message.chat.id == USER
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bot_command", 0, len("/start@recovery_coach_test_bot"))
    ]
    assert message.parse_entities(["bot_command"])  # PTB can slice the command out

    again = await bot.get_updates(timeout=0)  # not confirmed yet: delivered again
    assert [u.update_id for u in again] == [queued["update_id"]]

    confirmed = await bot.get_updates(offset=queued["update_id"] + 1, timeout=0)
    assert confirmed == ()
    assert api.pending_updates == []
    await api.wait_until_updates_consumed(timeout=0.1)

    later = api.user_sends_text(USER, "plain text")
    assert later["update_id"] == queued["update_id"] + 1
    assert "entities" not in later["message"]
    updates = await bot.get_updates(offset=queued["update_id"] + 1, limit=5, timeout=0)
    assert [u.update_id for u in updates] == [later["update_id"]]


async def test_get_updates_limit_and_negative_offset(api: BotApiStandIn, bot: Bot) -> None:
    ids = [api.user_sends_text(USER, f"m{i}")["update_id"] for i in range(3)]
    assert [u.update_id for u in await bot.get_updates(limit=2, timeout=0)] == ids[:2]
    assert [u.update_id for u in await bot.get_updates(offset=-1, timeout=0)] == ids[2:]
    assert [u["update_id"] for u in api.pending_updates] == ids[2:]


async def test_long_poll_returns_when_an_update_arrives() -> None:
    async with (
        BotApiStandIn(max_long_poll=4.0) as api,
        Bot(api.token, base_url=api.base_url) as bot,
    ):
        started = time.monotonic()
        poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=10))
        await api.wait_for_calls("getUpdates", 1)
        api.user_sends_text(USER, "hi")
        updates = await asyncio.wait_for(poll, 5)
        assert [u.message.text for u in updates if u.message] == ["hi"]
        assert time.monotonic() - started < 3.0  # woke up early, did not sit out the cap


async def test_long_poll_is_capped() -> None:
    async with (
        BotApiStandIn(max_long_poll=0.2) as api,
        Bot(api.token, base_url=api.base_url) as bot,
    ):
        started = time.monotonic()
        assert await bot.get_updates(timeout=30, read_timeout=10) == ()
        assert 0.15 < time.monotonic() - started < 2.0
        assert api.calls_to("getUpdates")[-1]["timeout"] == 30


async def test_injected_updates_parse_in_ptb(api: BotApiStandIn, bot: Bot) -> None:
    sticker = Update.de_json(api.user_sends_sticker(USER), bot)
    photo = Update.de_json(api.user_sends_photo(USER, caption="my desk"), bot)
    edited = Update.de_json(
        api.user_sends_update(
            {
                "edited_message": {
                    "message_id": 99,
                    "date": int(time.time()),
                    "edit_date": int(time.time()),
                    "chat": {"id": USER, "type": "private", "first_name": "Test"},
                    "from": {"id": USER, "is_bot": False, "first_name": "Test"},
                    "text": "fixed typo",
                }
            }
        ),
        bot,
    )
    assert sticker.message is not None and sticker.message.sticker is not None
    assert photo.message is not None and photo.message.caption == "my desk"
    assert len(photo.message.photo) == 2
    assert edited.edited_message is not None and edited.edited_message.text == "fixed typo"
    assert edited.update_id == photo.update_id + 1
    assert len(await bot.get_updates(timeout=0)) == 3


# ------------------------------------------------------------------------------- errors


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_429_surfaces_as_retry_after(api: BotApiStandIn, bot: Bot) -> None:
    api.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as excinfo:
        await bot.send_message(USER, "too fast")
    assert retry_seconds(excinfo.value) == 7
    assert api.rejected_429 == 1
    assert api.sent == []
    assert (await bot.send_message(USER, "now fine")).text == "now fine"


async def test_blocked_user_gives_forbidden(api: BotApiStandIn, bot: Bot) -> None:
    await bot.send_message(USER, "hello")
    update = Update.de_json(api.user_blocks_bot(USER), bot)
    assert update.my_chat_member is not None
    assert update.my_chat_member.old_chat_member.status == "member"
    assert update.my_chat_member.new_chat_member.status == "kicked"

    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(USER, "are you there?")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(USER, "typing")
    assert (await bot.send_message(USER + 1, "others still work")).chat.id == USER + 1

    back = Update.de_json(api.user_unblocks_bot(USER), bot)
    assert back.my_chat_member is not None
    assert back.my_chat_member.new_chat_member.status == "member"
    assert (await bot.send_message(USER, "welcome back")).text == "welcome back"
    assert [m.text for m in api.messages_to(USER)] == ["hello", "welcome back"]


async def test_500_is_network_error_and_400_bad_request(api: BotApiStandIn, bot: Bot) -> None:
    api.fail_next("sendMessage", 500)
    with pytest.raises(NetworkError) as excinfo:
        await bot.send_message(USER, "x")
    assert excinfo.type is NetworkError  # not a BadRequest (which subclasses NetworkError)
    assert "Internal Server Error" in str(excinfo.value)

    api.fail_next("editMessageText", 400, description="Bad Request: message to edit not found")
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("y", chat_id=USER, message_id=1)


async def test_fail_next_times(api: BotApiStandIn, bot: Bot) -> None:
    api.fail_next("getMe", 502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.get_me()
    assert (await bot.get_me()).id == BOT_ID


async def test_wrong_token_is_invalid_token(api: BotApiStandIn) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("123:not-the-token", base_url=api.base_url):
            pass
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{api.root_url}/bot123:nope/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_method_is_404(api: BotApiStandIn, bot: Bot) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{api.base_url}{api.token}/sendTelepathy")
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": USER})


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_rate_limit(api: BotApiStandIn, bot: Bot) -> None:
    api.rate_limit(2)
    await bot.send_message(USER, "1")
    await bot.send_message(USER, "2")
    with pytest.raises(RetryAfter) as excinfo:
        await bot.send_message(USER, "3")
    assert retry_seconds(excinfo.value) == 1
    assert api.rejected_429 == 1
    assert len(api.sent) == 2
    await bot.send_chat_action(USER, "typing")  # other methods are not limited
    api.rate_limit(None)
    await bot.send_message(USER, "4")
    assert [m.text for m in api.sent] == ["1", "2", "4"]


async def test_delay_causes_timeout_and_drop_a_network_error(api: BotApiStandIn, bot: Bot) -> None:
    api.delay_next("sendMessage", 5.0)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "slow", read_timeout=0.2)

    api.drop_next("getMe")
    with pytest.raises(NetworkError):
        await bot.get_me()
    assert (await bot.get_me()).id == BOT_ID


# ------------------------------------------------------------------------------- methods


async def test_parameters_as_json_form_and_multipart(api: BotApiStandIn, bot: Bot) -> None:
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    url = f"{api.base_url}{api.token}/sendMessage"
    async with httpx.AsyncClient() as client:
        as_json = await client.post(
            url, json={"chat_id": USER, "text": "j", "reply_markup": markup}
        )
        as_form = await client.post(
            url, data={"chat_id": str(USER), "text": "123", "reply_markup": f"{markup}"}
        )
        as_form_json = await client.post(
            url,
            data={"chat_id": str(USER), "text": "true", "reply_markup": json.dumps(markup)},
        )
    body = as_json.json()
    assert body["ok"] is True and body["result"]["reply_markup"] == markup
    assert as_form.status_code == 400  # a Python repr is not JSON
    assert as_form.json()["error_code"] == 400
    assert as_form_json.json()["result"]["text"] == "true"  # text stays a string
    assert [m.reply_markup for m in api.messages_to(USER)] == [markup, markup]

    document = await bot.send_document(
        USER, document=b"day 1: walk 10 min\n", filename="plan.txt", caption="Your plan"
    )
    assert document.document is not None
    assert document.document.file_name == "plan.txt"
    assert document.document.file_size == len(b"day 1: walk 10 min\n")
    assert document.caption == "Your plan"
    sent = api.last_message_to(USER)
    assert (sent.method, sent.filename, sent.file_bytes, sent.text) == (
        "sendDocument",
        "plan.txt",
        b"day 1: walk 10 min\n",
        "Your plan",
    )


async def test_commands_round_trip(api: BotApiStandIn, bot: Bot) -> None:
    commands = [BotCommand("start", "Begin"), BotCommand("checkin", "Daily check-in")]
    assert await bot.set_my_commands(commands) is True
    assert api.commands == [
        {"command": "start", "description": "Begin"},
        {"command": "checkin", "description": "Daily check-in"},
    ]
    assert await bot.get_my_commands() == tuple(commands)
    assert await bot.get_my_commands(language_code="de") == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start", "capitals are not allowed")])


async def test_callback_answer_and_edits(api: BotApiStandIn, bot: Bot) -> None:
    sent = await bot.send_message(USER, "Pain level?", reply_markup=keyboard(("3", "pain:3")))
    api.user_taps(USER, sent.message_id, "pain:3")
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None
    assert query.data == "pain:3"
    assert query.from_user.id == USER
    assert query.chat_instance
    assert isinstance(query.message, Message)
    assert query.message.message_id == sent.message_id
    assert query.message.text == "Pain level?"
    assert query.message.reply_markup == keyboard(("3", "pain:3"))

    assert await query.answer("Saved") is True
    assert [(a.callback_query_id, a.text) for a in api.callback_answers] == [(query.id, "Saved")]
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("twice")

    edited = await bot.edit_message_text("Pain level: 3", chat_id=USER, message_id=sent.message_id)
    assert isinstance(edited, Message)
    assert edited.text == "Pain level: 3"
    assert edited.reply_markup is None  # editing text without reply_markup drops the keyboard
    assert edited.edit_date is not None
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Pain level: 3", chat_id=USER, message_id=sent.message_id)

    regrown = await bot.edit_message_reply_markup(
        chat_id=USER, message_id=sent.message_id, reply_markup=keyboard(("Undo", "undo"))
    )
    assert isinstance(regrown, Message) and regrown.reply_markup == keyboard(("Undo", "undo"))
    assert [m.method for m in api.messages_to(USER)] == [
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
    ]
    assert api.last_message_to(USER).text == "Pain level: 3"
    assert (
        api.current_message(USER, sent.message_id)["reply_markup"]
        == keyboard(("Undo", "undo")).to_dict()
    )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("nope", chat_id=USER, message_id=999)


async def test_user_taps_checks_the_keyboard(api: BotApiStandIn, bot: Bot) -> None:
    sent = await bot.send_message(USER, "Pick", reply_markup=keyboard(("A", "a")))
    with pytest.raises(AssertionError, match="no button"):
        api.user_taps(USER, sent.message_id, "b")
    with pytest.raises(AssertionError, match="no message 77"):
        api.user_taps(USER, 77, "a")
    forged = api.user_taps(USER, sent.message_id, "b", strict=False)
    assert forged["callback_query"]["data"] == "b"


async def test_validation_like_telegram(api: BotApiStandIn, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, "")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(USER, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "x", reply_markup=keyboard(("long", "d" * 65)))
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(USER, "Rest <b>today", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Unsupported start tag"):
        await bot.send_message(USER, "pain < 3 <br>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(USER, "Walk 10 min.", parse_mode="MarkdownV2")
    assert api.sent == []

    html = await bot.send_message(USER, "<b>Rest</b> &amp; walk &lt;3", parse_mode="HTML")
    assert html.text == "Rest & walk <3"
    md = await bot.send_message(USER, r"*Walk* 10 min\. \(easy\)", parse_mode="MarkdownV2")
    assert md.text == "Walk 10 min. (easy)"
    assert api.last_message_to(USER).text == r"*Walk* 10 min\. \(easy\)"
    assert api.last_message_to(USER).rendered_text == "Walk 10 min. (easy)"


def test_render_text_rules() -> None:
    assert render_text("[site](https://x.org/a_(b\\)) and `code_*`", "MarkdownV2") == (
        "site and code_*"
    )
    assert render_text("_it_ __u__ ~s~ ||sp||\n>quote", "MarkdownV2") == "it u s sp\nquote"
    assert render_text('<a href="https://x.org">x</a> <tg-spoiler>s</tg-spoiler>', "HTML") == (
        "x s"
    )
    assert render_text("*bold* _it_ [a](https://b)", "Markdown") == "bold it a"
    with pytest.raises(ValueError, match="Can't find end of Bold entity"):
        render_text("*open", "MarkdownV2")
    with pytest.raises(ValueError, match="Unmatched end tag"):
        render_text("<b><i>x</b></i>", "HTML")


async def test_chat_action_delete_close_and_logout(api: BotApiStandIn, bot: Bot) -> None:
    assert await bot.send_chat_action(USER, "typing") is True
    assert api.chat_actions == [(USER, "typing")]
    with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
        await bot.send_chat_action(USER, "dancing")
    message = await bot.send_message(USER, "temp")
    assert await bot.delete_message(USER, message.message_id) is True
    assert api.deleted_messages == [(USER, message.message_id)]
    assert await bot.close() is True and api.closed
    assert await bot.log_out() is True and api.logged_out


# ------------------------------------------------------------------------------- waiting


async def test_wait_helpers(api: BotApiStandIn, bot: Bot) -> None:
    async def later() -> None:
        await api.wait_for_calls("getMe", 1)
        await bot.send_message(USER, "first")
        await bot.send_message(USER, "second")

    task = asyncio.create_task(later())
    messages = await api.wait_for_messages(USER, 2, timeout=2)
    assert [m.text for m in messages] == ["first", "second"]
    await task

    seen = len(api.messages_to(USER))
    sending = asyncio.create_task(bot.send_message(USER, "third"))
    assert (await api.wait_for_new_message(USER, seen, timeout=2)).text == "third"
    await sending

    with pytest.raises(AssertionError) as excinfo:
        await api.wait_for_messages(USER, 5, timeout=0.05)
    assert "5 message(s) to chat 4242" in str(excinfo.value)
    assert "'third'" in str(excinfo.value)  # the dump shows what was sent

    api.user_sends_text(USER, "unread")
    with pytest.raises(AssertionError, match="confirm update"):
        await api.wait_until_updates_consumed(timeout=0.05)


# ------------------------------------------------------------------------------- webhook


async def test_webhook_mode(api: BotApiStandIn, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_TOKEN_HEADER), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        url = f"http://127.0.0.1:{port}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret-token") is True
        assert (api.webhook_url, api.webhook_secret_token) == (url, "s3cret-token")
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0

        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates(timeout=0)

        update = api.user_sends_text(USER, "/start")
        assert await api.post_update_to_webhook(url, update, "s3cret-token") == 200
        assert received == [("s3cret-token", update)]

        api.user_sends_text(USER, "queued")
        assert (await bot.get_webhook_info()).pending_update_count == 2
        assert await api.deliver_pending_to_webhook() == [200, 200]
        assert api.pending_updates == []
        assert [r[1]["message"]["text"] for r in received] == ["/start", "/start", "queued"]

        assert await bot.delete_webhook() is True
        assert (await bot.get_webhook_info()).url == ""
        assert await bot.get_updates(timeout=0) == ()
    finally:
        await runner.cleanup()


# ------------------------------------------------------------------------------- end to end


async def test_application_polling_end_to_end(api: BotApiStandIn) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "Welcome! Ready?", reply_markup=keyboard(("Ready", "ready"))
        )

    async def tapped(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("Noted")
        await query.edit_message_text(f"You chose {query.data}")

    app = ApplicationBuilder().token(api.token).base_url(api.base_url).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(tapped))

    await app.initialize()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        api.user_sends_text(USER, "/start")
        (welcome,) = await api.wait_for_messages(USER, 1)
        assert welcome.text == "Welcome! Ready?"
        assert welcome.callback_data() == ["ready"]

        api.user_taps(USER, welcome.message_id, welcome.button_data("Ready"))
        edit = await api.wait_for_new_message(USER, 1)
        assert (edit.method, edit.message_id, edit.text) == (
            "editMessageText",
            welcome.message_id,
            "You chose ready",
        )
        await api.wait_for(lambda: len(api.callback_answers) == 1, what="callback answer")
        assert api.callback_answers[0].text == "Noted"
        await api.wait_until_updates_consumed()
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()

    assert api.calls_to("deleteWebhook"), "PTB bootstraps polling with deleteWebhook"
    assert api.pending_updates == []
    assert not app.running
