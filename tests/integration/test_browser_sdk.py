"""The browser SDK end to end: headless Chromium clicks 👎, picks a reason, copies text and closes
the page; exactly those events must reach ClickHouse through the real collector and Kafka."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEYS
from tests.helpers import new_id
from tests.integration.conftest import RunningPipeline

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

SDK = Path(__file__).resolve().parents[2] / "sdk"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def built_sdk() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make tools installs Debian's chromium)")
    if not (SDK / "node_modules" / "playwright-core").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SDK, check=True, capture_output=True)
    if not (SDK / "dist" / "feedback.js").exists():
        subprocess.run(["npm", "run", "build"], cwd=SDK, check=True, capture_output=True)
    return SDK


def test_widget_clicks_reach_clickhouse_exactly_once(built_sdk: Path, pipeline: RunningPipeline) -> None:
    conversation = new_id("e2e-conv-")
    result = subprocess.run(
        ["node", str(built_sdk / "e2e" / "run.mjs")],
        env={
            **os.environ,
            "FEEDBACK_URL": f"http://{pipeline.settings.http_addr}",
            "FEEDBACK_PUBLIC_KEY": KEYS["public"],
            "FEEDBACK_CONVERSATION": conversation,
            "CHROMIUM_PATH": CHROMIUM,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["conversation_id"] == conversation

    expected = report["expected"]
    rows = pipeline.wait_rows(
        "SELECT type, thumb, reasons, trace_id, message_id FROM events "
        "WHERE conversation_id = {c:String} AND type IN ('thumbs', 'copy') ORDER BY type DESC",
        len(expected),
        c=conversation,
    )
    assert rows == [
        ("thumbs", "down", ["hallucinated"], report["trace_id"], report["message_id"]),
        ("copy", None, [], report["trace_id"], report["message_id"]),
    ]
    other = pipeline.rows(
        "SELECT type FROM events WHERE conversation_id = {c:String} AND type NOT IN ('thumbs', 'copy')",
        c=conversation,
    )
    assert {row[0] for row in other} <= set(report.get("may_also_include", []))
