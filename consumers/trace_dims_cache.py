"""The join dimensions of recently seen traces, kept by the worker for the events that follow."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from consumers.rows import TraceDims
from consumers.store import ClickHouseStore, Key


class TraceDimsCache:
    """Recently seen traces' join dimensions, bounded; misses are looked up in ClickHouse."""

    def __init__(self, store: ClickHouseStore, capacity: int = 200_000) -> None:
        self._store = store
        self._capacity = capacity
        self._dims: OrderedDict[Key, TraceDims] = OrderedDict()

    def put(self, key: Key, dims: TraceDims) -> None:
        self._dims[key] = dims
        self._dims.move_to_end(key)
        if len(self._dims) > self._capacity:
            self._dims.popitem(last=False)

    def get_many(self, keys: Iterable[Key]) -> dict[Key, TraceDims]:
        found: dict[Key, TraceDims] = {}
        missing = set()
        for key in keys:
            dims = self._dims.get(key)
            if dims is None:
                missing.add(key)
            else:
                found[key] = dims
        if missing:
            for key, dims in self._store.trace_dims(missing).items():
                self.put(key, dims)
                found[key] = dims
        return found
