"""One unit of work per input and per due follow-up: lock the person, check the inbox, run the
journey, and write what the coach says to the outbox, all in one transaction.

Nothing here talks to Telegram: the adapter hands in `Inbound`s and the courier delivers what
the outbox holds, after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from coach.clock import Clock
from coach.coaching.conversation import Coach, PreparedFollowUp
from coach.coaching.replies import Choice, Drawing, Inbound, Outcome, Reply
from coach.pipeline.sending import HandOff
from coach.storage import followups, inbox, outbox
from coach.storage import repository as repo
from coach.storage.database import DatabaseUnavailable, lock_person, unit_of_work
from coach.storage.models import (
    FollowUp,
    FollowUpStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
)

log = logging.getLogger(__name__)

# A reply that could not be delivered for a day is no longer worth sending.
REPLY_EXPIRES_AFTER = timedelta(hours=24)
INBOX_REMEMBERS = timedelta(days=2)  # Telegram keeps an undelivered update for 24 hours
# Follow-ups rendered per unit of work: one commit (on PostgreSQL one WAL flush) for many.
RENDER_UNIT = 20


@dataclass(frozen=True)
class Handled:
    chat_id: int
    duplicate: bool = False
    ack: str | None = None
    # The rows written and already claimed with the hand-off's token (empty: nothing to send
    # at once, or the chat had older rows waiting and the courier claims in order).
    handed: tuple[OutboxMessage, ...] = ()


@dataclass
class RenderReport:
    queued: int = 0
    skipped: int = 0
    lost_claims: int = 0
    failed: int = 0


def merge_replies(replies: list[Reply], limit: int = 4096) -> list[Reply]:
    """Join a text-only reply with the next one: fewer messages, one notification."""
    merged: list[Reply] = []
    for reply in replies:
        if merged and not merged[-1].choices and len(merged[-1].text) + len(reply.text) < limit:
            merged[-1] = Reply(f"{merged[-1].text}\n\n{reply.text}", reply.choices)
        else:
            merged.append(reply)
    return merged


def _stored(reply: Reply) -> list[list[list[str]]]:
    return [[choice.stored() for choice in row] for row in reply.choices]


def _outgoing(replies: list[Reply]) -> list[outbox.Outgoing]:
    return [
        outbox.Outgoing(text=reply.text, buttons=_stored(reply)) for reply in merge_replies(replies)
    ]


class CoachService:
    def __init__(self, *, coach: Coach, clock: Clock, catch_up_hours: float = 3.0) -> None:
        self.coach = coach
        self.engine: sa.Engine = coach.engine
        self.clock = clock
        self.followup_expiry = timedelta(hours=max(catch_up_hours, 0.25))

    # ------------------------------------------------------------------ inputs

    def handle(self, inbound: Inbound, hand_off: HandOff | None = None) -> Handled:
        """Handle one input exactly once. Raises DatabaseUnavailable: retry the whole input."""
        chat_id = inbound.user.chat_id
        try:
            with unit_of_work(self.engine) as session:
                lock_person(session, inbound.user.user_id)
                if not self._first_time(session, inbound):
                    return Handled(chat_id, duplicate=True)
                outcome = self._route(session, inbound)
                rows, drawings = self._queue_outcome(session, inbound, outcome)
                handed = self._hand_off(session, rows, hand_off)
            if drawings:
                handed = self._draw(rows, drawings, hand_off)
            return Handled(chat_id, ack=outcome.ack, handed=handed)
        except DatabaseUnavailable:
            raise
        except Exception:
            # Never the update itself in the log: it holds what the person wrote.
            log.exception("error while handling an update of kind %s", inbound.kind)
        # The input is recorded as handled and answered with the way on, so a bug can neither
        # loop on a re-delivered update nor leave the person without buttons.
        with unit_of_work(self.engine) as session:
            lock_person(session, inbound.user.user_id)
            if not self._first_time(session, inbound):
                return Handled(chat_id, duplicate=True)
            person = repo.person_by_telegram_id(session, inbound.user.user_id)
            content = self.coach.coaching.content_for(person, inbound.user.language_code)
            reply = Reply(
                content.ui("something_went_wrong"),
                (
                    (Choice(content.ui("btn_checkin"), action="checkin"),),
                    (Choice(content.ui("btn_help"), action="help"),),
                ),
            )
            rows = self._queue(session, chat_id, person, _outgoing([reply]))
            handed = self._hand_off(session, rows, hand_off)
        return Handled(chat_id, handed=handed)

    def _hand_off(
        self, session: Session, rows: list[OutboxMessage], hand_off: HandOff | None
    ) -> tuple[OutboxMessage, ...]:
        if hand_off is None or not rows:
            return ()
        lease_until = self.clock.now() + hand_off.lease
        if not outbox.hand_off(session, rows, token=hand_off.token, lease_until=lease_until):
            return ()
        return tuple(rows)

    def _draw(
        self,
        rows: list[OutboxMessage],
        drawings: dict[int, Drawing],
        hand_off: HandOff | None,
    ) -> tuple[OutboxMessage, ...]:
        """Draw after the commit, with no lock held, then make the rows deliverable."""
        bodies: dict[int, bytes | None] = {}
        for row_id, draw in drawings.items():
            try:
                bodies[row_id] = draw()
            except Exception:
                log.exception("a picture or page could not be drawn: sent without it")
                bodies[row_id] = None
        with unit_of_work(self.engine) as session:
            outbox.fill_drawings(session, bodies, now=self.clock.now())
            for row in rows:
                if row.id in bodies:
                    row.status = OutboxStatus.PENDING if bodies[row.id] else OutboxStatus.CANCELLED
                    row.document_body = bodies[row.id]
            return self._hand_off(
                session, [r for r in rows if r.status != OutboxStatus.CANCELLED], hand_off
            )

    def _first_time(self, session: Session, inbound: Inbound) -> bool:
        if inbound.update_id is None:
            return True
        return inbox.record_update(session, update_id=inbound.update_id, at=self.clock.now())

    def _route(self, session: Session, inbound: Inbound) -> Outcome:
        """The coach's router decides (coach/coaching/router.py)."""
        return self.coach.route(session, inbound)

    def _queue_outcome(
        self, session: Session, inbound: Inbound, outcome: Outcome
    ) -> tuple[list[OutboxMessage], dict[int, Drawing]]:
        """Write the outcome's messages; returns them and, by row id, what is left to draw."""
        messages: list[outbox.Outgoing] = []
        replies = merge_replies(outcome.replies)
        if outcome.chosen and inbound.message_id is not None and inbound.message_text:
            if outcome.in_place and len(replies) == 1 and replies[0].choices:
                # The next question takes the answered one's place: the chat moves on in one
                # message instead of adding one per question (and one notification each).
                following = replies.pop()
                messages.append(
                    outbox.Outgoing(
                        text=f"✓ {outcome.chosen}\n\n{following.text}",
                        buttons=_stored(following),
                        edit_message_id=inbound.message_id,
                    )
                )
            else:
                # Show the choice on the question and take its buttons away.
                messages.append(
                    outbox.Outgoing(
                        text=f"{inbound.message_text}\n\n✓ {outcome.chosen}",
                        edit_message_id=inbound.message_id,
                    )
                )
        to_draw: dict[int, Drawing] = {}  # message index → drawing
        if outcome.photo is not None:
            to_draw[len(messages)] = outcome.photo[1]
            messages.append(outbox.Outgoing(text=outcome.photo[0], photo=b"", drawing=True))
        if outcome.document is not None:
            name, body = outcome.document
            if isinstance(body, bytes):
                messages.append(outbox.Outgoing(text="", document=(name, body)))
            else:
                to_draw[len(messages)] = body
                messages.append(outbox.Outgoing(text="", document=(name, b""), drawing=True))
        messages += [outbox.Outgoing(text=r.text, buttons=_stored(r)) for r in replies]
        if not messages:
            return [], {}
        person = repo.person_by_telegram_id(session, inbound.user.user_id)
        rows = self._queue(session, inbound.user.chat_id, person, messages)
        drawings = {rows[index].id: draw for index, draw in to_draw.items()}
        return rows, {row_id: draw for row_id, draw in drawings.items() if row_id is not None}

    def _queue(
        self,
        session: Session,
        chat_id: int,
        person: Person | None,
        messages: list[outbox.Outgoing],
        *,
        followup_id: int | None = None,
    ) -> list[OutboxMessage]:
        now = self.clock.now()
        expiry = self.followup_expiry if followup_id is not None else REPLY_EXPIRES_AFTER
        return outbox.enqueue(
            session,
            chat_id=chat_id,
            person_id=person.id if person is not None else None,
            messages=messages,
            now=now,
            expires_at=now + expiry,
            followup_id=followup_id,
        )

    # ------------------------------------------------------------------ follow-ups

    def claim_due_followups(
        self, *, owner: str, lease: timedelta, limit: int
    ) -> tuple[str, list[int]]:
        now = self.clock.now()
        with unit_of_work(self.engine) as session:
            return followups.claim_due(
                session, owner=owner, now=now, lease_until=now + lease, limit=limit
            )

    def release_followups(self, ids: list[int], token: str) -> None:
        with unit_of_work(self.engine) as session:
            followups.release(session, ids=ids, token=token)

    def render_followups(self, ids: list[int], token: str) -> RenderReport:
        """Render claimed follow-ups into the outbox, `RENDER_UNIT` to a unit of work: each
        rendered once and marked, or settled as skipped, under its person's lock. Fenced by the
        claim token."""
        report = RenderReport()
        for start in range(0, len(ids), RENDER_UNIT):
            self._render_unit(ids[start : start + RENDER_UNIT], token, report)
        return report

    def _render_unit(self, ids: list[int], token: str, report: RenderReport) -> None:
        with unit_of_work(self.engine) as session:
            # Every person of the unit is locked first, in one order, so two renderers (or a
            # renderer and a person's own update) cannot deadlock.
            for telegram_user_id in followups.telegram_users_of(session, ids):
                lock_person(session, telegram_user_id)
            for followup_id in ids:
                followup = followups.owned_claim(session, followup_id=followup_id, token=token)
                if followup is None:
                    report.lost_claims += 1
                    continue
                try:
                    # One follow-up's error undoes only its own work (a savepoint).
                    with session.begin_nested():
                        self._render_one(session, followup, report)
                except DatabaseUnavailable:
                    raise
                except Exception:
                    log.exception("error while rendering a follow-up of kind %s", followup.kind)
                    followups.settle(
                        session,
                        followup_id=followup_id,
                        status=FollowUpStatus.FAILED,
                        reason="error while rendering",
                    )
                    report.failed += 1

    def _render_one(self, session: Session, followup: FollowUp, report: RenderReport) -> None:
        prepared: PreparedFollowUp | None = self.coach.render_followup(session, followup)
        if prepared is None:
            report.skipped += 1
            return
        person = session.get(Person, prepared.person_id)
        self._queue(
            session,
            prepared.chat_id,
            person,
            _outgoing(prepared.replies),
            followup_id=prepared.followup_id,
        )
        report.queued += 1

    # ------------------------------------------------------------------ housekeeping

    def mark_blocked(self, person_id: int) -> None:
        """A send met a 403: the person blocked the bot."""
        with unit_of_work(self.engine) as session:
            person = session.get(Person, person_id)
            if person is None:
                return
            telegram_user_id = person.telegram_user_id
        with unit_of_work(self.engine) as session:
            lock_person(session, telegram_user_id)
            self.coach.on_blocked_change(session, telegram_user_id, blocked=True)

    def purge(self, older_than: timedelta | None) -> int:
        """Retention: erase episodes closed longer ago than `older_than`; forget old update ids."""
        now: datetime = self.clock.now()
        with unit_of_work(self.engine) as session:
            inbox.forget_updates_before(session, before=now - INBOX_REMEMBERS)
            outbox.forget_settled_before(session, before=now - INBOX_REMEMBERS)
            if older_than is None:
                return 0
            return repo.purge_closed_episodes(session, before=now - older_than)
