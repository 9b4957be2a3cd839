"""A broker dies under load: a steady client, the broker to kill, and what the client saw.

Used by the failover bench (``bench.failover_bench``) and its integration test
(``tests/integration/test_broker_failover.py``): the client keeps what got a 202, resends what
got a 503 (the same events, as the browser SDK does), and records when each answer came.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from confluent_kafka.admin import AdminClient

from runtime.local_cluster import LocalCluster
from runtime.local_kafka import port_open

RESEND_AFTER_S = 0.2  # shorter than Retry-After: the drill wants to see the first 202 again
GIVE_UP_AFTER_S = 120.0  # a batch still refused after this is a failure of the drill


@dataclass
class Answers:
    accepted_ids: list[str] = field(default_factory=list)
    accepted_at: list[float] = field(default_factory=list)  # time.monotonic() of every 202
    refused: int = 0  # 503s (resent)
    unexpected: list[str] = field(default_factory=list)  # anything else: never expected


class SteadyClient:
    """``threads`` loops posting batches of thumbs events as fast as the collector answers."""

    def __init__(self, base_url: str, key: str, conversation_prefix: str, threads: int = 2, batch: int = 50) -> None:
        self._base_url = base_url
        self._key = key
        self._prefix = conversation_prefix
        self._batch = batch
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.answers = Answers()
        self._threads = [threading.Thread(target=self._loop, name=f"steady-{i}", daemon=True) for i in range(threads)]

    def start(self) -> SteadyClient:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> Answers:
        """Stop sending new batches; each loop first gets its batch in flight accepted."""
        self._stop.set()
        for thread in self._threads:
            thread.join(GIVE_UP_AFTER_S + 30)
        return self.answers

    def accepted_since(self, moment: float) -> int:
        with self._lock:
            return sum(1 for at in self.answers.accepted_at if at > moment)

    def _events(self) -> list[dict[str, object]]:
        now = int(time.time() * 1000)
        return [
            {
                "event_id": str(uuid.uuid4()),
                "type": "thumbs",
                "value": "down",
                "timestamp": now,
                # one conversation per event: keys spread over every partition, so every broker leads some
                "conversation_id": f"{self._prefix}{uuid.uuid4().hex[:12]}",
                "trace_id": f"trace-{uuid.uuid4().hex[:12]}",
                "message_id": f"msg-{uuid.uuid4().hex[:12]}",
                "user_id": "failover-user",
            }
            for _ in range(self._batch)
        ]

    def _loop(self) -> None:
        headers = {"Authorization": f"Bearer {self._key}"}
        with httpx.Client(base_url=self._base_url, headers=headers, timeout=30) as http:
            while not self._stop.is_set():
                self._send_until_accepted(http, self._events())

    def _send_until_accepted(self, http: httpx.Client, events: list[dict[str, object]]) -> None:
        give_up = time.monotonic() + GIVE_UP_AFTER_S
        while time.monotonic() < give_up:
            try:
                response = http.post("/v1/events", json={"events": events})
            except httpx.HTTPError as exc:
                self._unexpected(f"{type(exc).__name__}: {exc}")
                return
            if response.status_code == 202:
                with self._lock:
                    self.answers.accepted_at.append(time.monotonic())
                    self.answers.accepted_ids.extend(str(e["event_id"]) for e in events)
                return
            if response.status_code != 503:
                self._unexpected(f"{response.status_code}: {response.text[:300]}")
                return
            with self._lock:
                self.answers.refused += 1
            time.sleep(RESEND_AFTER_S)
        self._unexpected(f"still 503 after {GIVE_UP_AFTER_S:.0f}s")

    def _unexpected(self, what: str) -> None:
        with self._lock:
            self.answers.unexpected.append(what)


def longest_gap_s(accepted_at: list[float], since: float) -> float:
    """The longest time without a 202, from the last 202 before ``since`` (the kill) on."""
    before = [at for at in accepted_at if at <= since]
    after = sorted(at for at in accepted_at if at > since)
    marks = [max(before) if before else since, *after]
    return max((b - a for a, b in itertools.pairwise(marks)), default=0.0)


def leader_of(bootstrap: str, topic: str, partition: int = 0) -> int:
    """The broker (node id) leading ``topic``'s partition."""
    metadata = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    return int(metadata.topics[topic].partitions[partition].leader)


def kill_9(cluster: LocalCluster, node_id: int) -> int:
    """SIGKILL one node this cluster started (its pid file), as a crash or a lost machine would."""
    pid = cluster.node(node_id).pid()
    if pid is None:
        raise RuntimeError(f"broker {node_id} of {cluster.data_dir} is not running")
    os.kill(pid, signal.SIGKILL)
    return pid


def free_base_port(first: int = 29092, step: int = 100, span: int = 6) -> int:
    """One of ``first``, ``first + step``, … (tried in random order: two sessions starting at once
    rarely pick the same) with ``span`` free ports: a drill's cluster never lands on the shared
    broker (9092) nor on another session's drill."""
    bases = list(range(first, first + 50 * step, step))
    for base in random.sample(bases, len(bases)):
        if not any(port_open(port) for port in range(base, base + span)):
            return base
    raise RuntimeError(f"no {span} free ports from {first}")


def drill_cluster(home: Path, data_dir: Path, heap: str = "256m") -> LocalCluster:
    """Three brokers on their own ports and data dir, with small heaps (three JVMs on a laptop)."""
    return LocalCluster(home=home, data_dir=data_dir, brokers=3, port=free_base_port(), heap=heap)
