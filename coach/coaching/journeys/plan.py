"""The self-care plan: start it, keep its days scheduled, and write its daily messages.

A plan starts when the symptom check ends without an urgent sign (or after "I've been seen").
Each day holds a morning plan message, two nudges and the evening check-in; the rows in the
follow-up table are the schedule, so a change of zone, time, pause or block recomputes them.
"""

from __future__ import annotations

from datetime import date, timedelta

from coach.clinical import progress
from coach.coaching.journeys.common import (
    Turn,
    hhmm,
    menu_choices,
    morning_time,
    plan_day,
    quiet_end,
    quiet_start,
    row_id,
    today_local,
)
from coach.coaching.replies import Reply
from coach.content import Content
from coach.scheduling.planner import DAILY_KINDS, DaySchedule, due_instant, local_date_of
from coach.storage import repository as repo
from coach.storage.models import Episode, EpisodeStatus, FollowUpKind, PersonState


def start_plan(turn: Turn, episode: Episode) -> list[Reply]:
    """Make the episode's plan active, schedule today and tomorrow, and show the plan."""
    person, session = turn.person, turn.session
    episode.status = EpisodeStatus.ACTIVE
    phase = progress.plan_phase(plan_day(turn, episode))
    episode.phase = phase
    session.add(episode)
    session.flush()
    today = today_local(turn)
    # The first check-in is tomorrow: today's answers are the symptom check's.
    schedule_day(turn, episode, today, include_checkin=False)
    schedule_day(turn, episode, today + timedelta(days=1))
    assert person.checkin_time is not None
    started = turn.content.ui(
        "plan_started",
        morning=hhmm(morning_time(turn)),
        time=hhmm(person.checkin_time),
        zone=person.timezone,
    )
    return [
        Reply(plan_text(turn.content, phase)),
        Reply(turn.content.advice("medicines")),
        Reply(started, menu_choices(turn.content)),
    ]


def plan_text(content: Content, phase: str) -> str:
    steps = "\n".join(f"• {step.text}" for step in content.plan_steps(phase))
    return f"{content.plan_title(phase)}\n\n{steps}"


# ---------------------------------------------------------------------- the schedule


def schedule_of(turn: Turn) -> DaySchedule:
    person = turn.person
    assert person.timezone is not None and person.checkin_time is not None
    return DaySchedule(
        zone=person.timezone,
        checkin_time=person.checkin_time,
        morning_time=morning_time(turn),
        quiet_start=quiet_start(turn),
        quiet_end=quiet_end(turn),
        person_id=row_id(person),
    )


def schedule_day(turn: Turn, episode: Episode, day: date, *, include_checkin: bool = True) -> None:
    """Schedule the day's follow-ups that are still ahead."""
    now = turn.clock.now()
    schedule = schedule_of(turn)
    for kind in DAILY_KINDS:
        if kind == FollowUpKind.CHECKIN and not include_checkin:
            continue
        due = due_instant(kind, schedule, day)
        if due is not None and due > now:
            repo.upsert_followup(
                turn.session,
                person=turn.person,
                episode=episode,
                kind=kind,
                local_date=day,
                due_at=due,
            )


def schedule_after_checkin(turn: Turn, episode: Episode, checkin_day: date) -> None:
    """After day D's check-in (sent or skipped): schedule the next day, never in the past."""
    now = turn.clock.now()
    schedule = schedule_of(turn)
    day = max(checkin_day + timedelta(days=1), local_date_of(schedule.zone, now))
    checkin_due = due_instant(FollowUpKind.CHECKIN, schedule, day)
    if checkin_due is None or checkin_due <= now:
        day += timedelta(days=1)
    schedule_day(turn, episode, day)


def reschedule(turn: Turn) -> None:
    """Recompute pending follow-ups after a change of zone, time, pause or block."""
    person, session = turn.person, turn.session
    repo.cancel_pending_followups(session, person=person, kinds=DAILY_KINDS)
    if person.blocked or person.state != PersonState.ACTIVE:
        return
    episode = repo.open_episode(session, person)
    if episode is None or episode.status != EpisodeStatus.ACTIVE:
        return
    today = today_local(turn)
    # Today's check-in, unless it is done or the plan only started today (first is tomorrow).
    assert episode.started_at is not None and person.timezone is not None
    started_today = local_date_of(person.timezone, episode.started_at) >= today
    done_today = repo.checkin_on(session, episode, today) is not None
    schedule_day(turn, episode, today, include_checkin=not (done_today or started_today))
    schedule_day(turn, episode, today + timedelta(days=1))


# ---------------------------------------------------------------------- daily messages


def morning_message(turn: Turn, episode: Episode, day: int) -> list[Reply]:
    """The morning plan; the phase moves from ice to heat as the days pass."""
    phase = progress.plan_phase(day)
    episode.phase = phase
    turn.session.add(episode)
    header = turn.content.ui("morning_header", day=day)
    if day == progress.ICE_PHASE_DAYS + 1:
        header += "\n" + turn.content.ui("phase_switch_heat")
    return [Reply(header + "\n\n" + plan_text(turn.content, phase))]


def walk_nudge(turn: Turn) -> list[Reply]:
    return [Reply(turn.content.advice("walk_nudge"))]


def care_nudge(turn: Turn, day: int) -> list[Reply]:
    key = "care_nudge_ice" if progress.plan_phase(day) == "ice" else "care_nudge_heat"
    return [Reply(turn.content.advice(key))]


def prevention_message(turn: Turn) -> list[Reply]:
    """The one message a few days after recovery."""
    return [Reply(turn.content.advice("prevention_followup"))]
