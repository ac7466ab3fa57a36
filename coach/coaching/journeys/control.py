"""The person's controls: the menu, /today, /progress, /settings, /pause, /resume, /stop, /help,
/emergency, and what happens when they block the bot or come back.

None of these asks a question; a command given mid-question shows that question again after its
answer (`with_resume`).
"""

from __future__ import annotations

from datetime import time

from coach.clinical import progress
from coach.clinical.tiers import Tier
from coach.coaching.journeys.clinician_report import chart_photo, long_date
from coach.coaching.journeys.common import (
    Coaching,
    Turn,
    clear_flow,
    close_episode,
    completed_checkins,
    emergency_number,
    hhmm,
    menu_choices,
    pain_in_words,
    pain_trend,
    plan_day,
    quiet_end,
    quiet_start,
    today_local,
    with_resume,
)
from coach.coaching.journeys.escalation import standing_advice
from coach.coaching.journeys.plan import plan_text, reschedule
from coach.coaching.replies import Choice, Outcome, Reply
from coach.content import Content
from coach.content.languages import LANGUAGE_NAMES, LANGUAGES
from coach.storage import repository as repo
from coach.storage.models import EpisodeStatus, FollowUpKind, Person, PersonState

_TIER_LINES = {
    Tier.SELF: "progress_tier_self",
    Tier.SOON: "progress_tier_soon",
    Tier.URGENT: "progress_tier_urgent",
    Tier.EMERGENCY: "progress_tier_emergency",
}


def menu(turn: Turn) -> Reply:
    """The way on when nothing is asked: the plan's buttons, the standing advice, or a start."""
    content = turn.content
    episode = repo.open_episode(turn.session, turn.person)
    if episode is not None and episode.status == EpisodeStatus.ACTIVE:
        return Reply(content.ui("idle_text"), menu_choices(content))
    if episode is not None and episode.status != EpisodeStatus.ASSESSING:
        return standing_advice(turn, episode)
    return Reply(
        content.ui("idle_no_plan"),
        (
            (Choice(content.ui("btn_start_check"), action="start_check"),),
            (Choice(content.ui("btn_help"), action="help"),),
        ),
    )


def help_reply(
    coaching: Coaching, person: Person | None, language_code: str | None = None
) -> Reply:
    """The list of commands (anyone may ask, even before agreeing)."""
    number = emergency_number(coaching.settings, person)
    return Reply(coaching.content_for(person, language_code).ui("help", number=number))


def help_menu(turn: Turn) -> Outcome:
    """The Help button."""
    return Outcome([help_reply(turn.coaching, turn.person)])


def emergency_info(
    coaching: Coaching, person: Person | None, language_code: str | None = None
) -> Reply:
    """The emergency signs and the number to call (anyone may ask, even before agreeing)."""
    number = emergency_number(coaching.settings, person)
    content = coaching.content_for(person, language_code)
    return Reply(content.advice("emergency_info", number=number))


def today(turn: Turn) -> Outcome:
    episode = repo.open_episode(turn.session, turn.person)
    if episode is None or episode.onset_date is None:
        return with_resume(turn, [menu(turn)])
    phase = progress.plan_phase(plan_day(turn, episode))
    return with_resume(turn, [Reply(plan_text(turn.content, phase))])


def progress_report(turn: Turn) -> Outcome:
    """The pain chart (a picture), then the same in words for screen readers: the pain trend
    and the highest advice given, for the open or the last episode."""
    person, content = turn.person, turn.content
    episode = repo.open_episode(turn.session, person) or repo.latest_episode(turn.session, person)
    if episode is None or episode.onset_date is None:
        return with_resume(turn, [menu(turn)])
    done = completed_checkins(turn, episode)
    if not done:
        checkin_time = hhmm(person.checkin_time or time(19))
        key = "progress_none" if _checkin_due_today(turn) else "progress_none_tomorrow"
        return with_resume(turn, [Reply(content.ui(key, time=checkin_time))])
    text = content.ui(
        "progress",
        day=plan_day(turn, episode),
        onset=long_date(content, episode.onset_date),
        trend=pain_trend(episode, done),
        tier_line=content.ui(_TIER_LINES[Tier(episode.tier)]),
    )
    latest = done[-1].pain
    if episode.baseline_pain is not None and latest is not None:
        text = pain_in_words(turn, episode.baseline_pain, latest) + "\n" + text
    outcome = with_resume(turn, [Reply(text)])
    outcome.photo = chart_photo(turn, episode)
    return outcome


def _checkin_due_today(turn: Turn) -> bool:
    """Whether a check-in is still to come today (the day the plan starts has none)."""
    today = today_local(turn)
    return any(
        f.kind == FollowUpKind.CHECKIN and f.local_date == today
        for f in repo.pending_followups(turn.session, turn.person)
    )


def settings_view(turn: Turn) -> Outcome:
    person, content = turn.person, turn.content
    text = content.ui(
        "settings",
        zone=person.timezone or "-",
        time=hhmm(person.checkin_time) if person.checkin_time else "-",
        quiet_start=hhmm(quiet_start(turn)),
        quiet_end=hhmm(quiet_end(turn)),
        number=turn.number,
    )
    choices = (
        (Choice(content.ui("btn_change_zone"), action="change_zone"),),
        (Choice(content.ui("btn_change_time"), action="change_time"),),
        (Choice(content.ui("btn_change_language"), action="language"),),
    )
    return with_resume(turn, [Reply(text, choices)])


LANGUAGE_ACTION = "language_"  # + a language code: the buttons of /language


def language_menu(turn: Turn) -> Outcome:
    """/language and the settings button: each language named in itself, one tap to switch."""
    codes = [code for code in LANGUAGES if code in turn.coaching.content.translations]
    choices = [Choice(LANGUAGE_NAMES[code], action=LANGUAGE_ACTION + code) for code in codes]
    rows = tuple(tuple(choices[i : i + 2]) for i in range(0, len(choices), 2))
    return with_resume(turn, [Reply(turn.content.ui("language_question"), rows)])


def set_language(turn: Turn, code: str) -> Reply:
    """Everything from now on in that language: texts, buttons, plan, follow-ups, reports; the
    buttons of the question waiting, if any, too. Returns the confirmation, in that language."""
    person = turn.person
    before = turn.content
    person.language = code
    person.updated_at = turn.clock.now()
    turn.session.add(person)
    if person.flow:
        relabel_waiting_question(person, before, turn.content)
    return Reply(turn.content.ui("language_set"))


def relabel_waiting_question(person: Person, before: Content, after: Content) -> None:
    """The waiting question's buttons in the new language (its token stays: any copy of it
    still answers it once)."""
    qid = str(person.flow_data.get("qid", ""))
    try:
        old, new = before.question(qid), after.question(qid)
    except KeyError:
        return  # onboarding's own questions: onboarding asks them again
    options = [
        [value, new.label(value) if label == old.label(value) else label]
        for value, label in person.flow_data.get("options", [])
    ]
    person.flow_data = {**person.flow_data, "options": options}


def pause(turn: Turn) -> Outcome:
    person = turn.person
    if person.state == PersonState.PAUSED:
        return Outcome([Reply(turn.content.ui("already_paused"))])
    person.state = PersonState.PAUSED
    person.updated_at = turn.clock.now()
    repo.cancel_pending_followups(turn.session, person=person)
    return Outcome([Reply(turn.content.ui("paused"))])


def resume(turn: Turn) -> Outcome:
    person = turn.person
    if person.state == PersonState.ACTIVE:
        return Outcome([Reply(turn.content.ui("not_paused"))])
    person.state = PersonState.ACTIVE
    person.silence_reset_at = turn.clock.now()
    person.updated_at = turn.clock.now()
    reschedule(turn)
    assert person.checkin_time is not None
    return Outcome([Reply(turn.content.ui("resumed", time=hhmm(person.checkin_time)))])


def stop(turn: Turn) -> Outcome:
    """Stop coaching: nothing more is sent; the answers stay until /delete."""
    person = turn.person
    person.state = PersonState.STOPPED
    person.updated_at = turn.clock.now()
    clear_flow(person)
    repo.cancel_pending_followups(turn.session, person=person)
    episode = repo.open_episode(turn.session, person)
    if episode is not None:
        close_episode(turn, episode, EpisodeStatus.CLOSED)
    return Outcome([Reply(turn.content.ui("stopped"))])


def set_blocked(turn: Turn, *, blocked: bool) -> None:
    """The person blocked the bot (my_chat_member "kicked", or a 403) or came back.

    Blocked: every pending follow-up is cancelled. Back (unblocked, or any message from them):
    the plan is rescheduled from now.
    """
    person = turn.person
    person.blocked = blocked
    person.updated_at = turn.clock.now()
    turn.session.add(person)
    if blocked:
        repo.cancel_pending_followups(turn.session, person=person)
    else:
        person.silence_reset_at = turn.clock.now()
        reschedule(turn)
