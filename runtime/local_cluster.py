"""A local Kafka cluster of several brokers (KRaft, the same jars as the single broker), to see
replication and a broker's loss on one machine: ``feedback kafka start --brokers 3``.

Each node is broker and controller at once (three JVMs, not six): brokers listen on ``port`` and
the next ports, controllers on the ports after those (9092-9094 and 9095-9097 by default), each
node in ``DATA_DIR/node-N``. The controllers form a quorum of three, so one node may die.
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import structlog
from confluent_kafka.admin import AdminClient

from runtime.errors import BrokerError
from runtime.local_kafka import LocalBroker, process_alive

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class LocalCluster:
    home: Path
    data_dir: Path
    brokers: int = 3
    version: str = "4.1.1"
    port: int = 9092
    heap: str = "768m"
    max_message_bytes: int = 1_048_576

    @property
    def controller_ports(self) -> list[int]:
        return [self.port + self.brokers + i for i in range(self.brokers)]

    @property
    def nodes(self) -> list[LocalBroker]:
        voters = ",".join(f"{i + 1}@127.0.0.1:{port}" for i, port in enumerate(self.controller_ports))
        return [
            LocalBroker(
                home=self.home,
                data_dir=self.data_dir / f"node-{i + 1}",
                version=self.version,
                port=self.port + i,
                controller_port=controller_port,
                heap=self.heap,
                max_message_bytes=self.max_message_bytes,
                node_id=i + 1,
                voters=voters,
                cluster_size=self.brokers,
            )
            for i, controller_port in enumerate(self.controller_ports)
        ]

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def description_file(self) -> Path:
        """What started here last (brokers, port), so ``status`` and ``stop`` need no options."""
        return self.data_dir / "cluster.json"

    @classmethod
    def described(cls, template: LocalCluster) -> LocalCluster | None:
        """The cluster last started from ``template``'s data dir, if any."""
        try:
            described = json.loads(template.description_file.read_text())
            return replace(template, brokers=int(described["brokers"]), port=int(described["port"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def node(self, node_id: int) -> LocalBroker:
        return self.nodes[node_id - 1]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout_s: float = 120.0) -> bool:
        """Start every node detached and wait until all serve metadata and see each other.
        False when the whole cluster already ran."""
        nodes = self.nodes
        running = [node for node in nodes if node.pid() is not None]
        if len(running) == len(nodes):
            self.wait_ready(timeout_s)
            log.info("kafka.already_running", bootstrap=self.bootstrap)
            return False
        for node in nodes:
            if node.pid() is None:
                node.check_ports()
        nodes[0].fetch_jars()
        cluster_id = self._cluster_id()
        self.description_file.write_text(json.dumps({"brokers": self.brokers, "port": self.port}))
        stopped = [node for node in nodes if node.pid() is None]
        # Formatting is a JVM run per node: side by side. A KRaft node is ready only once a
        # quorum of controllers runs: launch all, then wait.
        with ThreadPoolExecutor(len(stopped)) as pool:
            list(pool.map(lambda node: node.prepare(cluster_id), stopped))
        for node in stopped:
            node.launch()
        self.wait_ready(timeout_s)
        log.info("kafka.cluster_ready", bootstrap=self.bootstrap, brokers=self.brokers)
        return True

    def _cluster_id(self) -> str:
        """One id for every node's storage, kept beside them (a node formatted with another id
        would refuse to join)."""
        path = self.data_dir / "cluster.id"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cluster_id = LocalBroker.new_cluster_id()
        path.write_text(cluster_id)
        return cluster_id

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [node.node_id for node in self.nodes if node.pid() is None]
            if dead:
                raise BrokerError(f"broker(s) {dead} exited; see {self.data_dir}/node-N/broker.log")
            if all(node.ready() for node in self.nodes) and self.live_brokers() == self.brokers:
                return
            time.sleep(0.5)
        raise BrokerError(f"cluster not ready after {timeout_s:.0f}s; see {self.data_dir}/node-N/broker.log")

    def live_brokers(self, timeout_s: float = 3.0) -> int:
        """How many brokers the cluster's metadata lists (the controllers' view: fenced ones drop out)."""
        admin = AdminClient({"bootstrap.servers": self.bootstrap, "socket.connection.setup.timeout.ms": 1000})
        try:
            return len(admin.list_topics(timeout=timeout_s).brokers)
        except Exception:  # a KafkaException or a timeout: none known yet
            return 0

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM every node at once (one at a time, the last would wait for a quorum that is
        gone), SIGKILL what still runs after ``timeout_s``. Returns how many were running."""
        pids = {node.node_id: pid for node in self.nodes if (pid := node.pid()) is not None}
        for pid in pids.values():
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while any(process_alive(pid) for pid in pids.values()):
            if time.monotonic() > deadline:
                for node_id, pid in pids.items():
                    if process_alive(pid):
                        log.warning("kafka.kill", node=node_id, pid=pid, reason="did not stop after SIGTERM")
                        os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.2)
        for node in self.nodes:
            node.pid_file.unlink(missing_ok=True)
        if pids:
            log.info("kafka.cluster_stopped", nodes=sorted(pids))
        return len(pids)
