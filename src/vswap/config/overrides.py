"""Command-line flags over a configuration: :func:`apply_overrides`.

The run commands (``vswap run``, ``compare``, ``bench``) take an optional TOML file and
flags; a flag given on the command line wins over the file. Flags arrive as keyword
arguments named after the long option (``--memory-max`` -> ``memory_max``); ``None`` means
"not given" and leaves the configuration alone. Values are the flag's text as typed (the
function parses it), or already-typed values (ints, lists) where that is natural.

Flag semantics (also in docs/config.md):

============== =================================================================================
flag           effect
============== =================================================================================
design         ``"classic,vswap"`` or a list: replaces ``designs``
workload       ``"usemem -n 4 -O 64M"``: replaces the workloads by this one, in the cgroup of
               the first configured workload (``/workload`` if there was none, created empty)
memory_max     ``"128M"``/``"max"``: ``memory.max`` of every cgroup that runs a workload
               (``/workload`` if none, created with a workload-less config)
swap_device    list of ``file:SIZE[:KIND]`` / ``mem:SIZE[:KIND]`` / ``none``: replaces the
               devices (``none`` alone: no device)
zswap          a compressor name (zswap configured, enabled, that compressor) or ``off``
               (no zswap)
cpus, ram      machine CPUs (> 0) and RAM (a size)
seed, scale    the run's seed (>= 0) and scale (in (0, 1024]; ``1/128`` or ``0.01``)
verify         true/false: content verification
costs          a cost file (docs/costs.md): replaces the file's ``costs``
============== =================================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from vswap.errors import ConfigError
from vswap.kernel.errors import KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.memcg_files import page_counter_memparse
from vswap.sim.device_kinds import DEVICE_KINDS
from vswap.swap import DESIGNS
from vswap.units import parse_scale, parse_size
from vswap.zswap.compressors import get_compressor
from vswap.zswap.zswap import ZswapParams

from .spec import CgroupSpec, DeviceSpec, MachineSpec, RunConfig, WorkloadSpec

__all__ = ["DEFAULT_WORKLOAD_CGROUP", "OVERRIDE_FLAGS", "apply_overrides",
           "parse_designs", "parse_swap_device"]

#: The cgroup a ``--workload`` / ``--memory-max`` goes to when the configuration has none.
DEFAULT_WORKLOAD_CGROUP = "/workload"

#: Every flag :func:`apply_overrides` understands.
OVERRIDE_FLAGS = ("design", "workload", "memory_max", "swap_device", "zswap", "cpus", "ram",
                  "seed", "scale", "verify", "costs")


def parse_designs(value: str | Iterable[str], *, what: str = "--design") -> tuple[str, ...]:
    """``"classic,vswap"`` (or a list) -> a tuple of known design names.

    Raises:
        ConfigError: empty, unknown or repeated name.
    """
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip() for n in items if n.strip()]
    if not names:
        raise ConfigError(f"{what}: no design given (known: {', '.join(DESIGNS)})")
    for n in names:
        if n not in DESIGNS:
            raise ConfigError(f"{what}: unknown swap design {n!r} (known: {', '.join(DESIGNS)})")
    if len(set(names)) != len(names):
        raise ConfigError(f"{what}: a design is listed twice ({','.join(names)})")
    return tuple(names)


def parse_swap_device(text: str, *, what: str = "--swap-device") -> DeviceSpec | None:
    """``file:1G``, ``mem:512M:zram``, ``file:8G:nvme`` -> DeviceSpec; ``none`` -> None.

    Raises:
        ConfigError: not ``TYPE:SIZE[:KIND]``, unknown type or kind, size that does not
            parse or is under 10 pages.
    """
    s = text.strip()
    if s == "none":
        return None
    parts = s.split(":")
    if len(parts) not in (2, 3) or parts[0] not in ("file", "mem"):
        raise ConfigError(f"{what}: {text!r} is not file:SIZE[:KIND], mem:SIZE[:KIND] or none")
    size = parse_size(parts[1], what=what)
    if size < 10 * PAGE_SIZE:
        raise ConfigError(f"{what}: {parts[1]} is under 10 pages, too small for a swap area")
    kind = parts[2].lower() if len(parts) == 3 else ""
    if kind and kind not in DEVICE_KINDS:
        raise ConfigError(f"{what}: unknown device kind {parts[2]!r} "
                          f"(known: {', '.join(sorted(DEVICE_KINDS))})")
    return DeviceSpec(type=parts[0], size=size, kind=kind)


def _workload_cgroups(config: RunConfig) -> list[str]:
    paths: list[str] = []
    for w in config.workloads:
        if w.cgroup not in paths:
            paths.append(w.cgroup)
    return paths or [DEFAULT_WORKLOAD_CGROUP]


def _with_knob(cgroups: tuple[CgroupSpec, ...], path: str, name: str, value: str
               ) -> tuple[CgroupSpec, ...]:
    out = []
    found = False
    for c in cgroups:
        if c.path == path:
            c = CgroupSpec(path=c.path, knobs={**c.knobs, name: value})
            found = True
        out.append(c)
    if not found:
        out.append(CgroupSpec(path=path, knobs={name: value}))
    return tuple(out)


def _bool(value: object, what: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n"):
        return False
    raise ConfigError(f"{what}: {value!r} is not true or false")


def apply_overrides(config: RunConfig, **flags: Any) -> RunConfig:
    """Return ``config`` with the command-line ``flags`` applied (``None`` = not given).

    See the module docstring for each flag. ``config`` itself is not changed.

    Raises:
        ConfigError: an unknown flag name, or a value that does not parse (one line naming
            the flag as typed, e.g. ``--memory-max: ...``).
    """
    for name in flags:
        if name not in OVERRIDE_FLAGS:
            raise ConfigError(f"apply_overrides: unknown flag {name!r} "
                              f"(known: {', '.join(OVERRIDE_FLAGS)})")
    given = {k: v for k, v in flags.items() if v is not None}
    changes: dict[str, Any] = {}
    machine = config.machine
    if "design" in given:
        changes["designs"] = parse_designs(given["design"])
    workloads = config.workloads
    cgroups = config.cgroups
    if "workload" in given:
        command = str(given["workload"]).strip()
        if not command:
            raise ConfigError("--workload: empty command line")
        cgroup = config.workloads[0].cgroup if config.workloads else DEFAULT_WORKLOAD_CGROUP
        workloads = (WorkloadSpec(cgroup=cgroup, command=command),)
        if cgroup != "/" and not any(c.path == cgroup for c in cgroups):
            cgroups = (*cgroups, CgroupSpec(path=cgroup))
    if "memory_max" in given:
        value = str(given["memory_max"]).strip()
        try:
            page_counter_memparse(value, "--memory-max")
        except KernelError as exc:
            raise ConfigError(exc.detail) from None
        paths = [p for p in _workload_cgroups(dataclasses.replace(config, workloads=workloads))
                 if p != "/"]
        if not paths:
            raise ConfigError("--memory-max: the workload runs in the root cgroup, which has "
                              "no memory.max")
        for p in paths:
            cgroups = _with_knob(cgroups, p, "memory.max", value)
    changes["workloads"] = workloads
    changes["cgroups"] = cgroups
    if "swap_device" in given:
        raw = given["swap_device"]
        items = [raw] if isinstance(raw, str | DeviceSpec) else list(raw)
        devices = []
        for item in items:
            dev = item if isinstance(item, DeviceSpec) else parse_swap_device(str(item))
            if dev is None:
                if len(items) > 1:
                    raise ConfigError("--swap-device: 'none' cannot be combined with devices")
                continue
            devices.append(dev)
        changes["devices"] = tuple(devices)
    if "zswap" in given:
        value = str(given["zswap"]).strip()
        if value == "off":
            changes["zswap"] = None
        else:
            try:
                get_compressor(value)
            except ConfigError as exc:
                raise ConfigError(f"--zswap: {str(exc).removeprefix('compressor: ')}") from None
            base = config.zswap or ZswapParams()
            changes["zswap"] = dataclasses.replace(base, enabled=True, compressor=value)
    if "cpus" in given:
        cpus = _int(given["cpus"], "--cpus")
        if cpus < 1:
            raise ConfigError(f"--cpus: {cpus} is not a positive CPU count")
        machine = dataclasses.replace(machine, cpus=cpus)
    if "ram" in given:
        ram = (given["ram"] if isinstance(given["ram"], int)
               else parse_size(str(given["ram"]), what="--ram"))
        if ram < 16 * PAGE_SIZE:
            raise ConfigError(f"--ram: {ram} bytes is less than 16 pages")
        machine = dataclasses.replace(machine, ram=ram)
    changes["machine"] = MachineSpec(ram=machine.ram, cpus=machine.cpus,
                                     sysctl=dict(machine.sysctl), sysfs=dict(machine.sysfs))
    if "seed" in given:
        seed = _int(given["seed"], "--seed")
        if seed < 0:
            raise ConfigError(f"--seed: {seed} is negative")
        changes["seed"] = seed
    if "scale" in given:
        changes["scale"] = parse_scale(given["scale"], what="--scale")
    if "costs" in given:
        from vswap.config.costs import load_cost_file

        load_cost_file(given["costs"])  # a bad file fails here, naming itself
        changes["costs"] = str(given["costs"])
    if "verify" in given:
        changes["verify"] = _bool(given["verify"], "--verify")
    return dataclasses.replace(config, **changes)


def _int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{what}: {value!r} is not an integer")
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{what}: {value!r} is not an integer") from None
