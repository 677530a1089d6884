"""zswap's host under the virtual designs (:mod:`vswap.swap.vswap_zswap`): store, load and
writeback through the descriptors, the invariants of spec part 1 section 13 and part 2
section 18 about zswap."""

from __future__ import annotations

import random

import pytest
from vswaphelpers import (
    VIRTUAL_DESIGNS,
    add,
    add_device,
    child,
    compressible,
    fault_in,
    map_ptes,
    mk,
    mk_virtual,
    random_page,
    reclaim,
    swap_in,
    swap_out,
    used_slots,
    zero_page,
)

from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.types import SwpEntry
from vswap.swap import AOP_WRITEPAGE_ACTIVATE, create_design
from vswap.swap.vswap_desc import SwapType

E = SwpEntry
SWAPFILE, ZERO, ZSWAP, FOLIO = (SwapType.VSWAP_SWAPFILE, SwapType.VSWAP_ZERO,
                                SwapType.VSWAP_ZSWAP, SwapType.VSWAP_FOLIO)


def test_part1_inv16_free_invalidates_zswap_by_virtual_id(rng: random.Random) -> None:
    """The intended behaviour (D1 fixed): the dying id's zswap entry is gone."""
    d = mk(zswap=True)
    e, ret = swap_out(d, Folio(0, compressible(rng)))
    assert ret == 0 and d.zswap.lookup(e) is not None
    d.swap_free_nr(e, 1)
    assert d.zswap.lookup(e) is None
    assert d.zswap.statistics().stored_pages == 0


def test_part1_inv27_one_swap_cache_and_tree_index_is_id() -> None:
    d = mk()
    spaces = {d.swap_cache.swap_address_space(E(e)) for e in (1, 2, 1 << 14, 1 << 30)}
    assert len(spaces) == 1
    for e in (1, 77, 1 << 20):
        assert d.swap_cache.index_of(E(e)) == e
        assert d.zswap_tree_index(E(e)) == e
    assert len({d.zswap_tree_key(E(e)) for e in (1, 1 << 20, 1 << 31)}) == 1


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


def test_part2_inv22_zswap_load_into_cache_becomes_folio(rng: random.Random) -> None:
    d = mk(zswap=True)
    data = compressible(rng)
    e, _ = swap_out(d, Folio(0, data))
    f = fault_in(d, e)
    assert d.table.type[e] == FOLIO and f.dirty and bytes(f.data) == data
    assert d.zswap.lookup(e) is None
    d.check_invariants()


def test_zswap_without_any_swap_device_round_trips(rng: random.Random) -> None:
    d = mk(zswap=True)
    pages = [compressible(rng) if i % 2 else random_page(rng) for i in range(40)]
    ents = []
    for data in pages:
        e, ret = swap_out(d, Folio(0, data))
        assert ret == 0
        ents.append(e)
    assert all(d.table.type[e] == SwapType.VSWAP_ZSWAP for e in ents)
    assert not list(d.devices.devices())
    d.check_invariants()
    d.zswap.check_invariants()
    for e, data in zip(ents, pages):
        assert bytes(swap_in(d, e).data) == data
    assert d.vswap_used == 0 and d.zswap.statistics().stored_pages == 0
    # the classic design cannot even allocate an entry without a device
    c = create_design("classic")
    f = Folio(0, pages[0])
    f.folio_lock()
    assert not c.add_to_swap(f)


@pytest.mark.parametrize("name", VIRTUAL_DESIGNS)
def test_writeback_abort_returns_the_descriptor_to_zswap(name: str,
                                                         rng: random.Random) -> None:
    d = mk_virtual(name, device_mib=1, zswap=True)
    data = compressible(rng)
    e, ret = swap_out(d, Folio(0, data))
    assert ret == 0 and d.table.type[e] == ZSWAP
    zentry = d.table.zswap_of(e)
    folio = d.zswap_writeback_prepare(e)
    assert not isinstance(folio, Errno)
    assert d.table.type[e] == SWAPFILE and used_slots(d) == 1
    assert d.leftovers() == ["1 used slots on " + next(d.devices.devices()).name,
                             "1 live vswap descriptors", "1 pending zswap writebacks",
                             "1 swap-cache pages"]
    d.zswap_writeback_abort(folio, zentry)
    assert d.table.type[e] == ZSWAP and d.table.zswap_of(e) == zentry
    assert used_slots(d) == 0 and d.swap_cache_get_folio(e) is None
    assert not d.zswap_host.wb_pending
    d.check_invariants()
    assert bytes(swap_in(d, e).data) == data


@pytest.mark.parametrize("name", VIRTUAL_DESIGNS)
def test_writeback_prepare_refuses_what_left_zswap(name: str, rng: random.Random) -> None:
    d = mk_virtual(name, device_mib=1, zswap=True)
    z, _ = swap_out(d, Folio(0, zero_page()))
    assert d.zswap_writeback_prepare(z) == Errno.EEXIST  # ZERO: never touched
    assert d.zswap_writeback_prepare(SwpEntry(z + 1000)) == Errno.ENOMEM  # not live
    assert d.table.type[z] == ZERO and used_slots(d) == 0
    d.check_invariants()
