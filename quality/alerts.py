"""Regression alerts from ClickHouse: tally the window and the baseline, find regressions
(quality/detect.py), store new ones in ``alerts``, notify the webhook and /metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from clickhouse_connect.driver.client import Client

from quality.detect import AlertKey, Finding, Group, Policy, Tally, find_regressions, not_yet_raised
from quality.metrics import ALERT_CHECKS, ALERTS_OPEN, ALERTS_RAISED
from quality.webhook import post_alerts
from runtime.settings import Settings

log = structlog.get_logger(__name__)

ALERT_COLUMNS = (
    "tenant_id", "alert_id", "raised_at", "metric", "comparison", "dimensions", "window_start", "window_end",
    "baseline", "current", "n", "baseline_n", "p_value", "p_adjusted", "severity",
)  # fmt: skip

# Each signal at most once per response, whatever its origin (response_signals, docs/contract.md §7).
TALLY_SQL = """
SELECT
    tenant_id, model, model_version, prompt_version, feature,
    timestamp >= {window_start:DateTime64(3, 'UTC')} AS in_window,
    count(), countIf(thumb IS NOT NULL), countIf(thumb = 'down'),
    sum(regenerated), sum(rephrased), sum(copied),
    count(score), sum(ifNull(score, 0)), sum(ifNull(score, 0) * ifNull(score, 0))
FROM {database}.response_scores
WHERE timestamp >= {baseline_start:DateTime64(3, 'UTC')} AND timestamp < {window_end:DateTime64(3, 'UTC')}
    AND ({tenant:String} = '' OR tenant_id = {tenant:String})
GROUP BY tenant_id, model, model_version, prompt_version, feature, in_window
"""


@dataclass(frozen=True)
class AlertConfig:
    window_s: float
    baseline_s: float
    policy: Policy
    webhook_url: str | None = None
    webhook_attempts: int = 4
    webhook_backoff_s: float = 1.0

    @classmethod
    def from_settings(
        cls, settings: Settings, window_s: float | None = None, baseline_s: float | None = None
    ) -> AlertConfig:
        return cls(
            window_s=window_s or settings.alert_window_s,
            baseline_s=baseline_s or settings.alert_baseline_s,
            policy=Policy(settings.alert_min_samples, settings.alert_fdr, settings.alert_min_relative_change),
            webhook_url=settings.alert_webhook_url.get_secret_value() if settings.alert_webhook_url else None,
            webhook_attempts=settings.alert_webhook_attempts,
            webhook_backoff_s=settings.alert_webhook_backoff_s,
        )


@dataclass(frozen=True)
class CheckResult:
    window_start: datetime
    window_end: datetime
    findings: list[Finding]  # every regression seen in this window
    raised: list[dict[str, Any]]  # the new alerts among them, as stored


def read_tallies(
    client: Client, database: str, window_start: datetime, window_end: datetime, baseline_start: datetime, tenant: str
) -> tuple[dict[Group, Tally], dict[Group, Tally]]:
    rows = client.query(
        TALLY_SQL.replace("{database}", database),
        parameters={
            "window_start": window_start,
            "window_end": window_end,
            "baseline_start": baseline_start,
            "tenant": tenant,
        },
    ).result_rows
    window: dict[Group, Tally] = {}
    baseline: dict[Group, Tally] = {}
    for row in rows:
        group = Group(*row[:5])
        responses, thumbed, downs, regenerated, rephrased, copied, scored = (int(v) for v in row[6:13])
        tally = Tally(responses, thumbed, downs, regenerated, rephrased, copied, scored, float(row[13]), float(row[14]))
        (window if row[5] else baseline)[group] = tally
    return window, baseline


def open_alert_keys(client: Client, database: str, since: datetime) -> set[AlertKey]:
    """The regressions with an alert whose window ends after ``since`` (overlaps the current one)."""
    rows = client.query(
        f"SELECT tenant_id, metric, comparison, dimensions FROM {database}.alerts FINAL "
        "WHERE window_end > {since:DateTime64(3, 'UTC')}",
        parameters={"since": since},
    ).result_rows
    return {(tenant, metric, comparison, tuple(sorted(dims.items()))) for tenant, metric, comparison, dims in rows}


def _row(finding: Finding, raised_at: datetime, window_start: datetime, window_end: datetime) -> dict[str, Any]:
    return {
        "tenant_id": finding.group.tenant_id,
        "alert_id": finding.alert_id(window_end),
        "raised_at": raised_at,
        "metric": finding.metric,
        "comparison": finding.comparison,
        "dimensions": finding.group.dimensions(),
        "window_start": window_start,
        "window_end": window_end,
        "baseline": finding.baseline,
        "current": finding.current,
        "n": finding.n,
        "baseline_n": finding.baseline_n,
        "p_value": finding.p_value,
        "p_adjusted": finding.p_adjusted,
        "severity": finding.severity,
    }


def check(
    client: Client, database: str, config: AlertConfig, *, at: datetime | None = None, tenant: str | None = None
) -> CheckResult:
    """One check: window = [at - window, at) of response time, baseline = the period before it."""
    window_end = (at or datetime.now(UTC)).astimezone(UTC)
    window_start = window_end - timedelta(seconds=config.window_s)
    baseline_start = window_start - timedelta(seconds=config.baseline_s)
    window, baseline = read_tallies(client, database, window_start, window_end, baseline_start, tenant or "")
    findings = find_regressions(window, baseline, config.policy)
    fresh = not_yet_raised(findings, open_alert_keys(client, database, window_start))
    raised_at = datetime.now(UTC)
    rows = [_row(finding, raised_at, window_start, window_end) for finding in fresh]
    if rows:
        client.insert(
            f"{database}.alerts", [[row[c] for c in ALERT_COLUMNS] for row in rows], column_names=list(ALERT_COLUMNS)
        )
    ALERT_CHECKS.inc()
    for row in rows:
        ALERTS_RAISED.labels(row["metric"], row["severity"]).inc()
        log.warning(
            "alert.raised",
            tenant=row["tenant_id"],
            metric=row["metric"],
            comparison=row["comparison"],
            baseline=round(row["baseline"], 4),
            current=round(row["current"], 4),
            n=row["n"],
            p_adjusted=row["p_adjusted"],
            severity=row["severity"],
            **row["dimensions"],
        )
    _update_open_gauge(client, database, window_start)
    if rows and config.webhook_url:
        post_alerts(
            config.webhook_url,
            [as_json(row) for row in rows],
            attempts=config.webhook_attempts,
            backoff_s=config.webhook_backoff_s,
        )
    return CheckResult(window_start, window_end, findings, rows)


def _update_open_gauge(client: Client, database: str, since: datetime) -> None:
    ALERTS_OPEN.clear()
    rows = client.query(
        f"SELECT metric, severity, count() FROM {database}.alerts FINAL "
        "WHERE window_end > {since:DateTime64(3, 'UTC')} GROUP BY metric, severity",
        parameters={"since": since},
    ).result_rows
    for metric, severity, count in rows:
        ALERTS_OPEN.labels(metric, severity).set(count)


def as_json(row: dict[str, Any]) -> dict[str, Any]:
    """An alert row as the webhook and `alerts list --format json` show it."""
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in row.items()}


LIST_SQL = "SELECT {columns} FROM {database}.alerts FINAL {where} ORDER BY raised_at DESC, metric LIMIT {limit}"


def list_sql(database: str, tenant: str | None, limit: int) -> str:
    """The query `feedback alerts list` runs (read-only, so it can go through `feedback query`)."""
    if tenant is not None and not tenant.replace("-", "_").replace(".", "_").isidentifier():
        raise ValueError(f"--tenant {tenant!r}: letters, digits, '-', '.' and '_' only")
    where = f"WHERE tenant_id = '{tenant}'" if tenant else ""
    return LIST_SQL.format(columns=", ".join(ALERT_COLUMNS), database=database, where=where, limit=int(limit))
