"""Deterministic, valid EVENTs and TRACEs (docs/contract.md §4 and §5), with a realistic mix.

Every event points at a trace (but ``abandon``), two events per trace on average, three traces
per conversation; the same seed gives the same ids, so a child process can rebuild the data.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

TENANT = "bench"
# Event types and their share of the traffic: mostly implicit signals, some explicit feedback.
TYPE_WEIGHTS: dict[str, int] = {
    "thumbs": 22,
    "rating": 8,
    "comment": 4,
    "edit": 4,
    "copy": 22,
    "regenerate": 10,
    "rephrase": 6,
    "abandon": 4,
    "dwell": 20,
}
EVENTS_PER_TRACE = 2
TRACES_PER_CONVERSATION = 3
MODELS = (("gpt-4.1", "2026-04-14", "openai"), ("claude-sonnet-4", "2026-05-01", "anthropic"))
# The PII-laden mix (``Generator(pii=True)``): every comment and edited text carries one of these,
# in turn, and a third of the property maps an e-mail address: far more than real traffic, so the
# redaction bench measures the cost of finding and replacing, not only of looking.
PII = (
    "jane.doe@example.com",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "203.0.113.77",
    "sk-proj-Abcdefghijklmnopqrstuvwx12345",
    "(415) 555-2671",
)


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@dataclass
class Generator:
    """Makes events and traces; ``trace_of_event(i)`` ties event ``i`` to its trace."""

    seed: int
    run: str = "r"
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    pii: bool = False  # the PII-laden mix

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._types = list(TYPE_WEIGHTS)
        self._weights = list(TYPE_WEIGHTS.values())

    def trace_id(self, trace_index: int) -> str:
        return f"{self.run}-t{trace_index}"

    def message_id(self, trace_index: int) -> str:
        return f"{self.run}-m{trace_index}"

    def conversation_id(self, trace_index: int) -> str:
        return f"{self.run}-c{trace_index // TRACES_PER_CONVERSATION}"

    def event(self, index: int, **fields: Any) -> dict[str, Any]:
        rng = self._rng
        kind = rng.choices(self._types, self._weights)[0]
        trace_index = index // EVENTS_PER_TRACE
        item: dict[str, Any] = {
            "event_id": _id(rng),
            "type": kind,
            "timestamp": self.now_ms - rng.randrange(0, 5_000),
            "conversation_id": self.conversation_id(trace_index),
            "trace_id": self.trace_id(trace_index),
            "message_id": self.message_id(trace_index),
            "session_id": f"{self.run}-s{trace_index // 30}",
            "user_id": f"u{rng.randrange(5_000)}",
        }
        if kind == "thumbs":
            up = rng.random() < 0.6
            item["value"] = "up" if up else "down"
            item["reasons"] = ["useful"] if up else ["hallucinated", "too_long"]
        elif kind == "rating":
            item["value"] = rng.randint(1, 5)
            item["comment"] = "ok" if rng.random() < 0.2 else None
        elif kind == "comment":
            item["comment"] = "The answer cited the wrong policy document; please check section 4."
            if self.pii:
                item["comment"] += f" Write to me: {self._pii(index)}"
        elif kind == "edit":
            item["edited_text"] = "Thanks for reaching out. Your refund was issued on Monday."
            if self.pii:
                item["edited_text"] += f" We will call {self._pii(index)} if anything is missing."
            item["edit_distance"] = rng.randrange(1, 80)
        elif kind == "copy":
            item["copied_chars"] = rng.randrange(10, 2_000)
        elif kind == "regenerate":
            item["attempt"] = rng.randint(2, 4)
        elif kind == "dwell":
            item["dwell_ms"] = rng.randrange(200, 60_000)
        elif kind == "abandon":
            item.pop("trace_id")
            item.pop("message_id")
        if rng.random() < 0.3:
            item["properties"] = {"page": "/chat", "locale": "en-GB"}
            if self.pii and index % 3 == 0:
                item["properties"]["contact"] = PII[0]
        item.update(fields)
        return {key: value for key, value in item.items() if value is not None}

    def _pii(self, index: int) -> str:
        return PII[index % len(PII)]

    def trace(self, trace_index: int) -> dict[str, Any]:
        rng = self._rng
        model, version, provider = MODELS[trace_index % len(MODELS)]
        item: dict[str, Any] = {
            "trace_id": self.trace_id(trace_index),
            "conversation_id": self.conversation_id(trace_index),
            "message_id": self.message_id(trace_index),
            "timestamp": self.now_ms - rng.randrange(5_000, 10_000),
            "model": model,
            "model_version": version,
            "provider": provider,
            "prompt_template": "support",
            "prompt_version": f"v{1 + trace_index % 3}",
            "feature": "chat",
            "environment": "prod",
            "input_tokens": rng.randrange(50, 4_000),
            "output_tokens": rng.randrange(20, 1_500),
            "latency_ms": rng.randrange(200, 9_000),
            "time_to_first_token_ms": rng.randrange(80, 900),
            "streaming": True,
            "retrieval": {"doc_ids": ["kb-1", "kb-7"], "scores": [0.82, 0.61], "chunk_count": 2},
        }
        if rng.random() < 0.3:
            item["tools"] = [{"name": "search", "success": rng.random() < 0.9, "latency_ms": 120}]
        return item

    def event_batches(self, batches: int, size: int, start: int = 0) -> list[list[dict[str, Any]]]:
        return [[self.event(start + b * size + i) for i in range(size)] for b in range(batches)]


def events_body(items: list[dict[str, Any]], sent_at: int | None = None) -> bytes:
    """A ``POST /v1/events`` body."""
    body: dict[str, Any] = {"events": items}
    if sent_at is not None:
        body["sent_at"] = sent_at
    return orjson.dumps(body)
