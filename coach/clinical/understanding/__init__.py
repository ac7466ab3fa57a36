"""Understanding what people type: every red flag in their own words, never one from a denial.

`reader_for(lexicon).read(text)` gives a `Reading`: each sign mentioned (tier, status present /
negated / other_person / past / asked, and the words that triggered it) and whether the words
speak of crisis. `pain_score(text)` reads a typed pain score. The lexicon is data
(`content/<language>/lexicon/`, loaded and checked by `coach.content`).

Why these libraries, and what they cost (figures from `python -m bench.freetext_report` and a
clean virtualenv, Python 3.11):

- spaCy 3.8 with a blank English pipeline (tokenizer, sentencizer, PhraseMatcher over token
  norms; no model is downloaded) and rapidfuzz for typos. Installed: about 220 MB with their
  dependencies (spaCy 126 MB, blis 39 MB, thinc 18 MB, rapidfuzz 12 MB; numpy was already
  there). Importing spaCy takes about 0.55 s and building the reader about 0.15 s (more on a
  busy machine), and the built reader holds about 70 MB, so it is built off the start-up path:
  `warm_up()` builds it in a background thread a few seconds after the coach starts, and the
  first message waits for it only if it comes first. A message as people write it is read in
  0.1-0.4 ms (at most 1 ms over 849 corpus messages); a rambling 1,500-character one in about
  4 ms (`python -m bench.freetext_report` prints the figures).
- medspaCy 1.3.1 (whose ConText is the reference for negation, experiencer and history) was
  tried and not taken: it pins spaCy 3.7 and thinc 8.2 (older than the rest), pulls nltk,
  Cython, pytest, PyFastNER, PyRuSH and QuickUMLS as run-time dependencies (281 MB installed)
  and adds about 0.3 s to the import. negspacy 1.1 covers negation only, with termsets written
  for clinical notes ("denies", "no evidence of"). The context rules here follow ConText
  (Harkema et al. 2009: triggers with a direction and a scope that ends at a terminator), with
  cues kept as data beside the lexicon, in the way people write in a chat.
- The second reader (`whole_message.py`, English): a TF-IDF and logistic-regression model over
  the whole message, fitted with scikit-learn (a development dependency only) and shipped as
  weights (`content/en/model/`, 1.1 MB with its second head). It needs nothing new at run time
  (numpy came with spaCy), takes about 0.2 s to load with the reader and adds 0.1-0.2 ms to a
  message as people write it (1-2 ms at 4,000 characters; the second head, "whose sign and
  when", about 1.6 ms more there, and only when the lexicon found an emergency sign). It lifted
  emergency recall on first reading from about 88 % to 98 % (bench/README.md, section 6).
"""

from __future__ import annotations

import threading

from coach.clinical.understanding.lexicon import Lexicon, LexiconError, build_lexicon
from coach.clinical.understanding.pain import pain_score
from coach.clinical.understanding.reader import Reader
from coach.clinical.understanding.reading import Mention, Reading, Status

__all__ = [
    "Lexicon",
    "LexiconError",
    "Mention",
    "Reader",
    "Reading",
    "Status",
    "build_lexicon",
    "pain_score",
    "prepare",
    "reader_for",
    "warm_up",
]

_readers: dict[tuple[object, ...], Reader] = {}
_lock = threading.Lock()


def reader_for(lexicon: Lexicon) -> Reader:
    """The reader of this lexicon, built once per process (equal lexicons share it)."""
    key = lexicon.fingerprint()
    reader = _readers.get(key)
    if reader is not None:
        return reader
    with _lock:
        reader = _readers.get(key)
        if reader is None:
            reader = _readers[key] = Reader(lexicon)
    return reader


_preparing: set[int] = set()


def prepare(lexicon: Lexicon) -> None:
    """Build this lexicon's reader in the background the first time a person of its language
    is met (at /start, or on switching language), so that it is ready by the time they type:
    building one takes 0.1-3 s (French: its tokenizer's import). Cheap once started."""
    if id(lexicon) in _preparing:
        return
    with _lock:
        if id(lexicon) in _preparing:
            return
        _preparing.add(id(lexicon))
    warm_up(lexicon)


def warm_up(lexicon: Lexicon, *, after_seconds: float = 0.0) -> threading.Thread:
    """Build the reader in a background thread, after a delay (so that the coach's own start-up
    does not share the processor with spaCy's import); the first message waits for it only if
    it comes before."""
    thread = threading.Timer(after_seconds, reader_for, args=(lexicon,))
    thread.name = "reader-warm-up"
    thread.daemon = True
    thread.start()
    return thread
