"""Write locks per shard: never two holders of one shard, a holder of every shard alone, no deadlock."""

from __future__ import annotations

import random
import threading

from consumers.write_locks import EVERY_SHARD, ShardLocks, locks_of


def test_no_two_writers_ever_hold_one_shard() -> None:
    locks = ShardLocks()
    inside: dict[int, int] = {}
    everything_inside = [0]
    violations: list[str] = []
    guard = threading.Lock()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(300):
            shards = None if rng.random() < 0.05 else set(rng.sample(range(6), rng.randint(1, 3)))
            with locks.hold(shards):
                with guard:
                    busy = [s for s in (shards or range(6)) if inside.get(s)]
                    if busy or everything_inside[0] or (shards is None and any(inside.values())):
                        violations.append(f"{shards} met {busy}")
                    for s in shards or ():
                        inside[s] = inside.get(s, 0) + 1
                    everything_inside[0] += shards is None
                with guard:
                    for s in shards or ():
                        inside[s] -= 1
                    everything_inside[0] -= shards is None

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "deadlock"
    assert violations == []


def test_one_registry_entry_per_database() -> None:
    assert locks_of("db_a") is locks_of("db_a")
    assert locks_of("db_a") is not locks_of("db_b")
    with locks_of("db_a").hold(EVERY_SHARD), locks_of("db_b").hold({1}):
        pass
