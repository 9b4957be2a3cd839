"""Traces in the worker: latest report wins, join dimensions cached, late-joined events mended."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message

from consumers.batch import Batch
from consumers.frames import Framed
from consumers.records import decode_one_by_one
from consumers.rows import (
    EVENT_INDEX,
    TraceDims,
    cancelled_trace_row,
    rejoined_rows,
    trace_row,
    trace_version,
)
from consumers.step import FastPathStep, dropped_erased
from consumers.store import Key


class Traces(FastPathStep):
    """Latest report per trace wins: new traces are stored, re-reports replace (and move their
    ``responses`` count), stale or repeated reports are dropped. Events that waited for these
    traces are rejoined. In SQL when it can (``consumers.bulk_traces``), else one by one here."""

    kind = "traces"

    def frames(self, batch: Batch) -> list[tuple[Message, Framed]]:
        return batch.trace_frames

    def one_by_one(self, batch: Batch) -> None:
        traces, invalid = decode_one_by_one("trace", batch.trace_frames, self._decoder, batch.origin)
        batch.traces.extend(traces)
        batch.invalid.extend(invalid)
        self._sink.send(invalid)
        if batch.traces:
            self._store_traces(batch)

    def _store_traces(self, batch: Batch) -> None:
        kept = self._store.without_erased(batch.traces)
        dropped_erased(batch, self.kind, len(batch.traces) - len(kept))
        batch.traces = kept
        latest: dict[Key, dict[str, Any]] = {}
        for trace in batch.traces:
            key = (trace["tenant_id"], trace["trace_id"])
            if key not in latest or trace_version(trace) > trace_version(latest[key]):
                latest[key] = trace
        stored = self._store.stored_trace_versions(latest)
        replaced = [key for key, trace in latest.items() if key in stored and stored[key] < trace_version(trace)]
        previous_rows = {(row[0], row[1]): row for row in self._store.stored_traces(replaced)}
        for key, trace in latest.items():
            if key in stored and stored[key] >= trace_version(trace):
                batch.duplicates += 1
                continue
            previous = previous_rows.get(key)
            if previous is not None:
                batch.trace_rows.append(cancelled_trace_row(previous))
            batch.trace_rows.append(trace_row(trace))
            self._cache.put(key, TraceDims.of_trace(trace))
        # Every trace key of the batch, not only the new ones: a crash between storing a trace
        # and rejoining its events is mended when the batch is read again.
        waiting = self._store.unjoined_events(latest)
        if not waiting:
            return
        dims = self._cache.get_many(latest)
        tenant, trace_id = EVENT_INDEX["tenant_id"], EVENT_INDEX["trace_id"]
        for stored_event in waiting:
            found = dims.get((stored_event[tenant], stored_event[trace_id]))
            if found is not None:
                batch.rejoin_rows.extend(rejoined_rows(stored_event, found))
                batch.rejoined += 1
