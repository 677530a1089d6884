"""Virtual swap space v6: 24-byte descriptors in dynamically allocated virtual clusters.

Models: "[PATCH v6 00/22] Virtual Swap Space" (Nhat Pham, 2026-05-05, lore
``20260505153854.1612033-1-nphamcs@gmail.com``, base v6.19): mm/vswap.c's lifetime
(``swap_count`` plus the ``in_swapcache`` bit; the slot is freed when both are gone),
``folio_alloc_swap``, ``swap_duplicate``, ``swapcache_prepare`` / ``swapcache_clear``,
``vswap_free_nr_any_cache_only``, ``release_backing``, ``vswap_store_folio``,
``swap_zeromap_folio_set``, ``vswap_alloc_swap_slot``, ``vswap_rmap_set`` with v6's
cache-only mark (``swap_rmap_mark_cache_only``), patch 21's batched ``vswap_free_nr``, patch
22's per-CPU lookup cache, the reclaim of cache-only slots and ``vswap_swapoff``. What v6
shares with RFC v2 is :class:`~vswap.swap.vswap_base.VirtualSwapBase` (devices, "memcg: swap:
only charge physical swap slots", page I/O, "swap: simplify swapoff using virtual swap", the
zswap host); the allocator and the descriptor columns are
:mod:`vswap.swap.vswap_v6_table`, the reverse map in the physical swap tables is
:class:`~vswap.swap.vswap_rmap.SwapTableRmap`; descriptor states are
:class:`~vswap.swap.vswap_desc.SwapType` (the same ``enum swap_type``).

Design notes (docs/vswap-v6.md has the long version):

* Every descriptor operation resolves its cluster (an ``xa_load``, or a hit in the CPU's
  lookup cache) and runs under that cluster's spinlock: lock class ``vswap_cluster``, one
  instance per virtual cluster. The swap cache and the zswap index are the descriptor's
  fields, updated under the same lock; there is no global lock but the cluster map's
  ``xa_lock``, taken to create a cluster or scan the partial lists.
* ``batch_free``, ``iter_cache`` and ``rmap_cache_only`` switch off the v4 and v6
  optimisations, which gives the v3 and v5 behaviour the later reviews measured.
* Physical slots keep the shared allocator with three states per slot (free, allocated,
  bad): v3 replaced ``swap_map`` by two bitmaps, which is what :meth:`metadata_bytes`
  reports.
* Bad input raises :class:`~vswap.kernel.errors.KernelError` before any state changes
  (ENOENT for an id that is not allocated, EINVAL for dropping a reference that is not held,
  ERANGE for a count overflow).
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Final

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.tracing import Cost
from vswap.kernel.types import SWAPFILE_CLUSTER, SwpEntry, SwpSlot, swp_slot_offset, swp_slot_type
from vswap.swap._api import SwapHooks
from vswap.swap.folio_slots import charge_and_claim
from vswap.swap.swapfile import (
    SWAP_MAP_ALLOCATED,
    TTRS_ANYWAY,
    TTRS_FULL,
    TTRS_UNMAPPED,
    VSWAP_MAP_BAD,
    SwapDevices,
    SwapInfo,
)
from vswap.swap.vswap_base import VirtualSwapBase
from vswap.swap.vswap_desc import SwapType
from vswap.swap.vswap_rmap import SwapTableRmap
from vswap.swap.vswap_v6_table import (
    VSWAP_CLUSTER_SHIFT,
    DescSwapCache,
    VswapClusterStats,
    VswapClusterTable,
)

if TYPE_CHECKING:
    from vswap.swap._api import SwapDesign
    from vswap.swap.swapfile import SlotOwner
    from vswap.zswap.zswap import ZswapHost

SWAPFILE: Final = SwapType.VSWAP_SWAPFILE
ZERO: Final = SwapType.VSWAP_ZERO
ZSWAP: Final = SwapType.VSWAP_ZSWAP
FOLIO: Final = SwapType.VSWAP_FOLIO

#: ``swap_count`` is an ``unsigned int``.
SWAP_COUNT_MAX: Final = (1 << 32) - 1


@dataclasses.dataclass(frozen=True, slots=True)
class VswapV6Stats:
    """A frozen snapshot: the allocator's counters and the design's ``VM_WARN_ON`` hits."""

    allocator: VswapClusterStats
    free_batches: int
    freed_slots: int
    warnings: dict[str, int]


class VirtualSwapV6(VirtualSwapBase[VswapClusterTable, SwapTableRmap]):
    """Virtual swap space v6 behind the swap API (registry name ``vswap-v6``).

    Args:
        nr_cpus, env, hooks, default_prio: as for every design.
        cluster_shift: ``VSWAP_CLUSTER_SHIFT`` (9; tests use small clusters).
        batch_free: patch 21 (v4+): consecutive frees in a cluster and memcg are one
            ``vswap_free_nr`` under one lock section; off, every slot is freed alone and the
            cluster lock is dropped and retaken around it (v3).
        iter_cache: patch 22 (v6): the per-CPU lookup cache of the last cluster.
        rmap_cache_only: v6's cache-only mark in the reverse map.
    """

    name = "vswap-v6"
    metadata_layout = "vswap-v6"
    zswap_stores_incompressible = True  # based on v6.19

    def __init__(self, *, nr_cpus: int = 1, env: KernelEnv | None = None,
                 hooks: SwapHooks | None = None, default_prio: str = "decreasing",
                 cluster_shift: int = VSWAP_CLUSTER_SHIFT, batch_free: bool = True,
                 iter_cache: bool = True, rmap_cache_only: bool = True) -> None:
        env = env if env is not None else KernelEnv()
        table = VswapClusterTable(nr_cpus=nr_cpus, cluster_shift=cluster_shift,
                                  iter_cache=iter_cache)
        super().__init__(env=env,
                         devices=SwapDevices(env=env, nr_cpus=nr_cpus,
                                             default_prio=default_prio, map_bad=VSWAP_MAP_BAD),
                         swap_cache=DescSwapCache(table, env=env),
                         hooks=hooks, table=table, rmap=SwapTableRmap(),
                         zswap_tree_key=self._zswap_tree)
        self.batch_free = batch_free
        self.rmap_cache_only = rmap_cache_only
        self.free_batches = 0
        self.freed_slots = 0

    def _zswap_tree(self, entry: SwpEntry) -> Hashable:
        """The lock zswap's index operations take: the descriptor's cluster (v6 has no tree;
        the zswap entry is found in the descriptor under the cluster lock)."""
        return ("vswap_cluster", int(entry) >> self.table.cluster_shift)

    # =====================================================================================
    # helpers
    # =====================================================================================
    def _cluster_op(self, e: int, cost: Cost) -> None:
        """One descriptor operation on ``e``'s cluster: resolve it (``vswap_iter``: the
        lookup cache or an ``xa_load``), then a critical section under its lock."""
        if self.table.lookup(e, self.env.current_cpu):
            self.tracer.desc_lookup()
        self.tracer.lock_step("vswap_cluster", ("vswap_cluster", e >> self.table.cluster_shift),
                              cost)

    def _iter_break(self, e: int) -> None:
        """Models: ``vswap_iter_break()``: an emptied cluster leaves the lookup cache."""
        self.table.vswap_iter_break(e, self.env.current_cpu)

    def _range_live(self, entry: SwpEntry, nr: int, what: str) -> range:
        """The ids of ``entry .. +nr``, all allocated, or KernelError(ENOENT/EINVAL)."""
        if nr < 1:
            raise KernelError(Errno.EINVAL, f"{what}: nr {nr}")
        ids = range(int(entry), int(entry) + nr)
        t = self.table
        for e in ids:
            if not t.is_live(e):
                raise KernelError(Errno.ENOENT, f"{what}: virtual swap slot {e:#x} is not "
                                                "allocated")
        return ids

    def _clusters(self, ids: range) -> Iterator[range]:
        """``ids`` cut at cluster boundaries (each piece is one lock section)."""
        shift = self.table.cluster_shift
        e = ids.start
        while e < ids.stop:
            end = min(ids.stop, ((e >> shift) + 1) << shift)
            yield range(e, end)
            e = end

    def _rmap_mark(self, e: int, cache_only: bool) -> None:
        """``swap_rmap_mark_cache_only`` / ``swap_rmap_clear_cache_only`` on the physical
        slot of SWAPFILE descriptor ``e`` (only with v6's mark)."""
        if not self.rmap_cache_only:
            return
        t = self.table
        if t.type[e] != SWAPFILE or not t.backing[e]:
            return
        s = SwpSlot(t.backing[e])
        self.rmap.mark(swp_slot_type(s), swp_slot_offset(s), e, cache_only)

    def _swap_range_free(self, si: SwapInfo, off: int, n: int) -> None:
        """``swap_slot_free_nr()`` of one run: the reverse map cleared and the slots freed
        under the physical cluster's lock."""
        for k in range(n):
            self.rmap.set(si.type, off + k, 0)
        self.tracer.lock_step("swap_cluster", (si.type, off // SWAPFILE_CLUSTER),
                              Cost.SWAP_MAP_UPDATE)
        self.devices.swap_range_free(si, off, n)

    # =====================================================================================
    # memcg: the owner is recorded at allocation, only physical slots are charged
    # =====================================================================================
    def mem_cgroup_record_swap(self, folio: Folio, entry: SwpEntry) -> None:
        """Models: ``mem_cgroup_record_swap()``: the descriptors' ``memcgid``; no charge."""
        memcg = self.memcg_of(folio.memcg_id)
        if memcg is None:
            return
        t = self.table
        for e in range(int(entry), int(entry) + folio.nr_pages):
            t.memcgid[e] = memcg.id

    # =====================================================================================
    # backing
    # =====================================================================================
    def release_backing(self, entry: SwpEntry, nr: int) -> None:
        """Drop whatever backs ``nr`` descriptors; they end unbacked (SWAPFILE, 0).

        Models: ``release_backing()`` (v6): ZSWAP -> the zswap entry is freed
        (``zswap_entry_free`` of the descriptor's pointer); SWAPFILE(s) -> the reverse map
        entry cleared, the slot freed with its contiguous neighbours, the owner uncharged;
        ZERO and FOLIO hold nothing. Mixed backings are handled per descriptor.
        Context: folio locked in the swap cache, or the references are gone.
        """
        t = self.table
        freed: list[tuple[int, int]] = []
        for e in range(int(entry), int(entry) + nr):
            ty = t.type[e]
            if ty == ZSWAP:
                t.backing[e] = 0
                if self.zswap is not None:
                    self.zswap.zswap_invalidate(SwpEntry(e))
            elif ty == SWAPFILE and t.backing[e]:
                freed.append((t.backing[e], t.memcgid[e]))
                t.backing[e] = 0
            t.type[e] = SWAPFILE
        if freed:
            self._swap_slot_free(freed)

    def vswap_store_folio(self, entry: SwpEntry, folio: Folio) -> None:
        """Models: ``vswap_store_folio()``: release the backing, every descriptor FOLIO
        (its backend is the swap-cache folio). Context: folio locked, ``folio.swap``."""
        nr = folio.nr_pages
        self._cluster_op(int(entry), Cost.SWAP_MAP_UPDATE)
        self.release_backing(entry, nr)
        t = self.table
        t.type[int(entry):int(entry) + nr] = bytes([FOLIO]) * nr
        self._iter_break(int(entry))

    def vswap_assoc_zswap(self, entry: SwpEntry, zentry: int) -> None:
        """Models: ``zswap_entry_store()`` into the descriptor (v6 "move zswap entry
        management to the virtual swap descriptor"): one descriptor ZSWAP(zentry). A
        descriptor already ZSWAP only changes its pointer (the old entry is zswap's)."""
        e = int(entry)
        t = self.table
        if not t.is_live(e):
            raise KernelError(Errno.ENOENT, f"zswap store: {e:#x} is not allocated")
        if t.type[e] != ZSWAP:
            self.release_backing(entry, 1)
        t.type[e] = ZSWAP
        t.backing[e] = zentry

    def swap_zeromap_folio_set(self, folio: Folio) -> None:
        """Models: ``swap_zeromap_folio_set()`` (v6): every descriptor ZERO, ``swpout_zero``
        counted. Context: folio locked."""
        entry = folio.swap
        nr = folio.nr_pages
        self._cluster_op(int(entry), Cost.SWAP_MAP_UPDATE)
        self.release_backing(entry, nr)
        self.table.type[int(entry):int(entry) + nr] = bytes([ZERO]) * nr
        self._iter_break(int(entry))
        self.count_event("swpout_zero", nr, folio.memcg_id)

    def vswap_alloc_swap_slot(self, folio: Folio, preset: int = 0) -> SwpSlot:
        """Give a folio's virtual slots physical slots; return the first, or 0.

        Models: ``vswap_alloc_swap_slot()`` (v6): nothing to do when the range is already on
        contiguous physical slots (``vswap_swapfile_backed``); else contiguous slots of the
        folio's order, ``memory.swap`` charged to the recorded owner (on failure the slots
        are freed and nothing else changes), the reverse map set, every descriptor (FOLIO
        at writeout, ZSWAP at writeback: zswap frees its entry) -> SWAPFILE(s + i). With
        ``discontig_swapout`` a large folio with no contiguous run takes scattered order-0
        slots (:mod:`vswap.swap.folio_slots`). ``preset``: the slot batched zswap writeback
        already took for this order-0 folio (charged and claimed here, freed on failure).
        """
        e0 = int(folio.swap)
        t = self.table
        nr = folio.nr_pages
        n, ty = self.vswap_check_backing(folio.swap, nr)
        if n == nr and ty == SWAPFILE and t.backing[e0]:
            return SwpSlot(t.backing[e0])
        if self.discontig_swapout and t.type[e0] == SWAPFILE and t.backing[e0]:
            return SwpSlot(t.backing[e0])  # already on scattered slots
        slot = SwpSlot(preset) if preset else self.devices.swap_slot_alloc(
            folio.order, SWAP_MAP_ALLOCATED, folio.memcg_id)
        if not slot:
            if not (folio.order and self.discontig_swapout):
                return SwpSlot(0)
            slots = charge_and_claim(self, folio)
            if not slots:
                return SwpSlot(0)
            s0 = SwpSlot(slots[0])
        else:
            type_, off = swp_slot_type(slot), swp_slot_offset(slot)
            if not self._mem_cgroup_try_charge_swap(t.memcgid[e0], nr):
                si = self.devices.swap_type_to_swap_info(type_)
                assert si is not None
                self.devices.swap_range_free(si, off, nr)
                return SwpSlot(0)
            s0 = slot
            slots = list(range(slot, slot + nr))
        self.tracer.lock_step("swap_cluster", (swp_slot_type(s0),
                                               swp_slot_offset(s0) // SWAPFILE_CLUSTER),
                              Cost.VSWAP_RMAP_INSERT)
        self._cluster_op(e0, Cost.SWAP_MAP_UPDATE)
        for i in range(nr):
            e = e0 + i
            if t.type[e] not in (FOLIO, ZSWAP):
                self._warn("vswap_alloc_swap_slot: descriptor neither FOLIO nor ZSWAP")
            s = SwpSlot(slots[i])
            self.rmap.set(swp_slot_type(s), swp_slot_offset(s), e)
            t.type[e] = SWAPFILE
            t.backing[e] = s
            self._rmap_mark(e, t.swap_count[e] == 0 and bool(t.in_cache[e]))
        self._iter_break(e0)
        return s0

    # =====================================================================================
    # lifetime (mm/vswap.c part II)
    # =====================================================================================
    def folio_alloc_swap(self, folio: Folio) -> SwpEntry:
        """Give a folio virtual slots: never fails for lack of disk or ``memory.swap``.

        Models: ``folio_alloc_swap()`` (v6): ``vswap_alloc`` (the CPU's cached cluster, a
        partial cluster or a new one under the cluster map's lock), then
        ``mem_cgroup_record_swap`` (ownership only). The descriptors start FOLIO with the
        cache bit set and swap count 0; ``add_to_swap`` then puts the folio in the cache.

        Returns:
            The first entry, or 0 when the cluster map is full (``vswap_alloc_reject``).
        """
        t = self.table
        e, path = t.vswap_alloc(folio.order, self.env.current_cpu)
        if path in ("partial", "new"):
            self.tracer.lock_step("vswap_cluster_map", "vswap_cluster_map",
                                  Cost.VSWAP_SLOT_ALLOC)
        if not e:
            return SwpEntry(0)
        self.tracer.lock_step("vswap_cluster", ("vswap_cluster", e >> t.cluster_shift),
                              Cost.VSWAP_SLOT_ALLOC)
        entry = SwpEntry(e)
        self.mem_cgroup_record_swap(folio, entry)
        return entry

    def swap_duplicate_nr(self, entry: SwpEntry, nr: int) -> None:
        """Add one page-table reference to each of ``nr`` entries, all or nothing.

        Models: ``swap_duplicate_nr()`` (v6): an entry with neither count nor cache bit is
        gone (-ENOENT). A count that leaves 0 clears the cache-only mark.

        Raises:
            KernelError(ENOENT): an id is not allocated or already dying (nothing changed).
            KernelError(ERANGE): a count would overflow ``unsigned int``.
        """
        ids = self._range_live(entry, nr, "swap_duplicate")
        t = self.table
        for e in ids:
            if not t.swap_count[e] and not t.in_cache[e]:
                raise KernelError(Errno.ENOENT, f"swap_duplicate: {e:#x} has no reference")
            if t.swap_count[e] >= SWAP_COUNT_MAX:
                raise KernelError(Errno.ERANGE, f"swap_duplicate: count of {e:#x} overflows")
        for part in self._clusters(ids):
            self._cluster_op(part.start, Cost.SWAP_MAP_UPDATE)
            for e in part:
                if not t.swap_count[e]:
                    self._rmap_mark(e, False)
                t.swap_count[e] += 1
            self._iter_break(part.start)

    def swapcache_prepare(self, entry: SwpEntry, nr: int = 1) -> int:
        """Set the cache bit of ``nr`` entries, all or none.

        Models: ``swapcache_prepare()`` (v6): per descriptor, not allocated or neither
        count nor cache bit -> ``-ENOENT``; cache bit set -> ``-EEXIST``; else set.
        """
        t = self.table
        ids = range(int(entry), int(entry) + nr)
        for e in ids:
            if not t.is_live(e) or (not t.swap_count[e] and not t.in_cache[e]):
                return -Errno.ENOENT
            if t.in_cache[e]:
                return -Errno.EEXIST
        for part in self._clusters(ids):
            self._cluster_op(part.start, Cost.SWAP_MAP_UPDATE)
            t.in_cache[part.start:part.stop] = b"\x01" * len(part)
            self._iter_break(part.start)
        return 0

    def swapcache_clear(self, entry: SwpEntry, nr: int = 1) -> None:
        """Clear the cache bit of ``nr`` entries; free the ones left with no count.

        Models: ``swapcache_clear()`` / ``__swapcache_clear()`` (v6, batched frees).

        Raises:
            KernelError(ENOENT): an id is not allocated. KernelError(EINVAL): an entry has
            no cache bit. Nothing changes in either case.
        """
        ids = self._range_live(entry, nr, "swapcache_clear")
        t = self.table
        for e in ids:
            if not t.in_cache[e]:
                raise KernelError(Errno.EINVAL, f"swapcache_clear: {e:#x} holds no cache pin")
        for part in self._clusters(ids):
            self._cluster_op(part.start, Cost.SWAP_MAP_UPDATE)
            dead = []
            for e in part:
                t.in_cache[e] = 0
                if not t.swap_count[e]:
                    dead.append(e)
            self._free_ids(dead)
            self._iter_break(part.start)

    def _drop_counts(self, ids: range, what: str) -> bool:
        """One reference less on each of ``ids``; frees the ones with nothing left.

        Models: ``vswap_free_nr_any_cache_only()`` (v6). Returns True if some entry is now
        held by the swap cache alone (the hint ``free_swap_and_cache_nr`` uses); with v6's
        mark, such an entry on a physical slot gets the cache-only bit.
        """
        t = self.table
        for e in ids:
            if not t.swap_count[e]:
                raise KernelError(Errno.EINVAL, f"{what}: {e:#x} has no reference to drop")
        any_cache_only = False
        for part in self._clusters(ids):
            self._cluster_op(part.start, Cost.SWAP_MAP_UPDATE)
            dead = []
            for e in part:
                t.swap_count[e] -= 1
                if t.swap_count[e]:
                    continue
                if t.in_cache[e]:
                    any_cache_only = True
                    self._rmap_mark(e, True)
                else:
                    dead.append(e)
            self._free_ids(dead)
            self._iter_break(part.start)
        return any_cache_only

    def swap_free_nr(self, entry: SwpEntry, nr: int = 1) -> None:
        """Models: ``swap_free_nr()``: one page-table reference less on ``nr`` entries.

        Raises:
            KernelError(ENOENT): an id is not allocated. KernelError(EINVAL): an entry has
            no reference to drop. Nothing changes in either case.
        """
        self._drop_counts(self._range_live(entry, nr, "swap_free"), "swap_free")

    def free_swap_and_cache_nr(self, entry: SwpEntry, nr: int = 1) -> None:
        """Drop a page-table reference from ``nr`` entries; reclaim folios left cache-only.

        Models: ``free_swap_and_cache_nr()`` over v6: the references go in batches, and a
        swap-cache folio left with no reference is freed if it is unmapped or swap is over
        half full (``__try_to_reclaim_swap`` with ``TTRS_UNMAPPED | TTRS_FULL``, the 6.19
        contract), stepping a folio at a time.

        Raises:
            KernelError(ENOENT / EINVAL): as :meth:`swap_free_nr`, nothing changed.
        """
        ids = self._range_live(entry, nr, "free_swap_and_cache")
        if not self._drop_counts(ids, "free_swap_and_cache"):
            return
        t = self.table
        e = ids.start
        while e < ids.stop:
            step = 1
            if t.is_live(e) and t.in_cache[e] and not t.swap_count[e]:
                folio = t.cache.get(e)
                if folio is not None:
                    step = max(1, int(folio.swap) + folio.nr_pages - e)
                    self._try_to_reclaim_entry(SwpEntry(e), TTRS_UNMAPPED | TTRS_FULL)
            e += step

    def _free_ids(self, dead: list[int]) -> None:
        """Free the virtual slots ``dead`` (ascending, one cluster, no reference left).

        Models: ``vswap_free_nr()`` (patch 21): consecutive ids with the same memcg are one
        batch (shadows cleared, backing released, memcg record cleared, slots released)
        under the cluster lock already held; without ``batch_free`` each id is freed alone
        and the lock is dropped and retaken around it (v3's ``vswap_free``).
        """
        if not dead:
            return
        t = self.table
        runs: list[tuple[int, int]] = []
        for e in dead:
            if (self.batch_free and runs and runs[-1][0] + runs[-1][1] == e
                    and t.memcgid[runs[-1][0]] == t.memcgid[e]):
                runs[-1] = (runs[-1][0], runs[-1][1] + 1)
            else:
                runs.append((e, 1))
        c = ("vswap_cluster", dead[0] >> t.cluster_shift)
        for e, n in runs:
            if not self.batch_free:
                self.tracer.lock_step("vswap_cluster", c, Cost.SWAP_MAP_UPDATE)
            if self.swap_cache.swap_cache_get_folio(SwpEntry(e)) is not None:
                self._warn("vswap_free: a folio is still in the swap cache")
            self.swap_cache.clear_shadow(SwpEntry(e), n)
            self.release_backing(SwpEntry(e), n)
            t.memcgid[e:e + n] = array("H", bytes(2 * n))
            t.release_vswap_slot_nr(e, n)
            self.free_batches += 1
            self.freed_slots += n

    # =====================================================================================
    # reclaim of cache-only physical slots (the devices' questions)
    # =====================================================================================
    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        """Is physical slot ``offset`` held by the swap cache alone?

        Models: the v6 reclaim scans: with the cache-only mark, a read of the reverse-map
        entry; without it (v3-v5), a lookup of the owner's descriptor through the reverse
        map (``swp_slot_to_swp_entry``, then the descriptor).
        """
        e = self.rmap.owner(si.type, offset)
        if not e:
            return False
        if self.rmap_cache_only:
            return self.rmap.is_cache_only(si.type, offset)
        self.tracer.desc_lookup()
        t = self.table
        return t.is_live(e) and bool(t.in_cache[e]) and not t.swap_count[e]

    def _try_to_reclaim_entry(self, entry: SwpEntry, flags: int) -> int:
        """Free the cache-only folio at ``entry`` (``__try_to_reclaim_swap`` on a virtual
        entry): its pages if freed, their negative if kept, 0 if none is cached."""
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
            if not need or not self.folio_swapcache_freeable(folio) or \
                    self.folio_swapped(folio):
                return -nr
            self.delete_from_swap_cache(folio)
            folio.dirty = True
            return nr
        finally:
            folio.folio_unlock()

    def try_to_reclaim_swap(self, si: SwapInfo, offset: int, flags: int) -> int:
        """Models: ``__try_to_reclaim_swap()`` on a physical slot: through its owner."""
        owner = self.swp_slot_to_swp_entry(si.slot(offset))
        if not owner:
            return 0
        return self._try_to_reclaim_entry(owner, flags)

    # =====================================================================================
    # swapoff ("swap: simplify swapoff using virtual swap")
    # =====================================================================================
    def vswap_swapoff(self, entry: SwpEntry, folio: Folio, slot: SwpSlot) -> int:
        """Repoint the descriptors of ``folio`` on ``slot``'s device to the folio (T9).

        Models: ``vswap_swapoff()``: each SWAPFILE descriptor of the device becomes FOLIO
        (the folio is dirty now), its slot freed and uncharged. Context: folio locked in
        the swap cache at ``entry``. Returns the descriptors converted.
        """
        t = self.table
        type_ = swp_slot_type(slot)
        freed: list[tuple[int, int]] = []
        self._cluster_op(int(entry), Cost.SWAP_MAP_UPDATE)
        for i in range(folio.nr_pages):
            e = int(entry) + i
            s = t.backing[e]
            if t.type[e] != SWAPFILE or not s or swp_slot_type(SwpSlot(s)) != type_:
                if i:
                    self._warn("vswap_swapoff: folio only partly on the device")
                break
            freed.append((s, t.memcgid[e]))
            t.backing[e] = 0
            t.type[e] = FOLIO
        self._iter_break(int(entry))
        if freed:
            folio.dirty = True
            self._swap_slot_free(freed)
        return len(freed)

    # =====================================================================================
    # checking, statistics and accounting
    # =====================================================================================
    def statistics(self) -> VswapV6Stats:
        """A frozen snapshot of the design's counters."""
        return VswapV6Stats(allocator=self.table.statistics(), free_batches=self.free_batches,
                            freed_slots=self.freed_slots, warnings=dict(self.env.warnings))

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel spends on v6's swap metadata, by structure (the names of the
        ``vswap-v6`` layout): the descriptors and cluster headers of the virtual space; per
        device the allocated and bad bitmaps, one swap table (the reverse map) per cluster
        with an allocated slot, the cluster headers; the zswap entries. v6 has no swap
        cache XArray, no zswap tree, no swap_cgroup, no zeromap."""
        out = dict(self.table.metadata_bytes())
        bitmaps = 0
        headers = 0
        for si in self.devices.devices():
            bitmaps += sizes.bitmap_bytes(si.max)
            headers += si.nr_clusters
        out["allocated_bitmap"] = bitmaps
        out["bad_bitmap"] = bitmaps
        out.update(self.rmap.metadata_bytes(self.devices))
        out["swap_cluster_info"] = headers * sizes.SWAP_CLUSTER_INFO_BYTES_ST
        if self.zswap is not None:
            z = self.zswap.metadata_bytes()
            out["zswap_entry"] = z["zswap_entry"]
            out["zswap_zs_handle"] = z["zs_handle"]
            out["zswap_zspage"] = z["zspage"]
        return out

    def _check_desc(self, e: int, ty: int) -> None:
        """v6: a count or the cache bit; the cache-only mark set exactly when the count is 0
        and the cache bit set (with v6's mark); a FOLIO descriptor's folio in the cache."""
        t = self.table
        count, cached = t.swap_count[e], t.in_cache[e]
        assert count or cached, f"allocated id {e:#x} with no reference"
        s = SwpSlot(t.backing[e])
        if ty == SWAPFILE and s and swp_slot_type(s) in self.rmap.cols:
            want = self.rmap_cache_only and not count and bool(cached)
            assert self.rmap.is_cache_only(swp_slot_type(s), swp_slot_offset(s)) == want, (
                f"{e:#x}: cache-only mark")
        elif ty == FOLIO:
            assert e in t.cache, f"FOLIO id {e:#x}: its folio is not in the swap cache"

    def _cache_pinned(self, e: int) -> bool:
        """The ``in_swapcache`` bit."""
        return bool(self.table.in_cache[e])


if TYPE_CHECKING:
    def _implements(d: VirtualSwapV6) -> tuple[SwapDesign, ZswapHost, SlotOwner]:
        """Static check (mypy): the class satisfies the swap API, zswap's host protocol and
        the devices' owner protocol."""
        return d, d, d
