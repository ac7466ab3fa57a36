"""The Telegram adapter: turns updates into coach inputs and the coach's replies into messages.

The whole bot's routing is in `build_application`, in one ordered block: order matters, the first
matching handler of a group wins.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from tornado.httpserver import HTTPServer

from coach.clock import Clock, SystemClock
from coach.coaching.conversation import Coach
from coach.coaching.replies import Outcome, Reply, UserRef
from coach.content import Content, load_content
from coach.content.loader import MENU_COMMANDS
from coach.logging_setup import current_update
from coach.observability import (
    CoachMetrics,
    DatabaseCounts,
    HealthState,
    build_http_app,
    parse_listen,
    start_http_server,
)
from coach.scheduling.dispatcher import (
    Dispatcher,
    DispatchReport,
    PermanentError,
    RecipientBlocked,
    RetryLater,
    TransientError,
    merge_replies,
)
from coach.settings import Settings
from coach.storage.database import create_db_engine, migrate

log = logging.getLogger(__name__)

COMMANDS = MENU_COMMANDS  # the menu's order and names live with the content's descriptions
MAX_TEXT_READ = 4096
PURGE_EVERY = 3600.0
LATE_AFTER_SECONDS = 60
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


def to_markup(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
            for row in reply.buttons
        ]
    )


class TelegramSender:
    """The dispatcher's courier over the Bot API; maps Telegram errors to what to do next."""

    def __init__(self, application: Application) -> None:
        self.application = application

    async def send(self, chat_id: int, reply: Reply) -> int:
        try:
            message = await self.application.bot.send_message(
                chat_id=chat_id, text=reply.text, reply_markup=to_markup(reply)
            )
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
            raise PermanentError(exc.message) from exc
        except NetworkError as exc:  # 5xx and connection errors
            raise TransientError("network") from exc
        return message.message_id


class FloodGuard:
    """At most `limit` updates per person in `window` seconds; beyond that, one polite note."""

    def __init__(self, limit: int = 20, window: float = 10.0) -> None:
        self.limit, self.window = limit, window
        self.seen: dict[int, deque[float]] = {}
        self.warned: dict[int, float] = {}

    def allow(self, user_id: int) -> tuple[bool, bool]:
        """(handle this update?, send the slow-down note?)"""
        now = time.monotonic()
        recent = self.seen.setdefault(user_id, deque())
        while recent and now - recent[0] > self.window:
            recent.popleft()
        recent.append(now)
        if len(self.seen) > 10_000:  # forget idle people so memory stays flat
            for uid in [u for u, q in self.seen.items() if not q or now - q[-1] > self.window]:
                self.seen.pop(uid, None)
                self.warned.pop(uid, None)
        if len(recent) <= self.limit:
            return True, False
        warn = now - self.warned.get(user_id, -self.window) > self.window
        if warn:
            self.warned[user_id] = now
        return False, warn


@dataclass
class CoachRuntime:
    """What the handlers need, kept in `application.bot_data`."""

    coach: Coach
    dispatcher: Dispatcher
    content: Content
    metrics: CoachMetrics
    http_server: HTTPServer | None = None
    http_port: int | None = None
    flood_guard: FloodGuard = field(default_factory=FloodGuard)
    retention: timedelta | None = None
    last_purge: float = 0.0

    async def dispatch(self) -> DispatchReport:
        """Send what is due and count it (the scheduler's job; tests call it directly)."""
        report = await self.dispatcher.run_once()
        record_dispatch(self.metrics, report)
        if self.retention is not None and time.monotonic() - self.last_purge > PURGE_EVERY:
            self.last_purge = time.monotonic()
            purged = await asyncio.to_thread(self.coach.purge_closed_episodes, self.retention)
            if purged:
                log.info("retention: erased %d closed episode(s)", purged)
        return report


def _runtime(context: ContextTypes.DEFAULT_TYPE) -> CoachRuntime:
    runtime = context.application.bot_data["runtime"]
    assert isinstance(runtime, CoachRuntime)
    return runtime


def _user(update: Update) -> UserRef | None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    return UserRef(user_id=user.id, chat_id=chat.id, language_code=user.language_code)


async def _send_outcome(context: ContextTypes.DEFAULT_TYPE, chat_id: int, outcome: Outcome) -> None:
    try:
        if outcome.document is not None:
            name, body = outcome.document
            await context.bot.send_document(chat_id, InputFile(body, filename=name))
        for reply in merge_replies(outcome.replies):
            await context.bot.send_message(chat_id, reply.text, reply_markup=to_markup(reply))
    except Forbidden:
        coach = _runtime(context).coach
        await asyncio.to_thread(coach.on_blocked_change, chat_id, blocked=True)


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


async def _in_coach_thread(func: Callable[[], Outcome]) -> Outcome:
    # Database work runs off the event loop, so a slow disk never stalls polling.
    return await asyncio.to_thread(func)


def command_handler(name: str) -> Handler:
    async def handle(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user = _user(update)
        if user is None:
            return
        coach = _runtime(context).coach
        outcome = await _in_coach_thread(lambda: coach.on_command(user, name))
        await _send_outcome(context, user.chat_id, outcome)

    return handle


async def on_unknown_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = _user(update)
    if user is None or update.effective_message is None:
        return
    text = update.effective_message.text or ""
    name = text.split()[0].lstrip("/").split("@")[0] if text else ""
    coach = _runtime(context).coach
    outcome = await _in_coach_thread(lambda: coach.on_command(user, f"unknown:{name[:32]}"))
    await _send_outcome(context, user.chat_id, outcome)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = _user(update)
    message = update.effective_message
    if user is None or message is None or message.text is None:
        return
    text = message.text[:MAX_TEXT_READ]
    coach = _runtime(context).coach
    outcome = await _in_coach_thread(lambda: coach.on_text(user, text))
    await _send_outcome(context, user.chat_id, outcome)


async def on_other_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    user = _user(update)
    if user is None:
        return
    coach = _runtime(context).coach
    outcome = await _in_coach_thread(lambda: coach.on_unsupported(user))
    await _send_outcome(context, user.chat_id, outcome)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    user = _user(update)
    if query is None or user is None:
        return
    data = query.data or ""
    coach = _runtime(context).coach
    outcome = await _in_coach_thread(lambda: coach.on_button(user, data))
    # An old query can no longer be answered; the reply below still goes out.
    with contextlib.suppress(BadRequest, NetworkError):
        await query.answer(outcome.ack)
    message = query.message
    if outcome.chosen and message is not None and hasattr(message, "text") and message.text:
        # Show the choice on the question and take its buttons away.
        with contextlib.suppress(BadRequest, NetworkError):
            await query.edit_message_text(f"{message.text}\n\n✓ {outcome.chosen}")
    await _send_outcome(context, user.chat_id, outcome)


async def on_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    await context.bot.send_message(chat.id, _runtime(context).content.ui("group_chat"))


async def on_my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    change = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    blocked = change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
    coach = _runtime(context).coach
    await asyncio.to_thread(coach.on_blocked_change, change.from_user.id, blocked=blocked)


async def on_edited_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    # An edit is not a new answer: applying it could change an answer already acted upon.
    return None


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    # Log the exception type and traceback, never the update (it holds message text).
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(
                update.effective_chat.id, _runtime(context).content.ui("idle_text")
            )
        except Exception:  # the error handler must never raise
            log.warning("could not tell the person about the error")


async def before_every_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Tag logs with the update id, count the update, and throttle floods from one person."""
    current_update.set(str(update.update_id))
    runtime = _runtime(context)
    kind = (
        "callback_query"
        if update.callback_query
        else "message"
        if update.message
        else "edited_message"
        if update.edited_message
        else "my_chat_member"
        if update.my_chat_member
        else "other"
    )
    runtime.metrics.updates_handled.labels(kind).inc()
    user = update.effective_user
    if user is None:
        return
    allowed, warn = runtime.flood_guard.allow(user.id)
    if not allowed:
        if warn and update.effective_chat is not None:
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(
                    update.effective_chat.id, runtime.content.ui("slow_down")
                )
        raise ApplicationHandlerStop


async def dispatch_tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    report = await _runtime(context).dispatch()
    if report.claimed:
        log.info(
            "dispatch: claimed=%d sent=%d skipped=%d retried=%d failed=%d blocked=%d",
            report.claimed,
            report.sent,
            report.skipped,
            report.retried,
            report.failed,
            report.blocked,
        )


def record_dispatch(metrics: CoachMetrics, report: DispatchReport) -> None:
    for outcome in ("sent", "skipped", "retried", "failed", "blocked"):
        amount = getattr(report, outcome)
        if amount:
            metrics.followups.labels(outcome).inc(amount)
    for lag in report.lag_seconds:
        metrics.dispatch_lag.observe(max(lag, 0.0))
        if lag > LATE_AFTER_SECONDS:
            metrics.followups_late.inc()
    metrics.last_dispatch.set_to_current_time()


def build_application(settings: Settings, token: str, *, clock: Clock | None = None) -> Application:
    """Build the bot: storage, content, coach, dispatcher and every handler, in order."""
    clock = clock or SystemClock()
    content = load_content(settings.content_dir)
    engine = create_db_engine(settings.resolved_database_url)
    coach = Coach(engine=engine, content=content, clock=clock, settings=settings)

    async def post_init(application: Application) -> None:
        await application.bot.set_my_commands(
            [BotCommand(name, content.ui(f"cmd_{name}")) for name in COMMANDS]
        )
        runtime = application.bot_data["runtime"]
        if settings.http_listen:
            health = HealthState(
                engine=engine, clock=clock, dispatch_interval=settings.dispatch_interval_seconds
            )
            http_app = build_http_app(runtime.metrics, health, runtime.dispatcher)
            runtime.http_server, runtime.http_port = start_http_server(
                http_app, settings.http_listen
            )

    async def post_shutdown(application: Application) -> None:
        runtime = application.bot_data["runtime"]
        if runtime.http_server is not None:
            runtime.http_server.stop()
            runtime.http_server = None
        engine.dispose()

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{settings.bot_api_url}/bot")
        .base_file_url(f"{settings.bot_api_url}/file/bot")
        .rate_limiter(
            # A bucket of one, refilled every 1/rate seconds: a bucket of 30 would let a burst of
            # 30 through after every pause and meet Telegram's 429 (bench/rate_limited.py).
            AIORateLimiter(
                overall_max_rate=1,
                overall_time_period=1 / settings.global_rate_per_second,
                max_retries=0,
            )
        )
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    dispatcher = Dispatcher(
        coach=coach,
        sender=TelegramSender(application),
        clock=clock,
        batch_size=settings.dispatch_batch_size,
        lease_seconds=settings.lease_seconds,
        per_chat_interval=settings.per_chat_interval_seconds,
    )
    metrics = CoachMetrics()
    metrics.registry.register(DatabaseCounts(engine))
    application.bot_data["runtime"] = CoachRuntime(
        coach,
        dispatcher,
        content,
        metrics,
        retention=timedelta(days=settings.retention_days) if settings.retention_days else None,
        flood_guard=FloodGuard(settings.flood_max_updates, settings.flood_window_seconds),
    )

    private = filters.ChatType.PRIVATE
    new_message = filters.UpdateType.MESSAGE
    # --- Routing, in order. ---------------------------------------------------------------
    # 0. Count every update (group -1 runs before the handlers below, and never stops them).
    application.add_handler(TypeHandler(Update, before_every_update), group=-1)
    # 1. Group chats: the coach works only in private chats and keeps nothing from groups.
    application.add_handler(
        MessageHandler(filters.ChatType.GROUPS & filters.COMMAND, on_group_message)
    )
    # 2. Commands of the menu.
    for name in COMMANDS:
        application.add_handler(CommandHandler(name, command_handler(name), filters=private))
    # 3. Any other command.
    application.add_handler(MessageHandler(private & filters.COMMAND, on_unknown_command))
    # 4. Button taps (question answers "q:<token>:<value>" and actions "a:<name>").
    application.add_handler(CallbackQueryHandler(on_button))
    # 5. Free text: pain scores, zones, times, red-flag words, anything else.
    application.add_handler(MessageHandler(private & new_message & filters.TEXT, on_text))
    # 6. Edits are not answers; stickers, photos, voice and the rest get a short answer.
    application.add_handler(MessageHandler(filters.UpdateType.EDITED, on_edited_message))
    application.add_handler(MessageHandler(private & new_message, on_other_message))
    # 7. The person blocked or unblocked the bot.
    application.add_handler(ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_error_handler(on_error)
    # --------------------------------------------------------------------------------------
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        dispatch_tick,
        interval=settings.dispatch_interval_seconds,
        first=0.5,
        name="dispatch-due-follow-ups",
    )
    return application


def install_stop_signals(application: Application) -> None:
    """SIGTERM/SIGINT: stop taking updates, let the dispatcher finish the follow-up in hand and
    release the rest of its batch, then shut down (well within the container's grace period)."""
    runtime: CoachRuntime = application.bot_data["runtime"]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        log.info("stop signal received: finishing the follow-up in hand, then stopping")
        runtime.dispatcher.stop()
        application.stop_running()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)


def run_bot(settings: Settings, token: str) -> int:
    migrate(settings.resolved_database_url)
    application = build_application(settings, token)
    original_post_init = application.post_init

    async def post_init(app: Application) -> None:
        if original_post_init is not None:
            await original_post_init(app)
        install_stop_signals(app)

    application.post_init = post_init
    log.info("coach starting in %s mode", settings.mode)
    if settings.mode == "webhook":
        assert settings.webhook_url is not None and settings.webhook_secret is not None
        host, port = parse_listen(settings.webhook_listen)
        application.run_webhook(
            listen=host,
            port=port,
            url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
            stop_signals=None,
        )
    else:
        application.run_polling(allowed_updates=ALLOWED_UPDATES, stop_signals=None)
    log.info("coach stopped")
    return 0
