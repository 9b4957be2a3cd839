"""The quality score through the real pipeline: signals and thumbs in over HTTP, `score fit` on
ClickHouse, scores for every response from the view (issue 15 §2)."""

from __future__ import annotations

import math
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client
from typer.testing import CliRunner

from feedback.cli import app
from quality.features import FEATURES
from quality.score import NotEnoughLabels, fit
from runtime.migrations import migrate
from runtime.settings import Settings
from tests.helpers import event, new_id, trace
from tests.integration.conftest import RunningPipeline

MINUTE = 60_000


def _post_labelled_corpus(pipeline: RunningPipeline, feature: str, responses: int, seed: int) -> list[str]:
    """Responses whose thumb follows P(up) = sigmoid(0.3 + 1.5 copied - 1.5 regenerated - 1 rephrased)."""
    rng = random.Random(seed)
    now = int(time.time() * 1000)
    traces: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    ids: list[str] = []
    for i in range(responses):
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        ts = now - 3 * 60 * MINUTE + i * 100
        ids.append(trace_id)
        traces.append(trace(trace_id, conversation, timestamp=ts, feature=feature))
        signals = {"copy": rng.random() < 0.3, "regenerate": rng.random() < 0.2, "rephrase": rng.random() < 0.15}
        logit = 0.3 + 1.5 * signals["copy"] - 1.5 * signals["regenerate"] - 1.0 * signals["rephrase"]
        up = rng.random() < 1 / (1 + math.exp(-logit))
        # one user per response: the per-user rate limit is not what this test is about
        on = {"conversation_id": conversation, "trace_id": trace_id, "timestamp": ts + 1000, "user_id": f"u-{i}"}
        events.extend(event(kind, **on) for kind, present in signals.items() if present)
        events.append(event("thumbs", value="up" if up else "down", reasons=[], **on))
    for start in range(0, len(traces), 1000):
        assert pipeline.post("/v1/traces", {"traces": traces[start : start + 1000]}, key="secret").status_code == 202
    for start in range(0, len(events), 1000):
        assert pipeline.post("/v1/events", {"events": events[start : start + 1000]}).status_code == 202
    pipeline.wait_rows("SELECT 1 FROM traces WHERE feature = {f:String}", responses, timeout_s=60, f=feature)
    pipeline.wait_rows("SELECT 1 FROM events WHERE feature = {f:String}", len(events), timeout_s=60, f=feature)
    return ids


@pytest.mark.kafka
@pytest.mark.clickhouse
def test_fit_reports_held_out_quality_and_every_response_gets_a_score(pipeline: RunningPipeline) -> None:
    feature = f"score-{uuid.uuid4().hex[:6]}"
    ids = _post_labelled_corpus(pipeline, feature, 800, seed=7)
    database = pipeline.settings.clickhouse_database

    model = fit(pipeline.client, database, tenant="acme", min_labelled=200)

    assert model.n_train + model.n_test >= 800
    assert model.auc > 0.65
    assert 0 < model.brier < 0.25
    assert model.coefficients["copied"] > 0 > model.coefficients["regenerated"]
    assert sum(b.n for b in model.calibration) == model.n_test
    assert all(abs(b.predicted - b.observed) < 0.2 for b in model.calibration if b.n >= 30)
    stored = pipeline.rows(
        "SELECT tenant_id, n_train, features, data_from <= data_to FROM score_models WHERE model_id = {m:String}",
        m=model.model_id,
    )
    assert stored == [("acme", model.n_train, list(FEATURES), True)]

    # Every response of the feature has a score: the stored coefficients applied by the view.
    rows = pipeline.rows(
        f"SELECT trace_id, score_model_id, score, {', '.join(FEATURES)} FROM response_scores "
        "WHERE feature = {f:String}",
        f=feature,
    )
    assert sorted(row[0] for row in rows) == sorted(ids)
    for row in rows:
        assert row[1] == model.model_id
        logit = model.intercept + sum(
            model.coefficients[name] * value for name, value in zip(FEATURES, row[3:], strict=True)
        )
        assert row[2] == pytest.approx(1 / (1 + math.exp(-logit)), abs=1e-9)
    # the command prints the same evaluation
    env = {
        "FEEDBACK_CLICKHOUSE_URL": pipeline.settings.clickhouse_url.get_secret_value(),
        "FEEDBACK_CLICKHOUSE_DATABASE": database,
        "FEEDBACK_SCORE_MIN_LABELLED": "200",
    }
    printed = CliRunner().invoke(app, ["score", "fit", "--tenant", "acme"], env=env)
    assert printed.exit_code == 0, printed.output
    assert "held-out AUC 0." in printed.output
    assert "copied" in printed.output
    assert "observed up" in printed.output
    hourly = pipeline.rows(
        "SELECT sum(responses), sum(scored), min(mean_score) > 0 FROM quality_scores_hourly WHERE feature = {f:String}",
        f=feature,
    )
    assert hourly == [(800, 800, True)]


def test_view_multiplies_exactly_the_features_the_fit_uses() -> None:
    view = (Path(__file__).parents[2] / "sql" / "0022_response_scores.sql").read_text()
    assert tuple(re.findall(r"b\['(\w+)'\]", view)) == FEATURES


@pytest.mark.clickhouse
def test_too_few_labelled_responses_fail_clearly(clickhouse: Client, base_settings: Settings) -> None:
    database = f"few_{uuid.uuid4().hex[:8]}"
    migrate(clickhouse, database)
    with pytest.raises(NotEnoughLabels, match=r"tenant 'acme': 0 labelled response\(s\) \(0 thumbs up, 0 down\)"):
        fit(clickhouse, database, tenant="acme", min_labelled=200)
