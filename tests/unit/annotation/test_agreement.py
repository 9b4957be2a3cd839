from __future__ import annotations

import pytest

from annotation.agreement import agreement


def test_two_annotators_cohen_and_fleiss() -> None:
    labels = {
        "i1": {"ann": "good", "bob": "good"},
        "i2": {"ann": "bad", "bob": "bad"},
        "i3": {"ann": "good", "bob": "bad"},
        "i4": {"ann": "bad", "bob": "bad"},
        "i5": {"ann": "good"},  # one label: not part of agreement
    }
    result = agreement(labels)
    assert result.items == 4
    assert result.percent == 0.75
    # Cohen: po = 0.75, pe = (2*1 + 2*3) / 16 = 0.5 -> 0.5
    assert result.cohen_kappa == 0.5
    # Fleiss: label shares 3/8 good, 5/8 bad -> pe = 34/64; (0.75 - pe) / (1 - pe)
    assert result.fleiss_kappa == pytest.approx((0.75 - 34 / 64) / (1 - 34 / 64), abs=1e-4)


def test_three_annotators_and_the_undefined_cases() -> None:
    result = agreement({"i1": {"a": "x", "b": "x", "c": "y"}, "i2": {"a": "y", "b": "y", "c": "y"}})
    assert result.percent == pytest.approx((1 / 3 + 1) / 2, abs=1e-4)
    assert result.cohen_kappa is None  # three annotators
    same = agreement({"i1": {"a": "x", "b": "x"}})
    assert same.percent == 1.0
    assert same.fleiss_kappa is None  # everyone used one label: chance agreement is 1
    assert agreement({}).items == 0
