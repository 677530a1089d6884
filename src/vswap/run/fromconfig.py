"""Runs described by a configuration file (``vswap run|compare --config FILE``).

A TOML configuration (:mod:`vswap.config`) describes the machine, its devices, zswap, the
cgroup tree and one or more workloads per cgroup. :func:`run_configs_from_file` turns it into
one timed :class:`~vswap.run.context.RunConfig` per design; the run then builds its machine
with :func:`vswap.config.build_machine` and starts every workload in its own cgroup
(:class:`WorkloadView`), all on the same simulated CPUs.

Scaling: ``scale`` shrinks the machine, devices and byte-valued limits (the config builder)
and, here, every size *with a unit suffix* in a workload's command line (``2g``, ``64M``,
``512K``): counts, seconds and fractions (``-n 16``, ``-s 10``, ``--fill 0.5``) are not sizes
and stay as written, because contention needs the same concurrency.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any

from vswap.swap.types import PAGE_SIZE
from vswap.units import format_size, parse_size

if TYPE_CHECKING:
    from vswap.config import RunConfig as FileConfig
    from vswap.run.context import RunConfig, RunContext

_SIZE_TOKEN = re.compile(r"^(\d+(?:\.\d+)?)([kmgtp])(i?b)?$", re.IGNORECASE)
#: A scaled size never drops below this (a workload of a few pages measures nothing).
MIN_SCALED_SIZE = 16 * PAGE_SIZE


def scale_command(command: str, scale: float) -> str:
    """``command`` with every suffixed size multiplied by ``scale`` (whole pages, at least
    16 pages); the line is returned unchanged at scale 1."""
    if scale == 1:
        return command
    out = []
    for token in shlex.split(command):
        if _SIZE_TOKEN.match(token):
            size = int(parse_size(token, what="workload size") * scale)
            size = max(size // PAGE_SIZE * PAGE_SIZE, MIN_SCALED_SIZE)
            token = format_size(size)
        out.append(token)
    return shlex.join(out)


def run_configs_from_file(cf: FileConfig, *, designs: tuple[str, ...] | None = None
                          ) -> list[RunConfig]:
    """One timed run per design of the (already overridden) file configuration ``cf``."""
    from vswap.errors import ConfigError
    from vswap.run.context import RunConfig

    if not cf.workloads:
        raise ConfigError(f"{cf.source}: no [[workloads]]: nothing to run")
    commands = [(w.cgroup, scale_command(w.command, cf.scale)) for w in cf.workloads]
    label = " ; ".join(f"{cmd} in {cg}" for cg, cmd in commands)
    return [RunConfig(design=d, workload=label, cpus=cf.machine.cpus, seed=cf.seed,
                      verify=cf.verify, swap_devices=[], config_file=cf,
                      workloads=commands, labels={"config": cf.source, "scale": cf.scale})
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
