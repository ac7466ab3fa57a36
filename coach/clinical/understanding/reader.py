"""The reader: one typed message in, the signs it mentions and how (`Reading`) out.

spaCy's blank pipeline of the lexicon's language tokenises and splits sentences (no model,
nothing downloaded); one PhraseMatcher over token norms finds every lexicon term and every
context cue. Before matching, each token's norm is made canonical: a word covered by a `stem*`
term becomes that stem, and an unknown word of five letters or more is corrected to the closest
lexicon word when it is one or two typing slips away (rapidfuzz). Short words are never
corrected: "bum" must not become "numb".

Signs are concepts found together in one sentence, within a rule's window. Each mention then gets
its status from ConText-style cues (Harkema et al. 2009), in this order: negated ("no", "not",
"never", "… is fine"), someone else's ("my dad", unless "I"/"my" comes between), in the past
("as a kid", "years ago", "… but it's gone now"), asked about (a question with "if", "worry
about", or one that says nothing of the person themself), else present. A cue's scope ends at a
terminator ("but", "though", "except") and at the end of the sentence (context.py).
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from functools import lru_cache
from itertools import islice, product
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rapidfuzz import fuzz, process

from coach.clinical.tiers import Tier
from coach.clinical.understanding.context import (
    CUE,
    Match,
    emoji_positions,
    kind_of,
    longest,
    opens_question,
    said_over,
    status_of,
)
from coach.clinical.understanding.lexicon import Lexicon, SignEntry
from coach.clinical.understanding.reading import Mention, Reading, Status

if TYPE_CHECKING:
    from spacy.tokens import Doc

MAX_CHARS = 4000
FUZZ_MIN_LENGTH = 5  # shorter words are never corrected
FUZZ_CUTOFF = 84.0  # one slip in a six-letter word scores 83, in a seven-letter word 86
# Tokens either side of a sign in which a cue can apply: a chat message with no full stop is many
# clauses, and a cue 30 words away has nothing to do with the sign (medspaCy's ConText has the
# same `max_scope`). It also keeps a 4,000-character run-on message within the 5 ms budget.
CONTEXT_SCOPE = 30
_REPEATS = re.compile(r"(.)\1{2,}")
_CRISIS = "crisis"
_MAX_COMBINATIONS = 200  # per rule and sentence; long rambling messages stay fast
_MAX_READINGS = 8  # the closest ways a rule fits, each given its context
# A term's word for any number, any year, a feverish temperature (37.8-43 °C, 100-109 °F) and a
# normal one (35-37.7 °C, 95-99.9 °F: "temperature 36.9" says there is no fever).
_PLACEHOLDERS = frozenset({"<number>", "<year>", "<fever_temp>", "<normal_temp>"})
_DECIMAL = re.compile(r"\d{2,3}[.,]\d{1,2}")


class Reader:
    """Built once per lexicon (about 0.1 s after spaCy is imported); reads a message in < 1 ms."""

    def __init__(self, lexicon: Lexicon) -> None:
        import spacy
        from spacy.matcher import PhraseMatcher

        # numpy, like spaCy, is loaded with the reader, off the start-up path.
        from coach.clinical.understanding.whole_message import WholeMessageModel, second_reading

        self.lexicon = lexicon
        self.model = WholeMessageModel.load_or_none(Path(lexicon.model)) if lexicon.model else None
        self.second_reading = second_reading
        # The blank pipeline of the lexicon's language: its tokenizer ("j'ai", "can't") and
        # stop words; no model is downloaded.
        self.nlp = spacy.blank(lexicon.language)
        self.nlp.add_pipe("sentencizer")
        self.stems = {
            word[:-1]
            for terms in (*lexicon.concepts.values(), *lexicon.context.values(), lexicon.crisis)
            for term in terms
            for word in term.split()
            if word.endswith("*")
        }
        self.known = frozenset(self.nlp.Defaults.stop_words) | lexicon.known_words
        self.vocabulary: set[str] = set()
        self.matcher = PhraseMatcher(self.nlp.vocab, attr="NORM")
        # A digit in a message always reads as <number>/<year>/<fever_temp> ("when i was 38"), so
        # terms written with digits ("38 degrees", "999", "3am") are matched as written instead.
        self.literal = PhraseMatcher(self.nlp.vocab, attr="LOWER")
        named = [
            *lexicon.concepts.items(),
            *((CUE + kind, terms) for kind, terms in lexicon.context.items()),
            (_CRISIS, lexicon.crisis),
        ]
        for label, terms in named:
            literal = [t for t in terms if self._has_digits(t)]
            if literal:
                self.literal.add(label, [self.nlp.make_doc(t) for t in literal])
            if len(literal) < len(terms):
                self.matcher.add(label, [self._pattern(t) for t in terms if t not in literal])
        self._choices = sorted(
            {w for w in self.vocabulary if len(w) >= FUZZ_MIN_LENGTH - 1 and w.isalpha()}
            | {s for s in self.stems if len(s) >= FUZZ_MIN_LENGTH - 1}
        )
        # A four-letter word one dropped letter away from a five-letter lexicon word with the
        # same first and last letters ("fevr", "crsh") is the only short word ever corrected.
        self._dropped: dict[str, str] = {}
        for word in self._choices:
            if len(word) == FUZZ_MIN_LENGTH:
                for i in range(1, len(word) - 1):
                    self._dropped.setdefault(word[:i] + word[i + 1 :], word)
        self.canonical = lru_cache(maxsize=20_000)(self._canonical)
        self.canonical_hash = lru_cache(maxsize=20_000)(self._canonical_hash)
        self._labels = {self.nlp.vocab.strings[name]: name for name in self._label_names()}
        # Per concept, the signs (in lexicon order) with a rule that needs it: a sentence is
        # tried only against signs that can fit it.
        self._order = {sign: i for i, sign in enumerate(lexicon.signs)}
        self._signs_needing: dict[str, list[SignEntry]] = {}
        for entry in lexicon.signs.values():
            for concept in dict.fromkeys(c for rule in entry.rules for c in rule.concepts):
                self._signs_needing.setdefault(concept, []).append(entry)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ building

    def _pattern(self, term: str) -> Doc:
        from spacy.tokens import Doc

        norms: list[str] = []
        for word in term.split():
            if word.endswith("*") or word in _PLACEHOLDERS:
                norms.append(word)
                continue
            if word.endswith("'") and "'" not in word[:-1]:  # French "j'", "n'": one token,
                norms.append(word)  # as the tokenizer leaves it in "j'éternue"
                self.vocabulary.add(word)
                continue
            for token in self.nlp.make_doc(word):
                norm = self._stem_of(token.norm_) or token.norm_
                norms.append(norm)
                if not norm.endswith("*"):
                    self.vocabulary.add(norm)
        doc = Doc(self.nlp.vocab, words=norms)
        for token, norm in zip(doc, norms, strict=True):
            token.norm_ = norm
        return doc

    def _has_digits(self, term: str) -> bool:
        words = (w for w in term.split() if w not in _PLACEHOLDERS)
        return any(_is_number(t.text) for w in words for t in self.nlp.make_doc(w))

    def _stem_of(self, word: str) -> str | None:
        """The longest `stem*` covering the word, if any."""
        for length in range(len(word), 2, -1):
            if word[:length] in self.stems:
                return word[:length] + "*"
        return None

    # ------------------------------------------------------------------ reading

    def _canonical(self, norm: str) -> str:
        """The form a token is matched by: itself, its stem, or the lexicon word it misspells."""
        if norm.isdigit():  # "when i was 12", "in 2019": a term says <number> or <year>
            return "<year>" if len(norm) == 4 and norm[:2] in ("19", "20") else "<number>"
        if _DECIMAL.fullmatch(norm):  # "temp is 38.7", "39,2", "101.5"
            value = float(norm.replace(",", "."))
            if 37.8 <= value <= 43 or 100 <= value <= 109:
                return "<fever_temp>"
            return "<normal_temp>" if 35 <= value < 37.8 or 95 <= value < 100 else norm
        if norm in self.vocabulary or norm in self.lexicon.known_words:
            return norm
        squeezed = _REPEATS.sub(r"\1\1", norm)  # "numbbbb", "sooooo"
        for form in dict.fromkeys((squeezed, _REPEATS.sub(r"\1", norm))):
            if form in self.vocabulary:
                return form
        stem = self._stem_of(squeezed)
        if stem is not None:
            return stem
        if norm in self.known:
            return norm
        if len(squeezed) == FUZZ_MIN_LENGTH - 1 and squeezed in self._dropped:
            word = self._dropped[squeezed]
            return word + "*" if word in self.stems else word
        if len(squeezed) < FUZZ_MIN_LENGTH or not squeezed.isalpha():
            return norm
        found = process.extractOne(
            squeezed, self._choices, scorer=fuzz.ratio, score_cutoff=FUZZ_CUTOFF
        )
        if found is None:
            return norm
        choice = str(found[0])
        if choice[0] != squeezed[0]:  # slips rarely hit the first letter; guesses often do
            return norm
        return choice + "*" if choice in self.stems else choice

    def doc(self, text: str) -> Doc:
        cleaned = text[:MAX_CHARS].replace("\u2019", "'").replace("\u2018", "'")
        # Lower case first: the tokenizer splits "can't" but not "CAN'T".
        cleaned = cleaned.replace("\u02bc", "'").replace("\n", ". ").lower()
        doc = self.nlp(cleaned)
        # Norms are rewritten as one array of hashes: no Token object is made per word.
        norms = doc.to_array("NORM")
        words = norms.tolist()
        canonical = [self.canonical_hash(norm) for norm in words]
        if canonical != words:
            norms[:] = canonical
            doc.from_array(["NORM"], cast(Any, norms))  # one column of uint64 hashes
        return doc

    def _canonical_hash(self, norm: int) -> int:
        strings = self.nlp.vocab.strings
        return strings.add(self.canonical(strings[norm]))

    def read(self, text: str) -> Reading:
        # spaCy's tokenizer keeps a cache: one message at a time per reader (a read is < 1 ms).
        with self._lock:
            return self._read(text)

    def _read(self, text: str) -> Reading:
        doc = self.doc(text)
        labels = self._labels
        matched = (*self.matcher(doc), *self.literal(doc))
        matches = [Match(labels[k], s, e) for k, s, e in matched]
        crisis = any(m.label == _CRISIS for m in matches)
        cues = [m for m in matches if m.label.startswith(CUE)]
        now_after = [c.start for c in cues if kind_of(c) == "happening_now"]
        masks = [m for m in matches if m.label.startswith("mask_")]
        concepts = [
            m
            for m in matches
            if not m.label.startswith((CUE, "mask_"))
            and m.label != _CRISIS
            and not (masks and any(_inside(m, k) and self._hides(k, m) for k in masks))
        ]
        mentions: list[Mention] = []
        asks_about_signs = False
        asked_now: list[int] = []  # mentions in a question, asked if the message says so
        doubted = False  # an emergency sign said to be over: confirmed with a tap first
        said: set[int] = set()  # the words of every sign mentioned
        # Each match belongs to the sentence of its first token (a sentence never splits a term).
        sentence_of: list[int] = []
        sents = list(doc.sents)
        for index, sent in enumerate(sents):
            sentence_of.extend([index] * (sent.end - sent.start))
        asking = {sentence_of[t.i] for t in doc if t.text == "?"} if "?" in text else set()
        emoji = emoji_positions(doc, text)
        cues_in: dict[int, list[Match]] = {}
        concepts_in: dict[int, list[Match]] = {}
        for c in sorted(cues, key=lambda m: m.start):
            cues_in.setdefault(sentence_of[c.start], []).append(c)
        for m in concepts:
            concepts_in.setdefault(sentence_of[m.start], []).append(m)
        for index, sent in enumerate(sents):
            sent_cues = cues_in.get(index, [])
            question = index in asking or opens_question(doc, sent.start, sent.end, sent_cues)
            if question and any(kind_of(c) == "alarm_topic" for c in sent_cues):
                asks_about_signs = True
            inside = concepts_in.get(index, [])
            if not inside:
                continue
            # "My leg doesn't feel mine. Both of them actually.": a `follow_` concept may come
            # from the next sentence, read then with that sentence's cues too.
            follow = [m for m in concepts_in.get(index + 1, []) if m.label.startswith("follow_")]
            both_cues = sent_cues + cues_in.get(index + 1, []) if follow else sent_cues
            by_concept: dict[str, list[Match]] = {}
            for m in inside + follow:
                by_concept.setdefault(m.label, []).append(m)
            # "Should pain at night worry me?" asks; "numb down below, is that the tablets?" and
            # "not needed the toilet once??" report.
            interrogative = opens_question(doc, sent.start, sent.end, sent_cues)
            starts = [c.start for c in both_cues]
            in_words = frozenset(i for m in inside for i in range(m.start, m.end))
            # "Earlier, … mostly gone now" happened today; "years ago …, today it's my back"
            # did not: a time of today counts only when said before every past cue.
            past_kinds = ("past_before", "past_after", "resolved_after")
            pasts = [c.start for c in sent_cues if kind_of(c) in past_kinds]
            today = any(
                kind_of(c) == "recent" and all(c.start < p for p in pasts) for c in sent_cues
            )
            for entry in self._signs_with(by_concept):
                best: Mention | None = None
                past_counts = entry.past_counts or (entry.recent_counts and today)
                urgent = entry.tier == Tier.EMERGENCY  # asked about even when said to be over
                for found in self._find(entry.rules, by_concept):
                    parts = sorted(found, key=lambda m: m.start)
                    start, end = parts[0].start, max(p.end for p in parts)
                    context = both_cues if parts[-1].start >= sent.end else sent_cues
                    near = context[
                        bisect_left(starts, start - CONTEXT_SCOPE) : bisect_right(
                            starts, end + CONTEXT_SCOPE
                        )
                    ]
                    asked = question and interrogative
                    status = status_of(
                        doc, start, end, parts, near, asked, past_counts, in_words, urgent, emoji
                    )
                    if status == Status.ASKED and urgent and any(n >= end for n in now_after):
                        # "can you lose control of poo from a bad back? it just happened twice
                        # today": asked, then said to be the person's own now.
                        status = Status.PRESENT
                    words = " … ".join(doc[p.start : p.end].text for p in _merge(parts))
                    best = Mention(entry.sign, entry.tier, status, words)
                    # An emergency sign said to be over ("… but it wore off") is asked about
                    # all the same, but confirmed with a tap rather than taken as the answer.
                    over = urgent and status == Status.PRESENT and said_over(near, end)
                    spans = {i for p in parts for i in range(p.start, p.end)}
                    if status == Status.PRESENT:
                        break  # any reading of the sentence that reports it now wins
                if best is not None:
                    said |= spans
                    doubted |= over
                    answer = cues_in.get(index + 1, [])
                    if (
                        best.status == Status.PRESENT
                        and index in asking
                        and not interrogative  # "Numb legs? No.", not "would …? not really"
                        and self._answered_no(doc, sents, index, answer)
                    ):
                        best = replace(best, status=Status.NEGATED)
                    if best.status == Status.PRESENT and question:
                        asked_now.append(len(mentions))
                    mentions.append(best)
        # "… be serious? not happening, just wondering": the message's questions only ask (a cue
        # that is part of a sign's own words, "erections not happening?", does not count).
        if any(kind_of(c) == "wondering" and said.isdisjoint(range(c.start, c.end)) for c in cues):
            for i in asked_now:
                mentions[i] = replace(mentions[i], status=Status.ASKED)
        denies = any(kind_of(c) in ("negation_before", "negation_after") for c in longest(cues))
        reading = Reading(tuple(mentions), crisis, denies, asks_about_signs, doubted=doubted)
        return self.second_reading(self.model, text[:MAX_CHARS], reading)

    @staticmethod
    def _answered_no(doc: Doc, sents: list[Any], index: int, next_cues: list[Match]) -> bool:
        """A checklist answered in turn: "Numb legs? No. Bladder? Normal." — the sign's question
        is followed by a sentence of at most three words that opens with a denial."""
        if index + 1 >= len(sents):
            return False
        answer = sents[index + 1]
        words = [t for t in doc[answer.start : answer.end] if not t.is_punct]
        denial = ("negation_before", "negation_after")
        opens = any(c.start == answer.start and kind_of(c) in denial for c in next_cues)
        return opens and len(words) <= 3

    def _label_names(self) -> list[str]:
        lexicon = self.lexicon
        return [*lexicon.concepts, *(CUE + kind for kind in lexicon.context), _CRISIS]

    def _signs_with(self, by_concept: dict[str, list[Match]]) -> list[SignEntry]:
        found = {e.sign: e for concept in by_concept for e in self._signs_needing.get(concept, ())}
        return sorted(found.values(), key=lambda e: self._order[e.sign])

    def _hides(self, mask: Match, match: Match) -> bool:
        hidden = self.lexicon.masks.get(mask.label)
        return hidden is None or match.label in hidden

    @staticmethod
    def _find(rules: Iterable[Any], by_concept: dict[str, list[Match]]) -> Iterator[list[Match]]:
        """Every way a rule's concepts occur together within its window (the matches used)."""
        for rule in rules:
            if any(c not in by_concept for c in rule.concepts):
                continue
            combos = product(*(by_concept[c] for c in rule.concepts))
            fitting = [
                list(c) for c in islice(combos, _MAX_COMBINATIONS) if _span(c) <= rule.window
            ]
            yield from sorted(fitting, key=_span)[:_MAX_READINGS]


def _is_number(word: str) -> bool:
    return word.isdigit() or _DECIMAL.fullmatch(word) is not None


def _span(matches: Sequence[Match]) -> int:
    return max(m.end for m in matches) - min(m.start for m in matches)


def _inside(match: Match, mask: Match) -> bool:
    """Strictly inside: "bum" in "bum bag" is hidden, a term equal to the mask is not."""
    return (
        mask.start <= match.start
        and match.end <= mask.end
        and match != mask
        and (match.end - match.start < mask.end - mask.start)
    )


def _merge(parts: list[Match]) -> list[Match]:
    merged: list[Match] = []
    for p in parts:
        if merged and p.start <= merged[-1].end:
            last = merged.pop()
            p = Match(last.label, last.start, max(last.end, p.end))
        merged.append(p)
    return merged
