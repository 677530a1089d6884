"""The physical layer: clusters, the per-CPU cluster, priorities, continuation, /proc/swaps."""

from __future__ import annotations

import pytest

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import SWAPFILE_CLUSTER, swp_slot_offset, swp_slot_type
from vswap.swap.swapfile import (
    SWAP_HAS_CACHE,
    SWAP_MAP_BAD,
    ClusterFlag,
    SwapDevices,
)


def _dev(devs: SwapDevices, nr_pages: int = 4 * SWAPFILE_CLUSTER, **kw: object):
    kw.setdefault("name", f"dev{len(list(devs.devices()))}")
    kw.setdefault("kind", "partition")
    kw.setdefault("blkdev", True)
    return devs.add_device(None, nr_pages=nr_pages, **kw)  # type: ignore[arg-type]


def test_slot_zero_is_the_header_and_never_allocated() -> None:
    devs = SwapDevices()
    si = _dev(devs)
    assert si.swap_map[0] == SWAP_MAP_BAD
    assert si.pages == si.max - 1
    offsets = {swp_slot_offset(devs.swap_slot_alloc(0, SWAP_HAS_CACHE)) for _ in range(si.pages)}
    assert 0 not in offsets and len(offsets) == si.pages
    assert devs.swap_slot_alloc(0, SWAP_HAS_CACHE) == 0, "device full"
    si.check_invariants()


def test_bad_pages_are_skipped_and_counted() -> None:
    devs = SwapDevices()
    si = _dev(devs, bad_pages=(5, 600))
    assert si.swap_map[5] == SWAP_MAP_BAD and si.swap_map[600] == SWAP_MAP_BAD
    assert si.pages == si.max - 3
    got = {swp_slot_offset(devs.swap_slot_alloc(0, SWAP_HAS_CACHE)) for _ in range(si.pages)}
    assert not got & {0, 5, 600}
    si.check_invariants()


def test_first_cluster_order_zero_allocations_are_sequential() -> None:
    devs = SwapDevices()
    _dev(devs)
    got = [swp_slot_offset(devs.swap_slot_alloc(0, SWAP_HAS_CACHE)) for _ in range(5)]
    # cluster 0 holds the header, so it starts on the nonfull list; the free list comes
    # first, interleaved by address space: the first free cluster is cluster 1.
    assert got == [512, 513, 514, 515, 516]


def test_large_order_needs_aligned_contiguous_slots_in_one_cluster() -> None:
    devs = SwapDevices()
    si = _dev(devs)
    a = swp_slot_offset(devs.swap_slot_alloc(4, SWAP_HAS_CACHE))
    b = swp_slot_offset(devs.swap_slot_alloc(4, SWAP_HAS_CACHE))
    assert a % 16 == 0 and b % 16 == 0 and b == a + 16
    c = a // SWAPFILE_CLUSTER
    assert si.cluster_order[c] == 4
    # an order-2 allocation may not share the order-4 cluster
    d = swp_slot_offset(devs.swap_slot_alloc(2, SWAP_HAS_CACHE))
    assert d // SWAPFILE_CLUSTER != c
    si.check_invariants()


def test_swap_file_refuses_large_folios() -> None:
    devs = SwapDevices()
    _dev(devs, blkdev=False)
    assert devs.swap_slot_alloc(4, SWAP_HAS_CACHE) == 0
    assert devs.swap_slot_alloc(0, SWAP_HAS_CACHE) != 0


def test_pmd_order_takes_a_whole_cluster_or_fails() -> None:
    devs = SwapDevices()
    si = _dev(devs, nr_pages=2 * SWAPFILE_CLUSTER)
    e = devs.swap_slot_alloc(9, SWAP_HAS_CACHE)
    assert swp_slot_offset(e) == SWAPFILE_CLUSTER
    assert si.cluster_flags[1] == ClusterFlag.FULL
    assert devs.swap_slot_alloc(9, SWAP_HAS_CACHE) == 0, "cluster 0 has the header"
    si.check_invariants()


def test_per_cpu_clusters_are_distinct() -> None:
    devs = SwapDevices(nr_cpus=2)
    _dev(devs)
    devs.env.current_cpu = 0
    a = swp_slot_offset(devs.swap_slot_alloc(0, SWAP_HAS_CACHE))
    devs.env.current_cpu = 1
    b = swp_slot_offset(devs.swap_slot_alloc(0, SWAP_HAS_CACHE))
    devs.env.current_cpu = 0
    a2 = swp_slot_offset(devs.swap_slot_alloc(0, SWAP_HAS_CACHE))
    assert a // SWAPFILE_CLUSTER != b // SWAPFILE_CLUSTER
    assert a2 == a + 1


def test_free_moves_full_cluster_to_nonfull_then_free() -> None:
    devs = SwapDevices()
    si = _dev(devs, nr_pages=2 * SWAPFILE_CLUSTER)
    offs = [swp_slot_offset(devs.swap_slot_alloc(0, SWAP_HAS_CACHE))
            for _ in range(SWAPFILE_CLUSTER)]
    assert si.cluster_flags[1] == ClusterFlag.FULL
    for off in offs:
        si.swap_map[off] = SWAP_HAS_CACHE
    devs.swap_range_free(si, offs[0], 1)
    assert si.cluster_flags[1] == ClusterFlag.NONFULL
    for off in offs[1:]:
        devs.swap_range_free(si, off, 1)
    assert si.cluster_flags[1] == ClusterFlag.FREE
    si.check_invariants()


def test_priorities_decreasing_default_and_explicit() -> None:
    devs = SwapDevices()
    a = _dev(devs)
    b = _dev(devs)
    c = _dev(devs, prio=5)
    assert (a.prio, b.prio, c.prio) == (-1, -2, 5)
    # the highest priority is used first
    assert swp_slot_type(devs.swap_slot_alloc(0, SWAP_HAS_CACHE)) == c.type
    assert "Priority" in devs.proc_swaps().splitlines()[0]


def test_equal_priorities_round_robin() -> None:
    devs = SwapDevices(default_prio="round-robin")
    a = _dev(devs)
    b = _dev(devs)
    assert a.prio == b.prio == -1
    types = [swp_slot_type(devs.swap_slot_alloc(0, SWAP_HAS_CACHE)) for _ in range(4)]
    assert types == [a.type, b.type, a.type, b.type]


def test_higher_priority_exhausted_first() -> None:
    devs = SwapDevices()
    hi = _dev(devs, nr_pages=SWAPFILE_CLUSTER, prio=10)
    lo = _dev(devs, prio=1)
    types = [swp_slot_type(devs.swap_slot_alloc(0, SWAP_HAS_CACHE))
             for _ in range(hi.pages + 1)]
    assert types[:-1] == [hi.type] * hi.pages and types[-1] == lo.type
    assert hi not in devs.avail


def test_priority_out_of_range_and_too_many_devices() -> None:
    devs = SwapDevices(max_swapfiles=2)
    with pytest.raises(KernelError) as exc:
        _dev(devs, prio=32768)
    assert exc.value.errno == Errno.EINVAL
    assert list(devs.devices()) == []
    _dev(devs)
    _dev(devs)
    with pytest.raises(KernelError) as exc:
        _dev(devs)
    assert exc.value.errno == Errno.EPERM


def test_counts_and_si_swapinfo() -> None:
    devs = SwapDevices()
    si = _dev(devs)
    assert devs.total_swap_pages == si.pages == devs.nr_swap_pages
    for _ in range(10):
        devs.swap_slot_alloc(0, SWAP_HAS_CACHE)
    assert devs.nr_swap_pages == si.pages - 10
    assert devs.si_swapinfo() == (si.pages - 10, si.pages)
    devs.begin_swapoff(si)
    # a device being swapped off still counts its used pages (nr_to_be_unused)
    assert devs.si_swapinfo() == (10, 10)


def test_vm_swap_full_is_half() -> None:
    devs = SwapDevices()
    si = _dev(devs)
    half = si.pages // 2
    for _ in range(half):
        devs.swap_slot_alloc(0, SWAP_HAS_CACHE)
    assert not devs.vm_swap_full()
    devs.swap_slot_alloc(0, SWAP_HAS_CACHE)
    devs.swap_slot_alloc(0, SWAP_HAS_CACHE)
    assert devs.vm_swap_full()


def test_proc_swaps_format() -> None:
    devs = SwapDevices()
    _dev(devs, name="/swapfile", kind="file", nr_pages=262144)
    lines = devs.proc_swaps().splitlines()
    assert lines[0] == "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority"
    assert lines[1] == "/swapfile" + " " * 31 + "file\t1048572\t\t0\t\t-1"



def test_proc_swaps_drops_the_second_tab_from_eight_digit_sizes() -> None:
    """swap_show(): Size and Used are followed by two tabs below 10,000,000 KiB and by one
    from there (so the columns still line up): 9,999,996 KiB keeps both, 10,000,000 KiB
    (a 2,500,001-page area: the header page is not swap) loses one; Used likewise."""
    devs = SwapDevices()
    small = _dev(devs, name="/small", kind="file", nr_pages=2_500_000)
    big = _dev(devs, name="/big", kind="file", nr_pages=2_500_001)
    small.inuse_pages = 2_499_999   # 9,999,996 KiB
    big.inuse_pages = 2_500_000     # 10,000,000 KiB
    lines = devs.proc_swaps().splitlines()
    assert lines[1] == "/small" + " " * 34 + "file\t9999996\t\t9999996\t\t-1"
    assert lines[2] == "/big" + " " * 36 + "file\t10000000\t10000000\t-2"

def test_count_continuation_digits() -> None:
    devs = SwapDevices()
    si = _dev(devs)
    off = 700
    assert not si.swap_count_continued_inc(off), "no continuation page yet"
    si.add_swap_count_continuation(off)
    for _ in range(127):
        assert si.swap_count_continued_inc(off)
    assert not si.swap_count_continued_inc(off), "second level needed"
    si.add_swap_count_continuation(off)
    assert si.swap_count_continued_inc(off)
    assert si.cont_digits[off] == [0, 1]
    assert si.metadata_bytes()["swap_cont_pages"] == 2 * 4096
