"""Splitting large folios the swap cache holds, where the kernel does: the deferred split
queue and its shrinker (``drop_caches``, reclaim's ``shrink_slab``), ``MADV_PAGEOUT`` of
part of a folio; every page checked (docs/folio-split-migration.md)."""

from __future__ import annotations

import pytest

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_DONTNEED, MADV_HUGEPAGE, MADV_PAGEOUT, Machine, MachineConfig
from vswap.mm.mm_types import Task
from vswap.mm.vmscan import ScanControl
from vswap.swap.storage import MemSwapStorage
from vswap.workloads.thp_churn import churn_page

MiB = 1 << 20


def parked(design: str, size_kb: int, nb: int) -> tuple[Machine, Task, int]:
    """``nb`` pages in ``size_kb`` folios, paged out and parked whole in the swap cache
    (zswap rejects random bytes, writeback off), then all mapped again by read faults.
    The memory device is not synchronous here (``skip_swapcache`` off): on a
    ``SWP_SYNCHRONOUS_IO`` device swap table phase II on frees the swap cache at the
    fault that maps a folio's last page, so nothing would stay parked under
    swap-table-p4."""
    m = Machine(MachineConfig(ram=64 * MiB, design=design, zswap=True,
                              zswap_params={"compressor": "lz4"}, skip_swapcache=False))
    m.swapon(MemSwapStorage(16 * MiB))
    m.sysfs_write("/proc/sys/vm/page-cluster", "0")
    m.sysfs_write(f"/sys/kernel/mm/transparent_hugepage/hugepages-{size_kb}kB/enabled",
                  "madvise")
    cg = m.create_cgroup("/nowb")
    cg.zswap_writeback = False
    t = m.spawn("thp", cg)
    a = m.mmap(t, nb * PAGE_SIZE)
    m.madvise(t, a, nb * PAGE_SIZE, MADV_HUGEPAGE)
    for i in range(nb):
        m.write(t, a + i * PAGE_SIZE, churn_page(0, i))
    m.madvise(t, a, nb * PAGE_SIZE, MADV_PAGEOUT)
    assert m.nr_swapcached() == nb
    for i in range(nb):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == churn_page(0, i)
    m.check_invariants()
    return m, t, a


@pytest.mark.parametrize("design", ["classic", "vswap", "vswap-v6", "swap-table-p4"])
def test_deferred_split_of_a_pmd_thp_in_the_swap_cache(design: str) -> None:
    """A 2 MiB folio in the swap cache loses 16 pages to MADV_DONTNEED: queued
    (``thp_deferred_split_page``), split by drop_slab (``thp_split_page``); the dropped
    pages are freed with their swap entries, the rest keep theirs."""
    m, t, a = parked(design, 2048, 512)
    e0 = next(iter(m.design.swap_cache.folios())).swap
    m.madvise(t, a + 100 * PAGE_SIZE, 16 * PAGE_SIZE, MADV_DONTNEED)
    assert m.vmstat["thp_deferred_split_page"] == 1 and len(m.deferred_split_queue) == 1
    m.sysfs_write("/proc/sys/vm/drop_caches", "2")
    assert m.sysfs_read("/proc/sys/vm/drop_caches") == "2\n"
    assert m.vmstat["thp_split_page"] == 1 and m.thp_split_swapcache == 1
    assert not m.deferred_split_queue
    assert m.nr_swapcached() == 512 - 16
    for k in (0, 99, 116, 511):
        f = m.design.swap_cache_get_folio(e0 + k)
        assert f is not None and f.nr_pages == 1 and f.swap == e0 + k
    assert m.design.swap_cache_get_folio(e0 + 100) is None
    m.check_invariants()
    for i in range(512):
        want = bytes(PAGE_SIZE) if 100 <= i < 116 else churn_page(0, i)
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == want
    m.exit(t)
    m.check_invariants()
    m.check_no_leaks()


def test_reclaim_runs_the_deferred_split_shrinker() -> None:
    """``shrink_slab`` at low priority splits queued folios; at the first priority a
    handful of queued folios is below the shrinker's pressure."""
    m, t, a = parked("vswap", 64, 64)
    for f in range(0, 64, 16):
        m.madvise(t, a + (f + 3) * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED)
    cg = t.mm.memcg
    assert m.deferred_split_count(cg.id) == 4
    assert m.shrink_deferred_split(cg, ScanControl(nr_to_reclaim=32)) == 0
    assert m.shrink_deferred_split(cg, ScanControl(nr_to_reclaim=32, priority=0)) == 4
    assert m.thp.stats[4]["split"] == 4 and m.thp.stats[4]["split_deferred"] == 4
    m.check_invariants()
    m.exit(t)
    m.check_no_leaks()


def test_madv_pageout_of_part_of_a_cached_folio_splits_it() -> None:
    """``madvise_cold_or_pageout_pte_range``: a folio the range does not cover is split
    (a swap-cache folio included) and only the pages in the range are paged out."""
    m, t, a = parked("swap-table-p1", 64, 32)
    m.madvise(t, a + 2 * PAGE_SIZE, 4 * PAGE_SIZE, MADV_PAGEOUT)
    assert m.thp.stats[4]["split"] == 1 and m.thp_split_swapcache == 1
    assert t.mm.rss_anon == 32 - 4
    m.check_invariants()
    for i in range(32):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == churn_page(0, i)
    m.exit(t)
    m.check_no_leaks()


def test_a_held_folio_is_not_split_and_stays_queued() -> None:
    m, t, a = parked("classic", 64, 16)
    m.madvise(t, a, PAGE_SIZE, MADV_DONTNEED)
    (folio,) = m.deferred_split_queue
    folio.mm_pins += 1
    assert not m.split_huge_page(folio)
    m.sysfs_write("/proc/sys/vm/drop_caches", "3")
    assert m.thp.stats[4]["split_failed"] >= 1 and folio in m.deferred_split_queue
    folio.mm_pins -= 1
    m.sysfs_write("/proc/sys/vm/drop_caches", "2")
    assert not m.deferred_split_queue and m.thp.stats[4]["split"] == 1
    m.exit(t)
    m.check_no_leaks()


def test_drop_caches_refuses_bad_values() -> None:
    m = Machine(MachineConfig(ram=32 * MiB))
    for bad in ("0", "5", "x"):
        with pytest.raises(KernelError) as exc:
            m.sysfs_write("/proc/sys/vm/drop_caches", bad)
        assert exc.value.errno == Errno.EINVAL
    assert m.sysfs_read("/proc/sys/vm/drop_caches") == "0\n"
