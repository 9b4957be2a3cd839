"""The dashboard's SQL: parameterised SELECTs over the tables of docs/contract.md §7.

Pure builders (no engine): each returns the SQL and its bound parameters, so a test can run the
same text the API runs and hold its numbers to a hand-written query. Time ranges are half-open,
``[start, end)``, whole hours (the hourly tables' grain), on ``hour`` for the hourly tables and on
``ts`` for ``events``, so every view of one range covers the same signals. A dimension filter of
``None`` keeps every value; ``''`` keeps rows without one (no trace joined, or not reported).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

# Bucket of a time series -> the ClickHouse expression of a row's bucket start (epoch seconds).
BUCKETS: dict[str, str] = {
    "hour": "toUnixTimestamp(toStartOfHour({col}))",
    "day": "toUnixTimestamp(toStartOfDay({col}))",
    "week": "toUnixTimestamp(toDateTime(toMonday({col}), 'UTC'))",
}
Bucket = Literal["hour", "day", "week"]
DIMENSIONS = ("feature", "model_version", "prompt_version")
VERSION_KINDS = ("model_version", "prompt_version")
# A response's signals as counted for the worst-first list: event type -> column.
SIGNAL_COUNTS = {
    "copy": "copies",
    "edit": "edits",
    "regenerate": "regenerates",
    "rephrase": "rephrases",
    "dwell": "dwells",
    "abandon": "abandons",
}


# The range's bounds, bound as epoch seconds: no time zone of the client or the server in between.
START = "toDateTime({start:UInt32}, 'UTC')"
END = "toDateTime({end:UInt32}, 'UTC')"


class Query(NamedTuple):
    sql: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class Filters:
    """What the dashboard looks at: a time range, optionally one tenant and dimension values."""

    start: datetime
    end: datetime
    tenant: str | None = None
    dimensions: dict[str, str] = field(default_factory=dict)
    bucket: Bucket = "hour"

    def parameters(self) -> dict[str, Any]:
        return {
            "start": int(self.start.replace(tzinfo=UTC).timestamp()),
            "end": int(self.end.replace(tzinfo=UTC).timestamp()),
            "tenant": self.tenant or "",
            **self.dimensions,
        }

    def where(self, time_column: str, *, nullable: bool = False, versions: bool = True) -> str:
        """The WHERE condition; ``nullable`` for ``events`` (dimensions NULL without a trace),
        ``versions=False`` leaves the version filters out (first appearances)."""
        conditions = [f"{time_column} >= {START}", f"{time_column} < {END}"]
        conditions += self.scope_conditions(nullable=nullable, versions=versions)
        return " AND ".join(conditions)

    def scope_conditions(self, *, nullable: bool = False, versions: bool = True) -> list[str]:
        conditions = ["tenant_id = {tenant:String}"] if self.tenant is not None else []
        for name in DIMENSIONS:
            if name in self.dimensions and (versions or name not in VERSION_KINDS):
                column = f"ifNull({name}, '')" if nullable else name
                conditions.append(f"{column} = {{{name}:String}}")
        return conditions

    def bucket_of(self, column: str) -> str:
        return BUCKETS[self.bucket].format(col=column)


def quality_series(f: Filters) -> Query:
    """Current thumbs and ratings per bucket and model_version (quality_hourly)."""
    sql = f"""
        SELECT {f.bucket_of("hour")} AS t, model_version,
            sum(thumbs_up) AS up, sum(thumbs_down) AS down,
            sum(ratings) AS ratings, sum(rating_sum) AS rating_sum, sum(responses) AS responses
        FROM quality_hourly
        WHERE {f.where("hour")}
        GROUP BY t, model_version
        ORDER BY t, model_version"""
    return Query(sql, f.parameters())


def score_series(f: Filters) -> Query:
    """Mean quality score per bucket and model_version (quality_scores_hourly, when it exists)."""
    # The sums get names of their own: an alias equal to a column would shadow it in the other sum.
    sql = f"""
        SELECT t, model_version, scored_total AS scored, score_total / scored_total AS mean_score
        FROM (
            SELECT {f.bucket_of("hour")} AS t, model_version,
                sum(scored) AS scored_total, sum(mean_score * scored) AS score_total
            FROM quality_scores_hourly
            WHERE {f.where("hour")} AND scored > 0
            GROUP BY t, model_version
        )
        ORDER BY t, model_version"""
    return Query(sql, f.parameters())


def any_score_model() -> Query:
    """Whether a quality score was fitted (that the scope can see): without one, no score exists."""
    return Query("SELECT count() > 0 FROM score_models", {})


def first_appearances(f: Filters) -> Query:
    """Where a model_version or prompt_version first appears (over all time), if inside the range."""
    scope = " AND ".join(f.scope_conditions(versions=False)) or "1"
    parts = [
        f"""SELECT '{kind}' AS kind, {kind} AS version, toUnixTimestamp(min(hour)) AS first
        FROM quality_hourly WHERE {scope} AND {kind} != '' GROUP BY {kind}
        HAVING min(hour) >= {START} AND min(hour) < {END}"""
        for kind in VERSION_KINDS
    ]
    return Query(" UNION ALL ".join(parts) + " ORDER BY first, kind, version", f.parameters())


def reasons_by_version(f: Filters, by: str, source: Literal["reasons_hourly", "events"]) -> Query:
    """How many current opinions carry each reason, per version. ``reasons_hourly`` when the
    migrations have it; else the same count from ``events``: the thumbs that are a rater's
    current opinion (``ratings_current.event_id``)."""
    if by not in VERSION_KINDS:
        raise ValueError(f"by: one of {', '.join(VERSION_KINDS)}")
    if source == "reasons_hourly":
        sql = f"""
            SELECT {by} AS version, reason, sum(opinions) AS opinions
            FROM reasons_hourly
            WHERE {f.where("hour")}
            GROUP BY version, reason
            HAVING opinions != 0
            ORDER BY version, opinions DESC, reason"""
    else:
        # signed sums of events_log (what ``events`` shows, without merging every row for FINAL);
        # the current opinions looked up only for the messages thumbed in the range
        in_range = f"type = 'thumbs' AND {f.where('ts', nullable=True)}"
        sql = f"""
            SELECT ifNull({by}, '') AS version, reason, sum(sign) AS opinions
            FROM events_log ARRAY JOIN reasons AS reason
            WHERE {in_range}
                AND event_id IN (
                    SELECT event_id FROM ratings_current
                    WHERE (tenant_id, message_id) IN (
                        SELECT tenant_id, ifNull(message_id, '') FROM events_log WHERE {in_range}
                    )
                )
            GROUP BY version, reason
            HAVING opinions != 0
            ORDER BY version, opinions DESC, reason"""
    return Query(sql, f.parameters())


def thumbs_by_version(f: Filters, by: str) -> Query:
    """Current thumbs per version: what each reason's share is of."""
    if by not in VERSION_KINDS:
        raise ValueError(f"by: one of {', '.join(VERSION_KINDS)}")
    sql = f"""
        SELECT {by} AS version, sum(thumbs_up) AS up, sum(thumbs_down) AS down
        FROM quality_hourly
        WHERE {f.where("hour")}
        GROUP BY version
        HAVING up + down > 0
        ORDER BY version"""
    return Query(sql, f.parameters())


def signal_series(f: Filters) -> Query:
    """Implicit signals and responses per bucket (quality_hourly)."""
    sql = f"""
        SELECT {f.bucket_of("hour")} AS t,
            sum(responses) AS responses, sum(copies) AS copies, sum(edits) AS edits,
            sum(regenerates) AS regenerates, sum(rephrases) AS rephrases, sum(abandons) AS abandons,
            sum(comments) AS comments
        FROM quality_hourly
        WHERE {f.where("hour")}
        GROUP BY t
        ORDER BY t"""
    return Query(sql, f.parameters())


def filter_values(f: Filters) -> Query:
    """The tenants and dimension values seen in the range (for the filter menus)."""
    scope = f"hour >= {START} AND hour < {END}" + (" AND tenant_id = {tenant:String}" if f.tenant is not None else "")
    parts = [f"SELECT 'tenant' AS name, toString(tenant_id) AS value FROM quality_hourly WHERE {scope}"]
    parts += [f"SELECT '{name}', toString({name}) FROM quality_hourly WHERE {scope}" for name in DIMENSIONS]
    return Query(
        "SELECT name, value FROM (" + " UNION ALL ".join(parts) + ") GROUP BY name, value ORDER BY name, value",
        f.parameters(),
    )


def events_per_minute(tenant: str | None, minutes: int) -> Query:
    """Stored events per minute of arrival, the last ``minutes`` minutes. Read as signed sums of
    ``events_log`` (what ``events`` shows: a rejoin's cancel and new version net to one row)."""
    tenant_filter = "AND tenant_id = {tenant:String}" if tenant is not None else ""
    sql = f"""
        SELECT toUnixTimestamp(toStartOfMinute(received_at)) AS t, sum(sign) AS events
        FROM events_log
        WHERE received_at >= toStartOfMinute(now()) - INTERVAL {{minutes:UInt32}} MINUTE {tenant_filter}
        GROUP BY t
        HAVING events != 0
        ORDER BY t"""
    return Query(sql, {"minutes": minutes, "tenant": tenant or ""})


def newest_event(tenant: str | None) -> Query:
    tenant_filter = "WHERE tenant_id = {tenant:String}" if tenant is not None else ""
    return Query(
        f"SELECT toUnixTimestamp64Milli(max(received_at)), count() FROM events_log {tenant_filter}",
        {"tenant": tenant or ""},
    )


def alerts(f: Filters, limit: int = 50) -> Query:
    """Alerts whose window overlaps the range (the ``alerts`` table, when it exists). A version or
    feature filter keeps the alerts about that value and those not about any value of it."""
    conditions = [f"window_end > {START}", f"window_start < {END}"]
    if f.tenant is not None:
        conditions.append("tenant_id = {tenant:String}")
    for name in DIMENSIONS:
        if name in f.dimensions:
            conditions.append(f"(NOT mapContains(dimensions, '{name}') OR dimensions['{name}'] = {{{name}:String}})")
    sql = f"""
        SELECT alert_id, tenant_id, toUnixTimestamp(raised_at) AS raised, metric, comparison, dimensions,
            toUnixTimestamp(window_start) AS window_start, toUnixTimestamp(window_end) AS window_end,
            baseline, current, n, p_adjusted, severity
        FROM alerts FINAL
        WHERE {" AND ".join(conditions)}
        ORDER BY severity = 'critical' DESC, raised DESC
        LIMIT {{limit:UInt32}}"""
    return Query(sql, {**f.parameters(), "limit": limit})


# An event that counts against its response in the worst-first ranking (with its sign, it nets out
# when cancelled). Spelled exactly as in the ``responses_hourly_events`` projection of events_log
# (sql/0080_responses_hourly.sql): ClickHouse answers from the projection only when each expression
# of the query is one of the projection's (a unit test holds the two texts alike).
NEGATIVE = "(type = 'thumbs' AND ifNull(thumb, '') = 'down') OR (type = 'rating' AND ifNull(rating, 0) BETWEEN 1 AND 2)"
THUMB_UP = "type = 'thumbs' AND ifNull(thumb, '') = 'up'"
# A response: its 64-bit key (small to group and compare), and its message id (ids are never empty,
# docs/contract.md §2, so '' is an event without one).
RESPONSE_KEY = "cityHash64(tenant_id, ifNull(message_id, ''))"
RESPONSE_ID = "ifNull(message_id, '')"


def _hourly_where(f: Filters) -> str:
    """The range on the hour of ``ts`` (the projection's grain; the range is whole hours, so the
    same events as on ``ts``) and the scope, for the events of a response."""
    return f"{RESPONSE_ID} != '' AND {f.where('toStartOfHour(ts)', nullable=True)}"


def worst_pool(f: Filters, pool: int) -> Query:
    """The worst-first list's pool: the ``pool`` responses of the range with the most negative
    signals (thumbs down and ratings of 1-2, signed sums: what ``events`` shows), the most recent
    negative first among equals; their tenant, message id and trace. Both passes read the negative
    groups of the ``responses_hourly_events`` projection only (negative-or-not is a key of it, before
    the hour), never the range's other signals: a long range holds millions of responses, and
    tens of thousands share the pool's number of negatives, spread over every hour of it. Fewer
    rows than ``pool``: fewer responses of the range have any (``worst_candidates`` ranks them all)."""
    negatives = f"""
        SELECT {RESPONSE_KEY} AS key, sum(sign) AS negatives, max(ts) AS latest
        FROM events_log
        WHERE ({NEGATIVE}) AND {_hourly_where(f)}
        GROUP BY key
        HAVING negatives > 0
        ORDER BY negatives DESC, latest DESC, key
        LIMIT {{pool:UInt32}}"""
    sql = f"""
        SELECT tenant_id, response AS message_id, trace_id
        FROM (
            SELECT tenant_id, {RESPONSE_ID} AS response, {RESPONSE_KEY} AS key,
                anyIf(trace_id, trace_id IS NOT NULL) AS trace_id
            FROM events_log
            WHERE ({NEGATIVE}) AND {_hourly_where(f)} AND {RESPONSE_KEY} IN (SELECT key FROM ({negatives}))
            GROUP BY tenant_id, response, key
        )"""
    return Query(sql, {**f.parameters(), "pool": pool})


def worst_candidates(f: Filters, pool: int) -> Query:
    """The pool when fewer than ``pool`` responses of the range have a negative signal: every
    response of the range ranked by signed sums of ``events_log`` (what ``events`` shows, without
    the FINAL that would merge every row) — most negative signals, then most regenerates and
    rephrases, then fewest thumbs up, then the latest signal, then the key; their tenant, message
    id and trace. Every expression is one of the ``responses_hourly_events`` projection's, so
    ClickHouse reads its groups (about one per response and hour) rather than every event."""
    sql = f"""
        SELECT tenant_id, response AS message_id, trace_id
        FROM (
            SELECT tenant_id, {RESPONSE_ID} AS response, {RESPONSE_KEY} AS key,
                anyIf(trace_id, trace_id IS NOT NULL) AS trace_id,
                sum(sign * ({NEGATIVE})) AS negatives,
                sum(sign * (type = 'regenerate')) + sum(sign * (type = 'rephrase')) AS retries,
                sum(sign * ({THUMB_UP})) AS ups,
                max(ts) AS latest
            FROM events_log
            WHERE {_hourly_where(f)}
            GROUP BY tenant_id, response, key
            HAVING sum(sign) > 0
            ORDER BY negatives DESC, retries DESC, ups ASC, latest DESC, key
            LIMIT {{pool:UInt32}}
        )"""
    return Query(sql, {**f.parameters(), "pool": pool})


def listed_signals(f: Filters, message_ids: list[str]) -> Query:
    """What the list shows of its responses: their signal events in the range (signed sums), the
    first and the last, the reasons and comments given. From ``events_log``'s rows by message id,
    every event of the response whatever trace it carries (an ``abandon`` may carry none); one pass
    over the range, as fast as one through the trace index, which a few hundred random trace ids
    make read most of it. On ``ts`` (the range is whole hours: the same events as on its hour,
    which costs a conversion per row)."""
    counts = ",\n".join(f"sum(sign * (type = '{kind}')) AS {name}" for kind, name in SIGNAL_COUNTS.items())
    sql = f"""
        SELECT tenant_id, assumeNotNull(message_id) AS message_id,
            {counts},
            toUnixTimestamp(min(ts)) AS first_signal, toUnixTimestamp(max(ts)) AS last_signal,
            groupUniqArrayArrayIf(reasons, type = 'thumbs' AND sign = 1) AS reasons,
            groupUniqArrayIf(5)(assumeNotNull(comment), notEmpty(ifNull(comment, '')) AND sign = 1) AS comments
        FROM events_log
        WHERE message_id IN {{messages:Array(String)}} AND {f.where("ts", nullable=True)}
        GROUP BY tenant_id, message_id"""
    return Query(sql, {**f.parameters(), "messages": message_ids})


def current_opinions(responses: list[tuple[str, str]]) -> Query:
    """Current opinions of these (tenant, message) responses: thumbs up and down, ratings and the
    low ones (1-2). By tenant and message: the prefix of ratings_current's sort order."""
    sql = """
        SELECT tenant_id, message_id,
            countIf(thumb = 'down') AS downs, countIf(thumb = 'up') AS ups,
            countIf(rating > 0) AS ratings, sumIf(rating, rating > 0) AS rating_sum,
            countIf(rating > 0 AND rating <= 2) AS low_ratings
        FROM ratings_current
        WHERE (tenant_id, message_id) IN {responses:Array(Tuple(String, String))}
        GROUP BY tenant_id, message_id"""
    return Query(sql, {"responses": responses})


TRACE_COLUMNS = (
    "tenant_id, trace_id, message_id, toUnixTimestamp64Milli(timestamp) AS timestamp, model, model_version, "
    "provider, deployment, prompt_template, prompt_version, feature, environment, input_tokens, output_tokens, "
    "latency_ms, time_to_first_token_ms, tool_failed, tools.name AS tool_names, tools.success AS tool_success, "
    "tools.error AS tool_errors, retrieval.doc_ids AS doc_ids, retry_count, truncated, error, fallback_path"
)


def traces_of(trace_ids: list[str], tenant: str | None, text_chars: int | None) -> Query:
    """The traces (metadata, input and output; texts cut to ``text_chars`` when given): the live
    reports, what ``traces`` shows. Read from ``traces_log`` without FINAL, as the worker reads them:
    every report is a +1 row and a newer one always has a higher version, so a trace's live report is
    its +1 row of the highest version. The ids go in PREWHERE: the bloom filter on trace_id skips the
    granules without them (traces_log sorts by time first, sql/0033), and only the rows of the ids
    read the other columns, texts and all. (FINAL would merge every part's rows of those granules.)"""
    texts = (
        f"substringUTF8(ifNull(input_text, ''), 1, {int(text_chars)}) AS input_text, "
        f"substringUTF8(ifNull(output_text, ''), 1, {int(text_chars)}) AS output_text"
        if text_chars
        else "input_text, output_text"
    )
    tenant_filter = " AND tenant_id = {tenant:String}" if tenant is not None else ""
    return Query(
        f"SELECT {TRACE_COLUMNS}, {texts} FROM traces_log PREWHERE trace_id IN {{ids:Array(String)}} "
        f"WHERE sign = 1{tenant_filter} ORDER BY version DESC LIMIT 1 BY tenant_id, trace_id",
        {"ids": trace_ids, "tenant": tenant or ""},
    )


def response_events(
    message_id: str, tenant: str | None, current_ids: str, trace_id: str | None, limit: int = 500
) -> Query:
    """A response's events, each marked whether it is a rater's current opinion; ``current_ids``
    is the ratings_current expression of those event ids (its columns differ between versions).
    With the trace, the live rows are read from ``events_log`` through its trace index (the
    newest version of each event; ``events`` would merge every row to find them)."""
    tenant_filter = " AND tenant_id = {tenant:String}" if tenant is not None else ""
    source = (
        f"""(SELECT * FROM events_log
            WHERE trace_id = {{trace:String}} AND message_id = {{message:String}} AND sign = 1{tenant_filter}
            ORDER BY tenant_id, event_id, version DESC LIMIT 1 BY tenant_id, event_id)"""
        if trace_id
        else "events"
    )
    sql = f"""
        SELECT tenant_id, event_id, type, toUnixTimestamp64Milli(ts) AS ts, trace_id, user_id, session_id,
            thumb, rating, reasons, comment, edited_text, edit_distance, copied_chars, attempt, dwell_ms,
            event_id IN (
                SELECT {current_ids} FROM ratings_current WHERE message_id = {{message:String}}{tenant_filter}
            ) AS current
        FROM {source}
        WHERE message_id = {{message:String}}{tenant_filter}
        ORDER BY ts, event_id
        LIMIT {{limit:UInt32}}"""
    return Query(sql, {"message": message_id, "tenant": tenant or "", "trace": trace_id or "", "limit": limit})
