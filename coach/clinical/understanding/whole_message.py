"""The second reader: a linear model that reads the whole message for a possible emergency sign.

The lexicon reader (`reader.py`) finds a sign when the person's words are in its families; blind
sets written apart from it showed that it misses one typed emergency in eight on a first reading,
however widely the families are drawn, because people find new words faster than a lexicon can
follow. This model was trained on the labelled messages of the measured corpora
(`bench/train_whole_message.py`): word 1-2-grams and in-word character 2-5-grams weighted by
TF-IDF, and a logistic regression, fitted with scikit-learn. It catches most of what the lexicon
misses: in a leave-one-blind-set-out measure over the fifteen blind sets that landed before it
(each read by the lexicon as it was before that set, and by a model trained without it),
emergency recall on first reading went from 86.7 % to 98.3 %, with screening questions on
sign-free messages from 5.4 % to 6.4 %; ten fresh sets read once with it gave 97.8 %
(bench/README.md).

Its hits are only ever a reason to ASK: the emergency question with the full list. It never
names a sign, never brings EMERGENCY advice by itself (at the emergency question a message it
flags is "unclear": the question again), and a message whose signs the lexicon reader found
denied or in the past needs a much higher score (someone else's: no score at all). An
emergency sign the lexicon found, in a message this model finds very unlikely to report one, is
"doubted": at the emergency question it is confirmed with one tap, never taken as an alarm.

A second head ("own"), trained the same way on typed emergencies against denials, someone
else's signs and past mentions only, tells the person's own sign now from the rest. The lexicon's
context rules misread new dialects and constructions ("me da wet himsel", "when I were 15"); in
a leave-one-blind-set-out measure over 23 blind sets, with a sign this head reads below 0.5
confirmed first, 5 of 1,636 denials, others' signs and past mentions were still read as an
emergency sign (68 for the lexicon alone), at the cost of a second tap for 1.1 % of typed
emergencies (bench/README.md §6).

Why the scoring is written out here rather than calling scikit-learn: scikit-learn and SciPy
add about 195 MB to the image and 1.2 s to the import, for what is, once fitted, a dictionary
of weights and a dot product. The features below are scikit-learn's own definitions
(`TfidfVectorizer` with `analyzer="word"` and `analyzer="char_wb"`, `sublinear_tf`, L2 norm);
`tests/test_whole_message.py` checks that this code gives scikit-learn's score to 1e-9 on a third
of the corpus messages (every kind), and that the shipped model is the one training gives today.
"""

from __future__ import annotations

import gzip
import json
import logging
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from coach.clinical.tiers import Tier
from coach.clinical.understanding.reading import Reading, Status

log = logging.getLogger(__name__)

# scikit-learn's default token pattern and its whitespace folding for char_wb.
_WORD = re.compile(r"(?u)\b\w\w+\b")
_SPACES = re.compile(r"\s\s+")
_STRIP = re.compile(r"^\W+|\W+$")


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    """`TfidfVectorizer(analyzer="word", ngram_range=(low, high))`'s terms of a message."""
    tokens = _WORD.findall(text.lower())
    grams: list[str] = []
    for n in range(low, high + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_ngrams(word: str, low: int, high: int) -> list[str]:
    """`analyzer="char_wb"`'s terms of one whitespace-separated word (lowercased)."""
    padded = f" {word} "
    grams: list[str] = []
    for n in range(low, high + 1):
        if len(padded) <= n:  # a word no longer than n counts once, whole
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return grams


class _Block:
    """One TF-IDF vectoriser's vocabulary (term -> column) with each column's idf and the
    model's weight. A message's terms are looked up once per distinct word and kept (words
    repeat within a long message and across messages); the sums run in numpy."""

    CACHE_WORDS = 50_000  # distinct words kept; beyond that the cache starts again

    def __init__(
        self, analyzer: str, low: int, high: int, terms: dict[str, tuple[float, float]]
    ) -> None:
        self.analyzer, self.low, self.high = analyzer, low, high
        self.column = {term: i for i, term in enumerate(terms)}
        self.idf = np.array([v[0] for v in terms.values()], dtype=np.float64)
        self.coef = np.array([v[1] for v in terms.values()], dtype=np.float64)
        self._columns_of_word: dict[str, npt.NDArray[np.intp]] = {}

    def words(self, text: str) -> list[str]:
        """The message's words as this block sees them (char_wb: split on whitespace)."""
        return _SPACES.sub(" ", text.lower()).split()

    def columns_of_word(self, word: str) -> npt.NDArray[np.intp]:
        """The known character n-grams of one (lowercased) word, as columns, with repeats."""
        found = self._columns_of_word.get(word)
        if found is None:
            column = self.column
            ids = [column[g] for g in char_ngrams(word, self.low, self.high) if g in column]
            found = np.array(ids, dtype=np.intp)
            if len(self._columns_of_word) >= self.CACHE_WORDS:
                self._columns_of_word = {}
            self._columns_of_word[word] = found
        return found

    def columns_of_words(self, word: str) -> list[int]:
        """The word terms made from one whitespace-separated word: its tokens alone."""
        tokens = _WORD.findall(word.lower())
        return [self.column[t] for t in tokens if t in self.column]

    def columns(self, text: str) -> npt.NDArray[np.intp]:
        """Every known term of the message, as columns, with repeats."""
        if self.analyzer != "char_wb":
            column = self.column
            grams = word_ngrams(text, self.low, self.high)
            return np.array([column[g] for g in grams if g in column], dtype=np.intp)
        parts = [self.columns_of_word(w) for w in self.words(text)]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)

    def shares(self, text: str) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
        """The message's known terms (columns) and each one's part of the score."""
        ids, counts = np.unique(self.columns(text), return_counts=True)
        if not len(ids):
            return ids, np.empty(0, dtype=np.float64)
        values = (1.0 + np.log(counts)) * self.idf[ids]  # sublinear tf times idf
        return ids, values * self.coef[ids] / math.sqrt(float(values @ values))  # L2 norm

    def score(self, text: str) -> float:
        return float(self.shares(text)[1].sum())


def _blocks_of(data: dict[str, Any]) -> tuple[_Block, ...]:
    return tuple(
        _Block(
            analyzer=b["analyzer"],
            low=b["ngram_range"][0],
            high=b["ngram_range"][1],
            terms={t: (v[0], v[1]) for t, v in b["terms"].items()},
        )
        for b in data["blocks"]
    )


@dataclass(frozen=True)
class LinearTextModel:
    """TF-IDF blocks and a logistic regression's intercept: a probability for a message."""

    blocks: tuple[_Block, ...]
    intercept: float

    def decision(self, text: str) -> float:
        """The logistic regression's decision function (log-odds) for the message."""
        return self.intercept + sum(block.score(text) for block in self.blocks)

    def probability(self, text: str) -> float:
        z = self.decision(text)
        if z < 0:  # written so that exp never overflows
            return math.exp(z) / (1.0 + math.exp(z))
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class WholeMessageModel(LinearTextModel):
    threshold: float  # ask when the probability is above this
    threshold_set_aside: float  # ... or above this when the signs found were all set aside
    confirm_below: float  # an emergency sign the lexicon found is confirmed first below this
    trained_on: int  # messages
    # The second head, "whose sign, and when": trained only on messages that speak of emergency
    # signs, the person's own now against denials, someone else's and the past. An emergency
    # sign the lexicon found is also confirmed first when this head's probability is below
    # `own_confirm_below` (the lexicon's context rules misread new dialects and constructions).
    own: LinearTextModel | None = None
    own_confirm_below: float = 0.0

    @classmethod
    def load(cls, path: Path) -> WholeMessageModel:
        data = json.loads(gzip.decompress(path.read_bytes()).decode("utf-8"))
        own = data.get("own")
        return cls(
            blocks=_blocks_of(data),
            intercept=float(data["intercept"]),
            threshold=float(data["threshold"]),
            threshold_set_aside=float(data["threshold_set_aside"]),
            confirm_below=float(data["confirm_below"]),
            trained_on=int(data["trained_on"]),
            own=LinearTextModel(_blocks_of(own), float(own["intercept"])) if own else None,
            own_confirm_below=float(own["confirm_below"]) if own else 0.0,
        )

    @classmethod
    def load_or_none(cls, path: Path) -> WholeMessageModel | None:
        """The model, or None with one log line when the file cannot be read (a damaged copy in
        COACH_CONTENT_DIR): typed messages are then read by the lexicon alone, never lost."""
        try:
            return cls.load(path)
        except (OSError, EOFError, ValueError, KeyError, TypeError, IndexError) as exc:
            log.warning(
                "%s cannot be read (%s): typed messages are read by the lexicon alone; copy "
                "model/ again from the coach's own content/",
                path,
                type(exc).__name__,
            )
            return None

    def doubts_emergency_sign(self, text: str) -> bool:
        """An emergency sign the lexicon found is to be confirmed with one tap first: the whole
        message reads as very unlikely to report one, or as someone else's, denied or past."""
        if self.probability(text) < self.confirm_below:
            return True
        return self.own is not None and self.own.probability(text) < self.own_confirm_below

    def possible_emergency(self, text: str, *, set_aside: bool = False) -> bool:
        limit = self.threshold_set_aside if set_aside else self.threshold
        return self.probability(text) > limit

    def words_behind(self, text: str, most: int = 4) -> str:
        """The words of the message that weighed most towards the score, in the message's order:
        kept with the decision (transparency), never logged. Each term's share goes to the word
        it was made from (word pairs, made from two, are left out)."""
        words = _SPACES.sub(" ", text).split()
        if not words:
            return ""
        weight = np.zeros(len(words))
        for block in self.blocks:
            ids, parts = block.shares(text)
            if block.analyzer == "char_wb":
                per_word = [block.columns_of_word(w.lower()) for w in words]
            else:
                per_word = [np.array(block.columns_of_words(w), dtype=np.intp) for w in words]
            sizes = np.array([len(c) for c in per_word])
            if not sizes.sum():
                continue
            every = np.concatenate(per_word)
            share = np.zeros(len(block.idf))
            share[ids] = parts
            times = np.bincount(every, minlength=len(block.idf))
            values = share[every] / times[every]  # a term seen twice: half to each word
            owner = np.repeat(np.arange(len(words)), sizes)
            weight += np.bincount(owner, weights=values, minlength=len(words))
        top = [i for i in np.argsort(-weight, kind="stable")[:most].tolist() if weight[i] > 0]
        picked = [_STRIP.sub("", words[i]) for i in sorted(top)]
        return " ".join(w for w in picked if w)


def second_reading(model: WholeMessageModel | None, text: str, reading: Reading) -> Reading:
    """What the second reader adds to the lexicon's reading.

    - No sign of the person's own and no question: a possible emergency when the whole message
      reads as one (a higher bar when the signs found were denied or past; never about someone
      else: it cannot tell whose sign it reads, and the answer to someone else's emergency says
      where help is).
    - An emergency sign found: doubted when the whole message reads as very unlikely to be one,
      or as someone else's, denied or past (the second head).
    """
    if model is None or reading.asked or reading.asks_about_signs:
        return reading
    top = reading.top_tier
    if top == Tier.EMERGENCY:
        return replace(reading, doubted=True) if model.doubts_emergency_sign(text) else reading
    if top is not None or any(m.status == Status.OTHER_PERSON for m in reading.mentions):
        return reading
    if not model.possible_emergency(text, set_aside=bool(reading.set_aside)):
        return reading
    return replace(reading, possible_emergency=True, possible_words=model.words_behind(text))
