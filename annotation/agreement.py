"""Agreement between annotators on the items two or more of them labelled (nominal labels).

- ``percent``: observed agreement, the mean over items of the share of annotator pairs on the
  item that gave the same label (two annotators: the share of items they agree on).
- ``fleiss_kappa``: Fleiss' kappa, (P - Pe) / (1 - Pe), P the observed agreement above and Pe the
  agreement expected by chance from the labels' overall shares; items may have different numbers
  of annotators. None when chance agreement is 1 (everyone used one label: kappa is undefined).
- ``cohen_kappa``: Cohen's kappa when exactly two annotators labelled items in common (their
  own label distributions give the chance agreement); else None.

1 is perfect agreement, 0 what chance gives, below 0 worse than chance.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Agreement:
    items: int  # items with two or more annotators' labels
    percent: float | None
    fleiss_kappa: float | None
    cohen_kappa: float | None


def agreement(labels: Mapping[str, Mapping[str, str]]) -> Agreement:
    """``labels``: item -> annotator -> that annotator's current label."""
    shared = {item: by for item, by in labels.items() if len(by) >= 2}
    if not shared:
        return Agreement(0, None, None, None)
    observed = []
    totals: Counter[str] = Counter()
    for by in shared.values():
        counts = Counter(by.values())
        n = len(by)
        observed.append(sum(c * (c - 1) for c in counts.values()) / (n * (n - 1)))
        totals.update(counts)
    percent = sum(observed) / len(observed)
    assignments = sum(totals.values())
    chance = sum((c / assignments) ** 2 for c in totals.values())
    fleiss = None if chance >= 1 else (percent - chance) / (1 - chance)
    return Agreement(len(shared), round(percent, 4), _round(fleiss), _round(_cohen(shared)))


def _cohen(shared: Mapping[str, Mapping[str, str]]) -> float | None:
    annotators = {a for by in shared.values() for a in by}
    if len(annotators) != 2:
        return None
    first, second = sorted(annotators)
    pairs = [(by[first], by[second]) for by in shared.values()]
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    left, right = Counter(a for a, _ in pairs), Counter(b for _, b in pairs)
    chance = sum(left[label] * right[label] for label in left) / (n * n)
    return None if chance >= 1 else (observed - chance) / (1 - chance)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
