"""Content loading: every text, question, button label and plan step comes from `content/`.

`load_languages` loads every language (the coach's start-up); `load_content` one language with
its places (tools, benchmarks, tests); `localised` picks what a person reads.
"""

from coach.content.checks import ContentError
from coach.content.languages import load_language, load_languages, localised
from coach.content.loader import Content, Question

load_content = load_language

__all__ = [
    "Content",
    "ContentError",
    "Question",
    "load_content",
    "load_language",
    "load_languages",
    "localised",
]
