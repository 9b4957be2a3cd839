"""Exports stream: the same peak memory for 100k and for 1M feedback events.

Each size gets its own chdb engine, filled in a child process straight with SQL (``numbers()``:
the export only reads what the workers would have written, so Kafka is not needed here). Then
``feedback export`` runs as users run it, in a child of its own, for each kind; its peak RSS comes
from the kernel (``wait4``). Two traces per turn (regenerate attempts), two events per trace.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.workspace import Workspace

DATABASE = "feedback"

TRACES_SQL = """
INSERT INTO {db}.traces_log (tenant_id, trace_id, conversation_id, received_at, timestamp, message_id, turn_id,
    model, model_version, prompt_version, feature, latency_ms, input_text, output_text, version, sign)
SELECT 'bench', concat('t', toString(number)), concat('c', toString(intDiv(number, 4))), now64(3),
    now64(3) - toIntervalSecond(number), concat('m', toString(number)), concat('turn', toString(intDiv(number, 2))),
    'gpt-4.1', if(number % 2 = 0, '2026-04-14', '2026-05-01'), concat('v', toString(number % 3)), 'chat', 900,
    concat('How do I get a refund for order ', toString(intDiv(number, 2)), ' placed last week?'),
    concat('Attempt ', toString(number % 2), ': ', repeat('Refunds are issued within five working days. ', 8)),
    1, 1
FROM numbers({traces})
"""

# event i is about trace i / 2; its type cycles through a realistic mix
EVENTS_SQL = """
INSERT INTO {db}.events_log (tenant_id, event_id, type, timestamp, received_at, ts, conversation_id, trace_id,
    message_id, user_id, value, thumb, rating, reasons, comment, edited_text, trace_joined, version, sign)
SELECT 'bench', generateUUIDv4(number), kind, now64(3), now64(3), now64(3) - toIntervalMillisecond(number),
    concat('c', toString(intDiv(intDiv(number, 2), 4))), concat('t', toString(intDiv(number, 2))),
    concat('m', toString(intDiv(number, 2))), concat('u', toString(number % 5000)),
    multiIf(kind = 'thumbs', thumb_value, kind = 'rating', toString(1 + number % 5), NULL),
    if(kind = 'thumbs', thumb_value, NULL), if(kind = 'rating', toUInt8(1 + number % 5), NULL),
    if(kind = 'thumbs' AND thumb_value = 'down', ['hallucinated'], []),
    if(kind = 'comment', 'The answer cited the wrong policy.', NULL),
    if(kind = 'edit', 'Refunds are issued within three working days.', NULL),
    false, 1, 1
FROM (
    SELECT number,
        ['thumbs', 'thumbs', 'thumbs', 'rating', 'copy', 'edit', 'regenerate', 'comment', 'dwell', 'copy'][
            1 + (number * 7 + intDiv(number, 10)) % 10] AS kind,
        if(intHash32(number) % 10 < 6, 'up', 'down') AS thumb_value
    FROM numbers({events})
)
"""

LOAD = """
import sys
from runtime.clickhouse import ClickHouseTarget
from runtime.migrations import migrate
client = ClickHouseTarget(sys.argv[1]).connect()
migrate(client, sys.argv[2])
events = int(sys.argv[3])
for sql in sys.argv[4:]:
    client.command(sql.format(db=sys.argv[2], traces=events // 2, events=events))
"""


def load(url: str, events: int) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", LOAD, url, DATABASE, str(events), TRACES_SQL, EVENTS_SQL],
        check=True,
        env={**os.environ, "FEEDBACK_LOG_LEVEL": "warning"},
    )
    return time.perf_counter() - started


def export(env: dict[str, str], kind: str, out: Path) -> dict[str, Any]:
    """One ``feedback export`` in a child; its wall time, peak RSS and summary line."""
    feedback = str(Path(sys.executable).with_name("feedback"))
    started = time.perf_counter()
    process = subprocess.Popen(
        [feedback, "export", kind, "--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stderr = process.stderr.read().decode() if process.stderr else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"feedback export {kind} failed: {stderr}")
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
        "bytes": out.stat().st_size,
        "summary": stderr.strip().splitlines()[-1],
    }


def run(
    sizes: tuple[int, ...] = (100_000, 1_000_000), kinds: tuple[str, ...] = ("eval", "sft", "dpo")
) -> dict[str, Any]:
    details: dict[str, Any] = {}
    with Workspace("export") as ws:
        for events in sizes:
            url = ws.chdb_url(f"clickhouse-{events}")
            env = ws.env(
                FEEDBACK_CLICKHOUSE_URL=url, FEEDBACK_CLICKHOUSE_DATABASE=DATABASE, FEEDBACK_LOG_LEVEL="warning"
            )
            entry: dict[str, Any] = {"load_s": round(load(url, events), 2)}
            for kind in kinds:
                entry[kind] = export(env, kind, ws.root / f"{kind}-{events}.jsonl")
            details[str(events)] = entry
    small, large = details[str(sizes[0])], details[str(sizes[-1])]
    peak = {size: max(entry[kind]["peak_rss_mb"] for kind in kinds) for size, entry in details.items()}
    return {
        "export_peak_rss_mb": peak[str(sizes[-1])],
        "export_rss_ratio": round(peak[str(sizes[-1])] / peak[str(sizes[0])], 2),
        "export_eval_events_per_s": round(sizes[-1] / large["eval"]["seconds"]),
        "details": {
            "export": details,
            "export_small_events": sizes[0],
            "export_large_events": sizes[-1],
            "small": small,
        },
    }


if __name__ == "__main__":
    import json

    from bench.config import FULL, QUICK

    print(json.dumps(run((QUICK if "--quick" in sys.argv else FULL).export_events), indent=2))
