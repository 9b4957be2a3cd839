"""How alike two prompts are, for the `rephrase` rule (README "Derived signals").

Character trigram Jaccard similarity of the normalised texts: lower case, every run of
non-alphanumeric characters one space. Cheap, language-agnostic, robust to small edits and word
order: the size of the intersection over the size of the union of the sets of 3-character
substrings (1.0 = same text).
"""

from __future__ import annotations

import re

_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    return _NOT_WORD.sub(" ", text.casefold()).strip()


def trigrams(text: str) -> set[str]:
    padded = f" {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def similarity(a: str, b: str) -> float:
    """Trigram Jaccard of the normalised texts; 0.0 when either is empty."""
    left, right = normalise(a), normalise(b)
    if not left or not right:
        return 0.0
    if left == right:
        return 1.0
    x, y = trigrams(left), trigrams(right)
    return len(x & y) / len(x | y)
