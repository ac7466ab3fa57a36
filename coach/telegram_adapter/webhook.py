"""Webhook mode: Telegram POSTs each update; the answer is 200 only once it is stored.

While the database is unreachable the answer is 503, and Telegram delivers the update again
later; an update delivered twice (a retry, or several instances behind a load balancer) is
handled once, thanks to the inbox.
"""

from __future__ import annotations

import hmac
import json
import logging

import tornado.web
from telegram import Update

from coach.storage.database import DatabaseUnavailable
from coach.telegram_adapter.runtime import CoachRuntime

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def webhook_app(runtime: CoachRuntime, path: str, secret: str) -> tornado.web.Application:
    class Receive(tornado.web.RequestHandler):
        async def post(self) -> None:
            given = self.request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), secret.encode()):
                self.set_status(403)
                self.finish()
                return
            try:
                data = json.loads(self.request.body)
                update = Update.de_json(data, runtime.bot)
            except (ValueError, TypeError, KeyError):
                self.set_status(400)
                self.finish()
                return
            try:
                await runtime.process(update)
            except DatabaseUnavailable:
                # Not stored: Telegram will try again, so nothing is lost.
                log.warning("database unreachable: update refused with 503 for Telegram to retry")
                self.set_status(503)
                self.finish()
                return
            except Exception:
                log.exception("error while processing an update")
            self.set_status(200)
            self.finish()

    route = "/" + path.strip("/")
    return tornado.web.Application([(route, Receive)])
