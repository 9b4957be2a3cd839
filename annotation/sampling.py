"""``feedback sample``: pick what reviewers should look at and add it to a queue.

Never the same response twice in one queue: what the queue holds is left out of the candidates.
Two runs on the same queue at the same moment could still both add an item; the queue
(the ``annotation_queue`` view) shows it once all the same, with the first run's row.
Same seed, same data (the queue's contents included) → same sample.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import structlog
from clickhouse_connect.driver.client import Client

from annotation.candidates import DIMENSIONS, flagged, queued_keys, queued_texts, uniform
from annotation.strategies import Pick, Stratum, cluster, novel, stratified
from schemas.vocabulary import ID_MAX

log = structlog.get_logger(__name__)

QUEUE_COLUMNS = (
    "tenant_id", "queue", "item_id", "trace_id", "message_id", "conversation_id", "strategy", "stratum", "added_at",
    "run_id",
)  # fmt: skip
SIZE_MAX = 100_000


class Strategy(StrEnum):
    STRATIFIED = "stratified"
    RANDOM = "random"
    NOVEL = "novel"
    CLUSTER = "cluster"
    MIXED = "mixed"


class SampleError(ValueError):
    """A sample request is malformed; the message names the option and the reason."""


@dataclass(frozen=True)
class SampleRequest:
    queue: str
    size: int
    strategy: Strategy = Strategy.MIXED
    by: str = "feature"
    random_share: float = 0.1
    seed: int = 0
    since: datetime | None = None
    tenant: str | None = None
    reference: Sequence[str] = field(default_factory=tuple)  # texts `novel` must stay away from

    def check(self) -> None:
        if not self.queue or len(self.queue) > ID_MAX:
            raise SampleError(f"--queue: 1 to {ID_MAX} characters")
        if not 1 <= self.size <= SIZE_MAX:
            raise SampleError(f"--size: {self.size} is not between 1 and {SIZE_MAX}")
        if self.by not in DIMENSIONS:
            raise SampleError(f"--by: {self.by!r} is not one of {', '.join(DIMENSIONS)}")
        if not 0 <= self.random_share <= 1:
            raise SampleError(f"--random-share: {self.random_share} is not between 0 and 1")


@dataclass(frozen=True)
class SampleResult:
    run_id: str
    picks: list[Pick]
    strata: list[Stratum]
    flagged: int  # flagged responses in range not yet in the queue (the candidates but random's)


def sample(client: Client, request: SampleRequest, now: datetime | None = None) -> SampleResult:
    """Pick and queue; ``client`` must be connected to the feedback database."""
    request.check()
    queued = queued_keys(client, request.queue, request.tenant)
    fresh = []
    if request.strategy is not Strategy.RANDOM:
        with_text = request.strategy in (Strategy.NOVEL, Strategy.CLUSTER)
        fresh = [c for c in flagged(client, request.tenant, request.since, with_text) if c.key not in queued]
    picks: list[Pick]
    strata: list[Stratum]
    if request.strategy is Strategy.STRATIFIED:
        picks, strata = stratified(fresh, request.by, request.size, request.seed)
    elif request.strategy is Strategy.CLUSTER:
        picks, strata = cluster(fresh, request.size, request.seed)
    elif request.strategy is Strategy.NOVEL:
        reference = [*queued_texts(client, request.queue, request.tenant), *request.reference]
        picks, strata = novel(fresh, reference, request.size, request.seed)
    else:
        share = 1.0 if request.strategy is Strategy.RANDOM else request.random_share
        random_budget = math.floor(request.size * share + 0.5)  # rounded half up: 5 at 0.1 is 1
        picks, strata = [], []
        if request.strategy is Strategy.MIXED:
            picks, strata = stratified(fresh, request.by, request.size - random_budget, request.seed)
        drawn = uniform(
            client, request.tenant, request.since, request.seed, random_budget, request.queue,
            {p.candidate.key for p in picks},
        )  # fmt: skip
        picks += [Pick(c, "random", "") for c in drawn]
        strata.append(Stratum("random", None, len(drawn)))
    run_id = uuid.uuid4().hex
    added_at = now or datetime.now(UTC)
    rows = [
        [
            p.candidate.tenant_id, request.queue, p.candidate.item_id, p.candidate.trace_id, p.candidate.message_id,
            p.candidate.conversation_id, p.strategy, p.stratum, added_at, run_id,
        ]
        for p in picks
    ]  # fmt: skip
    if rows:
        client.insert("annotation_queue_log", rows, column_names=list(QUEUE_COLUMNS))
    log.info(
        "annotation.sampled",
        queue=request.queue,
        tenant=request.tenant,
        strategy=request.strategy.value,
        seed=request.seed,
        queued=len(rows),
        run_id=run_id,
    )
    return SampleResult(run_id, picks, strata, len(fresh))
