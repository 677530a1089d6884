"""Discontiguous physical slots for large folios under the virtual designs
(:mod:`vswap.swap.folio_slots`): a fragmented device, every page checked."""

from __future__ import annotations

import pytest

from vswap.kernel.errors import KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_HUGEPAGE, MADV_PAGEOUT, Machine, MachineConfig
from vswap.swap.folio_slots import slot_runs
from vswap.swap.storage import MemSwapStorage
from vswap.swap.swapfile import SwapInfo

MiB = 1 << 20
KNOB = "/sys/kernel/mm/swap/discontig_swapout"
THP_64K = "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"


def page(tag: int, i: int) -> bytes:
    return ((tag << 32) | i).to_bytes(8, "little") * (PAGE_SIZE // 8)


def fragmented(design: str, *, discontig: bool,
               faults: FaultInjector | None = None) -> tuple[Machine, SwapInfo, object, int]:
    """A 4 MiB device filled with order-0 pages, then every other one freed: no free
    cluster is left, half of every cluster is free."""
    m = Machine(MachineConfig(ram=32 * MiB, design=design, faults=faults))
    si = m.swapon(MemSwapStorage(4 * MiB), prio=10)
    # A spare, lower-priority device keeps swap under half full, so the allocator's
    # reclaim scans of a nearly full device (vm_swap_full) stay out of the way.
    m.swapon(MemSwapStorage(8 * MiB), prio=1)
    m.sysfs_write(THP_64K, "madvise")
    if discontig:
        m.sysfs_write(KNOB, "1")
    t = m.spawn("frag")
    n = si.pages - 4
    a = m.mmap(t, n * PAGE_SIZE)
    for i in range(n):
        m.write(t, a + i * PAGE_SIZE, page(1, i))
    with m.env.faults.suspend():
        m.madvise(t, a, n * PAGE_SIZE, MADV_PAGEOUT)
    for i in range(0, n, 2):
        m.munmap(t, a + i * PAGE_SIZE, PAGE_SIZE)
    assert not si.free_clusters
    return m, si, t, a


def swap_out_mthp(m: Machine, nb: int = 64) -> tuple[object, int]:
    u = m.spawn("thp")
    b = m.mmap(u, nb * PAGE_SIZE)
    m.madvise(u, b, nb * PAGE_SIZE, MADV_HUGEPAGE)
    for i in range(nb):
        m.write(u, b + i * PAGE_SIZE, page(2, i))
    m.madvise(u, b, nb * PAGE_SIZE, MADV_PAGEOUT)
    return u, b


def check_all(m: Machine, t: object, a: int, u: object, b: int, si: SwapInfo,
              nb: int = 64) -> None:
    for i in range(nb):
        assert m.read(u, b + i * PAGE_SIZE, PAGE_SIZE) == page(2, i)  # type: ignore[arg-type]
    for i in range(1, si.pages - 4, 2):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(1, i)  # type: ignore[arg-type]
    m.check_invariants()


@pytest.mark.parametrize("design", ["vswap", "vswap-v6", "vswap-ste"])
def test_virtual_design_swaps_mthp_out_to_scattered_slots(design: str) -> None:
    m, si, t, a = fragmented(design, discontig=True)
    used = si.inuse_pages
    u, b = swap_out_mthp(m)
    stats = m.thp.stats[4]
    assert stats["swpout"] == 4 and stats["swpout_fallback"] == 0 and stats["split"] == 0
    assert m.design.discontig_swpout == 4  # type: ignore[attr-defined]
    assert si.inuse_pages == used + 64
    check_all(m, t, a, u, b, si)


@pytest.mark.parametrize("design", ["vswap", "vswap-v6", "vswap-ste"])
def test_without_the_knob_the_rfc_keeps_the_folio(design: str) -> None:
    m, si, t, a = fragmented(design, discontig=False)
    used = si.inuse_pages
    u, b = swap_out_mthp(m)
    stats = m.thp.stats[4]
    assert stats["swpout"] == 0 and stats["swpout_fallback"] == 0
    assert si.inuse_pages == used
    check_all(m, t, a, u, b, si)


@pytest.mark.parametrize("design", ["classic", "swap-table-p4"])
def test_physical_designs_split_as_the_kernel_does(design: str) -> None:
    m, si, t, a = fragmented(design, discontig=False)
    u, b = swap_out_mthp(m)
    stats = m.thp.stats[4]
    assert stats["swpout_fallback"] == 4 and stats["split"] == 4 and stats["swpout"] == 0
    check_all(m, t, a, u, b, si)


@pytest.mark.parametrize("design", ["classic", "swap-table-p1", "swap-table-p4"])
def test_knob_is_a_one_line_error_where_it_cannot_exist(design: str) -> None:
    m = Machine(MachineConfig(ram=16 * MiB, design=design))
    with pytest.raises(KernelError, match=rf"^ENOTSUP: discontig_swapout: not available "
                                          rf"under {design}: [^\n]+$"):
        m.sysfs_write(KNOB, "1")


def test_knob_reads_back_and_rejects_bad_values() -> None:
    m = Machine(MachineConfig(ram=16 * MiB, design="vswap"))
    assert m.sysfs_read(KNOB) == "0\n"
    m.sysfs_write(KNOB, "1")
    assert m.sysfs_read(KNOB) == "1\n"
    with pytest.raises(KernelError, match="EINVAL"):
        m.sysfs_write(KNOB, "yes")
    assert m.sysfs_read(KNOB) == "1\n"


def test_device_full_mid_allocation_holds_nothing() -> None:
    """The 5th of 16 order-0 allocations fails: the 4 taken are given back, the folio stays."""
    faults = FaultInjector(seed=1)
    m, si, t, a = fragmented("vswap", discontig=True, faults=faults)
    used = si.inuse_pages
    base = faults.calls["device_full"]
    # Call base+1 is the failed order-4 attempt, then 4 order-0 successes, then a failure.
    faults.schedule["device_full"] = {base + 6}
    u, b = swap_out_mthp(m, nb=16)
    assert m.thp.stats[4]["swpout"] == 0
    assert si.inuse_pages == used
    faults.schedule.clear()
    check_all(m, t, a, u, b, si, nb=16)


def test_scatter_write_error_keeps_the_folio_dirty() -> None:
    faults = FaultInjector(seed=1)
    m, si, t, a = fragmented("vswap", discontig=True, faults=faults)
    faults.schedule["device_write"] = {faults.calls["device_write"] + 1}
    u, b = swap_out_mthp(m, nb=16)
    assert m.design.io_write_errors == 16
    faults.schedule.clear()
    check_all(m, t, a, u, b, si, nb=16)


def test_slot_runs() -> None:
    assert slot_runs([5, 6, 7, 9, 10, 3]) == [(5, 0, 3), (9, 3, 2), (3, 5, 1)]
    assert slot_runs([]) == []
