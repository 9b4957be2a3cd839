"""Who holds the embedded engine: the one place the CLI checks it (chdb allows one process per
engine path, ``runtime.clickhouse.EngineOwner``).

A command that needs the engine either claims it (``engine_claim``: nobody else holds it) or,
while a running pipeline holds it, goes through that pipeline's collector
(``pipeline_address``); a holder that serves no HTTP is a clear error, never a second engine.
"""

from __future__ import annotations

import contextlib
import os

from runtime.clickhouse import EngineOwner
from runtime.settings import Settings


class EngineBusy(Exception):
    """Another process holds the embedded engine."""


def other_owner(settings: Settings) -> EngineOwner | None:
    """Another live process holding the embedded engine (a running pipeline), if any."""
    target = settings.clickhouse()
    if not target.embedded:
        return None
    owner = EngineOwner.current(target.chdb_path)
    return owner if owner is not None and owner.pid != os.getpid() else None


def pipeline_address(settings: Settings, command: str) -> str | None:
    """Where the running pipeline holding the embedded engine answers HTTP (``command`` then goes
    through it), or None when no other process holds the engine (``command`` runs here). Raises
    EngineBusy when the holder serves no HTTP."""
    owner = other_owner(settings)
    if owner is None:
        return None
    if owner.http_addr is None:
        raise EngineBusy(
            f"the embedded ClickHouse at {settings.clickhouse().chdb_path} is held by pid {owner.pid}, "
            f"which serves no HTTP; {command} while `feedback up` runs, or stop that process"
        )
    return owner.http_addr


class EmbeddedEngine:
    """Claims the embedded engine for this process so ``feedback query`` goes through us."""

    def __init__(self, settings: Settings, http_addr: str | None) -> None:
        self.path = settings.clickhouse().chdb_path
        self.owner = EngineOwner(pid=os.getpid(), http_addr=http_addr)

    def __enter__(self) -> EmbeddedEngine:
        current = EngineOwner.current(self.path)
        if current is not None and current.pid != self.owner.pid:
            raise EngineBusy(
                f"the embedded ClickHouse at {self.path} is in use by pid {current.pid} "
                "(chdb allows one process per engine): stop that process first, or use a ClickHouse "
                "server (FEEDBACK_CLICKHOUSE_URL=http://...)"
            )
        self.owner.claim(self.path)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.owner.release(self.path)


def engine_claim(settings: Settings, http_addr: str | None) -> contextlib.AbstractContextManager[object]:
    """Claim the embedded engine for the duration (a no-op for a ClickHouse server)."""
    if settings.clickhouse().embedded:
        return EmbeddedEngine(settings, http_addr)
    return contextlib.nullcontext()
