"""Child of bench.rate_limited, bench.handling_cost and bench.reply_latency: a polling bot
against the stand-in.

    python -m bench._bot_child coach DATABASE_URL API_ROOT_URL [--rate R] [--per-chat S]
        [--dispatch-interval S] [--bucket N]
    python -m bench._bot_child {echo|echo3} PEOPLE API_ROOT_URL
    python -m bench._bot_child replay TRANSCRIPT_JSON API_ROOT_URL [--background-rate R
        --background-first-chat C --background-span S --dispatch-interval S]

coach: the coach's real `build_application` (pipeline, AIORateLimiter, dispatch job), started the
way `coach run` (`telegram_adapter.app.serve`) starts it: initialize, post_init, start,
deleteWebhook, the coach's own Poller. --rate / --per-chat / --dispatch-interval override
`global_rate_per_second` (default 30), `per_chat_interval_seconds` (1) and
`dispatch_interval_seconds` (15). --bucket N (a baseline, not the coach's code): replace the
coach's limiter (a bucket of 1 refilled `rate` times a second) by the one it had before,
`AIORateLimiter(overall_max_rate=N, overall_time_period=1)`: a bucket of N.

echo: a bare PTB bot: a CommandHandler, a MessageHandler and a CallbackQueryHandler that each
reply with one send_message (carrying one button, so the driver can tap again). After start it
sends one message with a button to each of PEOPLE chats (1_000_001...), as the coach's
dispatcher sends the check-ins.
echo3: the same, but a button tap is answered the way the coach answers one: answer the
callback query, edit the tapped message, then send_message.

replay: a bare PTB bot (`concurrent_updates=True`, PTB's own updater) that makes the coach's Bot
API calls with the coach's own words and keyboards, and no logic or database: TRANSCRIPT_JSON
holds, step by step, what the coach sent one person going through a conversation (the messages
of each step, and whether the step was a tap). Each update from a chat is that chat's next step:
a tap is answered by answerCallbackQuery, editMessageText (the tapped question with "✓ <label>")
and the step's sendMessage(s); a text by the step's sendMessage(s). With --background-rate R it
also sends R plain messages a second (the coach's rendered follow-up texts in turn) to chats
from C on, in one burst per --dispatch-interval, 8 at a time, as the coach's dispatcher would.

stdin commands: `mark` -> report CPU seconds and peak RSS so far; `stop` (or EOF) -> stop.

Experiment switches (environment; none is set by the benchmarks themselves):
  BENCH_PROFILE=<path>       profile the whole run (event loop and worker threads) with cProfile;
  BENCH_PYSPY=<path>         sample it with py-spy from ready to stop (bench/_child.py);
  BENCH_WORKERS=<n>          run asyncio.to_thread in a pool of n threads (default 6 here);
  BENCH_EXPERIMENT=<names>   coach: prototypes of proposed changes (bench/_experiments.py);
  BENCH_ECHO_LIMITER=1       echo bots: install AIORateLimiter as the coach does (rate 100,000/s);
  BENCH_ECHO_BUTTONS=<n>     echo bots: n buttons per message instead of 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from typing import Any

from bench._child import (
    cpu_seconds,
    peak_rss_mb,
    pin,
    report,
    start_sampler,
    stop_sampler,
    vm_hwm_mb,
)

TOKEN = "7000001:AAH-StandInTokenForRecoveryCoachTests"
FIRST_CHAT = 1_000_001


def coach_application(url: str, api_root: str, options: argparse.Namespace) -> Any:
    from coach.settings import Settings
    from coach.telegram_adapter.app import build_application

    overrides: dict[str, Any] = {
        "database_url": url,
        "bot_api_url": api_root,
        "http_listen": "127.0.0.1:0",  # health/metrics on a free port (8080 may be taken)
    }
    if options.rate:
        overrides["global_rate_per_second"] = options.rate
    if options.per_chat is not None:
        overrides["per_chat_interval_seconds"] = options.per_chat
    if options.dispatch_interval:
        overrides["dispatch_interval_seconds"] = options.dispatch_interval
    application = build_application(Settings(**overrides), TOKEN)
    if options.bucket:
        # Baseline only (the limiter build_application had before): a bucket of N, refilled at
        # N per second, which lets a burst of N through after any pause.
        from telegram.ext import AIORateLimiter

        application.bot._rate_limiter = AIORateLimiter(
            overall_max_rate=options.bucket, overall_time_period=1, max_retries=0
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


def replay_application(transcript_path: str, api_root: str, options: argparse.Namespace) -> Any:
    from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
    from telegram.ext import (
        ApplicationBuilder,
        CallbackQueryHandler,
        ContextTypes,
        MessageHandler,
        filters,
    )

    with open(transcript_path) as handle:
        transcript = json.load(handle)

    def markup_of(rows: list[list[list[str]]]) -> InlineKeyboardMarkup | None:
        if not rows:
            return None
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(label, callback_data=data) for label, data in row]
                for row in rows
            ]
        )

    steps = [
        [
            (message["text"], markup_of(message["buttons"]), bool(message.get("in_place")))
            for message in step["messages"]
        ]
        for step in transcript["steps"]
    ]
    labels = {data: label for step in transcript["steps"] for label, data in step["offered"]}
    step_of: dict[int, int] = {}

    def take_step(chat_id: int) -> list[tuple[str, Any, bool]]:
        index = step_of.get(chat_id, 0)
        step_of[chat_id] = index + 1
        return steps[min(index, len(steps) - 1)]

    async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_chat is not None
        for text, markup, _ in take_step(update.effective_chat.id):
            await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)

    async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        # The same Bot API calls the coach made for this step: answer the tap, then either put
        # the next question in the answered one's place or mark the choice and send anew.
        query = update.callback_query
        assert query is not None and update.effective_chat is not None
        await query.answer()
        step = take_step(update.effective_chat.id)
        message = query.message
        marks = not any(in_place for _, _, in_place in step)
        if marks and message is not None and getattr(message, "text", None):
            label = labels.get(query.data or "", "")
            await query.edit_message_text(f"{message.text}\n\n✓ {label}")  # type: ignore[union-attr]
        for text, markup, in_place in step:
            if in_place:
                await query.edit_message_text(text, reply_markup=markup)
            else:
                await context.bot.send_message(update.effective_chat.id, text, reply_markup=markup)

    application = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(f"{api_root}/bot")
        .concurrent_updates(True)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    application.add_handler(CallbackQueryHandler(on_button))
    if options.background_rate:
        texts = transcript["background"]
        per_tick = max(1, round(options.background_rate * options.dispatch_interval))
        state = {"next": 0}

        async def burst(context: ContextTypes.DEFAULT_TYPE) -> None:
            if state["next"] >= options.background_rate * options.background_span:
                return
            numbers = iter(range(state["next"], state["next"] + per_tick))
            state["next"] += per_tick

            async def worker() -> None:
                for n in numbers:
                    message = texts[n % len(texts)]
                    await context.bot.send_message(
                        options.background_first_chat + n,
                        message["text"],
                        reply_markup=markup_of(message["buttons"]),
                    )

            await asyncio.gather(*(worker() for _ in range(8)))

        assert application.job_queue is not None
        application.job_queue.run_repeating(burst, interval=options.dispatch_interval, first=0.5)
    return application


async def commands() -> None:
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


async def main(options: argparse.Namespace) -> None:
    pin()
    if os.environ.get("BENCH_WORKERS"):  # experiment: the pool asyncio.to_thread runs in
        from concurrent.futures import ThreadPoolExecutor

        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(int(os.environ["BENCH_WORKERS"]))
        )
    mode = options.mode
    poller = None
    if mode == "coach":
        from coach.telegram_adapter.app import ALLOWED_UPDATES, runtime_of
        from coach.telegram_adapter.polling import Poller

        application = coach_application(options.target, options.api_root, options)
        await application.initialize()
        if application.post_init:
            await application.post_init(application)
        await application.start()
        await application.bot.delete_webhook()
        # Steady state: the reader of typed messages is built before the people start (the
        # coach builds it in the background a few seconds after start-up; bench.scale_startup
        # measures start-up itself). Its import would otherwise land in the first seconds.
        from coach.clinical.understanding import reader_for

        lexicon = runtime_of(application).coach.content.lexicon
        if lexicon is not None:
            await asyncio.to_thread(reader_for, lexicon)
        if os.environ.get("BENCH_EXPERIMENT"):  # prototypes of proposed changes
            from bench._experiments import apply

            apply(runtime_of(application).courier)
        poller = Poller(runtime_of(application), allowed_updates=ALLOWED_UPDATES)
        poller.start()
    else:
        if mode == "replay":
            application = replay_application(options.target, options.api_root, options)
        else:
            application = echo_application(options.api_root, like_coach=mode == "echo3")
        # As Application.run_polling does it.
        await application.initialize()
        if application.post_init:
            await application.post_init(application)
        await application.updater.start_polling()
        await application.start()
    sampler = start_sampler()
    report(ready={"cpu_s": cpu_seconds(), "rss_peak_mb": peak_rss_mb()})
    if mode in ("echo", "echo3"):
        markup = application.bot_data["first_markup"]
        for chat in range(FIRST_CHAT, FIRST_CHAT + int(options.target)):
            await application.bot.send_message(chat, "Time for your check-in", reply_markup=markup)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(commands(), 900)
    report(final={"cpu_s": cpu_seconds(), "rss_peak_mb": peak_rss_mb(), "vm_hwm_mb": vm_hwm_mb()})
    stop_sampler(sampler)
    if poller is not None:
        from coach.telegram_adapter.app import runtime_of

        await poller.stop()
        runtime_of(application).dispatcher.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime_of(application).dispatcher.wait_idle(), 20)
    else:
        await application.updater.stop()
    await application.stop()
    await application.shutdown()
    if application.post_shutdown:
        await application.post_shutdown(application)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench._bot_child")
    parser.add_argument("mode", choices=["coach", "echo", "echo3", "replay"])
    parser.add_argument("target", help="coach: database URL; echo: people; replay: transcript")
    parser.add_argument("api_root")
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--per-chat", type=float, default=None)
    parser.add_argument("--dispatch-interval", type=float, default=None)
    parser.add_argument("--bucket", type=float, default=None)
    parser.add_argument("--background-rate", type=float, default=0.0)
    parser.add_argument("--background-first-chat", type=int, default=FIRST_CHAT)
    parser.add_argument("--background-span", type=float, default=0.0)
    options = parser.parse_args(argv)
    if options.mode == "replay" and options.dispatch_interval is None:
        options.dispatch_interval = 15.0
    return options


if __name__ == "__main__":
    options = parse(sys.argv[1:])
    profile_to = os.environ.get("BENCH_PROFILE")  # a path: write cProfile stats there
    if profile_to:
        from bench._profile import ThreadsProfile

        profile = ThreadsProfile()
        profile.start()
        asyncio.run(main(options))
        profile.stop(profile_to)
    else:
        asyncio.run(main(options))
