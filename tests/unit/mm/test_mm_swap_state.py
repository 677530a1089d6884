"""Swap-in readahead (vswap.mm.swap_state): the window and what it reads."""

from __future__ import annotations

from conftest import MiB, check, fill, make_machine
from vswap.kernel.types import PAGE_SIZE


def test_swapin_nr_pages_grows_with_hits_and_decays_by_half() -> None:
    m = make_machine("classic", device=None)
    m.page_cluster = 3
    assert m.swapin_nr_pages(10, 30, 0) == 1  # no hit, not sequential
    assert m.swapin_nr_pages(10, 11, 0) == 2  # sequential
    m.swapin_readahead_hits = 5
    assert m.swapin_nr_pages(10, 30, 0) == 8  # 7 rounded up to 8, capped at 1 << 3
    assert m.swapin_readahead_hits == 0
    assert m.swapin_nr_pages(10, 30, 6) == 3  # at least half the previous window
    m.page_cluster = 0
    assert m.swapin_nr_pages(10, 11, 8) == 1


def test_sequential_swapin_reads_ahead_and_hits(design: str) -> None:
    m = make_machine(design, ram=24 * MiB, skip_swapcache=False)
    t = m.spawn("t")
    addr = m.mmap(t, 256 * PAGE_SIZE)
    fill(m, t, addr, 256)
    m.madvise(t, addr, 256 * PAGE_SIZE, 21)  # MADV_PAGEOUT
    check(m, t, addr, 256)
    vm = m.vmstat
    assert vm["swap_ra"] > 0 and vm["swap_ra_hit"] > 0
    assert vm["swap_ra_hit"] <= vm["swap_ra"]
    m.check_invariants()
