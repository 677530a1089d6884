"""Virtual swap space v6: 24-byte descriptors in dynamically allocated virtual clusters.

Models: "[PATCH v6 00/22] Virtual Swap Space" (Nhat Pham, 2026-05-05, lore
``20260505153854.1612033-1-nphamcs@gmail.com``, base v6.19): mm/vswap.c's lifetime
(``swap_count`` plus the ``in_swapcache`` bit; the slot is freed when both are gone),
``folio_alloc_swap``, ``swap_duplicate``, ``swapcache_prepare`` / ``swapcache_clear``,
``vswap_free_nr_any_cache_only``, ``release_backing``, ``vswap_store_folio``,
``swap_zeromap_folio_set``, ``vswap_alloc_swap_slot``, ``vswap_rmap_set`` (the reverse map in
the physical cluster's swap table, patch "Re-use swap table for the reverse mapping") with
v6's cache-only mark (``swap_rmap_mark_cache_only``), patch 21's batched ``vswap_free_nr``,
patch 22's per-CPU lookup cache, "memcg: swap: only charge physical swap slots" and "swap:
simplify swapoff using virtual swap". The allocator and the descriptor columns are in
:mod:`vswap.swap.vswap_v6_table`; descriptor states are
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
  reports. The reverse map is one ``array('Q')`` per device, indexed by offset (virtual id,
  bit 63 the cache-only mark); its memory is one 4 KiB swap table per physical cluster with
  an allocated slot.
* Bad input raises :class:`~vswap.kernel.errors.KernelError` before any state changes (ENOENT for
  an id that is not allocated, EINVAL for dropping a reference that is not held, ERANGE for
  a count overflow).
"""

from __future__ import annotations

import dataclasses
from array import array
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
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
from vswap.swap._api import (
    AOP_WRITEPAGE_ACTIVATE,
    SwapHooks,
    SwapoffResult,
)
from vswap.swap._base import SwapDesignBase
from vswap.swap.swapfile import (
    SWAP_MAP_ALLOCATED,
    TTRS_ANYWAY,
    TTRS_FULL,
    TTRS_UNMAPPED,
    VSWAP_MAP_BAD,
    SwapDevices,
    SwapInfo,
)
from vswap.swap.vswap_desc import SwapType
from vswap.swap.vswap_v6_table import (
    VSWAP_CLUSTER_SHIFT,
    DescSwapCache,
    VswapClusterStats,
    VswapClusterTable,
)

if TYPE_CHECKING:
    from vswap.swap.storage import SwapStorage

SWAPFILE = SwapType.VSWAP_SWAPFILE
ZERO = SwapType.VSWAP_ZERO
ZSWAP = SwapType.VSWAP_ZSWAP
FOLIO = SwapType.VSWAP_FOLIO

#: ``swap_count`` is an ``unsigned int``.
SWAP_COUNT_MAX = (1 << 32) - 1
#: The reverse map's cache-only mark (bit 63 of the physical swap table entry, v6's
#: "augment the reverse map"): the owner has swap count 0 and is only in the swap cache.
RMAP_CACHE_ONLY = 1 << 63
RMAP_ID_MASK = RMAP_CACHE_ONLY - 1


@dataclasses.dataclass(frozen=True, slots=True)
class VswapV6Stats:
    """A frozen snapshot: the allocator's counters and the design's ``VM_WARN_ON`` hits."""

    allocator: VswapClusterStats
    free_batches: int
    freed_slots: int
    warnings: dict[str, int]


class VirtualSwapV6(SwapDesignBase):
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
        self.table = VswapClusterTable(nr_cpus=nr_cpus, cluster_shift=cluster_shift,
                                       iter_cache=iter_cache)
        super().__init__(env=env,
                         devices=SwapDevices(env=env, nr_cpus=nr_cpus,
                                             default_prio=default_prio, map_bad=VSWAP_MAP_BAD),
                         swap_cache=DescSwapCache(self.table, env=env),
                         hooks=hooks)
        self.batch_free = batch_free
        self.rmap_cache_only = rmap_cache_only
        #: The reverse map: per device type, virtual id (| RMAP_CACHE_ONLY) by offset.
        self.rmap: dict[int, array[int]] = {}
        #: Reverse-map entries per physical cluster: a cluster's swap table is allocated
        #: while it holds one (P1's dynamic allocation).
        self.rmap_count: dict[int, array[int]] = {}
        self.free_batches = 0
        self.freed_slots = 0
        # zswap writeback in flight: entry -> (zswap entry id, physical slot).
        self._wb_pending: dict[int, tuple[int, int]] = {}

    # =====================================================================================
    # helpers
    # =====================================================================================
    def _warn(self, msg: str) -> None:
        """``VM_WARN_ON``: the env's warning helper (an AssertionError under ``debug_vm``)."""
        self.env.warn(msg)

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

    # =====================================================================================
    # devices
    # =====================================================================================
    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               blkdev: bool | None = None, solidstate: bool = True) -> SwapInfo:
        """Models: ``sys_swapon()`` under v6: the allocated and bad bitmaps (no swap_map
        counts, no swap_cgroup, no zeromap, no zswap trees) and a reverse map."""
        header = storage.header
        kind = storage.kind
        if blkdev is None:
            blkdev = kind != "file"
        si = self.devices.add_device(
            storage, nr_pages=header.last_page + 1, bad_pages=tuple(header.bad_pages),
            prio=prio, solidstate=solidstate, blkdev=blkdev,
            name=storage.name, kind="file" if kind == "file" else "partition", owner=self)
        self.rmap[si.type] = array("Q", bytes(8 * si.max))
        self.rmap_count[si.type] = array("H", bytes(2 * si.nr_clusters))
        return si

    def _find_device(self, name_or_type: str | int) -> SwapInfo:
        for si in self.devices.devices():
            if si.type == name_or_type or si.name == name_or_type:
                return si
        raise KernelError(Errno.EINVAL, f"swapoff: {name_or_type} is not a swap device")

    def entry_needs_device(self, entry: SwpEntry) -> bool:
        """An entry without a device is simply not on disk."""
        return False

    def swp_entry_to_swp_slot(self, entry: SwpEntry) -> SwpSlot:
        """Models: ``swp_entry_to_swp_slot()``: the slot of an allocated SWAPFILE
        descriptor; 0 for every other backend and for an unallocated id."""
        e = int(entry)
        t = self.table
        if not t.is_live(e) or t.type[e] != SWAPFILE:
            return SwpSlot(0)
        return SwpSlot(t.backing[e])

    def swp_slot_to_swp_entry(self, slot: SwpSlot) -> SwpEntry:
        """Models: ``swp_slot_to_swp_entry()``: the reverse map (the physical cluster's swap
        table entry); 0 if the slot has no owner."""
        col = self.rmap.get(swp_slot_type(slot))
        off = swp_slot_offset(slot)
        if col is None or not 0 < off < len(col):
            return SwpEntry(0)
        return SwpEntry(col[off] & RMAP_ID_MASK)

    def _rmap_set(self, type_: int, off: int, e: int) -> None:
        """Models: ``vswap_rmap_set()`` for one slot (``e`` 0 clears it)."""
        col = self.rmap[type_]
        counts = self.rmap_count[type_]
        c = off // SWAPFILE_CLUSTER
        if col[off] and not e:
            counts[c] -= 1
        elif e and not col[off]:
            counts[c] += 1
        col[off] = e

    def _rmap_mark(self, e: int, cache_only: bool) -> None:
        """``swap_rmap_mark_cache_only`` / ``swap_rmap_clear_cache_only`` on the physical
        slot of SWAPFILE descriptor ``e`` (only with v6's mark)."""
        if not self.rmap_cache_only:
            return
        t = self.table
        if t.type[e] != SWAPFILE or not t.backing[e]:
            return
        s = SwpSlot(t.backing[e])
        col = self.rmap[swp_slot_type(s)]
        off = swp_slot_offset(s)
        col[off] = e | RMAP_CACHE_ONLY if cache_only else e

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

    def lookup_swap_cgroup_id(self, entry: SwpEntry) -> int:
        """Models: ``lookup_swap_cgroup_id()``: ``memcgid`` of an allocated id, else 0."""
        e = int(entry)
        return self.table.memcgid[e] if self.table.is_live(e) else 0

    def _mem_cgroup_try_charge_swap(self, memcg_id: int, nr: int) -> bool:
        """Models: ``__mem_cgroup_try_charge_swap()`` for physical slots: the *recorded*
        owner; the root is never charged; a limit hit raises ``memory.swap.events``."""
        memcg = self.memcg_of(memcg_id)
        if memcg is None:
            return True
        if memcg.parent is not None and not memcg.try_charge_swap(nr):
            return False
        memcg.stat["swap"] += nr
        return True

    def _mem_cgroup_uncharge_swap(self, memcg_id: int, nr: int) -> None:
        """Models: ``__mem_cgroup_uncharge_swap()`` of physical slots."""
        memcg = self.memcg_of(memcg_id)
        if memcg is not None:
            if memcg.parent is not None:
                memcg.uncharge_swap(nr)
            memcg.stat["swap"] -= nr

    def mem_cgroup_get_nr_swap_pages(self, memcg: MemCgroup | None) -> int:
        """Swap pages ``memcg`` may still use: unlimited while zswap is enabled and the
        cgroup may zswap (zswap is not charged), else free physical swap clamped by every
        non-root ancestor's ``swap.max`` headroom."""
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
    # backing
    # =====================================================================================
    def _swap_slot_free(self, freed: list[tuple[int, int]]) -> None:
        """Return physical slots and uncharge their owners, in contiguous runs per cluster.

        Models: ``swap_slot_free_nr()`` (one physical cluster lock section per run) and the
        batched ``mem_cgroup_uncharge_swap``. ``freed`` holds (slot value, memcg id).
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
                self._rmap_set(type_, off + k, 0)
            self.tracer.lock_step("swap_cluster", (type_, off // SWAPFILE_CLUSTER),
                                  Cost.SWAP_MAP_UPDATE)
            self.devices.swap_range_free(si, off, n)
            i += n
        for memcg_id, n in by_memcg.items():
            self._mem_cgroup_uncharge_swap(memcg_id, n)

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

    def swap_zeromap_folio_clear(self, folio: Folio) -> None:
        """Models: ``swap_zeromap_folio_clear()`` (v6) = ``vswap_store_folio``."""
        self.vswap_store_folio(folio.swap, folio)

    def vswap_alloc_swap_slot(self, folio: Folio) -> SwpSlot:
        """Give a folio's virtual slots physical slots; return the first, or 0.

        Models: ``vswap_alloc_swap_slot()`` (v6): nothing to do when the range is already on
        contiguous physical slots (``vswap_swapfile_backed``); else contiguous slots of the
        folio's order, ``memory.swap`` charged to the recorded owner (on failure the slots
        are freed and nothing else changes), the reverse map set, every descriptor (FOLIO
        at writeout, ZSWAP at writeback: zswap frees its entry) -> SWAPFILE(s + i).
        """
        e0 = int(folio.swap)
        t = self.table
        nr = folio.nr_pages
        n, ty = self.vswap_check_backing(folio.swap, nr)
        if n == nr and ty == SWAPFILE and t.backing[e0]:
            return SwpSlot(t.backing[e0])
        slot = self.devices.swap_slot_alloc(folio.order, SWAP_MAP_ALLOCATED)
        if not slot:
            return SwpSlot(0)
        type_, off = swp_slot_type(slot), swp_slot_offset(slot)
        if not self._mem_cgroup_try_charge_swap(t.memcgid[e0], nr):
            si = self.devices.swap_type_to_swap_info(type_)
            assert si is not None
            self.devices.swap_range_free(si, off, nr)
            return SwpSlot(0)
        self.tracer.lock_step("swap_cluster", (type_, off // SWAPFILE_CLUSTER),
                              Cost.VSWAP_RMAP_INSERT)
        self._cluster_op(e0, Cost.SWAP_MAP_UPDATE)
        for i in range(nr):
            e = e0 + i
            if t.type[e] not in (FOLIO, ZSWAP):
                self._warn("vswap_alloc_swap_slot: descriptor neither FOLIO nor ZSWAP")
            self._rmap_set(type_, off + i, e)
            t.type[e] = SWAPFILE
            t.backing[e] = slot + i
            self._rmap_mark(e, t.swap_count[e] == 0 and bool(t.in_cache[e]))
        self._iter_break(e0)
        return slot

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

    def swap_duplicate(self, entry: SwpEntry) -> int:
        """Models: ``swap_duplicate()``: one more reference; returns 0.

        Raises:
            KernelError(ENOENT / ERANGE): as :meth:`swap_duplicate_nr`.
        """
        self.swap_duplicate_nr(entry, 1)
        return 0

    def swap_shmem_alloc(self, entry: SwpEntry, nr: int) -> None:
        """Models: ``swap_shmem_alloc()``: ordinary counts."""
        self.swap_duplicate_nr(entry, nr)

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

    def put_swap_folio(self, folio: Folio, entry: SwpEntry) -> None:
        """Models: ``put_swap_folio()``: the folio's cache bits go. Context: folio locked."""
        if not folio.locked:
            self._warn("put_swap_folio: folio not locked")
        self.swapcache_clear(entry, folio.nr_pages)

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

    def swap_free(self, entry: SwpEntry) -> None:
        """Models: ``swap_free()``."""
        self.swap_free_nr(entry, 1)

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

    def swp_swapcount(self, entry: SwpEntry) -> int:
        """Models: ``swp_swapcount()``: the descriptor's ``swap_count`` (0 if none)."""
        e = int(entry)
        return self.table.swap_count[e] if self.table.is_live(e) else 0

    def _swap_count(self, entry: SwpEntry) -> int:
        """Models: ``__swap_count()``: identical to ``swp_swapcount``."""
        return self.swp_swapcount(entry)

    def folio_swapped(self, folio: Folio) -> bool:
        """Models: ``folio_swapped()`` (v6): some id of the folio has a count."""
        if not folio.swap:
            return False
        t = self.table
        e0 = int(folio.swap)
        return any(t.is_live(e) and t.swap_count[e] for e in range(e0, e0 + folio.nr_pages))

    def swapin_pinned_ok(self, entry: SwpEntry) -> bool:
        """The guard of ``__read_swap_cache_async()``: once pinned, a FOLIO-backed entry
        whose folio is not in the swap cache is transient: drop the pin, the caller
        retries."""
        n, ty = self.vswap_check_backing(entry, 1)
        if n and ty == FOLIO:
            self.swapcache_clear(entry, 1)
            return False
        return True

    # =====================================================================================
    # reclaim of cache-only physical slots (the devices' questions)
    # =====================================================================================
    def cache_only_slots_possible(self, si: SwapInfo) -> bool:
        """Only a folio in the swap cache can be reclaimed: with none, skip the scan."""
        return bool(self.swap_cache.nr_pages)

    def entry_leftovers(self) -> list[str]:
        """Live descriptors still held (the leak check)."""
        out = [f"{self.table.used} live vswap descriptors"] if self.table.used else []
        if self._wb_pending:
            out.append(f"{len(self._wb_pending)} pending zswap writebacks")
        return out

    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        """Is physical slot ``offset`` held by the swap cache alone?

        Models: the v6 reclaim scans: with the cache-only mark, a read of the reverse-map
        entry; without it (v3-v5), a lookup of the owner's descriptor through the reverse
        map (``swp_slot_to_swp_entry``, then the descriptor).
        """
        col = self.rmap.get(si.type)
        if col is None or not 0 < offset < len(col) or not col[offset]:
            return False
        if self.rmap_cache_only:
            return bool(col[offset] & RMAP_CACHE_ONLY)
        e = col[offset] & RMAP_ID_MASK
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
    # range checks
    # =====================================================================================
    def vswap_check_backing(self, entry: SwpEntry, nr: int) -> tuple[int, SwapType]:
        """Length of the prefix of ``entry .. +nr`` backed like the first, and that type.

        Models: ``vswap_check_backing()`` (v6): ZERO/ZSWAP/FOLIO by type; SWAPFILE also on
        one device at consecutive offsets; an unallocated id ends the prefix. ``(0,
        SWAPFILE)`` when the first id is not allocated.
        """
        t = self.table
        e0 = int(entry)
        if not t.is_live(e0):
            return 0, SWAPFILE
        ty = SwapType(t.type[e0])
        s0 = t.backing[e0]
        n = 1
        while n < nr:
            e = e0 + n
            if not t.is_live(e) or t.type[e] != ty:
                break
            if ty == SWAPFILE and (not s0 or t.backing[e] != s0 + n):
                break
            n += 1
        return n, ty

    # =====================================================================================
    # I/O (mm/page_io.c)
    # =====================================================================================
    def swap_writepage_fallback(self, folio: Folio) -> int:
        """Allocate physical slots on demand and write; with no room or ``memory.swap.max``
        hit the descriptors stay FOLIO and the folio is kept (``AOP_WRITEPAGE_ACTIVATE``)."""
        slot = self.vswap_alloc_swap_slot(folio)
        if not slot:
            return AOP_WRITEPAGE_ACTIVATE
        self._swap_writepage_device(folio, slot)
        return 0

    def _swap_writepage_device(self, folio: Folio, slot: SwpSlot) -> None:
        """Models: ``__swap_writepage()`` to the physical slot (synchronously here)."""
        si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
        assert si is not None
        folio.writeback = True
        self.device_write(si, swp_slot_offset(slot), folio)
        folio.writeback = False

    def swap_read_folio(self, folio: Folio) -> bool:
        """Fill a locked folio from its backend.

        Models: ``swap_read_folio()`` (v6): ZERO -> zero-filled, ``swpin_zero``; ZSWAP ->
        ``zswap_load`` (exclusive in the swap cache: the descriptor becomes FOLIO); SWAPFILE
        -> the device, ``pswpin``. A range with mixed backing, an unbacked, FOLIO or
        unallocated entry is a read error (False).

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
            self._warn("swap_read_folio: ZSWAP descriptor zswap does not hold")
            return False
        if ty == SWAPFILE:
            slot = self.table.backing[int(entry)]
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
        return self.table.cache.get(int(entry)) is folio and folio.uptodate

    # =====================================================================================
    # zswap host: the zswap "tree" is the descriptor's pointer
    # =====================================================================================
    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """The lock zswap's index operations take: the descriptor's cluster (v6 has no tree;
        the zswap entry is found in the descriptor under the cluster lock)."""
        return ("vswap_cluster", int(entry) >> self.table.cluster_shift)

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """The descriptor's virtual id."""
        return int(entry)

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """``zswap_store_page`` stored ``zentry`` for ``entry``: the descriptor points at it."""
        self.vswap_assoc_zswap(entry, zentry)

    def zswap_store_undone(self, folio: Folio) -> None:
        """``zswap_store`` failed: ``vswap_store_folio``."""
        self.vswap_store_folio(folio.swap, folio)

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """An exclusive ``zswap_load``: ``vswap_store_folio`` (the folio is the backend)."""
        self.vswap_store_folio(folio.swap, folio)

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """A swap-cache folio and a physical slot for zswap writeback.

        Models: ``zswap_writeback_entry()`` steps 1-2 under v6: ``__read_swap_cache_async``
        with ``skip_if_exists``, then ``vswap_alloc_swap_slot`` (ZSWAP -> SWAPFILE, charged
        to the recorded owner). An entry no longer ZSWAP is a raced attempt (``EEXIST``).
        """
        e = int(entry)
        t = self.table
        if not t.is_live(e):
            return Errno.ENOMEM
        if self.swap_cache_get_folio(entry) is not None or t.type[e] != ZSWAP:
            return Errno.EEXIST
        zentry = t.backing[e]
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
        """Undo a prepared writeback: back to ZSWAP(zentry) if the descriptor is still the
        SWAPFILE slot writeback made; the new folio leaves the cache."""
        e = int(folio.swap)
        t = self.table
        pending = self._wb_pending.pop(e, None)
        if pending is not None and t.is_live(e) and t.type[e] == SWAPFILE \
                and t.backing[e] == pending[1]:
            self.release_backing(folio.swap, 1)
            if zentry:
                t.type[e] = ZSWAP
                t.backing[e] = zentry
            else:
                self._warn("zswap writeback: entry vanished under a ZSWAP descriptor")
        self.delete_from_swap_cache(folio)
        folio.folio_unlock()

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """Write the decompressed folio to the slot prepare allocated."""
        e = int(folio.swap)
        self._wb_pending.pop(e, None)
        folio.uptodate = True
        folio.dirty = False
        self._swap_writepage_device(folio, SwpSlot(self.table.backing[e]))
        folio.folio_unlock()

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """"zswap: do not start zswap shrinker if there is no physical swap slots"."""
        return self.devices.nr_swap_pages > 0

    # =====================================================================================
    # swapoff ("swap: simplify swapoff using virtual swap")
    # =====================================================================================
    def _pagein(self, entry: SwpEntry) -> Folio | None:
        """Find or read the entry's folio into the swap cache (unlocked)."""
        folio, new = self.read_swap_cache_async(entry)
        if folio is not None and new:
            try:
                ok = self.swap_read_folio(folio)
            except KernelError:
                ok = False
            if not ok:
                folio.uptodate = False
                self.delete_from_swap_cache(folio)
            folio.folio_unlock()
        return folio

    def vswap_swapoff(self, entry: SwpEntry, folio: Folio, type_: int) -> int:
        """Repoint the descriptors of ``folio`` on device ``type_`` to the folio.

        Models: ``vswap_swapoff()``: each SWAPFILE descriptor of the device becomes FOLIO
        (the folio is dirty now), its slot freed and uncharged. Context: folio locked in
        the swap cache at ``entry``. Returns the descriptors converted.
        """
        t = self.table
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

    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Swap a device off without touching a page table.

        Models: ``sys_swapoff()`` with v6's ``try_to_unuse()``: round 1 reads every used
        slot's page into the swap cache (the owner from the reverse map), round 2 repoints
        each owner's descriptors to its folio. ZERO and ZSWAP entries are untouched; no
        PTE is visited. Failures (``ENOMEM``, ``EIO``, ``EINTR``, a locked folio) leave the
        device on with what was converted converted (``completed=False``).

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

        for off in used_offsets():
            if signal_pending is not None and signal_pending():
                error = "EINTR: interrupted by a signal"
                break
            e = col[off] & RMAP_ID_MASK
            if e:
                self._pagein(SwpEntry(e))
        self.tracer.io_wait()
        converted = 0
        if not error:
            for off in used_offsets():
                if smap[off] != SWAP_MAP_ALLOCATED:
                    continue
                if signal_pending is not None and signal_pending():
                    error = "EINTR: interrupted by a signal"
                    break
                e = col[off] & RMAP_ID_MASK
                if not e:
                    continue
                entry = SwpEntry(e)
                folio = self._pagein(entry)
                if folio is None:
                    if not col[off]:
                        continue
                    error = f"ENOMEM: swapoff: unable to allocate swap cache folio for {e:#x}"
                    break
                if not folio.uptodate:
                    error = f"EIO: swapoff: cannot read slot {si.type}:{off} of {e:#x}"
                    break
                if not folio.swapcache or folio.swap != entry:
                    continue
                if not folio.folio_trylock():
                    error = f"EBUSY: swapoff: folio of {e:#x} is locked"
                    break
                converted += self.vswap_swapoff(entry, folio, si.type)
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
        del self.rmap_count[si.type]
        return result

    # =====================================================================================
    # checking, statistics and accounting
    # =====================================================================================
    def swapped_page_locations(self) -> tuple[int, int]:
        """Allocated ZERO descriptors, and allocated SWAPFILE descriptors with a slot."""
        t = self.table
        if not len(t.bitmap):
            return 0, 0
        live = np.frombuffer(t.bitmap, dtype=np.uint8) == 1
        ty = np.frombuffer(t.type, dtype=np.uint8)
        slot = np.frombuffer(t.backing, dtype=np.uint64)
        zero = int(np.count_nonzero(live & (ty == ZERO)))
        device = int(np.count_nonzero(live & (ty == SWAPFILE) & (slot != 0)))
        return zero, device

    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]:
        """Every allocated virtual id: (entry, ``swap_count``, ``in_swapcache``)."""
        t = self.table
        for e in t.live_ids():
            yield SwpEntry(e), t.swap_count[e], bool(t.in_cache[e])

    def swap_peek_entry(self, entry: SwpEntry) -> bytes | None:
        """The stored page of ``entry`` by its backend (ZERO, ZSWAP, a slot); None for a
        FOLIO, unbacked or unallocated entry."""
        e = int(entry)
        t = self.table
        if not t.is_live(e):
            return None
        ty = t.type[e]
        if ty == ZERO:
            return bytes(PAGE_SIZE)
        if ty == ZSWAP:
            return self.zswap._decompress(t.backing[e]) if self.zswap is not None else None
        if ty == SWAPFILE and t.backing[e]:
            slot = SwpSlot(t.backing[e])
            si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
            if si is None:
                return None
            return bytes(si.storage.read_page(swp_slot_offset(slot)))
        return None

    @property
    def vswap_used(self) -> int:
        """debugfs ``vswap/used``."""
        return self.table.used

    def statistics(self) -> VswapV6Stats:
        """A frozen snapshot of the design's counters."""
        return VswapV6Stats(allocator=self.table.statistics(), free_batches=self.free_batches,
                            freed_slots=self.freed_slots, warnings=dict(self.env.warnings))

    def debugfs(self) -> dict[str, int]:
        """The ``/sys/kernel/debug/vswap/`` files."""
        return {"used": self.table.used, "alloc_reject": self.table.alloc_reject}

    def lock_identities(self) -> dict[str, set[Hashable]]:
        """Lock instances by class: one ``vswap_cluster`` lock per live virtual cluster (the
        swap cache, the zswap index and the descriptors), the cluster map's ``xa_lock``."""
        return {"vswap_cluster": {("vswap_cluster", c) for c in self.table.live_cluster_ids()},
                "vswap_cluster_map": {"vswap_cluster_map"}}

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel spends on v6's swap metadata, by structure (the names of the
        ``vswap-v6`` layout): the descriptors and cluster headers of the virtual space; per
        device the allocated and bad bitmaps, one swap table (the reverse map) per cluster
        with an allocated slot, the cluster headers; the zswap entries. v6 has no swap
        cache XArray, no zswap tree, no swap_cgroup, no zeromap."""
        out = dict(self.table.metadata_bytes())
        bitmaps = 0
        tables = 0
        headers = 0
        for si in self.devices.devices():
            bitmaps += sizes.bitmap_bytes(si.max)
            counts = self.rmap_count[si.type]
            tables += sum(1 for n in counts if n)
            headers += si.nr_clusters
        out["allocated_bitmap"] = bitmaps
        out["bad_bitmap"] = bitmaps
        out["swap_table_rmap"] = tables * sizes.SWAP_TABLE_BYTES_PER_CLUSTER
        out["swap_cluster_info"] = headers * sizes.SWAP_CLUSTER_INFO_BYTES_ST
        if self.zswap is not None:
            z = self.zswap.metadata_bytes()
            out["zswap_entry"] = z["zswap_entry"]
            out["zswap_zs_handle"] = z["zs_handle"]
            out["zswap_zspage"] = z["zspage"]
        return out

    def check_invariants(self) -> None:
        """Raise AssertionError unless the design's invariants hold (quiescent points).

        The allocator's and the swap cache's; every allocated descriptor has a reference
        (count or cache bit) and a valid backend (SWAPFILE(s): the slot ALLOCATED and the
        reverse map names the id, the cache-only mark set exactly when count is 0 and the
        cache bit set, with v6's mark; ZSWAP: zswap holds the entry at the id; FOLIO: the
        folio is in the swap cache); the reverse map names only such owners and covers every
        allocated slot, with its per-cluster counts; each non-root memcg's ``memory.swap``
        equals its SWAPFILE-backed descriptors.
        """
        t = self.table
        t.check_invariants()
        for dev in self.devices.devices():
            dev.check_invariants()
        self.swap_cache.check_invariants()
        charged: Counter[int] = Counter()
        for e in t.live_ids():
            count, cached = t.swap_count[e], t.in_cache[e]
            assert count or cached, f"allocated id {e:#x} with no reference"
            ty = t.type[e]
            if ty == SWAPFILE:
                s = t.backing[e]
                assert s, f"id {e:#x} unbacked at a quiescent point"
                type_, off = swp_slot_type(SwpSlot(s)), swp_slot_offset(SwpSlot(s))
                si = self.devices.swap_type_to_swap_info(type_)
                assert si is not None, f"{e:#x} on device {type_} that is gone"
                assert si.swap_map[off] == SWAP_MAP_ALLOCATED, f"{e:#x}: slot not allocated"
                word = self.rmap[type_][off]
                assert word & RMAP_ID_MASK == e, f"{e:#x}: rmap[{type_}:{off}] wrong"
                want = self.rmap_cache_only and not count and bool(cached)
                assert bool(word & RMAP_CACHE_ONLY) == want, f"{e:#x}: cache-only mark"
                charged[t.memcgid[e]] += 1
            elif ty == ZSWAP:
                assert t.backing[e], f"ZSWAP id {e:#x} without an entry"
                if self.zswap is not None:
                    info = self.zswap.lookup(SwpEntry(e))
                    assert info is not None and info.id == t.backing[e], (
                        f"ZSWAP id {e:#x}: zswap does not hold its entry")
            elif ty == FOLIO:
                assert e in t.cache, f"FOLIO id {e:#x}: its folio is not in the swap cache"
            else:
                assert ty == ZERO, f"id {e:#x}: bad type {ty}"
        for type_, col in self.rmap.items():
            si = self.devices.swap_type_to_swap_info(type_)
            assert si is not None
            owners = 0
            per_cluster: Counter[int] = Counter()
            for o in np.flatnonzero(np.frombuffer(col, dtype=np.uint64)).tolist():
                e = col[o] & RMAP_ID_MASK
                assert t.is_live(e) and t.type[e] == SWAPFILE and \
                    t.backing[e] == swp_slot(type_, o), f"rmap {type_}:{o} -> {e:#x}"
                owners += 1
                per_cluster[o // SWAPFILE_CLUSTER] += 1
            assert owners == si.inuse_pages, (
                f"device {type_}: {si.inuse_pages} slots allocated, {owners} owned")
            counts = self.rmap_count[type_]
            for c in range(si.nr_clusters):
                assert counts[c] == per_cluster.get(c, 0), f"rmap count of cluster {c}"
        for folio in self.swap_cache.folios():
            for e in range(int(folio.swap), int(folio.swap) + folio.nr_pages):
                assert t.is_live(e) and t.in_cache[e], f"cached id {e:#x} without its bit"
        if self.zswap is not None:
            total = sum(self.zswap.tree_entry_counts().values())
            zs = sum(1 for e in t.live_ids() if t.type[e] == ZSWAP)
            assert total == zs + len(self._wb_pending), (
                f"zswap holds {total} entries, {zs} ZSWAP descriptors")
        for memcg in self.memcgs:
            if memcg.parent is None:
                continue
            assert memcg.swap.local == charged.get(memcg.id, 0), (
                f"{memcg.path}: memory.swap local {memcg.swap.local} != "
                f"{charged.get(memcg.id, 0)} SWAPFILE entries")
