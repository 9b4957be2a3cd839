"""Stage: a broker dies under load — how long the collector gives no 202.

A three-broker local cluster of its own (ports 29092 and up, small heaps), the collector in this
process, a steady client (``bench.failover.SteadyClient``: 202s kept, 503s resent). After a
warm-up, the leader of partition 0 of the explicit topic gets kill -9. Reported:
``broker_failover_gap_s``, the longest time without a 202 from the last 202 before the kill; the
503s answered meanwhile (``broker_failover_503s``); and, for scale, the median time between 202s
before the kill. Correctness (every 202'd event stored once) is the integration test's job
(``tests/integration/test_broker_failover.py``); this stage only times.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from bench.config import FailoverSizes
from bench.data import TENANT
from bench.failover import SteadyClient, drill_cluster, kill_9, leader_of, longest_gap_s
from bench.workspace import KEYS, free_port
from feedback.services import CollectorServer, make_collector
from runtime.kafka import ensure_topics
from runtime.settings import Settings


def run(sizes: FailoverSizes) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="feedback-bench-failover-"))
    cluster = drill_cluster(Settings().kafka_home, root / "kafka")
    try:
        started = time.monotonic()
        cluster.start(timeout_s=240)
        cluster_start_s = time.monotonic() - started
        result = _measure(cluster.bootstrap, root, sizes, cluster)
        result["details"]["broker_failover"]["cluster_start_s"] = round(cluster_start_s, 1)
        return result
    finally:
        cluster.stop(timeout_s=10)  # SIGKILL after that: the data dir is thrown away
        shutil.rmtree(root, ignore_errors=True)


def _measure(bootstrap: str, root: Path, sizes: FailoverSizes, cluster: Any) -> dict[str, Any]:
    keys_file = root / "keys.json"
    keys_file.write_text(json.dumps({"keys": [{"key": KEYS["public"], "tenant": TENANT, "kind": "public"}]}))
    settings = Settings(
        kafka_bootstrap=bootstrap,
        topic_prefix=f"bench-{uuid.uuid4().hex[:10]}.",
        keys_file=keys_file,
        http_addr=f"127.0.0.1:{free_port()}",
        clickhouse_url=SecretStr(f"chdb://{root / 'clickhouse'}"),
        retry_after_s=1,
        rate_limit_key_per_s=0,
        rate_limit_user_per_s=0,
        rate_limit_address_per_s=0,
    )
    ensure_topics(settings)
    server = CollectorServer(settings, make_collector(settings, with_query=False))
    thread = server.start_in_thread()
    base = f"http://{settings.http_addr}"
    try:
        _wait_up(base)
        load = SteadyClient(base, KEYS["public"], "bench-failover-", threads=sizes.threads, batch=sizes.batch)
        load.start()
        try:
            time.sleep(sizes.warmup_s)  # the bench measures a steady stream, not a condition
            victim = leader_of(bootstrap, settings.topic("explicit"))
            kill_9(cluster, victim)
            killed_at = time.monotonic()
            deadline = killed_at + sizes.timeout_s
            while load.accepted_since(killed_at) < sizes.accepted_after and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            answers = load.stop()
    finally:
        server.stop()
        thread.join(30)
    before = sorted(at for at in answers.accepted_at if at <= killed_at)
    steady = [b - a for a, b in itertools.pairwise(before)]
    recovered = sum(1 for at in answers.accepted_at if at > killed_at) >= sizes.accepted_after
    return {
        "broker_failover_gap_s": round(longest_gap_s(answers.accepted_at, killed_at), 2) if recovered else None,
        "broker_failover_503s": answers.refused,
        "details": {
            "broker_failover": {
                "killed_broker": victim,
                "recovered": recovered,
                "accepted_requests": len(answers.accepted_at),
                "unexpected_answers": answers.unexpected[:5],
                "steady_interval_ms_p50": round(statistics.median(steady) * 1000, 1) if steady else None,
                "batch": sizes.batch,
                "client_threads": sizes.threads,
            }
        },
    }


def _wait_up(base: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"collector not up at {base}")
