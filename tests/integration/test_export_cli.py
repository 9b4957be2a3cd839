"""``feedback export`` as users run it: through a running ``feedback up`` (which owns the embedded
engine), then straight from the engine once it stops — the same bytes either way."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import orjson
import pytest

from runtime.settings import Settings
from tests.helpers import event, free_port, new_id, trace, wait_for
from tests.integration.processes import feedback_env, query_json, run_feedback, start_feedback, terminate

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

KEYS = {"public": "pk_cli_dev", "secret": "sk_cli_dev", "admin": "ak_cli_admin", "analyst": "nk_cli_dev"}


def _keys_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = [
        {"key": value, "kind": kind, **({"tenant": "dev"} if kind != "admin" else {})} for kind, value in KEYS.items()
    ]
    path.write_text(json.dumps({"keys": keys}))


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_export_through_the_running_pipeline_then_directly(tmp_path: Path, kafka_settings: Settings) -> None:
    _keys_file(tmp_path / ".data" / "keys.json")
    port = free_port()
    env = feedback_env(
        FEEDBACK_KAFKA_BOOTSTRAP=kafka_settings.kafka_bootstrap,
        FEEDBACK_HTTP_ADDR=f"127.0.0.1:{port}",
        FEEDBACK_TOPIC_PREFIX=f"export-{new_id()}.",
    )
    fresh = run_feedback("export", "eval", env=env, cwd=tmp_path)
    assert fresh.returncode == 1
    assert "run `feedback migrate`" in fresh.stderr
    process = start_feedback("up", env=env, cwd=tmp_path, log=tmp_path / "up.log")
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ready(base), 90, what="feedback up serving")
        conversation, trace_id = new_id("conv-"), new_id("trace-")
        body = trace(trace_id, conversation, input_text="what is 2+2?", output_text="5")
        sent = httpx.post(f"{base}/v1/traces", json=body, headers={"Authorization": f"Bearer {KEYS['secret']}"})
        assert sent.status_code == 202, sent.text
        down = event("thumbs", conversation_id=conversation, trace_id=trace_id)
        sent = httpx.post(f"{base}/v1/events", json=down, headers={"Authorization": f"Bearer {KEYS['public']}"})
        assert sent.status_code == 202, sent.text
        wait_for(lambda: query_json("SELECT 1 FROM events", env, tmp_path)["rows"], 30, what="the event stored")

        running = run_feedback("export", "eval", "--out", "eval.jsonl", env=env, cwd=tmp_path)
        assert running.returncode == 0, running.stderr
        assert running.stderr.strip() == "eval: wrote 1 row(s) from 1 response(s) with feedback"
        (row,) = [orjson.loads(line) for line in (tmp_path / "eval.jsonl").read_bytes().splitlines()]
        assert (row["input"], row["output"], row["labels"]["thumb"]) == ("what is 2+2?", "5", "down")
        manifest = json.loads((tmp_path / "eval.jsonl.manifest.json").read_text())
        assert (manifest["kind"], manifest["rows"], manifest["format"]) == ("eval", 1, "jsonl")

        as_analyst = run_feedback("export", "eval", "--key", KEYS["analyst"], env=env, cwd=tmp_path)
        assert as_analyst.returncode == 0, as_analyst.stderr
        assert as_analyst.stdout.encode() == (tmp_path / "eval.jsonl").read_bytes()
        refused = run_feedback("export", "eval", "--key", KEYS["analyst"], "--tenant", "acme", env=env, cwd=tmp_path)
        assert refused.returncode == 1
        assert (
            refused.stderr.strip() == "error: tenant: an analyst key of tenant 'dev' may only export 'dev', not 'acme'"
        )
        public = run_feedback("export", "eval", "--key", KEYS["public"], env=env, cwd=tmp_path)
        assert public.returncode == 1
        assert "needs an admin or analyst key" in public.stderr
        bad = run_feedback("export", "eval", "--since", "soon", env=env, cwd=tmp_path)
        assert bad.returncode == 2
        assert "--since: 'soon'" in bad.stderr
    finally:
        assert terminate(process) == 0, (tmp_path / "up.log").read_text()[-3000:]
    direct = run_feedback("export", "eval", env=env, cwd=tmp_path)
    assert direct.returncode == 0, direct.stderr
    assert direct.stdout.encode() == (tmp_path / "eval.jsonl").read_bytes()
    parquet = run_feedback("export", "dpo", "--format", "parquet", "--out", "dpo.parquet", env=env, cwd=tmp_path)
    assert parquet.returncode == 0, parquet.stderr
    assert (tmp_path / "dpo.parquet.manifest.json").exists()
