"""Mixed-backing large-folio swap-in (``HugeMemoryMixin.swapin_mixed_thp`` with
:func:`vswap.swap.folio_slots.mixed_read_folio`): every page checked."""

from __future__ import annotations

import pytest

from vswap.kernel.errors import KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_HUGEPAGE, MADV_PAGEOUT, Machine, MachineConfig
from vswap.mm.mm_types import Task
from vswap.swap.storage import MemSwapStorage

MiB = 1 << 20
MIXED = "/sys/kernel/mm/swap/mixed_swapin"
NB = 64


def page(i: int) -> bytes:
    if i % 4 == 1:
        return bytes(PAGE_SIZE)
    word = f"page {i:5d} text ".encode()
    return word * (PAGE_SIZE // len(word)) + bytes(PAGE_SIZE % len(word))


def paged_out_thp(m: Machine) -> tuple[Task, int]:
    """Map ``NB`` pages of a new task as 64 KiB mTHPs (``MADV_HUGEPAGE`` with the 64kB size
    on ``madvise``), write :func:`page` into each and ``MADV_PAGEOUT`` them: the task and
    the region's address."""
    m.sysfs_write("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", "madvise")
    t = m.spawn("thp")
    a = m.mmap(t, NB * PAGE_SIZE)
    m.madvise(t, a, NB * PAGE_SIZE, MADV_HUGEPAGE)
    for i in range(NB):
        m.write(t, a + i * PAGE_SIZE, page(i))
    m.madvise(t, a, NB * PAGE_SIZE, MADV_PAGEOUT)
    return t, a


def mixed_region(design: str, faults: FaultInjector | None = None
                 ) -> tuple[Machine, Task, int]:
    """Four 64 KiB folios: every fourth page zero (ZERO), the rest in zswap, the oldest
    half of zswap's entries written back to the device (SWAPFILE)."""
    m = Machine(MachineConfig(ram=32 * MiB, design=design, zswap=True, faults=faults,
                              zswap_params={"compressor": "lz4", "shrinker_enabled": True}))
    m.swapon(MemSwapStorage(4 * MiB))
    m.sysfs_write("/proc/sys/vm/page-cluster", "0")
    t, a = paged_out_thp(m)
    for i in range(1, NB, 4):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(i)
    m.madvise(t, a, NB * PAGE_SIZE, MADV_PAGEOUT)
    assert m.zswap is not None
    done = 0
    for _ in range(16):
        done += max(m.zswap.zswap_shrinker_scan(m.memcgs.root, 8), 0)
        if done >= 24:
            break
    m.zswap.set_param("shrinker_enabled", False)
    m.try_to_free_pages(NB)
    return m, t, a


@pytest.mark.parametrize("design", ["vswap", "vswap-v6", "vswap-ste"])
def test_mixed_folio_comes_back_whole(design: str) -> None:
    m, t, a = mixed_region(design)
    m.sysfs_write(MIXED, "1")
    assert m.sysfs_read(MIXED) == "1\n"
    for i in range(NB):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(i), f"page {i}"
    stats = m.thp.stats[4]
    assert stats["swpin"] == 4 and stats["swpin_fallback"] == 0
    runs = m.design.mixed_runs  # type: ignore[attr-defined]
    assert runs["VSWAP_ZERO"] == 16 and runs["VSWAP_ZSWAP"] > 0 and runs["VSWAP_SWAPFILE"] > 0
    assert runs["VSWAP_ZSWAP"] + runs["VSWAP_SWAPFILE"] == 48
    m.check_invariants()


def test_without_the_knob_every_page_comes_back_alone() -> None:
    m, t, a = mixed_region("vswap")
    for i in range(NB):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(i)
    assert m.thp.stats[4]["swpin"] == 0
    m.check_invariants()


def test_a_failed_device_read_falls_back_to_order_0() -> None:
    faults = FaultInjector(seed=1)
    m, t, a = mixed_region("vswap", faults)
    m.sysfs_write(MIXED, "1")
    faults.schedule["device_read"] = {faults.calls["device_read"] + 1}
    for i in range(NB):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(i)
    stats = m.thp.stats[4]
    assert stats["swpin_fallback"] == 1 and stats["swpin"] == 3
    m.check_invariants()


@pytest.mark.parametrize("design", ["classic", "swap-table-p1", "swap-table-p4"])
def test_mixed_knob_is_a_one_line_error_elsewhere(design: str) -> None:
    m = Machine(MachineConfig(ram=16 * MiB, design=design))
    with pytest.raises(KernelError, match=rf"^ENOTSUP: mixed_swapin: not available under "
                                          rf"{design}: [^\n]+$"):
        m.sysfs_write(MIXED, "1")


def test_ste_direct_mapped_folios_in_zswap_come_back_at_order_0() -> None:
    # An 8-slot vswap space: no 64 KiB folio fits, so every folio is direct-mapped (the PTE
    # holds a physical slot, as phase IV) and stored in zswap. mixed_swapin reads virtual
    # entries' backends only; a direct-mapped range goes the kernel's way (alloc_swap_folio:
    # no large order once zswap was ever enabled), so each page comes back alone and
    # zswap_load never sees a large folio (its VM_WARN_ON raises under debug_vm).
    m = Machine(MachineConfig(ram=32 * MiB, design="vswap-ste", zswap=True,
                              design_options={"max_vswap_pages": 8},
                              zswap_params={"compressor": "lz4"}))
    m.env.debug_vm = True
    m.swapon(MemSwapStorage(4 * MiB))
    t, a = paged_out_thp(m)
    assert m.thp.stats[4]["swpout"] == 4 and m.vmstat["zswpout"] == NB
    m.sysfs_write(MIXED, "1")
    for i in range(NB):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(i), f"page {i}"
    assert m.thp.stats[4]["swpin"] == m.thp.stats[4]["swpin_fallback"] == 0
    assert m.design.mixed_swpin == 0  # type: ignore[attr-defined]
    assert m.vmstat["zswpin"] == NB and not m.env.warnings
    m.check_invariants()
