"""Swap-in readahead (vswap.mm.swap_state): the window and what it reads."""

from __future__ import annotations

import pytest

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


def test_sequential_reader_reaches_the_full_window_as_the_kernel_does() -> None:
    # 6.18 on the host reads 32,815 pages in 4,114 major faults for a sequential
    # read-back (docs/fidelity.md): the VMA's state follows each swap-cache hit, so every
    # fault after the first few is sequential with 7 hits and reads 1 << page_cluster.
    m = make_machine("classic", ram=24 * MiB, skip_swapcache=False)
    t = m.spawn("t")
    n = 1024
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    m.madvise(t, addr, n * PAGE_SIZE, 21)  # MADV_PAGEOUT
    before = dict(m.vmstat)
    check(m, t, addr, n)
    vm = {k: m.vmstat[k] - before.get(k, 0) for k in ("pgmajfault", "swap_ra", "swap_ra_hit")}
    assert vm["pgmajfault"] + vm["swap_ra"] >= n
    assert vm["pgmajfault"] <= n // 8 + 4
    assert vm["swap_ra_hit"] == vm["swap_ra"]


def test_the_first_fault_of_a_vma_starts_with_four_hits() -> None:
    m = make_machine("classic", ram=24 * MiB, skip_swapcache=False)
    t = m.spawn("t")
    addr = m.mmap(t, 64 * PAGE_SIZE)
    fill(m, t, addr, 64)
    m.madvise(t, addr, 64 * PAGE_SIZE, 21)  # MADV_PAGEOUT
    vma = t.mm.find_vma(addr >> 12)
    assert vma is not None
    vma.swap_readahead_info = None
    before = m.vmstat["swap_ra"]
    m.read(t, addr + 32 * PAGE_SIZE, 8)
    # GET_SWAP_RA_VAL of a fresh VMA: 4 hits -> 6 pages, rounded up to 8, centred.
    assert m.vmstat["swap_ra"] - before == 7
    assert vma.swap_readahead_info == (vma.start + 32, 8, 0)


@pytest.mark.parametrize("design, whole_windows", [("classic", True),
                                                   ("swap-table-p1", False)])
def test_swapoff_reads_ahead_by_vma_as_each_kernel_does(design: str,
                                                        whole_windows: bool) -> None:
    # v6.14's unuse_pte_range counts swap-cache hits into the VMA's readahead state, so
    # swapoff reads whole windows; 6.18's lookup does not (6.18 on the host: 10,928 pages
    # read ahead of 32,768 on zram), so the window falls to one or two pages.
    m = make_machine(design, ram=24 * MiB, skip_swapcache=False)
    t = m.spawn("t")
    n = 768
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    m.madvise(t, addr, n * PAGE_SIZE, 21)  # MADV_PAGEOUT
    (si,) = [s for s in m.design.devices.swap_info if s is not None]
    before = m.vmstat["swap_ra"]
    m.swapoff(si.name)
    ahead = (m.vmstat["swap_ra"] - before) / n
    if whole_windows:
        assert ahead > 0.8
    else:
        assert 0.25 < ahead < 0.45
    check(m, t, addr, n)
