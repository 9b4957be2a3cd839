from __future__ import annotations

import io
import json

from fastavro import reader

from schemas.catalog import default_catalog
from schemas.ocf import container, zigzag
from schemas.serde import SINGLE_OBJECT_HEADER, AvroEncoder
from tests.unit.schemas.test_serde import EVENT


def test_zigzag_matches_the_spec() -> None:
    assert [zigzag(n) for n in (0, -1, 1, -2, 2, 64)] == [b"\x00", b"\x01", b"\x02", b"\x03", b"\x04", b"\x80\x01"]


def test_a_container_of_message_bodies_reads_back_with_fastavro() -> None:
    schema = default_catalog().latest("event")
    bodies = [AvroEncoder("event").encode({**EVENT, "user_id": f"u{i}"})[SINGLE_OBJECT_HEADER:] for i in range(3)]
    records = [r for r in reader(io.BytesIO(container(json.dumps(schema.definition), bodies))) if isinstance(r, dict)]
    assert [r["user_id"] for r in records] == ["u0", "u1", "u2"]
