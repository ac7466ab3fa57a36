"""The operators' outcomes on /metrics (through the real bot and its HTTP server), and the
shipped Grafana dashboard and Prometheus configuration: every metric the dashboard queries is
exported, and the monitoring files parse."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import yaml

from tests.support.bot_harness import USER_ID, BotHarness, three_days_without_improvement
from tests.test_clinician_report_e2e import REPORT_BUTTON

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "coach.json"
METRIC_NAME = re.compile(r"\bcoach_[a-z0-9_]+")


async def _metrics(bot: BotHarness) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{bot.runtime.http_port}/metrics")
    assert response.status_code == 200
    return response.text


def _value(body: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} (\S+)$", body, re.MULTILINE)
    assert match is not None, f"{sample} not exported"
    return float(match.group(1))


async def test_outcomes_are_on_metrics_as_counts_only(bot: BotHarness) -> None:
    replies = await three_days_without_improvement(bot)
    advice = next(m for m in replies if "book a doctor" in (m.text or ""))
    await bot.tap(REPORT_BUTTON, message=advice)
    body = await _metrics(bot)
    assert _value(body, "coach_outcome_people_started") == 1
    assert _value(body, "coach_outcome_people_consented") == 1
    assert _value(body, 'coach_outcome_episodes{tier="soon"}') == 1
    assert _value(body, 'coach_outcome_episodes{tier="self"}') == 0
    assert _value(body, 'coach_outcome_escalations{rule="no_improvement_day3"}') == 1
    assert _value(body, "coach_outcome_checkins_opened") == 2
    assert _value(body, "coach_outcome_checkin_adherence_ratio") == 1
    assert _value(body, "coach_outcome_clinician_report_requests") == 1
    assert _value(body, "coach_outcome_people_asking_for_clinician_report") == 1
    assert body.count('coach_outcome_recovery_day{quantile="0.5"} NaN') == 1  # none recovered
    assert str(USER_ID) not in body and "Lower back" not in body


async def test_every_metric_the_dashboard_queries_is_exported(bot: BotHarness) -> None:
    await three_days_without_improvement(bot)  # updates handled, follow-ups dispatched
    exported = {m.group(0) for m in METRIC_NAME.finditer(await _metrics(bot))}
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        for name in METRIC_NAME.findall(target["expr"])
    }
    assert len(queried) >= 15
    assert queried <= exported, f"not exported: {sorted(queried - exported)}"


def test_dashboard_uses_the_provisioned_datasource_and_has_unique_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    datasource = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    uids = {
        target["datasource"]["uid"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    }
    assert uids == {datasource["uid"]}
    assert datasource["url"] == "http://prometheus:9090"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/coach.yml").read_text()
    )["providers"][0]
    assert provider["options"]["path"] == "/etc/grafana/dashboards"


def test_prometheus_scrapes_the_coach_metrics_endpoint() -> None:
    config = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"][0]["targets"] == ["coach:8080"]


def test_compose_monitoring_profile_mounts_the_shipped_files() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
        image = services[name]["image"]
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", image), f"{name} image is not pinned"
        assert all(p.startswith("127.0.0.1:") for p in services[name]["ports"])
        for volume in services[name]["volumes"]:
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    assert "profiles" not in services["coach"] and "profiles" not in services["db"]
