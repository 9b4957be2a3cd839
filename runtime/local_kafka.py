"""A real single-node Apache Kafka broker (KRaft) for machines without one.

The broker jars come from Maven Central, fetched once with Maven and cached under the
home directory; the broker runs detached with its pid file beside its data directory.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import structlog
from confluent_kafka.admin import AdminClient

from runtime.errors import BrokerError

log = structlog.get_logger(__name__)

SLF4J_VERSION = "1.7.36"
POM_TEMPLATE = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.feedback</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId><artifactId>slf4j-simple</artifactId><version>{slf4j}</version>
    </dependency>
  </dependencies>
</project>
"""

SERVER_PROPERTIES = """process.roles=broker,controller
node.id={node_id}
controller.quorum.voters={voters}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs={log_dir}
num.partitions=6
auto.create.topics.enable=false
offsets.topic.replication.factor={replication}
offsets.topic.num.partitions=6
transaction.state.log.replication.factor={replication}
transaction.state.log.min.isr={min_isr}
share.coordinator.state.topic.replication.factor={replication}
share.coordinator.state.topic.min.isr={min_isr}
group.initial.rebalance.delay.ms=0
log.retention.hours=168
message.max.bytes={max_message_bytes}
"""

# A node of a local cluster (runtime.local_cluster): topics replicated like production's, and a
# killed broker fenced by the controllers (which takes it out of every ISR and moves its
# leaderships) after 3 s instead of 9, so writes resume soon. Fewer threads: a laptop's cores.
CLUSTER_PROPERTIES = """default.replication.factor={replication}
min.insync.replicas={min_isr}
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=3000
replica.lag.time.max.ms=5000
num.network.threads=2
num.io.threads=2
background.threads=2
"""


@dataclass(frozen=True)
class LocalBroker:
    """One local broker: its jars (shared cache), its data dir and its ports."""

    home: Path
    data_dir: Path
    version: str = "4.1.1"
    port: int = 9092
    controller_port: int = 9093
    heap: str = "768m"
    max_message_bytes: int = 1_048_576  # FEEDBACK_KAFKA_MAX_MESSAGE_BYTES: the same limit as topics and producers
    # As a node of a local cluster (runtime.local_cluster): its id, every controller, their count.
    node_id: int = 1
    voters: str = ""
    cluster_size: int = 1

    @property
    def quorum_voters(self) -> str:
        return self.voters or f"{self.node_id}@127.0.0.1:{self.controller_port}"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def libs_dir(self) -> Path:
        return self.home / self.version / "libs"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "broker.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, timeout_s: float = 90.0) -> bool:
        """Start detached and wait until it serves metadata. False when one was already up."""
        if self.ready():
            log.info("kafka.already_running", bootstrap=self.bootstrap)
            return False
        if self.pid() is not None:
            log.info("kafka.waiting_for_starting_broker", pid=self.pid())
            self.wait_ready(timeout_s)
            return False
        self.check_ports()
        self.fetch_jars()
        self.prepare(self.new_cluster_id())
        proc = self.launch()
        self.wait_ready(timeout_s, proc=proc)
        log.info("kafka.ready", bootstrap=self.bootstrap)
        return True

    def check_ports(self) -> None:
        for port in (self.port, self.controller_port):
            if port_open(port):
                raise BrokerError(f"port {port} is taken by something that does not answer as this Kafka")

    def prepare(self, cluster_id: str) -> None:
        """Write the config and format the log dir once (with the cluster's id)."""
        self._write_config()
        self._format_storage(cluster_id)

    def launch(self) -> subprocess.Popen[bytes]:
        """Start the JVM detached (its own session: it outlives this process) and record its pid."""
        with self.log_file.open("ab") as out:
            proc = subprocess.Popen(
                self._java("kafka.Kafka", str(self.config_file)),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(proc.pid))
        log.info("kafka.starting", pid=proc.pid, node=self.node_id, bootstrap=self.bootstrap, log=str(self.log_file))
        return proc

    def stop(self, timeout_s: float = 60.0) -> bool:
        """Stop the broker this data dir started and wait until it is gone. False when none ran."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while process_alive(pid):
            if time.monotonic() > deadline:
                log.warning("kafka.kill", pid=pid, reason="did not stop after SIGTERM")
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 10
            time.sleep(0.2)
        self.pid_file.unlink(missing_ok=True)
        log.info("kafka.stopped", pid=pid)
        return True

    def pid(self) -> int | None:
        """Pid of the broker started from this data dir, if it still runs."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not process_alive(pid):
            self.pid_file.unlink(missing_ok=True)
            return None
        return pid

    def ready(self) -> bool:
        return port_open(self.port) and metadata_ok(self.bootstrap)

    def wait_ready(self, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise BrokerError(f"broker exited with code {proc.returncode}; see {self.log_file}")
            if self.ready():
                return
            time.sleep(0.3)
        raise BrokerError(f"broker not ready after {timeout_s:.0f}s; see {self.log_file}")

    # -- setup -------------------------------------------------------------------------------

    def fetch_jars(self) -> None:
        """Resolve kafka_2.13 and its dependencies from Maven Central into the cache, once."""
        marker = self.libs_dir / ".complete"
        if marker.exists():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerError("Maven (mvn) is needed once to fetch the Kafka jars; install it (apt-get install maven)")
        work = self.home / self.version
        work.mkdir(parents=True, exist_ok=True)
        (work / "pom.xml").write_text(POM_TEMPLATE.format(kafka=self.version, slf4j=SLF4J_VERSION))
        log.info("kafka.fetching_jars", version=self.version, into=str(self.libs_dir))
        result = subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(work / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs_dir}",
                "-DincludeScope=runtime",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"mvn could not fetch the Kafka jars:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        marker.touch()

    def config_text(self) -> str:
        replication, min_isr = min(3, self.cluster_size), min(2, self.cluster_size)
        text = SERVER_PROPERTIES.format(
            node_id=self.node_id,
            voters=self.quorum_voters,
            port=self.port,
            controller_port=self.controller_port,
            log_dir=self.log_dir,
            max_message_bytes=self.max_message_bytes,
            replication=replication,
            min_isr=min_isr,
        )
        if self.cluster_size > 1:
            text += CLUSTER_PROPERTIES.format(replication=replication, min_isr=min_isr)
        return text

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.config_text())

    @staticmethod
    def new_cluster_id() -> str:
        """What ``kafka-storage.sh random-uuid`` prints (a Kafka Uuid: 16 random bytes, base64url
        without padding, never starting with "-"), without starting a JVM for it."""
        while True:
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
            if not cluster_id.startswith("-"):
                return cluster_id

    def _format_storage(self, cluster_id: str) -> None:
        if (self.log_dir / "meta.properties").exists():
            return
        result = subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.config_file)),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"formatting the broker storage failed: {result.stdout}{result.stderr}")

    def _java(self, main_class: str, *args: str) -> list[str]:
        java = shutil.which("java")
        if java is None:
            raise BrokerError("a Java 17+ runtime is needed to run the local broker (apt-get install openjdk-17-jre)")
        return [
            java, f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp", f"{self.libs_dir}/*", main_class, *args,
        ]  # fmt: skip


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def metadata_ok(bootstrap: str, timeout_s: float = 3.0) -> bool:
    """True when the broker answers a metadata request."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000})
    try:
        admin.list_topics(timeout=timeout_s)
    except Exception:  # a KafkaException or a timeout: not ready
        return False
    return True


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; treat it as gone.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return True
    return state != "Z"
