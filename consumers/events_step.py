"""Events in the worker: stored once each (by tenant and event_id), joined to their trace.

The fast path hands the batch to ClickHouse (``consumers.bulk``). When ClickHouse cannot read a
batch or a record breaks the contract, the slow path
decodes each message with fastavro: poison goes to the DLQ one by one, the rest is stored the
same way.
"""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message

from consumers.batch import Batch
from consumers.frames import Framed
from consumers.isolate import store_isolating
from consumers.opinions import OPINION_TYPES
from consumers.outcome import Outcome
from consumers.records import decode_one_by_one
from consumers.rows import EVENT_INDEX, event_row
from consumers.step import FastPathStep, without_erased
from consumers.store import Key
from schemas.vocabulary import DERIVED_TYPES, EXPLICIT_TYPES


class Events(FastPathStep):
    kind = "events"
    # whether the slow path reads back the records announcing what it stored (telemetry on)
    announce = False

    def frames(self, batch: Batch) -> list[tuple[Message, Framed]]:
        return batch.event_frames

    def one_by_one(self, batch: Batch) -> Outcome:
        events, invalid = decode_one_by_one("event", batch.event_frames, self._decoder, batch.origin)
        self._sink.send(invalid)
        return Outcome(invalid=len(invalid)) + self._store_rows(batch, events)

    def _store_rows(self, batch: Batch, events: list[dict[str, Any]]) -> Outcome:
        """Each event once (by tenant and event_id): new ones stored, joined to their trace when
        it is known; the others are duplicates (stored before, or repeated in the batch). Events
        of erased users are dropped first."""
        events, erased = without_erased(self._store, self.kind, events)
        unique: dict[Key, dict[str, Any]] = {}
        for event in events:
            unique.setdefault((event["tenant_id"], event["event_id"]), event)
        stored = self._store.stored_event_ids(unique)
        fresh = [event for key, event in unique.items() if key not in stored]
        trace_keys = {(e["tenant_id"], e["trace_id"]) for e in fresh if e["trace_id"]}
        dims = self._cache.get_many(trace_keys) if trace_keys else {}
        rows = [event_row(e, dims.get((e["tenant_id"], e["trace_id"] or ""))) for e in fresh]
        rows, refused = store_isolating(batch, "event", self._store.insert_events, rows, self._sink)
        self._store.record_opinions(key for key, event in unique.items() if event["type"] in OPINION_TYPES)
        self._store.supersede_derived(key for key, event in unique.items() if event["type"] in DERIVED_TYPES)
        if self.announce:
            kind, tenant, event_id = EVENT_INDEX["type"], EVENT_INDEX["tenant_id"], EVENT_INDEX["event_id"]
            batch.announced.extend(
                self._store.announcements((row[tenant], row[event_id]) for row in rows if row[kind] in EXPLICIT_TYPES)
            )
        # the messages of a refused event were dead-lettered: neither stored nor duplicates
        return Outcome(events=len(rows), duplicates=len(events) - len(rows) - refused, invalid=refused, erased=erased)
