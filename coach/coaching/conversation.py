"""The coach as the pipeline sees it: route an input, render a due follow-up, note a block.

Every call is one unit of work against the database (the pipeline owns the session). Where to
read on: `router` maps each input to a journey; `journeys/` hold one job each (onboarding, the
symptom check, the plan, the daily check-in, escalation, the person's controls, data rights, free
text); `followups` turns a due follow-up into replies; `replies` holds the domain types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session

from coach.clinical.understanding import warm_up
from coach.clock import Clock
from coach.coaching import router
from coach.coaching.followups import PreparedFollowUp, render_followup
from coach.coaching.journeys.common import Coaching
from coach.coaching.replies import Inbound, Outcome
from coach.content import Content
from coach.settings import Settings
from coach.storage.models import FollowUp

if TYPE_CHECKING:
    from sqlalchemy import Engine

__all__ = ["Coach", "PreparedFollowUp"]

READER_WARM_UP_AFTER_SECONDS = 3.0


class Coach:
    def __init__(
        self, *, engine: Engine, content: Content, clock: Clock, settings: Settings
    ) -> None:
        self.engine = engine  # the pipeline opens its units of work on it
        self.content = content
        self.clock = clock
        self.settings = settings
        self.coaching = Coaching(content, clock, settings)
        # The reader of typed messages, built off start-up. Other languages' readers are built
        # on their first message: each takes 0.1-3 s of processor, which a timed warm-up would
        # take from everyone's replies at once (measured: seconds at 200 people in the first
        # minute, bench.reply_latency).
        if content.lexicon is not None:
            warm_up(content.lexicon, after_seconds=READER_WARM_UP_AFTER_SECONDS)

    def route(self, session: Session, inbound: Inbound) -> Outcome:
        """Handle one input from a person (see `router`)."""
        return router.route(self.coaching, session, inbound)

    def on_blocked_change(self, session: Session, user_id: int, *, blocked: bool) -> None:
        """The person blocked the bot (my_chat_member "kicked", or a 403) or came back."""
        router.on_blocked_change(self.coaching, session, user_id, blocked=blocked)

    def render_followup(self, session: Session, followup: FollowUp) -> PreparedFollowUp | None:
        """A claimed, due follow-up as replies, or None once settled as skipped or cancelled."""
        return render_followup(self.coaching, session, followup)
