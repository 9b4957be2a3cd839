"""Optional sampling profiles of the services (``--profile DIR``), with py-spy if it is installed.

py-spy attaches to a running pid for the measured window and writes collapsed stacks
(``--format raw``, with ``--native`` so time inside C/Rust extensions — pydantic-core, fastavro,
librdkafka calls, chdb — lands on the library, not on the Python line that called it). Native
stacks need py-spy to pause the process at each sample: a profiled run is about half as fast
(the pauses also wake uvloop's io_uring SQPOLL kernel thread, which then spins at ~40% of a
core), so its throughput numbers are not the bench's; its shares of where the time goes are what
it is for. The summary sorts each sample into the first library found walking from the leaf up.
py-spy is not a dependency of the project: without it the bench runs unprofiled.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.processes import VENV_BIN

# Category → substrings of a py-spy frame ("function (file:line)" or "symbol (library.so)").
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("pydantic", ("pydantic",)),
    ("fastavro", ("fastavro", "_write.c", "_read.c", "_schema.c", "_write.cpython", "_read.cpython")),
    ("confluent-kafka/librdkafka", ("confluent_kafka", "cimpl", "librdkafka", "rd_kafka")),
    ("clickhouse-connect", ("clickhouse_connect",)),
    ("chdb engine", ("chdb", "DB::")),
    ("orjson", ("orjson",)),
    ("http: uvicorn/starlette/h11/httptools", ("uvicorn", "starlette", "h11", "httptools", "anyio")),
    ("asyncio event loop", ("asyncio/", "selectors", "_asynciomodule")),
    ("prometheus/structlog", ("prometheus_client", "structlog")),
    ("app code", ("(producers/", "(consumers/", "(schemas/", "(feedback/", "(runtime/")),
)
APP_PREFIXES = ("(producers/", "(consumers/", "(schemas/", "(feedback/", "(runtime/")
# A stack whose last frames are one of these is a thread waiting, not running: with --native,
# py-spy cannot tell idle threads apart by itself.
WAITS = (
    "pthread_cond_timedwait", "pthread_cond_wait", "cnd_timedwait", "PyThread_acquire_lock_timed",
    "epoll_wait", "select (selectors", "poll (libc", "__futex", "futex_wait", "nanosleep", "sem_timedwait",
)  # fmt: skip
GIL_WAITS = ("take_gil", "CallState_get", "PyEval_RestoreThread", "PyEval_AcquireThread", "PyGILState_Ensure")
WAITING = "waiting: "


@dataclass
class Profile:
    samples: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    self_frames: Counter[str] = field(default_factory=Counter)
    app_inclusive: Counter[str] = field(default_factory=Counter)

    @property
    def busy(self) -> int:
        return sum(count for name, count in self.categories.items() if not name.startswith(WAITING))

    def as_json(self, top: int = 15) -> dict[str, object]:
        busy = self.busy or 1

        def share(counter: Counter[str], of: int) -> dict[str, float]:
            return {name: round(count / of, 3) for name, count in counter.most_common(top)}

        running = Counter({k: v for k, v in self.categories.items() if not k.startswith(WAITING)})
        waiting = Counter({k: v for k, v in self.categories.items() if k.startswith(WAITING)})
        return {
            "samples": self.samples,
            "busy_samples": self.busy,
            "categories_of_busy": share(running, busy),
            "waits_of_all_samples": share(waiting, self.samples or 1),
            "top_self_frames_of_busy": share(self.self_frames, busy),
            "top_app_functions_inclusive_of_busy": share(self.app_inclusive, busy),
        }


def library_of(frames: list[str]) -> str | None:
    for frame in reversed(frames):
        for category, needles in CATEGORIES:
            if any(needle in frame for needle in needles):
                return category
    return None


def categorise(frames: list[str]) -> str:
    tail = frames[-4:]
    if any(wait in frame for frame in tail for wait in WAITS):
        if any(gil in frame for frame in frames[-8:] for gil in GIL_WAITS):
            return WAITING + "for the GIL"
        if any("Queue.get (queue.py" in frame for frame in frames):
            return WAITING + "idle pool threads"
        return WAITING + (library_of(frames) or "idle")
    if any("gc_collect" in frame for frame in frames[-6:]):
        return "python GC (whoever allocated)"
    return library_of(frames) or "python runtime/other"


def _app_function(frame: str) -> str | None:
    if not any(prefix in frame for prefix in APP_PREFIXES):
        return None
    name, _, where = frame.partition(" (")
    return f"{name} ({where.split(':')[0]})"


def summarise(raw: Path) -> Profile:
    profile = Profile()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        category = categorise(frames)
        profile.samples += count
        profile.categories[category] += count
        if category.startswith(WAITING):
            continue
        profile.self_frames[frames[-1]] += count
        for name in {name for name in map(_app_function, frames) if name is not None}:
            profile.app_inclusive[name] += count
    return profile


class Profiler:
    """Records one py-spy profile per named process into ``out_dir``."""

    def __init__(self, out_dir: Path, rate: int = 100) -> None:
        self.out_dir = out_dir
        self.rate = rate
        self.executable = self.find()
        self._running: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        self.profiles: dict[str, Profile] = {}

    @staticmethod
    def find() -> str | None:
        local = VENV_BIN / "py-spy"
        return str(local) if local.exists() else shutil.which("py-spy")

    def record(self, name: str, pid: int, duration_s: float) -> None:
        if self.executable is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        raw = self.out_dir / f"{name}.txt"
        args = [
            self.executable, "record", "--pid", str(pid), "--duration", str(max(1, int(duration_s))),
            "--rate", str(self.rate), "--format", "raw", "--native", "--output", str(raw),
        ]  # fmt: skip
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._running.append((name, process, raw))

    def stop(self) -> None:
        """End the recordings now (py-spy writes what it has on SIGINT)."""
        for _, process, _ in self._running:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        self.wait()

    def wait(self, timeout_s: float = 60.0) -> None:
        for name, process, raw in self._running:
            try:
                _, err = process.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                _, err = process.communicate()
            if raw.exists():
                self.profiles[name] = summarise(raw)
            else:
                print(f"py-spy wrote no profile for {name}: {err.decode(errors='replace')[-500:]}")
        self._running.clear()
