"""The typed run configuration: what one TOML file (or the command line) describes.

Every class is a frozen, keyword-only dataclass; sizes are bytes (already parsed), cgroup
knob values stay in the kernel's syntax (``"16G"``, ``"max"``, ``"0"``) because the machine
parses them exactly as the kernel's ``page_counter_memparse`` does when they are written.

* :class:`MachineSpec`: RAM, CPUs, ``vm.*`` sysctls and sysfs knobs.
* :class:`DeviceSpec`: one swap device (``file`` or ``mem``), in ``swapon`` order.
* ``zswap``: :class:`vswap.zswap.zswap.ZswapParams` (kernel parameter names) or None for a
  kernel without zswap.
* :class:`CgroupSpec`: one cgroup path and the files written into it, in order.
* :class:`WorkloadSpec`: one workload command line run in one cgroup.
* :class:`RunConfig`: all of the above plus the designs to compare, the seed and the scale.

The TOML layout and every key are documented in docs/config.md; the loader is
:mod:`vswap.config.loader`, the machine builder :mod:`vswap.config.build`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from vswap.kernel.types import PAGE_SIZE
from vswap.zswap.zswap import ZswapParams

#: Cgroup files whose value is a byte count (or ``max``) and therefore scales with ``scale``.
SIZE_KNOBS = ("memory.max", "memory.high", "memory.swap.max", "memory.swap.high",
              "memory.zswap.max")

#: The memory-controller files a configuration may set (writable, and a setting rather
#: than an action such as ``memory.reclaim``), in the order docs/config.md lists them.
SETTABLE_KNOBS = (*SIZE_KNOBS, "memory.zswap.writeback", "memory.swap.tiers.max")

#: Every memory-controller file of cgroup v2 (Documentation/admin-guide/cgroup-v2.rst),
#: read-only ones included: a name outside this set is a knob the kernel does not have.
KERNEL_MEMCG_FILES = (
    "memory.current", "memory.min", "memory.low", "memory.high", "memory.max",
    "memory.reclaim", "memory.peak", "memory.oom.group", "memory.events",
    "memory.events.local", "memory.stat", "memory.numa_stat", "memory.pressure",
    "memory.swap.current", "memory.swap.high", "memory.swap.max", "memory.swap.peak",
    "memory.swap.events", "memory.zswap.current", "memory.zswap.max",
    "memory.zswap.writeback",
    # Swap tiers v8/v9 (not merged; v10 moved the masks to debugfs): docs/future.md.
    "memory.swap.tiers.max",
)

#: ``vm.*`` sysctls a configuration may set -> the :class:`vswap.mm.machine.MachineConfig`
#: field each one initialises.
SYSCTLS = {
    "vm.swappiness": "swappiness",
    "vm.page-cluster": "page_cluster",
    "vm.min_free_kbytes": "min_free_kbytes",
    "vm.watermark_scale_factor": "watermark_scale_factor",
}

#: Inclusive ranges the kernel accepts for each sysctl (mm/vmscan.c, mm/swap.c,
#: mm/page_alloc.c sysctl tables).
SYSCTL_RANGES = {
    "vm.swappiness": (0, 200),
    "vm.page-cluster": (0, 31),
    "vm.min_free_kbytes": (0, 1 << 40),
    "vm.watermark_scale_factor": (1, 3000),
}

#: sysfs knobs a configuration may set (written with ``Machine.sysfs_write`` after the
#: devices are on). zswap's parameters have their own ``[zswap]`` table.
SYSFS_KNOBS = (
    "/sys/kernel/mm/swap/vma_ra_enabled",
    "/sys/kernel/mm/transparent_hugepage/enabled",
    "/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled",
    "/sys/kernel/mm/swap/discontig_swapout",
    "/sys/kernel/mm/swap/mixed_swapin",
)

#: Device type -> default device kind (vswap.sim.device_kinds).
DEFAULT_DEVICE_KIND = {"file": "ssd", "mem": "zram"}


@dataclass(frozen=True, kw_only=True)
class MachineSpec:
    """The machine: ``ram`` bytes, ``cpus``, sysctls by kernel name, sysfs knobs by path.

    ``sysctl`` keys are the names in :data:`SYSCTLS` (``vm.swappiness`` ...); unset ones keep
    the kernel defaults of :class:`~vswap.mm.machine.MachineConfig`. ``sysfs`` maps a path of
    :data:`SYSFS_KNOBS` to the text written into it.
    """

    ram: int = 1 << 30
    cpus: int = 4
    sysctl: dict[str, int] = field(default_factory=dict)
    sysfs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DeviceSpec:
    """One swap device, swapped on in configuration order.

    * ``type``: ``"file"`` (a real swap file made by ``mkswap``; the ``/proc/swaps`` Type is
      ``file``) or ``"mem"`` (an in-memory area, a zram/brd-like block device; Type
      ``partition``).
    * ``size``: bytes at scale 1 (``scale`` shrinks it).
    * ``priority``: ``swapon -p`` (0..32767), or None for the kernel's default.
    * ``kind``: device kind (:data:`vswap.sim.device_kinds.DEVICE_KINDS`): latency,
      bandwidth, queue depth, ``SWP_SOLIDSTATE``. Default ``ssd`` for files, ``zram`` for mem.
    * ``path``: the swap file (file devices only); None makes one in a temporary directory.
    * ``label``: the swap area's label (``mkswap -L``), at most 16 bytes.
    """

    type: str
    size: int
    priority: int | None = None
    kind: str = ""
    path: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        if not self.kind:
            object.__setattr__(self, "kind", DEFAULT_DEVICE_KIND.get(self.type, "ssd"))


@dataclass(frozen=True, kw_only=True)
class CgroupSpec:
    """One cgroup (``path`` such as ``/bench`` or ``/a/b``) and the files written into it.

    ``knobs`` maps a file name in kernel spelling (:data:`SETTABLE_KNOBS`) to the value in
    kernel syntax (``"16G"``, ``"max"``, ``"0"``), written in this order after ``mkdir``.
    """

    path: str
    knobs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class WorkloadSpec:
    """One workload: its own command line (``"usemem -n 4 -O 64M"``), run in ``cgroup``.

    The command is the workload's (vm-scalability's usemem, numactl's memhog, stress-ng,
    ...); the workload runner (``vswap run``) parses it and applies ``RunConfig.scale``.
    """

    cgroup: str = "/"
    command: str


@dataclass(frozen=True, kw_only=True)
class TierSpec:
    """Swap tiers and the demotion/promotion worker (``[swap_tiers]``; docs/future.md).

    * ``tiers``: the text written into ``/sys/kernel/mm/swap/tiers``
      (``"+FAST:100, +SLOW:-1"``): each tier is the priority range from its start up to
      the next tier's; ``[[swap]]`` priorities place the devices.
    * ``demote_age_s``: seconds an entry may stay untouched before it moves down (0: never).
    * ``demote_fill_percent``: a tier fuller than this moves its oldest entries down (100:
      never).
    * ``promote_refaults``: refaults from one cluster of a slower tier that move the rest of
      the cluster up (0: no promotion).
    * ``rate_limit``: bytes per second the worker moves, at scale 1 (``scale`` shrinks it
      with the sizes, so a scaled run takes as many worker passes).
    * ``interval_s``: the worker's period.
    """

    tiers: str
    demote_age_s: float = 0.0
    demote_fill_percent: int = 100
    promote_refaults: int = 0
    rate_limit: int = 64 << 20
    interval_s: float = 0.1


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """A whole run: machine, devices, zswap, cgroups, workloads, designs, seed, scale.

    * ``designs``: names from :data:`vswap.swap.DESIGNS`, compared on the same workload with
      the same seed.
    * ``scale``: multiplies every size (RAM, devices, cgroup byte limits; workloads apply it
      to theirs), so a configuration written at the RFC's full size runs small.
    * ``verify``: check every page read back (the integrity oracle).
    * ``page_data``: ``full`` (pages hold their bytes) or ``compact`` (an 8-byte descriptor
      per page, :mod:`vswap.kernel.pagedata`).
    * ``source``: the file it came from (for messages), ``"<flags>"`` if none.
    * ``costs``: a cost file (:mod:`vswap.config.costs`), or None for the default table.
    """

    machine: MachineSpec = field(default_factory=MachineSpec)
    devices: tuple[DeviceSpec, ...] = ()
    zswap: ZswapParams | None = None
    cgroups: tuple[CgroupSpec, ...] = ()
    workloads: tuple[WorkloadSpec, ...] = ()
    designs: tuple[str, ...] = ("classic", "vswap")
    seed: int = 1
    scale: float = 1.0
    verify: bool = True
    page_data: str = "full"
    source: str = "<flags>"
    #: A cost file (docs/costs.md), as a path usable from the current directory (a path in
    #: the file is relative to the file's directory); None: the default cost table.
    costs: str | None = None
    #: Swap tiers and their worker (``[swap_tiers]``), or None.
    tiers: TierSpec | None = None

    def scaled(self, nbytes: int, *, minimum: int = PAGE_SIZE) -> int:
        """``nbytes * scale``, rounded down to whole pages, at least ``minimum``."""
        value = int(nbytes * self.scale) // PAGE_SIZE * PAGE_SIZE
        return max(value, minimum)

    def cgroup(self, path: str) -> CgroupSpec | None:
        """The spec of the cgroup at ``path`` (exact match), or None."""
        return next((c for c in self.cgroups if c.path == path), None)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form, for ``RunResult.configuration``."""
        out = dataclasses.asdict(self)
        out["devices"] = [dataclasses.asdict(d) for d in self.devices]
        out["cgroups"] = {c.path: dict(c.knobs) for c in self.cgroups}
        out["workloads"] = [dataclasses.asdict(w) for w in self.workloads]
        out["designs"] = list(self.designs)
        out["zswap"] = dataclasses.asdict(self.zswap) if self.zswap is not None else None
        if self.tiers is None:
            del out["tiers"]
        if self.page_data == "full":  # recorded only when not the default
            del out["page_data"]
        return out
