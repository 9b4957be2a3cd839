"""Alerts to a webhook: one JSON POST per check with new alerts, retried with backoff."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import structlog

from quality.metrics import WEBHOOK_FAILURES

log = structlog.get_logger(__name__)


def post_alerts(
    url: str,
    alerts: list[dict[str, Any]],
    *,
    attempts: int = 4,
    backoff_s: float = 1.0,
    timeout_s: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """POST ``{"alerts": [...]}``; a 2xx is delivered. Network errors and 5xx/429 are retried
    (backoff doubling from ``backoff_s``); other 4xx are not (the receiver refuses this body).
    Never raises: the alerts are already stored, the webhook is a notification."""
    body = {"alerts": alerts}
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.post(url, json=body, timeout=timeout_s)
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            retriable = True
        else:
            if response.is_success:
                log.info("alerts.webhook_delivered", alerts=len(alerts), attempt=attempt)
                return True
            reason = f"HTTP {response.status_code}"
            retriable = response.status_code >= 500 or response.status_code == 429
        log.warning("alerts.webhook_failed", attempt=attempt, attempts=attempts, reason=reason)
        if not retriable:
            break
        if attempt < attempts:
            sleep(backoff_s * 2 ** (attempt - 1))
    WEBHOOK_FAILURES.inc()
    log.error("alerts.webhook_gave_up", alerts=len(alerts))
    return False
