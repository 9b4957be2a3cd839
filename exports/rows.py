"""The rows of each export kind, built from responses: eval, sft (chat) and dpo (preference).

Each builder yields ``Row`` (a row and the response times it covers) or ``Skip`` (a candidate
left out, and why), so the summary can say what was skipped by reason.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from exports.filters import format_time
from exports.pairs import Preference, prefer
from exports.responses import Response

SCHEMA_VERSION = 1

NO_TRACE = "no trace for the response's trace_id"
NO_INPUT = "no input_text on trace"
NO_OUTPUT = "no output_text on trace"
EDIT_EQUALS_OUTPUT = "edited text equals the output"
PROMPTS_DIFFER = "attempts of the turn have different input_text"
SIDES_EQUAL = "chosen and rejected outputs are equal"
CONFLICT = "thumbs and ratings prefer different attempts"


class Kind(StrEnum):
    EVAL = "eval"
    SFT = "sft"
    DPO = "dpo"


@dataclass(frozen=True)
class Row:
    data: dict[str, Any]
    times: tuple[datetime, ...]


@dataclass(frozen=True)
class Skip:
    reason: str


Built = Row | Skip


def stable_id(*parts: str) -> str:
    """The same inputs give the same id in every run (128 bits of sha256, hex)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _missing_text(response: Response, need_output: bool = True) -> str | None:
    if not response.has_trace:
        return NO_TRACE
    if not response.input_text:
        return NO_INPUT
    if need_output and not response.output_text:
        return NO_OUTPUT
    return None


def _lineage(response: Response) -> dict[str, Any]:
    return {
        "tenant": response.tenant_id,
        "conversation_id": response.conversation_id,
        "trace_id": response.trace_id,
        "message_id": response.message_id,
        "time": format_time(response.time),
        "event_ids": response.event_ids,
    }


def _dimensions(response: Response) -> dict[str, Any]:
    return {
        "model": response.model,
        "model_version": response.model_version,
        "prompt_version": response.prompt_version,
        "feature": response.feature,
    }


# -- eval ---------------------------------------------------------------------------------------


def eval_rows(responses: Iterable[Response]) -> Iterator[Built]:
    """One row per response with a negative signal (see ``Response.negative``)."""
    for response in responses:
        if not response.negative:
            continue
        missing = _missing_text(response)
        if missing:
            yield Skip(missing)
            continue
        yield Row(
            {
                "id": stable_id("eval", response.tenant_id, response.trace_id),
                "input": response.input_text,
                "output": response.output_text,
                "expected": response.edited_text,
                "labels": {
                    "thumb": response.thumb,
                    "thumbs_up": response.thumbs_up,
                    "thumbs_down": response.thumbs_down,
                    "rating": response.rating,
                    "ratings": len(response.ratings),
                    "reasons": response.reasons,
                    "comments": response.comments,
                },
                "signals": {
                    "copies": response.copies,
                    "edits": response.edits,
                    "regenerates": response.regenerates,
                    "rephrases": response.rephrases,
                },
                "trace": {
                    **_dimensions(response),
                    "latency_ms": response.latency_ms,
                    "tool_failed": response.tool_failed,
                    "doc_ids": response.doc_ids,
                },
                "lineage": _lineage(response),
                "annotations": response.annotations,
            },
            (response.time,),
        )


# -- sft ----------------------------------------------------------------------------------------


def sft_rows(responses: Iterable[Response], metadata: bool = True) -> Iterator[Built]:
    """Chat rows: the user's edited text (edit-to-final), else the output of a response rated up
    that drew no negative signal."""
    for response in responses:
        if response.edited_text is not None:
            source, missing = "edit", _missing_text(response, need_output=False)
            final: str | None = response.edited_text
        elif response.rated_up and not response.negative:
            source, missing = "rated_up", _missing_text(response)
            final = response.output_text
        else:
            continue
        if missing:
            yield Skip(missing)
            continue
        row: dict[str, Any] = {
            "messages": [
                {"role": "user", "content": response.input_text},
                {"role": "assistant", "content": final},
            ]
        }
        if metadata:
            row["metadata"] = {
                "id": stable_id("sft", response.tenant_id, response.trace_id),
                "source": source,
                **_lineage(response),
                **_dimensions(response),
            }
        yield Row(row, (response.time,))


# -- dpo ----------------------------------------------------------------------------------------


def _side(response: Response, source: str) -> dict[str, Any]:
    return {
        "source": source,
        **_lineage(response),
        **_dimensions(response),
        "thumb": response.thumb,
        "rating": response.rating,
    }


def _pair(
    pair_id: str, source: str, prompt: str, chosen: tuple[str, dict[str, Any]], rejected: tuple[str, dict[str, Any]]
) -> dict[str, Any]:
    return {
        "prompt": prompt,
        "chosen": chosen[0],
        "rejected": rejected[0],
        "metadata": {"id": pair_id, "source": source, "chosen": chosen[1], "rejected": rejected[1]},
    }


def _edit_pair(response: Response) -> Iterator[Built]:
    missing = _missing_text(response)
    if missing:
        yield Skip(missing)
        return
    prompt, edited, output = response.input_text or "", response.edited_text or "", response.output_text or ""
    if edited == output:
        yield Skip(EDIT_EQUALS_OUTPUT)
        return
    pair_id = stable_id("dpo", "edit", response.tenant_id, response.trace_id)
    chosen = (edited, _side(response, "edit"))
    rejected = (output, _side(response, "output"))
    yield Row(_pair(pair_id, "edit", prompt, chosen, rejected), (response.time,))


def _attempt_pair(a: Response, b: Response) -> Iterator[Built]:
    preference = prefer(a, b)
    if preference is Preference.NONE:
        return
    if preference is Preference.CONFLICT:
        yield Skip(CONFLICT)
        return
    better, worse = (a, b) if preference is Preference.FIRST else (b, a)
    missing = _missing_text(better) or _missing_text(worse)
    if missing:
        yield Skip(missing)
        return
    prompt, good, bad = better.input_text or "", better.output_text or "", worse.output_text or ""
    if prompt != worse.input_text:
        yield Skip(PROMPTS_DIFFER)
        return
    if good == bad:
        yield Skip(SIDES_EQUAL)
        return
    pair_id = stable_id("dpo", "regenerate", better.tenant_id, better.trace_id, worse.trace_id)
    chosen = (good, _side(better, "output"))
    rejected = (bad, _side(worse, "output"))
    yield Row(_pair(pair_id, "regenerate", prompt, chosen, rejected), (better.time, worse.time))


def _turn(response: Response) -> tuple[str, str, str]:
    """Attempts of one turn share tenant, conversation and turn key; a response without a trace
    has no known turn and stands alone."""
    key = response.turn_key if response.has_trace else f"\x00{response.trace_id}"
    return response.tenant_id, response.conversation_id, key


def dpo_rows(responses: Iterable[Response], metadata: bool = True) -> Iterator[Built]:
    """Preference pairs: (a) edit-to-final, chosen = the edited text, rejected = the output;
    (b) two attempts of the same turn whose current opinions differ (see ``pairs.prefer``),
    chosen = the better one. Each unordered pair of attempts is considered once. The responses
    must come ordered by turn (``responses_sql`` does)."""
    for built in _dpo_rows(responses):
        if not metadata and isinstance(built, Row):
            built.data.pop("metadata")
        yield built


def _dpo_rows(responses: Iterable[Response]) -> Iterator[Built]:
    for _, group in itertools.groupby(responses, key=_turn):
        attempts = list(group)  # one turn's attempts: a handful
        for response in attempts:
            if response.edited_text is not None:
                yield from _edit_pair(response)
            elif not response.has_trace and (response.thumb or response.ratings):
                yield Skip(NO_TRACE)
        for a, b in itertools.combinations(attempts, 2):
            yield from _attempt_pair(a, b)


def build(kind: Kind, responses: Iterable[Response], metadata: bool = True) -> Iterator[Built]:
    if kind is Kind.EVAL:
        return eval_rows(responses)
    if kind is Kind.SFT:
        return sft_rows(responses, metadata)
    return dpo_rows(responses, metadata)
