"""Folios written to a swap file stay in the swap cache until reclaim finds them clean.

In the kernel a folio ``pageout()`` writes to a device whose bios complete asynchronously
(a swap file or disk) is still under writeback when ``shrink_folio_list()`` looks at it
again (``PAGE_SUCCESS`` + ``folio_test_writeback`` -> ``keep``): it stays in the swap
cache, clean and unmapped, and its completion (``PG_reclaim``) rotates it to the tail of
the inactive list, where the next scan frees it without I/O. ``MADV_PAGEOUT`` therefore
leaves the pages it wrote to a swap file cached, and touching them back or swapping the file
off reads nothing. zswap, zero pages and ``SWP_SYNCHRONOUS_IO`` devices (zram, the model's
memory devices) complete at once and are freed in the same pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import MiB, check, fill, pattern
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig
from vswap.swap.storage import FileSwapStorage, MemSwapStorage
from vswap.swap.swap_area import mkswap

N = 96  # pages; every third one is zero (conftest.pattern)
NONZERO = N - (N + 2) // 3


@pytest.fixture
def swapfile(tmp_path: Path) -> Iterator[FileSwapStorage]:
    path = tmp_path / "swapfile"
    mkswap(path, 16 * MiB)
    storage = FileSwapStorage.open(path)
    try:
        yield storage
    finally:
        storage.close()


def _machine(design: str, storage: FileSwapStorage | MemSwapStorage, **kw: object) -> Machine:
    m = Machine(MachineConfig(ram=32 * MiB, design=design, **kw))  # type: ignore[arg-type]
    m.swapon(storage)
    return m


def test_pageout_to_a_swap_file_keeps_written_folios_cached(design: str,
                                                            swapfile: FileSwapStorage) -> None:
    m = _machine(design, swapfile)
    t = m.spawn("t")
    addr = m.mmap(t, N * PAGE_SIZE)
    fill(m, t, addr, N)
    got = m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    vs = m.vmstat
    # Zero pages are freed at once (no I/O); written ones are kept, so not reclaimed.
    assert got == N - NONZERO
    assert vs["pswpout"] == NONZERO and vs["swpout_zero"] == N - NONZERO
    assert vs["pgrotated"] == NONZERO
    assert t.mm.rss_anon == 0 and t.mm.swapents == N
    assert m.nr_swapcached() == NONZERO
    m.check_invariants()
    # Touching them back maps the cached folios: no read; only zero pages fault majorly.
    check(m, t, addr, N)
    assert vs["pswpin"] == 0 and 0 < vs["pgmajfault"] <= N - NONZERO
    assert vs["swpin_zero"] == N - NONZERO
    m.check_invariants()


def test_swapoff_reads_only_what_is_not_cached(design: str, swapfile: FileSwapStorage) -> None:
    m = _machine(design, swapfile)
    t = m.spawn("t")
    addr = m.mmap(t, N * PAGE_SIZE)
    fill(m, t, addr, N)
    m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    res = m.swapoff(swapfile.name)
    assert res.completed
    assert m.vmstat["pswpin"] == 0
    check(m, t, addr, N)
    m.check_invariants()


def test_limit_reclaim_frees_the_clean_folios_first(design: str,
                                                    swapfile: FileSwapStorage) -> None:
    """The kept folios sit at the inactive tail: a later charge over ``memory.max`` frees
    them without writing anything, before any page of the new region."""
    m = _machine(design, swapfile)
    m.create_cgroup("/a")
    m.cgroup_write("/a", "memory.max", "1M")  # 256 pages
    t = m.spawn("t", "/a")
    a = m.mmap(t, N * PAGE_SIZE)
    fill(m, t, a, N)
    m.madvise(t, a, N * PAGE_SIZE, MADV_PAGEOUT)
    assert m.nr_swapcached() == NONZERO
    written = m.vmstat["pswpout"]
    nb = 200  # NONZERO + 200 cached and new pages do not fit in 256
    b = m.mmap(t, nb * PAGE_SIZE)
    for i in range(nb):
        m.write(t, b + i * PAGE_SIZE, pattern(2, i))
    assert m.vmstat["pswpout"] == written  # nothing of the new region was written
    assert m.nr_swapcached() < NONZERO  # the oldest clean folios went first
    assert m.vmstat["pgsteal_direct"] >= NONZERO - m.nr_swapcached()
    check(m, t, a, N)
    m.check_invariants()


def test_synchronous_devices_free_at_once(design: str) -> None:
    """A ``SWP_SYNCHRONOUS_IO`` device (zram-like) completes the write inside
    ``swap_writepage``: ``MADV_PAGEOUT`` frees every page and the read-back faults."""
    m = _machine(design, MemSwapStorage(16 * MiB))
    t = m.spawn("t")
    addr = m.mmap(t, N * PAGE_SIZE)
    fill(m, t, addr, N)
    assert m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT) == N
    assert m.nr_swapcached() == 0 and m.vmstat["pgrotated"] == 0
    check(m, t, addr, N)
    assert m.vmstat["pgmajfault"] > 0
    m.check_invariants()


def test_exact_reclaim_policies_keep_evicting_at_once(swapfile: FileSwapStorage) -> None:
    """The idealised policies (``--reclaim lru|fifo|clock``) evict a page outright: the
    write-out counts as done, nothing stays cached."""
    m = Machine(MachineConfig(ram=32 * MiB, design="classic", skip_swapcache=False))
    m.set_reclaim_policy("lru")
    m.swapon(swapfile)
    m.create_cgroup("/a")
    m.cgroup_write("/a", "memory.max", "1M")
    t = m.spawn("t", "/a")
    n = 384
    addr = m.mmap(t, n * PAGE_SIZE)
    for i in range(n):
        m.write(t, addr + i * PAGE_SIZE, pattern(1, i))
    assert m.vmstat["pswpout"] > 0
    assert m.nr_swapcached() == 0 and m.vmstat["pgrotated"] == 0
