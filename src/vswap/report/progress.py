"""Progress of long runs on stderr: runs done, modelled time, page events, time left.

:class:`RunProgress` follows a batch of runs (``vswap run``, ``compare``, ``bench``). Each
run reports ``(done, total work units, modelled ns, page events)`` now and then
(``RunConfig.progress`` of the execution engine, rate-limited there); the batch calls
:meth:`RunProgress.update` with it, :meth:`RunProgress.finished` when a run ends, and
:meth:`RunProgress.tick` whenever it likes. Two displays:

* on a terminal, a rich progress bar (redrawn a few times a second, removed at the end);
* otherwise (a pipe, a log, CI), one plain line every ``interval`` seconds (default 5, or
  ``VSWAP_PROGRESS_INTERVAL`` seconds when that is set: a CI log asks for fewer lines, a
  test suite for none)::

      vswap: 3/12 runs done, 41% of the work; modelled 0.2311 s, 310,882 page events;
      25 s elapsed, about 36 s left

  (one line; wrapped here),
  and a last line when the batch ends, if it took long enough to print any. A batch shorter
  than ``interval`` prints nothing, so quick commands and their tests stay quiet.

The estimate of time left assumes the rest of the work goes at the rate so far (work units
are the workloads' own: pages written, compile jobs, bogo ops).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

__all__ = ["DEFAULT_INTERVAL_S", "RunProgress", "format_duration", "progress_interval"]

#: Seconds between two plain progress lines, unless ``VSWAP_PROGRESS_INTERVAL`` says otherwise.
DEFAULT_INTERVAL_S = 5.0


def progress_interval() -> float:
    """Seconds between two plain progress lines: ``VSWAP_PROGRESS_INTERVAL`` if it is set to
    a positive number, else :data:`DEFAULT_INTERVAL_S` (an unusable value is said once on
    the vswap logger, then ignored)."""
    text = os.environ.get("VSWAP_PROGRESS_INTERVAL")
    if text is None:
        return DEFAULT_INTERVAL_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        logging.getLogger(__name__).warning(
            "VSWAP_PROGRESS_INTERVAL=%r is not a positive number of seconds: progress every "
            "%g s", text, DEFAULT_INTERVAL_S)
        return DEFAULT_INTERVAL_S
    return value


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    s = max(round(seconds), 0)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class RunProgress:
    """Progress of ``total_runs`` runs (see the module docstring).

    ``terminal``: force the rich bar (True) or the plain lines (False); default: the bar
    when ``stream`` is a terminal. ``clock`` is injectable for tests.
    """

    def __init__(self, total_runs: int, *, stream: IO[str] | None = None,
                 terminal: bool | None = None, interval: float | None = None,
                 clock: Callable[[], float] = time.monotonic, label: str = "running") -> None:
        self.total_runs = max(total_runs, 1)
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.terminal = terminal if terminal is not None else bool(isatty and isatty())
        self.interval = progress_interval() if interval is None else interval
        self.clock = clock
        self.label = label
        self.start = clock()
        self._last_line = self.start
        self.printed = 0
        self.fraction = [0.0] * self.total_runs
        self.modelled_ns = [0] * self.total_runs
        self.events = [0] * self.total_runs
        self.done = [False] * self.total_runs
        self._bar: Any = None
        self._task: Any = None
        if self.terminal:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[status]}"),
                                 console=Console(file=self.stream, force_terminal=True),
                                 transient=True, refresh_per_second=4)
            self._bar.start()
            self._task = self._bar.add_task(label, total=1000, status="")

    # -- input -------------------------------------------------------------------------------
    def update(self, index: int, done: int, total: int, modelled_ns: int,
               page_events: int) -> None:
        """Run ``index`` did ``done`` of ``total`` work units, ``modelled_ns`` of modelled
        time and ``page_events`` page events so far."""
        if not 0 <= index < self.total_runs or self.done[index]:
            return
        self.fraction[index] = min(done / total, 1.0) if total > 0 else 0.0
        self.modelled_ns[index] = int(modelled_ns)
        self.events[index] = int(page_events)

    def finished(self, index: int, modelled_ns: int | None = None,
                 page_events: int | None = None) -> None:
        """Run ``index`` ended (with its final modelled time and page events if known)."""
        if not 0 <= index < self.total_runs:
            return
        self.done[index] = True
        self.fraction[index] = 1.0
        if modelled_ns is not None:
            self.modelled_ns[index] = int(modelled_ns)
        if page_events is not None:
            self.events[index] = int(page_events)

    # -- output ------------------------------------------------------------------------------
    def status(self) -> str:
        """``3/12 runs done, 41% of the work; modelled 0.2311 s, 310,882 page events;
        25 s elapsed, about 36 s left``."""
        runs = sum(self.done)
        frac = sum(self.fraction) / self.total_runs
        elapsed = self.clock() - self.start
        left = ""
        if 0 < frac < 1:
            left = f", about {format_duration(elapsed * (1 - frac) / frac)} left"
        modelled = sum(self.modelled_ns) / 1e9
        return (f"{runs}/{self.total_runs} runs done, {frac:.0%} of the work; modelled "
                f"{modelled:.4g} s, {sum(self.events):,} page events; "
                f"{format_duration(elapsed)} elapsed{left}")

    def tick(self) -> None:
        """Redraw the bar, or print a line if ``interval`` seconds passed since the last."""
        if self._bar is not None:
            self._bar.update(self._task, completed=round(1000 * sum(self.fraction)
                                                         / self.total_runs),
                             status=self.status())
            return
        now = self.clock()
        if now - self._last_line >= self.interval:
            self._last_line = now
            self._print(self.status())

    def close(self) -> None:
        """End the display: remove the bar, or print the last line (only if any line was
        printed, so short batches stay silent)."""
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            return
        if self.printed:
            self._print(self.status())

    def _print(self, text: str) -> None:
        self.stream.write(f"vswap: {text}\n")
        self.stream.flush()
        self.printed += 1
