"""Runs described by a configuration file (``vswap run|compare --config FILE``).

A TOML configuration (:mod:`vswap.config`) describes the machine, its devices, zswap, the
cgroup tree and one or more workloads per cgroup. :func:`run_configs_from_file` turns it into
one timed :class:`~vswap.run.context.RunConfig` per design; the run then builds its machine
with :func:`vswap.config.build_machine` and starts every workload in its own cgroup
(:class:`WorkloadView`), all on the same simulated CPUs.

Scaling: ``scale`` shrinks the machine, devices and byte-valued limits (the config builder)
and, here, each workload's sizes and sleeps, defaults included, through the workload's own
parser (:func:`vswap.workloads._scale.scale_workload`); counts of processes, workers and
jobs, fractions and CPUs stay as written, because contention needs the same concurrency.
:func:`vswap.run.scaling.config_scale_report` says what changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vswap.workloads._scale import MIN_SCALED_SIZE, scale_workload

if TYPE_CHECKING:
    from collections.abc import Callable

    from vswap.config import RunConfig as FileConfig
    from vswap.run.context import RunConfig, RunContext
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event, ProcessGenerator
    from vswap.workloads.context import TaskBarrier

__all__ = ["MIN_SCALED_SIZE", "WorkloadView", "run_configs_from_file", "scale_command"]


def scale_command(command: str, scale: float) -> str:
    """The command line that runs for ``command`` at ``scale``: its sizes and sleeps
    multiplied (whole pages, at least 16 pages), size defaults made explicit, counts kept;
    unchanged at scale 1 (:func:`vswap.workloads._scale.scale_workload`)."""
    return scale_workload(command, scale).command


def run_configs_from_file(cf: FileConfig, *, designs: tuple[str, ...] | None = None
                          ) -> list[RunConfig]:
    """One timed run per design of the (already overridden) file configuration ``cf``."""
    from vswap.errors import ConfigError
    from vswap.run.context import RunConfig
    from vswap.run.scaling import config_scale_report

    if not cf.workloads:
        raise ConfigError(f"{cf.source}: no [[workloads]]: nothing to run")
    report = config_scale_report(cf)
    commands = [(w.cgroup, sc.command) for w, sc in zip(cf.workloads, report.workloads)]
    label = " ; ".join(f"{cmd} in {cg}" for cg, cmd in commands)
    labels: dict[str, Any] = {"config": cf.source, "scale": cf.scale}
    if cf.scale != 1:
        labels["scaling"] = report.as_json()
    return [RunConfig(design=d, workload=label, cpus=cf.machine.cpus, seed=cf.seed,
                      verify=cf.verify, page_data=cf.page_data, swap_devices=[],
                      config_file=cf,
                      workloads=commands, labels=dict(labels))
            for d in (designs or cf.designs)]


class WorkloadView:
    """What one workload of a multi-workload run sees: the run's context with its own
    cgroup, metrics and report lines. Everything else (the machine, engine, counters such
    as ``verified_pages``) is the shared context's, read and written through.

    Implements :class:`~vswap.workloads.context.WorkloadContext`.
    """

    def __init__(self, ctx: RunContext, cgroup: str) -> None:
        self._ctx = ctx
        self.cgroup = cgroup
        self.metrics: dict[str, Any] = {}
        self.report_lines: list[str] = []
        self.machine = ctx.machine
        self.engine = ctx.engine
        self.cpus = ctx.cpus
        self.rng = ctx.rng
        self.device_records = ctx.device_records
        self.swapoff = ctx.swapoff

    # The run's totals, which every workload adds to.
    @property
    def killed(self) -> int:
        return self._ctx.killed

    @killed.setter
    def killed(self, value: int) -> None:
        self._ctx.killed = value

    @property
    def data_loss(self) -> int:
        return self._ctx.data_loss

    @data_loss.setter
    def data_loss(self, value: int) -> None:
        self._ctx.data_loss = value

    @property
    def verified_pages(self) -> int:
        return self._ctx.verified_pages

    @verified_pages.setter
    def verified_pages(self, value: int) -> None:
        self._ctx.verified_pages = value

    @property
    def metadata_snapshot(self) -> dict[str, int] | None:
        return self._ctx.metadata_snapshot

    @metadata_snapshot.setter
    def metadata_snapshot(self, value: dict[str, int] | None) -> None:
        self._ctx.metadata_snapshot = value

    @property
    def seed(self) -> int:
        return self._ctx.seed

    def spawn(self, body: Callable[..., ProcessGenerator], *args: Any,
              name: str) -> CpuTask:
        return self._ctx.spawn(body, *args, name=name)

    def op(self, task: CpuTask, fn: Callable[..., Any], *args: Any) -> Event:
        return self._ctx.op(task, fn, *args)

    def user(self, task: CpuTask, ns: int) -> Event:
        return self._ctx.user(task, ns)

    def barrier(self, n: int) -> TaskBarrier:
        return self._ctx.barrier(n)

    def advance(self, units: int = 1) -> None:
        self._ctx.advance(units)

    def now_us(self) -> int:
        return self._ctx.now_us()

    def mark(self, name: str) -> None:
        self._ctx.mark(name)

    def snapshot_metadata(self) -> None:
        self._ctx.snapshot_metadata()
