"""The `coach` command: `coach run`, `coach simulate`, `coach migrate`."""

from __future__ import annotations

import argparse
import sys

from coach.content import ContentError, load_content
from coach.logging_setup import configure_logging
from coach.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coach", description="Recovery Coach")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the Telegram bot (applies migrations first)")
    sub.add_parser("migrate", help="bring the database schema up to date")
    simulate = sub.add_parser("simulate", help="replay example journeys on a simulated clock")
    simulate.add_argument("journeys", nargs="*", help="journey names (default: all)")
    args = parser.parse_args(argv)

    if args.command == "simulate":
        from coach.simulate import run_simulation

        return run_simulation(args.journeys)
    try:
        settings = load_settings()
        if args.command == "migrate":
            from coach.storage.database import migrate

            configure_logging(settings.log_level)
            migrate(settings.resolved_database_url)
            print("database is up to date")
            return 0
        token = settings.require_token()
        settings.check_mode()
        load_content(settings.content_dir)
    except (SettingsError, ContentError) as exc:
        print(f"coach: {exc}", file=sys.stderr)
        return 2
    secrets = [token, token.split(":", 1)[1]]
    if settings.webhook_secret is not None:
        secrets.append(settings.webhook_secret.get_secret_value())
    configure_logging(settings.log_level, secrets)
    from coach.telegram_adapter.app import run_bot

    return run_bot(settings, token)
