"""Where the worker looks a trace up by id alone: the projection itself where the server can read it
(one server), else the table, which picks the projection (a cluster's Distributed table, or a server
without ``mergeTreeProjection``)."""

from __future__ import annotations

from consumers.live_traces import by_trace_source


def test_the_lookup_by_id_reads_the_projection_directly_only_where_it_can() -> None:
    assert by_trace_source("feedback", direct=True) == ("mergeTreeProjection(feedback, traces_log, by_trace)", 0)
    assert by_trace_source("feedback", direct=False) == ("feedback.traces_log", 1)
