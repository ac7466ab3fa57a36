"""The one place where an input meets a journey.

Read top to bottom: chat-level events (a group chat, blocked or back, flooded), then commands,
taps and typed text. A tap is either an answer, routed by the flow stored on the person's row to
the journey that asked, or an action, routed by its name. Journeys never route: they answer.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from coach.coaching.journeys import (
    checkin,
    clinician_report,
    control,
    data_rights,
    free_text,
    onboarding,
    symptom_check,
)
from coach.coaching.journeys.common import (
    Coaching,
    Turn,
    ask_again,
    clear_flow,
    options_of,
    with_resume,
)
from coach.coaching.journeys.escalation import seen_clinician
from coach.coaching.replies import Inbound, Outcome, Reply, Tap, UserRef
from coach.storage import repository as repo
from coach.storage.models import Person

Journey = Callable[[Turn], Outcome]

# Commands that need consent first (/start, /help and /emergency work for anyone).
COMMANDS: dict[str, Journey] = {
    "mydata": data_rights.export,
    "delete": data_rights.ask_delete,
    "checkin": checkin.checkin_now,
    "today": control.today,
    "progress": control.progress_report,
    "report": clinician_report.clinician_report,
    "settings": control.settings_view,
    "pause": control.pause,
    "resume": control.resume,
    "stop": control.stop,
}

# Buttons that are not answers; each needs a finished onboarding ("seen" is checked before it).
ACTIONS: dict[str, Journey] = {
    "start_check": symptom_check.start_check,
    "new_episode": symptom_check.new_episode,
    "change_zone": onboarding.change_timezone,
    "change_time": onboarding.change_checkin_time,
    "checkin": checkin.checkin_now,
    "today": control.today,
    "progress": control.progress_report,
    "report": clinician_report.clinician_report,  # offered with SOON and URGENT advice
    "help": control.help_menu,
    free_text.SOMETHING_NEW: free_text.something_new,  # the safety net under typed answers
}


def route(coaching: Coaching, session: Session, inbound: Inbound) -> Outcome:
    """What the coach does with one input, in the unit of work that handles it."""
    user = inbound.user
    content = coaching.content_for(None, user.language_code)  # before the row is read
    if inbound.kind == "group":
        return Outcome([Reply(content.ui("group_chat"))])  # and nothing is kept
    if inbound.kind in ("blocked", "unblocked"):
        on_blocked_change(coaching, session, user.user_id, blocked=inbound.kind == "blocked")
        return Outcome()
    if inbound.kind == "flooded":
        return Outcome([Reply(content.ui("slow_down"))] if inbound.warn else [])
    # Any message from a person marked blocked means they are back.
    on_blocked_change(coaching, session, user.user_id, blocked=False)
    person = repo.person_by_telegram_id(session, user.user_id)
    if inbound.kind == "command":
        return _command(coaching, session, user, person, inbound.text.lower())
    if inbound.kind == "button":
        return _tap(coaching, session, user, person, inbound.tap or Tap())
    if inbound.kind == "text":
        return _text(coaching, session, user, person, inbound.text)
    return _unsupported(coaching, session, person)


def on_blocked_change(coaching: Coaching, session: Session, user_id: int, *, blocked: bool) -> None:
    person = repo.person_by_telegram_id(session, user_id)
    if person is None or person.blocked == blocked:
        return
    control.set_blocked(coaching.turn(session, person), blocked=blocked)


# ---------------------------------------------------------------------- commands


def _command(
    coaching: Coaching, session: Session, user: UserRef, person: Person | None, command: str
) -> Outcome:
    if command == "start":
        return _start(coaching, session, user, person)
    code = user.language_code
    if command == "help":
        return _for_anyone(coaching, session, person, control.help_reply(coaching, person, code))
    if command == "emergency":
        info = control.emergency_info(coaching, person, code)
        return _for_anyone(coaching, session, person, info)
    if command == "language":  # before consent too: the welcome may be in the wrong language
        if person is None:
            person = onboarding.register(coaching, session, user)
        return control.language_menu(coaching.turn(session, person))
    content = coaching.content_for(person, code)
    if person is None or person.consent_at is None:
        return Outcome([Reply(content.ui("consent_required"))])
    journey = COMMANDS.get(command)
    if journey is None:
        unknown = Reply(content.ui("unknown_command"))
        return Outcome([unknown, control.help_reply(coaching, person)])
    return journey(coaching.turn(session, person))


def _for_anyone(
    coaching: Coaching, session: Session, person: Person | None, reply: Reply
) -> Outcome:
    """/help and /emergency work before consent too; mid-question, the question follows."""
    if person is None:
        return Outcome([reply])
    return with_resume(coaching.turn(session, person), [reply])


def _start(coaching: Coaching, session: Session, user: UserRef, person: Person | None) -> Outcome:
    if person is None:
        person = onboarding.register(coaching, session, user)
    return onboarding.start(coaching.turn(session, person))


# ---------------------------------------------------------------------- taps


def _tap(
    coaching: Coaching, session: Session, user: UserRef, person: Person | None, tap: Tap
) -> Outcome:
    if person is None:
        return _start(coaching, session, user, None)
    turn = coaching.turn(session, person)
    if tap.value is not None:
        # Only the question now waiting can be answered, and only once.
        if tap.token != person.flow_token or person.flow is None:
            return _stale(turn)
        return _answer(turn, tap.value)
    if tap.action is not None:
        return _action(turn, tap.action)
    return _stale(turn)


def _answer(turn: Turn, value: str) -> Outcome:
    """A tapped answer: applied, and its label shown on the question it answered."""
    labels = dict(options_of(turn.person))
    if value not in labels:
        return _stale(turn)
    outcome = _apply_answer(turn, value)
    outcome.chosen = labels[value]
    return outcome


def _apply_answer(turn: Turn, value: str) -> Outcome:
    """Hand an answer (tapped or typed) to the journey whose question is waiting."""
    person = turn.person
    flow = person.flow or ""
    qid = str(person.flow_data.get("qid", ""))
    if flow == "onboard:consent":
        return onboarding.answer_consent(turn, value)
    if flow in ("onboard:timezone", "settings:timezone"):
        return onboarding.set_timezone(turn, value)
    if flow in ("onboard:checkin_time", "settings:checkin_time"):
        return onboarding.set_checkin_time(turn, value)
    if flow.startswith("check:"):
        return symptom_check.answer(turn, qid, value)
    if flow.startswith("checkin:"):
        return checkin.answer(turn, qid, value)
    if flow == "continue":
        return checkin.answer_continue(turn, value)
    if flow.startswith("screen:"):
        return free_text.answer_screen(turn, qid, value)
    if flow == "delete":
        return data_rights.answer_delete(turn, value)
    clear_flow(person)  # a flow this version no longer knows
    return Outcome([control.menu(turn)])


def _action(turn: Turn, action: str) -> Outcome:
    if action == "seen":
        return seen_clinician(turn)
    person = turn.person
    if action == "language":
        return control.language_menu(turn)
    if action.startswith(control.LANGUAGE_ACTION):
        return _switch_language(turn, action.removeprefix(control.LANGUAGE_ACTION))
    if person.consent_at is None or person.timezone is None or person.checkin_time is None:
        return onboarding.start(turn)
    journey = ACTIONS.get(action)
    if journey is None:
        return _stale(turn)
    return journey(turn)


def _switch_language(turn: Turn, code: str) -> Outcome:
    """A language tapped: said in it, then onboarding's next step asked afresh in it, or the
    question waiting shown again."""
    if code not in turn.coaching.content.translations:
        return _stale(turn)
    confirm = control.set_language(turn, code)
    person = turn.person
    onboarding_left = None in (person.consent_at, person.timezone, person.checkin_time)
    if onboarding_left and (person.flow is None or person.flow.startswith("onboard:")):
        return Outcome([confirm, *onboarding.start(turn).replies])
    return with_resume(turn, [confirm])


def _stale(turn: Turn) -> Outcome:
    """A button from an older message, or one that cannot be read: the way on instead."""
    if turn.person.flow:
        return Outcome([Reply(turn.content.ui("stale_button")), ask_again(turn)], ack="↑")
    return Outcome([Reply(turn.content.ui("nothing_pending")), control.menu(turn)], ack="↑")


# ---------------------------------------------------------------------- text and the rest


def _text(
    coaching: Coaching, session: Session, user: UserRef, person: Person | None, text: str
) -> Outcome:
    """Safety first (crisis, signs reported, denied or asked about: see `free_text`), then a
    typed answer, then the way on, with the safety net."""
    reading = free_text.read(coaching.content_for(person, user.language_code), text)
    consented = person is not None and person.consent_at is not None
    if reading.crisis and not (consented and reading.present):
        return free_text.crisis(coaching, session, person)
    if person is None or person.consent_at is None:
        if (
            reading.present
            or reading.asked
            or reading.asks_about_signs
            or reading.possible_emergency
        ):
            return Outcome([control.emergency_info(coaching, person)])
        return _start(coaching, session, user, person)
    turn = coaching.turn(session, person)
    first = free_text.safety_first(turn, reading)
    if isinstance(first, free_text.TypedAnswer):
        first = _apply_typed(turn, first)
    if first is not None:
        if reading.crisis:  # crisis support first, and the sign is not lost behind it
            first.replies.insert(0, free_text.crisis_support(turn))
        return first
    if len(text) > free_text.LONG_TEXT:
        return free_text.long_text(turn)
    typed = free_text.read_typed_answer(turn, text)
    if isinstance(typed, free_text.TypedAnswer):
        return _apply_typed(turn, typed)
    if typed is not None:
        return typed
    if reading.set_aside:
        return free_text.set_aside(turn, reading)
    if person.flow:
        return free_text.button_expected(turn)
    return free_text.not_understood(turn)


def _apply_typed(turn: Turn, typed: free_text.TypedAnswer) -> Outcome:
    outcome = _apply_answer(turn, typed.value)
    if typed.note is not None:
        outcome.replies.insert(0, typed.note)
    return outcome


def _unsupported(coaching: Coaching, session: Session, person: Person | None) -> Outcome:
    """Stickers, photos, voice and the like: a short answer and the way on."""
    reply = Reply(coaching.content_for(person).ui("unsupported_message"))
    if person is None or person.consent_at is None:
        return Outcome([reply])
    return with_resume(coaching.turn(session, person), [reply])
