"""The lifetime, I/O and memcg invariants of the spec for the RFC v2 design
(:mod:`vswap.swap.vswap`, :mod:`vswap.swap.vswap_base`), one named test each.

``test_part1_invNN_*``: ``spec/part1-patches-01-11.md`` section 13; ``test_part2_invNN_*``:
``spec/part2-patches-12-18.md`` section 18. Invariants about intermediate patches (08-11) that
patches 12-18 replaced are tested in their final form; the docstring says so. The allocator's,
the reverse map's, zswap's and swapoff's invariants are in ``test_vswap_desc.py``,
``test_vswap_rmap.py``, ``test_vswap_zswap.py`` and ``test_vswap_swapoff.py``.
"""

from __future__ import annotations

import random

import pytest
from vswaphelpers import (
    add_device,
    alloc,
    cache_add,
    child,
    compressible,
    design_with_device,
    fault_in,
    locked_folio,
    map_ptes,
    mixed_workload,
    mk,
    random_page,
    reclaim,
    small,
    swap_in,
    swap_out,
    used_slots,
    zero_page,
)

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MAX
from vswap.kernel.types import PAGE_SIZE, SwpEntry, swp_offset, swp_slot_type
from vswap.swap import AOP_WRITEPAGE_ACTIVATE, create_design
from vswap.swap.classic import ClassicSwap
from vswap.swap.storage import MemSwapStorage
from vswap.swap.swap_state import pack_shadow
from vswap.swap.swapfile import SWAP_HAS_CACHE
from vswap.swap.vswap_desc import SwapType

E = SwpEntry
SWAPFILE, ZERO, ZSWAP, FOLIO = (SwapType.VSWAP_SWAPFILE, SwapType.VSWAP_ZERO,
                                SwapType.VSWAP_ZSWAP, SwapType.VSWAP_FOLIO)


def test_part1_inv06_fresh_entry_refs_one_and_memcgid() -> None:
    d = small()
    m = child(d)
    _, e = alloc(d, order=1, memcg_id=m.id)
    for i in range(2):
        assert d.table.refs[e + i] == 1
        assert d.swp_swapcount(E(e + i)) == 0
        assert d.lookup_swap_cgroup_id(E(e + i)) == m.id


def test_part1_inv09_swap_count_is_refs_shift_one() -> None:
    d = small()
    _f, e = alloc(d)
    map_ptes(d, e, 1, 3)
    assert d.table.refs[e] == 7
    assert d.swp_swapcount(e) == 3


@pytest.mark.parametrize("name", ["classic", "vswap"])
def test_part1_inv10_duplicate_and_free_move_count_by_one(name: str) -> None:
    d = design_with_device(name)
    f = locked_folio()
    assert d.add_to_swap(f)
    e = f.swap
    for n in range(1, 4):
        assert d.swap_duplicate(e) == 0 and d.swp_swapcount(e) == n
    for n in range(2, -1, -1):
        d.swap_free_nr(e, 1)
        assert d.swp_swapcount(e) == n


@pytest.mark.parametrize("name", ["classic", "vswap"])
def test_part1_inv11_swapcache_prepare_eexist_and_enoent(name: str,
                                                          rng: random.Random) -> None:
    d = design_with_device(name)
    f = Folio(0, random_page(rng))
    f.folio_lock()
    assert d.add_to_swap(f)
    e = f.swap
    d.swap_duplicate(e)
    assert d.swapcache_prepare(e, 1) == -Errno.EEXIST
    assert d.swp_swapcount(e) == 1 and f.swapcache
    d.delete_from_swap_cache(f)
    d.swap_free_nr(e, 1)
    assert d.swapcache_prepare(e, 1) == -Errno.ENOENT


def test_part1_inv12_swapcache_prepare_all_or_nothing() -> None:
    d = small()
    fs = [alloc(d)[0] for _ in range(4)]
    for i, f in enumerate(fs):
        map_ptes(d, E(i + 1), 1)
        d.put_swap_folio(f, E(i + 1))  # refs 2: mapped, not pinned
    assert d.swapcache_prepare(E(3), 1) == 0
    before = list(d.table.refs[1:5])
    assert d.swapcache_prepare(E(1), 4) == -Errno.EEXIST
    assert list(d.table.refs[1:5]) == before
    d.swap_free_nr(E(2), 1)  # id 2 dies: a hole in the range
    assert not d.table.is_live(2)
    before = [d.table.refs[i] for i in (1, 3, 4)]
    assert d.swapcache_prepare(E(1), 4) == -Errno.ENOENT
    assert [d.table.refs[i] for i in (1, 3, 4)] == before


@pytest.mark.parametrize("name", ["classic", "vswap"])
def test_part1_inv13_last_reference_frees_backing(name: str, rng: random.Random) -> None:
    d = design_with_device(name)
    e, _ = swap_out(d, Folio(0, random_page(rng)))
    assert used_slots(d) == 1
    slot = d.swp_entry_to_swp_slot(e)
    d.swap_free_nr(e, 1)
    assert used_slots(d) == 0
    if name == "vswap":
        assert not d.table.is_live(e) and d.swp_slot_to_swp_entry(slot) == 0
        assert d.rmap.cols[swp_slot_type(slot)][swp_offset(slot)] == 0


def test_part1_inv14_no_free_while_referenced_and_no_revival() -> None:
    d = small()
    f, e = alloc(d)
    map_ptes(d, e, 1)
    cache_add(d, f, e)
    d.swap_free_nr(e, 1)
    assert d.table.is_live(e)  # cache pin keeps it
    map_ptes(d, e, 1)
    d.delete_from_swap_cache(f)
    assert d.table.is_live(e)  # count keeps it
    d.swap_free_nr(e, 1)
    assert not d.table.is_live(e) and d.table.refs[e] == 0
    with pytest.raises(KernelError) as exc:
        d.swap_duplicate(e)
    assert exc.value.errno == Errno.ENOENT
    assert d.swapcache_prepare(e, 1) == -Errno.ENOENT
    assert d.table.refs[e] == 0


def test_part1_inv15_vswap_free_clears_cache_and_memcg(rng: random.Random) -> None:
    d = mk(device_mib=1)
    m = child(d)
    e, _ = swap_out(d, Folio(0, random_page(rng), memcg_id=m.id))
    assert m.swap.usage == 1
    f = fault_in(d, e)
    reclaim(d, f, shadow=pack_shadow(m.id, 5, False))
    assert d.swap_cache.get_shadow_from_swap_cache(e) is not None
    d.swap_free_nr(e, 1)
    assert d.swap_cache.get_shadow_from_swap_cache(e) is None
    assert d.swap_cache_get_folio(e) is None
    assert d.table.memcgid[e] == 0 and m.swap.usage == 0


@pytest.mark.parametrize("name", ["classic", "vswap"])
def test_part1_inv17_shadows_survive_allocation_not_free(name: str,
                                                         rng: random.Random) -> None:
    d = design_with_device(name)
    e, _ = swap_out(d, Folio(0, random_page(rng)), nr_ptes=2)
    f = fault_in(d, e)
    reclaim(d, f, shadow=pack_shadow(1, 9, True))
    assert d.swap_cache.get_shadow_from_swap_cache(e) is not None
    d.swap_free_nr(e, 1)  # one reference left: still allocated, shadow stays
    assert d.swap_cache.get_shadow_from_swap_cache(e) is not None
    d.swap_free_nr(e, 1)
    assert d.swap_cache.get_shadow_from_swap_cache(e) is None


def test_part1_inv18_failed_add_to_swap_cache_leaves_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    d = mk(device_mib=1)
    monkeypatch.setattr(d, "add_to_swap_cache", lambda folio, entry: (-Errno.EEXIST, None))
    f = locked_folio(2)
    assert not d.add_to_swap(f)
    assert d.vswap_used == 0 and used_slots(d) == 0 and not d.table.folio
    d.check_invariants()


def test_part1_inv19_charge_failure_leaves_nothing(rng: random.Random) -> None:
    """Final behaviour (patch 14 moved the charge from folio_alloc_swap to
    vswap_alloc_swap_slot): with ``swap.max = 0`` the virtual allocation succeeds, the
    physical one fails, and no slot, rmap entry or charge is left behind."""
    d = mk(device_mib=1)
    m = child(d, swap_max=0)
    f = Folio(0, random_page(rng), memcg_id=m.id)
    e, ret = swap_out(d, f)
    assert e and ret == AOP_WRITEPAGE_ACTIVATE
    assert used_slots(d) == 0 and d.table.type[e] == FOLIO
    assert m.swap_events["fail"] == 1
    f.folio_lock()
    d.swap_free_nr(e, 1)
    assert d.folio_free_swap(f)
    f.folio_unlock()
    assert d.vswap_used == 0
    d.check_invariants()


def test_part1_inv20_swapcache_only_and_folio_swapped() -> None:
    d = small()
    f, e = alloc(d, order=1)
    cache_add(d, f, e)
    assert d.vswap_swapcache_only(e, 2) and not d.folio_swapped(f)
    map_ptes(d, E(e + 1), 1)
    assert not d.vswap_swapcache_only(e, 2) and d.vswap_swapcache_only(e, 1)
    assert d.folio_swapped(f)
    assert not d.vswap_swapcache_only(E(e + 2), 1)  # not live


@pytest.mark.parametrize("name", ["classic", "vswap"])
def test_part1_inv21_folio_free_swap_refuses_mapped_or_writeback(name: str) -> None:
    d = design_with_device(name)
    f = locked_folio()
    assert d.add_to_swap(f)
    d.swap_duplicate(f.swap)
    assert not d.folio_free_swap(f) and f.swapcache
    d.swap_free_nr(f.swap, 1)
    f.writeback = True
    assert not d.folio_free_swap(f)
    f.writeback = False
    f.dirty = False
    assert d.folio_free_swap(f)
    assert f.dirty and not f.swapcache


def test_part1_inv22_free_swap_and_cache_refs3_and_refs2() -> None:
    d = small()
    f, e = alloc(d)
    cache_add(d, f, e)
    f.folio_unlock()
    map_ptes(d, e, 1)
    assert d.table.refs[e] == 3
    d.free_swap_and_cache_nr(e, 1)
    assert not d.table.is_live(e) and not f.swapcache
    f2, e2 = alloc(d)
    map_ptes(d, e2, 1)
    d.put_swap_folio(f2, e2)
    assert d.table.refs[e2] == 2
    d.free_swap_and_cache_nr(e2, 1)
    assert not d.table.is_live(e2)


def test_part1_inv23_put_swap_folio_needs_lock_drops_one_pin_per_page() -> None:
    d = small()
    f, e = alloc(d, order=1)
    map_ptes(d, e, 2)
    f.folio_unlock()
    with pytest.raises(AssertionError, match="not locked"):
        d.put_swap_folio(f, e)
    f.folio_lock()
    d.put_swap_folio(f, e)
    assert [d.table.refs[e], d.table.refs[e + 1]] == [2, 2]


def test_part1_inv24_swap_cgroup_record_clear_lookup() -> None:
    d = small()
    _, e = alloc(d, memcg_id=1)
    with pytest.raises(AssertionError, match="memcgid already set"):
        d.swap_cgroup_record(e, 1, 1)
    assert d.swap_cgroup_clear(e, 1) == 1
    assert d.swap_cgroup_clear(e, 1) == 0
    assert d.lookup_swap_cgroup_id(E(40)) == 0


def test_part1_inv28_classic_address_spaces_per_64mib() -> None:
    c = ClassicSwap()
    from vswap.kernel.types import swp_entry
    a, b = swp_entry(0, 5), swp_entry(0, 5 | (1 << 14))
    assert c.swap_cache.swap_address_space(a) != c.swap_cache.swap_address_space(b)
    assert c.swap_cache.swap_address_space(a) != c.swap_cache.swap_address_space(
        swp_entry(1, 5))
    assert c.swap_cache.index_of(b) == 5


def test_part1_inv32_slot_free_only_of_allocated_slots(rng: random.Random) -> None:
    d = mk(device_mib=1)
    e, _ = swap_out(d, Folio(0, random_page(rng)))
    s = int(d.swp_entry_to_swp_slot(e))
    with pytest.raises(AssertionError, match="freeing slot"):
        d._swap_slot_free([(s + 1, 0)])
    d.swap_free_nr(e, 1)
    assert used_slots(d) == 0


def test_part1_inv33_classic_count_zero_transits_has_cache(rng: random.Random) -> None:
    c = design_with_device("classic")
    f = Folio(0, random_page(rng))
    f.folio_lock()
    assert c.add_to_swap(f)
    e = f.swap
    c.swap_duplicate(e)
    c.delete_from_swap_cache(f)
    si = next(c.devices.devices())
    off = swp_offset(e)
    assert si.swap_map[off] == 1
    assert c._swap_entry_free_locked(si, off, 1) == 0
    assert si.swap_map[off] == SWAP_HAS_CACHE  # the transit value
    c._swap_entry_range_free(si, off, 1)
    assert si.swap_map[off] == 0


def test_part1_inv34_readahead_skips_unowned_neighbours(rng: random.Random) -> None:
    d = mk(device_mib=1)
    ents = [swap_out(d, Folio(0, random_page(rng)))[0] for _ in range(6)]
    slots = [d.swp_entry_to_swp_slot(e) for e in ents]
    d.swap_free_nr(ents[2], 1)  # its slot now has no virtual owner
    # Cluster readahead (mm) maps each neighbouring offset back through the reverse map.
    back = [d.swp_slot_to_swp_entry(s) for s in slots]
    assert back[2] == 0 and [b for i, b in enumerate(back) if i != 2] == \
        [e for i, e in enumerate(ents) if i != 2]
    d.check_invariants()


def test_part2_inv01_each_descriptor_has_one_valid_payload(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    ents = mixed_workload(d, rng)
    t = d.table
    assert t.type[ents["zero"]] == ZERO
    assert t.type[ents["zswap"]] == ZSWAP and d.zswap.lookup(ents["zswap"]).id == \
        t.zswap[ents["zswap"]]
    assert t.type[ents["disk"]] == SWAPFILE and t.slot[ents["disk"]]
    assert t.type[ents["folio"]] == FOLIO and \
        d.swap_cache_get_folio(ents["folio"]) is t.folio[ents["folio"]]
    d.check_invariants()


def test_part2_inv04_refs_zero_iff_freed(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    m = child(d)
    e, _ = swap_out(d, Folio(0, compressible(rng), memcg_id=m.id))
    assert d.table.refs[e] > 0
    d.swap_free_nr(e, 1)
    assert d.table.refs[e] == 0 and not d.table.is_live(e)
    assert d.zswap.lookup(e) is None and d.table.memcgid[e] == 0
    assert e not in d.table.zswap


def test_part2_inv05_count_is_ptes_and_bit0_is_pin() -> None:
    d = small()
    f, e = alloc(d)
    cache_add(d, f, e)
    map_ptes(d, e, 1, 4)
    assert d.swp_swapcount(e) == 4 and d.table.refs[e] & 1
    d.delete_from_swap_cache(f)
    assert not d.table.refs[e] & 1 and d.swp_swapcount(e) == 4


def test_part2_inv08_zero_folio_never_takes_slot_or_zswap(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    e, ret = swap_out(d, Folio(0, zero_page()))
    assert ret == 0 and d.table.type[e] == ZERO
    assert used_slots(d) == 0 and d.zswap.statistics().stored_pages == 0
    # a page once in zswap that becomes zero drops its stale entry and ends ZERO
    e2, _ = swap_out(d, Folio(0, compressible(rng)))
    f = fault_in(d, e2)  # exclusive load: FOLIO
    assert d.table.type[e2] == FOLIO
    f.folio_lock()
    f.data[:] = bytes(PAGE_SIZE)
    f.dirty = False
    assert d.swap_writepage(f) == 0
    assert d.table.type[e2] == ZERO and d.zswap.lookup(e2) is None and used_slots(d) == 0


def test_part2_inv10_writeback_disabled_never_allocates_slot(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    m = child(d)
    m.zswap_writeback = False
    for _ in range(10):
        swap_out(d, Folio(0, random_page(rng), memcg_id=m.id))  # incompressible: rejected
    assert used_slots(d) == 0
    assert all(d.table.type[e] == FOLIO for e in d.table.live_ids())


def test_part2_inv11_slot_only_after_zero_and_zswap_declined(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    swap_out(d, Folio(0, zero_page()))
    swap_out(d, Folio(0, compressible(rng)))
    assert used_slots(d) == 0
    d.zswap.set_param("max_pool_percent", 0)  # zswap declines everything now
    e, ret = swap_out(d, Folio(0, compressible(rng)))
    assert ret == 0 and used_slots(d) == 1 and d.table.type[e] == SWAPFILE


def test_part2_inv12_folio_alloc_swap_without_devices() -> None:
    d = mk()
    f = locked_folio(3)
    assert d.add_to_swap(f)
    assert f.swap and d.vswap_used == 8


def test_part2_inv13_dirty_reswap_releases_old_backing(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    d.zswap.set_param("enabled", False)
    e, _ = swap_out(d, Folio(0, random_page(rng)))
    old = d.swp_entry_to_swp_slot(e)
    f = fault_in(d, e)
    d.zswap.set_param("enabled", True)
    f.folio_lock()
    f.data[:] = compressible(rng)
    f.dirty = False
    assert d.swap_writepage(f) == 0
    assert d.table.type[e] == ZSWAP and used_slots(d) == 0
    assert d.swp_slot_to_swp_entry(old) == 0
    d.check_invariants()


def test_part2_inv17_swap_counter_is_subtree_swapfile_entries(rng: random.Random) -> None:
    d = mk(device_mib=1)
    parent = d.memcgs.create("/p")
    kid = d.memcgs.create("/p/c")
    for m in (parent, kid, kid):
        swap_out(d, Folio(0, random_page(rng), memcg_id=m.id))
    swap_out(d, Folio(0, zero_page(), memcg_id=kid.id))
    assert kid.swap.usage == 2 and parent.swap.usage == 3
    d.check_invariants()


def test_part2_inv18_only_swapfile_entries_charge_memory_swap(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    m = child(d)
    swap_out(d, Folio(0, zero_page(), memcg_id=m.id))
    swap_out(d, Folio(0, compressible(rng), memcg_id=m.id))
    m.zswap_writeback = False
    swap_out(d, Folio(0, random_page(rng), memcg_id=m.id))
    assert m.swap.usage == 0 and m.stat["swap"] == 0
    assert {d.table.type[e] for e in d.table.live_ids()} == {ZERO, ZSWAP, FOLIO}


def test_part2_inv19_charge_failure_backing_unchanged(rng: random.Random) -> None:
    d = mk(device_mib=1)
    m = child(d, swap_max=0)
    e, ret = swap_out(d, Folio(0, random_page(rng), memcg_id=m.id))
    assert ret == AOP_WRITEPAGE_ACTIVATE and d.table.type[e] == FOLIO
    assert used_slots(d) == 0
    assert m.swap_events["max"] == 1 and m.swap_events["fail"] == 1


def test_part2_inv20_memcgid_set_once_cleared_by_free(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    m = child(d)
    e, _ = swap_out(d, Folio(0, compressible(rng), memcg_id=m.id))
    assert d.table.memcgid[e] == m.id
    d.zswap.zswap_writeback_entry(e)  # charge
    assert d.table.memcgid[e] == m.id
    f = fault_in(d, e)
    f.folio_lock()
    f.data[:] = zero_page()
    f.dirty = False
    d.swap_writepage(f)  # uncharge via release_backing
    assert d.table.memcgid[e] == m.id and m.swap.usage == 0
    reclaim(d, f)
    d.swap_free_nr(e, 1)
    assert d.table.memcgid[e] == 0


def test_part2_inv21_nr_swap_pages_unlimited_with_zswap(rng: random.Random) -> None:
    d = mk(zswap=True)
    add_device(d, pages=16)
    m = child(d, swap_max=0)
    assert d.mem_cgroup_get_nr_swap_pages(m) == MAX
    d.zswap.set_param("enabled", False)
    assert d.mem_cgroup_get_nr_swap_pages(m) == 0
    assert d.mem_cgroup_get_nr_swap_pages(None) == d.devices.nr_swap_pages


def test_part2_inv23_reading_zero_or_swapfile_keeps_descriptor(rng: random.Random) -> None:
    d = mk(device_mib=1)
    z, _ = swap_out(d, Folio(0, zero_page()))
    s, _ = swap_out(d, Folio(0, random_page(rng)))
    slot = d.table.slot[s]
    fault_in(d, z)
    fault_in(d, s)
    assert d.table.type[z] == ZERO and d.table.type[s] == SWAPFILE and d.table.slot[s] == slot


def test_part2_inv24_read_swap_cache_async_never_reads_folio_backed(rng: random.Random) -> None:
    d = mk(device_mib=1)
    m = child(d)
    m.zswap_writeback = False
    f = Folio(0, random_page(rng), memcg_id=m.id)
    e, ret = swap_out(d, f)
    assert ret == AOP_WRITEPAGE_ACTIVATE
    got, new = d.read_swap_cache_async(e)
    assert got is f and not new
    # the transient race: the descriptor says FOLIO but the folio left the cache
    d.swap_cache._delete_from_swap_cache(f, e, None)
    refs = d.table.refs[e]
    assert d.read_swap_cache_async(e) == (None, False)
    assert d.table.refs[e] == refs and d.io_reads == 0
    d.swap_cache.add_to_swap_cache(f, e)


def test_part2_inv25_large_swapin_reads_one_backend_only(rng: random.Random) -> None:
    d = mk(device_mib=4, zswap=True)
    d.zswap.set_param("enabled", False)
    disk, _ = swap_out(d, Folio(2, random_page(rng, 4)))
    # a large read over a mixed range is an I/O error
    f = fault_in(d, E(disk + 1))  # order-0 read of one page
    f.folio_lock()
    f.data[:] = zero_page()
    f.dirty = False
    d.swap_writepage(f)  # that page becomes ZERO: the range is mixed now
    reclaim(d, f)
    big = Folio(2)
    assert d.swapcache_prepare(disk, 4) == 0
    big.folio_lock()
    assert d.add_to_swap_cache(big, disk)[0] == 0
    assert not d.swap_read_folio(big)


def test_part2_inv28_free_swap_and_cache_decrements_each_once(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    ents = mixed_workload(d, rng)
    first = min(ents.values())
    assert sorted(ents.values()) == list(range(first, first + 4))
    map_ptes(d, first, 4)  # counts 2 each
    d.free_swap_and_cache_nr(first, 4)
    assert [d.swp_swapcount(E(first + i)) for i in range(4)] == [1, 1, 1, 1]
    d.check_invariants()


def test_part2_inv34_no_zeromap_and_slot_free_keeps_zero_state(rng: random.Random) -> None:
    d = mk(device_mib=1)
    assert not hasattr(d, "zeromap")
    z, _ = swap_out(d, Folio(0, zero_page()))
    s, _ = swap_out(d, Folio(0, random_page(rng)))
    d.swap_free_nr(s, 1)
    assert d.table.type[z] == ZERO
    assert "zeromap" not in d.metadata_bytes() and "swap_cgroup" not in d.metadata_bytes()


def _same_workload(name: str, rng: random.Random) -> tuple[object, list[bytes], list[bytes]]:
    d = create_design(name)
    d.swapon(MemSwapStorage(1 << 20, label="w"))
    m = d.memcgs.create("/w")
    written, _read = [], []
    ents = []
    for i in range(24):
        data = zero_page() if i % 4 == 0 else random_page(rng)
        written.append(data)
        ents.append(swap_out(d, Folio(0, data, memcg_id=m.id))[0])
    return d, written, ents


def test_part2_inv35_same_contents_in_both_modes() -> None:
    outs = {}
    for name in ("classic", "vswap"):
        d, written, ents = _same_workload(name, random.Random(7))
        outs[name] = [bytes(swap_in(d, e).data) for e in ents]
        assert outs[name] == written
    assert outs["classic"] == outs["vswap"]


def test_part2_inv36_memory_swap_classic_at_least_vswap() -> None:
    c, _, _ = _same_workload("classic", random.Random(8))
    v, _, _ = _same_workload("vswap", random.Random(8))
    cm, vm = c.memcgs.lookup("/w"), v.memcgs.lookup("/w")
    assert cm.swap.usage > vm.swap.usage  # zero pages charge only in classic
    c2, v2 = create_design("classic"), create_design("vswap")
    for d in (c2, v2):
        d.swapon(MemSwapStorage(1 << 20, label="x"))
        m = d.memcgs.create("/w")
        r = random.Random(3)
        for _ in range(5):
            swap_out(d, Folio(0, random_page(r), memcg_id=m.id))
    assert c2.memcgs.lookup("/w").swap.usage == v2.memcgs.lookup("/w").swap.usage


def test_part2_inv37_physical_slots_classic_at_least_vswap() -> None:
    c, _, _ = _same_workload("classic", random.Random(9))
    v, _, _ = _same_workload("vswap", random.Random(9))
    assert used_slots(c) >= used_slots(v)
    assert used_slots(c) - used_slots(v) == 6  # the six zero pages
