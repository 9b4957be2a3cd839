"""The dashboard's figures (``GET /v1/stats/<view>``): filters parsed from a request's parameters,
the SQL of ``quality.stats_queries`` run on the caller's read-only session, shaped as JSON.

The collector serves these views (docs/contract.md §3) through an injected ``Stats``; everything
that knows tables and columns lives here, so the HTTP side stays free of SQL.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse_connect.driver.query import QueryResult

from quality import stats_queries as q
from runtime.readonly_query import ADMIN, ReadScope

Select = Callable[[str, dict[str, Any], ReadScope], QueryResult]
HealthProbe = Callable[[], dict[str, Any]]

DEFAULT_RANGE = timedelta(hours=24)
MAX_RANGE = timedelta(days=400)
MAX_LIST = 200
Z_95 = 1.959963984540054  # two-sided 95% normal quantile, for the Wilson interval
TEXT_PREVIEW_CHARS = 400
CATALOG_TTL_S = 30.0
# A listed response without current opinions.
NO_OPINIONS: dict[str, Any] = {"downs": 0, "ups": 0, "ratings": 0, "rating_sum": 0, "low_ratings": 0}


def _no_signals() -> dict[str, Any]:
    """A listed response without signal events in the range (all cancelled since)."""
    counts = dict.fromkeys(q.SIGNAL_COUNTS.values(), 0)
    return {**counts, "first_signal": 0, "last_signal": 0, "reasons": [], "comments": []}


class StatsRequestError(ValueError):
    """A parameter the stats API cannot use; the message is ``field: reason``."""


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (``None`` without trials): unlike the normal
    approximation it stays inside [0, 1] and is honest about small counts."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    denominator = 1 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def parse_time(value: str, field: str, now: datetime, relative_to: datetime) -> datetime:
    """ISO 8601 (a naive time is UTC), epoch milliseconds, or ``now`` / ``<n>h`` / ``<n>d``
    before ``relative_to``."""
    text = value.strip()
    if text == "now":
        return now
    if text[:-1].isdigit() and text[-1:] in ("h", "d"):
        amount = int(text[:-1])
        return relative_to - (timedelta(hours=amount) if text[-1] == "h" else timedelta(days=amount))
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise StatsRequestError(
            f"{field}: expected an ISO 8601 time, epoch milliseconds, 'now' or a span like 24h or 7d"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _hour_floor(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _hour_ceil(moment: datetime) -> datetime:
    floor = _hour_floor(moment)
    return floor if floor == moment else floor + timedelta(hours=1)


def parse_filters(params: Mapping[str, str], scope: ReadScope, now: datetime | None = None) -> q.Filters:
    """Filters from query parameters: ``from``/``to`` (default the last 24 hours, widened to whole
    hours), ``tenant`` (an admin's choice; an analyst always sees its own), ``feature``,
    ``model_version``, ``prompt_version`` (absent = every value, empty = none reported) and
    ``bucket`` (``hour``, ``day``, ``week``; by default from the range's length)."""
    now = now or datetime.now(UTC)
    end = parse_time(params["to"], "to", now, now) if params.get("to") else now
    start = parse_time(params["from"], "from", now, end) if params.get("from") else end - DEFAULT_RANGE
    start, end = _hour_floor(start), _hour_ceil(end)
    if end <= start:
        end = start + timedelta(hours=1)
    if end - start > MAX_RANGE:
        raise StatsRequestError(f"from: the range may span at most {MAX_RANGE.days} days")
    bucket = params.get("bucket") or ("hour" if end - start <= timedelta(days=3) else "day")
    if end - start > timedelta(days=120) and not params.get("bucket"):
        bucket = "week"
    if bucket not in q.BUCKETS:
        raise StatsRequestError(f"bucket: one of {', '.join(q.BUCKETS)}")
    tenant = scope.tenant if scope.tenant is not None else (params.get("tenant") or None)
    dimensions = {name: params[name] for name in q.DIMENSIONS if name in params}
    for name, value in dimensions.items():
        if len(value) > 256:
            raise StatsRequestError(f"{name}: at most 256 characters")
    return q.Filters(start.replace(tzinfo=None), end.replace(tzinfo=None), tenant, dimensions, bucket)  # type: ignore[arg-type]


def _int_param(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise StatsRequestError(f"{name}: an integer from {low} to {high}")
    return int(raw)


def _epoch(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _totals(version: str, points: list[dict[str, Any]]) -> dict[str, Any]:
    """A version's figures over the whole range (the summary table beside the chart)."""
    up, down = sum(p["up"] for p in points), sum(p["down"] for p in points)
    ratings = sum(p["ratings"] for p in points)
    rating_sum = sum(p["rating_sum"] for p in points)
    interval = wilson_interval(down, up + down)
    return {
        "model_version": version,
        "up": up,
        "down": down,
        "thumbs": up + down,
        "down_rate": _ratio(down, up + down),
        "low": interval[0] if interval else None,
        "high": interval[1] if interval else None,
        "ratings": ratings,
        "rating_mean": _ratio(rating_sum, ratings),
        "responses": sum(p["responses"] for p in points),
    }


class Catalog:
    """Which optional tables the database has (they arrive with later migrations), looked up at
    most every ``CATALOG_TTL_S`` seconds."""

    def __init__(self, select: Select) -> None:
        self._select = select
        self._lock = threading.Lock()
        self._checked = -math.inf
        self._tables: frozenset[str] = frozenset()
        self._ratings_columns: frozenset[str] = frozenset()

    def _refresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._checked < CATALOG_TTL_S:
                return
            rows = self._select(
                "SELECT table, name FROM system.columns WHERE database = currentDatabase()", {}, ADMIN
            ).result_rows
            self._tables = frozenset(str(table) for table, _ in rows)
            self._ratings_columns = frozenset(str(name) for table, name in rows if table == "ratings_current")
            self._checked = time.monotonic()

    def has(self, table: str) -> bool:
        self._refresh()
        return table in self._tables

    def current_opinion_ids(self) -> str:
        """ratings_current's event ids of current opinions: one ``event_id`` per rater, or (one row
        per rater with thumb and rating apart) ``thumb_event_id`` and ``rating_event_id``."""
        self._refresh()
        if "event_id" in self._ratings_columns:
            return "event_id"
        return "arrayJoin([thumb_event_id, rating_event_id])"


class Stats:
    """Every view of the dashboard; ``view(name, params, scope)`` answers one request."""

    def __init__(self, select: Select, health: HealthProbe | None = None) -> None:
        self._select = select
        self._health = health
        self.catalog = Catalog(select)
        self.views: dict[str, Callable[[Mapping[str, str], ReadScope], dict[str, Any]]] = {
            "filters": self.filters,
            "quality": self.quality,
            "reasons": self.reasons,
            "signals": self.signals,
            "alerts": self.alerts,
            "health": self.health,
            "responses": self.responses,
            "response": self.response,
        }

    def view(self, name: str, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any] | None:
        """The view's JSON, or ``None`` for an unknown view."""
        handler = self.views.get(name)
        return None if handler is None else handler(params, scope)

    def _rows(self, query: q.Query, scope: ReadScope) -> list[dict[str, Any]]:
        return list(self._select(query.sql, query.parameters, scope).named_results())

    @staticmethod
    def _range(f: q.Filters) -> dict[str, Any]:
        return {
            "from": _epoch(f.start),
            "to": _epoch(f.end),
            "bucket": f.bucket,
            "tenant": f.tenant,
            "dimensions": f.dimensions,
        }

    # -- views --------------------------------------------------------------------------------

    def filters(self, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any]:
        f = parse_filters(params, scope)
        values: dict[str, list[str]] = {"tenant": [], **{name: [] for name in q.DIMENSIONS}}
        for row in self._rows(q.filter_values(f), scope):
            values[row["name"]].append(row["value"])
        if scope.tenant is not None:
            values["tenant"] = [scope.tenant]
        return {"range": self._range(f), "values": values, "kind": scope.kind}

    def quality(self, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any]:
        f = parse_filters(params, scope)
        series: dict[str, list[dict[str, Any]]] = {}
        for row in self._rows(q.quality_series(f), scope):
            thumbs = row["up"] + row["down"]
            interval = wilson_interval(row["down"], thumbs)
            series.setdefault(row["model_version"], []).append(
                {
                    "t": row["t"],
                    "up": row["up"],
                    "down": row["down"],
                    "thumbs": thumbs,
                    "down_rate": _ratio(row["down"], thumbs),
                    "low": interval[0] if interval else None,
                    "high": interval[1] if interval else None,
                    "ratings": row["ratings"],
                    "rating_sum": row["rating_sum"],
                    "rating_mean": _ratio(row["rating_sum"], row["ratings"]),
                    "responses": row["responses"],
                    "mean_score": None,
                }
            )
        has_scores = self.catalog.has("quality_scores_hourly")
        # Before any fit every score is NULL: skip the score series, which regroups every response's
        # signals (response_signals) and so grows with the whole history.
        if has_scores and self._select(*q.any_score_model(), scope).result_rows[0][0]:
            scores = {(r["t"], r["model_version"]): r["mean_score"] for r in self._rows(q.score_series(f), scope)}
            for version, points in series.items():
                for point in points:
                    point["mean_score"] = scores.get((point["t"], version))
        return {
            "range": self._range(f),
            "series": [{"model_version": version, "points": points} for version, points in series.items()],
            "totals": [_totals(version, points) for version, points in series.items()],
            "markers": self._rows(q.first_appearances(f), scope),
            "has_scores": has_scores,
        }

    def reasons(self, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any]:
        f = parse_filters(params, scope)
        by = params.get("by") or "model_version"
        if by not in q.VERSION_KINDS:
            raise StatsRequestError(f"by: one of {', '.join(q.VERSION_KINDS)}")
        source = "reasons_hourly" if self.catalog.has("reasons_hourly") else "events"
        versions = {
            row["version"]: {"version": row["version"], "up": row["up"], "down": row["down"], "reasons": []}
            for row in self._rows(q.thumbs_by_version(f, by), scope)
        }
        for row in self._rows(q.reasons_by_version(f, by, source), scope):  # type: ignore[arg-type]
            entry = versions.setdefault(row["version"], {"version": row["version"], "up": 0, "down": 0, "reasons": []})
            entry["reasons"].append(
                {
                    "reason": row["reason"],
                    "opinions": row["opinions"],
                    "share": _ratio(row["opinions"], entry["up"] + entry["down"]),
                }
            )
        return {"range": self._range(f), "by": by, "source": source, "versions": list(versions.values())}

    def signals(self, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any]:
        f = parse_filters(params, scope)
        points = []
        for row in self._rows(q.signal_series(f), scope):
            responses = row["responses"]
            point = {"t": row["t"], "responses": responses}
            for name in ("copies", "edits", "regenerates", "rephrases", "abandons", "comments"):
                point[name] = row[name]
                point[f"{name}_rate"] = _ratio(row[name], responses)
            points.append(point)
        return {"range": self._range(f), "points": points}

    def alerts(self, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any]:
        f = parse_filters(params, scope)
        if not self.catalog.has("alerts"):
            return {"range": self._range(f), "available": False, "alerts": []}
        return {"range": self._range(f), "available": True, "alerts": self._rows(q.alerts(f), scope)}

    def health(self, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any]:
        minutes = _int_param(params, "minutes", 60, 5, 24 * 60)
        tenant = scope.tenant if scope.tenant is not None else (params.get("tenant") or None)
        per_minute = self._rows(q.events_per_minute(tenant, minutes), scope)
        newest = self._select(*q.newest_event(tenant), scope).result_rows[0]
        kafka = self._health() if self._health is not None else {"error": "no Kafka probe configured"}
        return {
            "minutes": minutes,
            "events_per_minute": per_minute,
            "newest_event_ms": newest[0] if newest[1] else None,
            "kafka": kafka,
        }

    def responses(self, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any]:
        f = parse_filters(params, scope)
        limit = _int_param(params, "limit", 50, 1, MAX_LIST)
        rows = self._worst(f, limit, scope)
        trace_ids = [row["trace_id"] for row in rows if row["trace_id"]]
        traces = {}
        if trace_ids:
            for trace in self._rows(q.traces_of(trace_ids, f.tenant, TEXT_PREVIEW_CHARS), scope):
                traces[(trace["tenant_id"], trace["trace_id"])] = trace
        for row in rows:
            row["rating_mean"] = _ratio(row["rating_sum"], row["ratings"])
            row["trace"] = traces.get((row["tenant_id"], row["trace_id"]))
        return {"range": self._range(f), "responses": rows}

    def _worst(self, f: q.Filters, limit: int, scope: ReadScope) -> list[dict[str, Any]]:
        """Worst first: most negative current opinions (thumbs down, ratings of 1-2), then most
        regenerates and rephrases, then fewest thumbs up, then the latest, among a pool of four
        times the list: the responses with the most negative signals of the range (all of them
        ranked when fewer have any). Then what the list shows of the pool: its signals, reasons
        and comments, and its current opinions (small queries: inlined CTEs would recompute)."""
        pool = 4 * limit
        rows = self._rows(q.worst_pool(f, pool), scope)
        if len(rows) < pool:
            rows = self._rows(q.worst_candidates(f, pool), scope)
        if not rows:
            return []
        responses = [(r["tenant_id"], r["message_id"]) for r in rows]
        listed = q.listed_signals(f, [message for _, message in responses])
        signals = {(s["tenant_id"], s["message_id"]): s for s in self._rows(listed, scope)}
        opinions = {(o["tenant_id"], o["message_id"]): o for o in self._rows(q.current_opinions(responses), scope)}
        for row, response in zip(rows, responses, strict=True):
            row.update(signals.get(response) or _no_signals())
            row.update(opinions.get(response, NO_OPINIONS))
            row["reasons"] = sorted(row["reasons"])
        rows.sort(
            key=lambda r: (
                -(r["downs"] + r["low_ratings"]),
                -(r["regenerates"] + r["rephrases"]),
                r["ups"],
                -r["last_signal"],
                r["message_id"],
                r["tenant_id"],
            )
        )
        return rows[:limit]

    def response(self, params: Mapping[str, str], scope: ReadScope) -> dict[str, Any]:
        message_id = params.get("message_id") or ""
        if not message_id or len(message_id) > 128:
            raise StatsRequestError("message_id: required, at most 128 characters")
        tenant = scope.tenant if scope.tenant is not None else (params.get("tenant") or None)
        trace_id = params.get("trace_id") or None
        current_ids = self.catalog.current_opinion_ids()
        events = self._rows(q.response_events(message_id, tenant, current_ids, trace_id), scope)
        trace_ids = sorted({e["trace_id"] for e in events if e["trace_id"]})
        traces = self._rows(q.traces_of(trace_ids, tenant, None), scope) if trace_ids else []
        current = [e for e in events if e["current"]]
        opinions = {
            "ups": sum(1 for e in current if e["thumb"] == "up"),
            "downs": sum(1 for e in current if e["thumb"] == "down"),
            "ratings": [e["rating"] for e in current if e["rating"]],
        }
        return {"message_id": message_id, "tenant": tenant, "opinions": opinions, "events": events, "traces": traces}
