"""Regression tests for defects the reliability tests found (named after the defect)."""

from __future__ import annotations

from vswap.kernel.types import PAGE_SIZE
from vswap.mm import checks
from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig
from vswap.reliability import page_bytes
from vswap.swap.storage import MemSwapStorage


def test_zswap_lookup_after_swapoff_and_swapon() -> None:
    """``Zswap.lookup`` indexed the tree-key list by tree id, which ``zswap_swapoff``
    compacts: after a swapoff and a swapon of another device it raised IndexError (found by
    the soak's side-effect-free page reader)."""
    m = Machine(MachineConfig(ram=8 << 20, design="classic", zswap=True,
                              zswap_params={"compressor": "lz4"}))
    first = MemSwapStorage(1 << 20)
    m.swapon(first)
    assert m.swapoff(first.name).completed
    m.swapon(MemSwapStorage(2 << 20))
    t = m.spawn("t")
    addr = m.mmap(t, 8 * PAGE_SIZE)
    for i in range(8):
        m.write(t, addr + i * PAGE_SIZE, page_bytes(2 * (i + 1)))
    m.madvise(t, addr, 8 * PAGE_SIZE, MADV_PAGEOUT)
    assert m.vmstat["zswpout"] == 8
    for i in range(8):
        assert checks.peek_page(m, t, (addr >> 12) + i) == page_bytes(2 * (i + 1))
    m.exit(t)
    m.check_no_leaks()
