"""The daily check-in: opened by its follow-up (or /checkin), answered, and judged.

A check-in asks about emergency signs, pain, change and what was managed, plus the global
impression of change on days 3, 7 and 14 and daily activities from day 7. Its answers decide
recovery (the episode closes) or persistence (see a doctor). One gentle reminder follows an
unanswered check-in; after several silent days the coach asks whether to carry on.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from coach.clinical import progress, triage
from coach.coaching.journeys.common import (
    Turn,
    ask,
    ask_again,
    clear_flow,
    completed_checkins,
    hhmm,
    menu_choices,
    pain_in_words,
    today_local,
)
from coach.coaching.journeys.control import menu, progress_report, stop
from coach.coaching.journeys.escalation import escalate, recover, standing_advice
from coach.coaching.journeys.plan import reschedule, schedule_after_checkin, schedule_of
from coach.coaching.replies import Choice, Outcome, Reply
from coach.scheduling.planner import in_quiet_hours
from coach.storage import repository as repo
from coach.storage.models import CheckIn, Episode, EpisodeStatus, FollowUp, FollowUpKind

QUESTIONS = ("emergency", "pain", "change", "managed")
# How the pain started is settled at the symptom check; a daily re-screen asks only about signs
# that can appear later.
FIRST_CHECK_ONLY = frozenset({"serious_accident"})
PGIC_DAYS = (3, 7, 14)  # the global impression of change, asked once from each of these days
ACTIVITIES_DAY = 7


def checkin_now(turn: Turn) -> Outcome:
    """/checkin and the "Check in now" button."""
    person = turn.person
    episode = repo.open_episode(turn.session, person)
    if person.flow and person.flow.startswith("checkin:"):
        return Outcome([ask_again(turn)])
    if episode is None or episode.status == EpisodeStatus.ASSESSING:
        if person.flow:
            return Outcome([ask_again(turn)])
        start = Choice(turn.content.ui("btn_start_check"), action="start_check")
        return Outcome([Reply(turn.content.ui("checkin_no_plan"), ((start,),))])
    if episode.status != EpisodeStatus.ACTIVE:
        return Outcome([standing_advice(turn, episode)])
    today = today_local(turn)
    existing = repo.checkin_on(turn.session, episode, today)
    if existing is not None and existing.completed_at is not None:
        outcome = progress_report(turn)
        outcome.replies.insert(0, Reply(turn.content.ui("checkin_done_already")))
        return outcome
    return Outcome(begin(turn, episode, today))


def begin(
    turn: Turn, episode: Episode, local_date: date, *, followup_id: int | None = None
) -> list[Reply]:
    """Open the day's check-in (once: one row per day, keyed by its follow-up) and ask."""
    session = turn.session
    assert episode.onset_date is not None
    day = progress.day_number(episode.onset_date, local_date)
    checkin = repo.checkin_on(session, episode, local_date)
    if checkin is None:
        checkin = repo.start_checkin(
            session,
            episode=episode,
            day=day,
            local_date=local_date,
            at=turn.clock.now(),
            followup_id=followup_id,
        )
    elif checkin.followup_id is None and followup_id is not None:
        checkin.followup_id = followup_id
        session.add(checkin)
    done = completed_checkins(turn, episode)
    queue = list(QUESTIONS)
    milestone = max((m for m in PGIC_DAYS if m <= day), default=None)
    if milestone is not None and not any(c.pgic and c.day >= milestone for c in done):
        queue.append("pgic")
    if day >= ACTIVITIES_DAY and not any(
        c.daily_activities_ok is not None and c.day >= ACTIVITIES_DAY for c in done
    ):
        queue.append("activities")
    if "one_leg_numb" in repo.rules_fired(session, episode):
        queue.append("soon")  # numbness in one leg reported before: is it fading?
    data = {
        "checkin_id": checkin.id,
        "episode_id": episode.id,
        "queue": queue[1:],
        "local_date": local_date.isoformat(),
    }
    header = Reply(turn.content.ui("checkin_header", day=day))
    return [header, _ask(turn, queue[0], data)]


def answer(turn: Turn, qid: str, value: str) -> Outcome:
    person, session = turn.person, turn.session
    data = dict(person.flow_data)
    checkin = repo.checkin_by_id(session, data.get("checkin_id"))
    episode = repo.episode_by_id(session, data.get("episode_id"))
    if checkin is None or episode is None or episode.status != EpisodeStatus.ACTIVE:
        clear_flow(person)
        return Outcome([menu(turn)])
    repo.record_answer(
        session,
        person=person,
        episode=episode,
        question=f"checkin.{qid}",
        value=value,
        at=turn.clock.now(),
        checkin=checkin,
    )
    if qid == "emergency":
        findings = triage.triage_answers({"emergency": value})
        if findings:
            answers = {"checkin_day": checkin.day, "emergency": value}
            return Outcome(escalate(turn, episode, findings, answers))
    elif qid == "pain":
        checkin.pain = int(value)
    elif qid == "change":
        checkin.change = value
    elif qid == "managed":
        checkin.managed = value
    elif qid == "pgic":
        checkin.pgic = value
    elif qid == "activities":
        checkin.daily_activities_ok = value == "yes"
    advice: list[Reply] = []
    if qid == "soon":
        findings = triage.triage_answers({"soon": value})
        if findings:
            answers = {"checkin_day": checkin.day, "soon": value}
            advice = escalate(turn, episode, findings, answers)
    session.add(checkin)
    queue = list(data.get("queue", []))
    if queue:
        next_qid = queue.pop(0)
        data["queue"] = queue
        return Outcome([*advice, _ask(turn, next_qid, data)], in_place=not advice)
    return Outcome([*advice, *_complete(turn, episode, checkin)])


def _ask(turn: Turn, qid: str, data: Mapping[str, object]) -> Reply:
    text = turn.content.ui("checkin_soon") if qid == "soon" else None
    options = [
        (value, label)
        for value, label in turn.content.question(qid).options
        if qid != "emergency" or value not in FIRST_CHECK_ONLY
    ]
    return ask(turn, f"checkin:{qid}", qid, data, text, options)


def _complete(turn: Turn, episode: Episode, checkin: CheckIn) -> list[Reply]:
    """The last answer is in: thank, then judge recovery or persistence."""
    person, session = turn.person, turn.session
    checkin.completed_at = turn.clock.now()
    session.add(checkin)
    clear_flow(person)
    repo.cancel_reminder(session, episode=episode, local_date=checkin.local_date)
    assert checkin.pain is not None
    if episode.baseline_pain is None:
        episode.baseline_pain = checkin.pain
    session.flush()
    history = [
        progress.CheckinScore(c.day, c.pain, c.daily_activities_ok)
        for c in completed_checkins(turn, episode)
        if c.pain is not None
    ]
    thanks = (
        turn.content.ui("checkin_thanks")
        + " "
        + pain_in_words(turn, episode.baseline_pain, checkin.pain)
    )
    answers = {
        "day": checkin.day,
        "pain": checkin.pain,
        "baseline": episode.baseline_pain,
        "change": checkin.change,
    }
    if progress.is_recovered(history):
        return [Reply(thanks), *recover(turn, episode, answers)]
    findings = progress.escalate_if_persisting(
        episode.baseline_pain, history, repo.rules_fired(session, episode)
    )
    replies = [Reply(thanks)]
    if findings:
        replies += escalate(turn, episode, findings, answers)
    assert person.checkin_time is not None
    keep_going = turn.content.ui("keep_going", time=hhmm(person.checkin_time))
    replies.append(Reply(keep_going, menu_choices(turn.content)))
    return replies


# ---------------------------------------------------------------------- follow-ups


def daily_checkin(turn: Turn, episode: Episode, followup: FollowUp) -> list[Reply]:
    """The evening check-in follow-up: schedules the next day and one reminder, then asks.

    After several silent days it asks whether to continue instead, and schedules nothing more.
    """
    person, session, settings = turn.person, turn.session, turn.settings
    now = turn.clock.now()
    silent = repo.silent_checkins(session, episode, since=person.silence_reset_at)
    if silent >= settings.silent_days_before_asking:
        return [_continue_prompt(turn)]
    schedule_after_checkin(turn, episode, followup.local_date)
    reminder_at = now + timedelta(minutes=settings.reminder_after_minutes)
    schedule = schedule_of(turn)
    local_reminder = reminder_at.astimezone(ZoneInfo(schedule.zone))
    if local_reminder.date() == followup.local_date and not in_quiet_hours(
        local_reminder.time(), schedule.quiet_start, schedule.quiet_end
    ):
        repo.upsert_followup(
            session,
            person=person,
            episode=episode,
            kind=FollowUpKind.CHECKIN_REMINDER,
            local_date=followup.local_date,
            due_at=reminder_at,
        )
    return begin(turn, episode, followup.local_date, followup_id=followup.id)


def reminder(turn: Turn) -> list[Reply]:
    """The one reminder of an unanswered check-in: the waiting question again."""
    return [Reply(turn.content.ui("checkin_reminder")), ask_again(turn)]


def is_open(turn: Turn, local_date: date) -> bool:
    """Whether the check-in of `local_date` is still waiting for answers."""
    person = turn.person
    return bool(
        person.flow
        and person.flow.startswith("checkin:")
        and person.flow_data.get("local_date") == local_date.isoformat()
    )


def _continue_prompt(turn: Turn) -> Reply:
    content = turn.content
    options = [("yes", content.ui("btn_continue_yes")), ("no", content.ui("btn_continue_no"))]
    return ask(turn, "continue", "continue", {}, content.ui("continue_prompt"), options)


def answer_continue(turn: Turn, value: str) -> Outcome:
    """The answer to "carry on?" after silent days: yes reschedules the plan, no stops."""
    person = turn.person
    clear_flow(person)
    person.silence_reset_at = turn.clock.now()
    if value == "yes":
        reschedule(turn)
        assert person.checkin_time is not None
        text = turn.content.ui("continue_yes", time=hhmm(person.checkin_time))
        return Outcome([Reply(text)])
    return stop(turn)
