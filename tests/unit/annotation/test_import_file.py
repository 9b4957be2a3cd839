"""``feedback annotate import``: line numbers in every refusal, batches of at most 1000."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from feedback.annotation_import import import_file
from producers.annotations import AnnotationRejection


def test_refusals_name_their_line_and_batches_stay_within_the_limit(tmp_path: Path) -> None:
    lines = [orjson.dumps({"n": n}) for n in range(1500)]
    lines.insert(2, b"{oops")
    lines.insert(3, b"   ")
    (tmp_path / "labels.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    sizes: list[int] = []

    def send(items: list[Any]) -> tuple[int, list[AnnotationRejection]]:
        sizes.append(len(items))
        refused = [
            AnnotationRejection(i, None, ["label: required"]) for i, item in enumerate(items) if item["n"] == 1200
        ]
        return len(items) - len(refused), refused

    result = import_file(tmp_path / "labels.jsonl", send)
    assert sizes == [1000, 500]
    assert result.accepted == 1499
    assert [(r.index, r.errors[0][:16]) for r in result.refused] == [(3, "line: not JSON ("), (1203, "label: required")]
