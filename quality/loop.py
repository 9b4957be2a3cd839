"""The periodic job inside `feedback up` and `feedback worker`: derive signals, then check for
regressions, every FEEDBACK_QUALITY_INTERVAL_S (0 turns it off). A failed run is logged and
counted; the next one tries again (derivation and alerts are idempotent)."""

from __future__ import annotations

import threading

import structlog

from quality.alerts import AlertConfig, check
from quality.derive import derive
from quality.metrics import LOOP_ERRORS
from runtime.settings import Settings

log = structlog.get_logger(__name__)


class QualityLoop:
    def __init__(self, settings: Settings, stop: threading.Event) -> None:
        self.settings = settings
        self.stop = stop

    def run_once(self) -> None:
        client = self.settings.clickhouse().connect()
        database = self.settings.clickhouse_database
        try:
            derive(self.settings, client)
        except Exception:
            LOOP_ERRORS.labels("derive").inc()
            log.exception("quality.derive_failed")
        try:
            result = check(client, database, AlertConfig.from_settings(self.settings))
            log.info("quality.checked", regressions=len(result.findings), new_alerts=len(result.raised))
        except Exception:
            LOOP_ERRORS.labels("alerts").inc()
            log.exception("quality.alerts_failed")

    def run(self) -> None:
        while not self.stop.wait(self.settings.quality_interval_s):
            self.run_once()

    def start_in_thread(self) -> threading.Thread | None:
        if self.settings.quality_interval_s <= 0:
            return None
        thread = threading.Thread(target=self.run, name="quality-loop", daemon=True)
        thread.start()
        log.info("quality.loop_started", interval_s=self.settings.quality_interval_s)
        return thread
