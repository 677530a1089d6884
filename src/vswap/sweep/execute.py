"""Running a sweep: its points on an executor, each finished point written as it ends.

:func:`run_sweep` builds the grid (every point validated before anything runs), takes the
sweep directory (:class:`~vswap.sweep.store.SweepDir`), skips the points that already have
an ``ok`` file, and runs the rest on one of three executors, all running the same
:func:`~vswap.sweep.worker.run_point` on the same inputs, so the table does not depend on
the executor:

* ``serial`` (``--jobs 1``): in this process, one point after the other;
* ``pool`` (``--jobs N``, the default with N = host CPUs, at most 4): a local process pool
  (``forkserver`` workers, which ignore SIGINT so that only the driver handles Ctrl-C);
* ``ray`` (``--ray`` for a local Ray instance of ``--jobs`` CPUs, ``--ray ADDRESS`` for an
  existing cluster): one Ray task per point (``num_cpus=1``, no retries).

At most as many points are in flight as the executor has CPUs, so "running" in the
progress display is what is running. A point that fails (any exception, data loss, a
worker that died) is written as ``failed`` with its error line and the others go on; a rerun
runs it again. On Ctrl-C (KeyboardInterrupt) the driver cancels what is in flight (the
pool's workers are terminated, Ray's tasks cancelled), writes the table of the points that
finished, and re-raises: the directory holds whole files only (vswap.sweep.store).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol

from vswap.config.costs import default_provenance, load_cost_file
from vswap.errors import ConfigError
from vswap.report.progress import RunProgress, format_duration
from vswap.run.context import default_jobs
from vswap.run.fromconfig import run_configs_from_file
from vswap.sim.costs import DEFAULT_COSTS
from vswap.sweep.spec import Point, SweepSpec, load_sweep
from vswap.sweep.store import SweepDir
from vswap.sweep.worker import PointTask, run_point

__all__ = ["EXECUTORS", "SweepProgress", "SweepSummary", "make_executor", "point_tasks",
           "run_sweep"]

#: Executor names, as recorded in each point's provenance.
EXECUTORS = ("serial", "pool", "ray")
#: Seconds the driver waits for a point before redrawing the progress.
POLL_S = 0.25


class Executor(Protocol):
    """Where points run: up to ``slots`` at once; ``wait`` returns the finished ones."""

    name: str
    slots: int

    def submit(self, task: PointTask) -> Any: ...

    def wait(self, handles: list[Any], timeout: float) -> list[tuple[Any, dict[str, Any]]]: ...

    def close(self, *, cancel: bool) -> None: ...


def _failed(error: str) -> dict[str, Any]:
    return {"status": "failed", "error": error, "wall_s": 0.0}


class SerialExecutor:
    """Points run in this process, one at a time, when :meth:`wait` is called."""

    name = "serial"
    slots = 1

    def __init__(self) -> None:
        self._tasks: dict[int, PointTask] = {}

    def submit(self, task: PointTask) -> int:
        self._tasks[task.index] = task
        return task.index

    def wait(self, handles: list[Any], timeout: float) -> list[tuple[Any, dict[str, Any]]]:
        h = handles[0]
        return [(h, run_point(self._tasks.pop(h)))]

    def close(self, *, cancel: bool) -> None:
        self._tasks.clear()


def _ignore_sigint() -> None:
    # Ctrl-C goes to the whole process group; the driver alone decides what happens.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class PoolExecutor:
    """A local process pool of ``jobs`` workers."""

    name = "pool"

    def __init__(self, jobs: int) -> None:
        self.slots = jobs
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # forkserver: workers forked from a clean server, not from a driver that may hold
        # threads (a progress bar, a Ray client); the server imports the run code once, so
        # each worker starts with it loaded.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["vswap.sweep.worker"])
        return ProcessPoolExecutor(max_workers=self.slots, initializer=_ignore_sigint,
                                   mp_context=ctx)

    def submit(self, task: PointTask) -> Future[dict[str, Any]]:
        return self._pool.submit(run_point, task)

    def wait(self, handles: list[Any], timeout: float) -> list[tuple[Any, dict[str, Any]]]:
        done, _ = wait_futures(handles, timeout=timeout, return_when=FIRST_COMPLETED)
        out: list[tuple[Any, dict[str, Any]]] = []
        broken = False
        for f in done:
            try:
                out.append((f, f.result()))
            except Exception as exc:  # a worker died (BrokenProcessPool) or did not unpickle
                broken = broken or "Broken" in type(exc).__name__
                out.append((f, _failed(f"{type(exc).__name__}: worker process ended: "
                                       f"{' '.join(str(exc).split())}")))
        if broken:
            # Every point in flight fails with the pool; later points get a new one.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
        return out

    def close(self, *, cancel: bool) -> None:
        if cancel:
            # Running points are not cancellable through the executor's API: end the
            # workers themselves, so Ctrl-C returns now and leaves no process behind.
            procs = list(getattr(self._pool, "_processes", {}).values())
            self._pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.terminate()
            for p in procs:
                p.join(timeout=5)
        else:
            self._pool.shutdown(wait=True)


class RayExecutor:
    """Points as Ray tasks, on a local instance (``address`` None) or a cluster."""

    name = "ray"

    def __init__(self, address: str | None, jobs: int | None) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--ray needs Ray, an optional extra: pip install 'vswap[ray]' "
                              "(bin/test installs it)") from None
        self._ray = ray
        self.started = False
        if not ray.is_initialized():
            options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                       "logging_level": logging.ERROR}
            if address is None:
                options["num_cpus"] = jobs
            else:
                options["address"] = address
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise ConfigError(f"--ray {address or ''}: cannot start or reach Ray: "
                                  f"{' '.join(str(exc).split())}") from None
            self.started = True
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.slots = max(1, min(cpus, jobs) if jobs else cpus)
        self._remote = ray.remote(num_cpus=1, max_retries=0)(run_point)

    def submit(self, task: PointTask) -> Any:
        return self._remote.remote(task)

    def wait(self, handles: list[Any], timeout: float) -> list[tuple[Any, dict[str, Any]]]:
        ray = self._ray
        ready, rest = ray.wait(handles, num_returns=1, timeout=timeout)
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        out: list[tuple[Any, dict[str, Any]]] = []
        for ref in ready:
            try:
                out.append((ref, ray.get(ref)))
            except Exception as exc:  # the worker died, or the task could not run
                out.append((ref, _failed(f"{type(exc).__name__}: "
                                         f"{' '.join(str(exc).split())[:300]}")))
        return out

    def close(self, *, cancel: bool, handles: list[Any] | None = None) -> None:
        if cancel:
            for ref in handles or []:
                # A task already finished or gone has nothing to cancel.
                with contextlib.suppress(Exception):
                    self._ray.cancel(ref, force=True)
        if self.started:
            self._ray.shutdown()


def make_executor(*, jobs: int | None, ray: str | None) -> Executor:
    """``ray``: None (no Ray), ``"local"`` (a local instance) or a cluster address."""
    if jobs is not None and jobs < 0:
        raise ConfigError(f"--jobs: {jobs} is negative (0 or absent: one per CPU)")
    if ray is not None:
        return RayExecutor(None if ray == "local" else ray, jobs or None)
    n = jobs or default_jobs()
    return SerialExecutor() if n == 1 else PoolExecutor(n)


class SweepProgress(RunProgress):
    """:class:`~vswap.report.progress.RunProgress` counting points: done, running,
    failed, and the time left at the rate so far."""

    def __init__(self, total: int, *, skipped: int = 0, **kwargs: Any) -> None:
        super().__init__(total, label="sweep", **kwargs)
        self.skipped = skipped
        self.running = 0
        self.failed = 0

    def status(self) -> str:
        """``5/12 points done, 2 running, 1 failed (4 done before); 25 s elapsed, about
        36 s left``."""
        done = sum(self.done)
        elapsed = self.clock() - self.start
        left = ""
        if 0 < done < self.total_runs:
            left = f", about {format_duration(elapsed * (self.total_runs - done) / done)} left"
        before = f" ({self.skipped} done before)" if self.skipped else ""
        return (f"{done}/{self.total_runs} points done, {self.running} running, "
                f"{self.failed} failed{before}; {format_duration(elapsed)} elapsed{left}")


@dataclass
class SweepSummary:
    """What one ``vswap sweep`` did: the points of the grid, those done before, run now
    (ok and failed), the executor, the wall time, the table written."""

    directory: Path
    points: int
    skipped: int
    ok: int = 0
    failed: int = 0
    executor: str = ""
    slots: int = 1
    wall_s: float = 0.0
    table: Path | None = None
    errors: list[tuple[Point, str]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"sweep {self.directory}: {self.points} points: {self.ok} ran now, "
               f"{self.skipped} done before, {self.failed} failed ({self.executor}, "
               f"{self.slots} at a time, {self.wall_s:.1f} s)"]
        for point, error in self.errors[:10]:
            out.append(f"  failed: point {point.index} ({point.label()}): {error}")
        if len(self.errors) > 10:
            out.append(f"  ... and {len(self.errors) - 10} more failed points")
        if self.table is not None:
            out.append(f"table: {self.table}")
        return out


def point_tasks(points: list[Point]) -> list[PointTask]:
    """The timed run of each point, with its cost table loaded (once per file)."""
    costs: dict[str | None, Any] = {}
    out: list[PointTask] = []
    for p in points:
        if p.config.costs not in costs:
            costs[p.config.costs] = (load_cost_file(p.config.costs) if p.config.costs
                                     else (DEFAULT_COSTS, default_provenance()))
        table, prov = costs[p.config.costs]
        (rc,) = run_configs_from_file(p.config)
        rc.costs = table
        rc.cost_provenance = prov.as_json()
        out.append(PointTask(p.index, p.id, rc))
    return out


def _provenance(executor: str, outcome: dict[str, Any], latency_s: float) -> dict[str, Any]:
    wall = float(outcome.get("wall_s", 0.0))
    return {"executor": executor, "host": outcome.get("host", ""),
            "pid": outcome.get("pid", 0), "vswap": outcome.get("vswap", ""),
            "wall_s": round(wall, 6),
            # What the executor added: from submitting the point to having its outcome back,
            # less the run itself (sending, a worker starting, the result coming back).
            "overhead_s": round(max(latency_s - wall, 0.0), 6),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": sys.version.split()[0]}


def run_sweep(spec: SweepSpec | str | Path, out: str | Path, *, jobs: int | None = None,
              ray: str | None = None, where: str | None = None,
              progress_stream: IO[str] | None = None,
              progress_interval: float | None = None,
              on_point: Callable[[Point, dict[str, Any]], None] | None = None
              ) -> SweepSummary:
    """Run the sweep ``spec`` (a spec or its file) into directory ``out``; see the module
    docstring. ``where`` restricts the points to run (and the table) further.
    ``on_point`` is called after each point's file is written."""
    from vswap.sweep.table import write_table

    if not isinstance(spec, SweepSpec):
        spec = load_sweep(spec)
    points = spec.points(where)
    store = SweepDir(out)
    start = time.perf_counter()
    with store.locked():
        store.create(spec, points)
        todo = [p for p in points if store.status(p.id) != "ok"]
        summary = SweepSummary(store.path, len(points), len(points) - len(todo))
        if not todo:
            summary.table = write_table(store)
            summary.wall_s = time.perf_counter() - start
            return summary
        tasks = dict(zip((p.index for p in todo), point_tasks(todo)))
        executor = make_executor(jobs=jobs, ray=ray)
        summary.executor, summary.slots = executor.name, executor.slots
        progress = SweepProgress(len(todo), skipped=summary.skipped,
                                 stream=progress_stream or sys.stderr,
                                 interval=progress_interval)
        queue = list(todo)
        inflight: dict[Any, Point] = {}
        submitted: dict[Any, float] = {}
        interrupted = True
        try:
            while queue or inflight:
                while queue and len(inflight) < executor.slots:
                    point = queue.pop(0)
                    t_submit = time.perf_counter()
                    handle = executor.submit(tasks[point.index])
                    inflight[handle] = point
                    submitted[handle] = t_submit
                progress.running = len(inflight)
                progress.tick()
                for handle, outcome in executor.wait(list(inflight), POLL_S):
                    point = inflight.pop(handle)
                    latency = time.perf_counter() - submitted.pop(handle)
                    store.write_point(point, outcome,
                                      _provenance(executor.name, outcome, latency))
                    pos = todo.index(point)
                    progress.finished(pos)
                    if outcome["status"] == "ok":
                        summary.ok += 1
                    else:
                        summary.failed += 1
                        progress.failed += 1
                        summary.errors.append((point, str(outcome.get("error"))))
                    if on_point is not None:
                        on_point(point, outcome)
                progress.running = len(inflight)
                progress.tick()
            interrupted = False
        finally:
            if isinstance(executor, RayExecutor):
                executor.close(cancel=interrupted, handles=list(inflight))
            else:
                executor.close(cancel=interrupted)
            progress.close()
            summary.table = write_table(store)
            summary.wall_s = time.perf_counter() - start
    return summary
