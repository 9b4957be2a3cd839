"""``feedback collector --processes N``: N collector processes serving one port.

The collector's request path is Python under one GIL, so one process uses about one core. Each
process here is a whole collector of its own (Kafka producer, keys-file watcher, rate limiters)
listening on the same address with ``SO_REUSEPORT``: the kernel spreads new connections over
the processes (by a hash of the client's address and port), and a connection stays with the
process that accepted it. What that means for limits, metrics and the keys file is in
docs/contract.md §2 ("Several collector processes").

The parent process serves nothing: it checks the port once (a port already in use is an error
here, not a silent share with a stranger's socket), starts the processes, restarts one that dies
(unless it dies within ``CRASH_LOOP_S`` of its start: then everything stops, exit 1), and on
SIGINT or SIGTERM stops them all gracefully (in-flight requests finish, producers flush).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path

import structlog
from prometheus_client import multiprocess

from feedback.services import CollectorServer, make_collector
from producers.metrics import MULTIPROCESS_DIR_ENV
from runtime.gc_tuning import tune_gc
from runtime.logs import configure_logging
from runtime.settings import Settings

log = structlog.get_logger(__name__)

CRASH_LOOP_S = 10.0
STOP_TIMEOUT_S = 45.0  # uvicorn's graceful shutdown (30 s) plus the producer's flush
PR_SET_PDEATHSIG = 1


class ProcessesError(Exception):
    """``--processes`` cannot be honoured with these settings."""


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's cpuset)."""
    return len(os.sched_getaffinity(0))


def collector_processes(settings: Settings, requested: int | None) -> int:
    """How many collector processes to run: ``--processes``, else FEEDBACK_COLLECTOR_PROCESSES,
    else one per core — except with an embedded ClickHouse, which only one process can open
    (the read endpoints, /v1/query, /v1/stats, /v1/export..., open it): there the default is 1
    and asking for more is an error."""
    wanted = requested if requested is not None else settings.collector_processes
    if not settings.clickhouse().embedded:
        return wanted if wanted is not None else available_cores()
    if wanted is not None and wanted > 1:
        raise ProcessesError(
            f"--processes {wanted}: the embedded ClickHouse (FEEDBACK_CLICKHOUSE_URL=chdb://...) can be "
            "opened by one process only, and every collector process serves the read endpoints; use a "
            "ClickHouse server (FEEDBACK_CLICKHOUSE_URL=http://...) or --processes 1"
        )
    return 1


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` that other processes of this user may share."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def check_port_free(host: str, port: int) -> None:
    """Bind once without SO_REUSEPORT: fails if anything (even another SO_REUSEPORT group, e.g. a
    collector still running) listens there, which the processes' own binds would not notice."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise ProcessesError(f"FEEDBACK_HTTP_ADDR {host}:{port}: cannot listen there ({exc.strerror})") from None


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process if the parent dies (even by SIGKILL): no orphan keeps
    serving the port."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def serve_one(index: int) -> None:
    """Entry point of one collector process (spawned: nothing of the parent's is inherited but the
    environment)."""
    # Its own process group: a Ctrl-C in the terminal reaches the parent only, which stops each
    # process once (a second signal would force an immediate exit).
    os.setpgrp()
    _die_with_parent()
    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    structlog.contextvars.bind_contextvars(process=index)
    sock = reuse_port_socket(settings.http_host, settings.http_port)
    server = CollectorServer(settings, make_collector(settings))
    tune_gc()
    server.run(sockets=[sock])


@dataclass
class Child:
    index: int
    process: BaseProcess
    started_at: float


class Supervisor:
    """Starts ``count`` collector processes and keeps them running until told to stop."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.settings = settings
        self.count = count
        self.children: dict[int, Child] = {}
        self.stopping = False
        self._context = get_context("spawn")
        self.metrics_dir = Path(tempfile.mkdtemp(prefix="feedback-collector-metrics-"))

    def _start(self, index: int) -> None:
        process = self._context.Process(target=serve_one, args=(index,), name=f"collector-{index}")
        process.start()
        self.children[index] = Child(index, process, time.monotonic())
        log.info("collector.process_started", process=index, pid=process.pid)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if not self.stopping:
            log.info("collector.stopping", signal=signal.Signals(signum).name, processes=len(self.children))
        self.stopping = True

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM (exit code 0) or a crash loop (1)."""
        check_port_free(self.settings.http_host, self.settings.http_port)
        os.environ[MULTIPROCESS_DIR_ENV] = str(self.metrics_dir)  # inherited by the spawned processes
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)
        code = 0
        try:
            for index in range(self.count):
                self._start(index)
            log.info("collector.processes", processes=self.count, http=f"http://{self.settings.http_addr}")
            while not self.stopping:
                sentinels = [child.process.sentinel for child in self.children.values()]
                wait(sentinels, timeout=0.5)
                if self.stopping:
                    break
                for child in list(self.children.values()):
                    if child.process.is_alive():
                        continue
                    if not self._replace(child):
                        code = 1
                        self.stopping = True
                        break
        finally:
            self._stop_all()
            os.environ.pop(MULTIPROCESS_DIR_ENV, None)
            shutil.rmtree(self.metrics_dir, ignore_errors=True)
        return code

    def _replace(self, child: Child) -> bool:
        """A process died on its own: start another, unless it died right after starting."""
        lived = time.monotonic() - child.started_at
        pid, exitcode = child.process.pid, child.process.exitcode
        # its live gauges no longer count
        multiprocess.mark_process_dead(pid, str(self.metrics_dir))  # type: ignore[no-untyped-call]
        if lived < CRASH_LOOP_S:
            log.error("collector.process_crash_loop", process=child.index, pid=pid, exitcode=exitcode, lived_s=lived)
            return False
        log.error("collector.process_died", process=child.index, pid=pid, exitcode=exitcode, lived_s=lived)
        self._start(child.index)
        return True

    def _stop_all(self) -> None:
        for child in self.children.values():
            if child.process.is_alive() and child.process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in self.children.values():
            child.process.join(max(0.0, deadline - time.monotonic()))
            if child.process.is_alive():
                log.error("collector.process_killed", process=child.index, pid=child.process.pid)
                child.process.kill()
                child.process.join(5)
        log.info("collector.processes_stopped", processes=len(self.children))
