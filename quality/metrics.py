"""The feedback loop's metric names, in one place (scraped with the rest at GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ALERTS_RAISED = Counter(
    "feedback_alerts_raised_total", "Regression alerts raised (one per regression and window)", ["metric", "severity"]
)
ALERTS_OPEN = Gauge(
    "feedback_alerts_open", "Alerts whose window still overlaps the latest check's window", ["metric", "severity"]
)
ALERT_CHECKS = Counter("feedback_alert_checks_total", "Alert checks run")
ALERT_COMPARISONS = Counter("feedback_alert_comparisons_total", "Metric comparisons tested by alert checks")
WEBHOOK_FAILURES = Counter(
    "feedback_alert_webhook_failures_total", "Alert webhook deliveries given up after every attempt"
)
DERIVED = Counter("feedback_derived_signals_total", "Derived signals produced to Kafka", ["type"])
LOOP_ERRORS = Counter("feedback_quality_loop_errors_total", "Periodic derive/alert runs that failed", ["job"])
