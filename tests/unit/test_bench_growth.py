"""The growth bench's fresh stream is fresh on every run: a second stream into the same engine within
the hour once carried the first one's event ids (drawn from the seed alone), so it was all resends,
stored once, and measured nothing but the dedupe. And each run measures on a copy of the history:
streams stored in the kept engine made every later run of the hour slower."""

from __future__ import annotations

from pathlib import Path

from bench.growth_bench import RESEND_EVERY, RandomIds, fresh_workload, measured_copy


def _ids(generator: RandomIds, kind: str, events: int) -> set[str]:
    key = "event_id" if kind == "event" else "trace_id"
    return {item[key] for topic, items in fresh_workload(generator, events) if topic == kind for item in items}


def test_two_runs_of_one_seed_share_no_event_or_trace_id() -> None:
    first, second = RandomIds(seed=3, run="ga"), RandomIds(seed=3, run="gb")
    assert not _ids(first, "event", 2_000) & _ids(second, "event", 2_000)
    assert not _ids(first, "trace", 2_000) & _ids(second, "trace", 2_000)


def test_a_run_is_the_same_stream_each_time_and_its_resends_repeat_its_events() -> None:
    assert _ids(RandomIds(seed=3, run="ga"), "event", 1_200) == _ids(RandomIds(seed=3, run="ga"), "event", 1_200)
    events = [item for topic, items in fresh_workload(RandomIds(seed=3, run="ga"), 1_200) if topic == "event"
              for item in items]  # fmt: skip
    unique = {item["event_id"] for item in events}
    assert len(unique) == 1_200
    assert len(events) - len(unique) == len(range(0, 600, RESEND_EVERY)) * 2


def test_a_run_measures_on_a_copy_and_leaves_the_kept_history_as_it_was(tmp_path: Path) -> None:
    engine = tmp_path / "clickhouse"
    (engine / "store").mkdir(parents=True)
    (engine / "store" / "part").write_text("history")
    (engine / "data").mkdir()
    (engine / "data" / "table").symlink_to("../store/part")
    with measured_copy(engine) as copy:
        assert copy != engine
        assert (copy / "data" / "table").read_text() == "history"
        (copy / "store" / "stream").write_text("the run's stream")
    assert not copy.exists()
    assert sorted(p.name for p in (engine / "store").iterdir()) == ["part"]
