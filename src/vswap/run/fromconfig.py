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
    from vswap.config import RunConfig as FileConfig
    from vswap.run.context import RunConfig, RunContext

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
                      verify=cf.verify, swap_devices=[], config_file=cf,
                      workloads=commands, labels=dict(labels))
            for d in (designs or cf.designs)]


class WorkloadView:
    """What one workload of a multi-workload run sees: the run's context with its own
    cgroup, metrics and report lines. Everything else (the machine, engine, counters such
    as ``verified_pages``) is the shared context's, read and written through."""

    _OWN = ("cgroup", "metrics", "report_lines", "_ctx")

    def __init__(self, ctx: RunContext, cgroup: str) -> None:
        object.__setattr__(self, "_ctx", ctx)
        object.__setattr__(self, "cgroup", cgroup)
        object.__setattr__(self, "metrics", {})
        object.__setattr__(self, "report_lines", [])

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._OWN:
            object.__setattr__(self, name, value)
        else:
            setattr(self._ctx, name, value)
