"""The rephrase rule's similarity measure, on the README's examples."""

from __future__ import annotations

import pytest

from quality.similarity import normalise, similarity

PASSWORD = "how do I reset my password"


def test_normalisation_folds_case_punctuation_and_spacing() -> None:
    assert normalise("  How do I   reset my PASSWORD?!") == "how do i reset my password"
    assert similarity("Reset   password!", "reset password") == 1.0


@pytest.mark.parametrize(
    ("other", "expected"),
    [
        ("how can I reset my password?", 0.71),
        ("reset password", 0.48),
        ("what is the weather in Paris", 0.02),
    ],
)
def test_documented_examples(other: str, expected: float) -> None:
    assert similarity(PASSWORD, other) == pytest.approx(expected, abs=0.005)


def test_empty_text_is_similar_to_nothing() -> None:
    assert similarity("", PASSWORD) == 0.0
    assert similarity("?!", "?!") == 0.0
