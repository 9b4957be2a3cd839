"""`make bench` must at least start: every stage module imports (a moved helper once broke it)."""

from __future__ import annotations

import importlib


def test_every_bench_stage_imports() -> None:
    main = importlib.import_module("bench.__main__")
    assert set(main.STAGES) == {"collector", "worker", "freshness", "export", "alerts", "dashboard", "failover"}
    for stage in main.STAGES:
        importlib.import_module(f"bench.{stage}_bench")
