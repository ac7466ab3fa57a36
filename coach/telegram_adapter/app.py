"""Builds and runs the bot: settings → storage, content, coach, pipeline → Telegram.

The path of one update: `polling` or `webhook` → `runtime.process` → `inbound.to_inbound` →
`pipeline.service` (inbox, the person's lock, journeys, outbox) → `pipeline.courier` →
`sender.TelegramSender`. Scheduled follow-ups: the job queue wakes `pipeline.dispatcher`, which
renders what is due into the same outbox.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from telegram import BotCommand
from telegram.error import BadRequest, InvalidToken, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ContextTypes,
    ExtBot,
    JobQueue,
)
from tornado.httpserver import HTTPServer

from coach.clock import Clock, SystemClock
from coach.coaching.conversation import Coach
from coach.content import Content
from coach.content.languages import load_languages
from coach.content.loader import MENU_COMMANDS
from coach.logging_setup import loop_exception_handler
from coach.observability import (
    CoachMetrics,
    DatabaseCounts,
    HealthState,
    build_http_app,
    start_http_server,
)
from coach.pipeline.courier import Courier
from coach.pipeline.dispatcher import Dispatcher
from coach.pipeline.service import CoachService
from coach.settings import Settings, StartupError
from coach.storage.database import (
    DatabaseUnavailable,
    create_db_engine,
    migrate,
    wait_for_database,
)
from coach.telegram_adapter.polling import Poller
from coach.telegram_adapter.runtime import CoachRuntime, FloodGuard
from coach.telegram_adapter.sender import TelegramSender
from coach.telegram_adapter.webhook import webhook_app

log = logging.getLogger(__name__)

# The application as ApplicationBuilder builds it here: a rate-limited bot and the default context.
CoachApplication = Application[
    ExtBot[int],
    ContextTypes.DEFAULT_TYPE,
    dict[Any, Any],
    dict[Any, Any],
    dict[Any, Any],
    JobQueue[ContextTypes.DEFAULT_TYPE],
]

COMMANDS = MENU_COMMANDS  # the menu's order and names live with the content's descriptions
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
BOT_API_ATTEMPTS = 3  # getMe at start-up, 1 s then 2 s apart


def runtime_of(application: Application[Any, Any, Any, Any, Any, Any]) -> CoachRuntime:
    runtime = application.bot_data["runtime"]
    assert isinstance(runtime, CoachRuntime)
    return runtime


async def dispatch_tick(context: ContextTypes.DEFAULT_TYPE) -> None:
    runtime = runtime_of(context.application)
    try:
        report = await runtime.dispatch()
    except DatabaseUnavailable as exc:
        log.warning("dispatch skipped: database unreachable (%s); next tick retries", exc)
        return
    if report.claimed or report.replies_sent or report.retried:
        log.info(
            "dispatch: claimed=%d sent=%d skipped=%d retried=%d failed=%d blocked=%d replies=%d",
            report.claimed,
            report.sent,
            report.skipped,
            report.retried,
            report.failed,
            report.blocked,
            report.replies_sent,
        )
    # A row waiting to retry sooner than the next tick gets its own wake-up.
    wait = await runtime.courier.next_attempt_in()
    job_queue = context.application.job_queue
    interval = runtime.health.dispatch_interval
    pending = job_queue is not None and bool(job_queue.get_jobs_by_name("dispatch-retry"))
    if wait is not None and wait < interval and job_queue is not None and not pending:
        job_queue.run_once(dispatch_tick, when=max(wait, 0.05), name="dispatch-retry")


def build_application(
    settings: Settings,
    token: str,
    *,
    clock: Clock | None = None,
) -> CoachApplication:
    """Build the bot: storage, content, coach, pipeline, and the scheduler's tick."""
    clock = clock or SystemClock()
    content = load_languages(settings.content_dir)
    engine = create_db_engine(settings.resolved_database_url)
    coach = Coach(engine=engine, content=content, clock=clock, settings=settings)
    service = CoachService(coach=coach, clock=clock, catch_up_hours=settings.catch_up_hours)

    async def post_init(application: CoachApplication) -> None:
        runtime = runtime_of(application)
        await set_menu_commands(application, content)
        if settings.http_listen and runtime.http_server is None:
            _start_health_server(runtime, settings)

    async def post_shutdown(application: CoachApplication) -> None:
        runtime = runtime_of(application)
        if runtime.http_server is not None:
            runtime.http_server.stop()
            runtime.http_server = None
        engine.dispose()

    application = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{settings.bot_api_url}/bot")
        .base_file_url(f"{settings.bot_api_url}/file/bot")
        .updater(None)  # the coach polls itself: see polling.py
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
    health = HealthState(
        engine=engine, clock=clock, dispatch_interval=settings.dispatch_interval_seconds
    )

    def on_blocked(person_id: int) -> None:
        service.mark_blocked(person_id)

    courier = Courier(
        engine=engine,
        sender=TelegramSender(application.bot),
        clock=clock,
        on_blocked=on_blocked,
        lease_seconds=settings.lease_seconds,
        batch_size=settings.dispatch_batch_size,
        per_chat_interval=settings.per_chat_interval_seconds,
    )
    dispatcher = Dispatcher(
        service=service,
        courier=courier,
        clock=clock,
        batch_size=settings.dispatch_batch_size,
        lease_seconds=settings.lease_seconds,
    )
    metrics = CoachMetrics()
    metrics.registry.register(DatabaseCounts(engine))
    runtime = CoachRuntime(
        bot=application.bot,
        service=service,
        courier=courier,
        dispatcher=dispatcher,
        content=content,
        metrics=metrics,
        health=health,
        retention=timedelta(days=settings.retention_days) if settings.retention_days else None,
        flood_guard=FloodGuard(settings.flood_max_updates, settings.flood_window_seconds),
    )
    application.bot_data["runtime"] = runtime
    assert application.job_queue is not None
    application.job_queue.run_repeating(
        dispatch_tick,
        interval=settings.dispatch_interval_seconds,
        first=0.5,
        name="dispatch-due-follow-ups",
    )
    return application


async def set_menu_commands(application: CoachApplication, content: Content) -> None:
    """The command menu in each language (Telegram shows the one of the person's app), and in
    English for every other language."""
    for language, translation in sorted(content.translations.items()):
        commands = [BotCommand(name, translation.ui(f"cmd_{name}")) for name in COMMANDS]
        await application.bot.set_my_commands(commands, language_code=language)
    default = [BotCommand(name, content.ui(f"cmd_{name}")) for name in COMMANDS]
    await application.bot.set_my_commands(default)


def start_webhook_server(
    application: CoachApplication, settings: Settings
) -> tuple[HTTPServer, int]:
    """Serve the webhook endpoint; returns the server and its port."""
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret.get_secret_value()
    app = webhook_app(runtime_of(application), urlsplit(settings.webhook_url).path, secret)
    return start_http_server(app, settings.webhook_listen)


async def _register_webhook(application: CoachApplication, settings: Settings) -> None:
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    try:
        await application.bot.set_webhook(
            settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
    except BadRequest as exc:
        raise StartupError(
            f"Telegram refused COACH_WEBHOOK_URL ({exc.message}): use a public https:// URL on "
            "port 443, 80, 88 or 8443"
        ) from exc


async def start_webhook(
    application: CoachApplication, settings: Settings
) -> tuple[HTTPServer, int]:
    """Serve the webhook and register it with Telegram; returns the server and its port."""
    served = start_webhook_server(application, settings)
    await _register_webhook(application, settings)
    return served


def _start_health_server(runtime: CoachRuntime, settings: Settings) -> tuple[HTTPServer, int]:
    http_app = build_http_app(runtime.metrics, runtime.health, runtime.dispatcher)
    runtime.http_server, runtime.http_port = start_http_server(http_app, settings.http_listen)
    return runtime.http_server, runtime.http_port


async def _connect_to_bot_api(application: CoachApplication) -> None:
    """`getMe`, retried briefly: a rejected token stops at once, an unreachable API later."""
    for attempt in range(1, BOT_API_ATTEMPTS + 1):
        try:
            await application.initialize()
            return
        except InvalidToken as exc:
            raise StartupError(
                "Telegram rejected the token: set TELEGRAM_BOT_TOKEN to the token @BotFather gave"
            ) from exc
        except (NetworkError, TelegramError) as exc:
            if attempt == BOT_API_ATTEMPTS:
                raise StartupError(
                    f"cannot reach the Bot API at COACH_BOT_API_URL ({type(exc).__name__}, "
                    f"{attempt} attempts): check the URL and this machine's network",
                    exit_code=3,
                ) from exc
            log.warning(
                "Bot API not reachable (attempt %d, %s): retrying in %d s",
                attempt,
                type(exc).__name__,
                attempt,
            )
            await asyncio.sleep(attempt)


def _listening(start: Callable[[], tuple[HTTPServer, int]], setting: str, value: str) -> HTTPServer:
    """Bind a listener; an address that cannot be used is one line naming its setting."""
    try:
        return start()[0]
    except OSError as exc:
        raise StartupError(
            f"{setting}={value} cannot be used ({exc.strerror or type(exc).__name__}): "
            "choose a free port on an address of this machine, or stop what holds it"
        ) from exc


async def serve(settings: Settings, token: str) -> int:
    """Run until SIGTERM/SIGINT: updates in (polling or webhook), the scheduler's ticks out."""
    application = build_application(settings, token)
    runtime = runtime_of(application)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(loop_exception_handler)

    def on_signal() -> None:
        log.info("stop signal received: finishing the message in hand, then stopping")
        runtime.dispatcher.stop()
        stopped.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    await _connect_to_bot_api(application)
    poller: Poller | None = None
    webhook_server: HTTPServer | None = None
    try:
        if settings.http_listen:
            runtime.http_server = _listening(
                lambda: _start_health_server(runtime, settings),
                "COACH_HTTP_LISTEN",
                settings.http_listen,
            )
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        if settings.mode == "webhook":
            webhook_server = _listening(
                lambda: start_webhook_server(application, settings),
                "COACH_WEBHOOK_LISTEN",
                settings.webhook_listen,
            )
            await _register_webhook(application, settings)
        else:
            await application.bot.delete_webhook()
            poller = Poller(runtime, allowed_updates=ALLOWED_UPDATES)
            poller.start()
        log.info("coach started in %s mode", settings.mode)
        await stopped.wait()
    except (NetworkError, TelegramError) as exc:
        if isinstance(exc, InvalidToken):
            raise StartupError("Telegram rejected the token: check TELEGRAM_BOT_TOKEN") from exc
        raise StartupError(
            f"the Bot API at COACH_BOT_API_URL failed during start-up ({type(exc).__name__}): "
            "check the URL and the network, then start again",
            exit_code=3,
        ) from exc
    finally:
        if poller is not None:
            await poller.stop()
        if webhook_server is not None:
            webhook_server.stop()
        # Let the messages in hand finish, within the operator's grace period.
        try:
            await asyncio.wait_for(
                asyncio.gather(runtime.wait_replies(), runtime.dispatcher.wait_idle()),
                settings.stop_grace_seconds,
            )
        except TimeoutError:
            log.warning("stop grace period (COACH_STOP_GRACE_SECONDS) ran out")
        if application.running:
            await application.stop()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
    log.info("coach stopped")
    return 0


def prepare_database(settings: Settings) -> None:
    """Wait for the database (COACH_DATABASE_WAIT_SECONDS), then migrate it; StartupError if not."""
    try:
        wait_for_database(
            settings.resolved_database_url, max_wait_seconds=settings.database_wait_seconds
        )
        migrate(settings.resolved_database_url)
    except DatabaseUnavailable as exc:
        raise StartupError(
            f"database still unreachable after {settings.database_wait_seconds:.0f} s ({exc}): "
            "check COACH_DATABASE_URL and that the server is up "
            "(COACH_DATABASE_WAIT_SECONDS sets how long to wait)",
            exit_code=3,
        ) from exc
    except OSError as exc:  # the SQLite file's folder cannot be created or written
        raise StartupError(
            f"cannot create the database file ({exc.strerror or type(exc).__name__}): "
            "set COACH_DATA_DIR to a folder the coach may write, or COACH_DATABASE_URL"
        ) from exc
    except sa.exc.SQLAlchemyError as exc:
        raise StartupError(
            f"the database at COACH_DATABASE_URL refused the schema update "
            f"({type(exc).__name__}): check the user's rights on it",
            exit_code=3,
        ) from exc
    log.info("database ready: %s", settings.database_shown)


def run_bot(settings: Settings, token: str) -> int:
    """Start the coach; raises StartupError (one line for the operator) when it cannot start."""
    prepare_database(settings)
    return asyncio.run(serve(settings, token))
