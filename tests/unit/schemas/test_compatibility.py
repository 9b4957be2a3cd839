"""Every published version stays readable both ways; an incompatible change is refused."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from schemas.catalog import SUBJECTS, SchemaCatalog, default_catalog, parse_version
from schemas.compatibility import check_full_transitive, incompatibility


@pytest.mark.parametrize("subject", SUBJECTS)
def test_published_versions_are_full_transitive(subject: str) -> None:
    assert check_full_transitive(default_catalog(), subject) == []


def _with_new_version(change: Callable[[dict[str, Any]], None]) -> SchemaCatalog:
    latest = default_catalog().latest("event")
    definition = copy.deepcopy(latest.definition)
    change(definition)
    candidate = parse_version("event", latest.version + 1, json.dumps(definition))
    return SchemaCatalog([*default_catalog().versions("event"), candidate])


def test_a_new_required_field_without_default_is_refused() -> None:
    catalog = _with_new_version(lambda d: d["fields"].append({"name": "plan", "type": "string"}))
    problems = check_full_transitive(catalog, "event")
    assert problems
    assert any("plan" in p for p in problems)


def test_a_changed_type_is_refused() -> None:
    def retype(definition: dict[str, Any]) -> None:
        for field in definition["fields"]:
            if field["name"] == "conversation_id":
                field["type"] = "long"

    assert check_full_transitive(_with_new_version(retype), "event")


def test_an_optional_field_with_default_is_accepted() -> None:
    catalog = _with_new_version(
        lambda d: d["fields"].append({"name": "locale", "type": ["null", "string"], "default": None})
    )
    assert check_full_transitive(catalog, "event") == []


def test_v1_reads_v2_and_v2_reads_v1() -> None:
    v1, v2 = default_catalog().version("event", 1), default_catalog().version("event", 2)
    assert incompatibility(v1, v2) is None
    assert incompatibility(v2, v1) is None


@pytest.mark.parametrize("older", [1, 2])
def test_v3_with_anonymous_id_and_every_older_version_read_each_other(older: int) -> None:
    v3, old = default_catalog().version("event", 3), default_catalog().version("event", older)
    assert "anonymous_id" in {field["name"] for field in v3.definition["fields"]}
    assert incompatibility(v3, old) is None
    assert incompatibility(old, v3) is None


@pytest.mark.parametrize(("subject", "newest"), [("event", 4), ("trace", 2)])
def test_redacted_versions_and_every_older_version_read_each_other(subject: str, newest: int) -> None:
    catalog = default_catalog()
    latest = catalog.version(subject, newest)
    field = next(f for f in latest.definition["fields"] if f["name"] == "redacted")
    assert field["default"] == []  # older messages read as "nothing redacted"
    for old in catalog.versions(subject)[:-1]:
        assert incompatibility(latest, old) is None
        assert incompatibility(old, latest) is None
