"""The sampling strategies on hand-made candidates: allocation, clusters, novelty, determinism."""

from __future__ import annotations

import math
import random

from annotation.candidates import Candidate
from annotation.minhash import clusters, signatures
from annotation.strategies import allocate, cluster, novel, stratified

VOCABULARY = (
    "invoice refund shipping parcel warehouse tracking coupon loyalty password login avatar profile "
    "calendar meeting reminder timezone recipe oven flour yeast garden tomato compost hiking trail "
    "glacier violin concert ticket seat football penalty referee galaxy telescope orbit comet "
    "mortgage interest pension taxes vaccine allergy dentist molar kernel compiler pointer thread"
)
WORDS = VOCABULARY.split()


def _text(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, 8))


def _candidate(n: int, feature: str = "chat", text: str = "") -> Candidate:
    return Candidate("acme", f"t{n:04d}", f"m{n}", f"c{n}", feature, "p1", "v1", text, "")


def test_equal_shares_with_the_rest_of_a_small_stratum_redistributed() -> None:
    assert allocate({"big": 100, "mid": 10, "small": 2}, 12, seed=1) == {"big": 5, "mid": 5, "small": 2}
    assert sum(allocate({"a": 3, "b": 3, "c": 3}, 100, seed=1).values()) == 9  # every candidate taken
    one_each = allocate({"a": 5, "b": 5, "c": 5}, 2, seed=1)
    assert sorted(one_each.values()) == [0, 1, 1]  # fewer budget than strata: seeded order decides
    assert allocate({"a": 5, "b": 0}, 4, seed=1) == {"a": 4, "b": 0}


def test_stratified_covers_every_stratum_and_is_deterministic() -> None:
    candidates = [_candidate(i, "search") for i in range(80)]
    candidates += [_candidate(100 + i, "chat") for i in range(10)]
    candidates += [_candidate(200 + i, "billing") for i in range(2)]
    picks, report = stratified(candidates, "feature", 12, seed=7)
    counts = {s.name: s.picked for s in report}
    assert counts == {"feature=billing": 2, "feature=chat": 5, "feature=search": 5}
    again, _ = stratified(list(reversed(candidates)), "feature", 12, seed=7)
    assert [p.candidate.trace_id for p in again] == [p.candidate.trace_id for p in picks]
    other, _ = stratified(candidates, "feature", 12, seed=8)
    assert {p.candidate.trace_id for p in other} != {p.candidate.trace_id for p in picks}


def test_near_duplicates_cluster_and_distinct_texts_do_not() -> None:
    rng = random.Random(3)
    repeated = [f"where is my order {n}? Sorry, the order service timed out, please try again later" for n in range(30)]
    distinct = [_text(rng) for _ in range(30)]
    numbers = clusters(signatures(repeated + distinct))
    assert len(set(numbers[:30])) == 1
    assert len(set(numbers[30:])) >= 28  # random word salads rarely collide


def test_cluster_keeps_one_repeated_failure_to_its_share() -> None:
    rng = random.Random(5)
    repeated = [
        _candidate(i, text=f"order {i}: Sorry, the order service timed out, please try again later") for i in range(60)
    ]
    distinct = [_candidate(100 + i, text=_text(rng)) for i in range(20)]
    picks, report = cluster(repeated + distinct, 10, seed=1)
    assert len(picks) == 10
    clusters_count = len(report)
    from_repeated = sum(p.candidate.trace_id < "t0100" for p in picks)
    assert from_repeated <= math.ceil(10 / clusters_count)
    assert report[0].candidates == 60  # the biggest cluster first in the report


def test_novel_prefers_what_the_queue_has_not_seen() -> None:
    seen = "Sorry, the order service timed out, please try again later"
    candidates = [_candidate(i, text=f"{seen} ({i})") for i in range(5)]
    candidates.append(_candidate(99, text="the telescope shows a comet near the glacier"))
    picks, _ = novel(candidates, [seen], 2, seed=1)
    assert picks[0].candidate.trace_id == "t0099"
    assert len({p.candidate.trace_id for p in picks}) == 2
