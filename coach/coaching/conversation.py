"""The conversation engine: every input is one unit of work against the database.

Where a person is in a conversation (`Person.flow`) lives in the database, so a restart in the
middle of a symptom check resumes it. Each question asked gets the next `flow_token` and its
buttons carry it; a
button from an older message no longer matches and gets a graceful answer, never applied twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session

from coach.clinical import progress, triage
from coach.clinical.tiers import Finding, Tier
from coach.clock import Clock
from coach.coaching.replies import Button, Outcome, Reply, UserRef
from coach.content import Content
from coach.places import emergency_number_for_zone, find_zone
from coach.scheduling.planner import (
    DAILY_KINDS,
    DaySchedule,
    due_instant,
    in_quiet_hours,
    local_date_of,
)
from coach.settings import Settings
from coach.storage import repository as repo
from coach.storage.models import (
    CheckIn,
    Episode,
    EpisodeStatus,
    FollowUp,
    FollowUpKind,
    FollowUpStatus,
    Person,
    PersonState,
)

SYMPTOM_CHECK = ("emergency", "location", "onset", "trigger", "pain", "urgent", "soon", "age")
CHECKIN_QUESTIONS = ("emergency", "pain", "change", "managed")
PGIC_DAYS = (3, 7, 14)
ACTIVITIES_DAY = 7
PREVENTION_AFTER_DAYS = 3
LONG_TEXT = 1500
_PAIN_RE = re.compile(r"^\D{0,24}?\b(10|[0-9])\b(\s*(/|out of|of)\s*10)?\D{0,24}$", re.I)
_TIME_RE = re.compile(r"^\s*([01]?\d|2[0-3])[:.h]?([0-5]\d)?\s*$")


@dataclass(frozen=True)
class PreparedFollowUp:
    """A due follow-up rendered for sending."""

    followup_id: int
    person_id: int
    chat_id: int
    replies: list[Reply]


class Coach:
    def __init__(
        self, *, engine: sa.Engine, content: Content, clock: Clock, settings: Settings
    ) -> None:
        self.engine = engine
        self.content = content
        self.clock = clock
        self.settings = settings

    # ------------------------------------------------------------------ inputs

    def on_command(self, session: Session, user: UserRef, command: str) -> Outcome:
        command = command.lower()
        if True:
            person = repo.person_by_telegram_id(session, user.user_id)
            if command == "start":
                return self._start(session, user, person)
            if command in ("help",):
                return self._with_resume(session, person, [self._help(person)])
            if command == "emergency":
                return self._with_resume(session, person, [self._emergency_info(person)])
            if person is None or person.consent_at is None:
                return Outcome([Reply(self.content.ui("consent_required"))])
            handler = {
                "mydata": self._export,
                "delete": self._ask_delete,
                "checkin": self._checkin_now,
                "today": self._today,
                "progress": self._progress,
                "settings": self._settings_view,
                "pause": self._pause,
                "resume": self._resume,
                "stop": self._stop,
            }.get(command)
            if handler is None:
                return Outcome([Reply(self.content.ui("unknown_command")), self._help(person)])
            return handler(session, person)

    def on_button(self, session: Session, user: UserRef, data: str) -> Outcome:
        if True:
            person = repo.person_by_telegram_id(session, user.user_id)
            if person is None:
                return self._start(session, user, None)
            parts = data.split(":", 2)
            if len(parts) == 3 and parts[0] == "q":
                token, value = parts[1], parts[2]
                if not token.isdigit() or int(token) != person.flow_token or person.flow is None:
                    return self._stale(session, person)
                outcome = self._answer(session, person, value)
                return outcome
            if len(parts) == 2 and parts[0] == "a":
                return self._action(session, person, parts[1])
            return self._stale(session, person)

    def on_text(self, session: Session, user: UserRef, text: str) -> Outcome:
        if True:
            person = repo.person_by_telegram_id(session, user.user_id)
            number = self._number(person)
            if triage.crisis_in_text(text):
                outcome = Outcome([Reply(self.content.advice("crisis", number=number))])
                if person is not None and person.flow:
                    outcome.replies.append(self._ask_current(session, person))
                return outcome
            if person is None or person.consent_at is None:
                if triage.red_flag_in_text(text) is not None:
                    return Outcome([self._emergency_info(person)])
                return self._start(session, user, person)
            flag = triage.red_flag_in_text(text)
            if flag is not None:
                return self._red_flag_text(session, person, flag)
            if triage.low_mood_in_text(text):
                return self._low_mood_text(session, person)
            if len(text) > LONG_TEXT:
                return self._with_resume(session, person, [Reply(self.content.ui("long_message"))])
            typed = self._typed_answer(session, person, text)
            if typed is not None:
                return typed
            if person.flow:
                return Outcome(
                    [Reply(self.content.ui("button_expected")), self._ask_current(session, person)]
                )
            return Outcome([self._menu(session, person)])

    def on_unsupported(self, session: Session, user: UserRef) -> Outcome:
        """Stickers, photos, voice and the like: a short answer and the way on."""
        if True:
            person = repo.person_by_telegram_id(session, user.user_id)
            if person is None or person.consent_at is None:
                return Outcome([Reply(self.content.ui("unsupported_message"))])
            return self._with_resume(
                session, person, [Reply(self.content.ui("unsupported_message"))]
            )

    def on_blocked_change(self, session: Session, user_id: int, *, blocked: bool) -> None:
        """The person blocked the bot (my_chat_member "kicked", or a 403) or came back.

        Blocked: every pending follow-up is cancelled. Back (unblocked, or any message from them):
        the plan is rescheduled from now.
        """
        person = repo.person_by_telegram_id(session, user_id)
        if person is None or person.blocked == blocked:
            return
        person.blocked = blocked
        person.updated_at = self.clock.now()
        session.add(person)
        if blocked:
            repo.cancel_pending_followups(session, person=person)
        else:
            person.silence_reset_at = self.clock.now()
            self._reschedule(session, person)

    # ------------------------------------------------------------------ follow-ups

    def render_followup(self, session: Session, followup: FollowUp) -> PreparedFollowUp | None:
        """Turn a claimed, due follow-up into replies, or settle it (skipped/cancelled) and return
        None. Runs once per follow-up, in the unit of work that queues the replies in the outbox
        and marks the follow-up sent: a failed delivery retries the outbox row, never this.
        """
        now = self.clock.now()
        person = session.get(Person, followup.person_id)
        episode = session.get(Episode, followup.episode_id) if followup.episode_id else None
        reason = self._why_not_send(person, episode, followup, now)
        if reason is not None:
            followup.status = (
                FollowUpStatus.SKIPPED if reason.startswith("skipped") else FollowUpStatus.CANCELLED
            )
            followup.last_error = reason
            followup.lease_until = None
            session.add(followup)
            if followup.kind == FollowUpKind.CHECKIN and followup.status == "skipped":
                assert person is not None and episode is not None
                self._schedule_after_checkin(session, person, episode, followup.local_date)
            return None
        assert person is not None and episode is not None
        replies = self._render_followup(session, person, episode, followup)
        followup.lease_until = None
        if not replies:
            followup.status = FollowUpStatus.SKIPPED
            followup.last_error = "skipped: nothing to send"
            session.add(followup)
            return None
        followup.status = FollowUpStatus.QUEUED
        followup.attempts += 1
        session.add(followup)
        assert person.id is not None
        return PreparedFollowUp(_id(followup), person.id, person.chat_id, replies)

    def _why_not_send(
        self, person: Person | None, episode: Episode | None, followup: FollowUp, now: datetime
    ) -> str | None:
        if person is None or episode is None:
            return "cancelled: person or episode gone"
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
        if now - followup.due_at > timedelta(hours=self.settings.catch_up_hours):
            return "skipped: later than the catch-up window"
        schedule = self._schedule_of(person)
        local_now = now.astimezone(ZoneInfo(schedule.zone)).time()
        if now > followup.due_at and in_quiet_hours(
            local_now, schedule.quiet_start, schedule.quiet_end
        ):
            return "skipped: would arrive in quiet hours"
        if followup.kind == FollowUpKind.CHECKIN_REMINDER:
            return None if self._checkin_open(person, followup) else "cancelled: already answered"
        return None

    @staticmethod
    def _checkin_open(person: Person, followup: FollowUp) -> bool:
        return bool(
            person.flow
            and person.flow.startswith("checkin:")
            and person.flow_data.get("local_date") == followup.local_date.isoformat()
        )

    def _render_followup(
        self, session: Session, person: Person, episode: Episode, followup: FollowUp
    ) -> list[Reply]:
        now = self.clock.now()
        assert episode.onset_date is not None or followup.kind == FollowUpKind.PREVENTION
        day = progress.day_number(episode.onset_date or followup.local_date, followup.local_date)
        c = self.content
        if followup.kind == FollowUpKind.MORNING_PLAN:
            phase = progress.plan_phase(day)
            episode.phase = phase
            session.add(episode)
            header = c.ui("morning_header", day=day)
            if day == progress.ICE_PHASE_DAYS + 1:
                header += "\n" + c.ui("phase_switch_heat")
            return [Reply(header + "\n\n" + self._plan_text(phase))]
        if followup.kind == FollowUpKind.NUDGE_WALK:
            return [Reply(c.advice("walk_nudge"))]
        if followup.kind == FollowUpKind.NUDGE_CARE:
            key = "care_nudge_ice" if progress.plan_phase(day) == "ice" else "care_nudge_heat"
            return [Reply(c.advice(key))]
        if followup.kind == FollowUpKind.PREVENTION:
            return [Reply(c.advice("prevention_followup"))]
        if followup.kind == FollowUpKind.CHECKIN_REMINDER:
            return [Reply(c.ui("checkin_reminder")), self._ask_current(session, person)]
        # The daily check-in.
        silent = repo.silent_checkins(session, episode, since=person.silence_reset_at)
        if silent >= self.settings.silent_days_before_asking:
            # After several silent days, ask before sending more; nothing more is scheduled.
            return [self._ask(person, "continue", "continue", {}, c.ui("continue_prompt"))]
        self._schedule_after_checkin(session, person, episode, followup.local_date)
        reminder_at = now + timedelta(minutes=self.settings.reminder_after_minutes)
        schedule = self._schedule_of(person)
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
        return self._begin_checkin(
            session, person, episode, followup.local_date, followup_id=followup.id
        )

    # ------------------------------------------------------------------ onboarding

    def _start(self, session: Session, user: UserRef, person: Person | None) -> Outcome:
        now = self.clock.now()
        if person is None:
            person = Person(
                telegram_user_id=user.user_id,
                chat_id=user.chat_id,
                language=self.content.language,
                created_at=now,
                updated_at=now,
            )
            session.add(person)
            session.flush()
        if person.state == PersonState.STOPPED:
            person.state = PersonState.ACTIVE
        number = self._number(person)
        if person.consent_at is None:
            welcome = Reply(self.content.ui("welcome", number=number))
            ask = self._ask(
                person,
                "onboard:consent",
                "consent",
                {},
                self.content.ui("consent_question"),
                options=[
                    ("yes", self.content.ui("consent_yes")),
                    ("no", self.content.ui("consent_no")),
                ],
            )
            return Outcome([welcome, ask])
        if person.timezone is None:
            return Outcome([self._ask_timezone(person, "onboard:timezone")])
        if person.checkin_time is None:
            return Outcome([self._ask_checkin_time(person, "onboard:checkin_time")])
        episode = repo.open_episode(session, person)
        if episode is not None and episode.status == EpisodeStatus.ASSESSING and person.flow:
            return Outcome([self._ask_current(session, person)])
        if episode is not None and episode.status == EpisodeStatus.ACTIVE:
            day = self._day(person, episode)
            return Outcome(
                [
                    Reply(
                        self.content.ui("already_running", day=day),
                        self._menu_buttons(include_new=True),
                    )
                ]
            )
        if episode is not None and episode.status in (
            EpisodeStatus.AWAITING_CARE,
            EpisodeStatus.HALTED_EMERGENCY,
        ):
            return Outcome([self._standing_advice(session, person, episode)])
        return Outcome(self._begin_symptom_check(session, person))

    def _ask_timezone(self, person: Person, flow: str) -> Reply:
        q = self.content.question("timezone")
        return self._ask(
            person,
            flow,
            "timezone",
            {},
            self.content.ui("timezone_question"),
            options=list(q.options),
        )

    def _ask_checkin_time(self, person: Person, flow: str) -> Reply:
        options = list(self.content.question("checkin_time").options)
        default = _hhmm(self.settings.default_checkin_time)
        if default not in dict(options):  # the operator's default is always one tap away
            options.insert(0, (default, default))
        return self._ask(
            person,
            flow,
            "checkin_time",
            {},
            self.content.ui("checkin_time_question"),
            options=options,
        )

    def _set_timezone(self, session: Session, person: Person, zone: str) -> Outcome:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return Outcome(
                [Reply(self.content.ui("timezone_unknown")), self._ask_current(session, person)]
            )
        onboarding = person.flow == "onboard:timezone"
        person.timezone = zone
        person.emergency_number = emergency_number_for_zone(
            zone, self.settings.default_emergency_number
        )
        person.updated_at = self.clock.now()
        confirm = Reply(self.content.ui("timezone_set", zone=zone, number=person.emergency_number))
        if onboarding:
            if person.checkin_time is None:
                return Outcome([confirm, self._ask_checkin_time(person, "onboard:checkin_time")])
            return Outcome([confirm, *self._begin_symptom_check(session, person)])
        self._clear_flow(person)
        self._reschedule(session, person)
        return Outcome([confirm])

    def _set_checkin_time(self, session: Session, person: Person, text: str) -> Outcome:
        parsed = _parse_time(text)
        schedule_quiet = (self._quiet_start(person), self._quiet_end(person))
        if parsed is None or in_quiet_hours(parsed, *schedule_quiet):
            return Outcome(
                [
                    Reply(
                        self.content.ui(
                            "checkin_time_invalid",
                            quiet_start=_hhmm(schedule_quiet[0]),
                            quiet_end=_hhmm(schedule_quiet[1]),
                        )
                    ),
                    self._ask_current(session, person),
                ]
            )
        onboarding = person.flow == "onboard:checkin_time"
        person.checkin_time = parsed
        person.updated_at = self.clock.now()
        confirm = Reply(
            self.content.ui("checkin_time_set", time=_hhmm(parsed), zone=person.timezone)
        )
        if onboarding:
            return Outcome([confirm, *self._begin_symptom_check(session, person)])
        self._clear_flow(person)
        self._reschedule(session, person)
        return Outcome([confirm])

    # ------------------------------------------------------------------ symptom check

    def _begin_symptom_check(self, session: Session, person: Person) -> list[Reply]:
        now = self.clock.now()
        current = repo.open_episode(session, person)
        if current is not None:
            self._close_episode(session, person, current, EpisodeStatus.CLOSED)
        episode = Episode(person_id=_id(person), started_at=now)
        session.add(episode)
        session.flush()
        intro = Reply(self.content.ui("check_intro"))
        return [
            intro,
            self._ask(
                person, "check:emergency", "emergency", {"episode_id": episode.id, "answers": {}}
            ),
        ]

    def _answer_symptom_check(
        self, session: Session, person: Person, qid: str, value: str
    ) -> Outcome:
        now = self.clock.now()
        data = dict(person.flow_data)
        episode = session.get(Episode, data.get("episode_id"))
        if episode is None or episode.status != EpisodeStatus.ASSESSING:
            self._clear_flow(person)
            return Outcome([self._menu(session, person)])
        repo.record_answer(
            session, person=person, episode=episode, question=qid, value=value, at=now
        )
        answers = {**data.get("answers", {}), qid: value}
        data["answers"] = answers
        self._store_answer_on_episode(person, episode, qid, value)
        findings = triage.triage_answers(answers)
        if findings and findings[0].tier >= Tier.URGENT:
            return Outcome(self._escalate(session, person, episode, findings, answers))
        following = SYMPTOM_CHECK.index(qid) + 1
        if following < len(SYMPTOM_CHECK):
            next_qid = SYMPTOM_CHECK[following]
            return Outcome([self._ask(person, f"check:{next_qid}", next_qid, data)])
        # The check is complete: SOON or SELF; persistence can only be judged at day 14.
        assert episode.onset_date is not None and episode.baseline_pain is not None
        day = self._day(person, episode)
        findings += progress.lasting_at_first_check(day, episode.baseline_pain)
        self._clear_flow(person)
        replies: list[Reply] = []
        if findings:
            replies += self._escalate(session, person, episode, findings, answers)
        else:
            repo.record_decision(
                session,
                person=person,
                episode=episode,
                kind="triage",
                tier=Tier.SELF,
                rule="no_red_flags",
                answers=answers,
                at=now,
            )
            replies.append(Reply(self.content.ui("result_self")))
        replies += self._start_plan(session, person, episode)
        return Outcome(replies)

    def _store_answer_on_episode(
        self, person: Person, episode: Episode, qid: str, value: str
    ) -> None:
        if qid == "location":
            episode.location = value
        elif qid == "onset":
            today = self._today_local(person)
            episode.onset_date = today - timedelta(days=int(value))
        elif qid == "trigger":
            episode.trigger = value
        elif qid == "pain":
            episode.baseline_pain = int(value)
        elif qid == "age":
            episode.age_band = value

    # ------------------------------------------------------------------ escalation

    def _escalate(
        self,
        session: Session,
        person: Person,
        episode: Episode,
        findings: list[Finding],
        answers: Mapping[str, object],
    ) -> list[Reply]:
        """Record every finding, raise the episode's tier (never lower it) and say what to do."""
        now = self.clock.now()
        for finding in findings:
            repo.record_decision(
                session,
                person=person,
                episode=episode,
                kind="escalation",
                tier=finding.tier,
                rule=finding.rule,
                answers=dict(answers),
                at=now,
            )
        top = findings[0]
        episode.tier = max(episode.tier, top.tier)
        number = self._number(person)
        reason = self.content.rule_reason(top.rule)
        if top.tier == Tier.EMERGENCY:
            episode.status = EpisodeStatus.HALTED_EMERGENCY
            repo.cancel_pending_followups(session, person=person)
            self._clear_flow(person)
            return [
                Reply(
                    self.content.advice("emergency", number=number, reason=reason),
                    ((Button(self.content.ui("btn_seen"), "a:seen"),),),
                )
            ]
        if top.tier == Tier.URGENT:
            if episode.status != EpisodeStatus.HALTED_EMERGENCY:
                episode.status = EpisodeStatus.AWAITING_CARE
            repo.cancel_pending_followups(session, person=person)
            self._clear_flow(person)
            summary = self._doctor_summary(session, person, episode)
            return [
                Reply(
                    self.content.advice("urgent", number=number, reason=reason, summary=summary),
                    ((Button(self.content.ui("btn_seen"), "a:seen"),),),
                )
            ]
        summary = self._doctor_summary(session, person, episode)
        replies = [Reply(self.content.advice("soon", reason=reason, summary=summary))]
        if any(f.rule == "low_mood" for f in findings):
            replies.append(Reply(self.content.advice("low_mood")))
        return replies

    def _standing_advice(self, session: Session, person: Person, episode: Episode) -> Reply:
        """Repeat the advice that stands for an episode halted at EMERGENCY or URGENT."""
        rules = [d for d in repo.decisions_of(session, episode) if d.tier >= Tier.URGENT]
        top = max(rules, key=lambda d: d.tier) if rules else None
        reason = self.content.rule_reason(top.rule) if top else ""
        number = self._number(person)
        seen = (
            (Button(self.content.ui("btn_seen"), "a:seen"),),
            (Button(self.content.ui("btn_new_episode"), "a:new_episode"),),
        )
        if episode.status == EpisodeStatus.HALTED_EMERGENCY:
            return Reply(self.content.advice("emergency", number=number, reason=reason), seen)
        summary = self._doctor_summary(session, person, episode)
        return Reply(
            self.content.advice("urgent", number=number, reason=reason, summary=summary), seen
        )

    def _seen_clinician(self, session: Session, person: Person) -> Outcome:
        episode = repo.open_episode(session, person)
        if episode is None or episode.status not in (
            EpisodeStatus.AWAITING_CARE,
            EpisodeStatus.HALTED_EMERGENCY,
        ):
            return Outcome([Reply(self.content.ui("seen_not_needed"))], ack="OK")
        now = self.clock.now()
        episode.seen_clinician_at = now
        repo.record_decision(
            session,
            person=person,
            episode=episode,
            kind="seen_clinician",
            tier=episode.tier,
            rule="seen_clinician",
            answers={},
            at=now,
        )
        if episode.onset_date is None:
            episode.onset_date = self._today_local(person)
        replies = [Reply(self.content.ui("seen_confirmed"))]
        replies += self._start_plan(session, person, episode)
        return Outcome(replies, ack="OK")

    # ------------------------------------------------------------------ plan

    def _start_plan(self, session: Session, person: Person, episode: Episode) -> list[Reply]:
        episode.status = EpisodeStatus.ACTIVE
        day = self._day(person, episode)
        phase = progress.plan_phase(day)
        episode.phase = phase
        session.add(episode)
        session.flush()
        today = self._today_local(person)
        self._schedule_day(session, person, episode, today, include_checkin=False)
        self._schedule_day(session, person, episode, today + timedelta(days=1))
        assert person.checkin_time is not None
        started = self.content.ui(
            "plan_started",
            morning=_hhmm(self._morning(person)),
            time=_hhmm(person.checkin_time),
            zone=person.timezone,
        )
        return [
            Reply(self._plan_text(phase)),
            Reply(self.content.advice("medicines")),
            Reply(started, self._menu_buttons()),
        ]

    def _plan_text(self, phase: str) -> str:
        steps = "\n".join(f"• {step.text}" for step in self.content.plan_steps(phase))
        return f"{self.content.plan_title(phase)}\n\n{steps}"

    def _schedule_of(self, person: Person) -> DaySchedule:
        assert person.timezone is not None and person.checkin_time is not None
        assert person.id is not None
        return DaySchedule(
            zone=person.timezone,
            checkin_time=person.checkin_time,
            morning_time=self._morning(person),
            quiet_start=self._quiet_start(person),
            quiet_end=self._quiet_end(person),
            person_id=_id(person),
        )

    def _schedule_day(
        self,
        session: Session,
        person: Person,
        episode: Episode,
        day: date,
        *,
        include_checkin: bool = True,
    ) -> None:
        now = self.clock.now()
        schedule = self._schedule_of(person)
        for kind in DAILY_KINDS:
            if kind == FollowUpKind.CHECKIN and not include_checkin:
                continue
            due = due_instant(kind, schedule, day)
            if due is not None and due > now:
                repo.upsert_followup(
                    session, person=person, episode=episode, kind=kind, local_date=day, due_at=due
                )

    def _schedule_after_checkin(
        self, session: Session, person: Person, episode: Episode, checkin_day: date
    ) -> None:
        """After day D's check-in (sent or skipped): schedule the next day, never in the past."""
        now = self.clock.now()
        schedule = self._schedule_of(person)
        day = max(checkin_day + timedelta(days=1), local_date_of(schedule.zone, now))
        checkin_due = due_instant(FollowUpKind.CHECKIN, schedule, day)
        if checkin_due is None or checkin_due <= now:
            day += timedelta(days=1)
        self._schedule_day(session, person, episode, day)

    def _reschedule(self, session: Session, person: Person) -> None:
        """Recompute pending follow-ups after a change of zone, time, pause or block."""
        repo.cancel_pending_followups(session, person=person, kinds=DAILY_KINDS)
        if person.blocked or person.state != PersonState.ACTIVE:
            return
        episode = repo.open_episode(session, person)
        if episode is None or episode.status != EpisodeStatus.ACTIVE:
            return
        today = self._today_local(person)
        # Today's check-in, unless it is done or the plan only started today (first is tomorrow).
        assert episode.started_at is not None and person.timezone is not None
        started_today = local_date_of(person.timezone, episode.started_at) >= today
        done_today = repo.checkin_on(session, episode, today) is not None
        self._schedule_day(
            session, person, episode, today, include_checkin=not (done_today or started_today)
        )
        self._schedule_day(session, person, episode, today + timedelta(days=1))

    # ------------------------------------------------------------------ daily check-in

    def _begin_checkin(
        self,
        session: Session,
        person: Person,
        episode: Episode,
        local_date: date,
        *,
        followup_id: int | None = None,
    ) -> list[Reply]:
        """Open the day's check-in (once: one row per day, keyed by its follow-up) and ask."""
        now = self.clock.now()
        assert episode.onset_date is not None
        day = progress.day_number(episode.onset_date, local_date)
        checkin = repo.checkin_on(session, episode, local_date)
        if checkin is None:
            checkin = CheckIn(
                episode_id=_id(episode),
                day=day,
                local_date=local_date,
                started_at=now,
                followup_id=followup_id,
            )
            session.add(checkin)
            session.flush()
        elif checkin.followup_id is None and followup_id is not None:
            checkin.followup_id = followup_id
            session.add(checkin)
        done = [c for c in repo.checkins(session, episode) if c.completed_at is not None]
        queue = list(CHECKIN_QUESTIONS)
        milestone = max((m for m in PGIC_DAYS if m <= day), default=None)
        if milestone is not None and not any(c.pgic and c.day >= milestone for c in done):
            queue.append("pgic")
        if day >= ACTIVITIES_DAY and not any(
            c.daily_activities_ok is not None and c.day >= ACTIVITIES_DAY for c in done
        ):
            queue.append("activities")
        data = {
            "checkin_id": checkin.id,
            "episode_id": episode.id,
            "queue": queue[1:],
            "local_date": local_date.isoformat(),
        }
        header = Reply(self.content.ui("checkin_header", day=day))
        return [header, self._ask(person, f"checkin:{queue[0]}", queue[0], data)]

    def _answer_checkin(self, session: Session, person: Person, qid: str, value: str) -> Outcome:
        now = self.clock.now()
        data = dict(person.flow_data)
        checkin = session.get(CheckIn, data.get("checkin_id"))
        episode = session.get(Episode, data.get("episode_id"))
        if checkin is None or episode is None or episode.status != EpisodeStatus.ACTIVE:
            self._clear_flow(person)
            return Outcome([self._menu(session, person)])
        repo.record_answer(
            session,
            person=person,
            episode=episode,
            question=f"checkin.{qid}",
            value=value,
            at=now,
            checkin=checkin,
        )
        if qid == "emergency":
            findings = triage.triage_answers({"emergency": value})
            if findings:
                return Outcome(
                    self._escalate(
                        session,
                        person,
                        episode,
                        findings,
                        {"checkin_day": checkin.day, "emergency": value},
                    )
                )
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
        session.add(checkin)
        queue = list(data.get("queue", []))
        if queue:
            next_qid = queue.pop(0)
            data["queue"] = queue
            return Outcome([self._ask(person, f"checkin:{next_qid}", next_qid, data)])
        return Outcome(self._complete_checkin(session, person, episode, checkin))

    def _complete_checkin(
        self, session: Session, person: Person, episode: Episode, checkin: CheckIn
    ) -> list[Reply]:
        now = self.clock.now()
        checkin.completed_at = now
        session.add(checkin)
        self._clear_flow(person)
        repo.cancel_reminder(session, episode=episode, local_date=checkin.local_date)
        assert checkin.pain is not None
        if episode.baseline_pain is None:
            episode.baseline_pain = checkin.pain
        session.flush()
        history = [
            progress.CheckinScore(c.day, c.pain, c.daily_activities_ok)
            for c in repo.checkins(session, episode)
            if c.completed_at is not None and c.pain is not None
        ]
        thanks = self.content.ui(
            "checkin_thanks", pain=checkin.pain, baseline=episode.baseline_pain
        )
        answers = {
            "day": checkin.day,
            "pain": checkin.pain,
            "baseline": episode.baseline_pain,
            "change": checkin.change,
        }
        if progress.is_recovered(history):
            return [Reply(thanks), *self._recover(session, person, episode, answers)]
        findings = progress.escalate_if_persisting(
            episode.baseline_pain, history, repo.rules_fired(session, episode)
        )
        replies = [Reply(thanks)]
        if findings:
            replies += self._escalate(session, person, episode, findings, answers)
        assert person.checkin_time is not None
        replies.append(
            Reply(
                self.content.ui("keep_going", time=_hhmm(person.checkin_time)), self._menu_buttons()
            )
        )
        return replies

    def _recover(
        self, session: Session, person: Person, episode: Episode, answers: Mapping[str, object]
    ) -> list[Reply]:
        now = self.clock.now()
        repo.record_decision(
            session,
            person=person,
            episode=episode,
            kind="recovery",
            tier=episode.tier,
            rule="recovered_two_checkins",
            answers=answers,
            at=now,
        )
        repo.cancel_pending_followups(session, person=person)
        episode.status = EpisodeStatus.RECOVERED
        episode.phase = progress.Phase.PREVENTION
        episode.closed_at = now
        session.add(episode)
        # Taper: one last message a few days later, then nothing.
        schedule = self._schedule_of(person)
        day = self._today_local(person) + timedelta(days=PREVENTION_AFTER_DAYS)
        due = due_instant(FollowUpKind.CHECKIN, schedule, day)
        if due is not None:
            repo.upsert_followup(
                session,
                person=person,
                episode=episode,
                kind=FollowUpKind.PREVENTION,
                local_date=day,
                due_at=due,
            )
        steps = "\n".join(f"• {s.text}" for s in self.content.plan_steps("prevention"))
        return [Reply(self.content.advice("recovered") + "\n" + steps)]

    # ------------------------------------------------------------------ commands

    def _checkin_now(self, session: Session, person: Person) -> Outcome:
        episode = repo.open_episode(session, person)
        if person.flow and person.flow.startswith("checkin:"):
            return Outcome([self._ask_current(session, person)])
        if episode is None or episode.status == EpisodeStatus.ASSESSING:
            if person.flow:
                return Outcome([self._ask_current(session, person)])
            return Outcome(
                [
                    Reply(
                        self.content.ui("checkin_no_plan"),
                        ((Button(self.content.ui("btn_start_check"), "a:start_check"),),),
                    )
                ]
            )
        if episode.status != EpisodeStatus.ACTIVE:
            return Outcome([self._standing_advice(session, person, episode)])
        today = self._today_local(person)
        existing = repo.checkin_on(session, episode, today)
        if existing is not None and existing.completed_at is not None:
            outcome = self._progress(session, person)
            outcome.replies.insert(0, Reply(self.content.ui("checkin_done_already")))
            return outcome
        return Outcome(self._begin_checkin(session, person, episode, today))

    def _today(self, session: Session, person: Person) -> Outcome:
        episode = repo.open_episode(session, person)
        if episode is None or episode.onset_date is None:
            return self._with_resume(session, person, [self._menu(session, person)])
        phase = progress.plan_phase(self._day(person, episode))
        return self._with_resume(session, person, [Reply(self._plan_text(phase))])

    def _progress(self, session: Session, person: Person) -> Outcome:
        episode = repo.open_episode(session, person) or repo.latest_episode(session, person)
        if episode is None or episode.onset_date is None:
            return self._with_resume(session, person, [self._menu(session, person)])
        done = [c for c in repo.checkins(session, episode) if c.completed_at is not None]
        if not done:
            return self._with_resume(
                session,
                person,
                [
                    Reply(
                        self.content.ui(
                            "progress_none", time=_hhmm(person.checkin_time or time(19))
                        )
                    )
                ],
            )
        tier_key = {
            Tier.SELF: "progress_tier_self",
            Tier.SOON: "progress_tier_soon",
            Tier.URGENT: "progress_tier_urgent",
            Tier.EMERGENCY: "progress_tier_emergency",
        }[Tier(episode.tier)]
        text = self.content.ui(
            "progress",
            day=self._day(person, episode),
            onset=episode.onset_date.isoformat(),
            trend=self._trend(episode, done),
            tier_line=self.content.ui(tier_key),
        )
        return self._with_resume(session, person, [Reply(text)])

    def _settings_view(self, session: Session, person: Person) -> Outcome:
        text = self.content.ui(
            "settings",
            zone=person.timezone or "-",
            time=_hhmm(person.checkin_time) if person.checkin_time else "-",
            quiet_start=_hhmm(self._quiet_start(person)),
            quiet_end=_hhmm(self._quiet_end(person)),
            number=self._number(person),
        )
        buttons = (
            (Button(self.content.ui("btn_change_zone"), "a:change_zone"),),
            (Button(self.content.ui("btn_change_time"), "a:change_time"),),
        )
        return self._with_resume(session, person, [Reply(text, buttons)])

    def _pause(self, session: Session, person: Person) -> Outcome:
        if person.state == PersonState.PAUSED:
            return Outcome([Reply(self.content.ui("already_paused"))])
        person.state = PersonState.PAUSED
        person.updated_at = self.clock.now()
        repo.cancel_pending_followups(session, person=person)
        return Outcome([Reply(self.content.ui("paused"))])

    def _resume(self, session: Session, person: Person) -> Outcome:
        if person.state == PersonState.ACTIVE:
            return Outcome([Reply(self.content.ui("not_paused"))])
        person.state = PersonState.ACTIVE
        person.silence_reset_at = self.clock.now()
        person.updated_at = self.clock.now()
        self._reschedule(session, person)
        assert person.checkin_time is not None
        return Outcome([Reply(self.content.ui("resumed", time=_hhmm(person.checkin_time)))])

    def _stop(self, session: Session, person: Person) -> Outcome:
        person.state = PersonState.STOPPED
        person.updated_at = self.clock.now()
        self._clear_flow(person)
        repo.cancel_pending_followups(session, person=person)
        episode = repo.open_episode(session, person)
        if episode is not None:
            self._close_episode(session, person, episode, EpisodeStatus.CLOSED)
        return Outcome([Reply(self.content.ui("stopped"))])

    def _export(self, session: Session, person: Person) -> Outcome:
        data = repo.export_person(session, person)
        data["exported_at"] = self.clock.now().isoformat()
        body = json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()
        outcome = self._with_resume(session, person, [])
        outcome.document = ("recovery-coach-my-data.json", body)
        outcome.replies.insert(0, Reply(self.content.ui("mydata_caption")))
        return outcome

    def _ask_delete(self, session: Session, person: Person) -> Outcome:
        options = [("yes", self.content.ui("delete_yes")), ("no", self.content.ui("delete_no"))]
        return Outcome(
            [
                self._ask(
                    person,
                    "delete",
                    "delete",
                    {},
                    self.content.ui("delete_question"),
                    options=options,
                )
            ]
        )

    def _help(self, person: Person | None) -> Reply:
        return Reply(self.content.ui("help", number=self._number(person)))

    def _emergency_info(self, person: Person | None) -> Reply:
        return Reply(self.content.advice("emergency_info", number=self._number(person)))

    # ------------------------------------------------------------------ buttons and text

    def _answer(self, session: Session, person: Person, value: str) -> Outcome:
        flow = person.flow or ""
        qid = str(person.flow_data.get("qid", ""))
        labels = dict(self._options_of(person))
        if value not in labels:
            return self._stale(session, person)
        label = labels[value]
        outcome = self._apply_answer(session, person, flow, qid, value)
        outcome.chosen = label
        return outcome

    def _apply_answer(
        self, session: Session, person: Person, flow: str, qid: str, value: str
    ) -> Outcome:
        now = self.clock.now()
        if flow == "onboard:consent":
            if value == "yes":
                person.consent_at = now
                person.consent_version = self.content.consent_version
                person.updated_at = now
                return Outcome([self._ask_timezone(person, "onboard:timezone")])
            self._clear_flow(person)
            return Outcome(
                [Reply(self.content.ui("consent_declined", number=self._number(person)))]
            )
        if flow in ("onboard:timezone", "settings:timezone"):
            return self._set_timezone(session, person, value)
        if flow in ("onboard:checkin_time", "settings:checkin_time"):
            return self._set_checkin_time(session, person, value)
        if flow.startswith("check:"):
            return self._answer_symptom_check(session, person, qid, value)
        if flow.startswith("checkin:"):
            return self._answer_checkin(session, person, qid, value)
        if flow == "continue":
            self._clear_flow(person)
            person.silence_reset_at = now
            if value == "yes":
                self._reschedule(session, person)
                assert person.checkin_time is not None
                return Outcome(
                    [Reply(self.content.ui("continue_yes", time=_hhmm(person.checkin_time)))]
                )
            return self._stop(session, person)
        if flow.startswith("screen:"):
            return self._answer_screen(session, person, qid, value)
        if flow == "delete":
            if value == "yes":
                repo.erase_person(session, person)
                return Outcome([Reply(self.content.ui("deleted"))])
            self._clear_flow(person)
            return Outcome([Reply(self.content.ui("delete_cancelled"))])
        self._clear_flow(person)
        return Outcome([self._menu(session, person)])

    def _answer_screen(self, session: Session, person: Person, qid: str, value: str) -> Outcome:
        """The explicit screening question asked because free text sounded like a red flag."""
        now = self.clock.now()
        episode = repo.open_episode(session, person)
        repo.record_answer(
            session, person=person, episode=episode, question=f"screen.{qid}", value=value, at=now
        )
        findings = triage.triage_answers({qid: value})
        if findings:
            if episode is None:
                episode = Episode(
                    person_id=_id(person),
                    started_at=now,
                    status=EpisodeStatus.ASSESSING,
                )
                session.add(episode)
                session.flush()
            return Outcome(self._escalate(session, person, episode, findings, {qid: value}))
        resume = person.flow_data.get("resume")
        if resume:
            person.flow = resume["flow"]
            person.flow_data = resume["data"]
            return Outcome([self._ask_current(session, person)])
        self._clear_flow(person)
        return Outcome([self._menu(session, person)], ack="OK")

    def _red_flag_text(self, session: Session, person: Person, flag: Tier) -> Outcome:
        flow = person.flow or ""
        qid = "emergency" if flag == Tier.EMERGENCY else "urgent"
        if flow.endswith(":emergency") and flag == Tier.EMERGENCY:
            # The explicit question is on screen and the person describes a sign in words:
            # over-caution costs a phone call, a miss could cost much more.
            episode = repo.open_episode(session, person)
            if episode is None:
                episode = Episode(
                    person_id=_id(person),
                    started_at=self.clock.now(),
                    status=EpisodeStatus.ASSESSING,
                )
                session.add(episode)
                session.flush()
            return Outcome(
                self._escalate(
                    session,
                    person,
                    episode,
                    [Finding(Tier.EMERGENCY, "reported_in_text")],
                    {"free_text": "red flag words"},
                )
            )
        if flow.endswith(f":{qid}"):
            return Outcome(
                [Reply(self.content.ui("button_expected")), self._ask_current(session, person)]
            )
        resume = {"flow": person.flow, "data": person.flow_data} if person.flow else None
        if person.flow and person.flow.startswith("screen:"):
            resume = person.flow_data.get("resume")
        return Outcome(
            [
                Reply(self.content.ui("screen_intro")),
                self._ask(person, f"screen:{qid}", qid, {"resume": resume}),
            ]
        )

    def _low_mood_text(self, session: Session, person: Person) -> Outcome:
        """Low mood said in words: the SOON advice with its signposting, once per episode."""
        episode = repo.open_episode(session, person)
        replies: list[Reply] = []
        if episode is not None and "low_mood" not in repo.rules_fired(session, episode):
            replies = self._escalate(
                session,
                person,
                episode,
                [Finding(Tier.SOON, "low_mood")],
                {"free_text": "low mood words"},
            )
        else:
            replies = [Reply(self.content.advice("low_mood"))]
        return self._with_resume(session, person, replies)

    def _typed_answer(self, session: Session, person: Person, text: str) -> Outcome | None:
        """Free text where the current question accepts a typed answer."""
        qid = str(person.flow_data.get("qid", "")) if person.flow else ""
        if qid == "pain":
            match = _PAIN_RE.match(text.strip())
            if not match:
                return Outcome(
                    [Reply(self.content.ui("pain_invalid")), self._ask_current(session, person)]
                )
            value = match.group(1)
            outcome = self._apply_answer(session, person, person.flow or "", qid, value)
            return outcome
        if qid == "timezone":
            zone = find_zone(text)
            if zone is None:
                return Outcome(
                    [Reply(self.content.ui("timezone_unknown")), self._ask_current(session, person)]
                )
            return self._set_timezone(session, person, zone)
        if qid == "checkin_time":
            return self._set_checkin_time(session, person, text)
        return None

    def _action(self, session: Session, person: Person, action: str) -> Outcome:
        if action == "seen":
            return self._seen_clinician(session, person)
        if person.consent_at is None or person.timezone is None or person.checkin_time is None:
            return self._start(session, UserRef(person.telegram_user_id, person.chat_id), person)
        if action in ("start_check", "new_episode"):
            if person.flow and person.flow.startswith("check:") and action == "start_check":
                return Outcome([self._ask_current(session, person)])
            person.state = PersonState.ACTIVE
            return Outcome(self._begin_symptom_check(session, person))
        if action == "change_zone":
            return Outcome([self._ask_timezone(person, "settings:timezone")])
        if action == "change_time":
            return Outcome([self._ask_checkin_time(person, "settings:checkin_time")])
        commands = {"checkin": self._checkin_now, "today": self._today, "progress": self._progress}
        if action in commands:
            return commands[action](session, person)
        if action == "help":
            return Outcome([self._help(person)])
        return self._stale(session, person)

    def _stale(self, session: Session, person: Person) -> Outcome:
        if person.flow:
            return Outcome(
                [Reply(self.content.ui("stale_button")), self._ask_current(session, person)],
                ack="↑",
            )
        return Outcome(
            [Reply(self.content.ui("nothing_pending")), self._menu(session, person)], ack="↑"
        )

    def _with_resume(
        self, session: Session, person: Person | None, replies: list[Reply]
    ) -> Outcome:
        """Answer a command, then show the question still waiting, if any."""
        if person is not None and person.flow:
            replies = [
                *replies,
                Reply(self.content.ui("mid_flow_command")),
                self._ask_current(session, person),
            ]
        return Outcome(replies)

    # ------------------------------------------------------------------ questions

    def _ask(
        self,
        person: Person,
        flow: str,
        qid: str,
        data: Mapping[str, object],
        text: str | None = None,
        options: Iterable[tuple[str, str]] | None = None,
    ) -> Reply:
        """Put a question to the person: the flow and a fresh token are stored on their row."""
        if options is None:
            if qid == "continue":
                options = [
                    ("yes", self.content.ui("btn_continue_yes")),
                    ("no", self.content.ui("btn_continue_no")),
                ]
            else:
                options = self.content.question(qid).options
        options = list(options)
        person.flow = flow
        person.flow_token += 1
        person.flow_data = {**data, "qid": qid, "text": text, "options": options}
        return self._render_question(person)

    def _render_question(self, person: Person) -> Reply:
        qid = str(person.flow_data["qid"])
        text = person.flow_data.get("text") or self.content.question(qid).text
        if qid == "pain":
            text = f"{text}\n{self.content.ui('pain_hint')}"
        options = [(str(v), str(label)) for v, label in self._options_of(person)]
        buttons = [Button(label, f"q:{person.flow_token}:{value}") for value, label in options]
        return Reply(str(text), _layout(buttons))

    def _ask_current(self, session: Session, person: Person) -> Reply:
        """Show the waiting question again. It keeps its own token: any copy of this question
        answers it (once), and no copy can answer a later question."""
        return self._render_question(person)

    def _options_of(self, person: Person) -> list[tuple[str, str]]:
        return [(str(v), str(label)) for v, label in person.flow_data.get("options", [])]

    def _clear_flow(self, person: Person) -> None:
        person.flow = None
        person.flow_data = {}
        person.flow_token += 1

    def _menu(self, session: Session, person: Person) -> Reply:
        episode = repo.open_episode(session, person)
        if episode is not None and episode.status == EpisodeStatus.ACTIVE:
            return Reply(self.content.ui("idle_text"), self._menu_buttons())
        if episode is not None and episode.status != EpisodeStatus.ASSESSING:
            return self._standing_advice(session, person, episode)
        return Reply(
            self.content.ui("idle_no_plan"),
            (
                (Button(self.content.ui("btn_start_check"), "a:start_check"),),
                (Button(self.content.ui("btn_help"), "a:help"),),
            ),
        )

    def _menu_buttons(self, include_new: bool = False) -> tuple[tuple[Button, ...], ...]:
        c = self.content
        rows: list[tuple[Button, ...]] = [
            (Button(c.ui("btn_checkin"), "a:checkin"), Button(c.ui("btn_today"), "a:today")),
            (Button(c.ui("btn_progress"), "a:progress"), Button(c.ui("btn_help"), "a:help")),
        ]
        if include_new:
            rows.append((Button(c.ui("btn_new_episode"), "a:new_episode"),))
        return tuple(rows)

    # ------------------------------------------------------------------ helpers

    def _close_episode(
        self, session: Session, person: Person, episode: Episode, status: EpisodeStatus
    ) -> None:
        episode.status = status
        episode.closed_at = self.clock.now()
        session.add(episode)
        repo.cancel_pending_followups(session, person=person)

    def _doctor_summary(self, session: Session, person: Person, episode: Episode) -> str:
        c = self.content
        done = [ch for ch in repo.checkins(session, episode) if ch.completed_at is not None]
        onset = (
            c.ui("onset_label", date=episode.onset_date.isoformat()) if episode.onset_date else "-"
        )
        trigger = c.question("trigger").label(episode.trigger).lower() if episode.trigger else "-"
        if done:
            care = sum(1 for ch in done if ch.managed in ("both", "care"))
            walks = sum(1 for ch in done if ch.managed in ("both", "walks"))
            tried = c.ui("tried_summary", care=care, walks=walks, days=len(done))
        else:
            tried = c.ui("tried_nothing_yet")
        return c.advice(
            "doctor_summary",
            onset=onset,
            trigger=trigger,
            trend=self._trend(episode, done),
            tried=tried,
        )

    @staticmethod
    def _trend(episode: Episode, done: list[CheckIn]) -> str:
        scores = [episode.baseline_pain] if episode.baseline_pain is not None else []
        scores += [c.pain for c in done if c.pain is not None]
        return " → ".join(str(s) for s in scores) if scores else "-"

    def _number(self, person: Person | None) -> str:
        if person is not None and person.emergency_number:
            return person.emergency_number
        return self.settings.default_emergency_number

    def _today_local(self, person: Person) -> date:
        zone = person.timezone or self.settings.default_timezone
        return local_date_of(zone, self.clock.now())

    def _day(self, person: Person, episode: Episode) -> int:
        if episode.onset_date is None:
            return 1
        return progress.day_number(episode.onset_date, self._today_local(person))

    def _morning(self, person: Person) -> time:
        return person.morning_time or self.settings.morning_time

    def _quiet_start(self, person: Person) -> time:
        return person.quiet_start or self.settings.quiet_start

    def _quiet_end(self, person: Person) -> time:
        return person.quiet_end or self.settings.quiet_end


def _id(row: Person | Episode | FollowUp) -> int:
    assert row.id is not None, "row not flushed yet"
    return row.id


def _layout(buttons: list[Button]) -> tuple[tuple[Button, ...], ...]:
    """Short labels share a row (pain scores, times); long ones get a row each."""
    longest = max((len(b.label) for b in buttons), default=0)
    per_row = 6 if longest <= 2 else 3 if longest <= 8 else 2 if longest <= 16 else 1
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def _parse_time(text: str) -> time | None:
    match = _TIME_RE.match(text)
    if not match:
        return None
    return time(int(match.group(1)), int(match.group(2) or 0))


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")
