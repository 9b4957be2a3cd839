"""Durations as people type them on the command line: 90s, 30m, 1h, 24h, 7d."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str, name: str = "duration") -> float:
    """Seconds in ``text``; a clear error naming ``name`` otherwise."""
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"{name}: {text!r} is not a duration like 30m, 1h, 24h or 7d")
    return float(match.group(1)) * _UNIT_S[match.group(2)]
