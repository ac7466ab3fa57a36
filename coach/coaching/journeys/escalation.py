"""Escalation and its way back: say what to do when a sign appears, repeat it while it stands,
restart the plan once the person has been seen, and close the episode on recovery.

Tiers only go up: every finding is recorded, the episode keeps the highest tier it ever had.
EMERGENCY halts coaching and URGENT waits for care, both until "I've been seen by a clinician".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

from coach.clinical import progress
from coach.clinical.tiers import Finding, Tier
from coach.coaching.journeys.clinician_report import long_date, offer
from coach.coaching.journeys.common import (
    Turn,
    clear_flow,
    completed_checkins,
    pain_trend,
    today_local,
)
from coach.coaching.journeys.plan import schedule_of, start_plan
from coach.coaching.replies import Choice, Outcome, Reply
from coach.scheduling.planner import due_instant
from coach.storage import repository as repo
from coach.storage.models import Episode, EpisodeStatus, FollowUpKind

PREVENTION_AFTER_DAYS = 3


def escalate(
    turn: Turn, episode: Episode, findings: list[Finding], answers: Mapping[str, object]
) -> list[Reply]:
    """Record every finding, raise the episode's tier (never lower it) and say what to do."""
    person, session, content = turn.person, turn.session, turn.content
    now = turn.clock.now()
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
    reason = content.rule_reason(top.rule)
    seen = ((Choice(content.ui("btn_seen"), action="seen"),),)
    report = offer(content)  # the one-page summary for a doctor, with SOON and URGENT advice
    if top.tier == Tier.EMERGENCY:
        episode.status = EpisodeStatus.HALTED_EMERGENCY
        repo.cancel_pending_followups(session, person=person)
        clear_flow(person)
        return [Reply(content.advice("emergency", number=turn.number, reason=reason), seen)]
    if top.tier == Tier.URGENT:
        if episode.status != EpisodeStatus.HALTED_EMERGENCY:
            episode.status = EpisodeStatus.AWAITING_CARE
        repo.cancel_pending_followups(session, person=person)
        clear_flow(person)
        summary = doctor_summary(turn, episode)
        text = content.advice("urgent", number=turn.number, reason=reason, summary=summary)
        return [Reply(_tidy(text), (*seen, report))]
    summary = doctor_summary(turn, episode)
    replies = [Reply(_tidy(content.advice("soon", reason=reason, summary=summary)), (report,))]
    if any(f.rule == "low_mood" for f in findings):
        replies.append(Reply(content.advice("low_mood")))
    return replies


def standing_advice(turn: Turn, episode: Episode) -> Reply:
    """Repeat the advice that stands for an episode halted at EMERGENCY or URGENT."""
    content = turn.content
    rules = [d for d in repo.decisions_of(turn.session, episode) if d.tier >= Tier.URGENT]
    top = max(rules, key=lambda d: d.tier) if rules else None
    reason = content.rule_reason(top.rule) if top else ""
    choices = (
        (Choice(content.ui("btn_seen"), action="seen"),),
        (Choice(content.ui("btn_new_episode"), action="new_episode"),),
    )
    if episode.status == EpisodeStatus.HALTED_EMERGENCY:
        return Reply(content.advice("emergency", number=turn.number, reason=reason), choices)
    summary = doctor_summary(turn, episode)
    return Reply(
        _tidy(content.advice("urgent", number=turn.number, reason=reason, summary=summary)),
        (*choices, offer(content)),
    )


def seen_clinician(turn: Turn) -> Outcome:
    """The person has been seen: record it and (re)start the plan."""
    person, session = turn.person, turn.session
    episode = repo.open_episode(session, person)
    if episode is None or episode.status not in (
        EpisodeStatus.AWAITING_CARE,
        EpisodeStatus.HALTED_EMERGENCY,
    ):
        return Outcome([Reply(turn.content.ui("seen_not_needed"))], ack="OK")
    now = turn.clock.now()
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
        episode.onset_date = today_local(turn)
    replies = [Reply(turn.content.ui("seen_confirmed"))]
    replies += start_plan(turn, episode)
    return Outcome(replies, ack="OK")


def recover(turn: Turn, episode: Episode, answers: Mapping[str, object]) -> list[Reply]:
    """Recovered: close the episode and leave one prevention message for a few days later."""
    person, session = turn.person, turn.session
    now = turn.clock.now()
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
    day = today_local(turn) + timedelta(days=PREVENTION_AFTER_DAYS)
    due = due_instant(FollowUpKind.CHECKIN, schedule_of(turn), day)
    if due is not None:
        repo.upsert_followup(
            session,
            person=person,
            episode=episode,
            kind=FollowUpKind.PREVENTION,
            local_date=day,
            due_at=due,
        )
    steps = "\n".join(f"• {s.text}" for s in turn.content.plan_steps("prevention"))
    return [Reply(turn.content.advice("recovered") + "\n" + steps)]


def doctor_summary(turn: Turn, episode: Episode) -> str:
    """What to tell a clinician: onset (a readable date), trigger, the pain trend and what was
    tried. Only what is known: advice given before onset or pain were asked leaves those out,
    and with nothing known there is no summary at all."""
    content = turn.content
    done = completed_checkins(turn, episode)
    trigger = content.question("trigger").label(episode.trigger) if episode.trigger else None
    trigger = content.in_sentence(trigger) if trigger else None
    onset = long_date(content, episode.onset_date) if episode.onset_date else None
    facts: list[str] = []
    if onset and trigger:
        facts.append(content.ui("summary_started_after", date=onset, trigger=trigger))
    elif onset:
        facts.append(content.ui("summary_started", date=onset))
    elif trigger:
        facts.append(content.ui("summary_after", trigger=trigger))
    if episode.baseline_pain is not None or done:
        facts.append(content.ui("summary_pain", trend=pain_trend(episode, done)))
    if done:
        care = sum(1 for ch in done if ch.managed in ("both", "care"))
        walks = sum(1 for ch in done if ch.managed in ("both", "walks"))
        tried = content.ui("tried_summary", care=care, walks=walks, days=len(done))
        facts.append(content.ui("summary_tried", tried=tried))
    if not facts:
        return ""
    return content.advice("doctor_summary", summary="; ".join(facts))


def _tidy(text: str) -> str:
    """An advice whose summary is empty: no blank line left where it would have been."""
    return re.sub(r"\n{3,}", "\n\n", text)
