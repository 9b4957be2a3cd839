"""``GET /v1/stats/<view>``: the dashboard's numbers equal the SQL over the contract's tables, for
data posted through the real collector, Kafka and worker; an analyst sees its own tenant only."""

from __future__ import annotations

from typing import Any

import pytest

from quality.dashboard_stats import wilson_interval
from tests.conftest import KEYS
from tests.helpers import wait_for
from tests.integration.conftest import RunningPipeline
from tests.integration.dashboard_data import DashboardStory, post_story

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


@pytest.fixture(scope="module")
def story(_pipeline: RunningPipeline) -> DashboardStory:
    return post_story(_pipeline)


def stats(pipeline: RunningPipeline, view: str, key: str = "admin", **params: str) -> tuple[int, Any]:
    response = pipeline.http.get(f"/v1/stats/{view}", params=params, headers={"Authorization": f"Bearer {KEYS[key]}"})
    return response.status_code, response.json()


def ok(pipeline: RunningPipeline, view: str, key: str = "admin", **params: str) -> Any:
    status, body = stats(pipeline, view, key, **params)
    assert status == 200, body
    return body


def test_quality_equals_quality_hourly(pipeline: RunningPipeline, story: DashboardStory) -> None:
    body = ok(pipeline, "quality", feature=story.feature)
    expected = pipeline.rows(
        "SELECT toUnixTimestamp(hour), model_version, sum(thumbs_up), sum(thumbs_down), sum(ratings), "
        "sum(rating_sum), sum(responses) FROM quality_hourly WHERE feature = {f:String} "
        "AND hour >= toDateTime({start:UInt32}) AND hour < toDateTime({end:UInt32}) "
        "GROUP BY hour, model_version ORDER BY hour, model_version",
        f=story.feature,
        start=body["range"]["from"],
        end=body["range"]["to"],
    )
    shown = [
        (p["t"], s["model_version"], p["up"], p["down"], p["ratings"], p["rating_mean"], p["responses"])
        for s in body["series"]
        for p in s["points"]
    ]
    assert sorted(shown) == [(t, v, up, down, r, rs / r if r else None, n) for t, v, up, down, r, rs, n in expected]
    assert {s["model_version"] for s in body["series"]} == {"m-old", "m-new"}
    for point in (p for s in body["series"] for p in s["points"] if p["thumbs"]):
        assert point["down_rate"] == point["down"] / point["thumbs"]
        assert (point["low"], point["high"]) == pytest.approx(wilson_interval(point["down"], point["thumbs"]))
        assert point["low"] <= point["down_rate"] <= point["high"]
    markers = {(m["kind"], m["version"]) for m in body["markers"]}
    assert markers == {
        ("model_version", "m-old"),
        ("model_version", "m-new"),
        ("prompt_version", "p1"),
        ("prompt_version", "p2"),
    }


def test_reasons_count_current_opinions_per_version(pipeline: RunningPipeline, story: DashboardStory) -> None:
    body = ok(pipeline, "reasons", feature=story.feature)
    counted = {(v["version"], r["reason"]): r["opinions"] for v in body["versions"] for r in v["reasons"]}
    # user a's first "hallucinated" on response 1 was replaced by "useful": not a current opinion
    assert counted == {
        ("m-old", "hallucinated"): 1,
        ("m-old", "too_long"): 1,
        ("m-old", "useful"): 1,
        ("m-old", "correct"): 1,
        ("m-new", "incorrect"): 2,
    }
    by_prompt = ok(pipeline, "reasons", feature=story.feature, by="prompt_version")
    assert {v["version"] for v in by_prompt["versions"]} == {"p1", "p2"}
    thumbs = dict(
        pipeline.rows(
            "SELECT model_version, sum(thumbs_up + thumbs_down) FROM quality_hourly WHERE feature = {f:String} "
            "GROUP BY model_version",
            f=story.feature,
        )
    )
    for version in body["versions"]:
        assert version["up"] + version["down"] == thumbs[version["version"]]
        for reason in version["reasons"]:
            assert reason["share"] == reason["opinions"] / thumbs[version["version"]]


def test_signals_equal_quality_hourly(pipeline: RunningPipeline, story: DashboardStory) -> None:
    body = ok(pipeline, "signals", feature=story.feature)
    expected = pipeline.rows(
        "SELECT toUnixTimestamp(hour), sum(responses), sum(copies), sum(edits), sum(regenerates), sum(rephrases) "
        "FROM quality_hourly WHERE feature = {f:String} GROUP BY hour ORDER BY hour",
        f=story.feature,
    )
    names = ("t", "responses", "copies", "edits", "regenerates", "rephrases")
    shown = [tuple(p[name] for name in names) for p in body["points"]]
    assert shown == [tuple(row) for row in expected]
    assert sum(p["responses"] for p in body["points"]) == 3
    for point in body["points"]:
        assert point["copies_rate"] == point["copies"] / point["responses"]


def test_filters_narrow_every_view(pipeline: RunningPipeline, story: DashboardStory) -> None:
    menus = ok(pipeline, "filters")["values"]
    assert story.feature in menus["feature"]
    assert "acme" in menus["tenant"]
    assert {"m-old", "m-new"} <= set(menus["model_version"])
    only_new = ok(pipeline, "quality", feature=story.feature, model_version="m-new")
    assert [s["model_version"] for s in only_new["series"]] == ["m-new"]
    old_prompt = ok(pipeline, "signals", feature=story.feature, prompt_version="p1")
    assert sum(p["responses"] for p in old_prompt["points"]) == 2
    nobody = ok(pipeline, "quality", feature=story.feature, tenant="globex")
    assert nobody["series"] == []
    day = ok(pipeline, "quality", feature=story.feature, bucket="day", **{"from": "7d"})
    assert day["range"]["bucket"] == "day"
    assert sum(p["down"] for s in day["series"] for p in s["points"]) == sum(
        p["down"] for s in ok(pipeline, "quality", feature=story.feature)["series"] for p in s["points"]
    )


def test_worst_responses_first_with_trace_and_signals(pipeline: RunningPipeline, story: DashboardStory) -> None:
    body = ok(pipeline, "responses", feature=story.feature)
    listed = body["responses"]
    assert [r["message_id"] for r in listed] == [story.responses[n]["message_id"] for n in ("r3", "r1", "r2")]
    worst = listed[0]
    assert (worst["downs"], worst["low_ratings"], worst["regenerates"], worst["rephrases"], worst["edits"]) == (
        2,
        1,
        2,
        1,
        1,
    )
    assert worst["trace"]["model_version"] == "m-new"
    assert worst["trace"]["output_text"].startswith("Answer r3")
    r1 = listed[1]
    assert set(r1["reasons"]) == {"hallucinated", "too_long", "useful"}
    assert r1["comments"] == ["It invented a refund policy."]
    expected = pipeline.rows(
        "SELECT message_id, countIf(thumb = 'down'), countIf(thumb = 'up') FROM ratings_current "
        "WHERE message_id IN {ids:Array(String)} GROUP BY message_id",
        ids=[r["message_id"] for r in listed],
    )
    assert {(r["message_id"], r["downs"], r["ups"]) for r in listed} == set(expected)

    r1_ids = story.responses["r1"]
    with_trace = ok(pipeline, "response", message_id=r1_ids["message_id"], trace_id=r1_ids["trace_id"], tenant="acme")
    detail = ok(pipeline, "response", message_id=r1_ids["message_id"])
    assert with_trace["events"] == detail["events"]
    assert [e["type"] for e in detail["events"]] == ["thumbs", "thumbs", "regenerate", "copy", "thumbs"]
    assert [e["current"] for e in detail["events"] if e["type"] == "thumbs"] == [False, True, True]
    assert detail["opinions"]["ups"] == 1
    assert detail["opinions"]["downs"] == 1
    assert detail["traces"][0]["input_text"].startswith("Question for r1")


def test_analyst_sees_its_tenant_only(pipeline: RunningPipeline, story: DashboardStory) -> None:
    admin = ok(pipeline, "quality", feature=story.feature)
    assert ok(pipeline, "quality", key="analyst", feature=story.feature)["series"] == admin["series"]
    assert ok(pipeline, "quality", key="other_analyst", feature=story.feature)["series"] == []
    assert ok(pipeline, "responses", key="other_analyst", feature=story.feature)["responses"] == []
    assert ok(pipeline, "filters", key="other_analyst")["values"]["tenant"] == ["globex"]
    status, body = stats(pipeline, "quality", key="analyst", tenant="globex")
    assert status == 403
    assert "tenant" in body["error"]


def test_keys_and_parameters_are_checked(pipeline: RunningPipeline, story: DashboardStory) -> None:
    assert stats(pipeline, "quality", key="public")[0] == 403
    assert stats(pipeline, "quality", key="secret")[0] == 403
    assert pipeline.http.get("/v1/stats/quality").status_code == 401
    status, body = stats(pipeline, "quality", **{"from": "yesterday"})
    assert status == 400
    assert body["error"].startswith("from:")
    status, body = stats(pipeline, "responses", limit="100000")
    assert status == 400
    assert body["error"].startswith("limit:")
    assert stats(pipeline, "nonsense")[0] == 404
    status, body = stats(pipeline, "response")
    assert status == 400
    assert body["error"].startswith("message_id:")


def test_health_counts_events_per_minute_and_reads_kafka(pipeline: RunningPipeline, story: DashboardStory) -> None:
    def agrees() -> Any:
        body = ok(pipeline, "health", tenant="acme")
        expected = pipeline.rows(
            "SELECT count() FROM events WHERE tenant_id = 'acme' "
            "AND received_at >= toStartOfMinute(now()) - INTERVAL 60 MINUTE"
        )[0][0]
        return body if sum(p["events"] for p in body["events_per_minute"]) == expected else None

    body = wait_for(agrees, 30, what="events per minute equal to SQL")
    assert body["newest_event_ms"] is not None
    kafka = body["kafka"]
    assert "error" not in kafka, kafka
    assert kafka["lag_messages"] >= 0
    assert kafka["dlq_messages"] >= 0
    alerts = ok(pipeline, "alerts")
    assert alerts["available"] is True  # the alerts table exists (issue 15's migrations)
    rows = pipeline.rows("SELECT count() FROM alerts WHERE tenant_id = 'acme'")
    assert len(alerts["alerts"]) <= rows[0][0]
