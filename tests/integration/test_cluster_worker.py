"""The worker, unchanged, on the cluster form of the schema (tests/integration/one_shard_cluster.py):
late traces, changes of mind and a resent batch, written and looked up through Distributed tables,
count exactly as on one server."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.kafka import ensure_topics
from runtime.settings import Settings
from tests.helpers import new_id, wait_for
from tests.integration.kafka_tools import group_lag
from tests.integration.processes import feedback_env
from tests.integration.test_crash_safety import assert_exact, conversations, expected_counts, produce

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

ROOT = Path(__file__).resolve().parents[2]


def test_the_worker_counts_exactly_through_distributed_tables(tmp_path: Path, kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(
        update={"topic_prefix": f"cluster-{new_id()}.", "worker_group": f"cluster-{new_id()}"}
    )
    ensure_topics(settings)
    batches = [conversations(120), conversations(120)]
    produce(settings, batches[0], traces_first=False)  # signals before their traces: rejoins
    produce(settings, batches[1], traces_first=True)
    produce(settings, batches[0][:40], traces_first=True)  # a client resends
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        FEEDBACK_TOPIC_PREFIX=settings.topic_prefix,
        FEEDBACK_WORKER_GROUP=settings.worker_group,
        FEEDBACK_CLICKHOUSE_DATABASE="feedback",
        FEEDBACK_BATCH_MAX_MESSAGES="200",
    )
    log = tmp_path / "worker.log"
    with log.open("w") as err:
        worker = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.one_shard_cluster", str(tmp_path / "engine")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready", log.read_text()
        wait_for(lambda: group_lag(settings, settings.worker_group) == 0, 180, interval_s=0.5, what="caught up")
    finally:
        worker.terminate()
        out, _ = worker.communicate(timeout=60)
    assert worker.returncode == 0, log.read_text()
    result = json.loads(out.strip().splitlines()[-1])
    engines = result["engines"]
    for table in ("events_log", "traces_log", "opinions_log"):
        assert engines[table] == "Distributed"
        assert engines[f"{table}_local"] == "CollapsingMergeTree"
    assert_exact(result["counts"], expected_counts(batches))
    views = result["views"]
    assert {"events", "traces", "ratings_current", "quality_hourly", "reasons_hourly", "response_signals"} <= set(views)
    assert {"response_scores", "quality_scores_hourly"} <= set(views)
    assert views["response_signals"] == views["traces"] == expected_counts(batches)["traces"]
