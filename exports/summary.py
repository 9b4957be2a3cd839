"""What an export wrote and skipped (by reason), and the time range its rows cover."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from exports.filters import format_time


@dataclass
class Summary:
    responses: int = 0
    rows: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    first: str | None = None  # the earliest response time among the rows written
    last: str | None = None

    def covers(self, times: tuple[datetime, ...]) -> None:
        for moment in times:
            text = format_time(moment)  # fixed-width UTC text: compares like the time
            self.first = text if self.first is None or text < self.first else self.first
            self.last = text if self.last is None or text > self.last else self.last

    def line(self, kind: str) -> str:
        """The one-line summary for stderr."""
        text = f"{kind}: wrote {self.rows} row(s) from {self.responses} response(s) with feedback"
        if self.skipped:
            reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))
            text += f"; skipped {sum(self.skipped.values())}: {reasons}"
        return text

    def as_json(self) -> dict[str, Any]:
        return {
            "responses": self.responses,
            "rows": self.rows,
            "skipped": dict(sorted(self.skipped.items())),
            "covered": {"from": self.first, "to": self.last},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Summary:
        covered = data.get("covered") or {}
        return cls(
            responses=int(data["responses"]),
            rows=int(data["rows"]),
            skipped=Counter(data.get("skipped") or {}),
            first=covered.get("from"),
            last=covered.get("to"),
        )
