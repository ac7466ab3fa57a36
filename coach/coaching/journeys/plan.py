"""The self-care plan: start it, keep its days scheduled, and write its daily messages.

A plan starts when the symptom check ends without an urgent sign (or after "I've been seen").
Each day holds three unprompted messages: a short morning message with the day's steps, one
walk nudge whose minutes grow with the days, and the evening check-in. The day the plan starts
has only the plan itself (and the check-in from the next day). The rows in the follow-up table are
the schedule, so a change of zone, time, pause or block recomputes them.
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

WALK_START_MINUTES = 10
WALK_STEP_MINUTES = 5
WALK_MAX_MINUTES = 30


def start_plan(turn: Turn, episode: Episode) -> list[Reply]:
    """Make the episode's plan active, schedule today and tomorrow, and show the plan."""
    person, session = turn.person, turn.session
    episode.status = EpisodeStatus.ACTIVE
    phase = progress.plan_phase(plan_day(turn, episode))
    episode.phase = phase
    session.add(episode)
    session.flush()
    today = today_local(turn)
    # Nothing more today: the plan was just shown, and the symptom check's answers are today's.
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


def schedule_day(turn: Turn, episode: Episode, day: date) -> None:
    """Schedule the day's follow-ups that are still ahead."""
    now = turn.clock.now()
    schedule = schedule_of(turn)
    for kind in DAILY_KINDS:
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
    # Today's messages, unless the plan only started today (it was just shown; the first
    # check-in is tomorrow) or today's check-in is done (the day's messages are behind).
    if not (started_today(turn, episode) or repo.checkin_on(session, episode, today) is not None):
        schedule_day(turn, episode, today)
    schedule_day(turn, episode, today + timedelta(days=1))


def started_today(turn: Turn, episode: Episode) -> bool:
    """Whether the plan started (was shown) today, in the person's zone."""
    assert episode.started_at is not None and turn.person.timezone is not None
    return local_date_of(turn.person.timezone, episode.started_at) >= today_local(turn)


# ---------------------------------------------------------------------- daily messages


def morning_message(turn: Turn, episode: Episode, day: int) -> list[Reply]:
    """Today's three steps (cold or heat, walks, rest or stretches), not the whole plan; the
    move from cold to heat is announced once, the first morning of the heat phase."""
    content = turn.content
    phase = progress.plan_phase(day)
    switched = episode.phase == progress.Phase.ICE and phase == progress.Phase.HEAT
    episode.phase = phase
    turn.session.add(episode)
    header = content.ui("morning_header", day=day)
    if switched:
        header += "\n" + content.ui("phase_switch_heat")
    header += " " + content.ui("morning_today")
    if phase == progress.Phase.ICE:
        steps = [
            content.advice("care_nudge_ice"),
            content.advice("today_walk_ice"),
            content.advice("today_rest_ice"),
        ]
    else:
        steps = [
            content.advice("care_nudge_heat"),
            content.advice("today_walk_heat", minutes=walk_minutes(day)),
            content.advice("today_stretch_heat"),
        ]
    bullets = "\n".join(f"• {step}" for step in steps)
    return [Reply(f"{header}\n{bullets}\n\n{content.ui('morning_footer')}")]


def walk_minutes(day: int) -> int:
    """Minutes of a walk on plan day `day` of the heat phase: 10 on its first day, five more
    each day, up to half an hour (the plan: longer walks, building up)."""
    first_heat_day = progress.ICE_PHASE_DAYS + 1
    return min(WALK_START_MINUTES + WALK_STEP_MINUTES * (day - first_heat_day), WALK_MAX_MINUTES)


def walk_nudge(turn: Turn, day: int) -> list[Reply]:
    if progress.plan_phase(day) == progress.Phase.ICE:
        return [Reply(turn.content.advice("walk_nudge"))]
    return [Reply(turn.content.advice("walk_nudge_longer", minutes=walk_minutes(day)))]


def prevention_message(turn: Turn) -> list[Reply]:
    """The one message a few days after recovery."""
    return [Reply(turn.content.advice("prevention_followup"))]
