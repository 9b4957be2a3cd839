"""``POST /v1/annotations`` (docs/contract.md §3): reviewers' labels on queued items, secret key.

The collector validates each item (``field: reason`` like ``/v1/events``) and hands the valid
ones to an ``AnnotationSink``, which stores them in ClickHouse (``annotation/store.py``, wired by
``feedback/services.py``) and may refuse some itself (an item that is not in its queue). The
answer is ``200 {"accepted": N, "rejected": [{"index", "item_id", "errors"}]}`` once the accepted
labels are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import ValidationError

from producers.errors import BadRequest, TooLarge
from producers.intake import format_errors
from schemas.annotations import ITEMS_MAX, AnnotationIn


@dataclass(frozen=True)
class AnnotationRejection:
    index: int
    item_id: str | None
    errors: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"index": self.index, "item_id": self.item_id, "errors": self.errors}


@dataclass(frozen=True)
class Validated:
    """The valid items with their index in the request, and the refused ones with reasons."""

    items: list[tuple[int, AnnotationIn]]
    rejected: list[AnnotationRejection]


class AnnotationSink(Protocol):
    def store(
        self, tenant: str, items: list[tuple[int, AnnotationIn]], received_at_ms: int, via: str
    ) -> list[AnnotationRejection]:
        """Store the items of ``tenant``; the ones refused come back with reasons."""


def annotation_items(body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("annotations"), list):
        raise BadRequest('annotations: expected {"annotations": [ANNOTATION, ...]}')
    items: list[Any] = body["annotations"]
    if not items:
        raise BadRequest("annotations: empty, nothing to accept")
    if len(items) > ITEMS_MAX:
        raise TooLarge(f"annotations: {len(items)} items, at most {ITEMS_MAX} per request")
    return items


def validate(items: list[Any], first_index: int = 0) -> Validated:
    """Each item on its own: a bad one is refused with its reasons, the others still go in."""
    valid: list[tuple[int, AnnotationIn]] = []
    rejected: list[AnnotationRejection] = []
    for index, item in enumerate(items, start=first_index):
        if not isinstance(item, dict):
            rejected.append(AnnotationRejection(index, None, [f"{index}: expected a JSON object"]))
            continue
        try:
            valid.append((index, AnnotationIn.model_validate({k: v for k, v in item.items() if k != "tenant_id"})))
        except ValidationError as exc:
            item_id = item.get("item_id")
            rejected.append(
                AnnotationRejection(index, item_id if isinstance(item_id, str) else None, format_errors(exc))
            )
    return Validated(valid, rejected)
