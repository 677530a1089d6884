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


# Which designs read ahead on a synchronous (memory, zram-like) device, by where the data is
# (the kernel's do_swap_page): v6.14 and 6.18 skip the swap cache for an entry of count 1 on
# a SWP_SYNCHRONOUS_IO device; swap table phase II on (swap-table-p4, and vswap-ste through
# swap_entry_backend_has_flag) reads it alone through the swap cache (swapin_folio); neither
# reads ahead. An entry with no device (zswap, zero) under a virtual design has no
# SWP_SYNCHRONOUS_IO to test and goes to swapin_readahead; under classic and the swap table
# phases it is still a slot on that device.
VIRTUAL = {"vswap", "vswap-static", "vswap-dynamic", "vswap-v6", "vswap-ste"}
N_SYNC = 64


def _sync_readback(design: str, where: str) -> dict[str, int]:
    """``N_SYNC`` pages paged out to zswap on a machine with a memory swap device, left in
    zswap, written back to the device, or zero; read back in order: the read-back's
    counters and the device's slots still in use."""
    m = make_machine(design, ram=24 * MiB, device=4 * MiB, zswap=True)
    assert m.zswap is not None
    t = m.spawn("t")
    addr = m.mmap(t, N_SYNC * PAGE_SIZE)
    for i in range(N_SYNC):
        word = (1 << 32 | i + 1).to_bytes(8, "little")
        m.write(t, addr + i * PAGE_SIZE, bytes(PAGE_SIZE) if where == "zero"
                else word * (PAGE_SIZE // 8))
    m.madvise(t, addr, N_SYNC * PAGE_SIZE, 21)  # MADV_PAGEOUT
    if where == "device":
        m.zswap.set_param("shrinker_enabled", True)
        done = 0
        for _ in range(64):
            done += max(m.zswap.zswap_shrinker_scan(m.memcgs.root, 16), 0)
            if done >= N_SYNC:
                break
        m.zswap.set_param("shrinker_enabled", False)
        assert done == N_SYNC
        m.try_to_free_pages(N_SYNC)
    keys = ("pgmajfault", "swap_ra", "swap_ra_hit", "pswpin", "zswpin", "swpin_zero")
    before = {k: m.vmstat[k] for k in keys}
    for i in range(N_SYNC):
        want = bytes(PAGE_SIZE) if where == "zero" else \
            (1 << 32 | i + 1).to_bytes(8, "little") * (PAGE_SIZE // 8)
        assert m.read(t, addr + i * PAGE_SIZE, PAGE_SIZE) == want, f"page {i}"
    got = {k: m.vmstat[k] - before[k] for k in keys}
    got["slots_used"] = sum(si.inuse_pages for si in m.design.devices.devices())
    m.check_invariants()
    return got


@pytest.mark.parametrize("where", ["device", "zswap", "zero"])
def test_a_synchronous_device_reads_ahead_as_each_kernel_does(design: str, where: str) -> None:
    got = _sync_readback(design, where)
    path = {"device": "pswpin", "zswap": "zswpin", "zero": "swpin_zero"}[where]
    assert got[path] == N_SYNC
    if where != "device" and design in VIRTUAL:
        # swapin_readahead: VMA readahead over the virtual entries, 8 pages a fault.
        assert got["swap_ra"] > N_SYNC // 2 and got["swap_ra_hit"] == got["swap_ra"]
        assert got["pgmajfault"] == N_SYNC - got["swap_ra"]
    else:
        # Skip-swapcache (v6.14, 6.18, RFC v2, v6) or swapin_folio (phase II on): one
        # fault a page, no readahead; the slot is freed at the fault either way.
        assert got["swap_ra"] == 0 and got["pgmajfault"] == N_SYNC
    if where == "device":
        assert got["slots_used"] == 0


@pytest.mark.parametrize("design", ["classic", "swap-table-p1", "swap-table-p4", "vswap-ste"])
def test_a_synchronous_device_reads_mthps_whole_without_readahead(design: str) -> None:
    # Phase II on reads a large folio on a synchronous device whole (alloc_swap_folio's
    # orders, swapin_folio), as the skip-swapcache path of 6.14 and 6.18 does; no readahead.
    m = make_machine(design, ram=24 * MiB, device=4 * MiB)
    m.sysfs_write("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", "madvise")
    t = m.spawn("t")
    addr = m.mmap(t, 64 * PAGE_SIZE)
    m.madvise(t, addr, 64 * PAGE_SIZE, 14)  # MADV_HUGEPAGE
    fill(m, t, addr, 64, tag=2)
    m.madvise(t, addr, 64 * PAGE_SIZE, 21)  # MADV_PAGEOUT
    before = {k: m.vmstat[k] for k in ("pgmajfault", "swap_ra")}
    check(m, t, addr, 64, tag=2)
    assert m.thp.stats[4]["swpin"] == 4 and m.vmstat["swap_ra"] == before["swap_ra"]
    assert m.vmstat["pgmajfault"] - before["pgmajfault"] == 4
    assert sum(si.inuse_pages for si in m.design.devices.devices()) == 0
    m.check_invariants()
