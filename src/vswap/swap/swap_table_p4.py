"""Swap table phase IV: mainline's swap design, with every per-slot record in the swap table.

Models: Kairui Song's swap table phases II-IV as mainline has them (P2 v5 2025-12-20, P3 v3
2026-02-18 "mm, swap: use the swap table to track the swap count", P4 v5
``20260517-swap-table-p4-v5-0-88ae43e064c7@tencent.com`` with "mm, swap: merge zeromap into
swap table"), read from linux-mm/linux-mm mm/swap_table.h @0822e81d0463 and mm/swap.h
@02aee935cc56. What changes from phase I (:class:`~vswap.swap.swap_table_p1.SwapTableP1`):

* **no swap_map**: each slot's swap count is the 4-bit count field of its swap table word
  (``SWP_TB_COUNT_BITS``); a count of ``SWP_TB_COUNT_MAX`` (15) or more keeps 15 there and
  the whole count in the cluster's ``extend_table`` (``unsigned int`` per slot, allocated on
  the first overflow, freed when no slot of the cluster needs it);
* **no swap_cgroup array**: the memcg id is in the cluster's ``memcg_table``
  (``struct swap_memcg_table``: ``unsigned short id[SWAPFILE_CLUSTER]``), allocated and freed
  with the cluster's swap table;
* **no zeromap**: the zero flag (``SWP_TB_ZERO_FLAG``) is a bit of the table word;
* **no SWAP_HAS_CACHE** (P2): the swap cache entry itself pins a slot and serialises
  swap-ins: a slot is in use while its count is nonzero or a folio is cached at it. The
  model's API still claims a slot before it inserts the folio (``folio_alloc_swap`` /
  ``swapcache_prepare`` then ``add_to_swap_cache``), which the kernel does in one cluster
  lock section (``swap_cache_alloc_folio``, ``folio_alloc_swap``): the claim is the
  placeholder PFN word (:data:`~vswap.swap.swap_table.SWP_TB_PLACEHOLDER`), which a second
  swap-in sees as a cached folio (``-EEXIST``);
* **no swap-cache bypass for synchronous devices** (P2): ``swapcache_bypass`` is False, so
  ``do_swap_page`` reads zram-like devices through the swap cache too;
* cluster headers of 48 bytes (lock, count/flags/order, ``table``, ``memcg_table``,
  ``extend_table``, list: "48 bytes ci info per cluster", P4 v5 cover letter).

The device's allocator byte (``SWAP_MAP_ALLOCATED`` in the shared cluster allocator) stands in
for the kernel's "table word not NULL" test the allocator makes; it is not counted as
metadata (as vswap-v6's allocator bytes stand for its bitmaps). Swapoff still walks the page
tables (``try_to_unuse``), as every non-virtual design.

Invariants (:meth:`SwapTableP4.check_invariants`): a slot is allocated exactly when its word
is not NULL or its count is nonzero... precisely: every allocated slot has a count or a
cached folio (or a claim); every free slot's word is 0; a cluster has its swap and memcg
tables exactly when it has allocated slots, an extend table exactly when a slot's count
field is at ``SWP_TB_COUNT_MAX``; a slot's memcg id is nonzero only while it is allocated.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Final, Protocol

import numpy as np

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.tracing import Cost
from vswap.kernel.types import (
    PAGE_SIZE,
    SWAPFILE_CLUSTER,
    SwpEntry,
    swp_entry,
    swp_offset,
    swp_type,
)
from vswap.swap._api import SwapHooks, SwapoffResult
from vswap.swap.swap_table import (
    SWP_TB_COUNT_MASK,
    SWP_TB_COUNT_MAX,
    SWP_TB_COUNT_SHIFT,
    SWP_TB_PLACEHOLDER,
    SWP_TB_VAL_MASK,
    SWP_TB_ZERO_FLAG,
    swp_tb_is_folio,
    table_words,
)
from vswap.swap.swap_table_p1 import SwapTableP1
from vswap.swap.swapfile import (
    SWAP_MAP_ALLOCATED,
    TTRS_ANYWAY,
    TTRS_FULL,
    TTRS_UNMAPPED,
    SlotOwner,
    SwapInfo,
)

if TYPE_CHECKING:
    from vswap.swap._api import SwapDesign
    from vswap.swap.storage import SwapStorage
    from vswap.zswap.zswap import ZswapHost

class SlotSpace(Protocol):
    """A space of slots with swap tables: a physical device (``SwapInfo``) or, in the Swap
    Table Edition, the virtual swap device."""

    @property
    def type(self) -> int: ...

    @property
    def max(self) -> int: ...


#: ``struct swap_cluster_info`` of P4 v5 (see the module docstring).
SWAP_CLUSTER_INFO_BYTES_P4 = sizes.SWAP_CLUSTER_INFO_BYTES_P4_V5
#: ``extend_table``: one ``unsigned int`` per slot of the cluster.
EXTEND_TABLE_BYTES: Final = 4 * SWAPFILE_CLUSTER


class SwapTableP4(SwapTableP1):
    """Mainline swap (phase IV): counts, zero flag and cached folio in one 8-byte word.

    ``memcg_tables[(type, cluster)]`` (``array('H')``) and ``extend_tables[(type, cluster)]``
    (``array('I')``) live beside the swap tables of :attr:`tables`;
    ``table_users[type][cluster]`` counts each cluster's allocated slots.
    """

    name = "swap-table-p4"
    metadata_layout = "swap-table-p4-v5"
    swapcache_bypass = False

    def __init__(self, *, nr_cpus: int = 1, env: KernelEnv | None = None,
                 hooks: SwapHooks | None = None, default_prio: str = "decreasing") -> None:
        super().__init__(nr_cpus=nr_cpus, env=env, hooks=hooks, default_prio=default_prio)
        self.memcg_tables: dict[tuple[int, int], array[int]] = {}
        self.extend_tables: dict[tuple[int, int], array[int]] = {}

    # -- devices ---------------------------------------------------------------------------------
    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               blkdev: bool | None = None, solidstate: bool = True) -> SwapInfo:
        """Models: ``sys_swapon()`` (P4): cluster headers only; no swap_map, no swap_cgroup,
        no zeromap (tables come with the clusters' first slots)."""
        header = storage.header
        kind = storage.kind
        if blkdev is None:
            blkdev = kind != "file"
        si = self.devices.add_device(
            storage, nr_pages=header.last_page + 1, bad_pages=tuple(header.bad_pages),
            prio=prio, solidstate=solidstate, blkdev=blkdev,
            name=storage.name, kind="file" if kind == "file" else "partition", owner=self)
        self.table_users[si.type] = array("H", bytes(2 * si.nr_clusters))
        if self.zswap is not None:
            self.zswap.zswap_swapon(si.type, si.max)
        return si

    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Models: ``sys_swapoff()`` with ``try_to_unuse()`` (mainline): the page-table walk
        brings every mapped page back, then folios only the swap cache holds are freed; if
        slots remain in use the device stays on (see :meth:`ClassicSwap.swapoff`)."""
        si = self._find_device(name_or_type)
        self.devices.begin_swapoff(si)
        result = SwapoffResult(type=si.type, name=si.name)
        before = si.inuse_pages
        reads_before = self.io_reads
        # try_to_unuse() scans the shmem mappings first (shmem_unuse), then the mms.
        shmem_visited = self.hooks.shmem_unuse(si.type)
        if shmem_visited:
            result.extra["shmem_visited"] = shmem_visited
        result.ptes_visited = self.hooks.unuse_ptes(si.type)
        for offset in range(1, si.max):
            if self.swap_cache_only(si, offset):
                folio = self.swap_cache_get_folio(swp_entry(si.type, offset))
                if folio is not None and folio.folio_trylock():
                    self.folio_free_swap(folio)
                    folio.folio_unlock()
        result.pages_read = self.io_reads - reads_before
        result.pages_unused = before - si.inuse_pages
        if si.inuse_pages:
            self.devices.abort_swapoff(si)
            result.completed = False
            if signal_pending is not None and signal_pending():
                result.error = "EINTR: interrupted by a signal"
            else:
                result.error = f"{si.inuse_pages} slots still in use"
            return result
        if self.zswap is not None:
            self.zswap.zswap_swapoff(si.type)
        self.devices.remove_device(si)
        users = self.table_users.pop(si.type)
        assert not any(users), "swapoff completed with used clusters"
        return result

    # -- the table word ----------------------------------------------------------------------------
    def _word(self, si: SlotSpace, offset: int) -> tuple[array[int], int]:
        table = self.tables.tables.get((si.type, offset // SWAPFILE_CLUSTER))
        if table is None:
            raise KernelError(Errno.ENOENT, f"slot {si.type}:{offset} has no swap table")
        return table, offset % SWAPFILE_CLUSTER

    def _count(self, si: SlotSpace, offset: int) -> int:
        """Models: ``swp_tb_get_count()`` plus the extend table: the full swap count."""
        table, i = self._word(si, offset)
        count = (table[i] & SWP_TB_COUNT_MASK) >> SWP_TB_COUNT_SHIFT
        if count == SWP_TB_COUNT_MAX:
            return int(self.extend_tables[(si.type, offset // SWAPFILE_CLUSTER)][i])
        return count

    def _set_count(self, si: SlotSpace, offset: int, count: int) -> None:
        """Models: ``__swap_table_set_count()``: counts from ``SWP_TB_COUNT_MAX`` on keep the
        field at the maximum and the whole count in the cluster's extend table."""
        table, i = self._word(si, offset)
        key = (si.type, offset // SWAPFILE_CLUSTER)
        if count >= SWP_TB_COUNT_MAX:
            ext = self.extend_tables.get(key)
            if ext is None:
                ext = self.extend_tables[key] = array("I", bytes(EXTEND_TABLE_BYTES))
            ext[i] = count
            field = SWP_TB_COUNT_MAX
        else:
            ext = self.extend_tables.get(key)
            if ext is not None and ext[i]:
                ext[i] = 0
                if not any(ext):
                    del self.extend_tables[key]
            field = count
        table[i] = table[i] & ~SWP_TB_COUNT_MASK | field << SWP_TB_COUNT_SHIFT

    def _cached(self, si: SlotSpace, offset: int) -> bool:
        """A folio is cached at the slot, or a swap-in claimed it (the cache pin)."""
        table, i = self._word(si, offset)
        return swp_tb_is_folio(table[i] & SWP_TB_VAL_MASK)

    def _claimed(self, si: SlotSpace, offset: int) -> bool:
        table, i = self._word(si, offset)
        return table[i] & SWP_TB_VAL_MASK == SWP_TB_PLACEHOLDER

    def _lock(self, si: SlotSpace, offset: int, cost: Cost = Cost.SWAP_MAP_UPDATE) -> None:
        self.tracer.lock_step("swap_cluster", (si.type, offset // SWAPFILE_CLUSTER), cost)

    def _slot(self, entry: SwpEntry) -> tuple[SlotSpace, int] | None:
        """The space and offset of an allocated entry; None otherwise."""
        si = self.devices.swap_type_to_swap_info(swp_type(entry))
        offset = swp_offset(entry)
        if si is None or not 0 < offset < si.max or not self._allocated(si, offset):
            return None
        return si, offset

    def _allocated(self, si: SlotSpace, offset: int) -> bool:
        """Is the slot in use? (The allocator's byte: the kernel's "word not NULL".)"""
        return isinstance(si, SwapInfo) and si.swap_map[offset] == SWAP_MAP_ALLOCATED

    def _allocated_offsets(self, si: SwapInfo, lo: int, hi: int) -> list[int]:
        """The offsets in ``lo .. hi - 1`` of a physical device's slots in use (``_allocated``),
        in order. For the checkers' walks of every slot: ``bytearray.find`` skips the free
        ones in C (most of a device; one Python test per slot was most of a state machine's
        step under coverage)."""
        smap = si.swap_map
        out: list[int] = []
        i = smap.find(SWAP_MAP_ALLOCATED, lo, hi)
        while i >= 0:
            out.append(i)
            i = smap.find(SWAP_MAP_ALLOCATED, i + 1, hi)
        return out

    def _space_get(self, entry: SwpEntry) -> tuple[SlotSpace, int]:
        """``_swap_info_get()`` for any slot space: the space and offset of a used entry.

        Raises:
            KernelError(EINVAL): a bad or unused entry.
        """
        return self._swap_info_get(entry)

    # -- dynamic tables ----------------------------------------------------------------------------
    def _clusters_used(self, si: SwapInfo, offset: int, nr: int) -> None:
        """Models: ``swap_cluster_alloc_table()`` (P4): the swap table and the memcg table of
        a cluster taking its first slot."""
        users = self.table_users[si.type]
        c = offset // SWAPFILE_CLUSTER
        if not users[c]:
            self.tables.alloc_table(si.type, c)
            self.memcg_tables[(si.type, c)] = array("H", bytes(
                sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER))
        users[c] += nr

    def _free_slots(self, si: SlotSpace, offset: int, nr: int) -> None:
        """Models: ``__swap_cluster_free_entries()``: the slots (count 0, nothing cached) are
        freed: memcg uncharged, zswap entries invalidated, words cleared (shadow and zero
        flag), the slots returned; a cluster left with none frees its tables."""
        assert isinstance(si, SwapInfo)
        self.mem_cgroup_uncharge_swap(swp_entry(si.type, offset), nr)
        table, i0 = self._word(si, offset)
        for i in range(i0, i0 + nr):
            table[i] = 0
        if self.zswap is not None:
            for k in range(nr):
                self.zswap.zswap_invalidate(swp_entry(si.type, offset + k))
        self.devices.swap_range_free(si, offset, nr)
        users = self.table_users[si.type]
        c = offset // SWAPFILE_CLUSTER
        users[c] -= nr
        if not users[c]:
            self.tables.free_table(si.type, c)
            del self.memcg_tables[(si.type, c)]
            assert (si.type, c) not in self.extend_tables, "extend table outlived its slots"

    def _free_if_unused(self, si: SlotSpace, offset: int) -> None:
        if not self._count(si, offset) and not self._cached(si, offset):
            self._free_slots(si, offset, 1)

    # -- hibernation -------------------------------------------------------------------------------
    def hibernation_slot_taken(self, si: SwapInfo, offset: int) -> None:
        """Models: ``swap_alloc_hibernation_slot()`` (P2+): the cluster's tables, and a swap
        count of one in the slot's word with no folio (the allocation has none)."""
        self._clusters_used(si, offset, 1)
        self._set_count(si, offset, 1)

    def hibernation_slot_free(self, si: SwapInfo, offset: int) -> None:
        """Models: ``swap_free_hibernation_slot()`` (P2+): the count dropped under the
        cluster lock, then ``__try_to_reclaim_swap(TTRS_ANYWAY)`` for a folio readahead may
        have cached at the slot."""
        self._put_counts(si, offset, 1)
        self.try_to_reclaim_swap(si, offset, TTRS_ANYWAY)

    # -- lifetime ----------------------------------------------------------------------------------
    def folio_alloc_swap(self, folio: Folio) -> SwpEntry:
        """Models: ``folio_alloc_swap()`` (P2+): slots from a cluster with (or now given) its
        tables, held by the swap cache (here: claimed until ``add_to_swap_cache``) with a
        swap count of zero; then the memcg charge into the memcg table."""
        slot = self.devices.swap_slot_alloc(folio.order, SWAP_MAP_ALLOCATED, folio.memcg_id)
        entry = SwpEntry(slot)
        if entry:
            si = self.devices.swap_type_to_swap_info(swp_type(entry))
            assert si is not None
            off = swp_offset(entry)
            self._clusters_used(si, off, folio.nr_pages)
            # The kernel inserts the folio under the allocation's cluster lock; the model
            # claims the range in a section of the insertion's cost (add_to_swap_cache then
            # fills the claim without another).
            self._lock(si, off, Cost.SWAP_CACHE_INSERT)
            self.tables.claim(entry, folio.nr_pages)
        if not self.mem_cgroup_try_charge_swap(folio, entry):
            if entry:
                self.put_swap_folio(folio, entry)
            return SwpEntry(0)
        return entry

    def swap_cgroup_record(self, entry: SwpEntry, memcg_id: int, nr: int) -> None:
        """Models: ``__swap_cgroup_set()``: the memcg table of the entries' cluster."""
        off = swp_offset(entry)
        mt = self.memcg_tables[(swp_type(entry), off // SWAPFILE_CLUSTER)]
        i = off % SWAPFILE_CLUSTER
        for k in range(nr):
            mt[i + k] = memcg_id

    def swap_cgroup_clear(self, entry: SwpEntry, nr: int) -> int:
        """Models: ``__swap_cgroup_clear()``: zero ``nr`` ids, return the first."""
        off = swp_offset(entry)
        mt = self.memcg_tables.get((swp_type(entry), off // SWAPFILE_CLUSTER))
        if mt is None:
            return 0
        i = off % SWAPFILE_CLUSTER
        old = mt[i]
        for k in range(nr):
            mt[i + k] = 0
        return old

    def lookup_swap_cgroup_id(self, entry: SwpEntry) -> int:
        """Models: ``lookup_swap_cgroup_id()`` (P4): the id in the cluster's memcg table."""
        off = swp_offset(entry)
        mt = self.memcg_tables.get((swp_type(entry), off // SWAPFILE_CLUSTER))
        return mt[off % SWAPFILE_CLUSTER] if mt is not None else 0

    def put_swap_folio(self, folio: Folio, entry: SwpEntry) -> None:
        """Models: the end of ``swap_cache_del_folio()`` (P2+; ``put_swap_folio`` in the
        model): the folio left the cache (or its claim is dropped); slots with no swap count
        are freed, in one cluster lock section.

        Raises:
            KernelError(EINVAL): an entry that is not allocated.
        """
        si, offset = self._space_get(entry)
        self._lock(si, offset)
        self._put_swap_folio_locked(si, offset, folio.nr_pages)

    def _put_swap_folio_locked(self, si: SlotSpace, offset: int, nr: int) -> None:
        for off in range(offset, offset + nr):
            if self._claimed(si, off):
                self.tables.unclaim(swp_entry(si.type, off), 1)
        run = 0
        for off in range(offset, offset + nr + 1):
            if off < offset + nr and not self._count(si, off) and not self._cached(si, off):
                run += 1
                continue
            if run:
                self._free_slots(si, off - run, run)
                run = 0

    def delete_from_swap_cache(self, folio: Folio, *, shadow: int | None = None) -> None:
        """Models: ``swap_cache_del_folio()`` (P2+): in one cluster lock section the folio's
        words become ``shadow`` (or NULL) and slots with no swap count are freed (v6.14 and
        phase I take a second section for ``put_swap_folio``)."""
        entry = folio.swap
        si, offset = self._space_get(entry)
        nr = folio.nr_pages
        self.swap_cache._delete_from_swap_cache(folio, entry, shadow)
        self._put_swap_folio_locked(si, offset, nr)

    def swap_duplicate(self, entry: SwpEntry) -> int:
        """Models: ``swap_dup_entries()`` / ``folio_dup_swap()`` (P3+): one more count; past
        ``SWP_TB_COUNT_MAX`` - 1 the count moves to the extend table. Returns 0 (an entry
        that is not in use is ignored, as the kernel's callers hold the PTE)."""
        got = self._slot(entry)
        if got is None:
            return 0
        si, off = got
        self._lock(si, off)
        self._set_count(si, off, self._count(si, off) + 1)
        return 0

    def swapcache_prepare(self, entry: SwpEntry, nr: int = 1) -> int:
        """Claim ``nr`` entries for a swap-in, all or none.

        Models: the check of ``swap_cache_alloc_folio()`` / ``__swap_cache_add_check()``
        (P2+) under the cluster lock: ``-ENOENT`` if an entry has no swap count (freed),
        ``-EEXIST`` if a folio is cached (or claimed) at one; else the entries are claimed.
        """
        first = self._slot(entry)
        if first is None:
            return -Errno.ENOENT
        si, offset = first
        if offset + nr > si.max:
            return -Errno.ENOENT
        self._lock(si, offset, Cost.SWAP_CACHE_INSERT)
        for off in range(offset, offset + nr):
            if not self._allocated(si, off):
                return -Errno.ENOENT
            if self._cached(si, off):
                return -Errno.EEXIST
            if not self._count(si, off):
                return -Errno.ENOENT
        self.tables.claim(entry, nr)
        return 0

    def swapcache_clear(self, entry: SwpEntry, nr: int = 1) -> None:
        """Drop claims :meth:`swapcache_prepare` took (the folio was not inserted); free
        entries left with no count.

        Raises:
            KernelError(EINVAL): an entry that is not claimed.
        """
        si, offset = self._space_get(entry)
        for off in range(offset, offset + nr):
            if not self._claimed(si, off):
                raise KernelError(Errno.EINVAL, f"swapcache_clear on unclaimed slot "
                                                f"{si.type}:{off}")
        self._lock(si, offset)
        self.tables.unclaim(entry, nr)
        for off in range(offset, offset + nr):
            self._free_if_unused(si, off)

    def _put_counts(self, si: SlotSpace, offset: int, nr: int) -> bool:
        """Models: ``swap_put_entries_cluster()``: one count less on each of ``nr`` slots;
        slots reaching 0 with nothing cached are freed. Returns True if any slot is now held
        only by the swap cache."""
        any_cache = False
        end = offset + nr
        off = offset
        while off < end:
            self._lock(si, off)
            stop = min(end, (off // SWAPFILE_CLUSTER + 1) * SWAPFILE_CLUSTER)
            for o in range(off, stop):
                if not self._allocated(si, o) or not self._count(si, o):
                    raise KernelError(Errno.EINVAL, f"swap_free: slot {si.type}:{o} has no "
                                                    "reference to drop")
                count = self._count(si, o) - 1
                self._set_count(si, o, count)
                if not count:
                    if self._cached(si, o):
                        any_cache = True
                    else:
                        self._free_slots(si, o, 1)
            off = stop
        return any_cache

    def swap_free_nr(self, entry: SwpEntry, nr: int = 1) -> None:
        """Models: ``swap_free_nr()`` / ``folio_put_swap()`` (P3+).

        Raises:
            KernelError(EINVAL): an unused entry or one with no count (a double free).
        """
        si, offset = self._space_get(entry)
        self._put_counts(si, offset, nr)

    def free_swap_and_cache_nr(self, entry: SwpEntry, nr: int = 1) -> None:
        """Models: ``free_swap_and_cache_nr()`` (P3+): drop one count from each entry, then
        reclaim swap-cache folios left holding slots nobody maps (``TTRS_UNMAPPED |
        TTRS_FULL``), a folio at a time."""
        si = self.get_swap_device(entry)
        if si is None:
            raise KernelError(Errno.EINVAL, f"Bad swap file entry {entry:#x}")
        try:
            start = swp_offset(entry)
            if start + nr > si.max:
                raise KernelError(Errno.EINVAL, "free_swap_and_cache_nr past device end")
            for off in range(start, start + nr):
                if not self._allocated(si, off):
                    raise KernelError(Errno.EINVAL, f"free_swap_and_cache: unused slot "
                                                    f"{si.type}:{off}")
            if not self._put_counts(si, start, nr):
                return
            offset = start
            end = start + nr
            while offset < end:
                step = 1
                if self.swap_cache_only(si, offset):
                    got = self.try_to_reclaim_swap(si, offset, TTRS_UNMAPPED | TTRS_FULL)
                    if got:
                        size = abs(got)
                        step = ((offset + 1 + size - 1) // size) * size - offset
                offset += step
        finally:
            self.put_swap_device(si)

    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        """Models: the reclaim scans' test (P3+): the slot has no count and a folio cached."""
        if not self._allocated(si, offset):
            return False
        table, i = self._word(si, offset)
        tb = table[i]
        return not tb & SWP_TB_COUNT_MASK and tb & SWP_TB_VAL_MASK != SWP_TB_PLACEHOLDER \
            and swp_tb_is_folio(tb & SWP_TB_VAL_MASK)

    def _only_has_cache(self, si: SlotSpace, offset: int, nr: int) -> bool:
        return all(not self._count(si, off) for off in range(offset, offset + nr))

    def try_to_reclaim_swap(self, si: SwapInfo, offset: int, flags: int) -> int:
        """Models: ``__try_to_reclaim_swap()`` (P3+): as v6.14, "only the cache holds it"
        read from the table counts. Returns the folio's pages if freed, their negative if it
        was kept, 0 if nothing was cached."""
        folio = self.swap_cache_get_folio(swp_entry(si.type, offset))
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
            if not self._only_has_cache(si, swp_offset(folio.swap), nr):
                return -nr
            self.delete_from_swap_cache(folio)
            folio.dirty = True
            return nr
        finally:
            folio.folio_unlock()

    def swp_swapcount(self, entry: SwpEntry) -> int:
        """Models: ``swp_swapcount()`` (P3+): the table count (extend table included)."""
        got = self._slot(entry)
        return self._count(*got) if got is not None else 0

    def folio_swapped(self, folio: Folio) -> bool:
        """Models: ``folio_swapped()``: does any of the folio's slots have a swap count?"""
        got = self._slot(folio.swap)
        if got is None:
            return False
        si, off = got
        return any(self._count(si, o) for o in range(off, off + folio.nr_pages))

    # -- the zero flag -----------------------------------------------------------------------------
    def _zero_test(self, si: SlotSpace, offset: int) -> bool:
        table, i = self._word(si, offset)
        return bool(table[i] & SWP_TB_ZERO_FLAG)

    def swap_zeromap_folio_set(self, folio: Folio) -> None:
        """Models: ``__swap_table_set_zero()`` for each page, ``swpout_zero``."""
        si, off = self._space_get(folio.swap)
        self._lock(si, off)
        table, i0 = self._word(si, off)
        for i in range(i0, i0 + folio.nr_pages):
            table[i] |= SWP_TB_ZERO_FLAG
        self.count_event("swpout_zero", folio.nr_pages, folio.memcg_id)

    def swap_zeromap_folio_clear(self, folio: Folio) -> None:
        """Models: ``__swap_table_clear_zero()`` for each page."""
        si, off = self._space_get(folio.swap)
        table, i0 = self._word(si, off)
        if any(table[i] & SWP_TB_ZERO_FLAG for i in range(i0, i0 + folio.nr_pages)):
            self._lock(si, off)
            for i in range(i0, i0 + folio.nr_pages):
                table[i] &= ~SWP_TB_ZERO_FLAG

    def swap_zeromap_batch(self, entry: SwpEntry, max_nr: int) -> tuple[int, bool]:
        """Models: ``swap_zeromap_batch()`` on the zero flags."""
        si, off = self._space_get(entry)
        first = self._zero_test(si, off)
        n = 1
        while n < max_nr and self._zero_test(si, off + n) == first:
            n += 1
        return n, first

    # -- checkers and reports ----------------------------------------------------------------------
    def swapped_page_locations(self) -> tuple[int, int]:
        """Zero pages: allocated slots with the zero flag; device pages: the other allocated
        slots not in zswap."""
        zero = sum(int(np.count_nonzero(words & np.uint64(SWP_TB_ZERO_FLAG)))
                   for words in table_words(self.tables.tables.values()))
        zswapped = self.zswap.statistics().stored_pages if self.zswap is not None else 0
        inuse = sum(si.inuse_pages for si in self.devices.devices())
        return zero, max(inuse - zero - zswapped, 0)

    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]:
        """Every allocated slot but hibernation's: (entry, swap count, folio cached or
        claimed)."""
        for si in self.devices.devices():
            smap = si.swap_map
            hib = si.hibernation_slots
            for off in range(1, si.max):
                if smap[off] == SWAP_MAP_ALLOCATED and off not in hib:
                    yield swp_entry(si.type, off), self._count(si, off), self._cached(si, off)

    def swap_peek_entry(self, entry: SwpEntry) -> bytes | None:
        """The stored page of ``entry``: the zero flag, then zswap, then the device slot."""
        got = self._slot(entry)
        if got is None:
            return None
        si, off = got
        if self._zero_test(si, off):
            return bytes(PAGE_SIZE)
        if self.zswap is not None:
            info = self.zswap.lookup(entry)
            if info is not None:
                return self.zswap._decompress(info.id)
        assert isinstance(si, SwapInfo)
        return bytes(si.storage.read_page(off))

    def entry_leftovers(self) -> list[str]:
        """Per-cluster tables outliving their slots (none when every slot is free)."""
        out = []
        if self.memcg_tables:
            out.append(f"{len(self.memcg_tables)} memcg tables")
        if self.extend_tables:
            out.append(f"{len(self.extend_tables)} extend tables")
        return out

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel spends on mainline swap metadata (names of the
        ``swap-table-p4-v5`` layout): the 48-byte cluster headers, the swap, memcg and
        extend tables of the clusters that have them, zswap's entries and trees. No
        swap_map, swap_cgroup, zeromap or swapper_spaces."""
        devs = list(self.devices.devices())
        out = {
            "swap_cluster_info": sum(si.nr_clusters for si in devs) * SWAP_CLUSTER_INFO_BYTES_P4,
            "swap_table": self.tables.metadata_bytes(),
            "memcg_table": len(self.memcg_tables)
            * sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER,
            "extend_table": len(self.extend_tables) * EXTEND_TABLE_BYTES,
        }
        if self.zswap is not None:
            z = self.zswap.metadata_bytes()
            out["zswap_tree_xarray"] = z["zswap_tree_xarray"]
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
        for si in self.devices.devices():
            users = self.table_users[si.type]
            smap = si.swap_map
            for c in range(si.nr_clusters):
                key = (si.type, c)
                lo, hi = c * SWAPFILE_CLUSTER, min((c + 1) * SWAPFILE_CLUSTER, si.max)
                used = [off for off in range(lo, hi) if smap[off] == SWAP_MAP_ALLOCATED]
                assert users[c] == len(used), f"cluster {key}: {users[c]} users, {len(used)}"
                assert (key in tables.tables) == bool(used) == (key in self.memcg_tables), (
                    f"cluster {key}: tables do not follow its {len(used)} used slots")
                if not used:
                    assert key not in self.extend_tables, f"cluster {key}: stray extend table"
                    continue
                table = tables.tables[key]
                mt = self.memcg_tables[key]
                ext = self.extend_tables.get(key)
                overflow = False
                for off in range(lo, hi):
                    i = off % SWAPFILE_CLUSTER
                    if smap[off] != SWAP_MAP_ALLOCATED:
                        assert table[i] == 0 and mt[i] == 0, f"free slot {si.type}:{off} " \
                                                             "holds a word or a memcg id"
                        continue
                    field = (table[i] & SWP_TB_COUNT_MASK) >> SWP_TB_COUNT_SHIFT
                    if field == SWP_TB_COUNT_MAX:
                        overflow = True
                        assert ext is not None and ext[i] >= SWP_TB_COUNT_MAX, (
                            f"slot {si.type}:{off}: count continued with no extend entry")
                    else:
                        assert ext is None or not ext[i], f"slot {si.type}:{off}: stale extend"
                    assert field or swp_tb_is_folio(table[i] & SWP_TB_VAL_MASK), (
                        f"allocated slot {si.type}:{off} with no count and nothing cached")
                assert overflow == (ext is not None), f"cluster {key}: extend table mismatch"
        assert all(ty in self.table_users for ty, _c in tables.tables), "table of no device"


if TYPE_CHECKING:
    def _implements(d: SwapTableP4) -> tuple[SwapDesign, ZswapHost, SlotOwner]:
        """Static check (mypy): the class satisfies the swap API, zswap's host protocol and
        the devices' owner protocol."""
        return d, d, d
