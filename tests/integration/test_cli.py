"""The ``feedback`` command as users run it: ``up`` in the foreground, ``query``, ``kafka``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from runtime.clickhouse import EngineOwner
from runtime.migrations import bundled_migrations
from runtime.settings import Settings
from tests.helpers import event, free_port, new_id, trace, wait_for
from tests.integration.processes import (
    feedback_env,
    query_json,
    run_feedback,
    start_feedback,
    terminate,
)

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


def _keys(path: Path) -> dict[str, str]:
    return {k["kind"]: k["key"] for k in json.loads(path.read_text())["keys"]}


def test_up_then_query_through_the_collector_then_directly(tmp_path: Path, kafka_settings: Settings) -> None:
    port = free_port()
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=kafka_settings.kafka_bootstrap,
        FEEDBACK_HTTP_ADDR=f"127.0.0.1:{port}",
        FEEDBACK_TOPIC_PREFIX=f"cli-{new_id()}.",
    )
    process = start_feedback("up", env=env, cwd=tmp_path, log=tmp_path / "up.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _healthy(base), 90, what="feedback up serving")
        keys = _keys(tmp_path / ".data" / "keys.json")  # created by `up` with a dev tenant
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        sent = httpx.post(
            f"{base}/v1/traces",
            json=trace(trace_id, conversation, model_version="v-cli"),
            headers={"Authorization": f"Bearer {keys['secret']}"},
        )
        assert sent.status_code == 202, sent.text
        thumbs = event("thumbs", conversation_id=conversation, trace_id=trace_id)
        sent = httpx.post(f"{base}/v1/events", json=thumbs, headers={"Authorization": f"Bearer {keys['public']}"})
        assert sent.status_code == 202, sent.text

        sql = f"SELECT tenant_id, model_version, trace_joined FROM events WHERE event_id = '{thumbs['event_id']}'"
        running = wait_for(lambda: query_json(sql, env, tmp_path)["rows"], 30, what="row via the running collector")
        assert running == [["dev", "v-cli", True]]

        # a data engineer replays while the pipeline runs: it owns the engine, so it runs the replay
        count_sql = "SELECT count() FROM events"
        before = query_json(count_sql, env, tmp_path)["rows"]
        replayed = run_feedback("replay", "--topic", "traces,explicit", "--from", "0", env=env, cwd=tmp_path)
        assert replayed.returncode == 0, replayed.stderr
        assert "already stored" in replayed.stdout
        assert query_json(count_sql, env, tmp_path)["rows"] == before
        rebuilt = run_feedback(
            "replay", "--topic", "traces,explicit", "--from", "1h", "--database", "rebuilt", env=env, cwd=tmp_path
        )
        assert rebuilt.returncode == 0, rebuilt.stderr
        assert query_json("SELECT model_version FROM rebuilt.events", env, tmp_path)["rows"] == [["v-cli"]]
        # and rejoins: inside the pipeline too, under the worker's write locks
        rejoined = run_feedback("rejoin", env=env, cwd=tmp_path)
        assert rejoined.returncode == 0, rejoined.stderr
        assert rejoined.stdout.strip() == "rejoined 0 event(s)"
        bad = run_feedback("replay", "--topic", "explicit", "--from", "soon", env=env, cwd=tmp_path)
        assert bad.returncode == 1
        assert "--from: 'soon'" in bad.stderr
    finally:
        assert terminate(process) == 0, (tmp_path / "up.log").read_text()[-3000:]
    assert query_json(sql, env, tmp_path)["rows"] == running  # now straight from the engine
    table = run_feedback("query", sql, env=env, cwd=tmp_path)
    assert table.returncode == 0
    assert "v-cli" in table.stdout


def test_query_errors_are_clear(tmp_path: Path) -> None:
    env = feedback_env()
    fresh = run_feedback("query", "SELECT 1", env=env, cwd=tmp_path)
    assert fresh.returncode == 1
    assert "run `feedback migrate`" in fresh.stderr
    assert run_feedback("migrate", env=env, cwd=tmp_path).returncode == 0
    result = run_feedback("query", "SELECT nope FROM nowhere", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: sql: ")
    assert "nowhere" in result.stderr
    assert "Traceback" not in result.stderr


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    env = feedback_env()
    first = run_feedback("migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert f"applied {len(bundled_migrations())} migration(s)" in first.stdout
    again = run_feedback("migrate", env=env, cwd=tmp_path)
    assert again.stdout.strip() == "applied 0 migration(s)"
    tables = query_json("SELECT name FROM system.tables WHERE database = 'feedback'", env, tmp_path)["rows"]
    assert {"events", "traces", "ratings_current", "quality_hourly", "schema_migrations"} <= {t[0] for t in tables}


def test_local_broker_lifecycle(tmp_path: Path) -> None:
    port = free_port()
    env = feedback_env(FEEDBACK_KAFKA_LOCAL_PORT=str(port), FEEDBACK_KAFKA_DATA_DIR=str(tmp_path / "kafka"))
    try:
        started = run_feedback("kafka", "start", env=env, cwd=tmp_path)
        assert started.returncode == 0, started.stderr
        assert started.stdout.strip() == f"kafka started at 127.0.0.1:{port}"
        again = run_feedback("kafka", "start", env=env, cwd=tmp_path)
        assert again.stdout.strip() == f"kafka already running at 127.0.0.1:{port}"
        status = run_feedback("kafka", "status", env=env, cwd=tmp_path)
        assert status.returncode == 0
        assert "ready" in status.stdout
    finally:
        stopped = run_feedback("kafka", "stop", env=env, cwd=tmp_path)
    assert stopped.stdout.strip() == "kafka stopped"
    after = run_feedback("kafka", "status", env=env, cwd=tmp_path)
    assert after.returncode == 1
    assert run_feedback("kafka", "stop", env=env, cwd=tmp_path).stdout.strip() == "kafka was not running"


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_a_busy_embedded_engine_is_a_clear_error(tmp_path: Path) -> None:
    engine = (tmp_path / ".data" / "clickhouse").resolve()
    EngineOwner(pid=os.getpid(), http_addr=None).claim(engine)  # as if a pipeline (this process) held it
    for command in (("migrate",), ("rejoin",), ("query", "SELECT 1")):
        result = run_feedback(*command, env=feedback_env(), cwd=tmp_path)
        assert result.returncode == 1, command
        assert f"pid {os.getpid()}" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_quality_commands_on_a_fresh_machine(tmp_path: Path, kafka_settings: Settings) -> None:
    """derive, score fit and alerts check as users first run them: nothing to derive, a clear
    refusal to fit without labels, a check that finds nothing (each migrates first)."""
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=kafka_settings.kafka_bootstrap, FEEDBACK_TOPIC_PREFIX=f"cli-{new_id()}."
    )
    derived = run_feedback("derive", env=env, cwd=tmp_path)
    assert derived.returncode == 0, derived.stderr
    assert derived.stdout.strip() == "derived 0 rephrase and 0 abandon signal(s)"
    fitted = run_feedback("score", "fit", env=env, cwd=tmp_path)
    assert fitted.returncode == 1
    assert fitted.stderr.startswith("error: all tenants: 0 labelled response(s) (0 thumbs up, 0 down)")
    assert "FEEDBACK_SCORE_MIN_LABELLED" in fitted.stderr
    assert "Traceback" not in fitted.stderr
    checked = run_feedback("alerts", "check", "--window", "30m", env=env, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().endswith("0 regression(s), 0 new alert(s)")
