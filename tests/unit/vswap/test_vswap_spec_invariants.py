"""Every testable invariant of the spec, one named test each.

``test_part1_invNN_*``: ``spec/part1-patches-01-11.md`` section 13; ``test_part2_invNN_*``:
``spec/part2-patches-12-18.md`` section 18. Invariants about intermediate patches (08-11) that
patches 12-18 replaced are tested in their final form; the docstring says so.
"""

from __future__ import annotations

import random

import pytest
from vswaphelpers import (
    add,
    add_device,
    compressible,
    fault_in,
    map_ptes,
    mk,
    random_page,
    reclaim,
    swap_in,
    swap_out,
    zero_page,
)

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MAX
from vswap.kernel.types import PAGE_SIZE, SwpEntry, non_swap_entry, swp_offset, swp_slot_type
from vswap.swap import AOP_WRITEPAGE_ACTIVATE, SwapHooks, create_design
from vswap.swap.classic import ClassicSwap
from vswap.swap.storage import MemSwapStorage
from vswap.swap.swap_state import pack_shadow
from vswap.swap.swapfile import SWAP_HAS_CACHE, SWAP_MAP_ALLOCATED
from vswap.swap.vswap import VirtualSwap
from vswap.swap.vswap_desc import MAX_VSWAP, SwapType

E = SwpEntry
SWAPFILE, ZERO, ZSWAP, FOLIO = (SwapType.VSWAP_SWAPFILE, SwapType.VSWAP_ZERO,
                                SwapType.VSWAP_ZSWAP, SwapType.VSWAP_FOLIO)


def small(**kw: object) -> VirtualSwap:
    """A tiny space: clusters of 4, ids 1..63."""
    return mk(max_vswap=63, cluster_shift=2, **kw)


def alloc(d: VirtualSwap, order: int = 0, memcg_id: int = 0) -> tuple[Folio, SwpEntry]:
    f = Folio(order, memcg_id=memcg_id)
    f.folio_lock()
    e = d.folio_alloc_swap(f)
    return f, e


def cache_add(d: VirtualSwap, f: Folio, e: SwpEntry) -> None:
    assert d.add_to_swap_cache(f, e)[0] == 0


def both(rng_design: str) -> object:
    return create_design(rng_design)


def design_with_device(name: str) -> object:
    d = create_design(name)
    d.swapon(MemSwapStorage(1 << 20, label="b"))
    return d


def used_slots(d: object) -> int:
    return sum(si.inuse_pages for si in d.devices.devices())  # type: ignore[attr-defined]


def child(d: VirtualSwap, path: str = "/a", swap_max: int = MAX) -> object:
    m = d.memcgs.create(path)
    m.swap.max = swap_max
    return m


# =========================================================================================
# Part 1 (patches 01-11), section 13
# =========================================================================================

def test_part1_inv01_id_zero_never_allocated() -> None:
    d = small()
    ids = []
    while True:
        _, e = alloc(d)
        if not e:
            break
        ids.append(e)
    assert 0 not in ids and len(ids) == 63
    assert not d.table.is_live(0)


def test_part1_inv02_alloc_returns_consecutive_aligned_ids() -> None:
    d = small()
    alloc(d)
    _f, e = alloc(d, order=2)
    assert e % 4 == 0 and e >= 4
    assert all(d.table.is_live(e + i) for i in range(4))
    assert e >= 1 and e + 3 <= 63
    # the cluster of e had no live ids before: the next large folio skips partial clusters
    _, one = alloc(d)
    assert one == 2
    _, e2 = alloc(d, order=2)
    assert e2 == 8


def test_part1_inv03_order0_gets_lowest_free_id() -> None:
    d = small()
    got = [alloc(d)[1] for _ in range(10)]
    assert got == list(range(1, 11))
    for e in (7, 3, 9):
        d.put_swap_folio(Folio(0, memcg_id=0) if False else _locked(), E(e))
    assert alloc(d)[1] == 3
    assert alloc(d)[1] == 7


def _locked(order: int = 0) -> Folio:
    f = Folio(order)
    f.folio_lock()
    return f


def test_part1_inv04_cluster_map_counts() -> None:
    d = small()
    alloc(d)
    alloc(d, order=2)
    alloc(d, order=1)
    d.put_swap_folio(_locked(), E(1))
    counts = d.table.cluster_count
    assert counts[0] == 1  # only the reserved id 0 remains
    assert counts[1] == 4 and counts[2] == 2
    assert all(counts[c] == 0 for c in range(3, len(counts)))
    assert d.table.cl_nonempty[0] == 1
    d.table.check_invariants()


def test_part1_inv05_used_and_alloc_reject() -> None:
    d = small()
    for _ in range(5):
        alloc(d)
    assert d.vswap_used == 5
    big = [alloc(d, order=2)[1] for _ in range(20)]
    assert 0 in big
    granted = sum(1 for e in big if e)
    assert d.vswap_used == 5 + 4 * granted
    assert d.vswap_alloc_reject == 4 * (20 - granted)
    assert d.debugfs() == {"used": d.vswap_used, "alloc_reject": d.vswap_alloc_reject}


def test_part1_inv06_fresh_entry_refs_one_and_memcgid() -> None:
    d = small()
    m = child(d)
    _, e = alloc(d, order=1, memcg_id=m.id)
    for i in range(2):
        assert d.table.refs[e + i] == 1
        assert d.swp_swapcount(E(e + i)) == 0
        assert d.lookup_swap_cgroup_id(E(e + i)) == m.id


def test_part1_inv07_linked_slot_bijection_and_contiguity(rng: random.Random) -> None:
    """Final behaviour (patch 12 replaced "a slot is always allocated" of 08-11): every
    SWAPFILE descriptor has a slot, ``rmap[slot] == id``, the map byte is ALLOCATED, and a
    folio's slots are contiguous."""
    d = mk(device_mib=4)
    f = Folio(3, random_page(rng, 8))
    e, ret = swap_out(d, f)
    assert ret == 0
    s0 = d.table.slot[e]
    for i in range(8):
        assert d.table.type[e + i] == SWAPFILE
        s = d.swp_entry_to_swp_slot(E(e + i))
        assert s == s0 + i
        assert d.swp_slot_to_swp_entry(s) == e + i
        si = d.devices.swap_type_to_swap_info(swp_slot_type(s))
        assert si.swap_map[swp_offset(s)] == SWAP_MAP_ALLOCATED
    d.check_invariants()


def test_part1_inv08_translation_round_trip(rng: random.Random) -> None:
    d = mk(device_mib=1)
    e, _ = swap_out(d, Folio(0, random_page(rng)))
    s = d.swp_entry_to_swp_slot(e)
    assert s and d.swp_slot_to_swp_entry(s) == e
    assert d.swp_entry_to_swp_slot(E(e + 1)) == 0
    assert d.swp_entry_to_swp_slot(E(0)) == 0
    assert d.swp_slot_to_swp_entry(s + 1) == 0
    d.swap_free_nr(e, 1)
    assert d.swp_entry_to_swp_slot(e) == 0 and d.swp_slot_to_swp_entry(s) == 0


def test_part1_inv09_swap_count_is_refs_shift_one() -> None:
    d = small()
    _f, e = alloc(d)
    map_ptes(d, e, 1, 3)
    assert d.table.refs[e] == 7
    assert d.swp_swapcount(e) == 3


@pytest.mark.parametrize("name", ["classic", "vswap"])
def test_part1_inv10_duplicate_and_free_move_count_by_one(name: str) -> None:
    d = design_with_device(name)
    f = _locked()
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
        assert d.rmap[swp_slot_type(slot)][swp_offset(slot)] == 0


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


def test_part1_inv16_free_invalidates_zswap_by_virtual_id(rng: random.Random) -> None:
    """The intended behaviour (D1 fixed): the dying id's zswap entry is gone."""
    d = mk(zswap=True)
    e, ret = swap_out(d, Folio(0, compressible(rng)))
    assert ret == 0 and d.zswap.lookup(e) is not None
    d.swap_free_nr(e, 1)
    assert d.zswap.lookup(e) is None
    assert d.zswap.statistics().stored_pages == 0


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
    f = _locked(2)
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
    f = _locked()
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


def test_part1_inv26_live_ids_are_swap_entries() -> None:
    d = small()
    ids = [alloc(d)[1] for _ in range(63)]
    assert not any(non_swap_entry(e) for e in ids)
    assert not non_swap_entry(E(MAX_VSWAP))


def test_part1_inv27_one_swap_cache_and_tree_index_is_id() -> None:
    d = mk()
    spaces = {d.swap_cache.swap_address_space(E(e)) for e in (1, 2, 1 << 14, 1 << 30)}
    assert len(spaces) == 1
    for e in (1, 77, 1 << 20):
        assert d.swap_cache.index_of(E(e)) == e
        assert d.zswap_tree_index(E(e)) == e
    assert len({d.zswap_tree_key(E(e)) for e in (1, 1 << 20, 1 << 31)}) == 1


def test_part1_inv28_classic_address_spaces_per_64mib() -> None:
    c = ClassicSwap()
    from vswap.kernel.types import swp_entry
    a, b = swp_entry(0, 5), swp_entry(0, 5 | (1 << 14))
    assert c.swap_cache.swap_address_space(a) != c.swap_cache.swap_address_space(b)
    assert c.swap_cache.swap_address_space(a) != c.swap_cache.swap_address_space(
        swp_entry(1, 5))
    assert c.swap_cache.index_of(b) == 5


def test_part1_inv31_map_holds_three_states_and_owners(rng: random.Random) -> None:
    d = mk(device_mib=1, bad_pages=None) if False else mk(device_mib=1)
    for i in range(30):
        e, _ = swap_out(d, Folio(0, random_page(rng)))
        if i % 3 == 0:
            d.swap_free_nr(e, 1)
    for si in d.devices.devices():
        assert set(si.swap_map) <= {0, 1, 2}
        for off, v in enumerate(si.swap_map):
            if v == SWAP_MAP_ALLOCATED:
                assert d.swp_slot_to_swp_entry(si.slot(off))
    d.check_invariants()


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


def test_part1_inv35_id_reusable_at_once_descriptor_after_grace_period() -> None:
    d = small()
    f, e = alloc(d)
    d.put_swap_folio(f, e)
    assert d.table.rcu_pending == 1
    _, again = alloc(d)
    assert again == e and d.table.refs[e] == 1
    assert d.synchronize_rcu() == 1 and d.table.rcu_pending == 0


def test_part1_inv36_reclaimable_only_if_owner_cache_only(rng: random.Random) -> None:
    d = mk(device_mib=1)
    f = Folio(0, random_page(rng))
    e = add(d, f)
    map_ptes(d, e, 1)
    f.dirty = False
    assert d.swap_writepage(f) == 0  # written, clean, still in the cache (refs 3)
    si = next(d.devices.devices())
    off = swp_offset(d.swp_entry_to_swp_slot(e))
    assert not d.swap_cache_only(si, off)
    assert d.try_to_reclaim_swap(si, off, 0) < 0
    d.swap_free_nr(e, 1)  # refs 1: cache only
    assert d.swap_cache_only(si, off)
    assert not d.swap_cache_only(si, off + 1)  # no owner: never reclaimable
    assert d.try_to_reclaim_swap(si, off, 0) == 1
    assert not d.table.is_live(e) and used_slots(d) == 0


# =========================================================================================
# Part 2 (patches 12-18), section 18
# =========================================================================================

def _mixed_workload(d: VirtualSwap, rng: random.Random) -> dict[str, SwpEntry]:
    """One entry of each backend: ZERO, ZSWAP, SWAPFILE, FOLIO (writeback disabled memcg)."""
    out = {}
    out["zero"], _ = swap_out(d, Folio(0, zero_page()))
    out["zswap"], _ = swap_out(d, Folio(0, compressible(rng)))
    d.zswap.set_param("enabled", False)
    out["disk"], _ = swap_out(d, Folio(0, random_page(rng)))
    m = d.memcgs.create("/nowb")
    m.zswap_writeback = False
    out["folio"], ret = swap_out(d, Folio(0, random_page(rng), memcg_id=m.id))
    assert ret == AOP_WRITEPAGE_ACTIVATE
    d.zswap.set_param("enabled", True)
    return out


def test_part2_inv01_each_descriptor_has_one_valid_payload(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    ents = _mixed_workload(d, rng)
    t = d.table
    assert t.type[ents["zero"]] == ZERO
    assert t.type[ents["zswap"]] == ZSWAP and d.zswap.lookup(ents["zswap"]).id == \
        t.zswap[ents["zswap"]]
    assert t.type[ents["disk"]] == SWAPFILE and t.slot[ents["disk"]]
    assert t.type[ents["folio"]] == FOLIO and \
        d.swap_cache_get_folio(ents["folio"]) is t.folio[ents["folio"]]
    d.check_invariants()


def test_part2_inv02_rmap_iff_swapfile_slot(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    ents = _mixed_workload(d, rng)
    owners = {(t, off): e for t, col in d.rmap.items() for off, e in enumerate(col) if e}
    assert list(owners.values()) == [ents["disk"]]
    assert d.swp_slot_to_swp_entry(d.swp_entry_to_swp_slot(ents["disk"])) == ents["disk"]


def test_part2_inv03_allocated_slots_have_exactly_one_descriptor(rng: random.Random) -> None:
    d = mk(device_mib=1)
    ents = [swap_out(d, Folio(0, random_page(rng)))[0] for _ in range(10)]
    slots = [d.swp_entry_to_swp_slot(e) for e in ents]
    assert len(set(slots)) == 10
    si = next(d.devices.devices())
    assert sum(1 for v in si.swap_map if v == SWAP_MAP_ALLOCATED) == 10
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


def test_part2_inv06_cluster_sum_is_live_plus_one() -> None:
    d = small()
    got = [alloc(d, order=o)[1] for o in (0, 2, 0, 1, 2, 0)]
    assert sum(d.table.cluster_count) == d.vswap_used + 1
    assert got[1] % 4 == 0 and got[4] % 4 == 0


def test_part2_inv07_entry_zero_never_allocated() -> None:
    d = small()
    seen = {alloc(d, order=o)[1] for o in (2, 1, 0) * 30}
    seen.discard(0)
    assert seen and 0 not in seen and all(d.table.is_live(e) for e in seen)


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


def test_part2_inv09_zswap_store_all_or_nothing(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    f = Folio(2, compressible(rng, 4))
    e = add(d, f)
    map_ptes(d, e, 4)
    f.dirty = False
    assert d.swap_writepage(f) == 0
    assert all(d.table.type[e + i] == ZSWAP for i in range(4)) and used_slots(d) == 0
    d.zswap.set_param("enabled", False)
    m = d.memcgs.create("/nowb")
    m.zswap_writeback = False
    g = Folio(2, compressible(rng, 4), memcg_id=m.id)
    e2 = add(d, g)
    map_ptes(d, e2, 4)
    assert d.swap_writepage(g) == AOP_WRITEPAGE_ACTIVATE
    assert all(d.table.type[e2 + i] == FOLIO for i in range(4))
    assert all(d.zswap.lookup(E(e2 + i)) is None for i in range(4))


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
    f = _locked(3)
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


def test_part2_inv14_writeback_success(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    m = child(d)
    data = compressible(rng)
    e, _ = swap_out(d, Folio(0, data, memcg_id=m.id))
    zbytes = m.zswap.usage
    assert zbytes > 0 and m.swap.usage == 0
    assert d.zswap.zswap_writeback_entry(e) == 0
    assert d.table.type[e] == SWAPFILE and d.zswap.lookup(e) is None
    assert m.swap.usage == 1 and m.zswap.usage == 0
    d.check_invariants()
    cached = d.swap_cache_get_folio(e)
    assert cached is not None and not cached.dirty
    reclaim(d, cached)
    assert bytes(swap_in(d, e).data) == data


def test_part2_inv15_writeback_alloc_failure_keeps_zswap(rng: random.Random) -> None:
    d = mk(zswap=True)
    m = child(d)
    e, _ = swap_out(d, Folio(0, compressible(rng), memcg_id=m.id))
    zentry = d.table.zswap[e]
    assert d.zswap.zswap_writeback_entry(e) == -Errno.ENOMEM  # no device at all
    assert d.table.type[e] == ZSWAP and d.table.zswap[e] == zentry
    assert m.swap.usage == 0 and d.swap_cache_get_folio(e) is None
    add_device(d, 1)
    m.swap.max = 0
    assert d.zswap.zswap_writeback_entry(e) == -Errno.ENOMEM  # swap.max
    assert d.table.type[e] == ZSWAP and used_slots(d) == 0
    d.check_invariants()


def test_part2_inv16_shrinker_count_zero_without_free_slots(rng: random.Random) -> None:
    d = mk(zswap=True)
    d.zswap.set_param("shrinker_enabled", True)
    m = child(d)
    for _ in range(3):  # incompressible pages are stored as-is: a page of pool each
        swap_out(d, Folio(0, random_page(rng), memcg_id=m.id))
    assert d.zswap.statistics().stored_pages == 3
    assert d.zswap.zswap_shrinker_count(m) == 0
    add_device(d, 1)
    assert d.zswap.zswap_shrinker_count(m) > 0


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


def test_part2_inv22_zswap_load_into_cache_becomes_folio(rng: random.Random) -> None:
    d = mk(zswap=True)
    data = compressible(rng)
    e, _ = swap_out(d, Folio(0, data))
    f = fault_in(d, e)
    assert d.table.type[e] == FOLIO and f.dirty and bytes(f.data) == data
    assert d.zswap.lookup(e) is None
    d.check_invariants()


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
    ents = _mixed_workload(d, rng)
    first = min(ents.values())
    assert sorted(ents.values()) == list(range(first, first + 4))
    map_ptes(d, first, 4)  # counts 2 each
    d.free_swap_and_cache_nr(first, 4)
    assert [d.swp_swapcount(E(first + i)) for i in range(4)] == [1, 1, 1, 1]
    d.check_invariants()


def _swapoff_setup(rng: random.Random, n: int = 12
                   ) -> tuple[VirtualSwap, list[tuple[SwpEntry, bytes]], object]:
    d = mk(zswap=True)
    d.zswap.set_param("enabled", False)
    add_device(d, 1)
    m = child(d)
    pages = []
    for i in range(n):
        data = random_page(rng) if i % 3 else zero_page()
        e, _ = swap_out(d, Folio(0, data, memcg_id=m.id), nr_ptes=2)
        pages.append((e, data))
    d.zswap.set_param("enabled", True)
    zs, _ = swap_out(d, Folio(0, compressible(rng), memcg_id=m.id))
    pages.append((zs, None))
    return d, pages, m


def test_part2_inv29_swapoff_repoints_everything(rng: random.Random) -> None:
    d, pages, _ = _swapoff_setup(rng)
    si = next(d.devices.devices())
    disk = [e for e, _ in pages if d.table.type[e] == SWAPFILE]
    res = d.swapoff(si.name)
    assert res.completed and res.pages_unused == len(disk) and si.inuse_pages == 0
    assert si.type not in d.rmap
    for e in disk:
        assert d.table.type[e] == FOLIO
        f = d.swap_cache_get_folio(e)
        assert f is not None and f.dirty
    d.check_invariants()


def test_part2_inv30_swapoff_touches_no_pte(rng: random.Random) -> None:
    d, pages, _ = _swapoff_setup(rng)

    def boom(type_: int) -> int:
        raise AssertionError("unuse_ptes called")

    d.hooks.unuse_ptes = boom
    counts = {e: d.swp_swapcount(e) for e, _ in pages}
    res = d.swapoff(next(d.devices.devices()).name)
    assert res.ptes_visited == 0
    assert {e: d.swp_swapcount(e) for e, _ in pages} == counts


def test_part2_inv31_swapoff_leaves_zero_and_zswap(rng: random.Random) -> None:
    d, pages, _ = _swapoff_setup(rng)
    kept = {e: d.table.type[e] for e, _ in pages if d.table.type[e] in (ZERO, ZSWAP)}
    zentries = dict(d.table.zswap)
    d.swapoff(next(d.devices.devices()).name)
    assert {e: d.table.type[e] for e in kept} == kept and dict(d.table.zswap) == zentries


def test_part2_inv32_swapoff_uncharges_exactly(rng: random.Random) -> None:
    d, pages, m = _swapoff_setup(rng)
    on_dev = sum(1 for e, _ in pages if d.table.type[e] == SWAPFILE)
    before = m.swap.usage
    assert before == on_dev
    d.swapoff(next(d.devices.devices()).name)
    assert m.swap.usage == before - on_dev == 0


def test_part2_inv33_swapoff_failure_is_consistent(rng: random.Random) -> None:
    d, pages, _m = _swapoff_setup(rng)
    si = next(d.devices.devices())
    budget = [3]

    def alloc_folio(entry: SwpEntry, order: int, memcg_id: int) -> Folio | None:
        budget[0] -= 1
        return Folio(order, memcg_id=memcg_id) if budget[0] >= 0 else None

    d.hooks = SwapHooks(alloc_swapin_folio=alloc_folio)
    res = d.swapoff(si.name)
    assert not res.completed and "ENOMEM" in res.error
    assert si in d.devices.avail or si.inuse_pages >= si.pages
    assert d.devices.swap_type_to_swap_info(si.type) is si
    d.check_invariants()
    d.hooks = SwapHooks()
    ticks = iter(range(100))
    res = d.swapoff(si.name, signal_pending=lambda: next(ticks) >= 2)
    assert not res.completed and "EINTR" in res.error
    d.check_invariants()
    res = d.swapoff(si.name)
    assert res.completed
    for e, data in pages:
        if data is not None:
            assert bytes(swap_in(d, e).data) == data


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
