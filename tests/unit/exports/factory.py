"""Responses made by hand, for the pure row builders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from exports.responses import Response


def response(trace_id: str = "t1", **fields: Any) -> Response:
    base: dict[str, Any] = {
        "tenant_id": "acme",
        "trace_id": trace_id,
        "has_trace": True,
        "conversation_id": "c1",
        "message_id": f"m-{trace_id}",
        "turn_key": "turn-1",
        "time": datetime(2026, 11, 29, 12, 0, tzinfo=UTC),
        "input_text": "question",
        "output_text": f"answer {trace_id}",
        "model": "gpt-test",
        "model_version": "v1",
        "prompt_version": "p1",
        "feature": "chat",
        "latency_ms": 900,
        "tool_failed": False,
        "doc_ids": [],
        "thumbs_up": 0,
        "thumbs_down": 0,
        "ratings": [],
        "reasons": [],
        "comments": [],
        "copies": 0,
        "edits": 0,
        "regenerates": 0,
        "rephrases": 0,
        "edited_text": None,
        "event_ids": ["e1"],
        "annotations": [],
    }
    base.update(fields)
    return Response(**base)
