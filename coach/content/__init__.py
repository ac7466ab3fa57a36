"""Content loading: every text, question, button label and plan step comes from `content/`."""

from coach.content.checks import ContentError
from coach.content.loader import Content, Question, load_content

__all__ = ["Content", "ContentError", "Question", "load_content"]
