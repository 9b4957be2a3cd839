"""Traces in the worker: latest report wins, join dimensions cached, late-joined events mended."""

from __future__ import annotations

from typing import Any

from confluent_kafka import Message

from consumers.batch import Batch
from consumers.frames import Framed
from consumers.isolate import store_isolating
from consumers.outcome import Outcome
from consumers.records import decode_one_by_one
from consumers.rows import (
    EVENT_INDEX,
    TRACE_INDEX,
    Row,
    TraceDims,
    cancelled_trace_row,
    rejoined_rows,
    trace_row,
    trace_version,
)
from consumers.step import FastPathStep, without_erased
from consumers.store import Key

SIGN = TRACE_INDEX["sign"]


class Traces(FastPathStep):
    """Latest report per trace wins: new traces are stored, re-reports replace (and move their
    ``responses`` count), stale or repeated reports are dropped. Events that waited for these
    traces are rejoined. In SQL when it can (``consumers.bulk_traces``), else one by one here.
    Traces and rejoined events are written before the batch's events (the next step): a new event
    then finds its trace, and a crash leaves events to be rejoined, never joined to nothing."""

    kind = "traces"

    def frames(self, batch: Batch) -> list[tuple[Message, Framed]]:
        return batch.trace_frames

    def one_by_one(self, batch: Batch) -> Outcome:
        traces, invalid = decode_one_by_one("trace", batch.trace_frames, self._decoder, batch.origin)
        self._sink.send(invalid)
        traces, erased = without_erased(self._store, self.kind, traces)
        done = Outcome(invalid=len(invalid), erased=erased)
        if not traces:
            return done
        latest = self._latest(traces)
        trace_rows = self._trace_rows(latest)
        rejoin_rows = self._rejoin_rows(latest)
        trace_rows, refused = store_isolating(batch, "trace", self._store.insert_traces, trace_rows, self._sink)
        rejoin_rows, _ = store_isolating(batch, "rejoin", self._store.insert_events, rejoin_rows, self._sink)
        # every trace of the batch, as for the events: idempotent, mends a crash
        self._store.mend_opinions({(trace["tenant_id"], trace["trace_id"]) for trace in traces})
        stored = sum(1 for row in trace_rows if row[SIGN] == 1)  # one new report per trace stored
        # the messages of a refused trace were dead-lettered: neither stored nor duplicates
        duplicates = len(traces) - stored - refused
        return done + Outcome(traces=stored, duplicates=duplicates, invalid=refused, rejoined=len(rejoin_rows) // 2)

    @staticmethod
    def _latest(traces: list[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
        """The latest report of each trace of the batch."""
        latest: dict[Key, dict[str, Any]] = {}
        for trace in traces:
            key = (trace["tenant_id"], trace["trace_id"])
            if key not in latest or trace_version(trace) > trace_version(latest[key]):
                latest[key] = trace
        return latest

    def _trace_rows(self, latest: dict[Key, dict[str, Any]]) -> list[Row]:
        """The rows to write: for each trace whose latest report is newer than what is stored (or
        not stored at all), the stored report's cancel row, then the new one."""
        stored = self._store.stored_trace_versions(latest)
        replaced = [key for key, trace in latest.items() if key in stored and stored[key] < trace_version(trace)]
        previous_rows = {(row[0], row[1]): row for row in self._store.stored_traces(replaced)}
        rows: list[Row] = []
        for key, trace in latest.items():
            if key in stored and stored[key] >= trace_version(trace):
                continue
            previous = previous_rows.get(key)
            if previous is not None:
                rows.append(cancelled_trace_row(previous))
            rows.append(trace_row(trace))
            self._cache.put(key, TraceDims.of_trace(trace))
        return rows

    def _rejoin_rows(self, latest: dict[Key, dict[str, Any]]) -> list[Row]:
        """The cancel row and the joined next version of each stored event waiting for one of
        these traces. Every trace key of the batch, not only the new ones: a crash between storing
        a trace and rejoining its events is mended when the batch is read again."""
        waiting = self._store.unjoined_events(latest)
        if not waiting:
            return []
        dims = self._cache.get_many(latest)
        tenant, trace_id = EVENT_INDEX["tenant_id"], EVENT_INDEX["trace_id"]
        rows: list[Row] = []
        for stored_event in waiting:
            found = dims.get((stored_event[tenant], stored_event[trace_id]))
            if found is not None:
                rows.extend(rejoined_rows(stored_event, found))
        return rows
