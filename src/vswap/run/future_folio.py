"""``bench future`` tables 2 and 3: large folios on a fragmented device, and mixed-backing
large-folio swap-in.

Models: the virtual swap cover letter's section III large-folio use cases (spec part 2,
sections 15.3 to 15.5; docs/future.md, "Large folios").

**fragmentation** (use cases 3 and 4, the ``mthp-frag`` workload): 90% of a 1 GiB NVMe
device filled with order-0 pages and every other one freed (no free cluster is left), 8 GiB
of unrelated mapped memory (one page written per page table: what classic compaction's
page-table walk must visit), then a 1/3-device region of 64 KiB mTHPs swapped out with one
``MADV_PAGEOUT`` and read back. Rows per design: as the kernel does it (classic and the swap
tables split every folio; the virtual designs keep it in memory, since only the physical
allocation fails), ``--discontig`` (the virtual designs write each folio to scattered order-0
slots) and ``--compact`` (classic by a ``try_to_unuse``-style PTE rewrite, the virtual
designs by descriptor updates, ``vswap-ste`` by a virtual-word and a pointer-word update; the
swap tables cannot compact: their row is the split).

**mixed swap-in** (use case 5, the ``mthp-mixed`` workload): a 1 GiB region of 64 KiB mTHPs,
one page in four zero, stored in zswap, half of the zswap entries written back to a 4 GiB
NVMe device, then read back. Rows: classic and the swap tables (order-0 fallback, one fault
per page) and the virtual designs without and with ``mixed_swapin``.

All sizes are multiplied by ``scale``.
"""

from __future__ import annotations

from collections.abc import Callable

from vswap.config.spec import CgroupSpec, DeviceSpec, MachineSpec, WorkloadSpec
from vswap.config.spec import RunConfig as FileConfig
from vswap.errors import ConfigError
from vswap.report.result import RunResult
from vswap.run.context import RunConfig
from vswap.run.fromconfig import run_configs_from_file
from vswap.run.future import Column, FutureTable, metric
from vswap.zswap.zswap import ZswapParams

__all__ = ["FRAG_DESIGNS", "MIXED_DESIGNS", "fragmentation_table", "mixed_table"]

G = 1 << 30
#: Designs whose PTE holds the physical slot: a large folio needs a contiguous run.
SLOT_DESIGNS = ("classic", "swap-table-p1", "swap-table-p4")
#: Designs with discontiguous swap-out, compaction by descriptor update and mixed swap-in.
VIRTUAL_DESIGNS = ("vswap", "vswap-static", "vswap-dynamic", "vswap-v6", "vswap-ste")
#: Slot designs with compaction (the PTE walk); the swap tables have none.
WALK_COMPACT = ("classic",)
#: The designs the tables run by default.
FRAG_DESIGNS = ("classic", "swap-table-p1", "swap-table-p4", "vswap", "vswap-v6", "vswap-ste")
MIXED_DESIGNS = FRAG_DESIGNS
FRAG_COMMAND = "mthp-frag --unrelated 8G"
MIXED_COMMAND = "mthp-mixed --size 1G"


def _check(table: str, designs: tuple[str, ...]) -> None:
    for d in designs:
        if d not in SLOT_DESIGNS and d not in VIRTUAL_DESIGNS:
            raise ConfigError(
                f"bench future --table {table}: not modelled for design {d!r} (it is for "
                f"{', '.join(SLOT_DESIGNS + VIRTUAL_DESIGNS)})")


def _config(table: str, label: str, design: str, command: str, scale: float, seed: int,
            verify: bool, *, device: int, zswap: bool) -> RunConfig:
    fc = FileConfig(
        machine=MachineSpec(ram=4 * G, cpus=4),
        # A memory device of the NVMe kind (a block device, SWP_BLKDEV), not a swap file:
        # the kernel gives a swap file no slots of order > 0 (cluster_alloc_swap_entry,
        # "Swapfile is not block device"), so there no design could swap an mTHP out whole,
        # compacted or not. The model makes every memory device SWP_SYNCHRONOUS_IO, so no
        # design reads ahead here (docs/future.md).
        devices=(DeviceSpec(type="mem", size=device, kind="nvme"),),
        zswap=ZswapParams(compressor="lz4") if zswap else None,
        cgroups=(CgroupSpec(path="/folio"),),
        workloads=(WorkloadSpec(cgroup="/folio", command=command),),
        designs=(design,), seed=seed, scale=scale, verify=verify,
        source=f"bench future {table}")
    (config,) = run_configs_from_file(fc, designs=(design,))
    config.labels = config.labels | {"table": table, "scale": scale, "row": label}
    return config


def _ms(name: str) -> Callable[[RunResult], float]:
    return lambda r: float(r.workload_metrics.get(name, 0.0)) * 1e3


def _arrow(before: str, after: str) -> Callable[[RunResult], str]:
    def value(r: RunResult) -> str:
        m = r.workload_metrics
        return f"{m.get(before, 0)}→{m.get(after, 0)}"
    return value


def _pte_walk(r: RunResult) -> str:
    m = r.workload_metrics
    return f"{m.get('compact_ptes_scanned', 0):,}/{m.get('compact_ptes_rewritten', 0):,}"


def _m(r: RunResult | None, name: str) -> float:
    return float(r.workload_metrics.get(name, 0)) if r is not None else 0.0


def _frag_summary(by: dict[str, RunResult]) -> list[str]:
    lines = []
    cl, cc = by.get("classic"), by.get("classic --compact")
    for v in VIRTUAL_DESIGNS:
        vc = by.get(f"{v} --compact")
        if cc is not None and vc is not None and _m(cc, "compact_time_s"):
            lines.append(
                f"compaction: {v} {_m(vc, 'compact_time_s') * 1e3:.3f} ms "
                f"({_m(vc, 'compact_moved'):.0f} slots moved, "
                f"{_m(vc, 'compact_desc_updates'):.0f} descriptor updates, no PTE), classic "
                f"{_m(cc, 'compact_time_s') * 1e3:.3f} ms ({_m(cc, 'compact_moved'):.0f} "
                f"moved, {_m(cc, 'compact_ptes_scanned'):.0f} PTEs scanned, "
                f"{_m(cc, 'compact_ptes_rewritten'):.0f} rewritten): {v}/classic "
                f"{_m(vc, 'compact_time_s') / _m(cc, 'compact_time_s'):.2f}")
    if cc is not None:
        lines.append(
            f"compaction (classic) raises free clusters "
            f"{_m(cc, 'frag_free_clusters_before'):.0f} -> "
            f"{_m(cc, 'frag_free_clusters_after'):.0f} and the largest free run "
            f"{_m(cc, 'frag_largest_free_run_before'):.0f} -> "
            f"{_m(cc, 'frag_largest_free_run_after'):.0f} slots; mTHP swpout "
            f"{_m(cl, 'mthp_swpout'):.0f} -> {_m(cc, 'mthp_swpout'):.0f} of "
            f"{_m(cc, 'mthp_folios'):.0f} folios")
    for v in VIRTUAL_DESIGNS:
        vd = by.get(f"{v} --discontig")
        if vd is None or cl is None:
            continue
        lines.append(
            f"discontiguous: {v} swaps {_m(vd, 'mthp_swpout'):.0f} of "
            f"{_m(vd, 'mthp_folios'):.0f} folios out whole (swpout_fallback "
            f"{_m(vd, 'mthp_swpout_fallback'):.0f}) in {_m(vd, 'swapout_writes'):.0f} write "
            f"requests; classic splits {_m(cl, 'mthp_split'):.0f} in "
            f"{_m(cl, 'swapout_writes'):.0f}; swap-out {v}/classic "
            f"{_m(vd, 'pageout_time_s') / max(_m(cl, 'pageout_time_s'), 1e-12):.2f}, read-back "
            f"{_m(vd, 'readback_time_s') / max(_m(cl, 'readback_time_s'), 1e-12):.2f}")
    return lines


def fragmentation_table(scale: float, *, seed: int = 1,
                        designs: tuple[str, ...] | None = None,
                        verify: bool = True) -> FutureTable:
    """The fragmentation table (discontiguous slots and compaction) at ``scale``.

    Raises:
        ConfigError: a design the table does not model.
    """
    wanted = designs or FRAG_DESIGNS
    _check("fragmentation", wanted)
    t = FutureTable(
        "fragmentation", "large folios on a fragmented device: discontiguous slots, "
        "swapfile compaction",
        f"{FRAG_COMMAND} on a 1G NVMe device, RAM 4G: 90% of the device written in order-0 "
        "pages, every other one freed, then a 1/3-device region of 64K mTHPs paged out and "
        "read back; sizes x scale",
        (Column("swpout", metric("mthp_swpout", 0)),
         Column("fallback", metric("mthp_swpout_fallback", 0)),
         Column("split", metric("mthp_split", 0)),
         Column("free clusters", _arrow("frag_free_clusters_before",
                                        "frag_free_clusters_after")),
         Column("largest run", _arrow("frag_largest_free_run_before",
                                      "frag_largest_free_run_after")),
         Column("moved", metric("compact_moved", 0)),
         Column("PTEs scanned/rewritten", _pte_walk),
         Column("desc updates", metric("compact_desc_updates", 0)),
         Column("compact ms", _ms("compact_time_s")),
         Column("swap-out ms", _ms("pageout_time_s")),
         Column("write reqs", metric("swapout_writes", 0)),
         Column("read-back ms", _ms("readback_time_s")),
         Column("read reqs", metric("readback_reads", 0))),
        baseline="classic" if "classic" in wanted else None,
        ratios=("compact ms", "swap-out ms", "write reqs", "read-back ms", "read reqs"),
        summary=_frag_summary)
    for d in wanted:
        variants = [""]
        if d in VIRTUAL_DESIGNS:
            variants += [" --discontig", " --compact"]
        elif d in WALK_COMPACT:
            variants.append(" --compact")
        for v in variants:
            t.configs[d + v] = _config("fragmentation", d + v, d, FRAG_COMMAND + v, scale,
                                       seed, verify, device=G, zswap=False)
    return t


def _mixed_summary(by: dict[str, RunResult]) -> list[str]:
    lines = []
    cl = by.get("classic")
    for v in VIRTUAL_DESIGNS:
        vm, vo = by.get(f"{v} --mixed"), by.get(v)
        if vm is None:
            continue
        base, name = (cl, "classic") if cl is not None else (vo, v)
        if base is None:
            continue
        lines.append(
            f"mixed swap-in: {v} --mixed reads {_m(vm, 'mthp_swpin'):.0f} of "
            f"{_m(vm, 'mthp_folios'):.0f} folios whole ({_m(vm, 'mthp_swpin_fallback'):.0f} "
            f"fallbacks) with {_m(vm, 'readback_pgmajfault'):.0f} major faults and "
            f"{_m(vm, 'readback_reads'):.0f} read requests in "
            f"{_m(vm, 'readback_time_s') * 1e3:.3f} ms; {name} "
            f"{_m(base, 'readback_pgmajfault'):.0f} faults, "
            f"{_m(base, 'readback_reads'):.0f} requests, "
            f"{_m(base, 'readback_time_s') * 1e3:.3f} ms: read-back {v} --mixed/{name} "
            f"{_m(vm, 'readback_time_s') / max(_m(base, 'readback_time_s'), 1e-12):.2f}")
    return lines


def mixed_table(scale: float, *, seed: int = 1, designs: tuple[str, ...] | None = None,
                verify: bool = True) -> FutureTable:
    """The mixed-backing swap-in table at ``scale``.

    Raises:
        ConfigError: a design the table does not model.
    """
    wanted = designs or MIXED_DESIGNS
    _check("mixed-swapin", wanted)
    t = FutureTable(
        "mixed-swapin", "mixed-backing large-folio swap-in",
        f"{MIXED_COMMAND} (64K mTHPs, one page in 4 zero, stored in zswap lz4, half the "
        "zswap entries written back) on a 4G NVMe device, RAM 4G, page-cluster 0; sizes x "
        "scale",
        (Column("written back", metric("written_back", 0)),
         Column("mTHP swpin", metric("mthp_swpin", 0)),
         Column("swpin_fallback", metric("mthp_swpin_fallback", 0)),
         Column("major faults", metric("readback_pgmajfault", 0)),
         Column("zero pages", metric("readback_swpin_zero", 0)),
         Column("zswap pages", metric("readback_zswpin", 0)),
         Column("disk pages", metric("readback_pswpin", 0)),
         Column("read reqs", metric("readback_reads", 0)),
         Column("read-back ms", _ms("readback_time_s"))),
        baseline="classic" if "classic" in wanted else None,
        ratios=("major faults", "read reqs", "read-back ms"),
        summary=_mixed_summary)
    for d in wanted:
        variants = [""] + ([" --mixed"] if d in VIRTUAL_DESIGNS else [])
        for v in variants:
            t.configs[d + v] = _config("mixed-swapin", d + v, d, MIXED_COMMAND + v, scale, seed,
                                       verify, device=4 * G, zswap=True)
    return t
