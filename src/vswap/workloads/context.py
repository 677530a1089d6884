"""What a workload sees of the run it is part of: a protocol, so workloads import nothing of
``vswap.run``.

Models: nothing in the kernel; the user-space side of a benchmark (its process, its cgroup,
its output). :class:`vswap.run.context.RunContext` implements :class:`WorkloadContext` for a
run of one workload, and :class:`vswap.run.fromconfig.WorkloadView` for each workload of a
configuration file's several (its own cgroup, metrics and output lines; the rest shared).
The layering contract (``tests/unit/test_layering.py``) keeps ``workloads`` below ``run``.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from vswap.mm.machine import Machine
    from vswap.sim.cpus import CpuSet
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Engine, Event, ProcessGenerator

__all__ = ["TaskBarrier", "WorkloadContext"]


class TaskBarrier(Protocol):
    """``n`` tasks meet; the last to arrive releases them all (usemem's ready pipes)."""

    def wait(self, task: CpuTask) -> Generator[Event, Any, None]:
        """``yield from barrier.wait(task)``: block until all ``n`` arrived."""


class WorkloadContext(Protocol):
    """The machine, the engine, the workload's cgroup and its outputs.

    Invariant: ``machine`` and ``engine`` are the run's own, shared by every workload of the
    run; ``cgroup``, ``metrics`` and ``report_lines`` are the workload's; the counters
    (``killed``, ``data_loss``, ``verified_pages``) are the run's totals, which each workload
    adds to.
    """

    machine: Machine
    engine: Engine
    cpus: CpuSet
    rng: random.Random
    #: The cgroup the workload's tasks run in.
    cgroup: str
    #: Workload metrics (``throughput_kbps``, ``free_time_s``, ...), filled by the workload.
    metrics: dict[str, Any]
    #: The workload's output lines (usemem-style).
    report_lines: list[str]
    #: Per swap device name: name, kind, sizes (the run's device table); ``_si`` is the
    #: device's SwapInfo, ``_queue`` its I/O queue (``reads``/``writes``: requests done).
    device_records: dict[str, dict[str, Any]]
    #: Timings of a swapoff the workload ran.
    swapoff: dict[str, float]
    #: The design's swap metadata at the workload's peak (:meth:`snapshot_metadata`).
    metadata_snapshot: dict[str, int] | None
    #: Tasks the kernel killed (OOM, SIGBUS); pages whose data came back wrong; pages
    #: whose data was checked.
    killed: int
    data_loss: int
    verified_pages: int

    @property
    def seed(self) -> int:
        """The run's seed (workloads derive their own random streams from it)."""

    def spawn(self, body: Callable[..., ProcessGenerator], *args: Any,
              name: str) -> CpuTask:
        """Start an engine task running ``body(task, *args)``."""

    def op(self, task: CpuTask, fn: Callable[..., Any], *args: Any) -> Event:
        """``result = yield ctx.op(task, fn, *args)`` (or ``yield from``): kernel operation
        ``fn(*args)`` on the machine, then the modelled time of its steps; the event's
        value is ``fn``'s result."""

    def user(self, task: CpuTask, ns: int) -> Event:
        """User-mode work of ``ns`` nanoseconds."""

    def barrier(self, n: int) -> TaskBarrier:
        """A barrier for ``n`` tasks."""

    def advance(self, units: int = 1) -> None:
        """The workload did ``units`` of its ``progress_total()``."""

    def now_us(self) -> int:
        """Modelled time in µs."""

    def mark(self, name: str) -> None:
        """A named point of the run (``swapoff_begin``, ``swapoff_end``): a recorder with a
        ``mark`` method (``vswap calibrate --host``'s, which keeps its cost-entry tally
        there) is told; otherwise nothing."""

    def snapshot_metadata(self) -> None:
        """Record the design's swap metadata now (at the workload's peak)."""
