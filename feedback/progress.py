"""Progress bars with rate and ETA for long operations (replay, export)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


@contextlib.contextmanager
def replay_progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} msg/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(label, total=total, rate="-")

        def advance(count: int) -> None:
            progress.update(task, advance=count)
            speed = progress.tasks[task].speed
            progress.update(task, rate=f"{speed:,.0f}" if speed else "-")

        yield advance


@contextlib.contextmanager
def export_progress(label: str, total: int) -> Iterator[Callable[[int], None]]:
    """On stderr: the rows may be going to stdout."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("responses"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda count: progress.update(task, advance=count)
