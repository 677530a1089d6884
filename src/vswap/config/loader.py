"""Read and validate a run configuration from TOML (``tomllib``).

Every problem is a :class:`~vswap.errors.ConfigError` with one line naming the file, the key
path in TOML spelling and what is wrong, for example::

    config.toml: cgroups."/a".memory.maxx: unknown cgroup knob (the kernel has: memory.max, ...)
    config.toml: swap[1].size: cannot parse '3X' as a size (examples: 4096, 64K, 1G)
    config.toml: designs[0]: unknown swap design 'clasic' (known: classic, vswap, ...)

The checks: unknown keys (at every level), values of the wrong kind (a string where a number
belongs, a boolean where 0/1 belongs), sizes that do not parse, numbers out of the kernel's
range, unknown designs, compressors and device kinds, cgroup knobs the kernel does not have
(or that are read-only, or that the model does not implement), cgroup values the kernel
would refuse (checked with the kernel's own parser), and workloads placed in cgroups the
file does not declare. The layout is documented in docs/config.md.
"""

from __future__ import annotations

import difflib
import re
import shlex
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from vswap.errors import ConfigError
from vswap.fileio import read_input_text
from vswap.kernel.errors import KernelError
from vswap.kernel.pagedata import MODES as PAGE_DATA_MODES
from vswap.kernel.types import PAGE_SIZE, SWAPFILE_CLUSTER
from vswap.mm.memcg_files import page_counter_memparse
from vswap.sim.device_kinds import DEVICE_KINDS
from vswap.swap import DESIGNS
from vswap.units import SEED_RANGE, parse_scale, parse_size
from vswap.zswap.compressors import get_compressor
from vswap.zswap.zswap import ZswapParams

from .spec import (
    KERNEL_MEMCG_FILES,
    SETTABLE_KNOBS,
    SYSCTL_RANGES,
    SYSCTLS,
    SYSFS_KNOBS,
    CgroupSpec,
    DeviceSpec,
    MachineSpec,
    RunConfig,
    TierSpec,
    WorkloadSpec,
)

__all__ = ["load_config", "loads_config", "parse_config"]

_TOP_KEYS = ("designs", "seed", "scale", "verify", "page_data", "costs", "machine", "sysctl",
             "sysfs", "swap", "zswap", "cgroups", "workloads", "swap_tiers")
_MACHINE_KEYS = ("ram", "cpus")
_DEVICE_KEYS = ("type", "size", "priority", "kind", "path", "label")
_WORKLOAD_KEYS = ("cgroup", "command")
_ZSWAP_KEYS = ("enabled", "compressor", "max_pool_percent", "accept_threshold_percent",
               "shrinker_enabled", "writeback_batch_size", "writeback_compressed")
_TIER_KEYS = ("tiers", "demote_age_s", "demote_fill_percent", "promote_refaults",
              "rate_limit", "interval_s")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_THP_SIZE_KNOB = re.compile(r"^/sys/kernel/mm/transparent_hugepage/hugepages-\d+kB/enabled$")

#: A function that checks a workload command line and raises ConfigError if it is bad.
WorkloadParser = Callable[[str], object]


def _key(part: str | int) -> str:
    if isinstance(part, int):
        return f"[{part}]"
    return part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'


def key_path(*parts: str | int) -> str:
    """A TOML key path as a user would write it: ``cgroups."/a".memory.max``, ``swap[1].size``."""
    out = ""
    for p in parts:
        k = _key(p)
        out += k if (isinstance(p, int) or not out) else "." + k
    return out


class _Ctx:
    """The file name, for one-line errors ``<file>: <key path>: <problem>``."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, path: tuple[str | int, ...], problem: str) -> ConfigError:
        where = key_path(*path)
        return ConfigError(f"{self.source}: {where}: {problem}" if where
                           else f"{self.source}: {problem}")

    # -- shape checks ----------------------------------------------------------------------
    def table(self, value: object, path: tuple[str | int, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"expected a table, got {_kind(value)}")
        return value

    def known(self, table: Mapping[str, Any], allowed: tuple[str, ...],
              path: tuple[str | int, ...], what: str = "key") -> None:
        for k in table:
            if k not in allowed:
                raise self.error((*path, k), f"unknown {what}{_suggest(k, allowed)} "
                                             f"(known: {', '.join(allowed)})")

    def integer(self, value: object, path: tuple[str | int, ...], lo: int | None = None,
                hi: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(path, f"expected an integer, got {_kind(value)}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            raise self.error(path, f"{value} is outside {rng}")
        return value

    def boolean(self, value: object, path: tuple[str | int, ...]) -> bool:
        if not isinstance(value, bool):
            raise self.error(path, f"expected true or false, got {_kind(value)}")
        return value

    def string(self, value: object, path: tuple[str | int, ...]) -> str:
        if not isinstance(value, str):
            raise self.error(path, f"expected a string, got {_kind(value)}")
        return value

    def size(self, value: object, path: tuple[str | int, ...]) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.error(path, f"expected a size (\"64M\" or a byte count), "
                                   f"got {_kind(value)}")
        if isinstance(value, int):
            if value < 0:
                raise self.error(path, f"{value} is negative")
            return value
        try:
            return parse_size(value, what="size")
        except ConfigError as exc:
            raise self.error(path, str(exc).removeprefix("size: ")) from None


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"an integer ({value})"
    if isinstance(value, float):
        return f"a float ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


def _suggest(name: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"memory": {"max": "1G"}}`` (TOML ``memory.max = "1G"``) -> ``{"memory.max": "1G"}``."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten(v, name))
        else:
            out[name] = v
    return out


def _dotted(name: str) -> tuple[str, ...]:
    return tuple(name.split("."))


# -- sections ------------------------------------------------------------------------------
def _machine(ctx: _Ctx, raw: object, sysctl_raw: object, sysfs_raw: object) -> MachineSpec:
    table = ctx.table(raw, ("machine",))
    ctx.known(table, _MACHINE_KEYS, ("machine",))
    defaults = MachineSpec()
    ram = ctx.size(table["ram"], ("machine", "ram")) if "ram" in table else defaults.ram
    if ram < 16 * PAGE_SIZE:
        raise ctx.error(("machine", "ram"), f"{ram} bytes is less than 16 pages")
    cpus = (ctx.integer(table["cpus"], ("machine", "cpus"), 1, 4096) if "cpus" in table
            else defaults.cpus)
    sysctl: dict[str, int] = {}
    for name, value in _flatten(ctx.table(sysctl_raw, ("sysctl",))).items():
        path = ("sysctl", *_dotted(name))
        if name not in SYSCTLS:
            raise ctx.error(path, f"unknown sysctl{_suggest(name, list(SYSCTLS))} "
                                  f"(supported: {', '.join(SYSCTLS)})")
        lo, hi = SYSCTL_RANGES[name]
        sysctl[name] = ctx.integer(value, path, lo, hi)
    sysfs: dict[str, str] = {}
    for name, value in ctx.table(sysfs_raw, ("sysfs",)).items():
        path = ("sysfs", name)
        if name not in SYSFS_KNOBS and not _THP_SIZE_KNOB.match(name):
            raise ctx.error(path, f"unsupported sysfs knob (supported: "
                                  f"{', '.join(SYSFS_KNOBS)}; zswap parameters go in [zswap])")
        if isinstance(value, bool):
            value = "true" if value else "false"
        sysfs[name] = ctx.string(value, path)
    return MachineSpec(ram=ram, cpus=cpus, sysctl=sysctl, sysfs=sysfs)


def _devices(ctx: _Ctx, raw: object) -> tuple[DeviceSpec, ...]:
    if not isinstance(raw, list):
        raise ctx.error(("swap",), f"expected an array of tables ([[swap]]), got {_kind(raw)}")
    out: list[DeviceSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        path: tuple[str | int, ...] = ("swap", i)
        t = ctx.table(item, path)
        ctx.known(t, _DEVICE_KEYS, path)
        for required in ("type", "size"):
            if required not in t:
                raise ctx.error((*path, required), "missing (every [[swap]] needs type and "
                                                   "size)")
        dtype = ctx.string(t["type"], (*path, "type"))
        if dtype not in ("file", "mem"):
            raise ctx.error((*path, "type"), f"{dtype!r} is not a device type (file or mem)")
        size = ctx.size(t["size"], (*path, "size"))
        if size < 10 * PAGE_SIZE:
            raise ctx.error((*path, "size"), f"{size} bytes is under 10 pages, too small for "
                                             f"a swap area")
        prio = None
        if "priority" in t:
            prio = ctx.integer(t["priority"], (*path, "priority"), 0, 32767)
        kind = ""
        if "kind" in t:
            kind = ctx.string(t["kind"], (*path, "kind")).lower()
            if kind not in DEVICE_KINDS:
                raise ctx.error((*path, "kind"), f"unknown device kind {kind!r} "
                                                 f"(known: {', '.join(sorted(DEVICE_KINDS))})")
        dev_path = None
        if "path" in t:
            if dtype != "file":
                raise ctx.error((*path, "path"), "only a file device has a path")
            dev_path = ctx.string(t["path"], (*path, "path"))
            if dev_path in seen:
                raise ctx.error((*path, "path"), f"{dev_path} is already a swap device")
            seen.add(dev_path)
        label = None
        if "label" in t:
            label = ctx.string(t["label"], (*path, "label"))
            if len(label.encode()) > 16:
                raise ctx.error((*path, "label"), "a swap label holds at most 16 bytes")
        out.append(DeviceSpec(type=dtype, size=size, priority=prio, kind=kind, path=dev_path,
                              label=label))
    return tuple(out)


def _zswap(ctx: _Ctx, raw: object) -> ZswapParams:
    t = ctx.table(raw, ("zswap",))
    ctx.known(t, _ZSWAP_KEYS, ("zswap",), "zswap parameter")
    values: dict[str, Any] = {}
    for name in ("enabled", "shrinker_enabled", "writeback_compressed"):
        if name in t:
            values[name] = ctx.boolean(t[name], ("zswap", name))
    if "writeback_batch_size" in t:
        values["writeback_batch_size"] = ctx.integer(
            t["writeback_batch_size"], ("zswap", "writeback_batch_size"), 1, SWAPFILE_CLUSTER)
    for name in ("max_pool_percent", "accept_threshold_percent"):
        if name in t:
            values[name] = ctx.integer(t[name], ("zswap", name), 0, 100)
    if "compressor" in t:
        comp = ctx.string(t["compressor"], ("zswap", "compressor"))
        try:
            get_compressor(comp)
        except ConfigError as exc:
            raise ctx.error(("zswap", "compressor"),
                            str(exc).removeprefix("compressor: ")) from None
        values["compressor"] = comp
    return ZswapParams(**values)


def _swap_tiers(ctx: _Ctx, raw: object) -> TierSpec:
    """``[swap_tiers]``: the tier table text and the worker's knobs (checked again by the
    machine when written, as the kernel checks ``/sys/kernel/mm/swap/tiers``)."""
    where: tuple[str | int, ...] = ("swap_tiers",)
    t = ctx.table(raw, where)
    ctx.known(t, _TIER_KEYS, where, "swap_tiers key")
    if "tiers" not in t:
        raise ctx.error((*where, "tiers"), "missing (e.g. tiers = \"+FAST:100, +SLOW:-1\")")

    def seconds(key: str, default: float, positive: bool) -> float:
        v = t.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0 or \
                (positive and v == 0) or v > 86400:
            raise ctx.error((*where, key), f"expected seconds in {'(0' if positive else '[0'}"
                                           f", 86400], got {_kind(v)}")
        return float(v)

    return TierSpec(
        tiers=ctx.string(t["tiers"], (*where, "tiers")),
        demote_age_s=seconds("demote_age_s", 0.0, False),
        demote_fill_percent=ctx.integer(t.get("demote_fill_percent", 100),
                                        (*where, "demote_fill_percent"), 1, 100),
        promote_refaults=ctx.integer(t.get("promote_refaults", 0),
                                     (*where, "promote_refaults"), 0, 1 << 20),
        rate_limit=(ctx.size(t["rate_limit"], (*where, "rate_limit"))
                    if "rate_limit" in t else 64 << 20),
        interval_s=seconds("interval_s", 0.1, True))


def _knob_value(ctx: _Ctx, name: str, value: object, path: tuple[str | int, ...]) -> str:
    """Check a cgroup file value as the kernel's write handler would; return it as text."""
    if name == "memory.swap.tiers.max":
        if not isinstance(value, str) or not value.strip():
            raise ctx.error(path, f"expected \"<tier> max\" or \"<tier> 0\" lines, got "
                                  f"{_kind(value)}")
        return value
    if name == "memory.zswap.writeback":
        if isinstance(value, bool) or value not in (0, 1, "0", "1"):
            raise ctx.error(path, f"expected 0 or 1 (kernel syntax), got {_kind(value)}")
        return str(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ctx.error(path, f"expected a size in kernel syntax (\"16G\", \"max\") or a "
                              f"byte count, got {_kind(value)}")
    if isinstance(value, int) and value < 0:
        raise ctx.error(path, f"{value} is negative")
    try:
        page_counter_memparse(str(value), name)
    except KernelError as exc:
        raise ctx.error(path, exc.detail.removeprefix(f"{name}: ")) from None
    return str(value)


def _cgroup_path(ctx: _Ctx, path_text: str) -> str:
    where = ("cgroups", path_text)
    if not path_text.startswith("/"):
        raise ctx.error(where, "a cgroup path starts with / (relative to /sys/fs/cgroup)")
    parts = [p for p in path_text.split("/") if p]
    if not parts:
        raise ctx.error(where, "the root cgroup has no memory.max, memory.swap.max, ... "
                               "(set them on a child cgroup)")
    for p in parts:
        if p in (".", "..") or p.startswith("cgroup.") or p.startswith("memory."):
            raise ctx.error(where, f"{p!r} is not a valid cgroup name")
        # cgroup_mkdir() refuses a name with a line break (EINVAL: cgroup.procs and
        # /proc/PID/cgroup print one path per line); the VFS refuses names over NAME_MAX.
        if "\n" in p:
            raise ctx.error(where, f"{p!r}: the kernel refuses cgroup names with a line "
                                   "break (EINVAL)")
        if "\0" in p:
            raise ctx.error(where, f"{p!r}: a path cannot hold a NUL byte")
        if len(p.encode("utf-8", "surrogatepass")) > 255:
            raise ctx.error(where, f"{p[:20]!r}...: longer than NAME_MAX (255 bytes; "
                                   "ENAMETOOLONG)")
    # Empty components ("/a//b", "/a/") name the same directory, as the VFS resolves them.
    return "/" + "/".join(parts)


def _cgroups(ctx: _Ctx, raw: object) -> tuple[CgroupSpec, ...]:
    t = ctx.table(raw, ("cgroups",))
    out: dict[str, CgroupSpec] = {}
    for path_text, knobs_raw in t.items():
        path = _cgroup_path(ctx, path_text)
        if path in out:
            raise ctx.error(("cgroups", path_text), f"{path} is given twice")
        knobs: dict[str, str] = {}
        for name, value in _flatten(ctx.table(knobs_raw, ("cgroups", path_text))).items():
            where = ("cgroups", path_text, *_dotted(name))
            if name not in KERNEL_MEMCG_FILES:
                raise ctx.error(where, "unknown cgroup knob"
                                       f"{_suggest(name, list(KERNEL_MEMCG_FILES))} "
                                       f"(the kernel has: {', '.join(SETTABLE_KNOBS)}, ...)")
            if name not in SETTABLE_KNOBS:
                if name in ("memory.reclaim", "memory.peak", "memory.swap.peak"):
                    why = "an action when written, not a setting"
                elif name in ("memory.min", "memory.low", "memory.oom.group"):
                    why = "a kernel knob the model does not implement"
                else:
                    why = "read-only in the kernel"
                raise ctx.error(where, f"{why} (settable: {', '.join(SETTABLE_KNOBS)})")
            knobs[name] = _knob_value(ctx, name, value, where)
        out[path] = CgroupSpec(path=path, knobs=knobs)
    return tuple(out.values())


def _workloads(ctx: _Ctx, raw: object, cgroups: tuple[CgroupSpec, ...],
               parse_workload: WorkloadParser | None) -> tuple[WorkloadSpec, ...]:
    if not isinstance(raw, list):
        raise ctx.error(("workloads",), f"expected an array of tables ([[workloads]]), got "
                                        f"{_kind(raw)}")
    declared = {"/"}
    for c in cgroups:
        parts = c.path.strip("/").split("/")
        declared.update("/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1))
    out = []
    for i, item in enumerate(raw):
        path: tuple[str | int, ...] = ("workloads", i)
        t = ctx.table(item, path)
        ctx.known(t, _WORKLOAD_KEYS, path)
        if "command" not in t:
            raise ctx.error((*path, "command"), "missing (the workload's command line, e.g. "
                                                "\"usemem -n 4 -O 64M\")")
        command = ctx.string(t["command"], (*path, "command"))
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ctx.error((*path, "command"), f"cannot split {command!r}: {exc}") from None
        if not argv:
            raise ctx.error((*path, "command"), "empty command line")
        if parse_workload is not None:
            try:
                parse_workload(command)
            except ConfigError as exc:
                raise ctx.error((*path, "command"), str(exc)) from None
        cgroup = ctx.string(t.get("cgroup", "/"), (*path, "cgroup"))
        norm = "/" + "/".join(p for p in cgroup.split("/") if p)
        if norm not in declared:
            raise ctx.error((*path, "cgroup"), f"{cgroup} is not declared in [cgroups] "
                                               f"(declared: {', '.join(sorted(declared))})")
        out.append(WorkloadSpec(cgroup=norm, command=command))
    return tuple(out)


def _designs(ctx: _Ctx, raw: object) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise ctx.error(("designs",), f"expected a non-empty array of design names, got "
                                      f"{_kind(raw)}")
    out: list[str] = []
    for i, name in enumerate(raw):
        name = ctx.string(name, ("designs", i))
        if name not in DESIGNS:
            raise ctx.error(("designs", i), f"unknown swap design {name!r}"
                                            f"{_suggest(name, DESIGNS)} (known: "
                                            f"{', '.join(DESIGNS)})")
        if name in out:
            raise ctx.error(("designs", i), f"{name} is listed twice")
        out.append(name)
    return tuple(out)


def parse_config(data: Mapping[str, Any], *, source: str = "config",
                 parse_workload: WorkloadParser | None = None,
                 base_dir: Path | None = None) -> RunConfig:
    """Validate parsed TOML ``data`` and build a :class:`RunConfig`.

    ``parse_workload``, if given, is called on every workload command line and may raise
    ConfigError (the message is prefixed with the file and key path). ``base_dir``: where a
    relative ``costs`` path is found (the file's directory; default the current one).

    Raises:
        ConfigError: one line, ``<source>: <key path>: <problem>``.
    """
    ctx = _Ctx(source)
    top = dict(data)
    ctx.known(top, _TOP_KEYS, ())
    defaults = RunConfig()
    machine = _machine(ctx, top.get("machine", {}), top.get("sysctl", {}), top.get("sysfs", {}))
    devices = _devices(ctx, top.get("swap", []))
    zswap = _zswap(ctx, top["zswap"]) if "zswap" in top else None
    cgroups = _cgroups(ctx, top.get("cgroups", {}))
    workloads = _workloads(ctx, top.get("workloads", []), cgroups, parse_workload)
    designs = _designs(ctx, top["designs"]) if "designs" in top else defaults.designs
    seed = (ctx.integer(top["seed"], ("seed",), *SEED_RANGE) if "seed" in top
            else defaults.seed)
    scale = defaults.scale
    if "scale" in top:
        s = top["scale"]
        if isinstance(s, bool) or not isinstance(s, int | float | str):
            raise ctx.error(("scale",), f"expected a number or a fraction such as \"1/128\", "
                                        f"got {_kind(s)}")
        try:
            scale = parse_scale(s, what="scale")
        except ConfigError as exc:
            raise ctx.error(("scale",), str(exc).removeprefix("scale: ")) from None
    verify = ctx.boolean(top["verify"], ("verify",)) if "verify" in top else defaults.verify
    page_data = defaults.page_data
    if "page_data" in top:
        page_data = ctx.string(top["page_data"], ("page_data",))
        if page_data not in PAGE_DATA_MODES:
            raise ctx.error(("page_data",), f"{page_data!r} is not one of "
                                            f"{', '.join(PAGE_DATA_MODES)}")
    tiers = _swap_tiers(ctx, top["swap_tiers"]) if "swap_tiers" in top else None
    costs = None
    if "costs" in top:
        costs = _costs_path(ctx, top["costs"], base_dir)
    return RunConfig(machine=machine, devices=devices, zswap=zswap, cgroups=cgroups,
                     workloads=workloads, designs=designs, seed=seed, scale=scale,
                     verify=verify, page_data=page_data, source=source, costs=costs,
                     tiers=tiers)


def _costs_path(ctx: _Ctx, raw: object, base_dir: Path | None) -> str:
    """``costs = "FILE"``: relative to the configuration's directory; loaded now, so a bad
    cost file fails the configuration with the key named."""
    from vswap.config.costs import load_cost_file

    text = ctx.string(raw, ("costs",))
    path = Path(text)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        load_cost_file(path)
    except ConfigError as exc:
        raise ctx.error(("costs",), str(exc)) from None
    return str(path)


def loads_config(text: str, *, source: str = "config",
                 parse_workload: WorkloadParser | None = None,
                 base_dir: Path | None = None) -> RunConfig:
    """Parse TOML ``text`` (see :func:`parse_config`); a TOML syntax error is a ConfigError."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_config(data, source=source, parse_workload=parse_workload,
                        base_dir=base_dir)


def load_config(path: str | Path, *, parse_workload: WorkloadParser | None = None
                ) -> RunConfig:
    """Read and validate the TOML configuration file at ``path``.

    Raises:
        ConfigError: the file is missing, unreadable, not TOML, or fails validation; one
            line naming the file (as given) and the key.
    """
    p = Path(path)
    # A FIFO, /dev/zero or a huge file is refused before it is read.
    text = read_input_text(p, what="--config", max_bytes=16 << 20)
    return loads_config(text, source=str(path), parse_workload=parse_workload,
                        base_dir=p.parent)
