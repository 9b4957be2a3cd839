"""The contract's closed vocabularies (docs/contract.md §4), in one place."""

from __future__ import annotations

from typing import Final

EXPLICIT_TYPES: Final = frozenset({"thumbs", "rating", "comment", "edit"})
IMPLICIT_TYPES: Final = frozenset({"copy", "regenerate", "rephrase", "abandon", "dwell"})
EVENT_TYPES: Final = EXPLICIT_TYPES | IMPLICIT_TYPES
# The implicit types the server also derives by itself (quality/derive.py); a client signal of
# the same type on the same response supersedes the derived one (consumers/superseded.py).
DERIVED_TYPES: Final = frozenset({"rephrase", "abandon"})

THUMB_VALUES: Final = ("up", "down", "none")
UP_REASONS: Final = frozenset({"correct", "clear", "fast", "useful", "good_citations"})
DOWN_REASONS: Final = frozenset(
    {
        "incorrect",
        "hallucinated",
        "ignored_instructions",
        "bad_tone",
        "too_long",
        "too_short",
        "missing_sources",
        "slow",
        "tool_failed",
        "other",
    }
)

ID_MAX = 128
COMMENT_MAX = 4000
EDITED_TEXT_MAX = 32000
PROPERTIES_MAX = 50
PROPERTY_KEY_MAX = 128
PROPERTY_VALUE_MAX = 1024
TRACE_TEXT_MAX = 256_000


# The topics the workers read, and the Avro subject each carries; the DLQ carries letters.
SUBJECT_OF_TOPIC_KIND: Final = {"explicit": "event", "implicit": "event", "traces": "trace"}
WORKER_TOPIC_KINDS: Final = tuple(SUBJECT_OF_TOPIC_KIND)
TOPIC_KINDS: Final = (*WORKER_TOPIC_KINDS, "dlq")


def topic_kind(event_type: str) -> str:
    """The topic kind (``explicit`` or ``implicit``) an event type is routed to."""
    return "explicit" if event_type in EXPLICIT_TYPES else "implicit"
