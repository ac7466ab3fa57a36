"""Health and metrics over HTTP (`/healthz`, `/metrics`): counts only, nothing about any person."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
import tornado.httpserver
import tornado.netutil
import tornado.web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import col, func, select

from coach.clinical.tiers import Tier
from coach.clock import Clock
from coach.storage.models import Decision, Episode, EpisodeStatus
from coach.storage.outcomes import outcome_metrics

log = logging.getLogger(__name__)


class CoachMetrics:
    """One registry per running bot (tests run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.updates_handled = Counter(
            "coach_updates_handled_total",
            "Telegram updates handled, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.followups = Counter(
            "coach_followups_total",
            "Follow-ups processed by the dispatcher, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.followups_late = Counter(
            "coach_followups_late_total",
            "Follow-ups sent more than a minute after they fell due",
            registry=self.registry,
        )
        self.dispatch_lag = Histogram(
            "coach_dispatch_lag_seconds",
            "Delay between a follow-up's due instant and its send",
            buckets=(1, 5, 15, 30, 60, 300, 900, 3600, 10800),
            registry=self.registry,
        )
        self.last_dispatch = Gauge(
            "coach_dispatch_last_run_timestamp_seconds",
            "When the dispatcher last ran",
            registry=self.registry,
        )


class DatabaseCounts(Collector):
    """Active episodes and triage outcomes by tier, counted from the database at scrape time."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def collect(self):  # type: ignore[no-untyped-def]
        active = GaugeMetricFamily("coach_active_episodes", "Episodes with a plan running")
        tiers = GaugeMetricFamily(
            "coach_triage_outcomes", "Escalation and triage decisions, by tier", labels=["tier"]
        )
        try:
            with self.engine.connect() as connection:
                count = connection.execute(
                    select(func.count())
                    .select_from(Episode)
                    .where(col(Episode.status) == EpisodeStatus.ACTIVE)
                ).scalar_one()
                by_tier = dict(
                    connection.execute(
                        select(col(Decision.tier), func.count())
                        .where(col(Decision.kind).in_(("triage", "escalation")))
                        .group_by(col(Decision.tier))
                    ).all()
                )
        except sa.exc.SQLAlchemyError:
            return
        active.add_metric([], count)
        for tier in Tier:
            tiers.add_metric([tier.name], by_tier.get(int(tier), 0))
        yield active
        yield tiers
        yield from outcome_families(self.engine)


def outcome_families(engine: sa.Engine) -> list[GaugeMetricFamily]:
    """The operators' outcome counts (`coach report`, all time) as gauges: aggregates only.

    Gauges, not counters: erasure and retention remove rows, so a figure can go down.
    """
    try:
        metrics = outcome_metrics(engine)
    except sa.exc.SQLAlchemyError:
        return []
    families: dict[str, GaugeMetricFamily] = {}
    for metric in metrics:
        family = families.get(metric.name)
        if family is None:
            labels = list(metric.labels)
            family = GaugeMetricFamily(metric.name, metric.help, labels=labels)
            families[metric.name] = family
        family.add_metric(list(metric.labels.values()), metric.value)
    return list(families.values())


@dataclass
class HealthState:
    engine: sa.Engine
    clock: Clock
    dispatch_interval: float
    started_at: float | None = None
    # Set when updates can no longer arrive (token rejected, the poller died): unhealthy for good.
    updates_stopped: str | None = None
    # The last unit of work's view; /healthz asks the database itself every time.
    database_reachable: bool = True

    def check(self, last_dispatch_at: object) -> tuple[bool, dict[str, object]]:
        detail: dict[str, object] = {"updates": self.updates_stopped or "ok"}
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            detail["database"] = "ok"
        except sa.exc.SQLAlchemyError as exc:
            detail["database"] = f"unreachable: {type(exc).__name__}"
        allowed = timedelta(seconds=max(3 * self.dispatch_interval, 60))
        now = self.clock.now()
        if last_dispatch_at is None:
            detail["dispatcher"] = "not run yet"
        else:
            age = now - last_dispatch_at  # type: ignore[operator]
            detail["dispatcher"] = "ok" if age <= allowed else f"stale: last ran {age} ago"
        healthy = (
            detail["database"] == "ok"
            and detail["dispatcher"] == "ok"
            and self.updates_stopped is None
        )
        return healthy, detail


def build_http_app(
    metrics: CoachMetrics, health: HealthState, dispatcher: object
) -> tornado.web.Application:
    # Both endpoints ask the database; they do it in a worker thread, so a database that does not
    # answer never stalls the event loop that carries the conversations.
    class Healthz(tornado.web.RequestHandler):
        async def get(self) -> None:
            last_run = getattr(dispatcher, "last_run_at", None)
            healthy, detail = await asyncio.to_thread(health.check, last_run)
            self.set_status(200 if healthy else 503)
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"status": "ok" if healthy else "unhealthy", **detail}))

    class Metrics(tornado.web.RequestHandler):
        async def get(self) -> None:
            body = await asyncio.to_thread(generate_latest, metrics.registry)
            self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.finish(body)

    return tornado.web.Application([(r"/healthz", Healthz), (r"/metrics", Metrics)])


def parse_listen(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host or "127.0.0.1", int(port)


def start_http_server(
    app: tornado.web.Application, listen: str
) -> tuple[tornado.httpserver.HTTPServer, int]:
    """Serve on the running event loop; returns the server and the port bound (0 picks one)."""
    host, port = parse_listen(listen)
    sockets = tornado.netutil.bind_sockets(port, address=host)
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    bound = int(sockets[0].getsockname()[1])
    log.info("health and metrics on http://%s:%d", host, bound)
    return server, bound
