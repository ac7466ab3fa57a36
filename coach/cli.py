"""The `coach` command: `coach run`, `coach simulate`, `coach migrate`, `coach report`.

Every start-up failure an operator can cause ends in one line on stderr naming the setting and
what to do, with exit code 2 (change the configuration) or 3 (a dependency did not answer after
retrying). The traceback behind it is shown only with COACH_LOG_LEVEL=DEBUG.
"""

from __future__ import annotations

import argparse
import logging
from importlib.metadata import PackageNotFoundError, version

from coach.content import ContentError
from coach.content.languages import LANGUAGES, load_languages
from coach.logging_setup import configure_logging, report_failure
from coach.operator_report import REPORT_HELP
from coach.operator_report import add_arguments as add_report_arguments
from coach.settings import Settings, StartupError, load_settings

log = logging.getLogger(__name__)

SETTINGS_HELP = """\
settings come from the environment or from a .env file in the folder the coach starts in
(see .env.example); the token is never given on the command line. The full list, with defaults,
is in the README's "Configuration"; running it: docs/operations.md.
exit codes: 0 stopped cleanly, 2 a setting must change, 3 a dependency stayed down."""

RUN_HELP = f"""\
Run the Telegram bot: wait for the database (COACH_DATABASE_WAIT_SECONDS), bring its schema up
to date, check the content, then take updates until SIGTERM/SIGINT.

needs:    TELEGRAM_BOT_TOKEN (from @BotFather)
database: COACH_DATABASE_URL (default: a SQLite file under COACH_DATA_DIR, ./data)
Telegram: COACH_MODE polling|webhook, COACH_BOT_API_URL, and for webhook mode
          COACH_WEBHOOK_URL, COACH_WEBHOOK_SECRET, COACH_WEBHOOK_LISTEN
health:   COACH_HTTP_LISTEN (/healthz and /metrics), COACH_LOG_LEVEL

{SETTINGS_HELP}"""

MIGRATE_HELP = f"""\
Bring the database schema up to date and say which database it was (without its password).
`coach run` does this itself at every start; use this before an upgrade or to check access.

database: COACH_DATABASE_URL (default: a SQLite file under COACH_DATA_DIR, ./data),
          COACH_DATABASE_WAIT_SECONDS

{SETTINGS_HELP}"""


def _journeys_help() -> str:
    from coach.simulate import JOURNEYS

    lines = [f"  {j.name:<16}{j.description}" for j in JOURNEYS]
    return (
        "Replay example journeys through the real coach on a simulated clock: no token, no\n"
        "network, a throw-away database; prints every message the person would receive.\n"
        "The content: COACH_CONTENT_DIR when set, else the one shipped with the coach.\n\n"
        "journeys:\n" + "\n".join(lines)
    )


def _version() -> str:
    try:
        return version("recovery-coach")
    except PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="coach",
        description="Recovery Coach: a self-hosted Telegram bot for an acute back spasm.",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{run,migrate,simulate,report}"
    )
    raw = argparse.RawDescriptionHelpFormatter
    sub.add_parser("run", help="run the Telegram bot", description=RUN_HELP, formatter_class=raw)
    sub.add_parser(
        "migrate",
        help="bring the database schema up to date",
        description=MIGRATE_HELP,
        formatter_class=raw,
    )
    simulate = sub.add_parser(
        "simulate",
        help="replay example journeys on a simulated clock",
        description=_journeys_help(),
        formatter_class=raw,
    )
    simulate.add_argument("journeys", nargs="*", help="journey names (default: all)")
    simulate.add_argument(
        "--lang",
        default="en",
        choices=LANGUAGES,
        help="the person's language (es, de, fr replay in Madrid, Berlin, Paris; default: en)",
    )
    report = sub.add_parser(
        "report",
        help="outcome counts for a period (no personal data)",
        description=REPORT_HELP,
        formatter_class=raw,
    )
    add_report_arguments(report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    debug = False
    try:
        settings = load_settings()
        debug = settings.log_level == "DEBUG"
        configure_logging(settings.log_level, settings.secret_values())
        return _command(args, settings)
    except (StartupError, ContentError) as exc:
        if debug:
            log.debug("start-up failed", exc_info=exc)
        report_failure(str(exc))
        return exc.exit_code if isinstance(exc, StartupError) else 2


def _command(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "simulate":
        from coach.simulate import run_simulation

        load_languages(settings.content_dir)  # a broken folder is one line naming the file
        return run_simulation(args.journeys, language=args.lang)
    if args.command == "report":
        from coach.operator_report import run_report

        return run_report(args, settings)
    if args.command == "migrate":
        from coach.telegram_adapter.app import prepare_database

        prepare_database(settings)
        print(f"database is up to date: {settings.database_shown}")
        return 0
    token = settings.require_token()
    settings.check_mode()
    load_languages(settings.content_dir)
    from coach.telegram_adapter.app import run_bot

    return run_bot(settings, token)
