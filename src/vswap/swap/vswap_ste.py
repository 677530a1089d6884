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

Physical-slot handling (writeout allocation, backend release, the reverse map) is in
:mod:`vswap.swap.vswap_ste_rmap`, the large-folio use cases (discontiguous slots,
mixed-backing swap-in, compaction; model only, docs/future.md) in
:mod:`vswap.swap.vswap_ste_folio`, zswap's host for virtual entries in
:mod:`vswap.swap.vswap_ste_zswap`, swapoff in :mod:`vswap.swap.vswap_ste_swapoff`.

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
from typing import TYPE_CHECKING, Final

import numpy as np

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
from vswap.swap import vswap_ste_swapoff
from vswap.swap._api import AOP_WRITEPAGE_ACTIVATE, SwapHooks, SwapoffResult
from vswap.swap.folio_slots import scatter_write, slot_runs
from vswap.swap.swap_table import (
    SWP_TB_COUNT_MASK,
    SWP_TB_VAL_MASK,
    SWP_TB_ZERO_FLAG,
    swp_tb_is_folio,
    table_words,
)
from vswap.swap.swap_table_p4 import (
    SWAP_CLUSTER_INFO_BYTES_P4,
    SlotSpace,
    SwapTableP4,
)
from vswap.swap.swapfile import (
    SWAP_MAP_ALLOCATED,
    TTRS_ANYWAY,
    TTRS_FULL,
    TTRS_UNMAPPED,
    SwapInfo,
)
from vswap.swap.vswap_ste_folio import folio_phys_slots, mixed_read_folio
from vswap.swap.vswap_ste_rmap import (
    SWP_RMAP_CACHE_ONLY,
    SWP_TB_PTR_MARK,
    SWP_TB_PTR_MARK_MASK,
    alloc_phys,
    check_backing,
    check_physical,
    direct_alloc,
    free_direct,
    release_backing,
    rmap_owner,
    rmap_sync,
    swp_tb_is_pointer,
)
from vswap.swap.vswap_ste_table import (
    VSWAP_FOLIO,
    VSWAP_NONE,
    VSWAP_SWAPFILE,
    VSWAP_ZERO,
    VSWAP_ZSWAP,
    VTABLE_TAG_BITS,
    VTABLE_TAG_MASK,
    VswapSpace,
    vtable_to_phys,
)
from vswap.swap.vswap_ste_zswap import SteZswapHost

if TYPE_CHECKING:
    from vswap.swap._api import SwapDesign
    from vswap.swap.swapfile import SlotOwner
    from vswap.zswap.host import WbPage
    from vswap.zswap.zswap import ZswapHost

#: The vswap device's swap type: the last one, so physical devices take the others.
VSWAP_TYPE: Final = MAX_SWAPFILES - 1
#: The vswap space's size cap in slots (the posted series: 8 TB).
VSWAP_MAX_PAGES: Final = (8 << 40) // PAGE_SIZE
#: ``struct swap_cluster_info_dynamic``: the cluster header plus the ``virtual_table`` pointer
#: (an assumed layout; the posted struct was not read).
VSWAP_CLUSTER_INFO_BYTES: Final = SWAP_CLUSTER_INFO_BYTES_P4 + 8


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
    #: ``/sys/kernel/mm/swap/discontig_swapout`` (model only, :mod:`vswap.swap.vswap_ste_folio`)
    #: and the large folios written to scattered slots since.
    discontig_swapout = False
    discontig_swpout = 0
    #: ``/sys/kernel/mm/swap/mixed_swapin`` (model only): a large folio is read from mixed
    #: backends run by run; the folios so read and their pages per backend.
    mixed_swapin = False
    mixed_swpin = 0

    def __init__(self, *, nr_cpus: int = 1, env: KernelEnv | None = None,
                 hooks: SwapHooks | None = None, default_prio: str = "decreasing",
                 max_vswap_pages: int = VSWAP_MAX_PAGES) -> None:
        super().__init__(nr_cpus=nr_cpus, env=env, hooks=hooks, default_prio=default_prio)
        # The vswap device holds one swap type; physical devices take the others.
        self.devices.max_swapfiles = VSWAP_TYPE
        self.space = VswapSpace(type_=VSWAP_TYPE, max_pages=max_vswap_pages)
        #: Direct-mapped slots per physical cluster (their memcg table lives while > 0).
        self.direct_users: dict[tuple[int, int], int] = {}
        #: zswap's host for virtual entries (and the writebacks in flight).
        self.zswap_host = SteZswapHost(self)
        self.mixed_runs: Counter[str] = Counter()

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
            return swp_entry(VSWAP_TYPE, rmap_owner(tb))
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

    def hibernation_slot_taken(self, si: SwapInfo, offset: int) -> None:
        """A hibernation slot is a direct-mapped physical slot with a count of one (the
        vswap device is not a block device: ``swap_type_of`` never names it): its cluster's
        tables, memcg table included, as :func:`direct_alloc` gives them; charged to no
        cgroup (memcg id 0). Freed by :func:`free_direct` when the count goes."""
        super().hibernation_slot_taken(si, offset)
        key = (si.type, offset // SWAPFILE_CLUSTER)
        self.direct_users[key] = self.direct_users.get(key, 0) + 1
        if key not in self.memcg_tables:
            self.memcg_tables[key] = array("H", bytes(
                sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER))

    def _free_slots(self, si: SlotSpace, offset: int, nr: int) -> None:
        if si is self.space:
            self._vfree(offset, nr)
            return
        assert isinstance(si, SwapInfo)
        free_direct(self, si, offset, nr)

    def _vfree(self, off: int, nr: int) -> None:
        """A virtual slot with no count and nothing cached is freed: backend released,
        words and memcg id cleared, slot returned; an empty cluster loses its tables."""
        release_backing(self, off, nr)
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

    def _set_count(self, si: SlotSpace, offset: int, count: int) -> None:
        super()._set_count(si, offset, count)
        if si is self.space:
            rmap_sync(self, offset)

    # -- allocation -----------------------------------------------------------------------------
    def folio_alloc_swap(self, folio: Folio) -> SwpEntry:
        """Models: ``folio_alloc_swap()`` under STE: virtual slots from the vswap device (a new
        cluster gets its swap, memcg and virtual tables), claimed by the swap cache, the memcg
        id recorded and nothing charged; with the vswap space full, a direct-mapped physical
        allocation as phase IV."""
        off, new_cluster = self.space.alloc(folio.order, self.tables.tables)
        if not off:
            return direct_alloc(self, folio)
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

    def swap_writepage_fallback(self, folio: Folio) -> int:
        """Reclaim writeout: a virtual entry gets physical slots now (kept in memory with
        ``AOP_WRITEPAGE_ACTIVATE`` when there are none); a direct-mapped one is written to
        its slots."""
        if not self.is_vswap_entry(folio.swap):
            return super().swap_writepage_fallback(folio)
        off = swp_offset(folio.swap)
        n, ty = self.vswap_check_backing(folio.swap, folio.nr_pages)
        slots = folio_phys_slots(self, folio) if folio.order and self.discontig_swapout \
            else []
        if n == folio.nr_pages and ty == VSWAP_SWAPFILE:
            slot = self.swp_entry_to_swp_slot(folio.swap)
        elif slots and all(slots):
            slot = SwpSlot(slots[0])
        else:
            slot = alloc_phys(self, folio)
            if not slot:
                return AOP_WRITEPAGE_ACTIVATE
        si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
        assert si is not None and off
        folio.writeback = True
        if slots:
            slots = folio_phys_slots(self, folio)
        if slots and len(slot_runs(slots)) > 1:
            scatter_write(self, folio, slots)
        else:
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
            release_backing(self, off, folio.nr_pages)
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
                    rmap_sync(self, off + k)

    def add_to_swap_cache(self, folio: Folio, entry: SwpEntry) -> tuple[int, int | None]:
        """As phase IV; a virtual entry's rmap cache-only bits follow."""
        res = super().add_to_swap_cache(folio, entry)
        if not res[0] and self.is_vswap_entry(entry):
            for k in range(folio.nr_pages):
                rmap_sync(self, swp_offset(entry) + k)
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
                swp_entry(VSWAP_TYPE, rmap_owner(tb)), flags)
        return super().try_to_reclaim_swap(si, offset, flags)

    # -- I/O ---------------------------------------------------------------------------------------
    def swap_read_folio(self, folio: Folio) -> bool:
        """Models: ``swap_read_folio()`` under STE: by the virtual entry's effective backend
        (ZERO, ZSWAP, SWAPFILE); a mixed range, or NONE with no folio, is a read error."""
        entry = folio.swap
        if not self.is_vswap_entry(entry):
            return super().swap_read_folio(folio)
        if folio.order and self.mixed_swapin:
            return mixed_read_folio(self, folio)
        nr = folio.nr_pages
        n, ty = self.vswap_check_backing(entry, nr)
        if n != nr:
            return False
        if ty == VSWAP_ZERO:
            folio.data[:] = bytes(len(folio.data))
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
        """Models: ``vswap_zswap_store()`` for a virtual entry (:attr:`zswap_host`)."""
        if self.is_vswap_entry(entry):
            self.zswap_host.zswap_entry_stored(entry, zentry)

    def zswap_store_undone(self, folio: Folio) -> None:
        """A failed store's virtual slots are NONE again (:attr:`zswap_host`)."""
        if self.is_vswap_entry(folio.swap):
            self.zswap_host.zswap_store_undone(folio)

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """An exclusive ``zswap_load`` freed the zswap entry: the cached folio is the only
        copy (NONE backend)."""
        self.zswap_store_undone(folio)

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """A virtual entry by :attr:`zswap_host`; a direct-mapped one as phase IV."""
        if not self.is_vswap_entry(entry):
            return super().zswap_writeback_prepare(entry)
        return self.zswap_host.zswap_writeback_prepare(entry)

    def zswap_writeback_prepare_batch(self, entry: SwpEntry) -> Folio | Errno:
        """Batched writeback (model only): a virtual entry pinned without a slot by
        :attr:`zswap_host`; a direct-mapped one prepared as phase IV (its slot reserved)."""
        if not self.is_vswap_entry(entry):
            return super().zswap_writeback_prepare(entry)
        return self.zswap_host.zswap_writeback_prepare_batch(entry)

    def zswap_writeback_batch(self, pages: list[WbPage]) -> tuple[list[int], list[int]]:
        """See :meth:`~vswap.swap.vswap_ste_zswap.SteZswapHost.zswap_writeback_batch`."""
        return self.zswap_host.zswap_writeback_batch(pages)

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """A virtual entry by :attr:`zswap_host`; a direct-mapped one as phase IV."""
        if not self.is_vswap_entry(folio.swap):
            super().zswap_writeback_abort(folio, zentry)
            return
        self.zswap_host.zswap_writeback_abort(folio, zentry)

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """A virtual entry by :attr:`zswap_host`; a direct-mapped one as phase IV."""
        if not self.is_vswap_entry(folio.swap):
            super().zswap_writeback_submit(folio)
            return
        self.zswap_host.zswap_writeback_submit(folio)

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """Writeback needs a physical slot to write to."""
        return self.devices.nr_swap_pages > 0

    # -- swapoff -----------------------------------------------------------------------------------
    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Models: ``sys_swapoff()`` under STE: :func:`vswap.swap.vswap_ste_swapoff.swapoff`
        (virtual entries repointed to swap-cache folios, no page-table walk for them)."""
        return vswap_ste_swapoff.swapoff(self, name_or_type, signal_pending)

    # -- checkers and reports ----------------------------------------------------------------------
    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]:
        """Every allocated virtual slot and direct-mapped physical slot (hibernation's
        excepted): (entry, swap count, folio cached or claimed)."""
        for c in self.space.clusters():
            words = self.tables.tables[(VSWAP_TYPE, c)]
            for i in range(SWAPFILE_CLUSTER):
                if words[i]:
                    off = c * SWAPFILE_CLUSTER + i
                    yield (swp_entry(VSWAP_TYPE, off), self._count(self.space, off),
                           self._cached(self.space, off))
        for si in self.devices.devices():
            for off in self._allocated_offsets(si, 1, si.max):
                if off in si.hibernation_slots:
                    continue
                if not swp_tb_is_pointer(self.tables.swp_tb(swp_entry(si.type, off))):
                    yield swp_entry(si.type, off), self._count(si, off), self._cached(si, off)

    def swapped_page_locations(self) -> tuple[int, int]:
        """Zero pages: words with the zero flag; device pages: physical slots backing a
        virtual entry, and direct-mapped slots neither zero nor in zswap."""
        flag, mark_mask, mark = (np.uint64(SWP_TB_ZERO_FLAG), np.uint64(SWP_TB_PTR_MARK_MASK),
                                 np.uint64(SWP_TB_PTR_MARK))
        zero = sum(int(np.count_nonzero((words & flag != 0) & (words & mark_mask != mark)))
                   for words in table_words(self.tables.tables.values()))
        # Per physical cluster with allocated slots, numpy over its words (was a Python
        # test per slot of every device: seconds a sample at the RFC's full size): every
        # pointer word backs a virtual entry; the others (direct-mapped, rare) are device
        # pages unless zero or in zswap, looked up one by one.
        device = 0
        for si in self.devices.devices():
            smap = np.frombuffer(si.swap_map, dtype=np.uint8)[:si.max]
            allocated = smap == SWAP_MAP_ALLOCATED
            allocated[0] = False
            for c in np.flatnonzero(np.add.reduceat(allocated, np.arange(
                    0, si.max, SWAPFILE_CLUSTER))).tolist():
                lo = c * SWAPFILE_CLUSTER
                here = allocated[lo:lo + SWAPFILE_CLUSTER]
                table = self.tables.tables.get((si.type, c))
                words = np.frombuffer(table, dtype=np.uint64)[:len(here)] if table is not None \
                    else np.zeros(len(here), dtype=np.uint64)
                pointer = words & mark_mask == mark
                device += int(np.count_nonzero(here & pointer))
                for i in np.flatnonzero(here & ~pointer & (words & flag == 0)).tolist():
                    if self.zswap is None or self.zswap.lookup(
                            swp_entry(si.type, lo + i)) is None:
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
        if self.zswap_host.wb_pending:
            out.append(f"{len(self.zswap_host.wb_pending)} pending zswap writebacks")
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
                    check_backing(self, off, tb, vt, owners, charged)
                else:
                    assert tag == VSWAP_NONE, f"vswap slot {off}: bad tag {tag}"
        check_physical(self, owners, charged)

if TYPE_CHECKING:
    def _implements(d: VswapSTE) -> tuple[SwapDesign, ZswapHost, SlotOwner]:
        """Static check (mypy): the class satisfies the swap API, zswap's host protocol and
        the devices' owner protocol."""
        return d, d, d
