"""The virtual swap space: page tables hold a virtual slot, a descriptor says where the data is.

Models: "[RFC PATCH v2 00/18] Virtual Swap Space" (Nhat Pham, 2025-04-29) in its final state
after patch 18, on the v6.14 base: mm/vswap.c (``folio_alloc_swap``, ``swap_refs`` lifetime,
``release_backing``, ``vswap_store_folio``, ``vswap_assoc_zswap``, ``vswap_alloc_swap_slot``,
``vswap_free``, ``vswap_check_backing``, ``vswap_swapoff``), the page_io.c
flow of patch 12 (zero page -> zswap -> lazily allocated physical slot), the memcg split of
patch 14 (record at virtual allocation, charge ``memory.swap`` only for physical slots),
patch 15 (range checks of large folios: ``swap_read_folio`` reads a range with one backend
only; batched ``free_swap_and_cache_nr``), patch 16 (swapoff without a page-table
walk) and patches 17-18 (no zeromap). The descriptor table and allocator are in
:mod:`vswap.swap.vswap_desc`; descriptor states are documented at
:class:`~vswap.swap.vswap_desc.SwapType`.

Design notes (why the model looks like this; docs/vswap.md has the long version):

* Where the RFC code looks wrong (spec part 1 section 11, D0-D8; part 2 section 16), the model
  implements the intended behaviour: zswap is invalidated by virtual id when a slot dies
  (D1), a failed charge releases everything (D2), range helpers walk ids explicitly and treat
  a hole as a missing entry (D5), writeback never touches a descriptor that left
  zswap (16.3), swapoff frees only the slots it converted (16.4), and
  ``free_swap_and_cache_nr`` steps to the real end of each folio (D7, 16.5).
* Bad input raises :class:`~vswap.kernel.errors.KernelError` before any state changes: ENOENT for a
  dead or never-allocated virtual slot, EINVAL for dropping a reference that is not held,
  ERANGE for a ``swap_refs`` overflow. Kernel results that are routine (``swapcache_prepare``
  returning ``-EEXIST``/``-ENOENT``) stay return values.
* Physical slots keep the shared allocator (:mod:`vswap.swap.swapfile`) with the three-state
  map of patch 10 (0, ``SWAP_MAP_ALLOCATED``, ``SWAP_MAP_BAD`` = 2). The reverse map is one
  ``array('I')`` of virtual ids per device, indexed by offset. The design is each device's
  :class:`~vswap.swap.swapfile.SlotOwner`: a slot is reclaimable only when its reverse-map
  owner holds nothing but the cache pin (``swap_cache_only``, spec part 1 invariant 36).
* Helpers of patches 10 and 15 that the memory-manager model has no caller for
  (``swap_pte_batch``, ``swap_move``, ``vswap_can_swapin_thp``, ``non_swapcache_batch``,
  ``swap_cluster_readahead``, ``trylock_swapoff``, ``vswap_migrate``,
  ``vswap_split_huge_page``) are not modelled: the mm batches PTEs, reads ahead and checks
  large swap-ins through the swap API (``can_swapin_thp``, ``swp_slot_to_swp_entry``).
"""

from __future__ import annotations

import dataclasses
from array import array
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MAX, MemCgroup
from vswap.kernel.tracing import Cost
from vswap.kernel.types import (
    PAGE_SIZE,
    SWAPFILE_CLUSTER,
    SwpEntry,
    SwpSlot,
    swp_slot,
    swp_slot_offset,
    swp_slot_type,
)
from vswap.swap._api import AOP_WRITEPAGE_ACTIVATE, SwapHooks, SwapoffResult
from vswap.swap._base import SwapDesignBase
from vswap.swap.swap_state import SwapCache
from vswap.swap.swapfile import (
    SWAP_MAP_ALLOCATED,
    VSWAP_MAP_BAD,
    SlotOwner,
    SwapDevices,
    SwapInfo,
)
from vswap.swap.vswap_desc import (
    MAX_VSWAP,
    SWAP_CACHE_INC,
    SWAP_COUNT_INC,
    SWAP_REFS_MAX,
    VSWAP_CLUSTER_SHIFT,
    SwapType,
    VswapDescTable,
    VswapPartitions,
)

if TYPE_CHECKING:
    from vswap.swap._api import SwapDesign
    from vswap.swap.storage import SwapStorage
    from vswap.zswap.zswap import ZswapHost

SWAPFILE = SwapType.VSWAP_SWAPFILE
ZERO = SwapType.VSWAP_ZERO
ZSWAP = SwapType.VSWAP_ZSWAP
FOLIO = SwapType.VSWAP_FOLIO

#: Default bound of the virtual space for the static partition hack (the cover letter bounds
#: it "to a size sufficient for the benchmark"): 2**20 ids = 4 GiB of swapped pages.
STATIC_PARTITION_MAX_VSWAP = (1 << 20) - 1
#: Dynamic partitions default to the classic swap-cache split: 32 clusters of 512 = 64 MiB.
DYNAMIC_PARTITION_CLUSTERS = 32


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


def _xarray_bytes_np(indices: np.ndarray) -> int:
    """``sizes.xarray_bytes`` for a numpy array of distinct indices (fast for millions)."""
    if indices.size == 0 or (indices.size == 1 and int(indices[0]) == 0):
        return 0
    idx = indices.astype(np.uint64)
    top = int(idx.max())
    levels = 1
    while top >> (sizes.XA_CHUNK_SHIFT * levels):
        levels += 1
    nodes = 0
    for level in range(1, levels + 1):
        nodes += int(np.unique(idx >> np.uint64(sizes.XA_CHUNK_SHIFT * level)).size)
    return nodes * sizes.XA_NODE_BYTES


class VirtualSwap(SwapDesignBase):
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
                         hooks=hooks)
        #: ``vswap_rmap``: per device type, virtual id by physical offset (0: no owner).
        self.rmap: dict[int, array[int]] = {}
        # zswap writeback in flight: entry -> (zswap entry id, physical slot) (section 16.3).
        self._wb_pending: dict[int, tuple[int, int]] = {}

    # =====================================================================================
    # helpers
    # =====================================================================================
    def _warn(self, msg: str) -> None:
        """``VM_WARN_ON``: the env's warning helper (an AssertionError under ``debug_vm``)."""
        self.env.warn(msg)

    def _get_live(self, entry: SwpEntry, what: str) -> int:
        self.tracer.desc_lookup()
        e = int(entry)
        if not self.table.is_live(e):
            raise KernelError(Errno.ENOENT, f"{what}: virtual swap slot {e:#x} is not live")
        return e

    def _range_live(self, entry: SwpEntry, nr: int, what: str) -> range:
        if nr < 1:
            raise KernelError(Errno.EINVAL, f"{what}: nr {nr}")
        ids = range(int(entry), int(entry) + nr)
        for e in ids:
            self._get_live(SwpEntry(e), what)
        return ids

    def _alloc_lock(self, e: int, cost: Cost) -> None:
        """The ``vswap_map`` lock of ``e``'s partition, held for ``cost``."""
        key = ("vswap_map", self.partitions.partition_of(e))
        self.tracer.lock_step("vswap_map", key, cost)

    # =====================================================================================
    # devices
    # =====================================================================================
    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               blkdev: bool | None = None, solidstate: bool = True) -> SwapInfo:
        """Models: ``sys_swapon()`` under vswap: no swap_cgroup, no zeromap (patch 18), no
        zswap trees (the tree is static); a reverse-map column per device instead."""
        header = storage.header
        kind = storage.kind
        if blkdev is None:
            blkdev = kind != "file"
        si = self.devices.add_device(
            storage, nr_pages=header.last_page + 1, bad_pages=tuple(header.bad_pages),
            prio=prio, solidstate=solidstate, blkdev=blkdev,
            name=storage.name, kind="file" if kind == "file" else "partition", owner=self)
        self.rmap[si.type] = array("I", bytes(4 * si.max))
        return si

    def _find_device(self, name_or_type: str | int) -> SwapInfo:
        for si in self.devices.devices():
            if si.type == name_or_type or si.name == name_or_type:
                return si
        raise KernelError(Errno.EINVAL, f"swapoff: {name_or_type} is not a swap device")

    def entry_needs_device(self, entry: SwpEntry) -> bool:
        """Under vswap an entry without a device is simply not on disk."""
        return False

    def swp_entry_to_swp_slot(self, entry: SwpEntry) -> SwpSlot:
        """Models: ``swp_entry_to_swp_slot()`` (vswap): the slot of a live SWAPFILE
        descriptor; 0 for any other backend, an unbacked, dead or never-allocated id."""
        e = int(entry)
        t = self.table
        if not t.is_live(e) or t.type[e] != SWAPFILE:
            return SwpSlot(0)
        return SwpSlot(t.slot[e])

    def swp_slot_to_swp_entry(self, slot: SwpSlot) -> SwpEntry:
        """Models: ``swp_slot_to_swp_entry()`` (vswap): ``vswap_rmap`` lookup; 0 if none."""
        col = self.rmap.get(swp_slot_type(slot))
        off = swp_slot_offset(slot)
        if col is None or not 0 < off < len(col):
            return SwpEntry(0)
        return SwpEntry(col[off])

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

    def lookup_swap_cgroup_id(self, entry: SwpEntry) -> int:
        """Models: ``lookup_swap_cgroup_id()`` (vswap): ``memcgid`` of a live id, else 0."""
        e = int(entry)
        return self.table.memcgid[e] if self.table.is_live(e) else 0

    def _mem_cgroup_try_charge_swap(self, entry: SwpEntry, nr: int) -> bool:
        """Models: ``__mem_cgroup_try_charge_swap()`` (patch 14): charge the *recorded* owner
        (not the folio's memcg); the root is never charged. A limit hit raises
        ``memory.swap.events`` max and fail and charges nothing."""
        memcg = self.memcg_of(self.table.memcgid[int(entry)])
        if memcg is None:
            return True
        if memcg.parent is not None and not memcg.try_charge_swap(nr):
            return False
        memcg.stat["swap"] += nr
        return True

    def _mem_cgroup_uncharge_swap(self, memcg_id: int, nr: int) -> None:
        """Models: ``__mem_cgroup_uncharge_swap()`` (patch 14): the id is looked up, not
        cleared (clearing is ``mem_cgroup_unrecord_swap`` in ``vswap_free``)."""
        memcg = self.memcg_of(memcg_id)
        if memcg is not None:
            if memcg.parent is not None:
                memcg.uncharge_swap(nr)
            memcg.stat["swap"] -= nr

    def mem_cgroup_get_nr_swap_pages(self, memcg: MemCgroup | None) -> int:
        """Swap pages ``memcg`` may still use; memcg reclaim treats anon as reclaimable if > 0.

        Models: ``mem_cgroup_get_nr_swap_pages()`` after patch 14: unlimited
        (``PAGE_COUNTER_MAX``) while zswap is enabled and the cgroup may zswap, because zswap
        is not charged to ``memory.swap``; otherwise free physical swap clamped by every
        non-root ancestor's ``swap.max`` headroom.
        """
        zswap = self.zswap
        if zswap is not None and zswap.zswap_is_enabled() and (
                memcg is None or memcg.obj_cgroup_may_zswap()):
            return MAX
        nr = self.devices.nr_swap_pages
        m = memcg
        while m is not None and m.parent is not None:
            nr = min(nr, m.swap.max - m.swap.usage)
            m = m.parent
        return nr

    # =====================================================================================
    # backing primitives (patch 12)
    # =====================================================================================
    def _swap_slot_free(self, freed: list[tuple[int, int]]) -> None:
        """Return physical slots and uncharge their owners.

        Models: ``swap_slot_free_nr()`` + ``mem_cgroup_uncharge_swap()``. ``freed`` holds
        (slot value, memcg id); runs are freed per device and cluster.
        """
        freed.sort()
        by_memcg: Counter[int] = Counter()
        i = 0
        while i < len(freed):
            s, _ = freed[i]
            type_, off = swp_slot_type(SwpSlot(s)), swp_slot_offset(SwpSlot(s))
            si = self.devices.swap_type_to_swap_info(type_)
            if si is None:
                raise KernelError(Errno.EINVAL, f"freeing slot {s:#x} of no device")
            n = 1
            while (i + n < len(freed) and freed[i + n][0] == s + n
                   and (off + n) // SWAPFILE_CLUSTER == off // SWAPFILE_CLUSTER):
                n += 1
            for k in range(n):
                if si.swap_map[off + k] != SWAP_MAP_ALLOCATED:
                    raise AssertionError(f"freeing slot {type_}:{off + k} in state "
                                         f"{si.swap_map[off + k]:#x}")
                by_memcg[freed[i + k][1]] += 1
            self.devices.swap_range_free(si, off, n)
            i += n
        for memcg_id, n in by_memcg.items():
            self._mem_cgroup_uncharge_swap(memcg_id, n)

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
        first = t.type[int(entry)]
        freed: list[tuple[int, int]] = []
        for e in range(int(entry), int(entry) + nr):
            ty = t.type[e]
            if ty != first:
                self._warn("release_backing: mixed backing types")
            if ty == ZSWAP:
                t.zswap.pop(e, None)
                if self.zswap is not None:
                    self.zswap.zswap_invalidate(SwpEntry(e))
            elif ty == SWAPFILE:
                s = t.slot[e]
                if s:
                    self.tracer.lock_step("vswap_rmap", "vswap_rmap", Cost.VSWAP_RMAP_ERASE)
                    self.rmap[swp_slot_type(SwpSlot(s))][swp_slot_offset(SwpSlot(s))] = 0
                    t.slot[e] = 0
                    freed.append((s, t.memcgid[e]))
            elif ty == FOLIO:
                t.folio.pop(e, None)
            t.type[e] = SWAPFILE
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

    def swap_zeromap_folio_clear(self, folio: Folio) -> None:
        """Models: ``swap_zeromap_folio_clear()`` (vswap) = ``vswap_store_folio``."""
        self.vswap_store_folio(folio.swap, folio)

    def vswap_alloc_swap_slot(self, folio: Folio) -> SwpSlot:
        """Give a folio's virtual slots physical slots on demand; return the first, or 0.

        Models: ``vswap_alloc_swap_slot()`` (patch 12, charge from patch 14). Steps: the
        early return when the first descriptor already has a slot; contiguous physical slots
        of the folio's order (``folio_alloc_swap_slot``); ``memory.swap`` charged to the
        recorded owner; reverse map inserted; each descriptor FOLIO (writepage fallback, T6)
        or ZSWAP (writeback, T7; the zswap entry is freed by writeback) -> SWAPFILE(s + i).

        Returns:
            The first slot; 0 if no device has room or the charge failed (the tried slots
            are freed, nothing else changed).
        """
        entry = int(folio.swap)
        t = self.table
        if t.type[entry] == SWAPFILE and t.slot[entry]:
            return SwpSlot(t.slot[entry])
        nr = folio.nr_pages
        slot = self.devices.swap_slot_alloc(folio.order, SWAP_MAP_ALLOCATED)
        if not slot:
            return SwpSlot(0)
        type_, off = swp_slot_type(slot), swp_slot_offset(slot)
        if not self._mem_cgroup_try_charge_swap(SwpEntry(entry), nr):
            si = self.devices.swap_type_to_swap_info(type_)
            assert si is not None
            self.devices.swap_range_free(si, off, nr)
            return SwpSlot(0)
        col = self.rmap[type_]
        self.tracer.lock_step("vswap_rmap", "vswap_rmap", Cost.VSWAP_RMAP_INSERT)
        for i in range(nr):
            e = entry + i
            ty = t.type[e]
            if ty == FOLIO:
                t.folio.pop(e, None)
            elif ty == ZSWAP:
                t.zswap.pop(e, None)
            else:
                self._warn("vswap_alloc_swap_slot: descriptor neither FOLIO nor ZSWAP")
            col[off + i] = e
            t.type[e] = SWAPFILE
            t.slot[e] = slot + i
        return slot

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
    def vswap_check_backing(self, entry: SwpEntry, nr: int) -> tuple[int, SwapType]:
        """Length of the prefix of ``entry .. +nr`` backed like the first, and that type.

        Models: ``vswap_check_backing()``: ZERO/ZSWAP: same type; SWAPFILE: same device,
        consecutive offsets; FOLIO: same folio. A dead id ends the prefix (D5). Returns
        ``(0, SWAPFILE)`` when the first id is not live.
        """
        t = self.table
        e0 = int(entry)
        if not t.is_live(e0):
            return 0, SWAPFILE
        ty = SwapType(t.type[e0])
        s0 = t.slot[e0]
        f0 = t.folio.get(e0)
        n = 1
        while n < nr:
            e = e0 + n
            if not t.is_live(e) or t.type[e] != ty:
                break
            if ty == SWAPFILE and (not s0 or t.slot[e] != s0 + n):
                break
            if ty == FOLIO and t.folio.get(e) is not f0:
                break
            n += 1
        return n, ty

    def vswap_folio_backed(self, entry: SwpEntry, nr: int) -> bool:
        """Models: ``vswap_folio_backed()``: all FOLIO, one folio."""
        n, ty = self.vswap_check_backing(entry, nr)
        return n == nr and ty == FOLIO

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

    def swap_duplicate(self, entry: SwpEntry) -> int:
        """Models: ``swap_duplicate()`` (vswap): +2 on ``swap_refs``; returns 0 (D3).

        Raises:
            KernelError(ENOENT / ERANGE): as :meth:`swap_duplicate_nr`; a valid caller (fork
            copying a PTE it holds) never sees them.
        """
        self.swap_duplicate_nr(entry, 1)
        return 0

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

    def put_swap_folio(self, folio: Folio, entry: SwpEntry) -> None:
        """Models: ``put_swap_folio()`` (vswap): drop one cache pin per page of the folio.

        Context: folio locked (``VM_WARN_ON`` otherwise).
        """
        if not folio.locked:
            self._warn("put_swap_folio: folio not locked")
        self.swapcache_clear(entry, folio.nr_pages)

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

    def cache_only_slots_possible(self, si: SwapInfo) -> bool:
        """Only a folio in the swap cache can be reclaimed: with none, skip the scan."""
        return bool(self.swap_cache.nr_pages)

    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        """Models: ``swap_cache_only()`` (patch 10): the slot's owner is cache-only."""
        col = self.rmap.get(si.type)
        owner = col[offset] if col is not None and offset < len(col) else 0
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

    def swp_swapcount(self, entry: SwpEntry) -> int:
        """Models: ``swp_swapcount()`` (vswap): ``refs >> 1``; 0 for a non-live id."""
        e = int(entry)
        return self.table.refs[e] >> 1 if self.table.is_live(e) else 0

    def folio_swapped(self, folio: Folio) -> bool:
        """Models: ``folio_swapped()`` (vswap): some id of the folio has a count > 0."""
        if not folio.swap:
            return False
        t = self.table
        if not folio.order:
            e = int(folio.swap)
            return bool(t.is_live(e) and t.refs[e] >= SWAP_COUNT_INC)
        return any(t.is_live(e) and t.refs[e] >= SWAP_COUNT_INC
                   for e in range(int(folio.swap), int(folio.swap) + folio.nr_pages))

    # =====================================================================================
    # swap cache
    # =====================================================================================
    def swapin_pinned_ok(self, entry: SwpEntry) -> bool:
        """Patch 12's guard in ``__read_swap_cache_async()``: once pinned, a FOLIO-backed
        entry whose folio is not in the swap cache is transient (reading "storage" would be
        bogus): drop the pin; the caller retries."""
        if self.vswap_folio_backed(entry, 1):
            self.swapcache_clear(entry, 1)
            return False
        return True

    # =====================================================================================
    # I/O (mm/page_io.c, patch 12)
    # =====================================================================================
    def swapped_page_locations(self) -> tuple[int, int]:
        """Live ZERO descriptors, and live SWAPFILE descriptors with a slot."""
        t = self.table
        occ = np.frombuffer(t.occupied, dtype=np.uint8)
        ty = np.frombuffer(t.type, dtype=np.uint8)
        slot = np.frombuffer(t.slot, dtype=np.uint64) if len(t.slot) else np.zeros(0, np.uint64)
        n = min(len(occ), len(ty), len(slot))
        live = occ[:n] == 1
        zero = int(np.count_nonzero(live & (ty[:n] == ZERO)))
        device = int(np.count_nonzero(live & (ty[:n] == SWAPFILE) & (slot[:n] != 0)))
        return zero, device

    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]:
        """Every live virtual id: (entry, ``swap_refs >> 1``, cache pin bit)."""
        t = self.table
        for e in t.live_ids():
            refs = t.refs[e]
            yield SwpEntry(e), refs >> 1, bool(refs & SWAP_CACHE_INC)

    def swap_peek_entry(self, entry: SwpEntry) -> bytes | None:
        """The stored page of ``entry`` by its descriptor's backend: ZERO, ZSWAP or a
        SWAPFILE slot (FOLIO and unbacked entries have no backend copy: None)."""
        e = int(entry)
        t = self.table
        if not t.is_live(e):
            return None
        ty = t.type[e]
        if ty == ZERO:
            return bytes(PAGE_SIZE)
        if ty == ZSWAP:
            return self.zswap._decompress(t.zswap[e]) if self.zswap is not None else None
        if ty == SWAPFILE and t.slot[e]:
            slot = SwpSlot(t.slot[e])
            si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
            if si is None:
                return None
            return bytes(si.storage.read_page(swp_slot_offset(slot)))
        return None

    def swap_writepage_fallback(self, folio: Folio) -> int:
        """Allocate physical slots on demand and write (patches 12, 14).

        ``vswap_alloc_swap_slot`` charges ``memory.swap``; with no room on any device or
        ``memory.swap.max`` hit the descriptors stay FOLIO and the folio is kept
        (``AOP_WRITEPAGE_ACTIVATE``): it is then the only copy, in the swap cache.
        The zero, zswap and writeback-disabled steps before this are the shared
        :meth:`SwapDesignBase.swap_writepage`; under vswap a zero folio becomes ZERO and a
        stored one ZSWAP, with no slot.
        """
        slot = self.vswap_alloc_swap_slot(folio)
        if not slot:
            return AOP_WRITEPAGE_ACTIVATE
        self._swap_writepage_device(folio, slot)
        return 0

    def _swap_writepage_device(self, folio: Folio, slot: SwpSlot) -> None:
        """Models: ``__swap_writepage()``: the folio goes to its slots (synchronously)."""
        si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
        assert si is not None
        folio.writeback = True
        self.device_write(si, swp_slot_offset(slot), folio)
        folio.writeback = False

    def swap_read_folio(self, folio: Folio) -> bool:
        """Fill a locked swap-cache folio from its backend.

        Models: ``swap_read_folio()`` (patch 12 order): ZERO -> zero-fill, ``swpin_zero``,
        descriptor unchanged; ZSWAP -> ``zswap_load`` (exclusive in the swap cache: the
        descriptor becomes FOLIO, the folio dirty); SWAPFILE -> device read, ``pswpin``,
        descriptor unchanged. A range with mixed backing, a FOLIO entry (whose folio never
        misses the cache), an unbacked or dead entry is a read error.

        Returns:
            True with the folio uptodate, or False (an I/O error: the fault raises SIGBUS).

        Raises:
            KernelError(EIO): zswap's stored bytes failed to decompress.
        """
        entry = folio.swap
        nr = folio.nr_pages
        n, ty = self.vswap_check_backing(entry, nr)
        if n != nr:
            return False
        if ty == ZERO:
            folio.data[:] = bytes(PAGE_SIZE * nr)
            folio.uptodate = True
            self.count_event("swpin_zero", nr, folio.memcg_id)
            return True
        if ty == ZSWAP:
            if self.zswap is None:
                self._warn("swap_read_folio: ZSWAP descriptor without zswap")
                return False
            if self.zswap.zswap_load(folio):
                return bool(folio.uptodate)
            self._warn("swap_read_folio: ZSWAP descriptor with no tree entry")
            return False
        if ty == SWAPFILE:
            slot = self.table.slot[int(entry)]
            if not slot:
                return False
            si = self.devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(slot)))
            if si is None:
                return False
            if self.zswap is not None:
                self.zswap.zswap_folio_swapin(folio)
            if not self.device_read(si, swp_slot_offset(SwpSlot(slot)), folio):
                return False
            folio.uptodate = True
            return True
        return self.table.folio.get(int(entry)) is folio and folio.uptodate

    # =====================================================================================
    # zswap host (ZswapHost)
    # =====================================================================================
    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """Models: ``swap_zswap_tree()`` (vswap): the one global tree, or its partition."""
        return self.partitions.partition_of(int(entry))

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """Models: ``zswap_tree_index()`` (vswap): ``entry.val``."""
        return int(entry)

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """``vswap_assoc_zswap()`` from ``zswap_store_page`` (T4)."""
        self.vswap_assoc_zswap(entry, zentry)

    def zswap_store_undone(self, folio: Folio) -> None:
        """``vswap_store_folio()`` after a failed store (T5)."""
        self.vswap_store_folio(folio.swap, folio)

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """``vswap_store_folio()`` in an exclusive ``zswap_load`` (T8)."""
        self.vswap_store_folio(folio.swap, folio)

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """A swap-cache folio and a physical slot for zswap writeback (patch 12, spec 5).

        Models: ``zswap_writeback_entry()`` steps 1-2: ``__read_swap_cache_async`` with
        ``skip_if_exists``, then ``vswap_alloc_swap_slot`` (ZSWAP -> SWAPFILE, charged to the
        recorded owner). Intended behaviour for spec 16.3: an entry that is no longer ZSWAP
        is a raced attempt (``EEXIST``), its backing is never touched.

        Returns:
            The locked folio; ``Errno.EEXIST`` (cached, or no longer in zswap);
            ``Errno.ENOMEM`` (dead entry, no memory, no free slot or ``swap.max`` hit; the
            descriptor stays ZSWAP).
        """
        e = int(entry)
        t = self.table
        if not t.is_live(e):
            return Errno.ENOMEM
        if self.swap_cache_get_folio(entry) is not None:
            return Errno.EEXIST
        if t.type[e] != ZSWAP:
            return Errno.EEXIST
        zentry = t.zswap[e]
        folio, new = self.read_swap_cache_async(entry, skip_if_exists=True)
        if folio is None:
            return Errno.ENOMEM
        if not new:
            return Errno.EEXIST
        slot = self.vswap_alloc_swap_slot(folio)
        if not slot:
            self.delete_from_swap_cache(folio)
            folio.folio_unlock()
            return Errno.ENOMEM
        self._wb_pending[e] = (zentry, int(slot))
        return folio

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """Undo a prepared writeback: the tree holds ``zentry`` (0: nothing) at the index.

        Models: the ``fail`` path of ``zswap_writeback_entry`` (``vswap_assoc_zswap(entry,
        new)``), taken only while the descriptor is still the SWAPFILE(slot) writeback made
        (spec 16.3): the slot is freed and uncharged and the descriptor points at the tree's
        entry again. With no tree entry the page's data is gone; the descriptor is left
        unbacked so a later read fails loudly instead of returning stale bytes.
        """
        e = int(folio.swap)
        t = self.table
        pending = self._wb_pending.pop(e, None)
        if pending is not None and t.is_live(e) and t.type[e] == SWAPFILE \
                and t.slot[e] == pending[1]:
            self.release_backing(folio.swap, 1)
            if zentry:
                t.type[e] = ZSWAP
                t.zswap[e] = zentry
            else:
                self._warn("zswap writeback: tree entry vanished under a ZSWAP descriptor")
        self.delete_from_swap_cache(folio)
        folio.folio_unlock()

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """Write the decompressed folio to the slot prepare allocated; it stays clean in the
        swap cache, unlocked when the (synchronous) write completes."""
        e = int(folio.swap)
        self._wb_pending.pop(e, None)
        folio.uptodate = True
        folio.dirty = False
        self._swap_writepage_device(folio, SwpSlot(self.table.slot[e]))
        folio.folio_unlock()

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """Patch 13: no shrinking without a free physical slot anywhere."""
        return self.devices.nr_swap_pages > 0

    # =====================================================================================
    # swapoff (patch 16)
    # =====================================================================================
    def _pagein(self, entry: SwpEntry) -> Folio | None:
        """``pagein()`` of vswap ``try_to_unuse``: find or read the folio (unlocked)."""
        folio, new = self.read_swap_cache_async(entry)
        if folio is not None and new:
            try:
                ok = self.swap_read_folio(folio)
            except KernelError:
                ok = False
            if not ok:
                # A failed read must not leave a bad folio behind: the entry stays on disk.
                folio.uptodate = False
                self.delete_from_swap_cache(folio)
            folio.folio_unlock()
        return folio

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
            self.rmap[type_][swp_slot_offset(SwpSlot(s))] = 0
            freed.append((s, t.memcgid[e]))
            t.slot[e] = 0
            t.type[e] = FOLIO
            t.folio[e] = folio
        if freed:
            folio.dirty = True
            self._swap_slot_free(freed)
        return len(freed)

    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Swap a device off without touching a page table.

        Models: ``sys_swapoff()`` with the vswap ``try_to_unuse()`` of patch 16: round 1
        reads every used slot's page into the swap cache (owner found through the reverse
        map); round 2 locks each folio and repoints its descriptors (``vswap_swapoff``).
        ZERO and ZSWAP entries are not on the device and are not touched; no PTE is visited
        (``ptes_visited == 0``; ``hooks.unuse_ptes`` is never called).

        Failure leaves a consistent state and the device on (``reinsert_swap_info``):
        ``ENOMEM`` when no folio can be had (``hooks.alloc_swapin_folio`` returned None),
        ``EIO`` when a slot cannot be read back (the entry stays SWAPFILE, never a FOLIO
        with bad bytes), ``EINTR`` when ``signal_pending()`` turns true. Entries already
        converted stay FOLIO (dirty, uncharged, slot freed); the rest stay SWAPFILE on the
        device with their reverse map. ``result.completed`` is False and ``error`` names it.

        Raises:
            KernelError(EINVAL): no such device.
        """
        si = self._find_device(name_or_type)
        self.devices.begin_swapoff(si)
        result = SwapoffResult(type=si.type, name=si.name)
        reads_before = self.io_reads
        col = self.rmap[si.type]
        smap = si.swap_map
        error = ""

        def used_offsets() -> list[int]:
            return [o for o in range(1, si.max) if smap[o] == SWAP_MAP_ALLOCATED]

        # Round 1: submit every read (the RFC plugs them; here they complete at once).
        for off in used_offsets():
            if signal_pending is not None and signal_pending():
                error = "EINTR: interrupted by a signal"
                break
            e = col[off]
            if e:
                self._pagein(SwpEntry(e))
        # Round 2: repoint each owner to its swap-cache folio, once round 1's reads are in.
        self.tracer.io_wait()
        converted = 0
        if not error:
            for off in used_offsets():
                if smap[off] != SWAP_MAP_ALLOCATED:
                    continue  # freed by a large folio's head, or concurrently
                if signal_pending is not None and signal_pending():
                    error = "EINTR: interrupted by a signal"
                    break
                e = col[off]
                if not e:
                    continue
                entry = SwpEntry(e)
                folio = self._pagein(entry)
                if folio is None:
                    if not col[off]:
                        continue
                    error = (f"ENOMEM: swapoff: unable to allocate swap cache folio for "
                             f"{e:#x}")
                    break
                if not folio.uptodate:
                    error = f"EIO: swapoff: cannot read slot {si.type}:{off} of {e:#x}"
                    break
                if not folio.swapcache or folio.swap != entry:
                    continue  # a tail of a large folio, or a raced re-swap
                if not folio.folio_trylock():
                    error = f"EBUSY: swapoff: folio of {e:#x} is locked"
                    break
                converted += self.vswap_swapoff(entry, folio, si.slot(off))
                folio.folio_unlock()
        result.pages_read = self.io_reads - reads_before
        result.pages_unused = converted
        result.ptes_visited = 0
        if error or si.inuse_pages:
            self.devices.abort_swapoff(si)
            result.completed = False
            result.error = error or f"{si.inuse_pages} slots still in use"
            return result
        self.devices.remove_device(si)
        del self.rmap[si.type]
        return result

    # =====================================================================================
    # statistics and accounting
    # =====================================================================================
    @property
    def vswap_used(self) -> int:
        """debugfs ``vswap/used``: live virtual slots."""
        return self.table.used

    @property
    def vswap_alloc_reject(self) -> int:
        """debugfs ``vswap/alloc_reject``: pages whose virtual allocation failed."""
        return self.table.alloc_reject

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

    def debugfs(self) -> dict[str, int]:
        """The ``/sys/kernel/debug/vswap/`` files."""
        return {"used": self.table.used, "alloc_reject": self.table.alloc_reject}

    def entry_leftovers(self) -> list[str]:
        """Live descriptors and zswap writebacks still in flight."""
        out = []
        if self.table.used:
            out.append(f"{self.table.used} live vswap descriptors")
        if self._wb_pending:
            out.append(f"{len(self._wb_pending)} pending zswap writebacks")
        return out

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel would spend on this design's swap metadata, by structure.

        Physical devices (``swap_map`` of three states, clusters), one 48-byte ``swp_desc``
        per live virtual slot, XArray nodes of ``vswap_map`` (by live id),
        ``vswap_cluster_map`` (by non-empty cluster) and ``vswap_rmap`` (by physical slot
        value), the swap cache and zswap. No ``swap_cgroup`` and no ``zeromap``.
        """
        out = self.device_metadata_bytes()
        t = self.table
        occ = np.frombuffer(bytes(t.occupied), dtype=np.uint8)
        live = np.flatnonzero(occ == 1)
        out["swp_desc"] = t.used * sizes.SWP_DESC_BYTES_RFC_V2
        out["vswap_map"] = _xarray_bytes_np(live)
        counts = np.frombuffer(t.cluster_count.tobytes(), dtype=np.uint16)
        out["vswap_cluster_map"] = _xarray_bytes_np(np.flatnonzero(counts))
        slots = []
        for type_, col in self.rmap.items():
            offs = np.flatnonzero(np.frombuffer(col.tobytes(), dtype=np.uint32))
            if offs.size:
                slots.append(offs.astype(np.uint64) + np.uint64(int(swp_slot(type_, 0))))
        out["vswap_rmap"] = _xarray_bytes_np(np.concatenate(slots)) if slots else 0
        out["swap_cache_xarray"] = self.swap_cache.metadata_bytes()
        if self.zswap is not None:
            for k, v in self.zswap.metadata_bytes().items():
                out[f"zswap_{k}"] = v
        return out

    def check_invariants(self) -> None:
        """Raise AssertionError unless the design's invariants hold (quiescent points).

        The allocator's (:meth:`VswapDescTable.check_invariants`), each device's, the swap
        cache's, and: every live descriptor has refs > 0 and a valid payload (SWAPFILE(s):
        ``rmap[s] == id`` and the map byte ALLOCATED; ZSWAP: the tree holds its entry at the
        id; FOLIO: that folio is in the swap cache at the id); the reverse map names only
        such owners and covers every allocated slot; a cached folio's ids are live and
        pinned; each non-root memcg's ``memory.swap`` equals its SWAPFILE-backed entries.
        """
        t = self.table
        t.check_invariants()
        for dev in self.devices.devices():
            dev.check_invariants()
        self.swap_cache.check_invariants()
        charged: Counter[int] = Counter()
        for e in t.live_ids():
            refs = t.refs[e]
            assert refs > 0, f"live id {e:#x} with refs 0"
            ty = t.type[e]
            if ty == SWAPFILE:
                s = t.slot[e]
                assert s, f"live id {e:#x} unbacked at a quiescent point"
                type_, off = swp_slot_type(SwpSlot(s)), swp_slot_offset(SwpSlot(s))
                si = self.devices.swap_type_to_swap_info(type_)
                assert si is not None, f"{e:#x} on device {type_} that is gone"
                assert si.swap_map[off] == SWAP_MAP_ALLOCATED, f"{e:#x}: slot not ALLOCATED"
                assert self.rmap[type_][off] == e, f"{e:#x}: rmap[{type_}:{off}] wrong"
                charged[t.memcgid[e]] += 1
            elif ty == ZSWAP:
                assert e in t.zswap, f"ZSWAP id {e:#x} without an entry"
                if self.zswap is not None:
                    info = self.zswap.lookup(SwpEntry(e))
                    assert info is not None and info.id == t.zswap[e], (
                        f"ZSWAP id {e:#x}: tree does not hold its entry")
            elif ty == FOLIO:
                f = t.folio.get(e)
                assert f is not None, f"FOLIO id {e:#x} without a folio"
                assert self.swap_cache_get_folio(SwpEntry(e)) is f, (
                    f"FOLIO id {e:#x}: its folio is not in the swap cache")
            else:
                assert ty == ZERO, f"id {e:#x}: bad type {ty}"
        for type_, col in self.rmap.items():
            si = self.devices.swap_type_to_swap_info(type_)
            assert si is not None
            owners = 0
            for slot_off in np.flatnonzero(np.frombuffer(col.tobytes(), dtype=np.uint32)):
                e = col[int(slot_off)]
                assert t.is_live(e) and t.type[e] == SWAPFILE and \
                    t.slot[e] == swp_slot(type_, int(slot_off)), (
                        f"rmap {type_}:{slot_off} -> {e:#x}")
                owners += 1
            assert owners == si.inuse_pages, (
                f"device {type_}: {si.inuse_pages} slots allocated, {owners} owned")
        for folio in self.swap_cache.folios():
            for e in range(int(folio.swap), int(folio.swap) + folio.nr_pages):
                assert t.is_live(e) and t.refs[e] & SWAP_CACHE_INC, (
                    f"cached id {e:#x} without a cache pin")
        if self.zswap is not None:
            total = sum(self.zswap.tree_entry_counts().values())
            assert total == len(t.zswap) + len(self._wb_pending), (
                f"zswap holds {total} entries, {len(t.zswap)} ZSWAP descriptors")
        for memcg in self.memcgs:
            if memcg.parent is None:
                continue
            assert memcg.swap.local == charged.get(memcg.id, 0), (
                f"{memcg.path}: memory.swap local {memcg.swap.local} != "
                f"{charged.get(memcg.id, 0)} SWAPFILE entries")


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
