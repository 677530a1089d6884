"""The reverse map of the virtual designs (:mod:`vswap.swap.vswap_rmap`): the slot/owner
invariants of the spec (part 1 section 13, part 2 section 18) and the translations built on
it."""

from __future__ import annotations

import random

import pytest
from vswaphelpers import (
    VIRTUAL_DESIGNS,
    add,
    map_ptes,
    mixed_workload,
    mk,
    mk_virtual,
    random_page,
    reclaim,
    swap_out,
    used_slots,
)

from vswap.kernel.folio import Folio
from vswap.kernel.sizes import SWAP_TABLE_BYTES_PER_CLUSTER
from vswap.kernel.types import SWAPFILE_CLUSTER, SwpEntry, swp_offset, swp_slot_type
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED
from vswap.swap.vswap_desc import SwapType
from vswap.swap.vswap_rmap import SwapTableRmap

E = SwpEntry
SWAPFILE, ZERO, ZSWAP, FOLIO = (SwapType.VSWAP_SWAPFILE, SwapType.VSWAP_ZERO,
                                SwapType.VSWAP_ZSWAP, SwapType.VSWAP_FOLIO)


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


def test_part2_inv02_rmap_iff_swapfile_slot(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    ents = mixed_workload(d, rng)
    owners = {(t, off): e for t, col in d.rmap.cols.items() for off, e in enumerate(col) if e}
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


@pytest.mark.parametrize("name", VIRTUAL_DESIGNS)
def test_owner_follows_the_slot_through_free_and_swapoff(name: str, rng: random.Random) -> None:
    d = mk_virtual(name, device_mib=1)
    e, ret = swap_out(d, Folio(0, random_page(rng)))
    assert ret == 0
    s = d.swp_entry_to_swp_slot(e)
    assert d.rmap.owner(swp_slot_type(s), swp_offset(s)) == e
    assert d.rmap.owner(swp_slot_type(s), 0) == 0  # the header page never has an owner
    assert d.rmap.owner(swp_slot_type(s) + 1, swp_offset(s)) == 0  # no such device
    d.swap_free_nr(e, 1)
    assert d.rmap.owner(swp_slot_type(s), swp_offset(s)) == 0
    si = next(d.devices.devices())
    assert d.swapoff(si.name).completed and si.type not in d.rmap.cols
    d.check_invariants()


def test_swap_table_rmap_counts_marks_and_tables(rng: random.Random) -> None:
    d = mk_virtual("vswap-v6", device_mib=1)
    assert isinstance(d.rmap, SwapTableRmap)
    f = Folio(0, random_page(rng))
    e = add(d, f)
    map_ptes(d, e, 1)
    f.dirty = False
    assert d.swap_writepage(f) == 0  # written, clean, still in the cache: count 1
    s = d.swp_entry_to_swp_slot(e)
    type_, off = swp_slot_type(s), swp_offset(s)
    cluster = off // SWAPFILE_CLUSTER
    assert d.rmap.counts[type_][cluster] == 1
    assert d.rmap.metadata_bytes(d.devices) == {"swap_table_rmap": SWAP_TABLE_BYTES_PER_CLUSTER}
    assert not d.rmap.is_cache_only(type_, off)
    d.swap_free_nr(e, 1)  # count 0, still cached: the mark is set, the owner unchanged
    assert d.rmap.is_cache_only(type_, off) and d.rmap.owner(type_, off) == e
    assert d.swap_cache_only(next(d.devices.devices()), off)
    d.check_invariants()
    d.swap_duplicate(e)  # a reference again: the mark goes
    assert not d.rmap.is_cache_only(type_, off)
    d.swap_free_nr(e, 1)
    reclaim(d, f)
    assert d.rmap.counts[type_][cluster] == 0 and d.rmap.owner(type_, off) == 0
    assert d.rmap.metadata_bytes(d.devices) == {"swap_table_rmap": 0}
    d.check_invariants()


def test_rmap_check_catches_an_owner_without_descriptor(rng: random.Random) -> None:
    d = mk_virtual("vswap-v6", device_mib=1)
    e, _ = swap_out(d, Folio(0, random_page(rng)))
    s = d.swp_entry_to_swp_slot(e)
    d.rmap.set(swp_slot_type(s), swp_offset(s) + 1, e)
    with pytest.raises(AssertionError, match="rmap"):
        d.rmap.check_invariants(d.devices, d.table)
