"""Classic-only behaviour: swap_map bytes, continuation, zeromap, swap_cgroup, memcg charge."""

from __future__ import annotations

import random

import pytest
from swaphelpers import make_design, random_page, swap_in, swap_out

from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE, SwpEntry, swp_offset, swp_type
from vswap.swap.classic import ClassicSwap
from vswap.swap.storage import FileSwapStorage, MemSwapStorage
from vswap.swap.swap_area import mkswap
from vswap.swap.swapfile import COUNT_CONTINUED, SWAP_HAS_CACHE, SWAP_MAP_MAX


def _map(d: ClassicSwap, e: SwpEntry) -> int:
    si = d.devices.swap_type_to_swap_info(swp_type(e))
    assert si is not None
    return si.swap_map[swp_offset(e)]


def test_lifecycle_map_bytes(rng: random.Random) -> None:
    d = make_design("classic")
    folio = Folio(0, random_page(rng))
    folio.folio_lock()
    assert d.add_to_swap(folio)
    e = folio.swap
    assert _map(d, e) == SWAP_HAS_CACHE
    d.swap_duplicate(e)
    assert _map(d, e) == SWAP_HAS_CACHE | 1
    d.delete_from_swap_cache(folio)
    assert _map(d, e) == 1
    d.swap_free_nr(e, 1)
    assert _map(d, e) == 0


def test_count_continuation_through_swap_duplicate(rng: random.Random) -> None:
    d = make_design("classic")
    e, _ = swap_out(d, Folio(0, random_page(rng)))
    for _ in range(SWAP_MAP_MAX - 1):
        d.swap_duplicate(e)
    assert _map(d, e) == SWAP_MAP_MAX
    d.swap_duplicate(e)
    assert _map(d, e) == COUNT_CONTINUED
    assert d.swp_swapcount(e) == SWAP_MAP_MAX + 1
    meta = d.metadata_bytes()
    assert meta["swap_cont_pages"] == PAGE_SIZE
    for n in range(SWAP_MAP_MAX, -1, -1):
        d.swap_free_nr(e, 1)
        assert d.swp_swapcount(e) == n
    assert d.metadata_bytes()["swap_cont_pages"] == PAGE_SIZE, "pages stay until swapoff"


def test_zero_pages_take_a_slot_and_a_zeromap_bit() -> None:
    d = make_design("classic")
    e, ret = swap_out(d, Folio(0))
    assert ret == 0
    si = next(d.devices.devices())
    assert si.inuse_pages == 1, "classic: a zero page still holds a disk slot"
    assert d._zeromap_test(si.type, swp_offset(e))
    assert d.io_writes == 0
    folio = swap_in(d, e)
    assert bytes(folio.data) == bytes(PAGE_SIZE)
    assert not d._zeromap_test(si.type, swp_offset(e)), "bit cleared when the slot is freed"


def test_swap_cgroup_records_and_memcg_charge(rng: random.Random) -> None:
    d = ClassicSwap()
    d.swapon(MemSwapStorage(4 << 20))
    cg = d.memcgs.create("/job")
    folio = Folio(0, random_page(rng), memcg_id=cg.id)
    e, _ = swap_out(d, folio)
    assert d.lookup_swap_cgroup_id(e) == cg.id
    assert cg.swap.usage == 1 and cg.stat["swap"] == 1
    d.swap_free_nr(e, 1)
    assert cg.swap.usage == 0 and d.lookup_swap_cgroup_id(e) == 0


def test_memory_swap_max_refuses_allocation(rng: random.Random) -> None:
    d = ClassicSwap()
    si = d.swapon(MemSwapStorage(4 << 20))
    cg = d.memcgs.create("/job")
    cg.swap.max = 2
    for _ in range(2):
        swap_out(d, Folio(0, random_page(rng), memcg_id=cg.id))
    folio = Folio(0, random_page(rng), memcg_id=cg.id)
    folio.folio_lock()
    assert not d.add_to_swap(folio)
    assert si.inuse_pages == 2, "the refused folio's slot went back"
    assert cg.swap_events["max"] == 1 and cg.swap_events["fail"] == 1


def test_memcg_swap_event_fail_when_no_slot() -> None:
    d = ClassicSwap()
    cg = d.memcgs.create("/job")
    folio = Folio(0, memcg_id=cg.id)
    folio.folio_lock()
    assert not d.add_to_swap(folio)
    assert cg.swap_events["fail"] == 1, "v6.14 charges even a failed allocation"


def test_swapcache_only_slots_reclaimed_when_swap_full(rng: random.Random) -> None:
    """Past half full, allocation frees slots that only the swap cache holds
    (cluster_scan_range + __try_to_reclaim_swap, and the nearly-full reclaim work)."""
    d = ClassicSwap()
    si = d.swapon(MemSwapStorage(4 << 20))
    cached = []
    for _ in range(si.pages + 50):  # more folios than slots: only reclaim makes room
        folio = Folio(0, random_page(rng))
        folio.folio_lock()
        assert d.add_to_swap(folio)
        folio.folio_unlock()
        cached.append(folio)
    dropped = [f for f in cached if not f.swapcache]
    assert len(dropped) >= 50
    assert all(f.dirty for f in dropped), "a reclaimed cache folio is dirtied (data kept)"
    assert si.inuse_pages == len(cached) - len(dropped)
    d.check_invariants()


def test_swapcache_prepare_range_is_all_or_nothing(rng: random.Random) -> None:
    d = make_design("classic")
    e, _ = swap_out(d, Folio(4, random_page(rng, 16)))
    assert d.swapcache_prepare(SwpEntry(e + 5), 1) == 0
    assert d.swapcache_prepare(e, 16) == -Errno.EEXIST
    assert all(not _map(d, SwpEntry(e + i)) & SWAP_HAS_CACHE for i in range(16) if i != 5)
    d.swapcache_clear(SwpEntry(e + 5), 1)
    assert d.swapcache_prepare(e, 16) == 0


def test_swapoff_walks_page_tables_via_hook(rng: random.Random) -> None:
    d = make_design("classic")
    ptes: dict[int, SwpEntry] = {}
    contents: dict[int, bytes] = {}
    for i in range(20):
        data = random_page(rng)
        ptes[i], _ = swap_out(d, Folio(0, data))
        contents[i] = data

    def unuse(type_: int) -> int:  # a tiny page table: swap every PTE of the device back in
        visited = 0
        for addr, e in list(ptes.items()):
            visited += 1
            folio = swap_in(d, e)
            contents[addr] = bytes(folio.data) if contents[addr] == bytes(folio.data) else b""
            del ptes[addr]
        return visited

    d.hooks.unuse_ptes = unuse
    result = d.swapoff(next(d.devices.devices()).name)
    assert result.completed and result.ptes_visited == 20 and result.pages_unused == 20
    assert all(contents.values()), "every page came back intact"


def test_swapoff_fails_and_reinserts_when_pages_remain(rng: random.Random) -> None:
    d = make_design("classic")
    swap_out(d, Folio(0, random_page(rng)))
    si = next(d.devices.devices())
    result = d.swapoff(si.name)
    assert not result.completed and "still in use" in result.error
    assert si in d.devices.avail and d.devices.total_swap_pages == si.pages


def test_file_backed_device_round_trip_after_reopen(tmp_path, rng: random.Random) -> None:
    path = tmp_path / "swapfile"
    mkswap(path, 1 << 20)
    d = ClassicSwap()
    storage = FileSwapStorage.open(path)
    d.swapon(storage)
    written = {}
    for _ in range(30):
        data = random_page(rng)
        e, _ = swap_out(d, Folio(0, data))
        written[swp_offset(e)] = data
    storage.close()
    reopened = FileSwapStorage.open(path)
    for off, data in written.items():
        assert reopened.read_page(off) == data
    reopened.close()


@pytest.mark.parametrize("order", [0, 2, 9])
def test_thp_swpout_counted_for_pmd_folios(order: int, rng: random.Random) -> None:
    d = make_design("classic", swap_mib=8)
    swap_out(d, Folio(order, random_page(rng, 1 << order)))
    assert d.vmstat["thp_swpout"] == (1 if order == 9 else 0)
    assert d.vmstat["pswpout"] == 1 << order
