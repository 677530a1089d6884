"""Swap devices: ``swap_info_struct``, the cluster allocator, swap counts, priorities.

Models: mm/swapfile.c at v6.14 (the seed's base), with the seed's renames where they help
(``swap_slot_alloc`` for ``get_swap_pages``). What lives here is the *physical* layer that
both designs share: per-device ``swap_map`` bytes, 512-slot clusters on free / nonfull / frag /
full lists, the per-CPU current cluster (a global one for rotational devices), priorities and
the avail list, swap-count continuation, ``inuse_pages`` and the global
``nr_swap_pages`` / ``total_swap_pages``.

Cluster states (``ClusterFlag``; a cluster is on the list its flag names, or on none when
``NONE``):

======== ==================================================== ==============================
state    meaning                                              left by
======== ==================================================== ==============================
FREE     count == 0; any order may take it                    isolation for an allocation
NONE     isolated: taken off the free list by an allocation   relocate_cluster after it
FRAG     partially used after an allocation in it             becoming full or empty
NONFULL  partially used after a free in a full/frag cluster   allocation (isolation)
FULL     count == SWAPFILE_CLUSTER                            a free (-> NONFULL or FREE)
======== ==================================================== ==============================

``ci->order`` is fixed by the first allocation in an empty cluster; orders > 0 only allocate
in clusters of their own order, order 0 anywhere usable (``cluster_is_usable``).

Invariants (:meth:`SwapInfo.check_invariants`):

* ``cluster_count[c]`` equals the nonzero ``swap_map`` bytes in cluster ``c``, counting bad
  slots, the header slot 0, and slots past ``max`` in the last cluster.
* Every cluster is on exactly the list its flag names (none for NONE).
* ``inuse_pages`` equals the slots with a nonzero map byte that are not bad.
* A device is on the avail list iff it is WRITEOK and ``inuse_pages < pages``.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import (
    MAX_SWAPFILES,
    PAGE_SIZE,
    SWAP_NR_ORDERS,
    SWAPFILE_CLUSTER,
    SwpEntry,
    SwpSlot,
    swp_slot,
)
from vswap.swap.tiers import SwapTiers

if TYPE_CHECKING:
    from vswap.swap.storage import SwapStorage

# -- swap_map byte values (include/linux/swap.h, v6.14) -----------------------------------
SWAP_HAS_CACHE: Final = 0x40
SWAP_MAP_MAX: Final = 0x3E
SWAP_MAP_BAD: Final = 0x3F
SWAP_MAP_SHMEM: Final = 0xBF
COUNT_CONTINUED: Final = 0x80
SWAP_CONT_MAX: Final = 0x7F
#: Under the virtual design (seed patch 10) the map has three states only.
SWAP_MAP_ALLOCATED: Final = 0x01
VSWAP_MAP_BAD: Final = 0x02

#: Swap priorities given by swapon(2): 0..SWAP_FLAG_PRIO_MASK.
SWAP_FLAG_PRIO_MASK: Final = 0x7FFF

# -- si->flags (include/linux/swap.h) ----------------------------------------------------
SWP_USED: Final = 1 << 0
SWP_WRITEOK: Final = 1 << 1
SWP_DISCARDABLE: Final = 1 << 2
SWP_BLKDEV: Final = 1 << 4
SWP_SOLIDSTATE: Final = 1 << 8
#: ``SWP_SYNCHRONOUS_IO``: the device completes I/O synchronously (zram, pmem): swap-in may
#: skip the swap cache. Set at swapon for memory devices (``storage.kind == "mem"``).
SWP_SYNCHRONOUS_IO: Final = 1 << 12


class ClusterFlag(enum.IntEnum):
    """``CLUSTER_FLAG_*`` of mm/swap.h (v6.14); see the module docstring for transitions."""

    NONE = 0
    FREE = 1
    NONFULL = 2
    FRAG = 3
    FULL = 4


#: ``CLUSTER_FLAG_USABLE``: flags up to FRAG can still serve allocations.
CLUSTER_FLAG_USABLE: Final = ClusterFlag.FRAG
#: Free clusters are queued interleaved by 64 MiB address space (``SWAP_CLUSTER_COLS``), so
#: consecutive clusters handed out fall in different swap-cache spaces (less lock sharing).
SWAP_CLUSTER_COLS: Final = 32
#: ``SWAP_BATCH``: the most entries one get_swap_pages call asks for.
SWAP_BATCH: Final = 64


def _ordered() -> dict[int, None]:
    """An insertion-ordered set of cluster indices: the model of a ``list_head`` list."""
    return {}


class SlotOwner(Protocol):
    """What a swap device asks the swap design that owns its slots; given at ``swapon``.

    The cluster allocator's reclaim scans (``cluster_scan_range``, ``cluster_reclaim_range``,
    ``swap_reclaim_full_clusters``) need three answers only the design has: is a used slot
    held by nothing but the swap cache, free the swap-cache folio holding it, and is swap
    over half full. The design implements this protocol and passes itself to
    :meth:`SwapDevices.add_device`; nothing is assigned to a device afterwards.
    """

    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        """Is used slot ``offset`` of ``si`` referenced only by the swap cache?

        Models: the ``swap_map[offset] == SWAP_HAS_CACHE`` test of v6.14's scans; under
        vswap, ``swap_cache_only()`` of patch 10 (the reverse-map owner's refs are 1).
        """

    def cache_only_slots_possible(self, si: SwapInfo) -> bool:
        """Can any slot of ``si`` be cache-only now? False lets a full-cluster scan stop
        before it looks at a slot (vswap: no folio is in the swap cache)."""

    def try_to_reclaim_swap(self, si: SwapInfo, offset: int, flags: int) -> int:
        """Models: ``__try_to_reclaim_swap(si, offset, flags)``: free the swap-cache folio
        holding slot ``offset``. Returns its pages if freed, their negative if it was kept,
        0 if no folio was cached there."""

    def vm_swap_full(self) -> bool:
        """Models: ``vm_swap_full()``: less than half of all swap is free."""


class UnownedSlots:
    """The :class:`SlotOwner` of a device added with no design (allocator tests and
    benchmarks): the classic map test, nothing to reclaim, ``vm_swap_full`` of the set."""

    def __init__(self, devices: SwapDevices) -> None:
        self.devices = devices

    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        return si.swap_map[offset] == SWAP_HAS_CACHE

    def cache_only_slots_possible(self, si: SwapInfo) -> bool:
        return False

    def try_to_reclaim_swap(self, si: SwapInfo, offset: int, flags: int) -> int:
        return 0

    def vm_swap_full(self) -> bool:
        return self.devices.vm_swap_full()


#: ``__try_to_reclaim_swap()`` flags (mm/swapfile.c): reclaim regardless, only if no PTE
#: maps the folio, or only if swap is over half full.
TTRS_ANYWAY: Final = 0x1
TTRS_UNMAPPED: Final = 0x2
TTRS_FULL: Final = 0x4


@dataclass(frozen=True)
class SwapDeviceInfo:
    """One ``/proc/swaps`` line's worth of facts about a device."""

    type: int
    name: str
    kind: str
    size_kib: int
    used_kib: int
    prio: int


class SwapInfo:
    """One swap device. Models: ``struct swap_info_struct`` and its allocator.

    ``map_bad`` is the byte a bad slot holds (``SWAP_MAP_BAD`` classic, 0x02 under vswap).
    ``owner`` is the design that owns the slots (:class:`SlotOwner`): the reclaim scans ask
    it which slots are cache-only and have it free them.
    """

    def __init__(self, type_: int, storage: SwapStorage, *, nr_pages: int,
                 bad_pages: tuple[int, ...], prio: int, solidstate: bool, blkdev: bool,
                 nr_cpus: int, map_bad: int, name: str, kind: str, owner: SlotOwner,
                 synchronous_io: bool = False) -> None:
        self.type = type_
        self.owner = owner
        self.storage = storage
        self.name = name
        self.kind = kind
        self.prio = prio
        self.flags = SWP_USED | SWP_WRITEOK
        if solidstate:
            self.flags |= SWP_SOLIDSTATE
        if blkdev:
            self.flags |= SWP_BLKDEV
        if synchronous_io:
            self.flags |= SWP_SYNCHRONOUS_IO
        self.max = nr_pages
        self.map_bad = map_bad
        self.swap_map = bytearray(nr_pages)
        self.swap_map[0] = map_bad
        bad = sorted({b for b in bad_pages if 0 < b < nr_pages})
        for b in bad:
            self.swap_map[b] = map_bad
        self.nr_badpages = len(bad)
        #: ``si->pages``: usable slots (not the header, not bad).
        self.pages = nr_pages - 1 - len(bad)
        self.inuse_pages = 0
        self.users = 1
        self.dying = False
        self.nr_clusters = (nr_pages + SWAPFILE_CLUSTER - 1) // SWAPFILE_CLUSTER
        self.cluster_count = array("H", bytes(2 * self.nr_clusters))
        self.cluster_flags = bytearray(self.nr_clusters)
        self.cluster_order = bytearray(self.nr_clusters)
        self.free_clusters = _ordered()
        self.full_clusters = _ordered()
        self.nonfull_clusters = [_ordered() for _ in range(SWAP_NR_ORDERS)]
        self.frag_clusters = [_ordered() for _ in range(SWAP_NR_ORDERS)]
        #: Per-CPU ``next[order]`` (solid state) or one global set (rotational); 0 = invalid.
        self.nr_cpus = nr_cpus if solidstate else 1
        self.cluster_next = [[0] * SWAP_NR_ORDERS for _ in range(self.nr_cpus)]
        #: Swap count continuation: digits above the swap_map byte, per offset, and the
        #: continuation pages allocated per swap_map page (``page->lru`` chains).
        self.cont_digits: dict[int, list[int]] = {}
        self.cont_pages: dict[int, int] = {}
        #: Slots held by a hibernation image (``swap_slot_alloc_of_type``), owned by no swap
        #: entry: the kernel keeps them in kernel/power/swap.c's ``swsusp_extents``; the
        #: model keeps them here so the checkers can tell them from entries.
        self.hibernation_slots: set[int] = set()
        self._setup_clusters(bad)

    # -- setup ------------------------------------------------------------------------
    def _setup_clusters(self, bad: list[int]) -> None:
        """Models: ``setup_clusters()``: count header, bad and tail slots, queue clusters."""
        self.cluster_count[0] += 1
        for b in bad:
            self.cluster_count[b // SWAPFILE_CLUSTER] += 1
        tail = self.nr_clusters * SWAPFILE_CLUSTER - self.max
        if tail:
            self.cluster_count[self.nr_clusters - 1] += tail
        cols = SWAP_CLUSTER_COLS
        for k in range(cols):
            for c in range(k, self.nr_clusters, cols):
                if self.cluster_count[c]:
                    self.cluster_flags[c] = ClusterFlag.NONFULL
                    self.nonfull_clusters[0][c] = None
                else:
                    self.cluster_flags[c] = ClusterFlag.FREE
                    self.free_clusters[c] = None

    # -- cluster lists ------------------------------------------------------------------
    def _list_of(self, c: int) -> dict[int, None] | None:
        flag = self.cluster_flags[c]
        if flag == ClusterFlag.FREE:
            return self.free_clusters
        if flag == ClusterFlag.NONFULL:
            return self.nonfull_clusters[self.cluster_order[c]]
        if flag == ClusterFlag.FRAG:
            return self.frag_clusters[self.cluster_order[c]]
        if flag == ClusterFlag.FULL:
            return self.full_clusters
        return None

    def _move_cluster(self, c: int, flag: ClusterFlag) -> None:
        """Models: ``move_cluster()``: off its current list, to the tail of ``flag``'s list."""
        old = self._list_of(c)
        if old is not None:
            del old[c]
        self.cluster_flags[c] = flag
        new = self._list_of(c)
        if new is not None:
            new[c] = None

    def _isolate_cluster(self, lst: dict[int, None]) -> int:
        """Models: ``isolate_lock_cluster()``: take the first cluster off ``lst`` (-1: none)."""
        for c in lst:
            del lst[c]
            self.cluster_flags[c] = ClusterFlag.NONE
            return c
        return -1

    def _free_cluster(self, c: int) -> None:
        """Models: ``free_cluster()`` (no discard): the cluster goes back to the free list."""
        self._move_cluster(c, ClusterFlag.FREE)
        self.cluster_order[c] = 0

    def _relocate_cluster(self, c: int) -> None:
        """Models: ``relocate_cluster()``: after an allocation, file the cluster by its count."""
        count = self.cluster_count[c]
        if not count:
            if self.cluster_flags[c] != ClusterFlag.FREE:
                self._free_cluster(c)
        elif count != SWAPFILE_CLUSTER:
            if self.cluster_flags[c] != ClusterFlag.FRAG:
                self._move_cluster(c, ClusterFlag.FRAG)
        elif self.cluster_flags[c] != ClusterFlag.FULL:
            self._move_cluster(c, ClusterFlag.FULL)

    def _partial_free_cluster(self, c: int) -> None:
        """Models: ``partial_free_cluster()``: a free in a cluster makes it NONFULL."""
        if self.cluster_flags[c] != ClusterFlag.NONFULL:
            self._move_cluster(c, ClusterFlag.NONFULL)

    def _cluster_is_usable(self, c: int, order: int) -> bool:
        if self.cluster_flags[c] > CLUSTER_FLAG_USABLE:
            return False
        if not order:
            return True
        return self.cluster_count[c] == 0 or self.cluster_order[c] == order

    # -- allocation -----------------------------------------------------------------------
    def _cluster_scan_range(self, c: int, start: int, nr: int) -> tuple[bool, bool]:
        """Models: ``cluster_scan_range()``: (usable, need_reclaim) for ``start..start+nr``."""
        if self.cluster_count[c] == 0:
            return True, False
        need_reclaim = False
        swap_map = self.swap_map
        owner = self.owner
        for off in range(start, start + nr):
            if swap_map[off] == 0:
                continue
            if owner.swap_cache_only(self, off):
                if not owner.vm_swap_full():
                    return False, False
                need_reclaim = True
                continue
            return False, False
        return True, need_reclaim

    def _cluster_reclaim_range(self, start: int, end: int) -> bool:
        """Models: ``cluster_reclaim_range()``: free cache-only slots so the range is free.

        Stops at the first slot that is neither free nor reclaimable, as the kernel does.
        """
        owner = self.owner
        off = start
        while off < end:
            if self.swap_map[off] == 0:
                off += 1
            elif owner.swap_cache_only(self, off):
                n = owner.try_to_reclaim_swap(self, off, TTRS_ANYWAY)
                if n <= 0:
                    return False
                off += n
            else:
                return False
        return all(self.swap_map[o] == 0 for o in range(start, end))

    def _alloc_scan_cluster(self, c: int, offset: int, order: int, usage: int,
                            cpu: int) -> int:
        """Models: ``alloc_swap_scan_cluster()``: first fit in cluster ``c`` from ``offset``."""
        nr = 1 << order
        start = c * SWAPFILE_CLUSTER
        end = min(start + SWAPFILE_CLUSTER, self.max)
        found = 0
        nxt = 0
        swap_map = self.swap_map
        if end >= nr and self.cluster_count[c] + nr <= SWAPFILE_CLUSTER:
            last = end - nr
            while offset <= last:
                if nr == 1 and not swap_map[offset]:
                    # A free slot: what _cluster_scan_range answers, without the call.
                    ok, need_reclaim = True, False
                else:
                    ok, need_reclaim = self._cluster_scan_range(c, offset, nr)
                if not ok:
                    offset += nr
                    continue
                if need_reclaim:
                    reclaimed = self._cluster_reclaim_range(offset, offset + nr)
                    if not self._cluster_is_usable(c, order):
                        break
                    if self.cluster_count[c] == 0:
                        offset = start
                    if not reclaimed:
                        offset += nr
                        continue
                if not self.flags & SWP_WRITEOK:
                    break
                if self.cluster_count[c] == 0:
                    self.cluster_order[c] = order
                if nr == 1:
                    swap_map[offset] = usage
                else:
                    swap_map[offset:offset + nr] = bytes([usage]) * nr
                self.inuse_pages += nr
                self.cluster_count[c] += nr
                found = offset
                offset += nr
                if self.cluster_count[c] < SWAPFILE_CLUSTER and offset <= last:
                    nxt = offset
                break
        self._relocate_cluster(c)
        self.cluster_next[cpu if self.nr_cpus > 1 else 0][order] = nxt
        return found

    def cluster_alloc_swap_entry(self, order: int, usage: int, cpu: int = 0) -> int:
        """Allocate ``1 << order`` contiguous slots; return the first offset, or 0.

        Models: ``cluster_alloc_swap_entry()`` (v6.14): the CPU's current cluster first,
        then a free cluster, then (reclaiming full clusters if swap is over half full)
        nonfull and frag clusters of this order; order 0 finally steals from the frag and
        nonfull clusters of higher orders. Swap *files* (no ``SWP_BLKDEV``) refuse orders > 0,
        so a large folio is split by the caller.
        """
        if order and not self.flags & SWP_BLKDEV:
            return 0
        if not self.flags & SWP_WRITEOK:
            return 0
        cpu_slot = cpu % self.nr_cpus if self.nr_cpus > 1 else 0
        offset = self.cluster_next[cpu_slot][order]
        if offset:
            c = offset // SWAPFILE_CLUSTER
            if self._cluster_is_usable(c, order):
                if self.cluster_count[c] == 0:
                    offset = c * SWAPFILE_CLUSTER
                found = self._alloc_scan_cluster(c, offset, order, usage, cpu_slot)
                if found:
                    return self._done(found)
        c = self._isolate_cluster(self.free_clusters)
        if c >= 0:
            found = self._alloc_scan_cluster(c, c * SWAPFILE_CLUSTER, order, usage, cpu_slot)
            if found:
                return self._done(found)
        if self.owner.vm_swap_full():
            self.swap_reclaim_full_clusters(force=False)
        if order < SWAP_NR_ORDERS - 1:
            frags = 0
            while (c := self._isolate_cluster(self.nonfull_clusters[order])) >= 0:
                found = self._alloc_scan_cluster(c, c * SWAPFILE_CLUSTER, order, usage,
                                                 cpu_slot)
                if found:
                    return self._done(found)
                frags += 1
            frags_existing = len(self.frag_clusters[order])
            while frags < frags_existing and (
                    c := self._isolate_cluster(self.frag_clusters[order])) >= 0:
                found = self._alloc_scan_cluster(c, c * SWAPFILE_CLUSTER, order, usage,
                                                 cpu_slot)
                if found:
                    return self._done(found)
                frags += 1
        if order:
            return 0
        for o in range(1, SWAP_NR_ORDERS):
            for lst in (self.frag_clusters[o], self.nonfull_clusters[o]):
                while (c := self._isolate_cluster(lst)) >= 0:
                    found = self._alloc_scan_cluster(c, c * SWAPFILE_CLUSTER, 0, usage,
                                                     cpu_slot)
                    if found:
                        return self._done(found)
        return 0

    def _done(self, found: int) -> int:
        # The kernel schedules reclaim work when the device is nearly full after a success.
        if self.owner.vm_swap_full() and self.pages - self.inuse_pages < SWAPFILE_CLUSTER:
            self.swap_reclaim_full_clusters(force=True)
        return found

    def swap_reclaim_full_clusters(self, *, force: bool) -> int:
        """Models: ``swap_reclaim_full_clusters()``: free cache-only slots in full clusters.

        Without ``force`` it scans at most one cluster's worth of slots (SWAPFILE_CLUSTER), as
        the allocation path does; with ``force`` (the reclaim work) all full clusters.
        Returns the slots freed.
        """
        owner = self.owner
        if not owner.cache_only_slots_possible(self):
            return 0
        to_scan = len(self.full_clusters) if force else 1
        freed = 0
        for c in list(self.full_clusters)[:to_scan]:
            start = c * SWAPFILE_CLUSTER
            end = min(start + SWAPFILE_CLUSTER, self.max)
            off = start
            while off < end:
                if self.swap_map[off] and owner.swap_cache_only(self, off):
                    n = owner.try_to_reclaim_swap(self, off, TTRS_ANYWAY)
                    if n > 0:
                        freed += n
                        off += n
                        continue
                off += 1
        return freed

    def claim_slot(self, offset: int, usage: int) -> None:
        """Allocate exactly the free slot ``offset`` (swapfile compaction's destination).

        Models: no kernel function (cluster compaction is future work upstream,
        :mod:`vswap.swap.compaction`); the accounting is the allocator's: the map byte,
        ``inuse_pages``, the cluster count, and the cluster filed by its new count (a free
        cluster becomes FRAG of order 0, a filled one FULL).
        """
        if self.swap_map[offset]:
            raise KernelError(Errno.EBUSY, f"claim of slot {offset}: in use")
        c = offset // SWAPFILE_CLUSTER
        if self.cluster_count[c] == 0:
            self.cluster_order[c] = 0
        self.swap_map[offset] = usage
        self.inuse_pages += 1
        self.cluster_count[c] += 1
        self._relocate_cluster(c)

    # -- freeing --------------------------------------------------------------------------
    def swap_range_free_map(self, offset: int, nr: int) -> None:
        """Clear ``nr`` map bytes and update cluster and in-use accounting.

        Models: the map/cluster half of ``swap_entry_range_free()`` + ``swap_range_free()``
        (the design does the rest: zswap invalidate, shadow clear, memcg uncharge). The range
        lies in one cluster.
        """
        c = offset // SWAPFILE_CLUSTER
        if (offset + nr - 1) // SWAPFILE_CLUSTER != c:
            raise KernelError(Errno.EINVAL, f"free range {offset}+{nr} crosses a cluster")
        self.swap_map[offset:offset + nr] = bytes(nr)
        self.inuse_pages -= nr
        self.cluster_count[c] -= nr
        if self.cluster_count[c] == 0:
            self._free_cluster(c)
        else:
            self._partial_free_cluster(c)

    # -- swap count continuation ------------------------------------------------------------
    def swap_count_continued_inc(self, offset: int) -> bool:
        """Carry one into the continuation digits of ``offset`` (its low byte is at MAX).

        Models: ``swap_count_continued()`` incrementing. Returns False when the carry needs a
        continuation page that is not allocated yet (the kernel's ``-ENOMEM`` that makes
        ``swap_duplicate`` call ``add_swap_count_continuation`` and retry).
        """
        digits = self.cont_digits.get(offset, [])
        levels = self.cont_pages.get(offset // PAGE_SIZE, 0)
        i = 0
        while i < len(digits) and digits[i] == SWAP_CONT_MAX:
            i += 1
        if i >= levels:
            return False
        new = list(digits)
        for j in range(i):
            new[j] = 0
        if i < len(new):
            new[i] += 1
        else:
            new.append(1)
        self.cont_digits[offset] = new
        return True

    def swap_count_continued_dec(self, offset: int) -> bool:
        """Borrow one from the continuation digits; return True if any count remains there.

        Models: ``swap_count_continued()`` decrementing.
        """
        digits = self.cont_digits[offset]
        i = 0
        while digits[i] == 0:
            digits[i] = SWAP_CONT_MAX
            i += 1
        digits[i] -= 1
        while digits and digits[-1] == 0:
            digits.pop()
        if not digits:
            del self.cont_digits[offset]
            return False
        return True

    def add_swap_count_continuation(self, offset: int) -> None:
        """Models: ``add_swap_count_continuation()``: one more continuation page level for the
        swap_map page holding ``offset``. Pages stay until swapoff, as in the kernel."""
        page = offset // PAGE_SIZE
        self.cont_pages[page] = self.cont_pages.get(page, 0) + 1

    def full_count(self, offset: int) -> int:
        """The whole swap count of ``offset`` (map byte plus continuation digits)."""
        v = self.swap_map[offset] & ~SWAP_HAS_CACHE
        if v == self.map_bad:
            return 0
        if v == SWAP_MAP_SHMEM & ~SWAP_HAS_CACHE:
            return 1  # the shmem mapping's one reference, freed like a count of 1
        low = v & ~COUNT_CONTINUED
        if not v & COUNT_CONTINUED:
            return low
        count = 0
        mult = 1
        for d in self.cont_digits.get(offset, []):
            count += d * mult
            mult *= SWAP_CONT_MAX + 1
        return low + (SWAP_MAP_MAX + 1) * count

    # -- queries --------------------------------------------------------------------------
    def slot(self, offset: int) -> SwpSlot:
        """The physical slot ``(type, offset)``."""
        return swp_slot(self.type, offset)

    def used_pages(self) -> int:
        """Models: ``swap_usage_in_pages()``."""
        return self.inuse_pages

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel spends on this device's physical structures."""
        return {
            "swap_map": self.max * sizes.SWAP_MAP_BYTES_PER_SLOT,
            "swap_cont_pages": sum(self.cont_pages.values()) * sizes.SWAP_CONT_PAGE_BYTES,
            "cluster_info": self.nr_clusters * sizes.SWAP_CLUSTER_INFO_BYTES,
            "percpu_cluster": self.nr_cpus * sizes.PERCPU_CLUSTER_BYTES,
        }

    def check_invariants(self) -> None:
        """Raise AssertionError unless the module-docstring invariants hold."""
        counts = [0] * self.nr_clusters
        inuse = 0
        smap = self.swap_map
        for off in range(len(smap)):  # not enumerate(): mypyc (2.4) cannot loop over a bytearray
            v = smap[off]
            if v:
                counts[off // SWAPFILE_CLUSTER] += 1
                if v != self.map_bad:
                    inuse += 1
        tail = self.nr_clusters * SWAPFILE_CLUSTER - self.max
        if tail:
            counts[-1] += tail
        assert list(self.cluster_count) == counts, "cluster counts != map"
        assert inuse == self.inuse_pages, f"inuse_pages {self.inuse_pages} != {inuse}"
        for off in self.hibernation_slots:
            assert self.swap_map[off] & ~SWAP_HAS_CACHE == 1, (
                f"hibernation slot {self.type}:{off} in state {self.swap_map[off]:#x}")
        seen: dict[int, str] = {}
        lists = [("free", self.free_clusters), ("full", self.full_clusters)]
        lists += [(f"nonfull[{o}]", lst) for o, lst in enumerate(self.nonfull_clusters)]
        lists += [(f"frag[{o}]", lst) for o, lst in enumerate(self.frag_clusters)]
        for name, lst in lists:
            for c in lst:
                assert c not in seen, f"cluster {c} on {seen.get(c)} and {name}"
                seen[c] = name
                assert self._list_of(c) is lst, f"cluster {c} on {name} with wrong flag"
        for c in range(self.nr_clusters):
            if self.cluster_flags[c] == ClusterFlag.NONE:
                assert c not in seen
            else:
                assert c in seen, f"cluster {c} flagged but on no list"
            if self.cluster_flags[c] == ClusterFlag.FREE:
                assert self.cluster_count[c] == 0, f"free cluster {c} has count"
            if self.cluster_flags[c] == ClusterFlag.FULL:
                assert self.cluster_count[c] == SWAPFILE_CLUSTER


class SwapDevices:
    """All swap devices of a machine: ``swap_info[]``, the avail list, global counts.

    Models: ``swap_info[]``, ``swap_avail_heads`` (one NUMA node), ``nr_swap_pages``,
    ``total_swap_pages``, ``least_priority``, ``get_swap_pages()`` (``swap_slot_alloc`` in the
    seed), ``vm_swap_full()``, ``si_swapinfo()`` and ``/proc/swaps``.

    ``default_prio`` selects how devices added without a priority are ordered: ``"decreasing"``
    gives -1, -2, ... (v6.14, and this host's 6.18), ``"round-robin"`` gives all -1 so they
    share load (upstream commit 52f37efc, late 2025).
    """

    def __init__(self, *, env: KernelEnv | None = None, nr_cpus: int = 1,
                 default_prio: str = "decreasing", map_bad: int = SWAP_MAP_BAD,
                 max_swapfiles: int = MAX_SWAPFILES) -> None:
        self.env = env if env is not None else KernelEnv()
        if default_prio not in ("decreasing", "round-robin"):
            raise KernelError(Errno.EINVAL, f"unknown default priority rule {default_prio!r}")
        self.nr_cpus = nr_cpus
        self.default_prio = default_prio
        self.map_bad = map_bad
        self.max_swapfiles = max_swapfiles
        self.swap_info: list[SwapInfo | None] = []
        self.avail: list[SwapInfo] = []
        self.least_priority = 0
        self.nr_swap_pages = 0
        self.total_swap_pages = 0
        #: ``nr_rotate_swap``: swapped-on devices that are not ``SWP_SOLIDSTATE`` (a disk, or
        #: a swap file on one). While any is on, swap-in reads ahead by cluster, never by VMA
        #: (``swap_use_vma_readahead()``), whatever ``vma_ra_enabled`` says.
        self.nr_rotate_swap = 0
        #: Swap tiers (``/sys/kernel/mm/swap/tiers``) and the cgroups' tier masks; with
        #: none defined the allocator ignores them.
        self.tiers = SwapTiers(self.env.memcgs)

    @property
    def tracer(self) -> KernelTracer:
        """The env's kernel-step hooks: a slot allocation names its cluster's lock."""
        return self.env.tracer

    @property
    def faults(self) -> FaultInjector:
        """The env's fault injector (point ``device_full``)."""
        return self.env.faults

    # -- swapon / swapoff bookkeeping ----------------------------------------------------
    def add_device(self, storage: SwapStorage, *, nr_pages: int, bad_pages: tuple[int, ...] = (),
                   prio: int | None = None, solidstate: bool = True, blkdev: bool = False,
                   name: str, kind: str, synchronous_io: bool | None = None,
                   owner: SlotOwner | None = None) -> SwapInfo:
        """Register a device (the bookkeeping half of the ``swapon`` syscall).

        ``owner`` is the design the slots belong to (:class:`SlotOwner`); None gives a
        device nothing reclaims (:class:`UnownedSlots`, for allocator tests).

        ``synchronous_io`` None: decided from the storage's kind, as ``sys_swapon()`` sets
        ``SWP_SYNCHRONOUS_IO`` when ``bdev_synchronous()``: memory devices (zram-like) are.

        Raises:
            KernelError(EPERM): MAX_SWAPFILES devices already exist.
            KernelError(EBUSY): a device with the same name is already swapped on.
            KernelError(EINVAL): ``prio`` outside 0..32767, or no usable slot.
        """
        if prio is not None and not 0 <= prio <= SWAP_FLAG_PRIO_MASK:
            raise KernelError(Errno.EINVAL, f"swap priority {prio} outside 0..32767")
        for si in self.devices():
            if si.name == name:
                raise KernelError(Errno.EBUSY, f"{name} is already a swap device")
        type_ = next((i for i, si in enumerate(self.swap_info) if si is None),
                     len(self.swap_info))
        if type_ >= self.max_swapfiles:
            raise KernelError(Errno.EPERM, f"too many swap devices (MAX_SWAPFILES="
                                           f"{self.max_swapfiles})")
        if prio is None:
            if self.default_prio == "decreasing":
                self.least_priority -= 1
                prio = self.least_priority
            else:
                prio = -1
        if synchronous_io is None:
            synchronous_io = getattr(storage, "kind", "") == "mem"
        si = SwapInfo(type_, storage, nr_pages=nr_pages, bad_pages=bad_pages, prio=prio,
                      solidstate=solidstate, blkdev=blkdev, nr_cpus=self.nr_cpus,
                      map_bad=self.map_bad, name=name, kind=kind,
                      owner=owner if owner is not None else UnownedSlots(self),
                      synchronous_io=synchronous_io)
        if si.pages <= 0:
            raise KernelError(Errno.EINVAL, f"{name}: swap area has no usable pages")
        if type_ == len(self.swap_info):
            self.swap_info.append(si)
        else:
            self.swap_info[type_] = si
        self.nr_swap_pages += si.pages
        self.total_swap_pages += si.pages
        if not si.flags & SWP_SOLIDSTATE:
            self.nr_rotate_swap += 1  # sys_swapon(): !bdev_nonrot(si->bdev)
        self._add_to_avail_list(si)
        return si

    def begin_swapoff(self, si: SwapInfo) -> None:
        """First half of ``swapoff``: stop allocations and take the pages out of the totals.

        Raises:
            KernelError(EINVAL): a swapoff of ``si`` is already running.
            KernelError(EBUSY): a hibernation image holds slots of ``si``. The kernel has no
                such check (user space is frozen while the kernel writes an image; with
                uswsusp ``try_to_unuse`` would spin on slots no page table names); the
                model refuses instead.
        """
        if not si.flags & SWP_WRITEOK:
            raise KernelError(Errno.EINVAL, f"{si.name}: swapoff already in progress")
        if si.hibernation_slots:
            raise KernelError(Errno.EBUSY, f"{si.name}: {len(si.hibernation_slots)} slots "
                                           "held by a hibernation image")
        self._del_from_avail_list(si)
        si.flags &= ~SWP_WRITEOK
        self.nr_swap_pages -= si.pages - si.inuse_pages
        self.total_swap_pages -= si.pages

    def abort_swapoff(self, si: SwapInfo) -> None:
        """``reinsert_swap_info()``: swapoff failed; the device is writable again."""
        si.flags |= SWP_WRITEOK
        self.nr_swap_pages += si.pages - si.inuse_pages
        self.total_swap_pages += si.pages
        self._add_to_avail_list(si)

    def remove_device(self, si: SwapInfo) -> None:
        """Last half of ``swapoff``: the device is empty; forget it."""
        if si.inuse_pages:
            raise KernelError(Errno.EBUSY, f"{si.name}: {si.inuse_pages} slots still in use")
        si.dying = True
        si.users -= 1
        self.swap_info[si.type] = None
        if not si.flags & SWP_SOLIDSTATE:
            self.nr_rotate_swap -= 1
        self.tiers.device_removed(si.type)
        if si.prio < 0 and self.default_prio == "decreasing":
            # _enable_swap_info gives back the priority range: later devices move up one.
            for other in self.devices():
                if other.prio < si.prio:
                    other.prio += 1
            self.least_priority += 1
            self.avail.sort(key=lambda d: -d.prio)
        si.flags &= ~SWP_USED

    def _add_to_avail_list(self, si: SwapInfo) -> None:
        if si in self.avail or not si.flags & SWP_WRITEOK or si.inuse_pages >= si.pages:
            return
        # plist_add: after all entries of higher or equal priority.
        pos = len(self.avail)
        for i, other in enumerate(self.avail):
            if other.prio < si.prio:
                pos = i
                break
        self.avail.insert(pos, si)

    def _del_from_avail_list(self, si: SwapInfo) -> None:
        if si in self.avail:
            self.avail.remove(si)

    def _requeue(self, si: SwapInfo) -> None:
        """Models: ``plist_requeue()``: move ``si`` after its same-priority siblings."""
        avail = self.avail
        if (len(avail) == 1 and avail[0] is si and si.flags & SWP_WRITEOK
                and si.inuse_pages < si.pages):
            return  # alone on the list and staying on it: nothing moves
        avail.remove(si)
        self._add_to_avail_list(si)

    # -- allocation and freeing -------------------------------------------------------------
    def swap_slot_alloc(self, order: int, usage: int, memcg_id: int = 0) -> SwpSlot:
        """Allocate ``1 << order`` contiguous slots on the best device; 0 on failure.

        Models: ``get_swap_pages()`` with ``n_goal = 1`` (``swap_slot_alloc`` in the seed):
        devices in priority order, each requeued behind its equal-priority siblings before it
        is tried (round robin); a large allocation tries only the first device. With swap
        tiers, devices in a tier ``memcg_id``'s ``memory.swap.tiers.max`` disables are
        skipped (swap tiers' ``swap_alloc_slow`` check), and a tier move allocates only on
        its target devices.
        """
        nr = 1 << order
        env = self.env
        if self.nr_swap_pages < nr or env.faults.fail("device_full"):
            return SwpSlot(0)
        tiers = self.tiers
        filtered = tiers.enabled or tiers.move_target is not None
        first = True
        for si in list(self.avail):
            if si not in self.avail:
                continue
            if filtered and not tiers.allowed(si, memcg_id):
                continue
            if order and not first:
                return SwpSlot(0)
            first = False
            self._requeue(si)
            offset = si.cluster_alloc_swap_entry(order, usage, env.current_cpu)
            if offset:
                env.tracer.lock_step("swap_cluster", (si.type, offset // SWAPFILE_CLUSTER),
                                     Cost.SWAP_SLOT_ALLOC)
                self.nr_swap_pages -= nr
                if si.inuse_pages >= si.pages:
                    self._del_from_avail_list(si)
                return swp_slot(si.type, offset)
        return SwpSlot(0)

    def swap_slot_claim(self, si: SwapInfo, offset: int, usage: int) -> bool:
        """Take the free slot ``offset`` of ``si`` (:meth:`SwapInfo.claim_slot`) and count it
        in ``nr_swap_pages``; False when the device is full (fault point ``device_full``)."""
        if self.faults.fail("device_full") or si.inuse_pages >= si.pages:
            return False
        si.claim_slot(offset, usage)
        self.tracer.lock_step("swap_cluster", (si.type, offset // SWAPFILE_CLUSTER),
                              Cost.SWAP_SLOT_ALLOC)
        if si.flags & SWP_WRITEOK:
            self.nr_swap_pages -= 1
            if si.inuse_pages >= si.pages:
                self._del_from_avail_list(si)
        return True

    def swap_slot_alloc_of_type(self, si: SwapInfo, usage: int) -> int:
        """Allocate one slot of device ``si`` for a hibernation image; its offset, or 0.

        Models: ``get_swap_page_of_type()`` (v6.14; ``swap_slot_alloc_of_type()`` in the
        seed, ``swap_alloc_hibernation_slot()`` from swap table phase II): only a writable
        device (``SWP_WRITEOK``), order 0 through the device's cluster allocator with map
        byte ``usage``, ``nr_swap_pages`` decremented once. No memcg is charged and no swap
        tier consulted. The slot joins ``si.hibernation_slots``; the design frees it
        (:meth:`hibernation_slot_release` first).

        Since commit 4f78252da887 (6.15) the kernel decrements ``nr_swap_pages`` a second
        time in this function (the allocator already did; reported on the swap table
        phase II series, 2025-11): the model counts the slot once, as intended.
        """
        if not si.flags & SWP_WRITEOK:
            return 0
        offset = si.cluster_alloc_swap_entry(0, usage, self.env.current_cpu)
        if not offset:
            return 0
        self.tracer.lock_step("swap_cluster", (si.type, offset // SWAPFILE_CLUSTER),
                              Cost.SWAP_SLOT_ALLOC)
        self.nr_swap_pages -= 1
        if si.inuse_pages >= si.pages:
            self._del_from_avail_list(si)
        si.hibernation_slots.add(offset)
        return offset

    def hibernation_slot_release(self, si: SwapInfo, offset: int) -> None:
        """Take ``offset`` out of the hibernation slots before the design frees it.

        Raises:
            KernelError(EINVAL): ``offset`` is not a hibernation slot of ``si``.
        """
        if offset not in si.hibernation_slots:
            raise KernelError(Errno.EINVAL, f"slot {si.type}:{offset} is not a hibernation "
                                            "slot")
        si.hibernation_slots.remove(offset)

    def swap_range_free(self, si: SwapInfo, offset: int, nr: int) -> None:
        """Return ``nr`` slots to the device and the global free count, and tell the device
        (``swap_slot_free_notify``: zram frees the pages' memory)."""
        si.swap_range_free_map(offset, nr)
        if self.tiers.stamps:
            self.tiers.slots_freed(si.type, offset, nr)
        if si.storage is not None:  # allocator-only devices (tests) have no storage
            si.storage.swap_slot_free_notify(offset, nr)
        if si.flags & SWP_WRITEOK:
            self.nr_swap_pages += nr
            if si not in self.avail:
                self._add_to_avail_list(si)

    # -- queries --------------------------------------------------------------------------
    def devices(self) -> Iterator[SwapInfo]:
        """Every swapped-on device, by type."""
        return (si for si in self.swap_info if si is not None)

    def swap_type_to_swap_info(self, type_: int) -> SwapInfo | None:
        """Models: ``swap_type_to_swap_info()``."""
        if 0 <= type_ < len(self.swap_info):
            return self.swap_info[type_]
        return None

    def vm_swap_full(self) -> bool:
        """Models: ``vm_swap_full()``: less than half of swap is free."""
        return self.nr_swap_pages * 2 < self.total_swap_pages

    def swap_type_of(self, name: str | None, offset: int = 0) -> int:
        """The type of the writable device ``name`` whose area starts at block ``offset``.

        Models: ``swap_type_of(device, offset)`` (``resume=`` and ``resume_offset=``: a
        partition's area starts at block 0, a swap file's at its first extent, which the
        model's areas also put at 0) and, for ``name`` None, ``find_first_swap()`` (no
        ``resume=``: the first writable device by type). Returns the type, or ``-ENODEV``.
        """
        for si in self.devices():
            if not si.flags & SWP_WRITEOK:
                continue
            if name is None or (si.name == name and offset == 0):
                return si.type
        return -Errno.ENODEV

    def count_swap_pages(self, type_: int, free: bool) -> int:
        """Models: ``count_swap_pages(type, free)``: the free (or used) usable slots of a
        writable device; 0 for any other type."""
        si = self.swap_type_to_swap_info(type_)
        if si is None or not si.flags & SWP_WRITEOK:
            return 0
        return si.pages - si.inuse_pages if free else si.inuse_pages

    def si_swapinfo(self) -> tuple[int, int]:
        """Models: ``si_swapinfo()``: (freeswap, totalswap) in pages, counting devices that
        are being swapped off as in ``nr_to_be_unused``."""
        unused = sum(si.inuse_pages for si in self.devices()
                     if si.flags & SWP_USED and not si.flags & SWP_WRITEOK)
        return self.nr_swap_pages + unused, self.total_swap_pages + unused

    def device_infos(self) -> list[SwapDeviceInfo]:
        """The facts of every device, in ``/proc/swaps`` order."""
        return [SwapDeviceInfo(si.type, si.name, si.kind, si.pages * PAGE_SIZE // 1024,
                               si.inuse_pages * PAGE_SIZE // 1024, si.prio)
                for si in self.devices()]

    def proc_swaps(self) -> str:
        """The ``/proc/swaps`` text, column for column as ``swap_show()`` prints it."""
        lines = ["Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"]
        for d in self.device_infos():
            pad = 40 - len(d.name) if len(d.name) < 40 else 1
            lines.append(
                f"{d.name}{' ' * pad}{d.kind}\t{d.size_kib}\t"
                f"{chr(9) if d.size_kib < 10000000 else ''}{d.used_kib}\t"
                f"{chr(9) if d.used_kib < 10000000 else ''}{d.prio}\n")
        return "".join(lines)


def entry_device_offset(devices: SwapDevices, slot: SwpSlot | SwpEntry) -> tuple[SwapInfo, int]:
    """Resolve a physical slot to (device, offset); KernelError(EINVAL) if no such device."""
    from vswap.kernel.types import swp_slot_offset, swp_slot_type

    si = devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(slot)))
    offset = swp_slot_offset(SwpSlot(slot))
    if si is None or not 0 < offset < si.max:
        raise KernelError(Errno.EINVAL, f"bad swap slot {slot:#x}")
    return si, offset
