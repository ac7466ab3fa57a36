"""Pictures and a page for the doctor: the pain chart shown with /progress, and the one-page
"for your doctor" PDF sent on /report or from the button offered with SOON and URGENT advice.

This module turns the episode's rows (coach/storage/report_data.py) into the person's words
and local dates; coach/reports draws them. Asking for the report is counted (a decision row of
its own kind, no answers), so operators see how often it helps without seeing who asked.
"""

from __future__ import annotations

import logging
import time as timer
from dataclasses import replace
from datetime import date, datetime, timedelta
from functools import partial

from coach.clinical import progress
from coach.clinical.tiers import Tier
from coach.coaching.journeys.common import Turn, pain_trend, row_id, today_local, with_resume
from coach.coaching.replies import Choice, Drawing, Outcome, Reply
from coach.content import Content
from coach.reports.chart import AdviceMark, PainChart, PhaseSpan, render_png
from coach.reports.clinician_pdf import ClinicianReport, Section, render_pdf
from coach.scheduling.planner import local_date_of
from coach.storage import report_data
from coach.storage import repository as repo
from coach.storage.models import Episode
from coach.storage.report_data import EpisodeFacts

log = logging.getLogger(__name__)

REPORT_FILE_NAME = "recovery-coach-for-your-doctor.pdf"
REPORT_ACTION = "report"
_TIER_NAMES = {
    Tier.SELF: "tier_name_self",
    Tier.SOON: "tier_name_soon",
    Tier.URGENT: "tier_name_urgent",
    Tier.EMERGENCY: "tier_name_emergency",
}


def offer(content: Content) -> tuple[Choice, ...]:
    """The button row offering the report, under SOON and URGENT advice."""
    return (Choice(content.ui("btn_report"), action=REPORT_ACTION),)


def long_date(content: Content, day: date) -> str:
    months = content.ui("month_names").split()
    return content.ui("date_long", day=day.day, month=months[day.month - 1], year=day.year)


def short_date(content: Content, day: date) -> str:
    months = content.ui("month_short_names").split()
    return content.ui("date_short", day=day.day, month=months[day.month - 1])


# ---------------------------------------------------------------------- the chart


def chart_photo(turn: Turn, episode: Episode) -> tuple[str, Drawing]:
    """The pain chart (drawn after the commit) and its one-line caption; if drawing fails the
    photo is dropped and the text summary still goes."""
    chart = pain_chart(turn, report_data.episode_facts(turn.session, episode))
    done = repo.checkins(turn.session, episode)
    trend = pain_trend(episode, [c for c in done if c.completed_at is not None])
    return turn.content.ui("chart_caption", trend=trend), partial(render_png, chart)


def pain_chart(turn: Turn, facts: EpisodeFacts) -> PainChart:
    content = turn.content

    def local(instant: datetime) -> date:
        return _local_date(turn, instant)

    points: list[tuple[date, int]] = []
    if facts.baseline_pain is not None:
        points.append((local(facts.started_at), facts.baseline_pain))
    points += [(c.local_date, c.pain) for c in facts.checkins if c.pain is not None]
    first = min([facts.onset_date or local(facts.started_at), *(d for d, _ in points)])
    end = local(facts.closed_at) if facts.closed_at else today_local(turn)
    last = max([end, first + timedelta(days=2), *(d for d, _ in points)])
    phases = []
    if facts.onset_date is not None:
        heat_from = facts.onset_date + timedelta(days=progress.ICE_PHASE_DAYS)
        phases.append(PhaseSpan("ice", facts.onset_date, min(last, heat_from - timedelta(1))))
        if heat_from <= last:
            phases.append(PhaseSpan("heat", heat_from, last))
    marks: dict[date, AdviceMark] = {}
    for decision in facts.decisions:
        if decision.kind != "escalation" or decision.tier < Tier.SOON:
            continue
        day = local(decision.at)
        if day not in marks or marks[day].tier < decision.tier:
            label = content.ui(_TIER_NAMES[Tier(decision.tier)])
            marks[day] = AdviceMark(day, decision.tier, label)
    return PainChart(
        title=content.ui("chart_title"),
        axis_label=content.ui("chart_axis"),
        phase_labels={"ice": content.ui("chart_phase_ice"), "heat": content.ui("chart_phase_heat")},
        points=points,
        first_day=first,
        last_day=last,
        day_label=lambda day: short_date(content, day),
        phases=phases,
        advice=sorted(marks.values(), key=lambda m: m.day),
    )


# ---------------------------------------------------------------------- the report


def clinician_report(turn: Turn) -> Outcome:
    """/report and the "Summary for my doctor" button: the one-page PDF for the open or the
    last episode."""
    session, person = turn.session, turn.person
    episode = repo.open_episode(session, person) or repo.latest_episode(session, person)
    facts = report_data.episode_facts(session, episode) if episode is not None else None
    if episode is None or facts is None or not (facts.screens or facts.decisions):
        return with_resume(turn, [Reply(turn.content.ui("report_none"))])
    report_data.record_report_request(
        session, person_id=row_id(person), episode_id=episode.id, at=turn.clock.now()
    )
    report, chart = report_of(turn, facts)
    outcome = with_resume(turn, [Reply(turn.content.ui("report_caption"))])
    outcome.document = (REPORT_FILE_NAME, partial(draw_report, report, chart))
    return outcome


def draw_report(report: ClinicianReport, chart: PainChart | None) -> bytes:
    """The page, drawn after the commit from data already gathered (see replies.Drawing)."""
    started = timer.perf_counter()
    png = render_png(chart) if chart is not None else None
    pdf = render_pdf(replace(report, chart_png=png))
    log.info("clinician report made in %.0f ms", (timer.perf_counter() - started) * 1000)
    return pdf


def report_of(turn: Turn, facts: EpisodeFacts) -> tuple[ClinicianReport, PainChart | None]:
    """The page's words (its chart left to draw) and the chart's data."""
    content = turn.content
    nothing = [content.ui("report_nothing")]

    def when(instant: datetime) -> str:
        return long_date(content, _local_date(turn, instant))

    chart: PainChart | None = None
    if facts.baseline_pain is not None or facts.checkins:
        chart = pain_chart(turn, facts)
    report = ClinicianReport(
        title=content.ui("report_title"),
        prepared=content.ui("report_prepared", date=long_date(content, today_local(turn))),
        summary=[_onset_line(turn, facts)],
        chart_png=None,
        chart_caption=content.ui("report_pain_trend", trend=_trend(facts)),
        sections=[
            Section(
                content.ui("report_heading_screens"),
                [_screen_line(content, s, when(s.at)) for s in facts.screens] or nothing,
            ),
            Section(
                content.ui("report_heading_decisions"),
                [_decision_line(content, d, when(d.at)) for d in facts.decisions] or nothing,
            ),
            Section(content.ui("report_heading_tried"), [_tried_line(content, facts)]),
            Section(content.ui("report_heading_medicines"), _medicines(turn, facts)),
        ],
        disclaimer=content.ui("report_disclaimer"),
    )
    return report, chart


def _trend(facts: EpisodeFacts) -> str:
    scores = [facts.baseline_pain] if facts.baseline_pain is not None else []
    scores += [c.pain for c in facts.checkins if c.pain is not None]
    return " → ".join(str(s) for s in scores) if scores else "-"


def _onset_line(turn: Turn, facts: EpisodeFacts) -> str:
    content = turn.content
    if facts.onset_date is None:
        return content.ui("report_onset_unknown")
    trigger = content.question("trigger").label(facts.trigger) if facts.trigger else "-"
    where = content.question("location").label(facts.location) if facts.location else "-"
    return content.ui(
        "report_onset",
        date=long_date(content, facts.onset_date),
        trigger=content.in_sentence(trigger),
        where=content.in_sentence(where),
        pain="-" if facts.baseline_pain is None else facts.baseline_pain,
    )


def _screen_line(content: Content, screen: report_data.ScreenFact, day: str) -> str:
    if screen.question.startswith(report_data.SCREEN_PREFIX):
        qid, asked_in = screen.question.removeprefix(report_data.SCREEN_PREFIX), "report_when_text"
    else:
        qid = "emergency"
        asked_in = "report_when_checkin" if screen.checkin_day else "report_when_check"
    try:
        answer = content.question(qid).label(screen.value)
    except KeyError:
        answer = screen.value
    where = content.ui(asked_in, day=screen.checkin_day or "-")
    return content.ui("report_screen", date=day, when=where, answer=answer)


def _decision_line(content: Content, decision: report_data.DecisionFact, day: str) -> str:
    tier = decision.tier if decision.kind in ("triage", "escalation") else Tier.SELF
    try:
        reason, source_id = content.rule_reason(decision.rule), content.rule_source(decision.rule)
        source = f"{content.sources[source_id].title} ({content.sources[source_id].url})"
    except KeyError:  # a rule this content does not describe: say which, never fail the page
        reason, source = decision.rule, "-"
    tier_name = content.ui(_TIER_NAMES[Tier(tier)])
    return content.ui("report_decision", date=day, tier=tier_name, reason=reason, source=source)


def _tried_line(content: Content, facts: EpisodeFacts) -> str:
    cold = heat = walks = 0
    for checkin in facts.checkins:
        if checkin.managed in ("both", "care"):
            if progress.plan_phase(checkin.day) == progress.Phase.ICE:
                cold += 1
            else:
                heat += 1
        if checkin.managed in ("both", "walks"):
            walks += 1
    return content.ui("report_tried", days=len(facts.checkins), cold=cold, heat=heat, walks=walks)


def _medicines(turn: Turn, facts: EpisodeFacts) -> list[str]:
    content = turn.content
    if not facts.plan_started:
        return [content.ui("report_nothing")]
    days = sorted({_local_date(turn, at) for at in facts.plan_started})
    source = content.sources[content.advice_sources["medicines"]].title
    return [
        content.ui("report_medicines", date=", ".join(long_date(content, d) for d in days)),
        f"{content.advice('medicines')} ({source})",
    ]


def _local_date(turn: Turn, instant: datetime) -> date:
    return local_date_of(turn.person.timezone or turn.settings.default_timezone, instant)
