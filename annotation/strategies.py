"""How a sample picks from its candidates: pure functions, deterministic for a seed.

Every candidate gets a seeded rank, a hash of (seed, tenant, trace_id): ordering by it is a
uniform shuffle that is the same on every run with the same seed and the same candidates, and
that does not depend on the order the candidates were read in.

``stratified`` — the allocation rule (README "Annotation queues"): equal shares with
redistribution. The budget is split equally over the strata that have candidates; a stratum with
fewer candidates than its share gives all it has and the rest of its share is split again over
the others, until the budget is spent or every candidate is taken. Units left over from an uneven
split go one each to the strata first in seeded order of their names. So every stratum gets
min(its candidates, about budget / strata): a small feature is never crowded out by a big one.
(Fewer budget than strata: one each, for the first strata in that seeded order.)

``cluster`` — near-duplicates (MinHash LSH, ``minhash.py``) form clusters; the sample takes one
item per cluster in turn (clusters in seeded order, items in seeded order within each), so a
cluster gets at most ceil(budget / clusters) items unless the others run out.

``novel`` — greedy farthest-first: each pick is the candidate whose highest similarity to what
the queue (and any reference file) holds, and to what this run picked already, is the lowest.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from annotation.candidates import Candidate
from annotation.minhash import clusters, signatures, similarity_to


@dataclass(frozen=True)
class Pick:
    candidate: Candidate
    strategy: str
    stratum: str


@dataclass(frozen=True)
class Stratum:
    """One line of the per-stratum report: its candidates, and how many the run queued."""

    name: str
    candidates: int | None  # None: not counted (random draws from every response)
    picked: int


def rank(seed: int, *parts: str) -> bytes:
    return hashlib.sha256("\x1f".join((str(seed), *parts)).encode()).digest()


def _shuffled(candidates: Sequence[Candidate], seed: int) -> list[Candidate]:
    return sorted(candidates, key=lambda c: rank(seed, c.tenant_id, c.trace_id))


def allocate(sizes: dict[str, int], budget: int, seed: int) -> dict[str, int]:
    """How many items each stratum gets (see the module's rule)."""
    order = sorted(sizes, key=lambda name: rank(seed, "stratum", name))
    given = dict.fromkeys(order, 0)
    open_strata = [name for name in order if sizes[name] > 0]
    remaining = budget
    while remaining > 0 and open_strata:
        share, extra = divmod(remaining, len(open_strata))
        still_open = []
        for position, name in enumerate(open_strata):
            give = min(share + (position < extra), sizes[name] - given[name])
            given[name] += give
            remaining -= give
            if given[name] < sizes[name]:
                still_open.append(name)
        open_strata = still_open
    return given


def stratified(candidates: Sequence[Candidate], by: str, budget: int, seed: int) -> tuple[list[Pick], list[Stratum]]:
    groups: dict[str, list[Candidate]] = defaultdict(list)
    for candidate in candidates:
        groups[candidate.dimension(by)].append(candidate)
    shares = allocate({value: len(group) for value, group in groups.items()}, budget, seed)
    picks: list[Pick] = []
    report: list[Stratum] = []
    for value in sorted(groups):
        name = f"{by}={value}"
        taken = _shuffled(groups[value], seed)[: shares[value]]
        picks.extend(Pick(c, "stratified", name) for c in taken)
        report.append(Stratum(name, len(groups[value]), len(taken)))
    return picks, report


def cluster(candidates: Sequence[Candidate], budget: int, seed: int) -> tuple[list[Pick], list[Stratum]]:
    ordered = sorted(candidates, key=lambda c: c.key)
    numbers = clusters(signatures([c.text for c in ordered]))
    members: dict[str, list[Candidate]] = defaultdict(list)
    for candidate, number in zip(ordered, numbers, strict=True):
        members[f"cluster:{ordered[number].item_id[:12]}"].append(candidate)
    queues = {name: _shuffled(group, seed) for name, group in members.items()}
    turn = sorted(queues, key=lambda name: rank(seed, "cluster", name))
    picks: list[Pick] = []
    depth = 0
    while len(picks) < budget and any(depth < len(queues[name]) for name in turn):
        for name in turn:
            if depth < len(queues[name]) and len(picks) < budget:
                picks.append(Pick(queues[name][depth], "cluster", name))
        depth += 1
    taken: dict[str, int] = defaultdict(int)
    for pick in picks:
        taken[pick.stratum] += 1
    report = [Stratum(name, len(members[name]), taken[name]) for name in members]
    report.sort(key=lambda s: (-(s.candidates or 0), s.name))
    return picks, report


def novel(
    candidates: Sequence[Candidate], reference: Sequence[str], budget: int, seed: int
) -> tuple[list[Pick], list[Stratum]]:
    ordered = _shuffled(candidates, seed)  # ties of similarity go to the seeded order
    if not ordered or budget <= 0:
        return [], [Stratum("novel", len(ordered), 0)]
    matrix = signatures([c.text for c in ordered])
    closest = np.zeros(len(ordered))
    for row in signatures(list(reference)):
        closest = np.maximum(closest, similarity_to(matrix, row))
    taken = np.zeros(len(ordered), dtype=bool)
    picks = []
    for _ in range(min(budget, len(ordered))):
        index = int(np.argmin(np.where(taken, np.inf, closest)))  # argmin: the first of equals
        taken[index] = True
        picks.append(Pick(ordered[index], "novel", ""))
        closest = np.maximum(closest, similarity_to(matrix, matrix[index]))
    return picks, [Stratum("novel", len(ordered), len(picks))]
