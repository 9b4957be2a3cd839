"""What an export covers: one tenant or all, a time range, and trace dimensions."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
DIMENSIONS = ("model_version", "prompt_version", "feature")


class FilterError(ValueError):
    """A filter is malformed; the message names the option and the reason."""


def parse_time(text: str, now: datetime, option: str) -> datetime:
    """An ISO time with a UTC offset, or a time relative to ``now`` (``30m``, ``2h``, ``7d``)."""
    text = text.strip()
    relative = RELATIVE.match(text)
    if relative:
        return now - timedelta(**{UNITS[relative.group(2)]: int(relative.group(1))})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise FilterError(
            f"{option}: {text!r} is not an ISO time (2026-11-25T12:00:00Z) or a time relative to now (30m, 2h, 7d)"
        ) from None
    if parsed.tzinfo is None:
        raise FilterError(f"{option}: {text!r} needs a UTC offset (Z or +hh:mm)")
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class ExportFilters:
    """``since``/``until`` bound the response's time (the trace's timestamp; for a response whose
    trace never arrived, its first feedback event): since <= time < until."""

    tenant: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    feature: str | None = None

    @classmethod
    def parse(
        cls,
        *,
        tenant: str | None = None,
        since: str | None = None,
        until: str | None = None,
        model_version: str | None = None,
        prompt_version: str | None = None,
        feature: str | None = None,
        now: datetime | None = None,
    ) -> ExportFilters:
        now = now or datetime.now(UTC)
        filters = cls(
            tenant=tenant or None,
            since=parse_time(since, now, "--since") if since else None,
            until=parse_time(until, now, "--until") if until else None,
            model_version=model_version or None,
            prompt_version=prompt_version or None,
            feature=feature or None,
        )
        if filters.since and filters.until and filters.since >= filters.until:
            raise FilterError(f"--until: {until!r} is not after --since {since!r}")
        return filters

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExportFilters:
        """The filters as ``as_json`` wrote them (absolute times), e.g. from an HTTP request."""
        unknown = set(data) - {"tenant", "since", "until", *DIMENSIONS}
        if unknown:
            raise FilterError(f"filters: unknown field(s) {sorted(unknown)}")
        for name, value in data.items():
            if value is not None and not isinstance(value, str):
                raise FilterError(f"filters.{name}: must be a string")
        return cls.parse(**data)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("since", "until"):
            if data[name] is not None:
                data[name] = format_time(data[name])
        return data

    def with_tenant(self, tenant: str) -> ExportFilters:
        return ExportFilters(**{**asdict(self), "tenant": tenant})


def format_time(moment: datetime) -> str:
    """UTC, milliseconds, ``Z``: the one text form of times in exports and manifests."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
