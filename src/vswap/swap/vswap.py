"""The virtual swap space of RFC v2: 48-byte descriptors, ``swap_refs``, partitions.

Models: "[RFC PATCH v2 00/18] Virtual Swap Space" (Nhat Pham, 2025-04-29) in its final state
after patch 18, on the v6.14 base: mm/vswap.c's ``folio_alloc_swap``, the ``swap_refs``
lifetime of patch 10 (``swap_duplicate``, ``swapcache_prepare``/``swapcache_clear``,
``swap_free_nr``, ``free_swap_and_cache_nr`` batched again by patch 15), ``release_backing``,
``vswap_store_folio``, ``vswap_assoc_zswap``, ``vswap_alloc_swap_slot``, ``vswap_free``,
``vswap_check_backing`` and ``vswap_swapoff``; the memcg record of patches 09 and 14; the
reclaim of cache-only slots (``swap_cache_only``, patch 10). What RFC v2 shares with v6 is
:class:`~vswap.swap.vswap_base.VirtualSwapBase` (devices, memcg charge, page I/O, swapoff,
the zswap host); the descriptor table, allocator and partitions are
:mod:`vswap.swap.vswap_desc`, the reverse map ``vswap_rmap`` is
:class:`~vswap.swap.vswap_rmap.VswapRmap`; descriptor states are
:class:`~vswap.swap.vswap_desc.SwapType`.

Design notes (why the model looks like this; docs/vswap.md has the long version):

* Where the RFC code looks wrong (spec part 1 section 11, D0-D8; part 2 section 16), the model
  implements the intended behaviour: zswap is invalidated by virtual id when a slot dies
  (D1), a failed charge releases everything (D2), range helpers walk ids explicitly and treat
  a hole as a missing entry (D5), writeback never touches a descriptor that left
  zswap (16.3), swapoff frees only the slots it converted (16.4), and
  ``free_swap_and_cache_nr`` steps to the real end of each folio (D7, 16.5).
* Bad input raises :class:`~vswap.kernel.errors.KernelError` before any state changes:
  ENOENT for a dead or never-allocated virtual slot, EINVAL for dropping a reference that is
  not held, ERANGE for a ``swap_refs`` overflow. Kernel results that are routine
  (``swapcache_prepare`` returning ``-EEXIST``/``-ENOENT``) stay return values.
* A physical slot is reclaimable only when its reverse-map owner holds nothing but the
  cache pin (``swap_cache_only``, spec part 1 invariant 36).
* Helpers of patches 10 and 15 that the memory-manager model has no caller for
  (``swap_pte_batch``, ``swap_move``, ``vswap_can_swapin_thp``, ``non_swapcache_batch``,
  ``swap_cluster_readahead``, ``trylock_swapoff``) are not modelled: the mm batches PTEs,
  reads ahead and checks large swap-ins through the swap API (``can_swapin_thp``,
  ``swp_slot_to_swp_entry``). ``vswap_migrate`` and ``vswap_split_huge_page`` are, behind
  the API's ``swap_cache_replace_folio`` (docs/folio-split-migration.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Final

from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.tracing import Cost
from vswap.kernel.types import SwpEntry, SwpSlot, swp_slot_offset, swp_slot_type
from vswap.swap._api import SwapHooks
from vswap.swap.folio_slots import charge_and_claim
from vswap.swap.swap_state import SwapCache
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED, VSWAP_MAP_BAD, SwapDevices, SwapInfo
from vswap.swap.vswap_base import VirtualSwapBase
from vswap.swap.vswap_desc import (
    MAX_VSWAP,
    OCCUPIED_LIVE,
    SWAP_CACHE_INC,
    SWAP_COUNT_INC,
    SWAP_REFS_MAX,
    VSWAP_CLUSTER_SHIFT,
    SwapType,
    VswapDescTable,
    VswapPartitions,
)
from vswap.swap.vswap_rmap import VswapRmap

if TYPE_CHECKING:
    from vswap.swap._api import SwapDesign
    from vswap.swap.swapfile import SlotOwner
    from vswap.zswap.zswap import ZswapHost

SWAPFILE: Final = SwapType.VSWAP_SWAPFILE
ZERO: Final = SwapType.VSWAP_ZERO
ZSWAP: Final = SwapType.VSWAP_ZSWAP
FOLIO: Final = SwapType.VSWAP_FOLIO

#: Default bound of the virtual space for the static partition hack (the cover letter bounds
#: it "to a size sufficient for the benchmark"): 2**20 ids = 4 GiB of swapped pages.
STATIC_PARTITION_MAX_VSWAP: Final = (1 << 20) - 1
#: Dynamic partitions default to the classic swap-cache split: 32 clusters of 512 = 64 MiB.
DYNAMIC_PARTITION_CLUSTERS: Final = 32


@dataclasses.dataclass(frozen=True, slots=True)
class VswapStats:
    """A frozen snapshot of the design's own counters.

    ``used``/``alloc_reject``: debugfs ``vswap/used`` and ``vswap/alloc_reject``;
    ``rcu_pending``: descriptors awaiting a grace period; ``partition_global_locks``: times
    the dynamic partitioner took the global lock; ``warnings``: VM_WARN_ON hits by message.
    """

    used: int
    alloc_reject: int
    rcu_pending: int
    partition_global_locks: int
    live_partitions: int
    warnings: dict[str, int]


class VirtualSwap(VirtualSwapBase[VswapDescTable, VswapRmap]):
    """The seed's virtual swap space (RFC v2 after patch 18) behind the swap API.

    Args:
        nr_cpus, env, hooks, default_prio: as for every design.
        max_vswap: ``MAX_VSWAP`` (ids 1..max_vswap); default U32_MAX, or 2**20-1 with the
            static partition hack, which bounds the space.
        cluster_shift: ``VSWAP_CLUSTER_SHIFT`` (9; tests use small clusters).
        partition: ``"none"`` (the RFC: one swap cache, one zswap tree, one allocator lock),
            ``"static"`` (the cover letter's range-partition hack) or ``"dynamic"``
            (partitions allocated on demand). See :class:`VswapPartitions`.
        nr_partitions: static partitions (default ``nr_cpus``).
        partition_clusters: clusters per dynamic partition (default 32 = 64 MiB).
    """

    name = "vswap"
    default_partition = "none"

    def __init__(self, *, nr_cpus: int = 1, env: KernelEnv | None = None,
                 hooks: SwapHooks | None = None, default_prio: str = "decreasing",
                 max_vswap: int | None = None,
                 cluster_shift: int = VSWAP_CLUSTER_SHIFT, partition: str | None = None,
                 nr_partitions: int | None = None,
                 partition_clusters: int = DYNAMIC_PARTITION_CLUSTERS,
                 ) -> None:
        mode = partition if partition is not None else self.default_partition
        if max_vswap is None:
            max_vswap = STATIC_PARTITION_MAX_VSWAP if mode == "static" else MAX_VSWAP
        self.table = VswapDescTable(max_vswap=max_vswap, cluster_shift=cluster_shift)
        self.partitions = VswapPartitions(self.table, mode, nr_partitions=nr_partitions,
                                          partition_clusters=partition_clusters,
                                          nr_cpus=nr_cpus)
        part_of = self.partitions.partition_of
        env = env if env is not None else KernelEnv()
        super().__init__(env=env,
                         devices=SwapDevices(env=env, nr_cpus=nr_cpus,
                                             default_prio=default_prio, map_bad=VSWAP_MAP_BAD),
                         swap_cache=SwapCache(part_of, int, env=env),
                         hooks=hooks, table=self.table, rmap=VswapRmap(),
                         zswap_tree_key=self._zswap_tree)

    def _zswap_tree(self, entry: SwpEntry) -> Hashable:
        """Models: ``swap_zswap_tree()`` (vswap): the one global tree, or its partition."""
        return self.partitions.partition_of(int(entry))

    # =====================================================================================
    # helpers
    # =====================================================================================
    def _get_live(self, entry: SwpEntry, what: str) -> int:
        self.env.tracer.desc_lookup()
        e = int(entry)
        occupied = self.table.occupied  # VswapDescTable.is_live(), inlined
        if not (0 < e < len(occupied) and occupied[e] == OCCUPIED_LIVE):
            raise KernelError(Errno.ENOENT, f"{what}: virtual swap slot {e:#x} is not live")
        return e

    def _range_live(self, entry: SwpEntry, nr: int, what: str) -> range:
        if nr < 1:
            raise KernelError(Errno.EINVAL, f"{what}: nr {nr}")
        e0 = int(entry)
        ids = range(e0, e0 + nr)
        # The tracer, not its bound method: compiled, a method called on the (native) tracer
        # is a direct call, a bound method in a local a generic one.
        tracer = self.env.tracer
        occupied = self.table.occupied
        for e in ids:  # _get_live() of each id, inlined
            tracer.desc_lookup()
            if not (0 < e < len(occupied) and occupied[e] == OCCUPIED_LIVE):
                raise KernelError(Errno.ENOENT, f"{what}: virtual swap slot {e:#x} is not "
                                                "live")
        return ids

    def _alloc_lock(self, e: int, cost: Cost) -> None:
        """The ``vswap_map`` lock of ``e``'s partition, held for ``cost``."""
        key = ("vswap_map", self.partitions.partition_of(e))
        self.tracer.lock_step("vswap_map", key, cost)

    # =====================================================================================
    # memcg (patch 09, patch 14)
    # =====================================================================================
    def mem_cgroup_record_swap(self, folio: Folio, entry: SwpEntry) -> None:
        """Models: ``__mem_cgroup_record_swap()``: own the ids, charge nothing (patch 14)."""
        memcg = self.memcg_of(folio.memcg_id)
        if memcg is None:
            return
        self.swap_cgroup_record(entry, memcg.id, folio.nr_pages)

    def swap_cgroup_record(self, entry: SwpEntry, memcg_id: int, nr: int) -> None:
        """Models: ``swap_cgroup_record()`` (vswap): set ``memcgid``; warns if already set."""
        t = self.table
        for e in range(int(entry), int(entry) + nr):
            if t.memcgid[e]:
                self._warn("swap_cgroup_record: memcgid already set")
            t.memcgid[e] = memcg_id

    def swap_cgroup_clear(self, entry: SwpEntry, nr: int = 1) -> int:
        """Models: ``swap_cgroup_clear()`` (vswap): zero ``memcgid``, return the old id."""
        t = self.table
        old = 0
        for e in range(int(entry), int(entry) + nr):
            if t.is_live(e):
                old = old or t.memcgid[e]
                t.memcgid[e] = 0
        return old

    # =====================================================================================
    # backing primitives (patch 12)
    # =====================================================================================
    def release_backing(self, entry: SwpEntry, nr: int) -> None:
        """Drop whatever backs ``nr`` descriptors; they end unbacked, SWAPFILE(0).

        Models: ``release_backing()`` (patch 12, with patch 14's uncharge): ZSWAP ->
        ``zswap_invalidate(entry + i)`` (by *virtual* id, the D1 fix); SWAPFILE(s) -> erase
        ``vswap_rmap[s]``, free the slot, uncharge the owner; ZERO/FOLIO -> nothing.
        Context: folio locked with the range pinned in the swap cache, or refs reached 0.
        Mixed backings (a partial zswap store, spec 16.2) are handled per descriptor with a
        warning; slots are freed per descriptor, not as one run from the first.
        """
        t = self.table
        e0 = int(entry)
        types = t.type
        first = types[e0]
        freed: list[tuple[int, int]] = []
        for e in range(e0, e0 + nr):
            ty = types[e]
            if ty != first:
                self._warn("release_backing: mixed backing types")
            if ty == ZSWAP:
                t.zswap.pop(e, None)
                if self.zswap is not None:
                    self.zswap.zswap_invalidate(SwpEntry(e))
            elif ty == SWAPFILE:
                s = t.slot[e]
                if s:
                    self.env.tracer.lock_step("vswap_rmap", "vswap_rmap",
                                              Cost.VSWAP_RMAP_ERASE)
                    self.rmap.set(swp_slot_type(SwpSlot(s)), swp_slot_offset(SwpSlot(s)), 0)
                    t.slot[e] = 0
                    freed.append((s, t.memcgid[e]))
            elif ty == FOLIO:
                t.folio.pop(e, None)
            types[e] = SWAPFILE
        if freed:
            self._swap_slot_free(freed)

    def vswap_store_folio(self, entry: SwpEntry, folio: Folio) -> None:
        """Models: ``vswap_store_folio()``: release the backing, every descriptor -> FOLIO.

        Context: folio locked, ``folio.swap == entry``.
        """
        nr = folio.nr_pages
        self.release_backing(entry, nr)
        t = self.table
        for e in range(int(entry), int(entry) + nr):
            t.type[e] = FOLIO
            t.folio[e] = folio

    def vswap_assoc_zswap(self, entry: SwpEntry, zentry: int) -> None:
        """Models: ``vswap_assoc_zswap()``: one descriptor -> ZSWAP(zentry).

        If the descriptor is already ZSWAP only the handle changes: releasing it would
        invalidate the tree slot zswap has just stored into (spec 16.7); zswap frees the
        older entry itself after publishing the new one.
        """
        t = self.table
        e = self._get_live(entry, "vswap_assoc_zswap")
        if t.type[e] != ZSWAP:
            self.release_backing(entry, 1)
        t.type[e] = ZSWAP
        t.zswap[e] = zentry

    def swap_zeromap_folio_set(self, folio: Folio) -> None:
        """Models: ``swap_zeromap_folio_set()`` (vswap, patch 12): every descriptor -> ZERO,
        ``swpout_zero`` counted. Context: folio locked."""
        entry = folio.swap
        nr = folio.nr_pages
        self.release_backing(entry, nr)
        t = self.table
        t.type[int(entry):int(entry) + nr] = bytes([ZERO]) * nr
        self.count_event("swpout_zero", nr, folio.memcg_id)

    def vswap_alloc_swap_slot(self, folio: Folio, preset: int = 0) -> SwpSlot:
        """Give a folio's virtual slots physical slots on demand; return the first, or 0.

        Models: ``vswap_alloc_swap_slot()`` (patch 12, charge from patch 14). Steps: the
        early return when the first descriptor already has a slot; contiguous physical slots
        of the folio's order (``folio_alloc_swap_slot``); ``memory.swap`` charged to the
        recorded owner; reverse map inserted; each descriptor FOLIO (writepage fallback, T6)
        or ZSWAP (writeback, T7; the zswap entry is freed by writeback) -> SWAPFILE(s + i).

        With ``discontig_swapout`` a large folio that finds no contiguous run takes ``nr``
        scattered order-0 slots (:mod:`vswap.swap.folio_slots`). ``preset``: the slots were
        already taken for this order-0 folio (batched zswap writeback takes a whole batch's
        at once); they are charged and claimed as if allocated here, and freed on failure.

        Returns:
            The first slot; 0 if no device has room or the charge failed (the tried slots
            are freed, nothing else changed).
        """
        entry = int(folio.swap)
        t = self.table
        if t.type[entry] == SWAPFILE and t.slot[entry]:
            return SwpSlot(t.slot[entry])
        nr = folio.nr_pages
        slot = SwpSlot(preset) if preset else self.devices.swap_slot_alloc(
            folio.order, SWAP_MAP_ALLOCATED, folio.memcg_id)
        if not slot:
            if not (folio.order and self.discontig_swapout):
                return SwpSlot(0)
            slots = charge_and_claim(self, folio)
            if not slots:
                return SwpSlot(0)
        else:
            type_, off = swp_slot_type(slot), swp_slot_offset(slot)
            if not self._mem_cgroup_try_charge_swap(t.memcgid[entry], nr):
                si = self.devices.swap_type_to_swap_info(type_)
                assert si is not None
                self.devices.swap_range_free(si, off, nr)
                return SwpSlot(0)
            self.tracer.lock_step("vswap_rmap", "vswap_rmap", Cost.VSWAP_RMAP_INSERT)
            slots = list(range(slot, slot + nr))
        for i in range(nr):
            e = entry + i
            ty = t.type[e]
            if ty == FOLIO:
                t.folio.pop(e, None)
            elif ty == ZSWAP:
                t.zswap.pop(e, None)
            else:
                self._warn("vswap_alloc_swap_slot: descriptor neither FOLIO nor ZSWAP")
            s = slots[i]
            self.rmap.set(swp_slot_type(SwpSlot(s)), swp_slot_offset(SwpSlot(s)), e)
            t.type[e] = SWAPFILE
            t.slot[e] = s
        return SwpSlot(slots[0])

    def vswap_free(self, entry: SwpEntry) -> None:
        """The last reference is gone: tear the virtual slot down.

        Models: ``vswap_free()`` (patch 12/14 order): clear the shadow at the virtual index,
        ``release_backing`` (zswap entry or slot + uncharge), ``mem_cgroup_unrecord_swap``
        (memcgid -> 0), ``release_vswap_slot`` (the id is reusable now), ``kfree_rcu``.
        """
        e = int(entry)
        if self.swap_cache.swap_cache_get_folio(entry) is not None:
            self._warn("vswap_free: a folio is still in the swap cache")
        self.swap_cache.clear_shadow(entry, 1)
        self.release_backing(entry, 1)
        self.swap_cgroup_clear(entry, 1)
        self._alloc_lock(e, Cost.VSWAP_SLOT_FREE)
        self.table.release_vswap_slot(e)

    # =====================================================================================
    # range predicates (patch 12, patch 15)
    # =====================================================================================
    def vswap_folio_backed(self, entry: SwpEntry, nr: int) -> bool:
        """Models: ``vswap_folio_backed()``: all FOLIO, one folio."""
        n, ty = self.vswap_check_backing(entry, nr)
        return n == nr and ty == FOLIO

    # =====================================================================================
    # migration and split of swap-cache folios (patch 12: T10, T11)
    # =====================================================================================
    def vswap_migrate(self, src: Folio, dst: Folio) -> None:
        """Models: ``vswap_migrate()`` (T10), from ``__folio_migrate_mapping``: every
        descriptor of the range that is FOLIO(src) becomes FOLIO(dst); a range only partly
        FOLIO(src) warns ("no mixed backing states for swap entries in swap cache", spec
        10.4) and the FOLIO(src) ones are repointed all the same."""
        t = self.table
        e0 = int(src.swap)
        mine = [e for e in range(e0, e0 + src.nr_pages) if t.folio.get(e) is src]
        if mine and len(mine) != src.nr_pages:
            self._warn("vswap_migrate: no mixed backing states for swap entries in swap cache")
        for e in mine:
            t.folio[e] = dst

    def vswap_split_huge_page(self, head: Folio, subpage: Folio) -> None:
        """Models: ``vswap_split_huge_page()`` (T11), from ``__split_huge_page_tail``: each
        descriptor of ``subpage``'s entries that is FOLIO(head) becomes FOLIO(subpage);
        other backings (SWAPFILE after a write-out, ZERO, ZSWAP) stay as they are."""
        t = self.table
        e0 = int(subpage.swap)
        for e in range(e0, e0 + subpage.nr_pages):
            if t.folio.get(e) is head:
                t.folio[e] = subpage

    def swap_cache_replace_folio(self, old: Folio, new: Folio) -> None:
        """The swap cache's slots, then the descriptors: :meth:`vswap_migrate` when ``new``
        takes the whole range, :meth:`vswap_split_huge_page` for one piece of a split."""
        super().swap_cache_replace_folio(old, new)
        if new.nr_pages == old.nr_pages:
            self.vswap_migrate(old, new)
        else:
            self.vswap_split_huge_page(old, new)

    # =====================================================================================
    # lifetime (patch 10)
    # =====================================================================================
    def folio_alloc_swap(self, folio: Folio) -> SwpEntry:
        """Give a folio virtual slots: never fails for lack of disk or ``memory.swap``.

        Models: ``folio_alloc_swap()`` (vswap, final after patch 14): ``vswap_alloc(nr)``
        (lowest id / lowest empty cluster, spread over partitions when partitioned),
        ``mem_cgroup_record_swap`` (ownership only), every descriptor FOLIO(folio) with refs 1.

        Returns:
            The first entry, or 0 when the virtual space (or its clusters, for a large folio)
            is exhausted; ``vswap_alloc_reject`` grows by ``nr`` then.
        """
        nr = folio.nr_pages
        global_locks = self.partitions.global_lock_count
        e, _p = self.partitions.alloc(nr, self.env.current_cpu)
        if self.partitions.global_lock_count != global_locks:
            self.tracer.lock_step("vswap_partition", "global", Cost.VSWAP_PARTITION_ADOPT)
        if not e:
            self.table.alloc_reject += nr
            return SwpEntry(0)
        self._alloc_lock(e, Cost.VSWAP_SLOT_ALLOC)
        entry = SwpEntry(e)
        self.mem_cgroup_record_swap(folio, entry)
        t = self.table
        for i in range(e, e + nr):
            t.type[i] = FOLIO
            t.folio[i] = folio
        return entry

    def swap_duplicate_nr(self, entry: SwpEntry, nr: int) -> None:
        """Add one mapping reference (+2) to each of ``nr`` entries, all or nothing.

        Models: ``swap_duplicate_nr()`` (patch 10) with ids walked explicitly (D5).

        Raises:
            KernelError(ENOENT): an id is dead or was never allocated (nothing changed).
            KernelError(ERANGE): a ``swap_refs`` would overflow ``atomic_t`` (nothing changed).
        """
        ids = self._range_live(entry, nr, "swap_duplicate")
        refs = self.table.refs
        for e in ids:
            if refs[e] + SWAP_COUNT_INC > SWAP_REFS_MAX:
                raise KernelError(Errno.ERANGE, f"swap_duplicate: swap_refs of {e:#x} "
                                                "would overflow")
        for e in ids:
            refs[e] += SWAP_COUNT_INC

    def swapcache_prepare(self, entry: SwpEntry, nr: int = 1) -> int:
        """Take the swap-cache pin of ``nr`` entries, all or none.

        Models: ``swapcache_prepare()`` (vswap): per descriptor, refs 0 -> ``-ENOENT``,
        bit 0 set -> ``-EEXIST``, else +1. A never-allocated id (a hole) is ``-ENOENT``
        (D5). On failure no entry gained a pin.
        """
        t = self.table
        ids = range(int(entry), int(entry) + nr)
        for e in ids:
            if not t.is_live(e):
                return -Errno.ENOENT
            if t.refs[e] & SWAP_CACHE_INC:
                return -Errno.EEXIST
        for e in ids:
            t.refs[e] += SWAP_CACHE_INC
        return 0

    def _drop_refs(self, ids: Iterable[int], inc: int) -> None:
        refs = self.table.refs
        for e in ids:
            refs[e] -= inc
            if not refs[e]:
                self.vswap_free(SwpEntry(e))

    def swapcache_clear(self, entry: SwpEntry, nr: int = 1) -> None:
        """Drop the cache pin of ``nr`` entries; free those with no reference left.

        Models: ``swapcache_clear()`` (vswap). Unlike the RFC, which would decrement a
        count's low bit, the pin is checked first.

        Raises:
            KernelError(ENOENT): an id is not live. KernelError(EINVAL): an entry holds no
            cache pin. Nothing changes in either case.
        """
        ids = self._range_live(entry, nr, "swapcache_clear")
        for e in ids:
            if not self.table.refs[e] & SWAP_CACHE_INC:
                raise KernelError(Errno.EINVAL, f"swapcache_clear: {e:#x} holds no cache pin")
        self._drop_refs(ids, SWAP_CACHE_INC)

    def swap_free_nr(self, entry: SwpEntry, nr: int = 1) -> None:
        """Drop one mapping reference from each of ``nr`` entries.

        Models: ``swap_free_nr()`` (vswap: ``vswap_free_nr_any_cache_only``, result unused).

        Raises:
            KernelError(ENOENT): an id is dead or was never allocated. KernelError(EINVAL):
            an entry has no mapping reference to drop. Nothing changes in either case.
        """
        ids = self._range_live(entry, nr, "swap_free")
        for e in ids:
            if self.table.refs[e] < SWAP_COUNT_INC:
                raise KernelError(Errno.EINVAL, f"swap_free: {e:#x} has no reference to drop")
        self._drop_refs(ids, SWAP_COUNT_INC)

    def free_swap_and_cache_nr(self, entry: SwpEntry, nr: int = 1) -> None:
        """Drop a mapping reference from ``nr`` entries; reclaim folios left cache-only.

        Models: ``free_swap_and_cache_nr()`` (vswap, patch 10; batched again by patch 15):
        per entry note refs == 3 (the "will be cache-only" hint), subtract 2, free at 0; if
        any hint fired, offer every cache-only entry's folio to ``folio_free_swap`` (trylock;
        mapped or not: the RFC's eager reclaim, D7), stepping to the real end of the folio
        (spec 16.5: the RFC steps by the folio size from the current entry).

        Raises:
            KernelError(ENOENT / EINVAL): as :meth:`swap_free_nr`, nothing changed.
        """
        ids = self._range_live(entry, nr, "free_swap_and_cache")
        t = self.table
        for e in ids:
            if t.refs[e] < SWAP_COUNT_INC:
                raise KernelError(Errno.EINVAL, f"free_swap_and_cache: {e:#x} has no "
                                                "reference to drop")
        hint = False
        for e in ids:
            if t.refs[e] == SWAP_COUNT_INC + SWAP_CACHE_INC:
                hint = True
            t.refs[e] -= SWAP_COUNT_INC
            if not t.refs[e]:
                self.vswap_free(SwpEntry(e))
        if not hint:
            return
        e = int(entry)
        end = e + nr
        while e < end:
            step = 1
            if t.is_live(e) and t.refs[e] == SWAP_CACHE_INC:
                folio = self.swap_cache_get_folio(SwpEntry(e))
                if folio is not None and folio.folio_trylock():
                    step = max(1, int(folio.swap) + folio.nr_pages - e)
                    self.folio_free_swap(folio)
                    folio.folio_unlock()
            e += step

    def vswap_swapcache_only(self, entry: SwpEntry, nr: int = 1) -> bool:
        """Models: ``vswap_swapcache_only()``: every id live with refs exactly 1."""
        t = self.table
        return all(t.is_live(e) and t.refs[e] == SWAP_CACHE_INC
                   for e in range(int(entry), int(entry) + nr))

    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        """Models: ``swap_cache_only()`` (patch 10): the slot's owner is cache-only."""
        owner = self.rmap.owner(si.type, offset)
        return bool(owner) and self.vswap_swapcache_only(SwpEntry(owner))

    def try_to_reclaim_swap(self, si: SwapInfo, offset: int, flags: int) -> int:
        """Free the cache-only swap-cache folio owning physical ``offset``.

        Models: ``__try_to_reclaim_swap()`` under vswap: always through
        ``delete_from_swap_cache`` (the virtual layer frees the slot), never the direct
        branch. Returns the folio's pages if freed, their negative if kept, 0 if none.
        """
        owner = self.swp_slot_to_swp_entry(si.slot(offset))
        if not owner:
            return 0
        folio = self.swap_cache_get_folio(owner)
        if folio is None:
            return 0
        nr = folio.nr_pages
        if not folio.folio_trylock():
            return -nr
        try:
            if not self.folio_swapcache_freeable(folio) or \
                    not self.vswap_swapcache_only(folio.swap, nr):
                return -nr
            self.delete_from_swap_cache(folio)
            folio.dirty = True
            return nr
        finally:
            folio.folio_unlock()

    # =====================================================================================
    # swapoff (patch 16)
    # =====================================================================================
    def vswap_swapoff(self, entry: SwpEntry, folio: Folio, slot: SwpSlot) -> int:
        """Repoint the descriptors of ``folio`` on the dying device to the folio (T9).

        Models: ``vswap_swapoff()``: walk from ``entry`` while descriptors are SWAPFILE on
        the slot's device (warn when stopping mid-folio or on a non-consecutive offset);
        erase the rmap, make them FOLIO(folio); then mark the folio dirty, free *the slots
        converted* (the RFC frees ``nr`` regardless, spec 16.4) and uncharge them.
        Context: folio locked, in the swap cache at ``entry``. Returns descriptors converted.
        """
        t = self.table
        type_ = swp_slot_type(slot)
        base_off = swp_slot_offset(slot)
        freed: list[tuple[int, int]] = []
        for i in range(folio.nr_pages):
            e = int(entry) + i
            s = t.slot[e]
            if t.type[e] != SWAPFILE or not s or swp_slot_type(SwpSlot(s)) != type_:
                if i:
                    self._warn("vswap_swapoff: folio only partly on the device")
                break
            if swp_slot_offset(SwpSlot(s)) != base_off + i:
                self._warn("vswap_swapoff: non-contiguous slots")
            self.rmap.set(type_, swp_slot_offset(SwpSlot(s)), 0)
            freed.append((s, t.memcgid[e]))
            t.slot[e] = 0
            t.type[e] = FOLIO
            t.folio[e] = folio
        if freed:
            folio.dirty = True
            self._swap_slot_free(freed)
        return len(freed)

    # =====================================================================================
    # statistics and accounting
    # =====================================================================================
    def synchronize_rcu(self) -> int:
        """A grace period: descriptors freed with ``kfree_rcu`` are released."""
        return self.table.synchronize_rcu()

    def statistics(self) -> VswapStats:
        """A frozen snapshot of the design's counters."""
        return VswapStats(used=self.table.used, alloc_reject=self.table.alloc_reject,
                          rcu_pending=self.table.rcu_pending,
                          partition_global_locks=self.partitions.global_lock_count,
                          live_partitions=len(self.partitions.live_partitions()),
                          warnings=dict(self.env.warnings))

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel would spend on this design's swap metadata, by structure.

        Physical devices (``swap_map`` of three states, clusters), one 48-byte ``swp_desc``
        per live virtual slot, XArray nodes of ``vswap_map`` (by live id),
        ``vswap_cluster_map`` (by non-empty cluster) and ``vswap_rmap`` (by physical slot
        value), the swap cache and zswap. No ``swap_cgroup`` and no ``zeromap``.
        """
        out = self.device_metadata_bytes()
        out.update(self.table.metadata_bytes())
        out.update(self.rmap.metadata_bytes(self.devices))
        out["swap_cache_xarray"] = self.swap_cache.metadata_bytes()
        if self.zswap is not None:
            for k, v in self.zswap.metadata_bytes().items():
                out[f"zswap_{k}"] = v
        return out

    def _check_desc(self, e: int, ty: int) -> None:
        """RFC v2: refs > 0; a FOLIO descriptor's folio is in the swap cache at the id."""
        t = self.table
        assert t.refs[e] > 0, f"live id {e:#x} with refs 0"
        if ty == FOLIO:
            f = t.folio.get(e)
            assert f is not None, f"FOLIO id {e:#x} without a folio"
            assert self.swap_cache_get_folio(SwpEntry(e)) is f, (
                f"FOLIO id {e:#x}: its folio is not in the swap cache")

    def _cache_pinned(self, e: int) -> bool:
        """Bit 0 of ``swap_refs``."""
        return bool(self.table.refs[e] & SWAP_CACHE_INC)


class VirtualSwapStatic(VirtualSwap):
    """``vswap`` with the cover letter's static range-partition hack (``vswap-static``)."""

    name = "vswap-static"
    default_partition = "static"


class VirtualSwapDynamic(VirtualSwap):
    """``vswap`` with dynamic, on-demand partitions (``vswap-dynamic``)."""

    name = "vswap-dynamic"
    default_partition = "dynamic"


if TYPE_CHECKING:
    def _implements(d: VirtualSwap) -> tuple[SwapDesign, ZswapHost, SlotOwner]:
        """Static check (mypy): the class satisfies the swap API, zswap's host protocol and
        the devices' owner protocol."""
        return d, d, d
