"""One point of a sweep, run where an executor puts it (this process, a pool worker, a Ray
worker on another machine).

:func:`run_point` takes a :class:`PointTask` (everything the run needs, already validated
and loaded: no file is read on the worker, so a Ray node needs only vswap itself) and
returns an outcome dict, never raising for a run that went wrong: ``{"status": "ok",
"result": RunResult.to_dict(), ...}`` or ``{"status": "failed", "error": "one line"}``, with
the worker's ``host``, ``pid``, ``wall_s`` and ``vswap`` version. A worker running another
vswap version than the driver fails the point (its results could differ).
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from vswap import __version__
from vswap.run.context import RunConfig

__all__ = ["PointTask", "run_point"]


@dataclass(frozen=True)
class PointTask:
    """A point to run: its ``index`` and ``id`` (vswap.sweep.spec.Point), the timed run
    configuration (one design, costs loaded), and the driver's vswap version."""

    index: int
    id: str
    config: RunConfig
    vswap: str = __version__


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)


def run_point(task: PointTask) -> dict[str, Any]:
    """Run one point; the outcome (see the module docstring). KeyboardInterrupt and
    SystemExit pass through: an interrupted point is not a failed one."""
    from vswap.run.context import run_workload

    start = time.perf_counter()
    where = {"host": socket.gethostname(), "pid": os.getpid(), "vswap": __version__}
    if task.vswap != __version__:
        return {"status": "failed", "wall_s": 0.0, **where,
                "error": f"worker runs vswap {__version__}, the sweep vswap {task.vswap}"}
    try:
        result = run_workload(task.config)
    except Exception as exc:
        return {"status": "failed", "error": _one_line(exc),
                "wall_s": time.perf_counter() - start, **where}
    wall = time.perf_counter() - start
    if result.data_loss:
        return {"status": "failed", "wall_s": wall, **where,
                "error": f"DataLossError: {result.data_loss} pages read back wrong"}
    return {"status": "ok", "error": None, "result": result.to_dict(), "wall_s": wall,
            **where}
