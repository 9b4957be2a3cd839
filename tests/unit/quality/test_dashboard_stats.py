"""The dashboard's figures without an engine: parameters, Wilson intervals, SQL shapes, JSON shapes."""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.query import QueryResult

from quality import stats_queries as q
from quality.dashboard_stats import Stats, StatsRequestError, parse_filters, wilson_interval
from runtime.readonly_query import ADMIN, ReadScope

NOW = datetime(2026, 11, 29, 14, 25, tzinfo=UTC)


def test_wilson_interval_matches_the_textbook() -> None:
    assert wilson_interval(0, 0) is None
    interval = wilson_interval(0, 10)
    assert interval is not None
    low, high = interval
    assert low == 0.0
    assert high == pytest.approx(0.2775, abs=1e-4)
    interval = wilson_interval(5, 10)
    assert interval is not None
    low, high = interval
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    interval = wilson_interval(10, 10)
    assert interval is not None
    low, high = interval
    assert high == pytest.approx(1.0)
    assert low == pytest.approx(0.7225, abs=1e-4)


def test_default_range_is_the_last_24_hours_in_whole_hours() -> None:
    f = parse_filters({}, ADMIN, NOW)
    assert (f.start, f.end) == (datetime(2026, 11, 28, 14), datetime(2026, 11, 29, 15))
    assert f.bucket == "hour"
    assert f.tenant is None
    assert f.dimensions == {}


@pytest.mark.parametrize(
    ("params", "start", "end", "bucket"),
    [
        ({"from": "7d"}, datetime(2026, 11, 22, 14), datetime(2026, 11, 29, 15), "day"),
        (
            {"from": "2026-11-01T00:00:00Z", "to": "2026-11-02T10:30:00+02:00"},
            datetime(2026, 11, 1),
            datetime(2026, 11, 2, 9),
            "hour",
        ),
        ({"from": "1795910400000", "to": "now"}, datetime(2026, 11, 29, 0), datetime(2026, 11, 29, 15), "hour"),
        ({"from": "200d"}, datetime(2026, 5, 13, 14), datetime(2026, 11, 29, 15), "week"),
        ({"from": "2d", "bucket": "day"}, datetime(2026, 11, 27, 14), datetime(2026, 11, 29, 15), "day"),
    ],
)
def test_ranges(params: dict[str, str], start: datetime, end: datetime, bucket: str) -> None:
    f = parse_filters(params, ADMIN, NOW)
    assert (f.start, f.end, f.bucket) == (start, end, bucket)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "yesterday"}, "from:"),
        ({"to": "2026-13-01"}, "to:"),
        ({"from": "900d"}, "from:"),
        ({"bucket": "minute"}, "bucket:"),
        ({"feature": "x" * 300}, "feature:"),
    ],
)
def test_bad_parameters_name_their_field(params: dict[str, str], field: str) -> None:
    with pytest.raises(StatsRequestError, match=rf"^{field}"):
        parse_filters(params, ADMIN, NOW)


def test_an_analyst_always_sees_its_own_tenant() -> None:
    assert parse_filters({"tenant": "globex"}, ReadScope("acme"), NOW).tenant == "acme"
    assert parse_filters({"tenant": "globex"}, ADMIN, NOW).tenant == "globex"
    assert parse_filters({"tenant": ""}, ADMIN, NOW).tenant is None


def test_dimension_filters_absent_means_all_and_empty_means_none_reported() -> None:
    f = parse_filters({"feature": "chat", "model_version": ""}, ADMIN, NOW)
    assert f.dimensions == {"feature": "chat", "model_version": ""}
    where = f.where("hour")
    assert "feature = {feature:String}" in where
    assert "model_version = {model_version:String}" in where
    assert "prompt_version" not in where
    assert "ifNull(feature, '') = {feature:String}" in f.where("ts", nullable=True)
    assert "model_version" not in f.where("hour", versions=False)


def test_every_query_is_parameterised_never_formatted_with_values() -> None:
    hostile = "x' OR 1=1 --"
    f = parse_filters({"feature": hostile, "tenant": hostile, "model_version": hostile}, ADMIN, NOW)
    queries = [
        q.quality_series(f),
        q.score_series(f),
        q.first_appearances(f),
        q.reasons_by_version(f, "model_version", "reasons_hourly"),
        q.reasons_by_version(f, "prompt_version", "events"),
        q.thumbs_by_version(f, "model_version"),
        q.signal_series(f),
        q.filter_values(f),
        q.alerts(f),
        q.worst_pool(f, 40),
        q.worst_candidates(f, 40),
        q.listed_signals(f, [hostile]),
        q.current_opinions([(hostile, hostile)]),
        q.traces_of([hostile], hostile, 100),
        q.response_events(hostile, hostile, "event_id", hostile),
        q.events_per_minute(hostile, 60),
    ]
    for query in queries:
        assert hostile not in query.sql
        assert hostile in str(query.parameters.values())


def test_reasons_only_by_a_version_column() -> None:
    f = parse_filters({}, ADMIN, NOW)
    with pytest.raises(ValueError, match=r"^by:"):
        q.reasons_by_version(f, "tenant_id; DROP", "events")


class FakeResult(QueryResult):
    def __init__(self, rows: list[dict[str, Any]]) -> None:
        super().__init__()
        self.rows = rows

    def named_results(self) -> Generator[dict[str, Any], None, None]:
        yield from self.rows

    @property
    def result_rows(self) -> list[tuple[Any, ...]]:
        return [tuple(row.values()) for row in self.rows]


class FakeEngine:
    """Answers by the table a query reads; records the scope of every query."""

    def __init__(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        self.tables = tables
        self.scopes: list[ReadScope] = []

    def __call__(self, sql: str, parameters: dict[str, Any], scope: ReadScope) -> FakeResult:
        self.scopes.append(scope)
        if "system.columns" in sql:
            return FakeResult([{"table": name, "name": "tenant_id"} for name in self.tables])
        for name, rows in self.tables.items():
            if f"FROM {name}" in sql or name in sql:
                return FakeResult(rows)
        return FakeResult([])


def test_quality_view_adds_rates_intervals_and_totals() -> None:
    engine = FakeEngine(
        {
            "quality_hourly": [
                {"t": 3600, "model_version": "a", "up": 3, "down": 1, "ratings": 2, "rating_sum": 7, "responses": 5},
                {"t": 7200, "model_version": "a", "up": 0, "down": 0, "ratings": 0, "rating_sum": 0, "responses": 2},
            ]
        }
    )
    body = Stats(engine).quality({}, ReadScope("acme"))
    first, second = body["series"][0]["points"]
    assert first["down_rate"] == 0.25
    assert (first["low"], first["high"]) == pytest.approx(wilson_interval(1, 4))
    assert first["rating_mean"] == 3.5
    assert second["down_rate"] is None
    assert second["low"] is None
    assert body["totals"] == [
        {
            "model_version": "a",
            "up": 3,
            "down": 1,
            "thumbs": 4,
            "down_rate": 0.25,
            "low": first["low"],
            "high": first["high"],
            "ratings": 2,
            "rating_mean": 3.5,
            "responses": 7,
        }
    ]
    assert body["has_scores"] is False
    # the figures run on the analyst's scope; only the catalog lookup is the operator's
    assert set(engine.scopes) == {ReadScope("acme"), ADMIN}


def test_unknown_views_answer_none_and_optional_tables_degrade() -> None:
    stats = Stats(FakeEngine({"quality_hourly": [], "max(received_at)": [{"newest": 0, "events": 0}]}))
    assert stats.view("nope", {}, ADMIN) is None
    alerts = stats.view("alerts", {}, ADMIN)
    assert alerts is not None
    assert alerts["available"] is False
    reasons = stats.view("reasons", {}, ADMIN)
    assert reasons is not None
    assert reasons["source"] == "events"
    health = stats.view("health", {}, ADMIN)
    assert health is not None
    assert health["kafka"] == {"error": "no Kafka probe configured"}


def test_the_worst_list_names_its_expressions_as_the_projection_does() -> None:
    """ClickHouse answers the worst-first list from the ``responses_hourly_events`` projection only
    when each expression is spelled as there (else it reads every event, with the same result)."""
    projection = (Path(__file__).resolve().parents[3] / "sql" / "0080_responses_hourly.sql").read_text()
    for expression in (q.NEGATIVE, q.THUMB_UP, q.RESPONSE_KEY, q.RESPONSE_ID, "anyIf(trace_id, trace_id IS NOT NULL)"):
        assert expression in projection, expression
    for kind in q.SIGNAL_COUNTS:
        assert f"sum(sign * (type = '{kind}'))" in projection, kind
    f = parse_filters({"feature": "x"}, ADMIN, NOW)
    for query in (q.worst_pool(f, 40), q.worst_candidates(f, 40)):
        assert "toStartOfHour(ts) >= " in query.sql
        assert " ts >= " not in query.sql
    # what the list shows of its pool is read from events_log's rows, by message whatever the trace
    shown = q.listed_signals(f, ["m"]).sql
    assert "message_id IN {messages:Array(String)}" in shown
    assert "trace_id" not in shown
    assert " ts >= " in shown


def test_the_worst_list_ranks_every_response_when_fewer_than_its_pool_have_negatives() -> None:
    asked: list[str] = []
    signals = {"copies": 2, "edits": 0, "regenerates": 1, "rephrases": 0, "dwells": 0, "abandons": 0}

    def select(sql: str, parameters: dict[str, Any], scope: ReadScope) -> FakeResult:
        if "retries" in sql:  # worst_candidates: every response of the range ranked
            asked.append("candidates")
            return FakeResult([{"tenant_id": "a", "message_id": m, "trace_id": t} for m, t in PICKED])
        if "max(ts) AS latest" in sql:  # worst_pool: one response has a negative signal
            asked.append("pool")
            return FakeResult([{"tenant_id": "a", "message_id": "m1", "trace_id": "t1"}])
        if "groupUniqArrayArrayIf" in sql:  # listed_signals
            row = {"tenant_id": "a", "message_id": "m1", **signals, "first_signal": 5, "last_signal": 9}
            return FakeResult([{**row, "reasons": ["slow", "hallucinated"], "comments": ["meh"]}])
        if "FROM ratings_current" in sql:
            opinion = {"downs": 1, "ups": 0, "ratings": 1, "rating_sum": 2, "low_ratings": 1}
            return FakeResult([{"tenant_id": "a", "message_id": "m3", **opinion}])
        return FakeResult([])

    body = Stats(select).responses({"limit": "5"}, ADMIN)
    assert asked == ["pool", "candidates"]
    listed = body["responses"]
    # m3: current down and low rating first; m1: a regenerate; m2: nothing
    assert [row["message_id"] for row in listed] == ["m3", "m1", "m2"]
    assert (listed[1]["copies"], listed[1]["reasons"], listed[1]["comments"]) == (2, ["hallucinated", "slow"], ["meh"])
    assert (listed[0]["copies"], listed[0]["downs"], listed[0]["rating_mean"]) == (0, 1, 2.0)
    assert listed[0]["comments"] == listed[2]["comments"] == []
    assert listed[0]["comments"] is not listed[2]["comments"]  # no list shared between rows
    assert listed[2]["trace"] is None


PICKED = [("m1", "t1"), ("m2", None), ("m3", "t3")]
