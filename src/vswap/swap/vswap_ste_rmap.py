"""Physical slots under the Swap Table Edition: writeout allocation and the reverse map.

Models: the physical side of "[PATCH v5 00/11] Virtual Swap Space (Swap Table Edition)"
(Nhat Pham, 2026-09-18; linux-mm/linux-mm mm/vswap.h and mm/swap_table.h @0822e81d0463):
physical slots are allocated only at reclaim writeout or zswap writeback
(:func:`alloc_phys`; scattered order-0 slots for a large folio with no contiguous run when
``discontig_swapout`` is on), charged to ``memory.swap`` then, or as direct-mapped entries when the
vswap space is full (:func:`direct_alloc`, :func:`free_direct`); ``__vswap_release_backing()``
(:func:`release_backing`) drops a virtual slot's backend; the reverse map is a pointer word
``voff << 3 | 0b100`` in the physical cluster's swap table, its ``SWP_RMAP_CACHE_ONLY`` top
bit kept by ``swap_rmap_mark_cache_only()`` / ``swap_rmap_clear_cache_only()``
(:func:`rmap_sync`).

Invariants (:func:`check_physical`, part of :meth:`VswapSTE.check_invariants
<vswap.swap.vswap_ste.VswapSTE.check_invariants>`): every pointer word of a physical cluster
names a SWAPFILE virtual slot backed by exactly that slot, with the cache-only bit exactly
when that slot has no count and a folio cached; each cluster's users count its allocated
slots and its swap table exists exactly while it has some; a memcg table exists exactly for
clusters with a direct-mapped slot; each non-root memcg's ``memory.swap`` counts its backing
plus direct-mapped slots.
"""

from __future__ import annotations

from array import array
from collections import Counter
from typing import TYPE_CHECKING, Final

from vswap.kernel import sizes
from vswap.kernel.tracing import Cost
from vswap.kernel.types import (
    SWAPFILE_CLUSTER,
    SwpEntry,
    SwpSlot,
    swp_entry,
    swp_offset,
    swp_slot_offset,
    swp_slot_type,
    swp_type,
)
from vswap.swap.folio_slots import alloc_discontig
from vswap.swap.swap_table import (
    SWP_TB_COUNT_MASK,
    SWP_TB_PLACEHOLDER,
    SWP_TB_VAL_MASK,
    swp_tb_is_folio,
)
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED
from vswap.swap.vswap_ste_table import (
    VSWAP_NONE,
    VSWAP_SWAPFILE,
    VSWAP_ZSWAP,
    VTABLE_TAG_BITS,
    VTABLE_TAG_MASK,
    vtable_mk_phys,
    vtable_to_phys,
)

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.swap.swapfile import SwapInfo
    from vswap.swap.vswap_ste import VswapSTE

#: Pointer word of a physical slot backing a virtual one (``SWP_TB_PTR_MARK``), and the
#: ``SWP_RMAP_CACHE_ONLY`` bit.
SWP_TB_PTR_MARK: Final = 0b100
SWP_TB_PTR_MARK_MASK: Final = 0b111
SWP_RMAP_CACHE_ONLY: Final = 1 << 63
SWP_RMAP_ENTRY_MASK: Final = ~(SWP_RMAP_CACHE_ONLY | SWP_TB_PTR_MARK_MASK) & ((1 << 64) - 1)


def swp_tb_is_pointer(tb: int) -> bool:
    """Models: ``swp_tb_is_pointer()``."""
    return tb & SWP_TB_PTR_MARK_MASK == SWP_TB_PTR_MARK


def rmap_owner(tb: int) -> int:
    """The virtual offset a pointer word names (``swp_tb_ptr_to_swp_entry()``'s offset)."""
    return (tb & SWP_RMAP_ENTRY_MASK) >> 3


def phys_release(d: VswapSTE, si: SwapInfo, offset: int, nr: int) -> None:
    """Return physical slots (words cleared) and free an empty cluster's table."""
    d.devices.swap_range_free(si, offset, nr)
    users = d.table_users[si.type]
    c = offset // SWAPFILE_CLUSTER
    users[c] -= nr
    if not users[c]:
        d.tables.free_table(si.type, c)
        d.memcg_tables.pop((si.type, c), None)
        assert (si.type, c) not in d.extend_tables, "extend table outlived its slots"


def _uncharge(d: VswapSTE, memcg_id: int, nr: int) -> None:
    memcg = d.memcg_of(memcg_id)
    if memcg is not None:
        if memcg.parent is not None:
            memcg.uncharge_swap(nr)
        memcg.stat["swap"] -= nr


def release_backing(d: VswapSTE, off: int, nr: int, *, invalidate_zswap: bool = True) -> None:
    """Models: ``__vswap_release_backing()``: drop each slot's backend (the zswap entry,
    or the physical slot with its rmap word and ``memory.swap`` charge); NONE after."""
    space = d.space
    for k in range(nr):
        vt = space.vt_get(off + k)
        tag = vt & VTABLE_TAG_MASK
        if tag == VSWAP_ZSWAP:
            if invalidate_zswap and d.zswap is not None:
                d.zswap.zswap_invalidate(swp_entry(space.type, off + k))
        elif tag == VSWAP_SWAPFILE:
            type_, poff = vtable_to_phys(vt)
            si = d.devices.swap_type_to_swap_info(type_)
            assert si is not None, f"vswap {off + k}: backing on a device that is gone"
            table, i = d._word(si, poff)
            table[i] = 0
            _uncharge(d, d._vmemcg(off + k), 1)
            phys_release(d, si, poff, 1)
        if vt:
            space.vt_set(off + k, VSWAP_NONE)


def rmap_sync(d: VswapSTE, off: int) -> None:
    """Models: ``swap_rmap_mark_cache_only()`` / ``swap_rmap_clear_cache_only()``: the
    cache-only bit of a SWAPFILE virtual slot's pointer word follows "no count, folio
    cached"."""
    vt = d.space.vt_get(off)
    if vt & VTABLE_TAG_MASK != VSWAP_SWAPFILE:
        return
    type_, poff = vtable_to_phys(vt)
    tb = d.tables.swp_tb(swp_entry(d.space.type, off))
    cache_only = not tb & SWP_TB_COUNT_MASK and swp_tb_is_folio(tb & SWP_TB_VAL_MASK) \
        and tb & SWP_TB_VAL_MASK != SWP_TB_PLACEHOLDER
    table = d.tables.tables[(type_, poff // SWAPFILE_CLUSTER)]
    i = poff % SWAPFILE_CLUSTER
    table[i] = table[i] | SWP_RMAP_CACHE_ONLY if cache_only \
        else table[i] & ~SWP_RMAP_CACHE_ONLY


def alloc_phys(d: VswapSTE, folio: Folio, preset: int = 0) -> SwpSlot:
    """Models: the physical allocation of reclaim writeout and zswap writeback under STE:
    slots for the folio's virtual entries, charged to the recorded memcg, pointer words
    set, the virtual table repointed (the previous backend released). 0 when no slot or
    no ``memory.swap`` headroom. ``preset``: an order-0 folio's slot already taken (batched
    zswap writeback), given back if the charge fails."""
    off = swp_offset(folio.swap)
    nr = folio.nr_pages
    memcg = d.memcg_of(d._vmemcg(off))
    if memcg is not None and memcg.parent is not None and not memcg.try_charge_swap(nr):
        memcg.memcg_swap_event("max")
        if preset:
            psi = d.devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(preset)))
            assert psi is not None
            d.devices.swap_range_free(psi, swp_slot_offset(SwpSlot(preset)), 1)
        return SwpSlot(0)
    slot = SwpSlot(preset) if preset else d.devices.swap_slot_alloc(
        folio.order, SWAP_MAP_ALLOCATED, folio.memcg_id)
    scattered: list[int] = []
    if not slot and folio.order and d.discontig_swapout:
        scattered = alloc_discontig(d.devices, nr)
        slot = SwpSlot(scattered[0] if scattered else 0)
    if not slot:
        if memcg is not None:
            if memcg.parent is not None:
                memcg.uncharge_swap(nr)
            memcg.memcg_swap_event("fail")
        return SwpSlot(0)
    if memcg is not None:
        memcg.stat["swap"] += nr
    if scattered:
        d.discontig_swpout += 1
        _back_scattered(d, off, scattered)
        return slot
    si = d.devices.swap_type_to_swap_info(swp_slot_type(slot))
    assert si is not None
    poff = swp_slot_offset(slot)
    d._clusters_used(si, poff, nr)
    d._vlock(off)
    release_backing(d, off, nr)
    table, i0 = d._word(si, poff)
    for k in range(nr):
        table[i0 + k] = (off + k) << VTABLE_TAG_BITS | SWP_TB_PTR_MARK
        d.space.vt_set(off + k, vtable_mk_phys(si.type, poff + k))
        rmap_sync(d, off + k)
    return slot


def _back_scattered(d: VswapSTE, off: int, slots: list[int]) -> None:
    """Virtual slots ``off ..`` backed by the scattered physical ``slots`` (discontiguous
    swap-out, :mod:`vswap.swap.vswap_ste_folio`): each cluster counts its slot, then the old
    backends go and each virtual word names its own slot."""
    where = []
    for s in slots:
        si = d.devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(s)))
        assert si is not None
        poff = swp_slot_offset(SwpSlot(s))
        d._clusters_used(si, poff, 1)
        where.append((si, poff))
    d._vlock(off)
    release_backing(d, off, len(slots))
    for k, (si, poff) in enumerate(where):
        table, i = d._word(si, poff)
        table[i] = (off + k) << VTABLE_TAG_BITS | SWP_TB_PTR_MARK
        d.space.vt_set(off + k, vtable_mk_phys(si.type, poff))
        rmap_sync(d, off + k)


def direct_alloc(d: VswapSTE, folio: Folio) -> SwpEntry:
    """Models: the fallback to a physical device (phase IV's ``folio_alloc_swap``) when the
    vswap space is full: a direct-mapped entry, its cluster's memcg table made on first use,
    charged now."""
    slot = d.devices.swap_slot_alloc(folio.order, SWAP_MAP_ALLOCATED, folio.memcg_id)
    entry = SwpEntry(slot)
    if entry:
        si = d.devices.swap_type_to_swap_info(swp_type(entry))
        assert si is not None
        off = swp_offset(entry)
        d._clusters_used(si, off, folio.nr_pages)
        key = (si.type, off // SWAPFILE_CLUSTER)
        d.direct_users[key] = d.direct_users.get(key, 0) + folio.nr_pages
        if key not in d.memcg_tables:
            d.memcg_tables[key] = array("H", bytes(
                sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER))
        d._lock(si, off, Cost.SWAP_CACHE_INSERT)
        d.tables.claim(entry, folio.nr_pages)
    if not d.mem_cgroup_try_charge_swap(folio, entry):
        if entry:
            d.put_swap_folio(folio, entry)
        return SwpEntry(0)
    return entry


def free_direct(d: VswapSTE, si: SwapInfo, offset: int, nr: int) -> None:
    """Free direct-mapped slots: uncharged, words cleared, zswap's copies invalidated, the
    slots returned; the cluster's memcg table goes with its last direct-mapped slot."""
    key = (si.type, offset // SWAPFILE_CLUSTER)
    d.mem_cgroup_uncharge_swap(swp_entry(si.type, offset), nr)
    table, i0 = d._word(si, offset)
    for i in range(i0, i0 + nr):
        table[i] = 0
    if d.zswap is not None:
        for k in range(nr):
            d.zswap.zswap_invalidate(swp_entry(si.type, offset + k))
    phys_release(d, si, offset, nr)
    left = d.direct_users[key] - nr
    if left:
        d.direct_users[key] = left
    else:
        del d.direct_users[key]
        d.memcg_tables.pop(key, None)


def check_backing(d: VswapSTE, off: int, tb: int, vt: int,
                  owners: dict[tuple[int, int], int], charged: Counter[int]) -> None:
    """The invariants of a SWAPFILE virtual slot ``off`` (swap word ``tb``, virtual word
    ``vt``): its backing slot is allocated and its pointer word names ``off`` with the right
    cache-only bit; records the owner and the charge for :func:`check_physical`."""
    type_, poff = vtable_to_phys(vt)
    owners[(type_, poff)] = off
    charged[d._vmemcg(off)] += 1
    si = d.devices.swap_type_to_swap_info(type_)
    assert si is not None and d._allocated(si, poff), (
        f"vswap slot {off}: backing slot {type_}:{poff} not allocated")
    ptb = d.tables.swp_tb(swp_entry(type_, poff))
    assert swp_tb_is_pointer(ptb) and rmap_owner(ptb) == off, (
        f"vswap slot {off}: rmap of {type_}:{poff} does not name it")
    cache_only = not tb & SWP_TB_COUNT_MASK and tb & SWP_TB_VAL_MASK not in (
        SWP_TB_PLACEHOLDER,) and swp_tb_is_folio(tb & SWP_TB_VAL_MASK)
    assert bool(ptb & SWP_RMAP_CACHE_ONLY) == cache_only, (
        f"vswap slot {off}: cache-only bit wrong")


def check_physical(d: VswapSTE, owners: dict[tuple[int, int], int],
                   charged: Counter[int]) -> None:
    """Raise AssertionError unless the module-docstring invariants hold for every physical
    device, given the backing slots and charges :func:`check_backing` recorded."""
    tables = d.tables
    # The direct-mapped slots past the header, for the memcg sums below: one walk of every
    # device's slots instead of one more per memcg.
    direct_slots: list[SwpEntry] = []
    for si in d.devices.devices():
        users = d.table_users[si.type]
        for c in range(si.nr_clusters):
            lo, hi = c * SWAPFILE_CLUSTER, min((c + 1) * SWAPFILE_CLUSTER, si.max)
            used = d._allocated_offsets(si, lo, hi)
            assert users[c] == len(used), f"cluster {si.type}:{c} users"
            assert ((si.type, c) in tables.tables) == bool(used), (
                f"cluster {si.type}:{c}: table does not follow its slots")
            direct = 0
            for o in used:
                tb = tables.swp_tb(swp_entry(si.type, o))
                if swp_tb_is_pointer(tb):
                    assert owners.get((si.type, o)) == rmap_owner(tb), (
                        f"rmap of {si.type}:{o} names a slot it does not back")
                else:
                    direct += 1
                    if o:
                        direct_slots.append(swp_entry(si.type, o))
                    assert tb & SWP_TB_COUNT_MASK or swp_tb_is_folio(
                        tb & SWP_TB_VAL_MASK), f"slot {si.type}:{o} unreferenced"
            key = (si.type, c)
            assert d.direct_users.get(key, 0) == direct, f"cluster {key} direct users"
            assert (key in d.memcg_tables) == bool(direct), (
                f"cluster {key}: a memcg table without direct-mapped slots (or none with)")
    for memcg in d.memcgs:
        if memcg.parent is None:
            continue
        direct = sum(1 for e in direct_slots if d.lookup_swap_cgroup_id(e) == memcg.id)
        assert memcg.swap.usage == charged[memcg.id] + direct, (
            f"{memcg.path}: memory.swap {memcg.swap.usage} != "
            f"{charged[memcg.id]} backing + {direct} direct-mapped slots")
