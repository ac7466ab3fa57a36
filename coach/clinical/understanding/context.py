"""Context of a sign mentioned in a typed message: negated, someone else's, in the past, asked
about, or present. The rules follow ConText (Harkema et al. 2009): cues of each kind from the
lexicon, a scope that ends at a terminator, a new clause or the end of the sentence.

Kept apart from the reader (which finds the signs) so that each stays one job.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from coach.clinical.understanding.lexicon import CONTEXT_KINDS
from coach.clinical.understanding.reading import Status

if TYPE_CHECKING:
    from spacy.tokens import Doc

NEGATION_SCOPE = 8  # tokens after a "no"/"not" that it can negate
NEGATION_AFTER_SCOPE = 5  # tokens before "… is fine" that it can negate
CUE = "ctx:"  # the matcher's label prefix of a context cue
_KINDS = {CUE + kind: kind for kind in CONTEXT_KINDS}
_CLAUSE_MARKS = frozenset({",", ";", "-", ":", "—", "…"})


class Match(NamedTuple):  # a tuple: made thousands of times for a long message
    label: str
    start: int
    end: int


def longest(cues: list[Match]) -> list[Match]:
    """Cues inside a longer cue are dropped ("my" inside "my dad", "not" inside "not sure").

    One sweep in start order: a cue is inside a longer one when an earlier-starting cue reaches
    at least as far (and is not the very same span)."""
    kept: list[Match] = []
    reach, reach_start = -1, -1
    for c in sorted(cues, key=lambda m: (m.start, -m.end)):
        if reach > c.end or (reach == c.end and reach_start < c.start):
            continue
        kept.append(c)
        if c.end > reach:
            reach, reach_start = c.end, c.start
    return kept


def kind_of(cue: Match) -> str:
    return _KINDS.get(cue.label, "")


def opens_question(doc: Doc, start: int, end: int, cues: list[Match]) -> bool:
    """ "Is it …", "Can a …" ask; "Can't feel …", "Can barely walk", "Kann nich pinkeln" (the
    subject left out, as people do in chats) do not."""
    opens = any(kind_of(c) == "question_start" and c.start == start for c in cues)
    if not opens or start + 1 >= end:
        return opens
    stated = ("negation_before", "statement_next")
    return doc[start + 1].norm_ != "not" and not any(
        c.start == start + 1 and kind_of(c) in stated for c in cues
    )


def status_of(
    doc: Doc,
    start: int,
    end: int,
    parts: list[Match],
    cues: list[Match],
    asked: bool,
    past_counts: bool,
    in_words: frozenset[int],
    emergency: bool,
    emoji: Sequence[int] = (),
) -> Status:
    # A cue that is part of the sign's own words ("no wee", "can't feel") is not context.
    own = {i for p in parts for i in range(p.start, p.end)}
    # A sign said with a negation of its own ("can't pee", "ne sort pas", "n'arrive plus") is
    # not undone by a second one inside or just after it: "je n'arrive plus à uriner
    # normalement", "le pipi ne sort pas" (French "ne … pas" around the verb is one negation).
    negations = ("negation_before", "negation_after")
    said_negatively = any(
        kind_of(c) in negations and all(i in own for i in range(c.start, c.end)) for c in cues
    )
    # "Someone went into the back of me": a first person within the sign's own words says whose
    # sign it is, though it is no context cue otherwise.
    own_firsts = [
        c.start
        for c in cues
        if kind_of(c) == "first_person"
        and c.start in own
        and c.end - 1 in own
        and not any(doc[i].text in _CLAUSE_MARKS for i in range(start, c.start))
    ]
    cues = longest([c for c in cues if not any(i in own for i in range(c.start, c.end))])
    stops = [c.start for c in cues if kind_of(c) == "terminators"]
    firsts = [c.start for c in cues if kind_of(c) == "first_person"] + own_firsts
    # A comma, dash or semicolon that opens a new clause ("no fever, my legs …") ends a scope;
    # one inside a list ("no numbness, tingling or weakness") does not.
    openers = {c.start for c in cues if kind_of(c) in ("clause_start", "self_subject")}
    stops += [i - 1 for i in openers if i > 0 and doc[i - 1].text in _CLAUSE_MARKS]
    # An emoji ends a clause as a full stop would ("not even my period 😭 keep leaking").
    stops += emoji
    subjects = [c.start for c in cues if kind_of(c) == "self_subject"]
    links = {i for c in cues if kind_of(c) == "negation_link" for i in range(c.start, c.end)}

    def clear(a: int, b: int) -> bool:
        return not any(a <= s < b for s in stops)

    for c in cues:
        kind = kind_of(c)
        if kind == "negation_before" and c.end <= start and start - c.end <= NEGATION_SCOPE:
            # "no, …", "none really, …": an answer to a question, not a scope over what follows
            # (but "no numbness, tingling or …" lists what is denied).
            after = c.end + 1 < start and c.end not in in_words
            answered = doc[c.end].is_punct or (after and doc[c.end + 1].is_punct)
            restarted = any(c.end <= i < start for i in subjects)  # "no, I can't feel …"
            if clear(c.end, start) and not answered and not restarted:
                return Status.NEGATED
        inside = start < c.start and c.end <= end and clear(c.end, end)
        if kind in negations and inside and not said_negatively:
            return Status.NEGATED  # between the words of the sign: "my legs aren't weak"
        # "… is fine" only of the sign itself ("bladder's fine", "legs are all ok"), not a
        # "…, it's fine" said of the whole message.
        near = c.start >= end and c.start - end <= NEGATION_AFTER_SCOPE
        linked = all(i in links for i in range(end, c.start))
        if kind == "negation_after" and near and linked and not said_negatively:
            return Status.NEGATED
    if any(kind_of(c) == "hypothetical" and c.end <= start and clear(c.end, start) for c in cues):
        return Status.ASKED  # "my friend said watch out for numbness in your bum"
    for c in cues:
        before = kind_of(c) == "other_person" and c.end <= start and clear(c.end, start)
        if before and not any(c.end <= f < end for f in firsts):
            return Status.OTHER_PERSON
        if kind_of(c) == "other_person_after" and c.start >= end and clear(end, c.start):
            return Status.OTHER_PERSON  # "cancer runs in my family"
    if not past_counts:
        for c in cues:
            kind = kind_of(c)
            if kind == "past_before" and c.end <= start and clear(c.end, start):
                return Status.PAST
            if kind == "past_after" and c.start >= end:
                return Status.PAST
            if kind in ("past_before", "past_after") and start < c.start and c.end <= end:
                return Status.PAST  # between the sign's words: "fell off it aged 9 and landed …"
            if kind == "resolved_after" and c.start >= end and not emergency:
                return Status.PAST
    if any(kind_of(c) == "hypothetical" and c.end <= start and clear(c.end, start) for c in cues):
        return Status.ASKED  # "if my foot started dragging", "should I worry about …"
    if asked and not any(f < end for f in firsts):
        return Status.ASKED
    return Status.PRESENT


def said_over(cues: list[Match], end: int) -> bool:
    """A "fine now", "it went away", "wore off" after the sign's words."""
    return any(kind_of(c) == "resolved_after" and c.start >= end for c in cues)


def emoji_positions(doc: Doc, text: str) -> list[int]:
    """The tokens that are pictographs (emoji, symbols): clause ends in a chat message."""
    if text.isascii():
        return []
    return [t.i for t in doc if not t.text.isascii() and _is_pictograph(t.text)]


def _is_pictograph(word: str) -> bool:
    return any(unicodedata.category(ch) == "So" for ch in word)
