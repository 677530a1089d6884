"""Virtual swap space, Swap Table Edition (``vswap-ste``): a virtual swap device on mainline.

Models: "[PATCH v5 00/11] Virtual Swap Space (Swap Table Edition)" (Nhat Pham, 2026-09-18,
lore ``20260918180241.3424851-1-nphamcs@gmail.com``; not merged), read from
linux-mm/linux-mm mm/vswap.h and mm/swap_table.h @0822e81d0463, with the RFC v1/v2 cover
letters (lore ``20260528212955.1912856-1-nphamcs@gmail.com``,
``20260612193738.2183968-1-nphamcs@gmail.com``). On top of swap table phase IV
(:class:`~vswap.swap.swap_table_p4.SwapTableP4`, which this class extends):

* **a virtual swap device** (:class:`~vswap.swap.vswap_ste_table.VswapSpace`, swap type
  :data:`VSWAP_TYPE`) whose clusters are allocated on demand; each has the phase IV swap table
  (counts, zero flag, cached folio or shadow) and memcg table, plus the ``virtual_table``: one
  8-byte word per virtual slot naming its backend (NONE / ZSWAP / SWAPFILE); the zero and
  cached-folio states are not stored there but read from the swap table;
* **swap-outs try vswap first**, falling back to a physical device (phase IV's direct-mapped
  entries) when the vswap space is full;
* **physical slots only at writeback or reclaim writeout** (``swap_writepage`` falling through
  zswap, zswap writeback), charged to ``memory.swap`` then: virtual slots are not charged;
* **the reverse map** in the physical cluster's swap table: a pointer word
  ``voff << 3 | 0b100`` per backing slot, with the ``SWP_RMAP_CACHE_ONLY`` top bit set while
  the virtual entry has no swap count and a folio cached, so the reclaim scan needs no lookup;
* **memcg tables of physical clusters only when needed** (STE RFC v2): a physical cluster that
  only backs virtual slots has none;
* **swapoff without a page-table walk** for virtual entries: each backing slot's data is read
  into the swap cache and the virtual entry repointed to the folio (NONE backend, folio
  dirty); only direct-mapped entries need ``try_to_unuse``'s walk.

zswap has no tree for virtual entries in the kernel (the ``virtual_table`` points at the
``zswap_entry``); the model's zswap keeps its index (keyed by the virtual cluster, which is
also the lock its operations take) and ``metadata_bytes`` does not count it, as the kernel
has none.

Invariants (:meth:`VswapSTE.check_invariants`): every allocated virtual slot has a count or a
cached (or claimed) folio, and a backend consistent with its words (ZSWAP: zswap holds the
entry; SWAPFILE: the physical slot is allocated and its rmap word names this slot, with the
cache-only bit exactly when the count is 0 and a folio is cached); every pointer word of a
physical cluster names such a slot; physical memcg tables exist only for clusters with a
direct-mapped slot; each non-root memcg's ``memory.swap`` counts its physical slots.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MAX, MemCgroup
from vswap.kernel.tracing import Cost
from vswap.kernel.types import (
    MAX_SWAPFILES,
    PAGE_SIZE,
    SWAPFILE_CLUSTER,
    SwpEntry,
    SwpSlot,
    swp_entry,
    swp_offset,
    swp_slot,
    swp_slot_offset,
    swp_slot_type,
    swp_type,
)
from vswap.swap._api import AOP_WRITEPAGE_ACTIVATE, SwapHooks, SwapoffResult
from vswap.swap.swap_table import (
    SWP_TB_COUNT_MASK,
    SWP_TB_PLACEHOLDER,
    SWP_TB_VAL_MASK,
    SWP_TB_ZERO_FLAG,
    swp_tb_is_folio,
)
from vswap.swap.swap_table_p4 import (
    SWAP_CLUSTER_INFO_BYTES_P4,
    SlotSpace,
    SwapTableP4,
)
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED, TTRS_ANYWAY, TTRS_FULL, TTRS_UNMAPPED, SwapInfo
from vswap.swap.vswap_ste_table import (
    VSWAP_FOLIO,
    VSWAP_NONE,
    VSWAP_SWAPFILE,
    VSWAP_ZERO,
    VSWAP_ZSWAP,
    VTABLE_TAG_BITS,
    VTABLE_TAG_MASK,
    VswapSpace,
    vtable_mk_phys,
    vtable_mk_zswap,
    vtable_to_phys,
)

if TYPE_CHECKING:
    from vswap.swap._api import SwapDesign
    from vswap.swap.swapfile import SlotOwner
    from vswap.zswap.zswap import ZswapHost

#: The vswap device's swap type: the last one, so physical devices take the others.
VSWAP_TYPE = MAX_SWAPFILES - 1
#: The vswap space's size cap in slots (the posted series: 8 TB).
VSWAP_MAX_PAGES = (8 << 40) // PAGE_SIZE
#: Pointer word of a physical slot backing a virtual one (``SWP_TB_PTR_MARK``), and the
#: ``SWP_RMAP_CACHE_ONLY`` bit.
SWP_TB_PTR_MARK = 0b100
SWP_TB_PTR_MARK_MASK = 0b111
SWP_RMAP_CACHE_ONLY = 1 << 63
SWP_RMAP_ENTRY_MASK = ~(SWP_RMAP_CACHE_ONLY | SWP_TB_PTR_MARK_MASK) & ((1 << 64) - 1)
#: ``struct swap_cluster_info_dynamic``: the cluster header plus the ``virtual_table`` pointer
#: (an assumed layout; the posted struct was not read).
VSWAP_CLUSTER_INFO_BYTES = SWAP_CLUSTER_INFO_BYTES_P4 + 8


def swp_tb_is_pointer(tb: int) -> bool:
    """Models: ``swp_tb_is_pointer()``."""
    return tb & SWP_TB_PTR_MARK_MASK == SWP_TB_PTR_MARK


class VswapSTE(SwapTableP4):
    """The Swap Table Edition: virtual entries on the vswap device, phase IV underneath.

    ``space`` is the vswap device (clusters, virtual tables); its swap tables are in
    :attr:`tables` under :data:`VSWAP_TYPE` and its memcg tables in ``memcg_tables``, beside
    the physical clusters'. Option ``max_vswap_pages`` caps the space (tests of the
    fallback to direct-mapped physical entries).
    """

    name = "vswap-ste"
    metadata_layout = "vswap-ste"
    entry_is_slot = False

    def __init__(self, *, nr_cpus: int = 1, env: KernelEnv | None = None,
                 hooks: SwapHooks | None = None, default_prio: str = "decreasing",
                 max_vswap_pages: int = VSWAP_MAX_PAGES) -> None:
        super().__init__(nr_cpus=nr_cpus, env=env, hooks=hooks, default_prio=default_prio)
        # The vswap device holds one swap type; physical devices take the others.
        self.devices.max_swapfiles = VSWAP_TYPE
        self.space = VswapSpace(type_=VSWAP_TYPE, max_pages=max_vswap_pages)
        #: Direct-mapped slots per physical cluster (their memcg table lives while > 0).
        self.direct_users: dict[tuple[int, int], int] = {}
        #: Writebacks prepared and not yet submitted: virtual offset -> (zswap entry, slot).
        self._wb_pending: dict[int, tuple[int, int]] = {}

    # -- which space ---------------------------------------------------------------------------
    @staticmethod
    def is_vswap_entry(entry: SwpEntry) -> bool:
        """Models: ``is_vswap_entry()``."""
        return swp_type(entry) == VSWAP_TYPE

    def _slot(self, entry: SwpEntry) -> tuple[SlotSpace, int] | None:
        if self.is_vswap_entry(entry):
            off = swp_offset(entry)
            return (self.space, off) if self._allocated(self.space, off) else None
        return super()._slot(entry)

    def _allocated(self, si: SlotSpace, offset: int) -> bool:
        if si is self.space:
            words = self.tables.tables.get((VSWAP_TYPE, offset // SWAPFILE_CLUSTER))
            return words is not None and bool(words[offset % SWAPFILE_CLUSTER])
        return super()._allocated(si, offset)

    def _space_get(self, entry: SwpEntry) -> tuple[SlotSpace, int]:
        if self.is_vswap_entry(entry):
            got = self._slot(entry)
            if got is None:
                raise KernelError(Errno.EINVAL, f"Unused swap offset entry {entry:#x}")
            return got
        return super()._space_get(entry)

    def entry_needs_device(self, entry: SwpEntry) -> bool:
        """A virtual entry without a device is simply not on disk."""
        return not self.is_vswap_entry(entry)

    def swp_entry_to_swp_slot(self, entry: SwpEntry) -> SwpSlot:
        """Models: ``vswap_to_phys()``: a SWAPFILE virtual entry's physical slot (0 for
        other backends); a direct-mapped entry is its slot."""
        if not self.is_vswap_entry(entry):
            return SwpSlot(entry)
        off = swp_offset(entry)
        vt = self.space.vt_get(off)
        if vt & VTABLE_TAG_MASK != VSWAP_SWAPFILE or not self._allocated(self.space, off):
            return SwpSlot(0)
        return swp_slot(*vtable_to_phys(vt))

    def swp_slot_to_swp_entry(self, slot: SwpSlot) -> SwpEntry:
        """Models: ``swp_tb_ptr_to_swp_entry()``: the reverse map of a pointer word; a
        direct-mapped slot is its entry; 0 when the slot is free."""
        type_, off = swp_slot_type(slot), swp_slot_offset(slot)
        tb = self.tables.swp_tb(swp_entry(type_, off))
        if swp_tb_is_pointer(tb):
            return swp_entry(VSWAP_TYPE, (tb & SWP_RMAP_ENTRY_MASK) >> 3)
        si = self.devices.swap_type_to_swap_info(type_)
        if si is None or not 0 < off < si.max or not self._allocated(si, off):
            return SwpEntry(0)
        return SwpEntry(slot)

    def get_swap_device(self, entry: SwpEntry) -> SwapInfo | None:
        """Models: ``get_swap_device()`` under STE: a virtual entry pins the device of its
        physical backing, if it has one."""
        return super().get_swap_device(SwpEntry(self.swp_entry_to_swp_slot(entry)))

    # -- virtual clusters and backends ----------------------------------------------------
    def _vlock(self, off: int, cost: Cost = Cost.SWAP_MAP_UPDATE) -> None:
        self.tracer.lock_step("swap_cluster", (VSWAP_TYPE, off // SWAPFILE_CLUSTER), cost)

    def _clusters_used(self, si: SwapInfo, offset: int, nr: int) -> None:
        """A physical cluster taking slots gets its swap table only (STE RFC v2 defers the
        memcg table to direct-mapped use)."""
        users = self.table_users[si.type]
        c = offset // SWAPFILE_CLUSTER
        if not users[c]:
            self.tables.alloc_table(si.type, c)
        users[c] += nr

    def _free_slots(self, si: SlotSpace, offset: int, nr: int) -> None:
        if si is self.space:
            self._vfree(offset, nr)
            return
        assert isinstance(si, SwapInfo)
        key = (si.type, offset // SWAPFILE_CLUSTER)
        self.mem_cgroup_uncharge_swap(swp_entry(si.type, offset), nr)
        table, i0 = self._word(si, offset)
        for i in range(i0, i0 + nr):
            table[i] = 0
        if self.zswap is not None:
            for k in range(nr):
                self.zswap.zswap_invalidate(swp_entry(si.type, offset + k))
        self._phys_release(si, offset, nr)
        left = self.direct_users[key] - nr
        if left:
            self.direct_users[key] = left
        else:
            del self.direct_users[key]
            self.memcg_tables.pop(key, None)

    def _phys_release(self, si: SwapInfo, offset: int, nr: int) -> None:
        """Return physical slots (words cleared) and free an empty cluster's table."""
        self.devices.swap_range_free(si, offset, nr)
        users = self.table_users[si.type]
        c = offset // SWAPFILE_CLUSTER
        users[c] -= nr
        if not users[c]:
            self.tables.free_table(si.type, c)
            self.memcg_tables.pop((si.type, c), None)
            assert (si.type, c) not in self.extend_tables, "extend table outlived its slots"

    def _release_backing(self, off: int, nr: int, *, invalidate_zswap: bool = True) -> None:
        """Models: ``__vswap_release_backing()``: drop each slot's backend (the zswap entry,
        or the physical slot with its rmap word and ``memory.swap`` charge); NONE after."""
        space = self.space
        for k in range(nr):
            vt = space.vt_get(off + k)
            tag = vt & VTABLE_TAG_MASK
            if tag == VSWAP_ZSWAP:
                if invalidate_zswap and self.zswap is not None:
                    self.zswap.zswap_invalidate(swp_entry(VSWAP_TYPE, off + k))
            elif tag == VSWAP_SWAPFILE:
                type_, poff = vtable_to_phys(vt)
                si = self.devices.swap_type_to_swap_info(type_)
                assert si is not None, f"vswap {off + k}: backing on a device that is gone"
                table, i = self._word(si, poff)
                table[i] = 0
                self._uncharge(self._vmemcg(off + k), 1)
                self._phys_release(si, poff, 1)
            if vt:
                space.vt_set(off + k, VSWAP_NONE)

    def _vfree(self, off: int, nr: int) -> None:
        """A virtual slot with no count and nothing cached is freed: backend released,
        words and memcg id cleared, slot returned; an empty cluster loses its tables."""
        self._release_backing(off, nr)
        c = off // SWAPFILE_CLUSTER
        words = self.tables.tables[(VSWAP_TYPE, c)]
        mt = self.memcg_tables[(VSWAP_TYPE, c)]
        for k in range(nr):
            i = (off + k) % SWAPFILE_CLUSTER
            words[i] = 0
            mt[i] = 0
        if self.space.release(off, nr):
            self.tables.free_table(VSWAP_TYPE, c)
            del self.memcg_tables[(VSWAP_TYPE, c)]
            assert (VSWAP_TYPE, c) not in self.extend_tables, "extend table outlived its slots"

    def _vmemcg(self, off: int) -> int:
        return self.memcg_tables[(VSWAP_TYPE, off // SWAPFILE_CLUSTER)][off % SWAPFILE_CLUSTER]

    def _uncharge(self, memcg_id: int, nr: int) -> None:
        memcg = self.memcg_of(memcg_id)
        if memcg is not None:
            if memcg.parent is not None:
                memcg.uncharge_swap(nr)
            memcg.stat["swap"] -= nr

    def _rmap_sync(self, off: int) -> None:
        """Models: ``swap_rmap_mark_cache_only()`` / ``swap_rmap_clear_cache_only()``: the
        cache-only bit of a SWAPFILE virtual slot's pointer word follows "no count, folio
        cached"."""
        vt = self.space.vt_get(off)
        if vt & VTABLE_TAG_MASK != VSWAP_SWAPFILE:
            return
        type_, poff = vtable_to_phys(vt)
        tb = self.tables.swp_tb(swp_entry(VSWAP_TYPE, off))
        cache_only = not tb & SWP_TB_COUNT_MASK and swp_tb_is_folio(tb & SWP_TB_VAL_MASK) \
            and tb & SWP_TB_VAL_MASK != SWP_TB_PLACEHOLDER
        table = self.tables.tables[(type_, poff // SWAPFILE_CLUSTER)]
        i = poff % SWAPFILE_CLUSTER
        table[i] = table[i] | SWP_RMAP_CACHE_ONLY if cache_only \
            else table[i] & ~SWP_RMAP_CACHE_ONLY

    def _set_count(self, si: SlotSpace, offset: int, count: int) -> None:
        super()._set_count(si, offset, count)
        if si is self.space:
            self._rmap_sync(offset)

    # -- allocation -----------------------------------------------------------------------------
    def folio_alloc_swap(self, folio: Folio) -> SwpEntry:
        """Models: ``folio_alloc_swap()`` under STE: virtual slots from the vswap device (a new
        cluster gets its swap, memcg and virtual tables), claimed by the swap cache, the memcg
        id recorded and nothing charged; with the vswap space full, a direct-mapped physical
        allocation as phase IV."""
        off, new_cluster = self.space.alloc(folio.order, self.tables.tables)
        if not off:
            return self._direct_alloc(folio)
        c = off // SWAPFILE_CLUSTER
        if new_cluster:
            self.tables.alloc_table(VSWAP_TYPE, c)
            self.memcg_tables[(VSWAP_TYPE, c)] = array("H", bytes(
                sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER))
        entry = swp_entry(VSWAP_TYPE, off)
        self._vlock(off, Cost.VSWAP_SLOT_ALLOC)
        self.tables.claim(entry, folio.nr_pages)
        mt = self.memcg_tables[(VSWAP_TYPE, c)]
        for k in range(folio.nr_pages):
            mt[(off + k) % SWAPFILE_CLUSTER] = folio.memcg_id
        return entry

    def _direct_alloc(self, folio: Folio) -> SwpEntry:
        """Models: the fallback to a physical device (phase IV's ``folio_alloc_swap``): a
        direct-mapped entry, its cluster's memcg table made on first use, charged now."""
        slot = self.devices.swap_slot_alloc(folio.order, SWAP_MAP_ALLOCATED)
        entry = SwpEntry(slot)
        if entry:
            si = self.devices.swap_type_to_swap_info(swp_type(entry))
            assert si is not None
            off = swp_offset(entry)
            self._clusters_used(si, off, folio.nr_pages)
            key = (si.type, off // SWAPFILE_CLUSTER)
            self.direct_users[key] = self.direct_users.get(key, 0) + folio.nr_pages
            if key not in self.memcg_tables:
                self.memcg_tables[key] = array("H", bytes(
                    sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER))
            self._lock(si, off, Cost.SWAP_CACHE_INSERT)
            self.tables.claim(entry, folio.nr_pages)
        if not self.mem_cgroup_try_charge_swap(folio, entry):
            if entry:
                self.put_swap_folio(folio, entry)
            return SwpEntry(0)
        return entry

    def lookup_swap_cgroup_id(self, entry: SwpEntry) -> int:
        """The memcg id in the entry's cluster's memcg table (virtual or physical)."""
        if self.is_vswap_entry(entry):
            mt = self.memcg_tables.get((VSWAP_TYPE, swp_offset(entry) // SWAPFILE_CLUSTER))
            return mt[swp_offset(entry) % SWAPFILE_CLUSTER] if mt is not None else 0
        return super().lookup_swap_cgroup_id(entry)

    def mem_cgroup_get_nr_swap_pages(self, memcg: MemCgroup | None) -> int:
        """Swap pages ``memcg`` may still use: unlimited while zswap may take them (virtual
        slots are not charged), else free physical swap clamped by ``swap.max``."""
        zswap = self.zswap
        if zswap is not None and zswap.zswap_is_enabled() and (
                memcg is None or memcg.obj_cgroup_may_zswap()):
            return MAX
        nr: int = self.devices.nr_swap_pages
        m = memcg
        while m is not None and m.parent is not None:
            nr = min(nr, m.swap.max - m.swap.usage)
            m = m.parent
        return nr

    def _alloc_phys(self, folio: Folio) -> SwpSlot:
        """Models: the physical allocation of reclaim writeout and zswap writeback under STE:
        slots for the folio's virtual entries, charged to the recorded memcg, pointer words
        set, the virtual table repointed (the previous backend released). 0 when no slot or
        no ``memory.swap`` headroom."""
        off = swp_offset(folio.swap)
        nr = folio.nr_pages
        memcg = self.memcg_of(self._vmemcg(off))
        if memcg is not None and memcg.parent is not None and not memcg.try_charge_swap(nr):
            memcg.memcg_swap_event("max")
            return SwpSlot(0)
        slot = self.devices.swap_slot_alloc(folio.order, SWAP_MAP_ALLOCATED)
        if not slot:
            if memcg is not None:
                if memcg.parent is not None:
                    memcg.uncharge_swap(nr)
                memcg.memcg_swap_event("fail")
            return SwpSlot(0)
        if memcg is not None:
            memcg.stat["swap"] += nr
        si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
        assert si is not None
        poff = swp_slot_offset(slot)
        self._clusters_used(si, poff, nr)
        self._vlock(off)
        self._release_backing(off, nr)
        table, i0 = self._word(si, poff)
        for k in range(nr):
            table[i0 + k] = (off + k) << VTABLE_TAG_BITS | SWP_TB_PTR_MARK
            self.space.vt_set(off + k, vtable_mk_phys(si.type, poff + k))
            self._rmap_sync(off + k)
        return slot

    def swap_writepage_fallback(self, folio: Folio) -> int:
        """Reclaim writeout: a virtual entry gets physical slots now (kept in memory with
        ``AOP_WRITEPAGE_ACTIVATE`` when there are none); a direct-mapped one is written to
        its slots."""
        if not self.is_vswap_entry(folio.swap):
            return super().swap_writepage_fallback(folio)
        off = swp_offset(folio.swap)
        n, ty = self.vswap_check_backing(folio.swap, folio.nr_pages)
        if n == folio.nr_pages and ty == VSWAP_SWAPFILE:
            slot = self.swp_entry_to_swp_slot(folio.swap)
        else:
            slot = self._alloc_phys(folio)
            if not slot:
                return AOP_WRITEPAGE_ACTIVATE
        si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
        assert si is not None and off
        folio.writeback = True
        self.device_write(si, swp_slot_offset(slot), folio)
        folio.writeback = False
        return 0

    def vswap_check_backing(self, entry: SwpEntry, nr: int) -> tuple[int, int]:
        """Models: ``__vswap_check_backing()``: the prefix of ``nr`` slots sharing the first
        one's effective backend (SWAPFILE: also contiguous on one device), and that type."""
        off = swp_offset(entry)
        first = VSWAP_NONE
        phys = (0, 0)
        for k in range(nr):
            vt = self.space.vt_get(off + k)
            tag = vt & VTABLE_TAG_MASK
            if tag == VSWAP_NONE:
                tb = self.tables.swp_tb(swp_entry(VSWAP_TYPE, off + k))
                if tb & SWP_TB_ZERO_FLAG:
                    tag = VSWAP_ZERO
                elif swp_tb_is_folio(tb & SWP_TB_VAL_MASK):
                    tag = VSWAP_FOLIO
            if not k:
                first = tag
                if tag == VSWAP_SWAPFILE:
                    phys = vtable_to_phys(vt)
            elif tag != first or (tag == VSWAP_SWAPFILE
                                  and vtable_to_phys(vt) != (phys[0], phys[1] + k)):
                return k, first
        return nr, first

    # -- zero pages ----------------------------------------------------------------------------
    def swap_zeromap_folio_set(self, folio: Folio) -> None:
        """Models: ``swap_zeromap_folio_set()`` under STE: a virtual zero page releases its
        backend (NONE plus the zero flag)."""
        if self.is_vswap_entry(folio.swap):
            off = swp_offset(folio.swap)
            self._vlock(off)
            self._release_backing(off, folio.nr_pages)
        super().swap_zeromap_folio_set(folio)

    # -- lifetime of virtual entries (the rest is phase IV's, over the slot space) -------------
    def free_swap_and_cache_nr(self, entry: SwpEntry, nr: int = 1) -> None:
        """Models: ``free_swap_and_cache_nr()``: a virtual entry has no device to pin; its
        counts drop under the vswap cluster lock and folios left cache-only are reclaimed."""
        if not self.is_vswap_entry(entry):
            super().free_swap_and_cache_nr(entry, nr)
            return
        off = swp_offset(entry)
        for k in range(nr):
            if not self._allocated(self.space, off + k):
                raise KernelError(Errno.EINVAL, f"free_swap_and_cache: unused vswap slot "
                                                f"{off + k}")
        if not self._put_counts(self.space, off, nr):
            return
        o = off
        while o < off + nr:
            step = 1
            if self._allocated(self.space, o) and not self._count(self.space, o) \
                    and self._cached(self.space, o):
                got = self._try_to_reclaim_entry(swp_entry(VSWAP_TYPE, o),
                                                 TTRS_UNMAPPED | TTRS_FULL)
                if got:
                    size = abs(got)
                    step = ((o + 1 + size - 1) // size) * size - o
            o += step

    def _try_to_reclaim_entry(self, entry: SwpEntry, flags: int) -> int:
        """``__try_to_reclaim_swap()`` on a virtual entry's folio."""
        folio = self.swap_cache_get_folio(entry)
        if folio is None:
            return 0
        nr = folio.nr_pages
        if not folio.folio_trylock():
            return -nr
        try:
            need = bool(flags & TTRS_ANYWAY
                        or (flags & TTRS_UNMAPPED and not self.hooks.folio_mapped(folio))
                        or (flags & TTRS_FULL and self.memcg_swap_full(folio)))
            if not need or not self.folio_swapcache_freeable(folio):
                return -nr
            if not self._only_has_cache(self.space, swp_offset(folio.swap), nr):
                return -nr
            self.delete_from_swap_cache(folio)
            folio.dirty = True
            return nr
        finally:
            folio.folio_unlock()

    def delete_from_swap_cache(self, folio: Folio, *, shadow: int | None = None) -> None:
        """As phase IV; a virtual entry's rmap cache-only bits follow."""
        entry = folio.swap
        nr = folio.nr_pages
        super().delete_from_swap_cache(folio, shadow=shadow)
        if self.is_vswap_entry(entry):
            off = swp_offset(entry)
            for k in range(nr):
                if self._allocated(self.space, off + k):
                    self._rmap_sync(off + k)

    def add_to_swap_cache(self, folio: Folio, entry: SwpEntry) -> tuple[int, int | None]:
        """As phase IV; a virtual entry's rmap cache-only bits follow."""
        res = super().add_to_swap_cache(folio, entry)
        if not res[0] and self.is_vswap_entry(entry):
            for k in range(folio.nr_pages):
                self._rmap_sync(swp_offset(entry) + k)
        return res

    # -- the physical devices' questions ----------------------------------------------------------
    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        """A pointer word answers from its cache-only bit (no vswap lookup)."""
        tb = self.tables.swp_tb(swp_entry(si.type, offset))
        if swp_tb_is_pointer(tb):
            return bool(tb & SWP_RMAP_CACHE_ONLY)
        return super().swap_cache_only(si, offset)

    def cache_only_slots_possible(self, si: SwapInfo) -> bool:
        """Only a folio in the swap cache can be reclaimed: with none, skip the scan."""
        return bool(self.swap_cache.nr_pages)

    def try_to_reclaim_swap(self, si: SwapInfo, offset: int, flags: int) -> int:
        """A pointer word: reclaim the owning virtual entry's folio (its physical slot goes
        with the entry); a direct-mapped slot: as phase IV."""
        tb = self.tables.swp_tb(swp_entry(si.type, offset))
        if swp_tb_is_pointer(tb):
            return self._try_to_reclaim_entry(
                swp_entry(VSWAP_TYPE, (tb & SWP_RMAP_ENTRY_MASK) >> 3), flags)
        return super().try_to_reclaim_swap(si, offset, flags)

    # -- I/O ---------------------------------------------------------------------------------------
    def swap_read_folio(self, folio: Folio) -> bool:
        """Models: ``swap_read_folio()`` under STE: by the virtual entry's effective backend
        (ZERO, ZSWAP, SWAPFILE); a mixed range, or NONE with no folio, is a read error."""
        entry = folio.swap
        if not self.is_vswap_entry(entry):
            return super().swap_read_folio(folio)
        nr = folio.nr_pages
        n, ty = self.vswap_check_backing(entry, nr)
        if n != nr:
            return False
        if ty == VSWAP_ZERO:
            folio.data[:] = bytes(PAGE_SIZE * nr)
            folio.uptodate = True
            self.count_event("swpin_zero", nr, folio.memcg_id)
            return True
        if ty == VSWAP_ZSWAP:
            if self.zswap is not None and self.zswap.zswap_load(folio):
                return bool(folio.uptodate)
            return False
        if ty == VSWAP_SWAPFILE:
            slot = self.swp_entry_to_swp_slot(entry)
            si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
            if si is None:
                return False
            if not self.device_read(si, swp_slot_offset(slot), folio):
                return False
            folio.uptodate = True
            return True
        return self.swap_cache_get_folio(entry) is folio and bool(folio.uptodate)

    # -- zswap host: the virtual table points at the zswap entry -----------------------------------
    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """A virtual entry's zswap entry is found through its cluster's virtual table, under
        that cluster's lock; a direct-mapped one in phase IV's per-64 MiB tree."""
        if self.is_vswap_entry(entry):
            return (VSWAP_TYPE, swp_offset(entry) // SWAPFILE_CLUSTER)
        return super().zswap_tree_key(entry)

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """Models: ``vswap_zswap_store()``: release the old backend, point at the entry."""
        if self.is_vswap_entry(entry):
            off = swp_offset(entry)
            self._vlock(off)
            self._release_backing(off, 1, invalidate_zswap=False)
            self.space.vt_set(off, vtable_mk_zswap(zentry))

    def zswap_store_undone(self, folio: Folio) -> None:
        """zswap failed after storing some pages: those virtual slots are NONE again (the
        folio, still cached, holds the data)."""
        if self.is_vswap_entry(folio.swap):
            off = swp_offset(folio.swap)
            for k in range(folio.nr_pages):
                if self.space.vt_get(off + k) & VTABLE_TAG_MASK == VSWAP_ZSWAP:
                    self.space.vt_set(off + k, VSWAP_NONE)

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """An exclusive ``zswap_load`` freed the zswap entry: the cached folio is the only
        copy (NONE backend)."""
        self.zswap_store_undone(folio)

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """zswap writeback of a virtual entry: a new swap-cache folio and physical slots now
        (ZSWAP -> SWAPFILE, charged); a direct-mapped entry as phase IV."""
        if not self.is_vswap_entry(entry):
            return super().zswap_writeback_prepare(entry)
        off = swp_offset(entry)
        if not self._allocated(self.space, off):
            return Errno.ENOMEM
        vt = self.space.vt_get(off)
        if self.swap_cache_get_folio(entry) is not None or vt & VTABLE_TAG_MASK != VSWAP_ZSWAP:
            return Errno.EEXIST
        folio, new = self.read_swap_cache_async(entry, skip_if_exists=True)
        if folio is None:
            return Errno.ENOMEM
        if not new:
            return Errno.EEXIST
        # Keep the zswap entry: zswap frees it itself once the data is written.
        self.space.vt_set(off, VSWAP_NONE)
        slot = self._alloc_phys(folio)
        if not slot:
            self.space.vt_set(off, vt)
            self.delete_from_swap_cache(folio)
            folio.folio_unlock()
            return Errno.ENOMEM
        self._wb_pending[off] = (vt >> VTABLE_TAG_BITS, int(slot))
        return folio

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """Undo a prepared writeback: the physical slot goes, the entry is ZSWAP again if
        zswap still holds it; the new folio leaves the cache."""
        if not self.is_vswap_entry(folio.swap):
            super().zswap_writeback_abort(folio, zentry)
            return
        off = swp_offset(folio.swap)
        pending = self._wb_pending.pop(off, None)
        if pending is not None and self._allocated(self.space, off) \
                and int(self.swp_entry_to_swp_slot(folio.swap)) == pending[1]:
            self._release_backing(off, 1)
            if zentry:
                self.space.vt_set(off, vtable_mk_zswap(zentry))
        self.delete_from_swap_cache(folio)
        folio.folio_unlock()

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """Write the decompressed folio to the slot prepare allocated; it stays clean in the
        swap cache."""
        if not self.is_vswap_entry(folio.swap):
            super().zswap_writeback_submit(folio)
            return
        self._wb_pending.pop(swp_offset(folio.swap), None)
        folio.uptodate = True
        folio.dirty = False
        slot = self.swp_entry_to_swp_slot(folio.swap)
        si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
        assert si is not None
        folio.writeback = True
        self.device_write(si, swp_slot_offset(slot), folio)
        folio.writeback = False
        folio.folio_unlock()

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """Writeback needs a physical slot to write to."""
        return self.devices.nr_swap_pages > 0

    # -- swapoff -----------------------------------------------------------------------------------
    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Models: ``sys_swapoff()`` under STE: every slot backing a virtual entry is read
        into the swap cache and the entry repointed to the folio (NONE, dirty), no page table
        visited; direct-mapped slots need ``try_to_unuse``'s walk, as phase IV. A failure
        (``ENOMEM``, ``EIO``, ``EBUSY``, ``EINTR``) leaves the device on with what was
        repointed repointed (``completed=False``)."""
        si = self._find_device(name_or_type)
        self.devices.begin_swapoff(si)
        result = SwapoffResult(type=si.type, name=si.name)
        before = si.inuse_pages
        reads_before = self.io_reads
        direct = False
        error = ""
        for poff in range(1, si.max):
            if not self._allocated(si, poff):
                continue
            tb = self.tables.swp_tb(swp_entry(si.type, poff))
            if not swp_tb_is_pointer(tb):
                direct = True
                continue
            if signal_pending is not None and signal_pending():
                error = "EINTR: interrupted by a signal"
                break
            entry = swp_entry(VSWAP_TYPE, (tb & SWP_RMAP_ENTRY_MASK) >> 3)
            folio, new = self.read_swap_cache_async(entry)
            if folio is None:
                error = f"ENOMEM: swapoff: unable to allocate swap cache folio for {entry:#x}"
                break
            if new:
                if not self.swap_read_folio(folio):
                    folio.uptodate = False
                    self.delete_from_swap_cache(folio)
                    folio.folio_unlock()
                    error = f"EIO: swapoff: cannot read slot {si.type}:{poff} of {entry:#x}"
                    break
            elif not folio.folio_trylock():
                error = f"EBUSY: swapoff: folio of {entry:#x} is locked"
                break
            off = swp_offset(folio.swap)
            self._vlock(off)
            for k in range(folio.nr_pages):
                vt = self.space.vt_get(off + k)
                if vt & VTABLE_TAG_MASK == VSWAP_SWAPFILE and vtable_to_phys(vt)[0] == si.type:
                    self._release_backing(off + k, 1)
            folio.dirty = True
            folio.folio_unlock()
        if direct and not error:
            result.ptes_visited = self.hooks.unuse_ptes(si.type)
            for offset in range(1, si.max):
                if super().swap_cache_only(si, offset):
                    folio = self.swap_cache_get_folio(swp_entry(si.type, offset))
                    if folio is not None and folio.folio_trylock():
                        self.folio_free_swap(folio)
                        folio.folio_unlock()
        result.pages_read = self.io_reads - reads_before
        result.pages_unused = before - si.inuse_pages
        if error or si.inuse_pages:
            self.devices.abort_swapoff(si)
            result.completed = False
            if not error and signal_pending is not None and signal_pending():
                error = "EINTR: interrupted by a signal"
            result.error = error or f"{si.inuse_pages} slots still in use"
            return result
        if self.zswap is not None:
            self.zswap.zswap_swapoff(si.type)
        self.devices.remove_device(si)
        users = self.table_users.pop(si.type)
        assert not any(users), "swapoff completed with used clusters"
        return result

    # -- checkers and reports ----------------------------------------------------------------------
    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]:
        """Every allocated virtual slot and direct-mapped physical slot: (entry, swap count,
        folio cached or claimed)."""
        for c in self.space.clusters():
            words = self.tables.tables[(VSWAP_TYPE, c)]
            for i in range(SWAPFILE_CLUSTER):
                if words[i]:
                    off = c * SWAPFILE_CLUSTER + i
                    yield (swp_entry(VSWAP_TYPE, off), self._count(self.space, off),
                           self._cached(self.space, off))
        for si in self.devices.devices():
            for off in range(1, si.max):
                if self._allocated(si, off) and not swp_tb_is_pointer(
                        self.tables.swp_tb(swp_entry(si.type, off))):
                    yield swp_entry(si.type, off), self._count(si, off), self._cached(si, off)

    def swapped_page_locations(self) -> tuple[int, int]:
        """Zero pages: words with the zero flag; device pages: physical slots backing a
        virtual entry, and direct-mapped slots neither zero nor in zswap."""
        zero = sum(1 for table in self.tables.tables.values() for tb in table
                   if tb & SWP_TB_ZERO_FLAG and not swp_tb_is_pointer(tb))
        device = 0
        for si in self.devices.devices():
            for off in range(1, si.max):
                if not self._allocated(si, off):
                    continue
                tb = self.tables.swp_tb(swp_entry(si.type, off))
                if swp_tb_is_pointer(tb) or (not tb & SWP_TB_ZERO_FLAG and (
                        self.zswap is None or self.zswap.lookup(swp_entry(si.type, off)) is None)):
                    device += 1
        return zero, device

    def swap_peek_entry(self, entry: SwpEntry) -> bytes | None:
        """The stored page of a virtual entry by its backend; a direct-mapped one as phase
        IV."""
        if not self.is_vswap_entry(entry):
            return super().swap_peek_entry(entry)
        off = swp_offset(entry)
        if not self._allocated(self.space, off):
            return None
        _n, ty = self.vswap_check_backing(entry, 1)
        if ty == VSWAP_ZERO:
            return bytes(PAGE_SIZE)
        if ty == VSWAP_ZSWAP and self.zswap is not None:
            info = self.zswap.lookup(entry)
            return self.zswap._decompress(info.id) if info is not None else None
        if ty == VSWAP_SWAPFILE:
            slot = self.swp_entry_to_swp_slot(entry)
            si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
            return bytes(si.storage.read_page(swp_slot_offset(slot))) if si else None
        return None

    @property
    def vswap_used(self) -> int:
        """Live virtual slots (``vswap/used``)."""
        return self.space.used

    def entry_leftovers(self) -> list[str]:
        """Live virtual slots, writebacks in flight and tables outliving their slots."""
        out = [f"{self.space.used} live vswap slots"] if self.space.used else []
        if self._wb_pending:
            out.append(f"{len(self._wb_pending)} pending zswap writebacks")
        return out + super().entry_leftovers()

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel spends on STE metadata (names of the ``vswap-ste`` layout): per
        live virtual cluster its virtual table, swap table, memcg table and header; per
        physical device its 48-byte cluster headers and the swap tables (reverse map) of
        used clusters, memcg tables only of clusters with direct-mapped slots; extend
        tables; zswap's entries (no zswap tree: the virtual table points at the entry)."""
        vclusters = len(self.space.users)
        ptables = sum(1 for ty, _c in self.tables.tables if ty != VSWAP_TYPE)
        pmemcg = sum(1 for ty, _c in self.memcg_tables if ty != VSWAP_TYPE)
        out = {
            "vswap_virtual_table": vclusters * sizes.SWAP_TABLE_BYTES_PER_CLUSTER,
            "vswap_swap_table": vclusters * sizes.SWAP_TABLE_BYTES_PER_CLUSTER,
            "vswap_memcg_table": vclusters * sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER,
            "vswap_cluster_info": vclusters * VSWAP_CLUSTER_INFO_BYTES,
            "swap_cluster_info": sum(si.nr_clusters for si in self.devices.devices())
            * SWAP_CLUSTER_INFO_BYTES_P4,
            "swap_table": ptables * sizes.SWAP_TABLE_BYTES_PER_CLUSTER,
            "memcg_table": pmemcg * sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER,
            "extend_table": len(self.extend_tables) * 4 * SWAPFILE_CLUSTER,
        }
        if self.zswap is not None:
            z = self.zswap.metadata_bytes()
            out["zswap_entry"] = z["zswap_entry"]
            out["zswap_zs_handle"] = z["zs_handle"]
            out["zswap_zspage"] = z["zspage"]
        return out

    def check_invariants(self) -> None:
        """Raise AssertionError unless the module-docstring invariants hold."""
        for dev in self.devices.devices():
            dev.check_invariants()
        tables = self.tables
        tables.check_invariants()
        self.space.check_invariants(tables.tables)
        owners: dict[tuple[int, int], int] = {}
        charged: Counter[int] = Counter()
        zswap = self.zswap
        for c in self.space.clusters():
            assert (VSWAP_TYPE, c) in self.memcg_tables, f"vswap cluster {c} lacks memcg table"
            words = tables.tables[(VSWAP_TYPE, c)]
            for i in range(SWAPFILE_CLUSTER):
                if not words[i]:
                    continue
                off = c * SWAPFILE_CLUSTER + i
                tb = words[i]
                assert tb & SWP_TB_COUNT_MASK or swp_tb_is_folio(tb & SWP_TB_VAL_MASK), (
                    f"vswap slot {off} with no count and nothing cached")
                vt = self.space.vt_get(off)
                tag = vt & VTABLE_TAG_MASK
                if tag == VSWAP_ZSWAP:
                    assert zswap is not None, f"vswap slot {off}: ZSWAP without zswap"
                    info = zswap.lookup(swp_entry(VSWAP_TYPE, off))
                    assert info is not None and info.id == vt >> VTABLE_TAG_BITS, (
                        f"vswap slot {off}: zswap does not hold its entry")
                elif tag == VSWAP_SWAPFILE:
                    type_, poff = vtable_to_phys(vt)
                    owners[(type_, poff)] = off
                    charged[self._vmemcg(off)] += 1
                    si = self.devices.swap_type_to_swap_info(type_)
                    assert si is not None and self._allocated(si, poff), (
                        f"vswap slot {off}: backing slot {type_}:{poff} not allocated")
                    ptb = tables.swp_tb(swp_entry(type_, poff))
                    assert swp_tb_is_pointer(ptb) and (ptb & SWP_RMAP_ENTRY_MASK) >> 3 == off, (
                        f"vswap slot {off}: rmap of {type_}:{poff} does not name it")
                    cache_only = not tb & SWP_TB_COUNT_MASK and tb & SWP_TB_VAL_MASK not in (
                        SWP_TB_PLACEHOLDER,) and swp_tb_is_folio(tb & SWP_TB_VAL_MASK)
                    assert bool(ptb & SWP_RMAP_CACHE_ONLY) == cache_only, (
                        f"vswap slot {off}: cache-only bit wrong")
                else:
                    assert tag == VSWAP_NONE, f"vswap slot {off}: bad tag {tag}"
        for si in self.devices.devices():
            users = self.table_users[si.type]
            for c in range(si.nr_clusters):
                lo, hi = c * SWAPFILE_CLUSTER, min((c + 1) * SWAPFILE_CLUSTER, si.max)
                used = [o for o in range(lo, hi) if self._allocated(si, o)]
                assert users[c] == len(used), f"cluster {si.type}:{c} users"
                assert ((si.type, c) in tables.tables) == bool(used), (
                    f"cluster {si.type}:{c}: table does not follow its slots")
                direct = 0
                for o in used:
                    tb = tables.swp_tb(swp_entry(si.type, o))
                    if swp_tb_is_pointer(tb):
                        assert owners.get((si.type, o)) == (tb & SWP_RMAP_ENTRY_MASK) >> 3, (
                            f"rmap of {si.type}:{o} names a slot it does not back")
                    else:
                        direct += 1
                        assert tb & SWP_TB_COUNT_MASK or swp_tb_is_folio(
                            tb & SWP_TB_VAL_MASK), f"slot {si.type}:{o} unreferenced"
                key = (si.type, c)
                assert self.direct_users.get(key, 0) == direct, f"cluster {key} direct users"
                assert (key in self.memcg_tables) == bool(direct), (
                    f"cluster {key}: a memcg table without direct-mapped slots (or none with)")
        for memcg in self.memcgs:
            if memcg.parent is None:
                continue
            direct = sum(1 for si in self.devices.devices() for o in range(1, si.max)
                         if self._allocated(si, o)
                         and not swp_tb_is_pointer(tables.swp_tb(swp_entry(si.type, o)))
                         and self.lookup_swap_cgroup_id(swp_entry(si.type, o)) == memcg.id)
            assert memcg.swap.usage == charged[memcg.id] + direct, (
                f"{memcg.path}: memory.swap {memcg.swap.usage} != "
                f"{charged[memcg.id]} backing + {direct} direct-mapped slots")


if TYPE_CHECKING:
    def _implements(d: VswapSTE) -> tuple[SwapDesign, ZswapHost, SlotOwner]:
        """Static check (mypy): the class satisfies the swap API, zswap's host protocol and
        the devices' owner protocol."""
        return d, d, d
