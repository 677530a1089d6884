"""Swapfile compaction (:mod:`vswap.swap.compaction`): a fragmented device compacted under
the virtual designs (descriptor updates) and classic (page-table rewrites), every page
checked."""

from __future__ import annotations

import pytest

from vswap.kernel.errors import KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_HUGEPAGE, MADV_PAGEOUT, Machine, MachineConfig
from vswap.mm.mm_types import Task
from vswap.swap.compaction import FragStats, swap_compact
from vswap.swap.storage import MemSwapStorage
from vswap.swap.swapfile import SwapInfo

MiB = 1 << 20
COMPACT = "/sys/kernel/mm/swap/compact"


def page(tag: int, i: int) -> bytes:
    return ((tag << 32) | i).to_bytes(8, "little") * (PAGE_SIZE // 8)


def fragmented(design: str, faults: FaultInjector | None = None, **options: int
               ) -> tuple[Machine, SwapInfo, Task, int, list[int]]:
    """A 4 MiB device (2 clusters) filled with order-0 pages, every other one freed."""
    m = Machine(MachineConfig(ram=32 * MiB, design=design, faults=faults,
                              design_options=options))
    si = m.swapon(MemSwapStorage(4 * MiB), prio=10)
    # A spare, lower-priority device keeps swap under half full, so the allocator's
    # reclaim scans of a nearly full device (vm_swap_full) stay out of the way.
    m.swapon(MemSwapStorage(8 * MiB), prio=1)
    m.sysfs_write("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", "madvise")
    t = m.spawn("frag")
    n = si.pages - 4
    a = m.mmap(t, n * PAGE_SIZE)
    for i in range(n):
        m.write(t, a + i * PAGE_SIZE, page(1, i))
    with m.env.faults.suspend():
        m.madvise(t, a, n * PAGE_SIZE, MADV_PAGEOUT)
    for i in range(0, n, 2):
        m.munmap(t, a + i * PAGE_SIZE, PAGE_SIZE)
    return m, si, t, a, list(range(1, n, 2))


def check(m: Machine, t: Task, a: int, live: list[int]) -> None:
    for i in live:
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(1, i), f"page {i}"
    m.check_invariants()


@pytest.mark.parametrize("design", ["classic", "vswap", "vswap-v6", "vswap-ste"])
def test_compaction_rebuilds_free_clusters_and_mthp_swapout_succeeds(design: str) -> None:
    m, si, t, a, live = fragmented(design)
    before = FragStats.of(si)
    assert before.free_clusters == 0 and before.largest_free_run < 16
    m.sysfs_write(COMPACT, "1")
    r, spare = m.swap_compactions
    assert m.sysfs_read(COMPACT) == "2\n" and spare.moved == 0
    assert r.before == before and r.after is not None
    assert r.after.free_clusters == 1 and r.after.largest_free_run >= 512
    assert r.after.used == before.used and r.moved > 0 and not r.stopped
    assert r.io_read_pages == r.io_write_pages == r.moved
    if design == "classic":
        assert r.desc_updates == 0 and r.ptes_rewritten == r.moved
        assert r.ptes_scanned >= len(live)
    else:
        assert r.desc_updates == r.moved and r.ptes_scanned == r.ptes_rewritten == 0
    m.check_invariants()
    u = m.spawn("thp")
    b = m.mmap(u, 64 * PAGE_SIZE)
    m.madvise(u, b, 64 * PAGE_SIZE, MADV_HUGEPAGE)
    for i in range(64):
        m.write(u, b + i * PAGE_SIZE, page(2, i))
    m.madvise(u, b, 64 * PAGE_SIZE, MADV_PAGEOUT)
    assert m.thp.stats[4]["swpout"] == 4 and m.thp.stats[4]["swpout_fallback"] == 0
    for i in range(64):
        assert m.read(u, b + i * PAGE_SIZE, PAGE_SIZE) == page(2, i)
    check(m, t, a, live)


@pytest.mark.parametrize("design", ["classic", "vswap", "vswap-ste"])
def test_swap_cache_pins_a_slot(design: str) -> None:
    """Pages read back stay in the swap cache holding their slot: compaction skips them
    (all of them here, so nothing moves)."""
    m, si, t, a, live = fragmented(design)
    m.skip_swapcache_enabled = False  # read through the swap cache, which keeps the folio
    for i in live:
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(1, i)
    r = swap_compact(m.design, si)
    assert r.skipped_why["swap cache"] == r.skipped > 200 and r.moved == 0
    check(m, t, a, live)


def test_ste_moves_backing_slots_and_leaves_direct_mapped_ones() -> None:
    """vswap-ste with a vswap space of 4 slots: the first pages get virtual entries (backed
    at writeout), the rest fall back to direct-mapped physical entries, which PTEs hold:
    compaction moves only the former, by their virtual and pointer words."""
    m, si, t, a, live = fragmented("vswap-ste", max_vswap_pages=4)
    r = swap_compact(m.design, si)
    assert r.skipped_why["direct-mapped"] == r.skipped > 200
    assert r.ptes_scanned == 0 and r.desc_updates == r.moved
    check(m, t, a, live)


def test_classic_rewrites_every_pte_of_a_shared_entry() -> None:
    m, si, t, a, live = fragmented("classic")
    child = m.fork(t)
    r = swap_compact(m.design, si)
    assert r.moved > 0 and r.ptes_rewritten == 2 * r.moved
    check(m, t, a, live)
    check(m, child, a, live)


@pytest.mark.parametrize("design", ["classic", "vswap", "vswap-ste"])
def test_device_full_mid_compaction_stops_cleanly(design: str) -> None:
    faults = FaultInjector(seed=1)
    m, si, t, a, live = fragmented(design, faults)
    faults.schedule["device_full"] = {faults.calls["device_full"] + 11}
    r = swap_compact(m.design, si)
    assert r.stopped == "device full" and r.moved == 10
    assert r.after is not None and r.after.used == r.before.used
    faults.schedule.clear()
    check(m, t, a, live)


@pytest.mark.parametrize("design", ["swap-table-p1", "swap-table-p4"])
def test_compaction_is_a_one_line_error_where_it_is_not_modelled(design: str) -> None:
    m = Machine(MachineConfig(ram=16 * MiB, design=design))
    m.swapon(MemSwapStorage(1 * MiB))
    with pytest.raises(KernelError, match=rf"^ENOTSUP: swap compaction: not available "
                                          rf"under {design}: [^\n]+$"):
        m.sysfs_write(COMPACT, "1")


def test_compact_knob_rejects_bad_values() -> None:
    m = Machine(MachineConfig(ram=16 * MiB, design="vswap"))
    with pytest.raises(KernelError, match="EINVAL"):
        m.sysfs_write(COMPACT, "2")
    assert m.sysfs_read(COMPACT) == "0\n"
