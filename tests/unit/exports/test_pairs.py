from __future__ import annotations

import pytest

from exports.pairs import Preference, prefer
from tests.unit.exports.factory import response


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ({"thumbs_up": 1}, {"thumbs_down": 1}, Preference.FIRST),
        ({"thumbs_down": 1}, {"thumbs_up": 1}, Preference.SECOND),
        ({"thumbs_up": 1}, {"thumbs_up": 2}, Preference.NONE),  # both up: no preference
        ({"thumbs_up": 1, "thumbs_down": 1}, {"thumbs_down": 1}, Preference.NONE),  # a tie is no verdict
        ({"thumbs_up": 2, "thumbs_down": 1}, {"thumbs_down": 1}, Preference.FIRST),  # majority up
        ({"ratings": [5]}, {"ratings": [3]}, Preference.FIRST),  # two apart
        ({"ratings": [4]}, {"ratings": [3]}, Preference.NONE),  # one apart
        ({"ratings": [1, 2]}, {"ratings": [4]}, Preference.SECOND),  # means 1.5 and 4
        ({"thumbs_up": 1, "ratings": [1]}, {"thumbs_down": 1, "ratings": [5]}, Preference.CONFLICT),
        ({"thumbs_up": 1, "ratings": [5]}, {"thumbs_down": 1, "ratings": [2]}, Preference.FIRST),  # both agree
        ({"thumbs_up": 1}, {"ratings": [1]}, Preference.NONE),  # a thumb and a rating do not compare
        ({}, {}, Preference.NONE),
    ],
)
def test_prefer(a: dict[str, object], b: dict[str, object], expected: Preference) -> None:
    assert prefer(response("a", **a), response("b", **b)) is expected
