"""Load and validate `content/`. A missing or malformed entry stops start-up, naming the entry."""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from coach.clinical.tiers import EMERGENCY_SIGNS, SOON_SIGNS, URGENT_SIGNS
from coach.content.checks import LANGUAGE_UI, ContentError, check_questions
from coach.content.lexicon_files import FREE_TEXT_UI, Lexicon, load_lexicon
from coach.content.message_keys import MESSAGE_ADVICE, MESSAGE_FIELDS, MESSAGE_UI
from coach.content.report_keys import REPORT_FIELDS, REPORT_RULES, REPORT_UI

# Commands shown in Telegram's menu, in this order; each has a description `ui.cmd_<name>`.
MENU_COMMANDS = (
    "checkin today progress report settings language pause resume stop emergency mydata delete "
    "help start"
).split()

# Keys the code asks for. Adding a text to the code means adding it here and to content/.
REQUIRED_UI = [
    "welcome",
    "something_went_wrong",
    "foreign_button",
    "consent_question",
    "consent_yes",
    "consent_no",
    "consent_declined",
    "consent_required",
    "timezone_question",
    "timezone_unknown",
    "timezone_set",
    "checkin_time_question",
    "checkin_time_invalid",
    "checkin_time_set",
    "check_intro",
    "none_of_these",
    "pain_hint",
    "pain_invalid",
    "button_expected",
    "stale_button",
    "nothing_pending",
    "idle_text",
    "idle_no_plan",
    "unknown_command",
    "unsupported_message",
    "long_message",
    "help",
    "btn_start_check",
    "btn_checkin",
    "btn_today",
    "btn_progress",
    "btn_help",
    "btn_seen",
    "btn_new_episode",
    "btn_continue_yes",
    "btn_continue_no",
    "btn_change_zone",
    "btn_change_time",
    "already_running",
    "result_self",
    "plan_started",
    "morning_header",
    "phase_switch_heat",
    "checkin_header",
    "checkin_reminder",
    "checkin_done_already",
    "checkin_thanks",
    "checkin_no_plan",
    "keep_going",
    "continue_prompt",
    "continue_yes",
    "paused",
    "already_paused",
    "resumed",
    "not_paused",
    "stopped",
    "progress_none",
    "progress",
    "progress_tier_self",
    "progress_tier_soon",
    "progress_tier_urgent",
    "progress_tier_emergency",
    "settings",
    "seen_confirmed",
    "seen_not_needed",
    "screen_intro",
    "mid_flow_command",
    "group_chat",
    "tried_summary",
    "tried_nothing_yet",
    "onset_label",
    "mydata_caption",
    "nothing_stored",
    "delete_question",
    "delete_yes",
    "delete_no",
    "deleted",
    "delete_cancelled",
    "slow_down",
    *REPORT_UI,
    *LANGUAGE_UI,
    *MESSAGE_UI,
    *FREE_TEXT_UI,
    *(f"cmd_{name}" for name in MENU_COMMANDS),
]
REQUIRED_ADVICE = [
    "emergency",
    "urgent",
    "soon",
    "emergency_info",
    "crisis",
    "low_mood",
    "medicines",
    "recovered",
    "prevention_followup",
    "walk_nudge",
    "care_nudge_ice",
    "care_nudge_heat",
    "doctor_summary",
    *MESSAGE_ADVICE,
]
REQUIRED_PLAN_PHASES = ("ice", "heat", "prevention")
PERSISTENCE_RULES = [
    "no_improvement_day3",
    "no_improvement_day7",
    "lasting_day14",
    "pain_jumped",
    "worse_than_baseline_twice",
    "daily_activities_after_week",
    "reported_in_text",
    "high_back_pain",
    "first_back_pain_over_50",
]
REQUIRED_RULES = (*EMERGENCY_SIGNS, *URGENT_SIGNS, *SOON_SIGNS, *PERSISTENCE_RULES, *REPORT_RULES)
# Questions and the option values the clinical core depends on (labels are free).
REQUIRED_QUESTIONS: dict[str, tuple[str, ...]] = {
    "emergency": (*EMERGENCY_SIGNS, "none"),
    "location": ("lower_back", "lower_back_leg", "middle_back", "between_shoulders"),
    "onset": ("0", "1", "2", "5", "10", "15"),
    "trigger": tuple("lifting sport twist posture minor_fall serious_accident unknown".split()),
    "pain": tuple(str(n) for n in range(11)),
    "urgent": (*URGENT_SIGNS, "high_back_pain", "none"),
    "soon": (*SOON_SIGNS, "both", "none"),
    "age": ("under50", "over50_before", "over50_first"),
    "change": ("better", "same", "worse"),
    "managed": ("both", "care", "walks", "neither"),
    "pgic": (
        "very_much_improved",
        "much_improved",
        "minimally_improved",
        "no_change",
        "minimally_worse",
        "much_worse",
        "very_much_worse",
    ),
    "activities": ("yes", "no"),
    "timezone": (),
    "checkin_time": (),
}
# Placeholders a text may use; anything else is a typo that would fail at send time.
ALLOWED_FIELDS = frozenset(
    [
        "number",
        "zone",
        "time",
        "quiet_start",
        "quiet_end",
        "day",
        "pain",
        "baseline",
        "morning",
        "trend",
        "onset",
        "tier_line",
        "reason",
        "summary",
        "trigger",
        "tried",
        "care",
        "walks",
        "days",
        "date",
        "same_day",  # where to get help today, in the terms of the person's country
        "crisis_line",  # a crisis line of the person's country
        *REPORT_FIELDS,
        *MESSAGE_FIELDS,
    ]
)
TELEGRAM_TEXT_LIMIT = 4096


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Sourced(_Strict):
    text: str
    source: str


class _Option(_Strict):
    value: str
    label: str


class _QuestionModel(_Strict):
    text: str
    options: list[_Option]


class _PlanPhase(_Strict):
    title: str
    steps: list[_Sourced]


class _LanguageFile(_Strict):
    language: str
    consent_version: str
    ui: dict[str, str]
    advice: dict[str, str]
    advice_sources: dict[str, str]
    rules: dict[str, _Sourced]
    plan: dict[str, _PlanPhase]
    questions: dict[str, _QuestionModel]
    # A button label quoted inside a sentence ("after lifting or bending") is lower-cased, except
    # in languages whose nouns keep their capital (German: "nach Heben oder Bücken").
    lowercase_labels_in_sentences: bool = True


class _Source(_Strict):
    title: str
    url: str


class _SourcesFile(_Strict):
    sources: dict[str, _Source]


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    options: tuple[tuple[str, str], ...]  # (value, label)

    def label(self, value: str) -> str:
        return dict(self.options).get(value, value)


@dataclass(frozen=True)
class PlanStep:
    text: str
    source: str


class Content:
    """Validated texts for one language, with the shared source list."""

    def __init__(self, data: _LanguageFile, sources: dict[str, _Source]) -> None:
        self.language = data.language
        self.consent_version = data.consent_version
        self.lowercase_labels = data.lowercase_labels_in_sentences
        self._ui = data.ui
        self._advice = data.advice
        self.advice_sources = data.advice_sources
        self._rules = data.rules
        self._plan = data.plan
        self.sources = sources
        self.lexicon: Lexicon | None = None  # the reader's words (content/<language>/lexicon/)
        self.defaults: dict[str, object] = {}  # fields every text may use (`{same_day}`)
        self.translations: dict[str, Content] = {}  # every language loaded, by code
        self.same_day: dict[str, str] = {}  # where to get help today, by country (places.yaml)
        self.same_day_sources: dict[str, str] = {}
        self.crisis_line: dict[str, str] = {}
        self._questions = {
            qid: Question(qid, q.text.strip(), tuple((o.value, o.label) for o in q.options))
            for qid, q in data.questions.items()
        }

    def ui(self, key: str, **fields: object) -> str:
        return self._ui[key].strip().format(**{**self.defaults, **fields})

    def advice(self, key: str, **fields: object) -> str:
        return self._advice[key].strip().format(**{**self.defaults, **fields})

    def rule_reason(self, rule: str) -> str:
        return self._rules[rule].text

    def rule_source(self, rule: str) -> str:
        return self._rules[rule].source

    def in_sentence(self, label: str) -> str:
        return label.lower() if self.lowercase_labels else label

    def question(self, qid: str) -> Question:
        return self._questions[qid]

    def questions(self) -> list[Question]:
        return list(self._questions.values())

    def plan_title(self, phase: str) -> str:
        return self._plan[phase].title

    def plan_steps(self, phase: str) -> list[PlanStep]:
        return [PlanStep(s.text, s.source) for s in self._plan[phase].steps]

    def all_texts(self) -> dict[str, str]:
        """Every text by a dotted name, for review and for tests."""
        texts = {f"ui.{k}": v for k, v in self._ui.items()}
        texts |= {f"advice.{k}": v for k, v in self._advice.items()}
        texts |= {f"rules.{k}": r.text for k, r in self._rules.items()}
        for phase, plan in self._plan.items():
            texts |= {f"plan.{phase}.{i}": s.text for i, s in enumerate(plan.steps)}
        for qid, q in self._questions.items():
            texts[f"questions.{qid}"] = q.text
            texts |= {f"questions.{qid}.{v}": label for v, label in q.options}
        return texts


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise ContentError(f"content file missing: {path}") from None
    except yaml.YAMLError as exc:
        raise ContentError(f"{path}: not valid YAML ({exc})") from None


def _describe(exc: ValidationError, path: Path) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{path}: entry {where}: {first['msg']}"


def _check_fields(name: str, text: str) -> None:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ContentError(f"entry {name}: malformed placeholder ({exc})") from None
    unknown = fields - ALLOWED_FIELDS
    if unknown:
        raise ContentError(f"entry {name}: unknown placeholder {{{sorted(unknown)[0]}}}")


def load_content(content_dir: Path, language: str = "en") -> Content:
    sources_path = content_dir / "sources.yaml"
    try:
        sources = _SourcesFile.model_validate(_read_yaml(sources_path)).sources
    except ValidationError as exc:
        raise ContentError(_describe(exc, sources_path)) from None
    path = content_dir / language / "coach.yaml"
    try:
        data = _LanguageFile.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise ContentError(_describe(exc, path)) from None

    def require(section: str, have: dict[str, Any], keys: tuple[str, ...] | list[str]) -> None:
        for key in keys:
            if key not in have:
                raise ContentError(f"{path}: entry {section}.{key} is missing")
            value = have[key]
            if isinstance(value, str) and not value.strip():
                raise ContentError(f"{path}: entry {section}.{key} is empty")

    def require_source(name: str, source: str) -> None:
        if source not in sources:
            raise ContentError(f"{path}: entry {name} names unknown source {source!r}")

    require("ui", data.ui, REQUIRED_UI)
    require("advice", data.advice, REQUIRED_ADVICE)
    require("rules", data.rules, REQUIRED_RULES)
    require("plan", data.plan, REQUIRED_PLAN_PHASES)
    require("questions", data.questions, list(REQUIRED_QUESTIONS))
    for key in data.advice:
        if key not in data.advice_sources:
            raise ContentError(f"{path}: entry advice.{key} has no source in advice_sources")
        require_source(f"advice_sources.{key}", data.advice_sources[key])
    for key, rule in data.rules.items():
        require_source(f"rules.{key}", rule.source)
    for phase, plan in data.plan.items():
        if not plan.steps:
            raise ContentError(f"{path}: entry plan.{phase}.steps is empty")
        for i, step in enumerate(plan.steps):
            require_source(f"plan.{phase}.steps.{i}", step.source)
    check_questions(path, data.questions, REQUIRED_QUESTIONS)
    content = Content(data, sources)
    content.lexicon = load_lexicon(content_dir / language / "lexicon", sources, language)
    for name, text in content.all_texts().items():
        _check_fields(name, text)
        if len(text) > TELEGRAM_TEXT_LIMIT:
            raise ContentError(f"{path}: entry {name} is longer than Telegram allows")
    return content
