"""Child of bench.rate_limited and bench.handling_cost: a polling bot against the stand-in.

    python -m bench._bot_child coach DATABASE_URL API_ROOT_URL [GLOBAL_RATE_PER_SECOND|-] [SMOOTH]
    python -m bench._bot_child {echo|echo3} PEOPLE API_ROOT_URL

coach: the coach's real `build_application` (handlers, AIORateLimiter, dispatch job), started
the way `Application.run_polling` starts it. GLOBAL_RATE_PER_SECOND overrides the setting
(default or "-": the coach's default, 30). SMOOTH (experiment, not the coach's code): replace the
AIORateLimiter by one with a bucket of 1 refilled SMOOTH times a second.

echo: a bare PTB bot: a CommandHandler, a MessageHandler and a CallbackQueryHandler that each
reply with one send_message (carrying one button, so the driver can tap again). After start it
sends one message with a button to each of PEOPLE chats (1_000_001...), as the coach's
dispatcher sends the check-ins.
echo3: the same, but a button tap is answered the way the coach answers one: answer the
callback query, edit the tapped message, then send_message: the same Bot API calls per tap
without the coach's logic and database.

stdin commands: `mark` -> report CPU seconds and peak RSS so far; `stop` (or EOF) -> stop.

Experiment switches (environment; none is set by the benchmarks themselves):
  BENCH_PROFILE=<path>       profile the whole run (main thread) with cProfile into <path>;
  BENCH_COACH_INLINE=1       coach: run its database work on the event loop, not asyncio.to_thread;
  BENCH_SWITCH_INTERVAL=<s>  sys.setswitchinterval(<s>) (the GIL hand-over interval);
  BENCH_ECHO_LIMITER=1       echo bots: install AIORateLimiter as the coach does (rate 100,000/s);
  BENCH_ECHO_BUTTONS=<n>     echo bots: n buttons per message instead of 1 (the coach sends 3-11).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from typing import Any

from bench._child import cpu_seconds, peak_rss_mb, pin, report, vm_hwm_mb

TOKEN = "7000001:AAH-StandInTokenForRecoveryCoachTests"
FIRST_CHAT = 1_000_001


def coach_application(url: str, api_root: str, rate: str | None, smooth: str | None) -> Any:
    from coach.settings import Settings
    from coach.telegram_adapter.app import build_application

    overrides: dict[str, Any] = {
        "database_url": url,
        "bot_api_url": api_root,
        "http_listen": "127.0.0.1:0",  # health/metrics on a free port (8080 may be taken)
    }
    if rate:
        overrides["global_rate_per_second"] = float(rate)
    if os.environ.get("BENCH_COACH_INLINE"):
        # Experiment only: run the coach's database work on the event loop, not in a thread.
        import coach.telegram_adapter.app as adapter

        async def inline(func: Any) -> Any:
            return func()

        adapter._in_coach_thread = inline
    if os.environ.get("BENCH_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["BENCH_SWITCH_INTERVAL"]))
    application = build_application(Settings(**overrides), TOKEN)
    if smooth:
        # Experiment only (the change proposed for build_application): a bucket of one, so
        # sends are spaced 1/rate apart instead of a burst of `rate` on top of `rate` per second.
        from telegram.ext import AIORateLimiter

        application.bot._rate_limiter = AIORateLimiter(
            overall_max_rate=1, overall_time_period=1 / float(smooth), max_retries=0
        )
    return application


def echo_application(api_root: str, *, like_coach: bool) -> Any:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import (
        ApplicationBuilder,
        CallbackQueryHandler,
        CommandHandler,
        ContextTypes,
        MessageHandler,
        filters,
    )

    width = int(os.environ.get("BENCH_ECHO_BUTTONS", "1"))
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Next", callback_data="next")]]
        + [
            [InlineKeyboardButton(f"Option number {i}", callback_data=f"q:1:{i}")]
            for i in range(1, width)
        ]
    )

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        await context.bot.send_message(update.effective_chat.id, "echo", reply_markup=markup)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and update.effective_chat is not None
        if like_coach:
            await query.answer()
            message = query.message
            if message is not None and getattr(message, "text", None):
                await query.edit_message_text(f"{message.text}\n\n✓ Next")  # type: ignore[union-attr]
        await context.bot.send_message(update.effective_chat.id, "echo", reply_markup=markup)

    builder = ApplicationBuilder().token(TOKEN).base_url(f"{api_root}/bot")
    if os.environ.get("BENCH_ECHO_LIMITER"):  # the coach's limiter, raised out of the way
        from telegram.ext import AIORateLimiter

        builder = builder.rate_limiter(
            AIORateLimiter(overall_max_rate=100_000, overall_time_period=1, max_retries=0)
        )
    application = builder.build()
    application.add_handler(CommandHandler("start", reply))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, reply))
    application.add_handler(CallbackQueryHandler(on_button))
    application.bot_data["first_markup"] = markup
    return application


async def commands(application: Any) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    try:
        while True:
            line = (await reader.readline()).decode().strip()
            if line == "mark":
                report(mark={"cpu_s": cpu_seconds(), "rss_peak_mb": peak_rss_mb()})
                continue
            return
    finally:
        transport.close()


async def main(mode: str, target: str, api_root: str, rate: str | None, smooth: str | None) -> None:
    pin()
    if mode == "coach":
        from coach.telegram_adapter.app import ALLOWED_UPDATES

        application = coach_application(target, api_root, rate, smooth)
        allowed: list[str] | None = ALLOWED_UPDATES
    else:
        application = echo_application(api_root, like_coach=mode == "echo3")
        allowed = None
    # As Application.run_polling does it.
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.updater.start_polling(allowed_updates=allowed)
    await application.start()
    report(ready={"cpu_s": cpu_seconds(), "rss_peak_mb": peak_rss_mb()})
    if mode != "coach":
        markup = application.bot_data["first_markup"]
        for chat in range(FIRST_CHAT, FIRST_CHAT + int(target)):
            await application.bot.send_message(chat, "Time for your check-in", reply_markup=markup)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(commands(application), 900)
    report(final={"cpu_s": cpu_seconds(), "rss_peak_mb": peak_rss_mb(), "vm_hwm_mb": vm_hwm_mb()})
    await application.updater.stop()
    await application.stop()
    await application.shutdown()


if __name__ == "__main__":
    args = sys.argv[1:]
    rate = args[3] if len(args) > 3 and args[3] != "-" else None
    smooth = args[4] if len(args) > 4 else None
    profile_to = os.environ.get("BENCH_PROFILE")  # a path: write cProfile stats there
    if profile_to:
        import cProfile

        cProfile.run("asyncio.run(main(args[0], args[1], args[2], rate, smooth))", profile_to)
    else:
        asyncio.run(main(args[0], args[1], args[2], rate, smooth))
