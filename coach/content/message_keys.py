"""Texts and placeholders of the daily messages (morning steps, walks that grow, progress in
words, the doctor summary in parts), required by the loader beside its own list, so a language
without them refuses to start."""

from __future__ import annotations

MESSAGE_UI = [
    "morning_today",
    "morning_footer",
    "pain_real_progress",
    "pain_a_little_lower",
    "pain_same",
    "pain_higher",
    "progress_none_tomorrow",
    "summary_started_after",
    "summary_started",
    "summary_after",
    "summary_pain",
    "summary_tried",
]
MESSAGE_ADVICE = [
    "walk_nudge_longer",
    "today_walk_ice",
    "today_walk_heat",
    "today_rest_ice",
    "today_stretch_heat",
]
MESSAGE_FIELDS = ["minutes"]
