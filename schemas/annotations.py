"""What reviewers send back about queued items: ``POST /v1/annotations`` and the lines of
``feedback annotate import`` (docs/contract.md §3, §7 ``annotations``)."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from schemas import vocabulary as v
from schemas.timestamps import EpochMs

LABEL_MAX = 128
REASONS_MAX = 20
ITEMS_MAX = 1000

Id = Annotated[str, StringConstraints(min_length=1, max_length=v.ID_MAX)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=LABEL_MAX)]


class AnnotationIn(BaseModel):
    """One reviewer's label on one queued item; the tenant comes from the key (or the import's
    ``--tenant``), never from the item."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: Id
    item_id: Id
    annotator: Id = Field(description="who labelled it (a reviewer, not an end user)")
    label: Label = Field(description="the verdict, e.g. correct, hallucinated, unsafe (free vocabulary)")
    score: float | None = Field(None, strict=True, description="an optional number, e.g. 1-5 or 0-1")
    reasons: list[Label] = Field(default_factory=list, max_length=REASONS_MAX)
    note: Annotated[str, StringConstraints(max_length=v.COMMENT_MAX)] | None = None
    timestamp: EpochMs | None = Field(None, description="when it was labelled; default: when received")

    @field_validator("score")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class AnnotationsEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    annotations: list[AnnotationIn] = Field(min_length=1, max_length=ITEMS_MAX)
    api_key: str | None = None
