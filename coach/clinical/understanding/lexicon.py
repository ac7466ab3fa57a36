"""The words the reader knows, as plain data: concepts, the signs they make, and context cues.

A lexicon comes from the files in `content/<language>/lexicon/` (loaded and checked by
`coach.content`); this module only says what a lexicon is and refuses a malformed one, naming the
entry. Nothing here knows spaCy: building the matcher is the reader's job, done lazily.

- A *concept* is a list of terms. A term is one or more words ("pins and needles", "can't feel");
  a word ending in `*` matches every word that starts with it ("tingl*": tingle, tingling, tingly);
  `<number>` matches any number, `<year>` any year ("when i was <number>", "in <year>") and
  `<fever_temp>` a feverish temperature ("38.7", "39,2", "101.5"), `<normal_temp>` a normal one.
- A *sign* (an id of `coach.clinical.tiers`) is recognised by any of its *rules*; a rule is a list
  of concepts that must all occur in one sentence within `window` tokens of each other.
- A concept whose name starts with `follow_` may also be found in the sentence after the others
  ("My leg doesn't feel mine. Both of them.").
- A concept whose name starts with `mask_` hides the matches strictly inside it of the concepts
  `masks` names for it (all concepts when it names none): "bottom of my back" is not the bottom
  of the saddle area.
- A sign with `recent_counts` (chest pain, breathlessness) still counts when said to be over if
  a time of today comes first in its sentence ("an hour ago …, mostly gone now").
- Context cues (`context`) say when a mention is negated, someone else's, in the past or asked
  about; `known_words` are real words never corrected as typos into a lexicon word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from coach.clinical.tiers import EMERGENCY_SIGNS, SOON_SIGNS, URGENT_SIGNS, Tier

DEFAULT_WINDOW = 10
CONTEXT_KINDS = (
    "negation_before",  # "no", "not", "never", "without": the mention that follows is absent
    "negation_after",  # "is fine", "are ok", "no problem": the mention before is absent
    "negation_link",  # "are", "feel", "all": the only words allowed between a mention and "fine"
    "other_person",  # "my dad", "my wife": someone else's, unless the person speaks of themself
    "other_person_after",  # "… runs in my family", "… like my dad had"
    "past_before",  # "as a kid", "years ago" before the mention
    "past_after",  # "years ago", "as a kid" after the mention
    "resolved_after",  # "fine now", "it went away": over now (an EMERGENCY sign is asked anyway)
    "hypothetical",  # "if", "what if", "worry about", "signs of": asked about, not reported
    "first_person",  # "i", "my", "me": the person speaks of themself
    "self_subject",  # "i": a new clause of the person's own, which ends a negation's scope
    "clause_start",  # "my", "but", "it": after a comma, a new clause (no list goes on)
    "question_start",  # "is", "can", "should", "what": a sentence that asks
    "statement_next",  # "barely", "kaum", "seit": after an opening "can"/"kann", a statement
    "terminators",  # "but", "though", "except": the scope of a cue ends here
    "alarm_topic",  # "red flags", "a&e", "cauda equina": a question about the emergency signs
    "recent",  # "earlier today", "an hour ago": a sign that `recent_counts` still counts if over
    "wondering",  # "just wondering", "asking in case": the message's questions are not reports
    "happening_now",  # "it just happened twice today", "ive had it for an hour": after a
    # question about an emergency sign, the person says it is theirs, now
)
# Kinds a lexicon may leave out (added after the first languages were written).
OPTIONAL_CONTEXT_KINDS = frozenset(
    {"recent", "wondering", "resolved_after", "statement_next", "happening_now"}
)


class LexiconError(ValueError):
    """A lexicon that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class SignRule:
    concepts: tuple[str, ...]
    window: int = DEFAULT_WINDOW


@dataclass(frozen=True)
class SignEntry:
    sign: str
    tier: Tier
    rules: tuple[SignRule, ...]
    # Whether a mention in the past still counts now (a past cancer, years on steroids).
    past_counts: bool = False
    # Whether a mention said to be over counts when it happened today ("chest pain earlier,
    # mostly gone now"): the sign is still a reason to ask now.
    recent_counts: bool = False


@dataclass(frozen=True)
class Lexicon:
    concepts: Mapping[str, tuple[str, ...]]
    signs: Mapping[str, SignEntry]
    context: Mapping[str, tuple[str, ...]]
    crisis: tuple[str, ...]
    known_words: frozenset[str] = field(default_factory=frozenset)
    sources: Mapping[str, str] = field(default_factory=dict)  # file name -> source id
    masks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # mask -> concepts hidden
    language: str = "en"  # the spaCy language whose tokenizer and stop words the reader uses
    # The second reader's weights (whole_message.py), where the language has one.
    model: str | None = None

    def fingerprint(self) -> tuple[object, ...]:
        """What the built reader depends on: equal lexicons share one reader per process."""
        return (
            tuple(sorted((k, v) for k, v in self.concepts.items())),
            tuple(
                sorted((k, v.rules, v.past_counts, v.recent_counts) for k, v in self.signs.items())
            ),
            tuple(sorted(self.context.items())),
            self.crisis,
            tuple(sorted(self.known_words)),
            tuple(sorted(self.masks.items())),
            self.language,
            self.model,
        )


def tier_of(sign: str) -> Tier:
    if sign in EMERGENCY_SIGNS:
        return Tier.EMERGENCY
    if sign in URGENT_SIGNS or sign == "high_back_pain":
        return Tier.URGENT
    if sign in SOON_SIGNS:
        return Tier.SOON
    raise LexiconError(f"unknown sign {sign!r}")


ALL_SIGNS = (*EMERGENCY_SIGNS, *URGENT_SIGNS, "high_back_pain", *SOON_SIGNS)


def _terms(where: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise LexiconError(f"{where}: expected a non-empty list of words")
    terms = []
    for item in value:
        if isinstance(item, bool):  # YAML reads a bare no, off, yes or on as true/false
            raise LexiconError(f"{where}: {item!r} must be quoted to be read as a word")
        text = " ".join(str(item).lower().split())
        if not text or isinstance(item, (dict, list)):
            raise LexiconError(f"{where}: {item!r} is not a word or phrase")
        terms.append(text)
    return tuple(terms)


def _rules(where: str, value: object, concepts: Mapping[str, object]) -> tuple[SignRule, ...]:
    if not isinstance(value, list) or not value:
        raise LexiconError(f"{where}: expected a list of rules")
    rules = []
    for index, raw in enumerate(value):
        window = DEFAULT_WINDOW
        if isinstance(raw, dict):
            window = int(raw.get("window", DEFAULT_WINDOW))
            raw = raw.get("all")
        if not isinstance(raw, list) or not raw:
            raise LexiconError(f"{where}[{index}]: a rule is a list of concepts")
        for name in raw:
            if name not in concepts:
                raise LexiconError(f"{where}[{index}]: unknown concept {name!r}")
        rules.append(SignRule(tuple(str(n) for n in raw), window))
    return tuple(rules)


def _section(name: str, data: Mapping[str, object], key: str) -> Mapping[str, object]:
    value = data.get(key) or {}
    if not isinstance(value, Mapping):
        raise LexiconError(f"{name}: entry {key} must be a mapping")
    return value


def build_lexicon(
    files: Sequence[tuple[str, Mapping[str, object]]], language: str = "en"
) -> Lexicon:
    """One lexicon from parsed files (name, data): concepts merge, every sign is checked."""
    concepts: dict[str, list[str]] = {}
    raw_signs: dict[str, tuple[str, object, bool, bool]] = {}
    context: dict[str, list[str]] = {}
    crisis: list[str] = []
    known: set[str] = set()
    sources: dict[str, str] = {}
    masks: dict[str, tuple[str, ...]] = {}
    for name, data in files:
        if not isinstance(data, Mapping):
            raise LexiconError(f"{name}: expected a mapping")
        allowed = {"source", "concepts", "masks", "signs", "context", "crisis", "known_words"}
        unknown = set(data) - allowed
        if unknown:
            raise LexiconError(f"{name}: unknown entry {sorted(unknown)[0]!r}")
        if not isinstance(data.get("source"), str):
            raise LexiconError(f"{name}: entry source is missing")
        sources[name] = str(data["source"])
        for concept, words in _section(name, data, "concepts").items():
            concepts.setdefault(str(concept), []).extend(
                _terms(f"{name}: concepts.{concept}", words)
            )
        for mask, hidden in _section(name, data, "masks").items():
            masks[str(mask)] = _terms(f"{name}: masks.{mask}", hidden)
        for sign, spec in _section(name, data, "signs").items():
            if sign in raw_signs:
                raise LexiconError(f"{name}: sign {sign} is defined twice")
            rules, past, recent = (
                (spec.get("rules"), bool(spec.get("past_counts")), bool(spec.get("recent_counts")))
                if isinstance(spec, dict)
                else (spec, False, False)
            )
            raw_signs[str(sign)] = (name, rules, past, recent)
        for kind, words in _section(name, data, "context").items():
            if kind not in CONTEXT_KINDS:
                raise LexiconError(f"{name}: unknown context kind {kind!r}")
            context.setdefault(str(kind), []).extend(_terms(f"{name}: context.{kind}", words))
        if data.get("crisis"):
            crisis.extend(_terms(f"{name}: crisis", data["crisis"]))
        if data.get("known_words"):
            known.update(_terms(f"{name}: known_words", data["known_words"]))
    signs: dict[str, SignEntry] = {}
    for sign, (name, rules, past, recent) in raw_signs.items():
        tier = tier_of(sign)
        found = _rules(f"{name}: signs.{sign}", rules, concepts)
        signs[sign] = SignEntry(sign, tier, found, past, recent)
    missing = [s for s in ALL_SIGNS if s not in signs]
    if missing:
        raise LexiconError(f"lexicon: no words for sign {missing[0]}")
    for kind in CONTEXT_KINDS:
        if kind not in context and kind not in OPTIONAL_CONTEXT_KINDS:
            raise LexiconError(f"lexicon: no context words for {kind}")
    if not crisis:
        raise LexiconError("lexicon: no crisis words")
    for mask, hidden in masks.items():
        for concept in (mask, *hidden):
            if concept not in concepts:
                raise LexiconError(f"lexicon: masks.{mask} names unknown concept {concept!r}")
    return Lexicon(
        concepts={k: tuple(dict.fromkeys(v)) for k, v in concepts.items()},
        signs=signs,
        context={k: tuple(dict.fromkeys(v)) for k, v in context.items()},
        crisis=tuple(dict.fromkeys(crisis)),
        known_words=frozenset(known),
        sources=sources,
        masks=masks,
        language=language,
    )
