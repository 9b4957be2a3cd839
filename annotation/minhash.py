"""Near-duplicate text, cheaply: MinHash signatures of character trigrams, and LSH buckets.

The shingles are the trigrams of ``quality.similarity`` (the same normalisation as the
``rephrase`` rule), so "similar" means one thing across the loop. A signature is ``HASHES``
minimums of as many fixed random hash functions of the trigrams; the share of equal
positions in two signatures estimates their trigram Jaccard similarity. Buckets of LSH: ``BANDS``
bands of ``ROWS`` positions; two texts share a bucket when one whole band is equal, which happens
with probability 1 - (1 - J^ROWS)^BANDS: about 0.001 at J = 0.2, 0.01 at 0.3, 0.27 at 0.5, 0.62
at 0.6, 0.92 at 0.7, 0.99 at 0.8. Strict on purpose: clusters are joined transitively, so loose
buckets would chain unrelated texts into one big cluster.
Everything is deterministic (fixed hash functions), so the same texts give the same clusters.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from quality.similarity import normalise

BANDS = 20
ROWS = 6
HASHES = BANDS * ROWS
_RNG = np.random.default_rng(20261129)  # fixed: clusters must not depend on the sampling seed
_A = _RNG.integers(0, 2**63, size=HASHES, dtype=np.uint64) * np.uint64(2) + np.uint64(1)  # odd multipliers
_B = _RNG.integers(0, 2**63, size=HASHES, dtype=np.uint64)
_EMPTY = np.full(HASHES, np.iinfo(np.uint64).max, dtype=np.uint64)
_K1, _K2 = np.uint64(1 << 42), np.uint64(1 << 21)  # a trigram of code points as one number

Signatures = npt.NDArray[np.uint64]


def shingles(text: str) -> npt.NDArray[np.uint64]:
    """A hash of each distinct trigram of the normalised text, padded with a space each side (the
    trigrams of ``quality.similarity``), computed over code points in numpy."""
    normal = normalise(text)
    if not normal:
        return np.empty(0, dtype=np.uint64)
    codes = np.frombuffer(f" {normal} ".encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    hashed = codes[:-2] * _K1 + codes[1:-1] * _K2 + codes[2:]  # code points < 2^21: distinct and no overflow
    unique: npt.NDArray[np.uint64] = np.unique(hashed)
    return unique


def signature(text: str) -> npt.NDArray[np.uint64]:
    """The MinHash signature of the text's trigrams; every empty text has the same one."""
    hashed = shingles(text)
    if not hashed.size:
        return _EMPTY.copy()
    # multiply-add modulo 2^64 (numpy wraps): a cheap family of hash functions, no division
    permuted: npt.NDArray[np.uint64] = _A[:, None] * hashed[None, :] + _B[:, None]
    minimums: npt.NDArray[np.uint64] = permuted.min(axis=1)
    return minimums


def signatures(texts: Sequence[str]) -> Signatures:
    """One row per text."""
    if not texts:
        return np.empty((0, HASHES), dtype=np.uint64)
    return np.vstack([signature(text) for text in texts])


def similarity_to(matrix: Signatures, one: npt.NDArray[np.uint64]) -> npt.NDArray[np.float64]:
    """Estimated Jaccard similarity of each row of ``matrix`` to ``one``."""
    equal: npt.NDArray[np.float64] = (matrix == one[None, :]).mean(axis=1)
    return equal


def clusters(matrix: Signatures) -> list[int]:
    """A cluster number per row: rows sharing an LSH bucket, transitively, are one cluster. The
    number of a cluster is its first row's index."""
    parent = list(range(len(matrix)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for band in range(BANDS):
        first_of: dict[bytes, int] = {}
        for i, row in enumerate(matrix[:, band * ROWS : (band + 1) * ROWS]):
            key = row.tobytes()
            if key in first_of:
                a, b = root(first_of[key]), root(i)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                first_of[key] = i
    return [root(i) for i in range(len(matrix))]
