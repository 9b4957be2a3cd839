"""The pydantic records and the Avro schemas agree field for field, nested records included."""

from __future__ import annotations

import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from schemas.catalog import default_catalog
from schemas.models import EventIn, FeedbackEvent, LlmTrace, Retrieval, ToolCall, TraceIn

AVRO_TO_PYTHON = {"string": str, "long": int, "int": int, "boolean": bool, "double": float}


def _avro_python_types(avro_type: Any) -> set[Any]:
    if isinstance(avro_type, list):
        return set().union(*(_avro_python_types(t) for t in avro_type))
    if isinstance(avro_type, dict):
        kind = avro_type["type"]
        if kind == "array":
            return {list}
        if kind == "map":
            return {dict}
        if kind == "record":
            return {avro_type["name"]}
        return _avro_python_types(kind)
    if avro_type == "null":
        return {type(None)}
    return {AVRO_TO_PYTHON[avro_type]}


def _model_python_types(annotation: Any) -> set[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return set().union(*(_model_python_types(a) for a in typing.get_args(annotation)))
    if origin is typing.Annotated:
        return _model_python_types(typing.get_args(annotation)[0])
    if origin in (list, dict):
        return {origin}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {{"Retrieval": "Retrieval", "ToolCall": "ToolCall"}[annotation.__name__]}
    if annotation is None or annotation is type(None):
        return {type(None)}
    return {annotation}


def _assert_match(model: type[BaseModel], record: dict[str, Any]) -> None:
    avro_fields = {f["name"]: f for f in record["fields"]}
    assert list(avro_fields) == list(model.model_fields), f"{model.__name__}: field names or order differ"
    for name, field in model.model_fields.items():
        assert _model_python_types(field.annotation) == _avro_python_types(avro_fields[name]["type"]), name
        avro_optional = "default" in avro_fields[name]
        assert avro_optional == (not field.is_required()), f"{name}: optional in one, required in the other"


@pytest.mark.parametrize("subject", ["event", "trace"])
def test_every_version_parses_and_has_a_unique_fingerprint(subject: str) -> None:
    versions = default_catalog().versions(subject)
    assert versions, subject
    assert len({v.fingerprint for v in versions}) == len(versions)


def test_feedback_event_matches_avro() -> None:
    _assert_match(FeedbackEvent, default_catalog().latest("event").definition)


def test_llm_trace_matches_avro_with_nested_records() -> None:
    definition = default_catalog().latest("trace").definition
    _assert_match(LlmTrace, definition)
    fields = {f["name"]: f for f in definition["fields"]}
    _assert_match(Retrieval, fields["retrieval"]["type"][1])
    _assert_match(ToolCall, fields["tools"]["type"]["items"])


def test_input_models_carry_every_contract_field() -> None:
    # ``redacted``: what the collector's redaction replaced (docs/contract.md, "Redaction").
    server_side = {"tenant_id", "sent_at", "received_at", "ts", "received_via", "redacted"}
    assert set(EventIn.model_fields) == set(FeedbackEvent.model_fields) - server_side
    assert set(TraceIn.model_fields) == set(LlmTrace.model_fields) - {"tenant_id", "received_at", "redacted"}
