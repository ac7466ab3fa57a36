"""Due follow-ups → replies: the one place that maps a follow-up's kind to the journey that
writes it, after deciding whether it should still go out at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from coach.clinical import progress
from coach.coaching.journeys import checkin, plan
from coach.coaching.journeys.common import Coaching, Turn, row_id
from coach.coaching.replies import Reply
from coach.scheduling.planner import in_quiet_hours
from coach.storage import repository as repo
from coach.storage.models import (
    Episode,
    EpisodeStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    PersonState,
)


@dataclass(frozen=True)
class PreparedFollowUp:
    """A due follow-up rendered for sending."""

    followup_id: int
    person_id: int
    chat_id: int
    replies: list[Reply]


def render_followup(
    coaching: Coaching, session: Session, followup: FollowUp
) -> PreparedFollowUp | None:
    """Turn a claimed, due follow-up into replies, or settle it (skipped/cancelled) and return
    None. Runs once per follow-up, in the unit of work that queues the replies in the outbox
    and marks the follow-up sent: a failed delivery retries the outbox row, never this.
    """
    person = repo.person_by_id(session, followup.person_id)
    episode = repo.episode_by_id(session, followup.episode_id)
    if person is None or episode is None:
        _settle(followup, "cancelled: person or episode gone")
        session.add(followup)
        return None
    turn = coaching.turn(session, person)
    reason = _why_not_send(turn, episode, followup, coaching.clock.now())
    if reason is not None:
        _settle(followup, reason)
        session.add(followup)
        # A skipped check-in still has a tomorrow: the next day is scheduled as if it was sent.
        if followup.kind == FollowUpKind.CHECKIN and followup.status == FollowUpStatus.SKIPPED:
            plan.schedule_after_checkin(turn, episode, followup.local_date)
        return None
    replies = _render(turn, episode, followup)
    followup.lease_until = None
    if not replies:
        _settle(followup, "skipped: nothing to send")
        session.add(followup)
        return None
    followup.status = FollowUpStatus.QUEUED
    followup.attempts += 1
    session.add(followup)
    return PreparedFollowUp(row_id(followup), row_id(person), person.chat_id, replies)


def _settle(followup: FollowUp, reason: str) -> None:
    followup.status = (
        FollowUpStatus.SKIPPED if reason.startswith("skipped") else FollowUpStatus.CANCELLED
    )
    followup.last_error = reason
    followup.lease_until = None


def _why_not_send(turn: Turn, episode: Episode, followup: FollowUp, now: datetime) -> str | None:
    person = turn.person
    if person.blocked:
        return "cancelled: blocked"
    if person.state != PersonState.ACTIVE:
        return f"cancelled: person {person.state}"
    wanted = (
        EpisodeStatus.RECOVERED
        if followup.kind == FollowUpKind.PREVENTION
        else EpisodeStatus.ACTIVE
    )
    if episode.status != wanted:
        return f"cancelled: episode {episode.status}"
    assert followup.due_at is not None
    if now - followup.due_at > timedelta(hours=turn.settings.catch_up_hours):
        return "skipped: later than the catch-up window"
    schedule = plan.schedule_of(turn)
    local_now = now.astimezone(ZoneInfo(schedule.zone)).time()
    if now > followup.due_at and in_quiet_hours(
        local_now, schedule.quiet_start, schedule.quiet_end
    ):
        return "skipped: would arrive in quiet hours"
    if followup.kind == FollowUpKind.CHECKIN_REMINDER and not checkin.is_open(
        turn, followup.local_date
    ):
        return "cancelled: already answered"
    return None


def _render(turn: Turn, episode: Episode, followup: FollowUp) -> list[Reply]:
    assert episode.onset_date is not None or followup.kind == FollowUpKind.PREVENTION
    day = progress.day_number(episode.onset_date or followup.local_date, followup.local_date)
    if followup.kind == FollowUpKind.MORNING_PLAN:
        return plan.morning_message(turn, episode, day)
    if followup.kind == FollowUpKind.NUDGE_WALK:
        return plan.walk_nudge(turn, day)
    if followup.kind == FollowUpKind.NUDGE_CARE:
        return []  # scheduled before the morning steps took it in: nothing of its own to say
    if followup.kind == FollowUpKind.PREVENTION:
        return plan.prevention_message(turn)
    if followup.kind == FollowUpKind.CHECKIN_REMINDER:
        return checkin.reminder(turn)
    return checkin.daily_checkin(turn, episode, followup)
