"""Texts and placeholders of the pain chart and the clinician's report (required by the loader
beside its own list, so a language without them refuses to start)."""

from __future__ import annotations

REPORT_UI = [
    "btn_report",
    "report_caption",
    "report_none",
    "report_title",
    "report_prepared",
    "report_onset",
    "report_onset_unknown",
    "report_pain_trend",
    "report_heading_screens",
    "report_heading_decisions",
    "report_heading_tried",
    "report_heading_medicines",
    "report_screen",
    "report_when_check",
    "report_when_checkin",
    "report_when_text",
    "report_decision",
    "report_tried",
    "report_medicines",
    "report_nothing",
    "report_disclaimer",
    "chart_title",
    "chart_axis",
    "chart_caption",
    "chart_phase_ice",
    "chart_phase_heat",
    "tier_name_self",
    "tier_name_soon",
    "tier_name_urgent",
    "tier_name_emergency",
    "date_long",
    "date_short",
    "month_names",
    "month_short_names",
]
# Rules the report explains besides the clinical core's: the decisions that are not escalations.
REPORT_RULES = ["no_red_flags", "seen_clinician", "recovered_two_checkins"]
REPORT_FIELDS = ["month", "year", "tier", "source", "where", "when", "answer", "cold", "heat"]
