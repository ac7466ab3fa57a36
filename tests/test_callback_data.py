"""Telegram callback data: the coach's choices in and out of Telegram's 64-byte field."""

from __future__ import annotations

from pathlib import Path

import pytest

from coach.coaching.replies import Choice, Tap
from coach.content import load_content
from coach.telegram_adapter.callback_data import decode, encode

CONTENT_DIR = Path(__file__).resolve().parents[1] / "content"


def test_an_answer_and_an_action_travel_in_todays_format() -> None:
    assert encode(Choice("UK (London)", value="Europe/London", token=12)) == "q:12:Europe/London"
    assert encode(Choice("Check in now", action="checkin")) == "a:checkin"
    assert decode("q:12:Europe/London") == Tap(token=12, value="Europe/London")
    assert decode("a:checkin") == Tap(action="checkin")


def test_a_value_may_hold_a_colon() -> None:
    choice = Choice("19:00", value="19:00", token=3)
    assert decode(encode(choice)) == Tap(token=3, value="19:00")


@pytest.mark.parametrize("data", ["", "zzz", "q:1", "a:x:y", "x:1:2", "q::none"])
def test_unreadable_data_decodes_to_a_tap_answered_as_stale(data: str) -> None:
    tap = decode(data)
    assert tap.token is None and tap.action is None


def test_a_token_that_is_not_a_number_matches_no_question() -> None:
    assert decode("q:abc:none") == Tap(token=None, value="none")


def test_a_choice_survives_the_outbox() -> None:
    for choice in (Choice("Yes", value="yes", token=7), Choice("Help", action="help")):
        assert Choice.from_stored(choice.stored()) == choice


def test_every_option_fits_telegrams_64_bytes_even_after_years_of_questions() -> None:
    content = load_content(CONTENT_DIR)
    asked = ("emergency", "location", "onset", "trigger", "pain", "urgent", "soon", "age")
    asked += ("change", "managed", "pgic", "activities", "timezone", "checkin_time")
    for qid in asked:
        for value, label in content.question(qid).options:
            data = encode(Choice(label, value=value, token=10**9))
            assert len(data.encode()) <= 64, data


def test_a_choice_is_an_answer_or_an_action_never_both() -> None:
    with pytest.raises(ValueError):
        Choice("?", value="yes", token=1, action="help")
    with pytest.raises(ValueError):
        Choice("?", value="yes")
