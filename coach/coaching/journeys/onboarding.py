"""Onboarding: /start, consent, time zone and check-in time, then on to the symptom check.

/start also picks up where the person is: an unfinished step of onboarding, a symptom check under
way, a running plan, or advice that still stands. Changing the zone or the time from /settings
asks the same two questions under a "settings:" flow and reschedules the plan instead.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from coach.coaching.journeys import symptom_check
from coach.coaching.journeys.common import (
    Coaching,
    Turn,
    ask,
    ask_again,
    clear_flow,
    hhmm,
    menu_choices,
    parse_time,
    plan_day,
    quiet_end,
    quiet_start,
)
from coach.coaching.journeys.escalation import standing_advice
from coach.coaching.journeys.plan import reschedule
from coach.coaching.replies import Outcome, Reply, UserRef
from coach.content.languages import language_for_code
from coach.places import emergency_number_for_zone
from coach.scheduling.planner import in_quiet_hours
from coach.storage import repository as repo
from coach.storage.models import EpisodeStatus, Person, PersonState


def register(coaching: Coaching, session: Session, user: UserRef) -> Person:
    """A first contact: the person's row, before any consent, in their Telegram app's language
    (Spanish, German or French; anything else English; /language changes it)."""
    return repo.create_person(
        session,
        telegram_user_id=user.user_id,
        chat_id=user.chat_id,
        language=language_for_code(user.language_code, coaching.content.translations),
        at=coaching.clock.now(),
    )


def start(turn: Turn) -> Outcome:
    """/start: the next step of onboarding, or where the person's episode stands."""
    person, content = turn.person, turn.content
    if person.state == PersonState.STOPPED:
        person.state = PersonState.ACTIVE
    if person.consent_at is None:
        welcome = Reply(content.ui("welcome", number=turn.number))
        options = [("yes", content.ui("consent_yes")), ("no", content.ui("consent_no"))]
        question = content.ui("consent_question")
        return Outcome([welcome, ask(turn, "onboard:consent", "consent", {}, question, options)])
    if person.timezone is None:
        return Outcome([ask_timezone(turn, "onboard:timezone")])
    if person.checkin_time is None:
        return Outcome([ask_checkin_time(turn, "onboard:checkin_time")])
    episode = repo.open_episode(turn.session, person)
    if episode is not None and episode.status == EpisodeStatus.ASSESSING and person.flow:
        return Outcome([ask_again(turn)])
    if episode is not None and episode.status == EpisodeStatus.ACTIVE:
        text = content.ui("already_running", day=plan_day(turn, episode))
        return Outcome([Reply(text, menu_choices(content, include_new=True))])
    if episode is not None and episode.status in (
        EpisodeStatus.AWAITING_CARE,
        EpisodeStatus.HALTED_EMERGENCY,
    ):
        return Outcome([standing_advice(turn, episode)])
    return Outcome(symptom_check.begin(turn))


def answer_consent(turn: Turn, value: str) -> Outcome:
    person = turn.person
    if value == "yes":
        now = turn.clock.now()
        person.consent_at = now
        person.consent_version = turn.content.consent_version
        person.updated_at = now
        return Outcome([ask_timezone(turn, "onboard:timezone")])
    clear_flow(person)
    return Outcome([Reply(turn.content.ui("consent_declined", number=turn.number))])


def ask_timezone(turn: Turn, flow: str) -> Reply:
    options = list(turn.content.question("timezone").options)
    return ask(turn, flow, "timezone", {}, turn.content.ui("timezone_question"), options)


def ask_checkin_time(turn: Turn, flow: str) -> Reply:
    options = list(turn.content.question("checkin_time").options)
    default = hhmm(turn.settings.default_checkin_time)
    if default not in dict(options):  # the operator's default is always one tap away
        options.insert(0, (default, default))
    return ask(turn, flow, "checkin_time", {}, turn.content.ui("checkin_time_question"), options)


def change_timezone(turn: Turn) -> Outcome:
    """The "Change time zone" button under /settings."""
    return Outcome([ask_timezone(turn, "settings:timezone")])


def change_checkin_time(turn: Turn) -> Outcome:
    """The "Change check-in time" button under /settings."""
    return Outcome([ask_checkin_time(turn, "settings:checkin_time")])


def set_timezone(turn: Turn, zone: str) -> Outcome:
    """A zone tapped or typed: it also sets the emergency number the coach shows."""
    person = turn.person
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return Outcome([Reply(turn.content.ui("timezone_unknown")), ask_again(turn)])
    onboarding = person.flow == "onboard:timezone"
    person.timezone = zone
    person.emergency_number = emergency_number_for_zone(
        zone, turn.settings.default_emergency_number
    )
    person.updated_at = turn.clock.now()
    confirm = Reply(turn.content.ui("timezone_set", zone=zone, number=person.emergency_number))
    if onboarding:
        if person.checkin_time is None:
            return Outcome([confirm, ask_checkin_time(turn, "onboard:checkin_time")])
        return Outcome([confirm, *symptom_check.begin(turn)])
    clear_flow(person)
    reschedule(turn)
    return Outcome([confirm])


def set_checkin_time(turn: Turn, text: str) -> Outcome:
    """A time tapped or typed ("18:30", "1830", "18h"); never inside quiet hours."""
    person = turn.person
    parsed = parse_time(text)
    quiet = (quiet_start(turn), quiet_end(turn))
    if parsed is None or in_quiet_hours(parsed, *quiet):
        invalid = turn.content.ui(
            "checkin_time_invalid", quiet_start=hhmm(quiet[0]), quiet_end=hhmm(quiet[1])
        )
        return Outcome([Reply(invalid), ask_again(turn)])
    onboarding = person.flow == "onboard:checkin_time"
    person.checkin_time = parsed
    person.updated_at = turn.clock.now()
    confirm = Reply(turn.content.ui("checkin_time_set", time=hhmm(parsed), zone=person.timezone))
    if onboarding:
        return Outcome([confirm, *symptom_check.begin(turn)])
    clear_flow(person)
    reschedule(turn)
    return Outcome([confirm])
