"""`coach report`: outcomes over a period for operators, as a table or CSV. Counts only."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coach.settings import Settings
    from coach.storage.outcomes import Outcomes

REPORT_HELP = """\
Print what the coach achieved over a period, as counts only (no person, no answer, no id):
people started, episodes by highest tier, escalations by rule, check-in adherence, the day
recovery was confirmed (median and quartiles), and requests for the clinician report.

Dates are whole UTC days: --since 2026-03-01 --until 2026-03-31 covers both days in full.
An episode counts in the period it started; a check-in when it was opened; a recovery when
the episode closed. The same figures, all time, are on /metrics as coach_outcome_*.

database: COACH_DATABASE_URL (default: a SQLite file under COACH_DATA_DIR, ./data)"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since", type=_day, help="first day, YYYY-MM-DD (UTC; default: the start)"
    )
    parser.add_argument("--until", type=_day, help="last day, YYYY-MM-DD (UTC; default: today)")
    parser.add_argument("--format", choices=("table", "csv"), default="table")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-03-31") from None


def run_report(args: argparse.Namespace, settings: Settings) -> int:
    """Print the outcomes; 2 with one line on stderr when the dates or the database are wrong."""
    import sqlalchemy as sa

    from coach.storage.database import create_db_engine
    from coach.storage.outcomes import Period, outcomes

    if args.since and args.until and args.since > args.until:
        print("coach report: --since is after --until", file=sys.stderr)
        return 2
    period = Period(
        since=datetime.combine(args.since, time(), UTC) if args.since else None,
        until=datetime.combine(args.until + timedelta(days=1), time(), UTC) if args.until else None,
    )
    engine = create_db_engine(settings.resolved_database_url)
    try:
        result = outcomes(engine, period)
    except sa.exc.SQLAlchemyError as exc:
        print(
            f"coach report: cannot read the database ({type(exc).__name__}); check "
            "COACH_DATABASE_URL and run `coach migrate`",
            file=sys.stderr,
        )
        return 2
    finally:
        engine.dispose()
    rows = report_rows(result)
    print(as_csv(rows) if args.format == "csv" else as_table(rows, _heading(args)), end="")
    return 0


def _heading(args: argparse.Namespace) -> str:
    since = args.since.isoformat() if args.since else "the start"
    until = args.until.isoformat() if args.until else "now"
    return f"Outcomes from {since} to {until} (UTC days; counts only)"


def report_rows(result: Outcomes) -> list[tuple[str, str]]:
    """(metric, value) rows, in the order the table prints them."""
    rows: list[tuple[str, str]] = [
        ("people_started", str(result.people_started)),
        ("people_consented", str(result.people_consented)),
        ("episodes_started", str(result.episodes_started)),
    ]
    rows += [(f"episodes_tier_{tier}", str(n)) for tier, n in result.episodes_by_tier.items()]
    rows += [(f"escalations_{rule}", str(n)) for rule, n in result.escalations_by_rule.items()]
    adherence = result.checkin_adherence
    rows += [
        ("checkins_opened", str(result.checkins_opened)),
        ("checkins_completed", str(result.checkins_completed)),
        ("checkin_adherence", "-" if adherence is None else f"{adherence:.3f}"),
        ("recoveries", str(result.recoveries)),
    ]
    quartiles = result.recovery_day
    for name in ("q1", "median", "q3"):
        value = "-" if quartiles is None else _number(getattr(quartiles, name))
        rows.append((f"recovery_day_{name}", value))
    rows += [
        ("clinician_report_requests", str(result.report_requests)),
        ("people_asking_for_clinician_report", str(result.people_asking_for_report)),
    ]
    return rows


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def as_table(rows: list[tuple[str, str]], heading: str) -> str:
    width = max(len(name) for name, _ in rows)
    lines = [heading, *(f"{name.ljust(width)}  {value}" for name, value in rows)]
    return "\n".join(lines) + "\n"


def as_csv(rows: list[tuple[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["metric", "value"])
    writer.writerows(rows)
    return buffer.getvalue()
