"""Build a :class:`~vswap.mm.machine.Machine` from a :class:`~vswap.config.spec.RunConfig`.

Everything goes through the machine's own interfaces, in the order an administrator would
do it on a real host: boot with RAM, CPUs, sysctls and the zswap module parameters; ``mkswap``
and ``swapon`` each device (``swapon -p PRIO``); ``mkdir`` each cgroup and ``echo VALUE >``
each of its files (``Machine.cgroup_write``, which parses the value as the kernel does);
then the sysfs knobs (``Machine.sysfs_write``).

``scale`` multiplies RAM, device sizes and the byte-valued cgroup limits (rounded down to
whole pages); ``max`` stays ``max``.

A file device without a ``path`` is made in a temporary directory and unlinked as soon as it
is open: the mapping keeps the data, and nothing is left behind when the run ends.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

from vswap.errors import ConfigError
from vswap.kernel.errors import KernelError
from vswap.kernel.memcontrol import MAX
from vswap.kernel.tracing import NULL_TRACER, KernelTracer
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import Machine, MachineConfig
from vswap.mm.memcg_files import page_counter_memparse
from vswap.sim.device_kinds import get_device_kind
from vswap.swap import DESIGNS
from vswap.swap.storage import FileSwapStorage, MemSwapStorage
from vswap.swap.swap_area import mkswap
from vswap.units import format_scale, format_size
from vswap.zswap.host import wb_batch_unsupported

from .loader import key_path
from .spec import SIZE_KNOBS, SYSCTLS, RunConfig

__all__ = ["build_machine", "scaled_knob_value"]


def scaled_knob_value(config: RunConfig, name: str, value: str) -> str:
    """The text written into cgroup file ``name``: byte limits times ``config.scale``
    (whole pages), ``max`` and non-size files unchanged."""
    if name not in SIZE_KNOBS or config.scale == 1.0:
        return value
    limit = page_counter_memparse(value, name)
    if limit >= MAX:
        return value
    return str(int(limit * config.scale) // PAGE_SIZE * PAGE_SIZE)


def _error(config: RunConfig, path: tuple[str | int, ...], problem: str) -> ConfigError:
    return ConfigError(f"{config.source}: {key_path(*path)}: {problem}")


def build_machine(config: RunConfig, design: str, *,
                  workdir: str | os.PathLike[str] | None = None,
                  tracer: KernelTracer = NULL_TRACER, cgroup_version: int = 2) -> Machine:
    """A machine for ``design`` as ``config`` describes it, at ``config.scale``.

    ``cgroup_version``: the memory controller's hierarchy (``--cgroup-version``; 1: zswap
    is not charged to cgroups, :mod:`vswap.kernel.memcontrol`).

    ``workdir``: where file devices without a ``path`` are made (default: a temporary
    directory, removed at once; the open mapping keeps the data).

    Returns:
        The machine with every device swapped on (in configuration order, so device type
        ``i`` is ``config.devices[i]``), every cgroup created and configured, and the
        sysfs knobs written. No task exists yet.

    Raises:
        ConfigError: unknown design, or a value the machine refuses at this scale (RAM too
            small for its watermarks, a device under 10 pages, a limit the kernel refuses):
            one line naming the file and the key.
    """
    if design not in DESIGNS:
        raise ConfigError(f"{config.source}: unknown swap design {design!r} "
                          f"(known: {', '.join(DESIGNS)})")
    if config.zswap is not None:
        for name, default in (("writeback_batch_size", 1), ("writeback_compressed", False)):
            why = wb_batch_unsupported(design, name)
            if getattr(config.zswap, name) != default and why is not None:
                raise _error(config, ("zswap", name), why.split(": ", 1)[1])
    spec = config.machine
    ram = config.scaled(spec.ram)
    sysctls: dict[str, Any] = {SYSCTLS[k]: v for k, v in spec.sysctl.items()}
    mc = MachineConfig(ram=ram, design=design, nr_cpus=spec.cpus, verify=config.verify,
                       page_data=config.page_data, cgroup_version=cgroup_version,
                       zswap=config.zswap is not None,
                       zswap_params=(dataclasses.asdict(config.zswap)
                                     if config.zswap is not None else {}),
                       **sysctls)
    try:
        machine = Machine(mc, tracer=tracer)
    except ConfigError as exc:
        raise _error(config, ("machine", "ram"),
                     f"{format_size(ram)} at scale {format_scale(config.scale)}: "
                     f"{str(exc).removeprefix('Machine: ')}") from None
    _swapon_all(config, machine, workdir)
    if config.tiers is not None:
        _swap_tiers(config, design, machine)
    for cg in sorted(config.cgroups, key=lambda c: c.path.count("/")):
        machine.create_cgroup(cg.path)
    for cg in config.cgroups:
        for name, value in cg.knobs.items():
            try:
                machine.cgroup_write(cg.path, name, scaled_knob_value(config, name, value))
            except KernelError as exc:
                raise _error(config, ("cgroups", cg.path, *name.split(".")),
                             str(exc)) from None
    for path, value in spec.sysfs.items():
        try:
            machine.sysfs_write(path, value)
        except KernelError as exc:
            raise _error(config, ("sysfs", path), str(exc)) from None
    return machine


def _swap_tiers(config: RunConfig, design: str, machine: Machine) -> None:
    """``echo TIERS > /sys/kernel/mm/swap/tiers`` and the worker's knobs."""
    from vswap.swap.tier_move import tier_moves_unsupported

    spec = config.tiers
    assert spec is not None
    try:
        machine.sysfs_write("/sys/kernel/mm/swap/tiers", spec.tiers)
    except KernelError as exc:
        raise _error(config, ("swap_tiers", "tiers"), str(exc)) from None
    knobs = machine.design.devices.tiers.knobs
    knobs.demote_age_ns = int(spec.demote_age_s * 1e9)
    knobs.demote_fill_percent = spec.demote_fill_percent
    knobs.promote_refaults = spec.promote_refaults
    knobs.rate_limit = max(int(spec.rate_limit * config.scale), PAGE_SIZE)
    knobs.interval_ns = max(int(spec.interval_s * 1e9), 1)
    why = tier_moves_unsupported(design) if knobs.moves_enabled else None
    if why is not None:
        raise ConfigError(f"{config.source}: swap_tiers: {why}")


def _swapon_all(config: RunConfig, machine: Machine,
                workdir: str | os.PathLike[str] | None) -> None:
    names: set[str] = set()
    for i, dev in enumerate(config.devices):
        where: tuple[str | int, ...] = ("swap", i)
        size = config.scaled(dev.size)
        if size < 10 * PAGE_SIZE:
            raise _error(config, (*where, "size"),
                         f"{format_size(dev.size)} at scale {format_scale(config.scale)} is "
                         f"{size // PAGE_SIZE} pages; a swap area needs at least 10")
        kind = get_device_kind(dev.kind)
        storage: MemSwapStorage | FileSwapStorage
        try:
            if dev.type == "mem":
                storage = MemSwapStorage(size, dev.label)
                if storage.name in names:
                    # Two memory devices of one size would share "mem:<size>" (EBUSY).
                    storage.name = f"{storage.name}#{i}"
            else:
                storage = _open_file_device(dev.path, size, dev.label, i, workdir)
            names.add(storage.name)
            machine.design.swapon(storage, prio=dev.priority, solidstate=kind.solidstate)
        except KernelError as exc:
            raise _error(config, where, str(exc)) from None
        except OSError as exc:
            raise _error(config, (*where, "path"),
                         f"{exc.filename or dev.path}: {exc.strerror}") from None


def _open_file_device(path: str | None, size: int, label: str | None, index: int,
                      workdir: str | os.PathLike[str] | None) -> FileSwapStorage:
    if path is not None:
        mkswap(path, size, label=label)
        return FileSwapStorage.open(path)
    tmp = tempfile.mkdtemp(prefix="vswap-swap-", dir=workdir)
    file = Path(tmp) / f"swapfile{index}"
    try:
        mkswap(file, size, label=label)
        return FileSwapStorage.open(file)
    finally:
        # The open mapping keeps the pages; the name only shows in /proc/swaps.
        file.unlink(missing_ok=True)
        os.rmdir(tmp)
