from __future__ import annotations

from datetime import UTC, datetime

import pytest

from exports.filters import ExportFilters, FilterError, format_time

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def test_times_are_iso_or_relative() -> None:
    filters = ExportFilters.parse(since="7d", until="2026-11-29T11:00:00+01:00", now=NOW)
    assert filters.since == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert filters.until == datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
    assert filters.as_json()["since"] == "2026-11-22T12:00:00.000Z"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"since": "soon"}, "--since: 'soon' is not an ISO time"),
        ({"until": "2026-11-29T10:00:00"}, "--until: '2026-11-29T10:00:00' needs a UTC offset"),
        ({"since": "1h", "until": "2h"}, "--until: '2h' is not after --since '1h'"),
    ],
)
def test_bad_filters_name_the_option(options: dict[str, str], message: str) -> None:
    with pytest.raises(FilterError, match=message):
        ExportFilters.parse(now=NOW, **options)


def test_json_round_trip_and_unknown_fields() -> None:
    filters = ExportFilters.parse(tenant="acme", since="1h", feature="chat", now=NOW)
    assert ExportFilters.from_json(filters.as_json()) == filters
    with pytest.raises(FilterError, match="unknown field"):
        ExportFilters.from_json({"tenat": "acme"})
    with pytest.raises(FilterError, match=r"filters\.tenant: must be a string"):
        ExportFilters.from_json({"tenant": 3})


def test_format_time_is_fixed_width_utc() -> None:
    assert format_time(NOW) == "2026-11-29T12:00:00.000Z"
