"""The dashboard in a real browser (Debian Chromium): sign in, change filters, click a chart and a
reason, open a response, look at it on a phone; no console errors; the figures on the page equal
ClickHouse's. Screenshots go to sdk/e2e/.artifacts/dashboard/ (ignored by git)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import KEYS
from tests.integration.conftest import RunningPipeline
from tests.integration.dashboard_data import post_story

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]

SDK = Path(__file__).resolve().parents[2] / "sdk"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = SDK / "e2e" / ".artifacts" / "dashboard"


@pytest.fixture(scope="module")
def built_dashboard() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make tools installs Debian's chromium)")
    if not (SDK / "node_modules" / "uplot").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=SDK, check=True, capture_output=True)
    if not (SDK / "dist" / "dashboard" / "dashboard.js").exists():
        subprocess.run(["npm", "run", "build"], cwd=SDK, check=True, capture_output=True)
    return SDK


def test_dashboard_in_chromium_shows_what_clickhouse_holds(built_dashboard: Path, pipeline: RunningPipeline) -> None:
    story = post_story(pipeline)
    result = subprocess.run(
        ["node", str(built_dashboard / "e2e" / "dashboard.mjs")],
        env={
            **os.environ,
            "FEEDBACK_URL": f"http://{pipeline.settings.http_addr}",
            "FEEDBACK_ADMIN_KEY": KEYS["admin"],
            "FEEDBACK_ANALYST_KEY": KEYS["analyst"],
            "FEEDBACK_FEATURE": story.feature,
            "FEEDBACK_ARTIFACTS": str(ARTIFACTS),
            "CHROMIUM_PATH": CHROMIUM,
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    page = json.loads(result.stdout.strip().splitlines()[-1])
    assert page["consoleErrors"] == []
    for path in page["screenshots"]:
        assert Path(path).stat().st_size > 10_000, path

    # signed in: the key is in sessionStorage, never in the address
    assert KEYS["admin"] not in page["afterSignIn"]["url"]
    assert page["afterSignIn"]["stored"]
    assert page["tenantShownToAdmin"]
    assert KEYS["analyst"] not in page["analyst"]["url"]
    assert "tenant acme" in page["analyst"]["who"]
    assert not page["analyst"]["tenantShown"]
    assert page["storedAfterSignOut"] is None

    figures = page["figures"]
    expected = pipeline.rows(
        "SELECT model_version, sum(thumbs_up), sum(thumbs_down) FROM quality_hourly WHERE feature = {f:String} "
        "GROUP BY model_version ORDER BY model_version",
        f=story.feature,
    )
    assert sorted((row["version"], row["up"], row["down"]) for row in figures["quality"]) == sorted(expected)
    shown_reasons = {(c["version"], c["reason"]): c["opinions"] for c in figures["reasons"] if c["opinions"]}
    assert shown_reasons == {
        ("m-old", "hallucinated"): 1,
        ("m-old", "too_long"): 1,
        ("m-old", "useful"): 1,
        ("m-old", "correct"): 1,
        ("m-new", "incorrect"): 2,
    }
    signals = pipeline.rows(
        "SELECT toUnixTimestamp(hour), sum(responses), sum(copies) FROM quality_hourly WHERE feature = {f:String} "
        "GROUP BY hour ORDER BY hour",
        f=story.feature,
    )
    assert [(s["t"], s["responses"], s["copies"]) for s in figures["signals"]] == [tuple(r) for r in signals]
    listed = figures["responses"]
    assert [r["message_id"] for r in listed] == [story.responses[n]["message_id"] for n in ("r3", "r1", "r2")]
    opinions = pipeline.rows(
        "SELECT message_id, countIf(thumb = 'down'), countIf(thumb = 'up') FROM ratings_current "
        "WHERE message_id IN {ids:Array(String)} GROUP BY message_id",
        ids=[r["message_id"] for r in listed],
    )
    assert {(r["message_id"], r["downs"], r["ups"]) for r in listed} == set(opinions)
    assert figures["health"]["lag"] not in ("", "–")

    # filters and clicks
    assert page["onlyNew"] == ["m-new"]
    assert "model_version=m-new" in page["urlWithFilters"]
    assert KEYS["admin"] not in page["urlWithFilters"]
    assert "UTC" in page["chartScope"]
    assert "m-old" in page["reasonScope"]
    assert set(page["oldOnly"]) == {story.responses["r1"]["message_id"], story.responses["r2"]["message_id"]}
    # the worst response opened: its input, output and signals
    assert "Question for r3" in page["detail"]
    assert "Answer r3" in page["detail"]
    assert "regenerated" in page["detail"]
    assert page["focusBack"]
    # readable on a phone: nothing wider than the screen
    assert page["overflow"] <= 0, result.stderr[-3000:]
    assert page["noEmoji"]
