"""One bench stage's private world: a temp dir, unique topics, a keys file, its settings.

Everything is removed on exit: the temp dir (chdb engines live there) and the topics.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path
from types import TracebackType

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from pydantic import SecretStr

from bench.data import TENANT
from runtime.kafka import ensure_topics
from runtime.settings import Settings
from schemas.vocabulary import TOPIC_KINDS

BOOTSTRAP = os.environ.get("FEEDBACK_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
KEYS = {"public": "pk_bench_public", "secret": "sk_bench_secret", "admin": "ak_bench_admin"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Workspace:
    """``with Workspace("collector") as ws:`` — topics created, keys written, cleaned up after."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.run_id = uuid.uuid4().hex[:10]
        self.root = Path(tempfile.mkdtemp(prefix=f"feedback-bench-{stage}-"))
        self.keys_file = self.root / "keys.json"
        self.http_addr = f"127.0.0.1:{free_port()}"
        self.settings = Settings(
            kafka_bootstrap=BOOTSTRAP,
            topic_prefix=f"bench-{self.run_id}.",
            keys_file=self.keys_file,
            http_addr=self.http_addr,
            clickhouse_url=SecretStr(f"chdb://{self.root / 'clickhouse'}"),
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.http_addr}"

    def chdb_url(self, name: str) -> str:
        return f"chdb://{self.root / name}"

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment of a ``feedback`` subprocess working in this workspace."""
        env = {
            **os.environ,
            "FEEDBACK_KAFKA_BOOTSTRAP": BOOTSTRAP,
            "FEEDBACK_TOPIC_PREFIX": self.settings.topic_prefix,
            "FEEDBACK_KEYS_FILE": str(self.keys_file),
            "FEEDBACK_HTTP_ADDR": self.http_addr,
            "FEEDBACK_CLICKHOUSE_URL": self.chdb_url("clickhouse"),
            "FEEDBACK_LOG_LEVEL": "warning",
            "FEEDBACK_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
            # The bench measures capacity: the limits stay on, so their cost counts, but high enough
            # never to refuse (its clients are one address and a few thousand users, far above a
            # human's pace; the default per-key limit is 20,000 items/s).
            "FEEDBACK_RATE_LIMIT_KEY_PER_S": "100000000",
            "FEEDBACK_RATE_LIMIT_KEY_BURST": "100000000",
            "FEEDBACK_RATE_LIMIT_ADDRESS_PER_S": "100000000",
            "FEEDBACK_RATE_LIMIT_ADDRESS_BURST": "100000000",
            "FEEDBACK_RATE_LIMIT_USER_PER_S": "100000000",
            "FEEDBACK_RATE_LIMIT_USER_BURST": "100000000",
        }
        env.update(overrides)
        return env

    def __enter__(self) -> Workspace:
        keys = [
            {"key": KEYS["public"], "tenant": TENANT, "kind": "public"},
            {"key": KEYS["secret"], "tenant": TENANT, "kind": "secret"},
            {"key": KEYS["admin"], "kind": "admin"},
        ]
        self.keys_file.write_text(json.dumps({"keys": keys}))
        ensure_topics(self.settings)
        return self

    def __exit__(
        self, _type: type[BaseException] | None, _exc: BaseException | None, _tb: TracebackType | None
    ) -> None:
        try:
            delete_topics([self.settings.topic(kind) for kind in TOPIC_KINDS])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def delete_topics(topics: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    for future in admin.delete_topics(topics, operation_timeout=15).values():
        with contextlib.suppress(KafkaException):  # already gone, or the broker cleans up on its own
            future.result()
