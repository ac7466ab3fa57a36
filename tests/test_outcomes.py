"""Operators' outcomes (`coach report`, coach/storage/outcomes.py) on a database with known
episodes: a real SQLite file and the real PostgreSQL server. Exact counts and quantiles."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from coach.cli import main
from coach.storage.database import create_db_engine, migrate, unit_of_work
from coach.storage.models import CheckIn, Decision, Episode, EpisodeStatus, Person
from coach.storage.outcomes import Period, Quartiles, outcomes, quartiles
from coach.storage.report_data import REPORT_REQUEST, record_report_request

MARCH = Period(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
TELEGRAM_IDS = (900001, 900002, 900003, 900004)


def day(month: int, dom: int, hour: int = 12) -> datetime:
    return datetime(2026, month, dom, hour, tzinfo=UTC)


@pytest.fixture
def known(database_url: str) -> sa.Engine:
    """Four people and six episodes whose every figure is worked out by hand below."""
    migrate(database_url)
    engine = create_db_engine(database_url)
    with unit_of_work(engine) as session:
        people = []
        for telegram_id, created, consented in zip(
            TELEGRAM_IDS,
            (day(3, 1), day(3, 10), day(4, 2), day(3, 15)),
            (True, True, False, False),
            strict=True,
        ):
            person = Person(
                telegram_user_id=telegram_id,
                chat_id=telegram_id,
                timezone="Europe/London",
                checkin_time=time(19),
                consent_at=created if consented else None,
                created_at=created,
                updated_at=created,
            )
            session.add(person)
            people.append(person)
        session.flush()
        p1, p2, p3, p4 = (p.id for p in people)

        def episode(person: int | None, started: datetime, tier: int, status: str) -> Episode:
            row = Episode(
                person_id=person,
                started_at=started,
                onset_date=started.date(),
                tier=tier,
                status=status,
                closed_at=None,
            )
            session.add(row)
            session.flush()
            return row

        def checkins(row: Episode, days: range, *, open_after: bool = False) -> None:
            for n in days:
                at = datetime.combine(row.onset_date + timedelta(days=n - 1), time(19), UTC)
                session.add(
                    CheckIn(
                        episode_id=row.id,
                        day=n,
                        local_date=at.date(),
                        started_at=at,
                        completed_at=at + timedelta(minutes=2),
                        pain=1,
                    )
                )
            if open_after:  # opened, never answered
                n = days.stop
                at = datetime.combine(row.onset_date + timedelta(days=n - 1), time(19), UTC)
                session.add(CheckIn(episode_id=row.id, day=n, local_date=at.date(), started_at=at))

        def decision(person: int | None, row: Episode, at: datetime, tier: int, rule: str) -> None:
            session.add(
                Decision(
                    person_id=person,
                    episode_id=row.id,
                    decided_at=at,
                    kind="escalation",
                    tier=tier,
                    rule=rule,
                    answers={"pain": 6},
                )
            )

        recovered = EpisodeStatus.RECOVERED
        e1 = episode(p1, day(3, 1), 0, recovered)  # recovered on day 5
        e1.closed_at = day(3, 6)
        checkins(e1, range(2, 6))
        session.add(
            Decision(
                person_id=p1,
                episode_id=e1.id,
                decided_at=day(3, 1),
                kind="triage",
                tier=0,
                rule="no_red_flags",
                answers={},
            )
        )
        e2 = episode(p2, day(3, 10), 1, recovered)  # SOON on day 3, recovered on day 9
        e2.closed_at = day(3, 20)
        checkins(e2, range(2, 10))
        decision(p2, e2, day(3, 12), 1, "no_improvement_day3")
        e3 = episode(p1, day(3, 20), 2, EpisodeStatus.AWAITING_CARE)
        decision(p1, e3, day(3, 20), 2, "fever")
        e4 = episode(p4, day(3, 15), 3, EpisodeStatus.HALTED_EMERGENCY)
        decision(p4, e4, day(3, 15), 3, "saddle_numbness")
        e5 = episode(p2, day(3, 25), 0, recovered)  # recovered on day 3; one check-in unanswered
        e5.closed_at = day(3, 29)
        checkins(e5, range(2, 4), open_after=True)
        e6 = episode(p3, day(4, 2), 1, recovered)  # April: outside the March period
        e6.closed_at = day(4, 10)
        checkins(e6, range(2, 8))
        decision(p3, e6, day(4, 5), 1, "no_improvement_day3")
        for person, row, at in ((p2, e2, day(3, 12)), (p2, e2, day(3, 13)), (p1, e3, day(3, 21))):
            record_report_request(session, person_id=person, episode_id=row.id, at=at)
        record_report_request(session, person_id=p3, episode_id=e6.id, at=day(4, 6))
        for row in (e1, e2, e5, e6):
            session.add(row)
    yield engine
    engine.dispose()


def test_quartiles_use_the_inclusive_method() -> None:
    assert quartiles([]) is None
    assert quartiles([4]) == Quartiles(4, 4, 4)
    assert quartiles([3, 5, 9]) == Quartiles(4.0, 5.0, 7.0)
    assert quartiles([9, 3, 7, 5]) == Quartiles(4.5, 6.0, 7.5)


def test_march_outcomes_are_exact(known: sa.Engine) -> None:
    result = outcomes(known, MARCH)
    assert result.people_started == 3 and result.people_consented == 2
    assert result.episodes_started == 5
    assert result.episodes_by_tier == {"self": 2, "soon": 1, "urgent": 1, "emergency": 1}
    assert result.escalations_by_rule == {
        "fever": 1,
        "no_improvement_day3": 1,
        "saddle_numbness": 1,
    }
    assert (result.checkins_opened, result.checkins_completed) == (15, 14)
    assert result.checkin_adherence == pytest.approx(14 / 15)
    assert result.recoveries == 3
    assert result.recovery_day == Quartiles(4.0, 5.0, 7.0)  # days 3, 5 and 9
    assert (result.report_requests, result.people_asking_for_report) == (3, 2)


def test_all_time_outcomes_include_april(known: sa.Engine) -> None:
    result = outcomes(known)
    assert result.people_started == 4 and result.episodes_started == 6
    assert result.episodes_by_tier == {"self": 2, "soon": 2, "urgent": 1, "emergency": 1}
    assert result.escalations_by_rule["no_improvement_day3"] == 2
    assert result.recoveries == 4
    assert result.recovery_day == Quartiles(4.5, 6.0, 7.5)  # days 3, 5, 7 and 9
    assert (result.report_requests, result.people_asking_for_report) == (4, 3)


def test_an_empty_period_has_zeros_and_no_quantiles(known: sa.Engine) -> None:
    result = outcomes(
        known, Period(datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC))
    )
    assert result.people_started == 0 and result.episodes_started == 0
    assert result.checkin_adherence is None and result.recovery_day is None


def test_report_requests_are_decisions_of_their_own_kind_with_no_answers(known: sa.Engine) -> None:
    with known.connect() as db:
        rows = db.execute(
            sa.select(Decision.answers, Decision.tier).where(Decision.kind == REPORT_REQUEST)
        ).all()
    assert len(rows) == 4 and all(answers == {} and tier == 0 for answers, tier in rows)


def _run_cli(
    database_url: str, args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> tuple[int, str, str]:
    monkeypatch.setenv("COACH_DATABASE_URL", database_url)
    monkeypatch.setenv("COACH_DATA_DIR", str(tmp_path))
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    code = main(["report", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_coach_report_prints_march_as_csv_with_counts_only(
    known: sa.Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    code, out, _ = _run_cli(
        database_url,
        ["--since", "2026-03-01", "--until", "2026-03-31", "--format", "csv"],
        monkeypatch,
        tmp_path,
        capsys,
    )
    assert code == 0
    rows = dict(list(csv.reader(io.StringIO(out)))[1:])
    assert rows["people_started"] == "3"
    assert rows["episodes_tier_emergency"] == "1"
    assert rows["escalations_fever"] == "1"
    assert rows["checkin_adherence"] == "0.933"
    assert (rows["recovery_day_q1"], rows["recovery_day_median"], rows["recovery_day_q3"]) == (
        "4",
        "5",
        "7",
    )
    assert rows["clinician_report_requests"] == "3"
    assert rows["people_asking_for_clinician_report"] == "2"
    assert not any(str(telegram_id) in out for telegram_id in TELEGRAM_IDS)


def test_coach_report_table_and_its_one_line_errors(
    known: sa.Engine, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    code, out, _ = _run_cli(database_url, ["--since", "2026-04-01"], monkeypatch, tmp_path, capsys)
    assert code == 0
    assert out.splitlines()[0] == "Outcomes from 2026-04-01 to now (UTC days; counts only)"
    assert "recovery_day_median" in out and "recovery_day_median                 7" in out
    code, _, err = _run_cli(
        database_url,
        ["--since", "2026-04-02", "--until", "2026-04-01"],
        monkeypatch,
        tmp_path,
        capsys,
    )
    assert code == 2 and err.strip() == "coach report: --since is after --until"


def test_coach_report_on_a_database_never_migrated_names_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    code, out, err = _run_cli(url, [], monkeypatch, tmp_path, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "COACH_DATABASE_URL" in err and "coach migrate" in err
