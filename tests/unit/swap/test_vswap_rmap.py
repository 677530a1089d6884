"""The reverse map of the virtual designs (:mod:`vswap.swap.vswap_rmap`): the slot/owner
invariants of the spec (part 1 section 13, part 2 section 18) and the translations built on
it."""

from __future__ import annotations

import random

from vswaphelpers import (
    add,
    map_ptes,
    mixed_workload,
    mk,
    random_page,
    swap_out,
    used_slots,
)

from vswap.kernel.folio import Folio
from vswap.kernel.types import SwpEntry, swp_offset, swp_slot_type
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED
from vswap.swap.vswap_desc import SwapType

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
