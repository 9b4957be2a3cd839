"""Near-duplicate text, cheaply: MinHash signatures of character trigrams, and LSH buckets.

The shingles are the trigrams of ``quality.similarity`` (the same normalisation as the
``rephrase`` rule), so "similar" means one thing across the loop. A signature is ``HASHES``
minimums of as many fixed random permutations of the trigrams' crc32; the share of equal
positions in two signatures estimates their trigram Jaccard similarity. Buckets of LSH: ``BANDS``
bands of ``ROWS`` positions; two texts share a bucket when one whole band is equal, which happens
with probability 1 - (1 - J^ROWS)^BANDS: about 0.001 at J = 0.2, 0.01 at 0.3, 0.27 at 0.5, 0.62
at 0.6, 0.92 at 0.7, 0.99 at 0.8. Strict on purpose: clusters are joined transitively, so loose
buckets would chain unrelated texts into one big cluster.
Everything is deterministic (fixed permutations), so the same texts give the same clusters.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from quality.similarity import normalise, trigrams

BANDS = 20
ROWS = 6
HASHES = BANDS * ROWS
_PRIME = (1 << 31) - 1  # a, b, x below 2^31: a * x + b stays below 2^63
_RNG = np.random.default_rng(20261129)  # fixed: clusters must not depend on the sampling seed
_A = _RNG.integers(1, _PRIME, size=HASHES, dtype=np.uint64)
_B = _RNG.integers(0, _PRIME, size=HASHES, dtype=np.uint64)
_EMPTY = np.full(HASHES, _PRIME, dtype=np.uint64)

Signatures = npt.NDArray[np.uint64]


def signature(text: str) -> npt.NDArray[np.uint64]:
    """The MinHash signature of the text's trigrams; every empty text has the same one."""
    shingles = trigrams(normalise(text)) if normalise(text) else set()
    if not shingles:
        return _EMPTY.copy()
    hashed = np.fromiter((zlib.crc32(s.encode()) % _PRIME for s in shingles), dtype=np.uint64, count=len(shingles))
    permuted: npt.NDArray[np.uint64] = (_A[:, None] * hashed[None, :] + _B[:, None]) % _PRIME
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
