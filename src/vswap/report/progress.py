"""A progress display for long runs: a rich progress bar on stderr, fed by a callback.

A runner that reports ``(done, total)`` now and then (for example ``RunConfig.progress`` of
the execution engine) gets a callback from :func:`run_progress`::

    with run_progress("vswap usemem -n 16 2g") as update:
        run(config, progress=update)

The bar shows only when stderr is a terminal (``force`` overrides), so piped output and tests
stay clean; updates are cheap (rich throttles the redraw).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

__all__ = ["run_progress"]

ProgressCallback = Callable[[int, int], None]


@contextmanager
def run_progress(description: str, *, console: Console | None = None,
                 force: bool | None = None) -> Iterator[ProgressCallback]:
    """A ``update(done, total)`` callback drawing a progress bar while the block runs.

    ``console`` defaults to stderr; ``force`` True/False shows/hides the bar regardless of
    whether the console is a terminal.
    """
    con = console or Console(stderr=True)
    show = con.is_terminal if force is None else force
    if not show:
        yield lambda done, total: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=con,
                  transient=True) as progress:
        task = progress.add_task(description, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total or None)

        yield update
