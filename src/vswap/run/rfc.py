"""The cover letter's three benchmark tables, scaled, on every design (``vswap bench rfc``).

Models: "[RFC PATCH v2 00/18] Virtual Swap Space" section V (numbers from RFC v1,
2025-04-07; spec part 2 section 14): usemem 16 x 2G in ``memory.max=16G``; a kernel build
with zswap, 52 workers, ``memory.max=3G``; swapoff of a 32 GB swapfile 50% full. Sizes are
multiplied by ``scale`` (process, thread and worker counts are not: contention needs the
same concurrency); docs/rfc-benchmarks.md says how each table is reproduced and why the
model's ratios differ where they do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vswap.kernel.types import PAGE_SIZE
from vswap.run.context import DeviceSpec, RunConfig
from vswap.swap.vswap import STATIC_PARTITION_MAX_VSWAP
from vswap.units import format_size

__all__ = ["DEFAULT_SCALE", "RFC", "RFC_DESIGNS", "RfcTable", "rfc_tables"]

#: Default scale: 1/128 of the RFC's sizes (usemem 16 x 16M in 128M, swapoff of a 256M swapfile
#: half full); the kernel build runs at half that scale (memory.max 12M, heaps 256K-768K,
#: 104 jobs), because it is by far the slowest table to model. A few minutes on 2 cores.
DEFAULT_SCALE = 1 / 128
#: The kernel build's sizes relative to ``scale``.
KBUILD_FACTOR = 0.5
#: The designs the tables compare, in column order.
RFC_DESIGNS = ("classic", "vswap", "vswap-static", "vswap-dynamic")
RFC_SOURCE = ("RFC v1 cover letter (lore 20250407234223.1059191-1-nphamcs@gmail.com), "
              "quoted in RFC v2 section V; spec part 2 section 14")

#: The RFC's numbers by table and design ("vswap-static" is the partition hack; no
#: dynamic-partitioning numbers were published).
RFC: dict[str, dict[str, dict[str, float]]] = {
    "usemem": {
        "classic": {"real_s": 33.96, "user_s": 25.31, "sys_s": 341.09,
                    "throughput_kbps": 111295.45, "free_time_s": 2.07925868},
        "vswap": {"real_s": 35.87, "user_s": 25.15, "sys_s": 373.01,
                  "throughput_kbps": 106965.46, "free_time_s": 3.19246562},
        "vswap-static": {"real_s": 34.94, "user_s": 25.28, "sys_s": 360.25,
                         "throughput_kbps": 108181.15, "free_time_s": 2.68089024},
    },
    "kbuild": {
        "classic": {"real_s": 183.55, "user_s": 5119.01, "sys_s": 655.16},
        "vswap": {"real_s": 184.5, "user_s": 5117.4, "sys_s": 695.23},
        "vswap-static": {"real_s": 183.95, "user_s": 5119.29, "sys_s": 664.24},
    },
    "swapoff": {
        "classic": {"real_s": 25.54, "user_s": 0.0, "sys_s": 11.48},
        "vswap": {"real_s": 11.69, "user_s": 0.0, "sys_s": 9.96},
    },
}


@dataclass
class RfcTable:
    """One table: its title, the columns it shows, the run configuration per design, and the
    published numbers it is printed beside (the RFC's, or another cover letter's:
    :mod:`vswap.run.upstream`). Invariant: ``baseline`` is the design the ratio rows divide
    by; ``published`` keys are designs of ``configs``."""

    key: str
    title: str
    setup: str
    columns: tuple[str, ...]
    configs: dict[str, RunConfig] = field(default_factory=dict)
    #: The published numbers by design (None: the RFC's, :data:`RFC`).
    published: dict[str, dict[str, float]] | None = None
    #: Where ``published`` comes from.
    source: str = RFC_SOURCE
    #: The design the ratio rows divide by.
    baseline: str = "classic"
    #: The row label of the published numbers.
    label: str = "RFC"
    #: What each design stands for in the published table (a design not named: itself).
    stands_for: dict[str, str] = field(default_factory=dict)
    #: The table's own scale of the published sizes (None: the run's ``--scale``).
    scale: float | None = None

    def rfc(self, design: str) -> dict[str, float]:
        numbers = RFC[self.key] if self.published is None else self.published
        return dict(numbers.get(design, {}))


def _size(nbytes: float, scale: float) -> int:
    """``nbytes * scale`` rounded down to whole pages, at least 16 pages."""
    v = int(nbytes * scale)
    return max(v - v % PAGE_SIZE, 16 * PAGE_SIZE)


def design_options(design: str, device_bytes: int) -> dict[str, Any]:
    """Options a design needs to run a table: ``vswap-static``'s bounded space.

    The cover letter's partition hack limits the virtual space "to a sufficient size for the
    benchmark". The design's default bound, 2**20-1 ids (4 GiB of swapped pages), suffices up
    to 1/8 of the RFC's sizes; at full size usemem swaps out about 16 GiB and swapoff's fill
    is 16 GiB, which would exhaust it (every allocation fails, reclaim finds nothing it can
    swap). A table whose swap device has more usable slots (its pages but the swap header)
    than the default bound gets a bound of that many ids: every page the device can hold has
    an id. Up to 1/8 the default is kept, so the scaled tables do not change."""
    slots = device_bytes // PAGE_SIZE - 1
    if design == "vswap-static" and slots > STATIC_PARTITION_MAX_VSWAP:
        return {"max_vswap": slots}
    return {}


def rfc_tables(scale: float = DEFAULT_SCALE, *, seed: int = 1,
               designs: tuple[str, ...] = RFC_DESIGNS, verify: bool = True,
               kbuild_jobs: int | None = None, kbuild_scale: float | None = None
               ) -> list[RfcTable]:
    """The three tables at ``scale``, one :class:`RunConfig` per design each (the kernel
    build at ``kbuild_scale``, default ``scale * KBUILD_FACTOR``)."""
    G = 1 << 30
    labels: dict[str, Any] = {"scale": scale}
    # Every table swaps to a 32 GB swapfile (the kernel build's at its own scale).
    swapfile = _size(32 * G, scale)
    tables = []

    # usemem --init-time -w -O -s 10 -n 16 2g, memory.max=16G. The swap device is not
    # given in the cover letter: a swapfile on NVMe large enough for the overflow, no zswap.
    per = _size(2 * G, scale)
    usemem = RfcTable(
        "usemem", "usemem 16 x 2G, memory.max=16G",
        f"usemem --init-time -w -O -s {10 * scale:g} -n 16 {format_size(per)} in "
        f"memory.max={format_size(_size(16 * G, scale))}, swapfile on nvme, 52 CPUs",
        ("real_s", "user_s", "sys_s", "throughput_kbps", "free_time_s"))
    for d in designs:
        usemem.configs[d] = RunConfig(
            design=d, workload=f"usemem --init-time -w -O -s {10 * scale:g} -n 16 "
                               f"{format_size(per)}",
            memory_max=_size(16 * G, scale),
            swap_devices=[DeviceSpec("file", swapfile, "nvme")], zswap=None,
            design_options=design_options(d, swapfile),
            cpus=52, seed=seed, verify=verify, labels=labels | {"table": "usemem"})
    tables.append(usemem)

    # Kernel build, zswap, 52 workers, memory.max=3G. A cc1 heap of 64-192 MB (scaled),
    # 2 jobs per worker; zswap with lz4 and its shrinker (Meta runs zswap with the shrinker
    # Nhat Pham wrote) in front of a swapfile for writeback.
    ks = kbuild_scale if kbuild_scale is not None else scale * KBUILD_FACTOR
    lo, hi = _size(64 << 20, ks), _size(192 << 20, ks)
    kb_swapfile = _size(32 * G, ks)
    jobs = kbuild_jobs if kbuild_jobs is not None else 52 * 2
    kb_cmd = (f"kbuild -j 52 --jobs {jobs} --heap {format_size(lo)}:{format_size(hi)} "
              f"--worker-heap {format_size(_size(4 << 20, ks))}")
    kbuild = RfcTable(
        "kbuild", "kernel build, 52 workers, memory.max=3G, zswap",
        f"{kb_cmd} in memory.max={format_size(_size(3 * G, ks))}, zswap lz4 with its "
        "shrinker, "
        "swapfile on nvme, 52 CPUs", ("real_s", "user_s", "sys_s"))
    for d in designs:
        kbuild.configs[d] = RunConfig(
            design=d, workload=kb_cmd, memory_max=_size(3 * G, ks),
            swap_devices=[DeviceSpec("file", kb_swapfile, "nvme")], zswap="lz4",
            zswap_params={"shrinker_enabled": True},
            design_options=design_options(d, kb_swapfile),
            cpus=52, seed=seed, verify=verify, labels=labels | {"table": "kbuild"})
    tables.append(kbuild)

    # swapoff of a 32 GB swapfile 50% full, with a big unrelated mapping (128 GB file).
    so_cmd = (f"swapoff --fill 0.5 --tasks 4 --drop-swapcache "
              f"--unrelated {format_size(_size(128 * G, scale))}")
    swapoff = RfcTable(
        "swapoff", "swapoff, 32 GB swapfile 50% full",
        f"{so_cmd} on a {format_size(swapfile)} swapfile on nvme, 8 CPUs",
        ("real_s", "user_s", "sys_s"))
    for d in designs:
        swapoff.configs[d] = RunConfig(
            design=d, workload=so_cmd,
            swap_devices=[DeviceSpec("file", swapfile, "nvme")], zswap=None,
            design_options=design_options(d, swapfile),
            cpus=8, seed=seed, verify=verify, labels=labels | {"table": "swapoff"})
    tables.append(swapoff)
    return tables


def table_value(table: RfcTable, result: Any, column: str) -> float:
    """The model's number for ``column`` of ``table`` (swapoff: the swapoff task's times)."""
    if table.key == "swapoff":
        if column == "user_s":
            return 0.0
        return float(result.swapoff.get(column, 0.0))
    return float(getattr(result.metrics, column))
