"""Start and stop ``feedback`` subprocesses, and read what the kernel knows of them
(peak RSS from ``VmHWM``, CPU time per thread from ``/proc/PID/task``)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

VENV_BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ServiceFailed(RuntimeError):
    """A subprocess died or never became ready; carries the tail of its output."""


class Service:
    """A ``feedback`` subprocess; its output is read by a thread (kept, timestamped per line)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], stop_signal: int = signal.SIGTERM):
        self.name = name
        self.args = [str(VENV_BIN / "feedback"), *args]
        self.env = env
        self.stop_signal = stop_signal
        self.lines: list[tuple[float, str]] = []
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self.started_at = 0.0
        self.peak_rss_mb = 0.0  # VmHWM: includes file-backed pages (chdb's 550 MB library is one)
        self.peak_anon_mb = 0.0  # the largest RssAnon sampled: the process's own memory

    @property
    def pid(self) -> int:
        if self._process is None:
            raise ServiceFailed(f"{self.name} is not started")
        return self._process.pid

    def start(self) -> Service:
        self.started_at = time.monotonic()
        self._process = subprocess.Popen(
            self.args,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # a Ctrl-C of the bench reaches it only through stop()
        )
        self._reader = threading.Thread(target=self._read, name=f"{self.name}-output", daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self.lines.append((time.monotonic(), line.rstrip()))

    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def first_line_with(self, text: str) -> float | None:
        """When the first output line containing ``text`` was read (monotonic), if any."""
        return next((at for at, line in self.lines if text in line), None)

    def wait_until(self, check: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise ServiceFailed(f"{self.name} exited while waiting for {what}:\n{self.tail()}")
            if check():
                return
            time.sleep(0.05)
        raise ServiceFailed(f"{self.name}: no {what} after {timeout_s}s:\n{self.tail()}")

    def wait_http(self, url: str, timeout_s: float = 60.0) -> None:
        def ok() -> bool:
            try:
                return httpx.get(url, timeout=1.0).status_code == 200
            except httpx.HTTPError:
                return False

        self.wait_until(ok, timeout_s, f"200 from {url}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(line for _, line in self.lines[-lines:])

    def sample_rss(self) -> float:
        """Refresh ``peak_rss_mb`` from the kernel's high-water mark (call while alive)."""
        if self.alive():
            self.peak_rss_mb = max(self.peak_rss_mb, peak_rss_mb(self.pid))
            self.peak_anon_mb = max(self.peak_anon_mb, _status_kb(self.pid, "RssAnon") / 1024)
        return self.peak_rss_mb

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """The stop signal, a wait, then SIGKILL; returns the exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(OSError, ServiceFailed):
                self.sample_rss()
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(self.stop_signal)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        return process.returncode

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def peak_rss_mb(pid: int) -> float:
    """The process's resident-set high-water mark (``VmHWM``), in MiB."""
    return _status_kb(pid, "VmHWM") / 1024


def rss_mb(pid: int) -> float:
    """The process's resident set now (``VmRSS``), in MiB."""
    return _status_kb(pid, "VmRSS") / 1024


def thread_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) so far, summed by thread name (``rdk:broker1``, ``python``, ...)."""
    totals: dict[str, float] = {}
    main_name = Path(f"/proc/{pid}/comm").read_text().strip()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime
        key = _thread_group(name, task.name == str(pid), main_name)
        totals[key] = totals.get(key, 0.0) + ticks / CLOCK_TICKS
    return totals


def _thread_group(name: str, main: bool, main_name: str) -> str:
    """Thread names as the kernel knows them: Python threads keep the process's name, librdkafka's
    start with ``rdk:``, the embedded ClickHouse engine's have their own (ThreadPool, MergeMutate...)."""
    if main:
        return "main thread"
    if name == main_name:
        return "other python threads"
    if name.startswith("rdk:"):
        return "librdkafka"
    return f"chdb: {name}"


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}


def own_cpu_s() -> float:
    """CPU seconds of this process so far (all threads)."""
    times = os.times()
    return times.user + times.system


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine so far, from ``/proc/stat``."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    total = sum(fields[:8])
    return total - idle, total


@dataclass
class CpuUse:
    seconds: float
    by_thread: dict[str, float]  # CPU seconds per thread group over the window
    machine_busy: float  # 0..1 of all cores
    broker_cores: float | None = None  # the local Kafka broker's CPU, when it runs on this machine

    @property
    def cores(self) -> float:
        return sum(self.by_thread.values()) / self.seconds if self.seconds > 0 else 0.0

    def others(self, *known_cores: float | None) -> float:
        """Cores busy with anything else on the machine (other users' work, the bench itself...)."""
        cpus = len(os.sched_getaffinity(0))
        return max(0.0, self.machine_busy * cpus - self.cores - sum(c or 0.0 for c in known_cores))

    def share(self) -> dict[str, float]:
        """Cores used per thread group, largest first."""
        if self.seconds <= 0:
            return {}
        ordered = sorted(self.by_thread.items(), key=lambda item: -item[1])
        return {name: round(cpu / self.seconds, 3) for name, cpu in ordered if cpu > 0}


class CpuWindow:
    """CPU of one process (per thread), of the Kafka broker if it runs here, and of the machine,
    between ``begin()`` and ``end()``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.broker_pid = find_pid("kafka.Kafka")
        self._start = 0.0
        self._threads: dict[str, float] = {}
        self._broker = 0.0
        self._machine = (0, 0)

    def begin(self) -> None:
        self._start = time.monotonic()
        self._threads = thread_cpu_s(self.pid)
        self._broker = process_cpu_s(self.broker_pid)
        self._machine = machine_jiffies()

    def end(self) -> CpuUse:
        seconds = time.monotonic() - self._start
        threads = cpu_delta(self._threads, thread_cpu_s(self.pid))
        broker = process_cpu_s(self.broker_pid) - self._broker
        busy, total = machine_jiffies()
        spent = total - self._machine[1]
        machine = (busy - self._machine[0]) / spent if spent else 0.0
        return CpuUse(seconds, threads, machine, broker / seconds if self.broker_pid and seconds > 0 else None)


def find_pid(needle: str) -> int | None:
    """A process whose command line contains ``needle`` (read-only look at /proc)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle.encode() in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except OSError:
            continue
    return None


def process_cpu_s(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def listening_sockets(port: int) -> int:
    """How many sockets listen on ``port`` (IPv4, any address): one per collector process that has
    bound it, from ``/proc/net/tcp`` (state 0A is LISTEN)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


def children_of(pid: int) -> list[int]:
    """The child processes of ``pid`` (threads' children included)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children (a multi-process collector and its processes)."""
    return process_cpu_s(pid) + sum(process_cpu_s(child) for child in children_of(pid))
