"""Regression alerts through the real pipeline: a deploy with twice the regenerate rate, posted
over HTTP, raises exactly one alert, stored, posted to the webhook (retried) and on /metrics;
checking again raises nothing new (issue 15 §3)."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from feedback.cli import app
from quality.alerts import AlertConfig, check
from quality.detect import Policy
from tests.helpers import event, free_port, new_id, trace
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

MINUTE = 60_000


class Webhook:
    """A receiver that fails its first request (503) and records what it got."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.attempts += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.attempts == 1:
                    self.send_response(503)
                else:
                    receiver.bodies.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    thread = threading.Thread(target=hook.server.serve_forever, daemon=True)
    thread.start()
    yield hook
    hook.server.shutdown()


def _post(
    pipeline: RunningPipeline,
    feature: str,
    version: str,
    start_ms: int,
    end_ms: int,
    n: int,
    regen: float,
    rng: random.Random,
) -> int:
    traces: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for i in range(n):
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        ts = start_ms + (end_ms - start_ms) * i // n
        traces.append(trace(trace_id, conversation, timestamp=ts, feature=feature, model_version=version))
        if rng.random() < regen:
            events.append(event("regenerate", conversation_id=conversation, trace_id=trace_id, timestamp=ts + 1000,
                                user_id=f"u-{i}"))  # fmt: skip
    for start in range(0, len(traces), 1000):
        assert pipeline.post("/v1/traces", {"traces": traces[start : start + 1000]}, key="secret").status_code == 202
    if events:
        assert pipeline.post("/v1/events", {"events": events}).status_code == 202
    return len(events)


def test_deploy_with_more_regenerates_raises_one_alert_everywhere(pipeline: RunningPipeline, webhook: Webhook) -> None:
    feature = f"alerts-{uuid.uuid4().hex[:6]}"
    rng = random.Random(3)
    now = int(time.time() * 1000)
    regenerates = _post(pipeline, feature, "v1", now - 7 * 60 * MINUTE, now - 60 * MINUTE, 1200, 0.10, rng)
    regenerates += _post(pipeline, feature, "v2", now - 60 * MINUTE, now - MINUTE, 400, 0.25, rng)
    pipeline.wait_rows("SELECT 1 FROM traces WHERE feature = {f:String}", 1600, timeout_s=60, f=feature)
    pipeline.wait_rows("SELECT 1 FROM events WHERE feature = {f:String}", regenerates, timeout_s=60, f=feature)

    config = AlertConfig(
        window_s=3600, baseline_s=6 * 3600, policy=Policy(min_samples=100), webhook_url=webhook.url,
        webhook_backoff_s=0.01,
    )  # fmt: skip
    at = datetime.fromtimestamp(now / 1000, UTC)
    result = check(pipeline.client, pipeline.settings.clickhouse_database, config, at=at, tenant="acme")

    mine = [row for row in result.raised if row["dimensions"]["feature"] == feature]
    assert mine, result.findings
    assert [(r["metric"], r["comparison"], r["dimensions"]["model_version"]) for r in mine] == [
        ("regenerate_rate", "versions", "v2")
    ]
    alert = mine[0]
    assert alert["n"] == 400
    assert alert["baseline_n"] == 1200
    assert alert["current"] > 2 * alert["baseline"] * 0.8 > 0
    assert alert["p_adjusted"] <= config.policy.fdr
    stored = pipeline.rows("SELECT metric, n, severity FROM alerts WHERE alert_id = {a:String}", a=alert["alert_id"])
    assert stored == [("regenerate_rate", 400, alert["severity"])]

    # the webhook got it on the second attempt (the first answered 503)
    assert webhook.attempts == 2
    (body,) = webhook.bodies
    assert [a["alert_id"] for a in body["alerts"] if a["dimensions"]["feature"] == feature] == [alert["alert_id"]]
    assert body["alerts"][0]["window_end"].startswith(at.isoformat()[:19])

    metrics = httpx.get(f"http://{pipeline.settings.http_addr}/metrics").text
    assert 'feedback_alerts_raised_total{metric="regenerate_rate",severity="' in metrics

    # The same regression in an overlapping window is not raised again, by the API or the CLI.
    again = check(pipeline.client, pipeline.settings.clickhouse_database, config, at=at, tenant="acme")
    assert [r for r in again.raised if r["dimensions"]["feature"] == feature] == []
    assert any(f.group.feature == feature for f in again.findings)
    env = {
        "FEEDBACK_CLICKHOUSE_URL": pipeline.settings.clickhouse_url.get_secret_value(),
        "FEEDBACK_CLICKHOUSE_DATABASE": pipeline.settings.clickhouse_database,
        "FEEDBACK_KEYS_FILE": str(pipeline.settings.keys_file),
        "FEEDBACK_ALERT_MIN_SAMPLES": "100",
    }
    runner = CliRunner()
    cli = runner.invoke(
        app, ["alerts", "check", "--window", "1h", "--baseline", "6h", "--tenant", "acme", "--at", at.isoformat()],
        env=env,
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert "0 new alert(s)" in cli.output
    listed = runner.invoke(app, ["alerts", "list", "--tenant", "acme", "--format", "json"], env=env)
    assert listed.exit_code == 0, listed.output
    rows = [row for row in json.loads(listed.output) if row["dimensions"]["feature"] == feature]
    assert [(row["alert_id"], row["metric"]) for row in rows] == [(alert["alert_id"], "regenerate_rate")]
    bad = runner.invoke(app, ["alerts", "check", "--window", "soon"], env=env)
    assert bad.exit_code == 2
    assert "--window: 'soon' is not a duration" in bad.output
