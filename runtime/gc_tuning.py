"""Garbage-collector settings for the long-running processes.

Profiles showed the collector spending 10% and the worker 30% of their time in full collections
walking objects that live for the whole process (modules, schemas, caches). Those are frozen
once start-up is done, and young collections run less often: the hot paths make many short-lived
objects, almost none of them in reference cycles.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
