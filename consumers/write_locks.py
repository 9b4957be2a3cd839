"""One writer per partition, also for replays and rejoins: a write lock per shard of a database.

The worker's dedupe is check-then-insert (is this event stored? then insert it), which is exact
only while one writer at a time handles a conversation. Kafka gives each live worker its
partitions; a replay or a ``feedback rejoin`` writes beside the live workers, so every writer
takes the lock of the shards it writes around its dedupe and insert:

- a shard is a partition number: every topic has the same partition count and one
  conversation's key, so one conversation's events and traces are all in shard ``p``;
- the live worker and a replay hold the shards of the batch they store, a rejoin holds every
  shard for one chunk (it looks events up by state, not by partition); each acquisition is all
  at once, so no two writers can deadlock, and a waiting rejoin goes before new batches.

The locks are in-process: they serialise the writers of one process. With the embedded engine
that is every writer (``feedback replay`` and ``feedback rejoin`` run inside the running
``feedback up`` that owns the engine). With a ClickHouse server, live workers may run in other
processes: a replay into the live database then goes through the live group instead of writing
(``operations.replay_forward``); a ``feedback rejoin`` sweep is exact against the writers of its
own process (run it through ``POST /v1/rejoin`` of the pipeline, or with no other worker process
of the group running), since nothing short of a lock service could serialise it with a worker
elsewhere. A replay into a database of its own needs nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

EVERY_SHARD = None


class ShardLocks:
    """The write locks of one database."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held: set[int] = set()
        self._all_held = False
        self._all_waiting = 0

    def _free(self, wanted: set[int] | None) -> bool:
        if self._all_held:
            return False
        if wanted is None:
            return not self._held
        return not self._all_waiting and not (self._held & wanted)

    @contextmanager
    def hold(self, shards: Iterable[int] | None) -> Iterator[None]:
        """Hold these shards (``EVERY_SHARD``: all of them) until the block ends."""
        wanted = None if shards is None else set(shards)
        with self._changed:
            if wanted is None:
                self._all_waiting += 1
            try:
                self._changed.wait_for(lambda: self._free(wanted))
            finally:
                if wanted is None:
                    self._all_waiting -= 1
            if wanted is None:
                self._all_held = True
            else:
                self._held |= wanted
        try:
            yield
        finally:
            with self._changed:
                if wanted is None:
                    self._all_held = False
                else:
                    self._held -= wanted
                self._changed.notify_all()


_registry: dict[str, ShardLocks] = {}
_registry_lock = threading.Lock()


def locks_of(database: str) -> ShardLocks:
    """The one set of write locks of ``database`` in this process."""
    with _registry_lock:
        return _registry.setdefault(database, ShardLocks())
