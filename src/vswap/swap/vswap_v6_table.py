"""Virtual swap v6: the cluster-based virtual slot allocator and its 24-byte descriptors.

Models: mm/vswap.c of "[PATCH v6 00/22] Virtual Swap Space" (Nhat Pham, 2026-05-05, lore
``20260505153854.1612033-1-nphamcs@gmail.com``; base v6.19): ``struct vswap_cluster``,
``vswap_cluster_map``, ``partial_clusters_lists[]``, the per-CPU allocation cache
``percpu_vswap_cluster`` and the per-CPU lookup cache ``percpu_vswap_iter_cache`` of patch 22
("vswap: cache cluster lookup"), ``vswap_alloc()`` / ``vswap_alloc_from_cluster()``,
``release_vswap_slot_nr()`` (patch 21, "vswap: batch contiguous vswap free calls"),
``vswap_cluster_free()``, ``vswap_cpu_dead()``; and ``struct swp_desc`` (24 bytes, pahole in
the cover letter). docs/vswap-v6.md says which posted file each fact comes from.

Representation (struct of arrays, DESIGN.md "Compact metadata"). Columns indexed by the
virtual id (``cluster id << 9 | offset``), grown in whole clusters as cluster ids rise; a
cluster's rows mean something only while the cluster is live (present in the cluster map):

============ ============ ================================================================
column       type         ``struct swp_desc`` / ``struct vswap_cluster`` member
============ ============ ================================================================
bitmap       bytearray    ``cluster->bitmap``: 1 while the virtual slot is allocated
type         bytearray    ``type:2`` (:class:`~vswap.swap.vswap_desc.SwapType`)
backing      array('Q')   ``union { slot; zswap_entry; }``: physical slot value
                          (SWAPFILE) or zswap entry id (ZSWAP); 0 otherwise
shadow       array('Q')   the ``shadow`` half of ``union { swap_cache; shadow; }``
swap_count   array('I')   ``swap_count``: page-table (and shmem) references
memcgid      array('H')   ``memcgid:16``: owning memcg (0: none)
in_cache     bytearray    ``in_swapcache:1``: pinned in (or about to enter) the swap cache
============ ============ ================================================================

The ``swap_cache`` half of the second union is :attr:`VswapClusterTable.cache` (id ->
folio, only for ids whose folio is in the swap cache; the folio is resident anyway). A
FOLIO-backed descriptor's backend *is* that folio, as in the kernel. Per cluster:
``cl_live`` (in ``vswap_cluster_map``), ``cl_count`` (``count``), ``cl_order`` (``order``, fixed
when the cluster is created), ``cl_cached`` / ``cl_full`` (the ``cached`` / ``full`` bits),
``cl_refcnt`` (``refcnt``: one per allocated slot, one per per-CPU cache holding it). The
partial lists are insertion-ordered dicts (``list_head``), one per order.

Cluster states (a live cluster is in exactly one):

========== ============================================ ===================================
state      meaning                                      left by
========== ============================================ ===================================
cached     a CPU's allocation cache holds it (+1 ref)   it stops being an allocation
                                                        candidate, or the CPU dies
partial    on ``partial_clusters_lists[order]``         an allocation takes it off
full       no allocation of its order fits              a release that makes room
                                                        (-> partial, or stays cached)
(freed)    ``refcnt`` 0: erased from the map            a new allocation may reuse the id
========== ============================================ ===================================

A descriptor's lifetime is the v6 one (mm/vswap.c part II): it starts with ``swap_count`` 0
and ``in_swapcache`` set; references are ``swap_count`` plus the cache bit; when both are
gone the slot is released (``vswap_free_nr``, the design's job) and the id is reusable.

Invariants (:meth:`VswapClusterTable.check_invariants`): per live cluster, ``count`` equals
the allocated slots, ``refcnt`` equals ``count`` plus the caches holding it (an aligned
chunk may be allocated in part: large allocations are released slot by slot when their
pages come back one at a time), the state flags match the lists and caches; dead
clusters have no allocated slot; ``used`` is the total allocated; id 0 is never allocated.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Hashable, Iterator
from typing import TYPE_CHECKING, Final

import numpy as np

from vswap.errors import ConfigError
from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.tracing import Cost
from vswap.kernel.types import HPAGE_PMD_ORDER, NO_ENTRY, SWAP_NR_ORDERS, SwpEntry
from vswap.swap.swap_state import SwapCache
from vswap.swap.vswap_desc import SWAP_TYPE_OF, SwapType

#: ``VSWAP_CLUSTER_SHIFT = HPAGE_PMD_ORDER``: PMD-sized virtual clusters.
VSWAP_CLUSTER_SHIFT: Final = HPAGE_PMD_ORDER
#: ``xa_limit.max`` of ``vswap_cluster_map`` on 64-bit: cluster ids 0..U32_MAX
#: (``MAX_VSWAP = U32_MAX << VSWAP_CLUSTER_SHIFT | (VSWAP_CLUSTER_SIZE - 1)``).
MAX_VSWAP_CLUSTERS: Final = 1 << 32
#: Bytes of ``struct swp_desc`` (v3-v6, pahole in the v6 cover letter), of the cluster's
#: allocation bitmap and of the rest of its header (declared once, in metadata.sizes).
SWP_DESC_BYTES = sizes.SWP_DESC_BYTES_V6
VSWAP_CLUSTER_BITMAP_BYTES = sizes.VSWAP_CLUSTER_BYTES_V6
VSWAP_CLUSTER_HEADER_BYTES = sizes.VSWAP_CLUSTER_HEADER_BYTES_V6
assert VSWAP_CLUSTER_BITMAP_BYTES == (1 << VSWAP_CLUSTER_SHIFT) // 8, "DECLARE_BITMAP(512)"
#: No CPU cache holds a cluster.
NO_CLUSTER: Final = -1


@dataclasses.dataclass(frozen=True, slots=True)
class VswapClusterStats:
    """A frozen snapshot of the allocator's counters.

    ``used`` / ``alloc_reject``: debugfs ``vswap/used`` and ``vswap/alloc_reject``;
    ``live_clusters``: clusters in ``vswap_cluster_map``; ``cluster_allocs`` / ``cluster_frees``:
    clusters created and erased; ``alloc_cached`` / ``alloc_partial`` / ``alloc_new``:
    allocations served by the CPU's cached cluster, a partial cluster (under the global
    ``xa_lock``) and a new cluster (``xa_alloc``, also under it); ``xa_loads`` /
    ``iter_cache_hits``: cluster lookups that walked the XArray and ones the per-CPU lookup
    cache answered.
    """

    used: int
    alloc_reject: int
    live_clusters: int
    cluster_allocs: int
    cluster_frees: int
    alloc_cached: int
    alloc_partial: int
    alloc_new: int
    xa_loads: int
    iter_cache_hits: int


class VswapClusterTable:
    """``vswap_cluster_map``, every ``struct vswap_cluster`` and its ``swp_desc`` array.

    Args:
        nr_cpus: CPUs with an allocation cache (and a lookup cache).
        cluster_shift: ``VSWAP_CLUSTER_SHIFT`` (9; tests use small clusters, at least 1).
        max_clusters: cluster ids available (``xa_limit``; default 2**32).
        iter_cache: keep the per-CPU lookup cache of patch 22 (False: every lookup is an
            ``xa_load``, as in v3-v5).
        chunk_clusters: the columns grow by at least this many clusters.

    Raises:
        ConfigError: a cluster shift outside 1..9, fewer than 2 clusters or no CPU.
    """

    def __init__(self, *, nr_cpus: int = 1, cluster_shift: int = VSWAP_CLUSTER_SHIFT,
                 max_clusters: int = MAX_VSWAP_CLUSTERS, iter_cache: bool = True,
                 chunk_clusters: int = 8) -> None:
        if not 1 <= cluster_shift <= HPAGE_PMD_ORDER:
            raise ConfigError(f"vswap cluster shift {cluster_shift} outside "
                              f"1..{HPAGE_PMD_ORDER}")
        if not 2 <= max_clusters <= MAX_VSWAP_CLUSTERS:
            raise ConfigError(f"vswap max clusters {max_clusters} outside "
                              f"2..{MAX_VSWAP_CLUSTERS}")
        if nr_cpus < 1:
            raise ConfigError(f"vswap: {nr_cpus} CPUs")
        self.cluster_shift = cluster_shift
        self.cluster_size = 1 << cluster_shift
        self.cluster_mask = self.cluster_size - 1
        #: Orders a cluster can serve: 0 .. cluster_shift (``SWAP_NR_ORDERS`` at shift 9).
        self.nr_orders = min(SWAP_NR_ORDERS, cluster_shift + 1)
        self.max_clusters = max_clusters
        self.nr_cpus = nr_cpus
        self.iter_cache = iter_cache
        self.chunk_clusters = max(1, chunk_clusters)
        # Per virtual id.
        self.bitmap = bytearray()
        self.type = bytearray()
        self.backing = array("Q")
        self.shadow = array("Q")
        self.swap_count = array("I")
        self.memcgid = array("H")
        self.in_cache = bytearray()
        #: The ``swap_cache`` union member: id -> folio while that folio is in the cache.
        self.cache: dict[int, Folio] = {}
        # Per cluster id.
        self.cl_live = bytearray()
        self.cl_count = array("H")
        self.cl_order = bytearray()
        self.cl_cached = bytearray()
        self.cl_full = bytearray()
        self.cl_refcnt = array("I")
        self.capacity_clusters = 0
        #: ``partial_clusters_lists[order]``: uncached clusters with room, oldest first.
        self.partial: list[dict[int, None]] = [{} for _ in range(self.nr_orders)]
        #: ``percpu_vswap_cluster.clusters[order]`` per CPU.
        self.percpu_alloc = [[NO_CLUSTER] * self.nr_orders for _ in range(nr_cpus)]
        #: ``percpu_vswap_iter_cache.cluster`` per CPU (patch 22).
        self.percpu_iter = [NO_CLUSTER] * nr_cpus
        #: debugfs ``vswap/used`` and ``vswap/alloc_reject``.
        self.used = 0
        self.alloc_reject = 0
        self.live_clusters = 0
        self.cluster_allocs = 0
        self.cluster_frees = 0
        self.alloc_cached = 0
        self.alloc_partial = 0
        self.alloc_new = 0
        self.xa_loads = 0
        self.iter_cache_hits = 0

    # -- growth -------------------------------------------------------------------------
    def _grow(self, need_clusters: int) -> None:
        """Extend every column to hold clusters ``0 .. need_clusters - 1``."""
        cap = self.capacity_clusters
        if need_clusters <= cap:
            return
        new = min(self.max_clusters,
                  max(need_clusters, cap + self.chunk_clusters, cap + cap // 4))
        add_c = new - cap
        add = add_c << self.cluster_shift
        self.bitmap.extend(bytes(add))
        self.type.extend(bytes(add))
        self.backing.frombytes(bytes(8 * add))
        self.shadow.frombytes(bytes(8 * add))
        self.swap_count.frombytes(bytes(4 * add))
        self.memcgid.frombytes(bytes(2 * add))
        self.in_cache.extend(bytes(add))
        self.cl_live.extend(bytes(add_c))
        self.cl_count.frombytes(bytes(2 * add_c))
        self.cl_order.extend(bytes(add_c))
        self.cl_cached.extend(bytes(add_c))
        self.cl_full.extend(bytes(add_c))
        self.cl_refcnt.frombytes(bytes(4 * add_c))
        self.capacity_clusters = new

    # -- queries --------------------------------------------------------------------------
    def cluster_of(self, e: int) -> int:
        """``VSWAP_CLUSTER_IDX``: the cluster id of virtual id ``e``."""
        return e >> self.cluster_shift

    def is_live(self, e: int) -> bool:
        """Is ``e`` an allocated virtual slot (``vswap_iter`` finds a descriptor)?"""
        return 0 < e < len(self.bitmap) and self.bitmap[e] == 1

    def live_ids(self) -> Iterator[int]:
        """Every allocated virtual id, ascending."""
        bm = self.bitmap
        i = bm.find(1)
        while i >= 0:
            yield i
            i = bm.find(1, i + 1)

    # -- the VswapTable interface (vswap.swap.vswap_table) --------------------------------------
    def slot_of(self, e: int) -> int:
        """The ``slot`` member of the backing union (a SWAPFILE descriptor's; 0: none)."""
        return self.backing[e]

    def zswap_of(self, e: int) -> int:
        """The ``zswap_entry`` member of the backing union (a ZSWAP descriptor's)."""
        return self.backing[e]

    def folio_of(self, e: int) -> Folio | None:
        """The ``swap_cache`` member: the folio cached at ``e`` (a FOLIO descriptor's
        backend)."""
        return self.cache.get(e)

    def set_zswap(self, e: int, zentry: int) -> None:
        """Descriptor ``e`` becomes ZSWAP(``zentry``)."""
        self.type[e] = SwapType.VSWAP_ZSWAP
        self.backing[e] = zentry

    def swap_count_of(self, e: int) -> int:
        """Page-table references of allocated id ``e``: ``swap_count``."""
        return self.swap_count[e]

    def check_backing(self, e0: int, nr: int) -> tuple[int, SwapType]:
        """Length of the prefix of ``e0 .. +nr`` backed like ``e0``, and that type.

        Models: ``vswap_check_backing()`` (v6): ZERO/ZSWAP/FOLIO by type; SWAPFILE also on
        one device at consecutive offsets; an unallocated id ends the prefix. ``(0,
        SWAPFILE)`` when ``e0`` is not allocated.
        """
        if not self.is_live(e0):
            return 0, SwapType.VSWAP_SWAPFILE
        ty = SWAP_TYPE_OF[self.type[e0]]
        s0 = self.backing[e0]
        n = 1
        while n < nr:
            e = e0 + n
            if not self.is_live(e) or self.type[e] != ty:
                break
            if ty == SwapType.VSWAP_SWAPFILE and (not s0 or self.backing[e] != s0 + n):
                break
            n += 1
        return n, ty

    def live_entries(self) -> Iterator[tuple[int, int, bool]]:
        """Every allocated id: (id, ``swap_count``, ``in_swapcache``)."""
        for e in self.live_ids():
            yield e, self.swap_count[e], bool(self.in_cache[e])

    def swapped_page_locations(self) -> tuple[int, int]:
        """Allocated ZERO descriptors, and allocated SWAPFILE descriptors with a slot."""
        if not len(self.bitmap):
            return 0, 0
        live = np.frombuffer(self.bitmap, dtype=np.uint8) == 1
        ty = np.frombuffer(self.type, dtype=np.uint8)
        slot = np.frombuffer(self.backing, dtype=np.uint64)
        zero = int(np.count_nonzero(live & (ty == SwapType.VSWAP_ZERO)))
        device = int(np.count_nonzero(live & (ty == SwapType.VSWAP_SWAPFILE) & (slot != 0)))
        return zero, device

    def live_cluster_ids(self) -> Iterator[int]:
        """Every cluster in ``vswap_cluster_map``, ascending."""
        cl = self.cl_live
        c = cl.find(1)
        while c >= 0:
            yield c
            c = cl.find(1, c + 1)

    def cluster_is_alloc_candidate(self, c: int) -> bool:
        """Models: ``cluster_is_alloc_candidate()``: one more allocation of the cluster's
        order fits by count (the bitmap may still refuse it: cluster 0's reserved id)."""
        return self.cl_count[c] + (1 << self.cl_order[c]) <= self.cluster_size

    def lookup(self, e: int, cpu: int) -> bool:
        """Find the cluster of ``e`` for an operation on ``cpu``: True if it took an
        ``xa_load`` (the per-CPU lookup cache missed or is off).

        Models: the cluster resolution of ``vswap_iter()`` with patch 22: a hit on the
        CPU's cached cluster skips the XArray; a miss walks it, drops the cached cluster
        (its reference) and caches the new one if ``e`` is allocated there. A lookup of a
        free slot leaves an empty cluster uncached, so the cache never keeps one alive.
        """
        c = e >> self.cluster_shift
        if not self.iter_cache:
            self.xa_loads += 1
            return True
        slot = cpu % self.nr_cpus
        cached = self.percpu_iter[slot]
        if cached == c:
            self.iter_cache_hits += 1
            if not self.cl_count[c]:
                self._iter_cache_clear(slot)
            return False
        self.xa_loads += 1
        if cached != NO_CLUSTER:
            self._iter_cache_clear(slot)
        if self.is_live(e):
            self.percpu_iter[slot] = c
            self.cl_refcnt[c] += 1
        return True

    def vswap_iter_break(self, e: int, cpu: int) -> None:
        """End an operation on ``e``'s cluster: if it is now empty, the CPU's lookup cache
        lets go of it (which frees it unless an allocation cache still holds it).

        Models: ``vswap_iter_break()`` (patch 22).
        """
        slot = cpu % self.nr_cpus
        c = e >> self.cluster_shift
        if self.percpu_iter[slot] == c and not self.cl_count[c]:
            self._iter_cache_clear(slot)

    def _iter_cache_clear(self, slot: int) -> None:
        """Models: ``try_to_clear_local_vswap_iter_cache()``: drop the cached reference."""
        c = self.percpu_iter[slot]
        self.percpu_iter[slot] = NO_CLUSTER
        self._cluster_put(c, 1)

    # -- allocation -----------------------------------------------------------------------
    def _alloc_from_cluster(self, c: int) -> int:
        """Models: ``vswap_alloc_from_cluster()``: the first wholly free aligned range of
        the cluster's order (cluster 0 skips its first range: id 0 is never a swap entry);
        0 if the cluster has no room. The new descriptors are initialised by the caller."""
        if not self.cluster_is_alloc_candidate(c):
            return 0
        nr = 1 << self.cl_order[c]
        base = c << self.cluster_shift
        start = nr if c == 0 else 0
        if nr == 1:
            i = self.bitmap.find(0, base + start, base + self.cluster_size)
            if i < 0:
                return 0
        else:
            # A chunk whose first slot is free may still hold slots of a large allocation
            # released in part, so the whole chunk is checked.
            lo, end = base + start, base + self.cluster_size
            while True:
                k = self.bitmap[lo:end:nr].find(0)
                if k < 0:
                    return 0
                i = lo + k * nr
                if self.bitmap.find(1, i, i + nr) < 0:
                    break
                lo = i + nr
        self._take(c, i, nr)
        return i

    def _take(self, c: int, i: int, nr: int) -> None:
        """Mark ``i .. i+nr-1`` allocated in cluster ``c``: a fresh descriptor each
        (FOLIO, count 0, cache bit set, no memcg: ``__vswap_alloc_from_cluster``)."""
        end = i + nr
        self.bitmap[i:end] = b"\x01" * nr
        self.type[i:end] = bytes([SwapType.VSWAP_FOLIO]) * nr
        self.backing[i:end] = array("Q", bytes(8 * nr))
        self.shadow[i:end] = array("Q", bytes(8 * nr))
        self.swap_count[i:end] = array("I", bytes(4 * nr))
        self.memcgid[i:end] = array("H", bytes(2 * nr))
        self.in_cache[i:end] = b"\x01" * nr
        self.cl_count[c] += nr
        self.cl_refcnt[c] += nr
        self.used += nr

    def _new_cluster(self, order: int) -> int:
        """Models: the ``xa_alloc`` of ``vswap_alloc``: the lowest free cluster id (from 1
        for a PMD-order cluster: cluster 0 cannot hold one); -1 when the map is full."""
        lo = 1 if order == self.cluster_shift else 0
        self._grow(lo + 1)
        c = self.cl_live.find(0, lo)
        if c < 0:
            if self.capacity_clusters >= self.max_clusters:
                return -1
            c = self.capacity_clusters
            self._grow(c + 1)
        self.cl_live[c] = 1
        self.cl_order[c] = order
        self.cl_count[c] = 0
        self.cl_refcnt[c] = 0
        self.cl_cached[c] = 0
        self.cl_full[c] = 0
        self.live_clusters += 1
        self.cluster_allocs += 1
        return c

    def vswap_alloc(self, order: int, cpu: int) -> tuple[int, str]:
        """Allocate ``1 << order`` contiguous, aligned virtual slots for a folio on ``cpu``.

        Models: ``vswap_alloc()`` (v6): the CPU's cached cluster of that order first
        (uncached when it fails or fills up, and marked full); then the partial list
        (under the global ``xa_lock``, clusters whose lock is busy are skipped: the model
        has none busy); then a new cluster (``xa_alloc`` of the lowest free id). A cluster
        with room left is then cached by the CPU if its cached cluster is gone or full,
        else put on the partial list. Every new descriptor is FOLIO, ``swap_count`` 0,
        ``in_swapcache`` set, no memcg; ``used`` grows, or ``alloc_reject`` on failure.

        Returns:
            ``(first id, path)``: path ``"cached"``, ``"partial"`` or ``"new"`` (the last
            two took the global lock), or ``(0, "")`` when the cluster map is full.

        Raises:
            KernelError(EINVAL): ``order`` outside the orders a cluster can serve.
        """
        if not 0 <= order < self.nr_orders:
            raise KernelError(Errno.EINVAL, f"vswap_alloc: bad order {order}")
        nr = 1 << order
        slot = cpu % self.nr_cpus
        caches = self.percpu_alloc[slot]
        e = 0
        path = ""
        need_caching = True
        c = caches[order]
        if c != NO_CLUSTER:
            e = self._alloc_from_cluster(c)
            need_caching = not e
            if not e or not self.cluster_is_alloc_candidate(c):
                caches[order] = NO_CLUSTER
                self.cl_cached[c] = 0
                self.cl_full[c] = 1
                self._cluster_put(c, 1)
            if e:
                path = "cached"
        if not e:
            c = NO_CLUSTER
            plist = self.partial[order]
            for pc in list(plist):
                e = self._alloc_from_cluster(pc)
                del plist[pc]
                full = not e or not self.cluster_is_alloc_candidate(pc)
                self.cl_full[pc] = int(full)
                need_caching = not full
                if e:
                    c = pc
                    path = "partial"
                    break
        if not e:
            c = self._new_cluster(order)
            if c >= 0:
                base = c << self.cluster_shift
                e = base + (nr if c == 0 else 0)
                self._take(c, e, nr)
                need_caching = self.cluster_is_alloc_candidate(c)
                path = "new"
        if need_caching and e:
            local = caches[order]
            if local != c:
                if local != NO_CLUSTER:
                    # Only replace the CPU's cached cluster if it has no room left.
                    need_caching = not self.cluster_is_alloc_candidate(local)
                    if need_caching:
                        caches[order] = NO_CLUSTER
                        self.cl_cached[local] = 0
                        self._cluster_put(local, 1)
                if self.cluster_is_alloc_candidate(c):
                    if need_caching:
                        caches[order] = c
                        self.cl_refcnt[c] += 1
                        self.cl_cached[c] = 1
                    else:
                        self.partial[order][c] = None
        if e:
            if path == "cached":
                self.alloc_cached += 1
            elif path == "partial":
                self.alloc_partial += 1
            else:
                self.alloc_new += 1
            return e, path
        self.alloc_reject += nr
        return 0, ""

    # -- release --------------------------------------------------------------------------
    def _cluster_put(self, c: int, nr: int) -> None:
        """Models: ``vswap_cluster_put()``: drop ``nr`` references; at 0 the cluster is
        freed (``vswap_cluster_free``: off its list, erased from the map)."""
        self.cl_refcnt[c] -= nr
        if self.cl_refcnt[c]:
            return
        if self.cl_count[c] or self.cl_cached[c]:
            raise AssertionError(f"vswap cluster {c} freed with count {self.cl_count[c]} "
                                 f"cached {self.cl_cached[c]}")
        self.partial[self.cl_order[c]].pop(c, None)
        self.cl_live[c] = 0
        self.cl_full[c] = 0
        self.live_clusters -= 1
        self.cluster_frees += 1

    def release_vswap_slot_nr(self, e: int, nr: int) -> None:
        """Free ``nr`` allocated slots from ``e`` (one cluster); the ids are reusable now.

        Models: ``release_vswap_slot_nr()`` (patch 21): the bitmap bits clear, ``count``
        and ``refcnt`` drop by ``nr`` (the cluster is freed at refcnt 0, i.e. when empty
        and in no CPU cache); a full cluster that has room again goes back on the partial
        list unless a CPU caches it. The descriptors' contents must have been released by
        the caller (``release_backing``, memcg record cleared).

        Raises:
            KernelError(EINVAL): the range leaves the cluster or holds a free slot.
        """
        c = e >> self.cluster_shift
        if nr < 1 or (e + nr - 1) >> self.cluster_shift != c:
            raise KernelError(Errno.EINVAL, f"release_vswap_slot_nr: {nr} slots at {e:#x} "
                                            "cross a cluster")
        if self.bitmap[e:e + nr].count(1) != nr:
            raise KernelError(Errno.EINVAL, f"release_vswap_slot_nr: free slot in "
                                            f"{e:#x}+{nr}")
        end = e + nr
        self.bitmap[e:end] = bytes(nr)
        self.type[e:end] = bytes(nr)
        self.in_cache[e:end] = bytes(nr)
        self.cl_count[c] -= nr
        self.used -= nr
        self._cluster_put(c, nr)
        if self.cl_live[c] and self.cl_full[c] and self.cluster_is_alloc_candidate(c):
            self.cl_full[c] = 0
            if not self.cl_cached[c]:
                self.partial[self.cl_order[c]][c] = None

    def vswap_cpu_dead(self, cpu: int) -> None:
        """Models: ``vswap_cpu_dead()``: a CPU going offline drops its cached clusters."""
        slot = cpu % self.nr_cpus
        if self.percpu_iter[slot] != NO_CLUSTER:
            self._iter_cache_clear(slot)
        caches = self.percpu_alloc[slot]
        for order in range(self.nr_orders):
            c = caches[order]
            if c != NO_CLUSTER:
                caches[order] = NO_CLUSTER
                self.cl_cached[c] = 0
                self._cluster_put(c, 1)

    # -- statistics and accounting ----------------------------------------------------------
    def statistics(self) -> VswapClusterStats:
        """A frozen snapshot of the allocator's counters."""
        return VswapClusterStats(
            used=self.used, alloc_reject=self.alloc_reject, live_clusters=self.live_clusters,
            cluster_allocs=self.cluster_allocs, cluster_frees=self.cluster_frees,
            alloc_cached=self.alloc_cached, alloc_partial=self.alloc_partial,
            alloc_new=self.alloc_new, xa_loads=self.xa_loads,
            iter_cache_hits=self.iter_cache_hits)

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel spends on the virtual layer, by structure.

        ``swp_desc``: 24 B per allocated descriptor (what the v6 cover letter counts);
        ``swp_desc_unused``: the rows of live clusters' descriptor arrays no slot uses (v6
        vzallocs a whole 512-row array per cluster); ``vswap_cluster``: the 64-byte
        allocation bitmap of each live cluster; ``vswap_cluster_header``: the rest of the
        cluster header.
        """
        rows = self.live_clusters << self.cluster_shift
        return {
            "swp_desc": self.used * SWP_DESC_BYTES,
            "swp_desc_unused": (rows - self.used) * SWP_DESC_BYTES,
            "vswap_cluster": self.live_clusters * VSWAP_CLUSTER_BITMAP_BYTES,
            "vswap_cluster_header": self.live_clusters * VSWAP_CLUSTER_HEADER_BYTES,
        }

    # -- invariants -----------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Raise AssertionError unless the module-docstring invariants hold."""
        cs = self.cluster_size
        assert not self.bitmap or self.bitmap[0] == 0, "virtual id 0 allocated"
        cached_by: dict[int, int] = {}
        for caches in self.percpu_alloc:
            for order, c in enumerate(caches):
                if c != NO_CLUSTER:
                    assert self.cl_live[c], f"CPU caches dead cluster {c}"
                    assert self.cl_order[c] == order, f"cluster {c} cached for order {order}"
                    assert self.cl_cached[c], f"cluster {c} cached without its cached bit"
                    cached_by[c] = cached_by.get(c, 0) + 1
        iter_refs: dict[int, int] = {}
        for c in self.percpu_iter:
            if c != NO_CLUSTER:
                assert self.cl_live[c], f"lookup cache holds dead cluster {c}"
                iter_refs[c] = iter_refs.get(c, 0) + 1
        in_partial = {c: order for order, pl in enumerate(self.partial) for c in pl}
        used = 0
        live = 0
        for c in range(self.capacity_clusters):
            base = c * cs
            window = self.bitmap[base:base + cs]
            n = window.count(1)
            if not self.cl_live[c]:
                assert n == 0, f"dead cluster {c} has {n} allocated slots"
                assert c not in in_partial and c not in cached_by, f"dead cluster {c} listed"
                continue
            live += 1
            used += n
            assert n or cached_by.get(c, 0) or iter_refs.get(c, 0), (
                f"empty cluster {c} kept alive by no cache")
            assert self.cl_count[c] == n, f"cluster {c}: count {self.cl_count[c]} != {n}"
            refs = n + cached_by.get(c, 0) + iter_refs.get(c, 0)
            assert self.cl_refcnt[c] == refs, f"cluster {c}: refcnt {self.cl_refcnt[c]} " \
                                              f"!= {refs}"
            assert cached_by.get(c, 0) <= 1, f"cluster {c} cached by several CPUs"
            assert bool(self.cl_cached[c]) == (c in cached_by), f"cluster {c}: cached bit"
            # An aligned chunk of the cluster's order may be allocated in part: a large
            # allocation is released slot by slot when its pages come back one at a time
            # (an order-0 swap-in fallback, readahead); vswap_alloc takes only free chunks.
            if c in in_partial:
                assert in_partial[c] == self.cl_order[c], f"cluster {c} on a wrong list"
                assert not self.cl_cached[c] and not self.cl_full[c], (
                    f"cluster {c} on the partial list while cached or full")
        assert used == self.used, f"vswap_used {self.used} != allocated {used}"
        assert live == self.live_clusters, f"live clusters {self.live_clusters} != {live}"
        for e in self.cache:
            assert self.is_live(e) and self.in_cache[e], (
                f"swap-cache folio at {e:#x} without a live, pinned descriptor")


class DescSwapCache(SwapCache):
    """The swap cache of v6: the ``union { swap_cache; shadow; }`` of each descriptor.

    Models: patch 10 of v6 ("swap: move swap cache to virtual swap descriptor"):
    ``swap_cache_add_folio()``, ``swap_cache_del_folio()``, ``swap_cache_get_folio()``,
    ``swap_cache_get_shadow()``, ``swap_cache_clear_shadow()`` (v6.19 names; the model keeps
    the v6.14 method names of :class:`~vswap.swap.swap_state.SwapCache`, which the memory
    manager calls). There is no XArray and no ``address_space`` lock: a folio is found
    through the descriptor and every update is made under the *vswap cluster* lock, lock
    class ``vswap_cluster``, instance ``("vswap_cluster", cluster id)``.

    A cached folio is in :attr:`VswapClusterTable.cache` at each of its ids; a shadow is
    ``shadow + 1`` in the ``shadow`` column (0: none), since a packed shadow may be 0 and the
    kernel's shadows are never NULL (``xa_mk_value``). An id holds a folio or a shadow, never
    both.
    """

    def __init__(self, table: VswapClusterTable, *, env: KernelEnv | None = None) -> None:
        super().__init__(table.cluster_of, int, env=env)
        self.table = table

    def _locked(self, entry: SwpEntry, cost: Cost = Cost.SWAP_CACHE_DELETE) -> Hashable:
        key = ("vswap_cluster", int(entry) >> self.table.cluster_shift)
        self.tracer.lock_step("vswap_cluster", key, cost)
        return key

    def swap_address_space(self, entry: SwpEntry) -> Hashable:
        """The lock that serialises the entry's swap-cache updates: its cluster's."""
        return ("vswap_cluster", int(entry) >> self.table.cluster_shift)

    def add_to_swap_cache(self, folio: Folio, entry: SwpEntry) -> tuple[int, int | None]:
        """Point the descriptors of ``entry .. entry+nr-1`` at ``folio``.

        Models: ``swap_cache_add_folio()`` (v6). Context: folio locked; its ids allocated
        and pinned (``in_swapcache``). Returns ``(0, shadow)`` with the shadow the first id
        held (or None), or ``(-EEXIST, None)`` if an id already has a folio.

        Raises:
            KernelError(ENOENT): an id of the range is not allocated.
        """
        t = self.table
        e0 = int(entry)
        nr = folio.nr_pages
        self._locked(entry, Cost.SWAP_CACHE_INSERT)
        for e in range(e0, e0 + nr):
            if not t.is_live(e):
                raise KernelError(Errno.ENOENT, f"swap_cache_add_folio: {e:#x} not allocated")
            if e in t.cache:
                return -Errno.EEXIST, None
        raw = t.shadow[e0]
        shadow = raw - 1 if raw else None
        for e in range(e0, e0 + nr):
            t.cache[e] = folio
            t.shadow[e] = 0
        folio.swap = entry
        folio.swapcache = True
        self.nr_pages += nr
        return 0, shadow

    def _delete_from_swap_cache(self, folio: Folio, entry: SwpEntry,
                                shadow: int | None) -> None:
        """Models: ``swap_cache_del_folio()`` / ``__swap_cache_del_folio()`` (v6): the
        descriptors let go of the folio and keep ``shadow`` (or none). The cache pins are
        not dropped here (``put_swap_folio``)."""
        t = self.table
        e0 = int(entry)
        self._locked(entry)
        if t.cache.get(e0) is not folio:
            raise AssertionError(f"swap_cache_del_folio: {folio!r} not at {e0:#x}")
        val = 0 if shadow is None else shadow + 1
        for e in range(e0, e0 + folio.nr_pages):
            del t.cache[e]
            t.shadow[e] = val
        folio.swap = NO_ENTRY
        folio.swapcache = False
        self.nr_pages -= folio.nr_pages
        self.folio_deleted(folio)

    def replace_folio(self, old: Folio, new: Folio) -> None:
        """Models: ``__swap_cache_replace_folio()`` (v6, in mm/vswap.c): under the vswap
        cluster lock each descriptor of ``new``'s range lets go of ``old`` and points at
        ``new`` (migration: the whole range; a split: one new folio's part). Context as
        :meth:`SwapCache.replace_folio`."""
        t = self.table
        e0 = int(new.swap)
        self._locked(new.swap, Cost.SWAP_CACHE_INSERT)
        for e in range(e0, e0 + new.nr_pages):
            if t.cache.get(e) is not old:
                raise AssertionError(f"__swap_cache_replace_folio: {old!r} not at {e:#x}")
        for e in range(e0, e0 + new.nr_pages):
            t.cache[e] = new

    def swap_cache_get_folio(self, entry: SwpEntry) -> Folio | None:
        """Models: ``swap_cache_get_folio()`` (v6): the descriptor's folio, if cached."""
        self.tracer.swap_cache_lookup()
        return self.table.cache.get(int(entry))

    def get_shadow_from_swap_cache(self, entry: SwpEntry) -> int | None:
        """Models: ``swap_cache_get_shadow()`` (v6): the descriptor's shadow, if any."""
        t = self.table
        e = int(entry)
        if not t.is_live(e) or e in t.cache:
            return None
        raw = t.shadow[e]
        return raw - 1 if raw else None

    def clear_shadow(self, entry: SwpEntry, nr: int = 1) -> int:
        """Models: the shadow clearing of ``vswap_free`` (v6): drop the shadows of ``nr``
        ids (folios stay). Returns how many there were."""
        t = self.table
        e0 = int(entry)
        cleared = 0
        for e in range(e0, min(e0 + nr, len(t.shadow))):
            if t.shadow[e] and e not in t.cache:
                t.shadow[e] = 0
                cleared += 1
        return cleared

    def folios(self) -> Iterator[Folio]:
        """Every distinct folio in the cache."""
        seen: set[int] = set()
        for f in self.table.cache.values():
            if id(f) not in seen:
                seen.add(id(f))
                yield f

    def nr_shadows(self) -> int:
        """Descriptors holding a workingset shadow."""
        col = np.frombuffer(self.table.shadow, dtype=np.uint64) if len(self.table.shadow) \
            else np.zeros(0, np.uint64)
        return int(np.count_nonzero(col))

    def metadata_bytes(self) -> int:
        """No structure of its own: the swap cache lives in the 24-byte descriptor."""
        return 0

    def check_invariants(self) -> None:
        """Each cached folio occupies exactly its ids; ``nr_pages`` counts them; no id holds
        both a folio and a shadow."""
        t = self.table
        pages = 0
        for folio in self.folios():
            assert folio.swapcache and folio.swap, f"{folio!r} cached without swap entry"
            e0 = int(folio.swap)
            for e in range(e0, e0 + folio.nr_pages):
                assert t.cache.get(e) is folio, f"{folio!r} missing at {e:#x}"
                assert not t.shadow[e], f"{e:#x} holds a folio and a shadow"
            pages += folio.nr_pages
        assert pages == len(t.cache), "a cached id belongs to no folio's range"
        assert pages == self.nr_pages, f"NR_SWAPCACHE {self.nr_pages} != {pages}"


if TYPE_CHECKING:
    from vswap.swap.vswap_table import VswapTable

    def _implements(t: VswapClusterTable) -> VswapTable:
        """Static check (mypy): the table is what the virtual designs' shared steps use."""
        return t
