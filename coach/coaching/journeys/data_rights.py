"""The person's data rights: /mydata sends everything held about them as a JSON file; /delete
erases it all after one confirmation tap."""

from __future__ import annotations

import json

from coach.coaching.journeys.common import Turn, ask, clear_flow, with_resume
from coach.coaching.replies import Outcome, Reply
from coach.storage import repository as repo

EXPORT_FILE_NAME = "recovery-coach-my-data.json"


def export(turn: Turn) -> Outcome:
    data = repo.export_person(turn.session, turn.person)
    data["exported_at"] = turn.clock.now().isoformat()
    body = json.dumps(data, indent=2, ensure_ascii=False, default=str).encode()
    outcome = with_resume(turn, [])
    outcome.document = (EXPORT_FILE_NAME, body)
    outcome.replies.insert(0, Reply(turn.content.ui("mydata_caption")))
    return outcome


def ask_delete(turn: Turn) -> Outcome:
    content = turn.content
    options = [("yes", content.ui("delete_yes")), ("no", content.ui("delete_no"))]
    question = content.ui("delete_question")
    return Outcome([ask(turn, "delete", "delete", {}, question, options)])


def answer_delete(turn: Turn, value: str) -> Outcome:
    if value == "yes":
        repo.erase_person(turn.session, turn.person)
        return Outcome([Reply(turn.content.ui("deleted"))])
    clear_flow(turn.person)
    return Outcome([Reply(turn.content.ui("delete_cancelled"))])
