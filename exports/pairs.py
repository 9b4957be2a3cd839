"""Which of two attempts at the same turn is better, by their current opinions.

The rule (documented in the README, "Datasets"): each response's verdicts come from the
majority of its raters' current opinions — its thumb is 'up' when more raters' current thumb is
up than down, 'down' for the reverse, no verdict on a tie; its rating is the mean of raters'
current ratings. Two attempts differ when one's thumb is up and the other's down, or when their
ratings are at least 2 apart. When the thumbs say one thing and the ratings the other, the
raters conflict and no pair is made.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exports.responses import Response

RATING_GAP = 2


class Preference(Enum):
    FIRST = "first"
    SECOND = "second"
    NONE = "none"
    CONFLICT = "conflict"


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def prefer(a: Response, b: Response) -> Preference:
    by_thumb = 0
    if a.thumb and b.thumb and a.thumb != b.thumb:
        by_thumb = 1 if a.thumb == "up" else -1
    by_rating = 0
    if a.rating is not None and b.rating is not None and abs(a.rating - b.rating) >= RATING_GAP:
        by_rating = _sign(a.rating - b.rating)
    if by_thumb and by_rating and by_thumb != by_rating:
        return Preference.CONFLICT
    verdict = by_thumb or by_rating
    if verdict == 0:
        return Preference.NONE
    return Preference.FIRST if verdict > 0 else Preference.SECOND
