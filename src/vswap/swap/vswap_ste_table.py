"""The virtual swap device of the Swap Table Edition: on-demand clusters and the virtual table.

Models: the vswap device of "[PATCH v5 00/11] Virtual Swap Space (Swap Table Edition)"
(Nhat Pham, 2026-09-18, lore ``20260918180241.3424851-1-nphamcs@gmail.com``), read from
linux-mm/linux-mm mm/vswap.h @0822e81d0463: a swap device (``vswap_si``) whose clusters are
allocated on demand (``swap_cluster_info_dynamic``, an XArray of them), each with the phase IV
swap table and memcg table of any cluster plus the ``virtual_table``: one ``atomic_long_t``
per virtual slot holding the slot's backend, tagged in its low 3 bits:

==============================  ==============================================================
``virtual_table`` word          backend
==============================  ==============================================================
``0`` (NONE)                    no separate backend: zero page (the swap table's zero flag), a
                                cached folio (the swap table's PFN word) or nothing (free)
``zentry << 3 | 0b001`` (ZSWAP) a zswap entry (the model's zswap entry id)
``type << 61 | off << 3 |       a physical slot (type in the top ``MAX_SWAPFILES_SHIFT``
0b010`` (SWAPFILE)              bits, offset in the 56 bits between)
==============================  ==============================================================

Invariants (:meth:`VswapSpace.check_invariants`): a cluster exists exactly while it has an
allocated slot (``users``), and then has a virtual table, a swap table and a memcg table;
slot 0 of cluster 0 is never handed out (a swap device's slot 0 is its header); per order,
``nonfull`` lists exactly the live clusters of that order with a free slot, ascending, and
every cluster id below ``next_id`` is live or in the ``free_ids`` heap.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Iterator
from heapq import heappop, heappush
from itertools import chain
from typing import Final

from vswap.kernel.types import MAX_SWAPFILES_SHIFT, SWAPFILE_CLUSTER

#: ``VTABLE_TAG_BITS`` and the tags (``enum vswap_backing_type``).
VTABLE_TAG_BITS: Final = 3
VTABLE_TAG_MASK: Final = (1 << VTABLE_TAG_BITS) - 1
VSWAP_NONE: Final = 0
VSWAP_ZSWAP: Final = 1
VSWAP_SWAPFILE: Final = 2
#: Return-only types, derived from the swap table (zero flag, PFN word).
VSWAP_ZERO: Final = 3
VSWAP_FOLIO: Final = 4
#: ``VTABLE_PHYS_OFF_BITS``: offset bits of a SWAPFILE word.
VTABLE_PHYS_OFF_BITS: Final = 64 - VTABLE_TAG_BITS - MAX_SWAPFILES_SHIFT


def vtable_mk_phys(type_: int, offset: int) -> int:
    """Models: ``vtable_mk_phys()``."""
    return type_ << (VTABLE_TAG_BITS + VTABLE_PHYS_OFF_BITS) | offset << VTABLE_TAG_BITS \
        | VSWAP_SWAPFILE


def vtable_to_phys(vt: int) -> tuple[int, int]:
    """Models: ``vtable_to_phys()``: (type, offset) of a SWAPFILE word."""
    return (vt >> (VTABLE_TAG_BITS + VTABLE_PHYS_OFF_BITS),
            (vt >> VTABLE_TAG_BITS) & ((1 << VTABLE_PHYS_OFF_BITS) - 1))


def vtable_mk_zswap(zentry: int) -> int:
    """A ZSWAP word: the zswap entry (its id here) with tag ``0b001``."""
    return zentry << VTABLE_TAG_BITS | VSWAP_ZSWAP


class VswapSpace:
    """The vswap device's clusters: which exist, their allocated slots, their virtual tables.

    ``type`` is the device's swap type, ``max`` the bound on its offsets (clusters are made
    at the lowest free id, so offsets stay below ``max_pages`` plus a cluster per order) and
    ``limit`` the live slots it may hold (the space cap: the posted series caps vswap at
    8 TB). The swap and memcg tables of each cluster are kept by
    the design with the physical clusters' (``SwapTableCache.tables`` under this type, and
    the design's ``memcg_tables``); :meth:`alloc` and :meth:`release` say when a cluster
    appears and disappears.
    """

    def __init__(self, *, type_: int, max_pages: int) -> None:
        self.type = type_
        self.limit = max_pages
        self.max = max_pages + 16 * SWAPFILE_CLUSTER
        self.vtables: dict[int, array[int]] = {}
        self.users: dict[int, int] = {}
        #: Per order, the cluster allocations of that order go to first (``ci->order``).
        self.cluster_order: dict[int, int] = {}
        self.next_hint: dict[int, int] = {}
        self.clusters_allocated = 0
        self.clusters_freed = 0
        #: Live slots (``vswap/used``).
        self.used = 0
        #: Per order, the ids of that order's clusters with a free slot, ascending: the
        #: kernel's per-order ``nonfull_clusters`` list, kept sorted so that an allocation
        #: still takes the lowest cluster with room without sorting and walking every live
        #: cluster (that walk made the work per allocation grow with the amount swapped).
        self.nonfull: dict[int, list[int]] = {}
        #: Cluster ids below ``next_id`` that are free (a min-heap); every id from
        #: ``next_id`` up is free: the lowest free id without probing the live ones.
        self.free_ids: list[int] = []
        self.next_id = 0

    def _free_run(self, c: int, nr: int, words: array[int]) -> int:
        """An aligned run of ``nr`` free slots in cluster ``c`` (-1 if none); a slot is free
        when its swap table word and virtual table word are both 0."""
        vt = self.vtables[c]
        start = self.next_hint.get(c, 0)
        if nr == 1:
            # The order-0 case of the loop below without a generator per slot.
            for base in chain(range(start, SWAPFILE_CLUSTER), range(0, start)):
                if not words[base] and not vt[base] and (c or base):
                    return base
            return -1
        for base in chain(range(start - start % nr, SWAPFILE_CLUSTER, nr), range(0, start, nr)):
            if c == 0 and base == 0:
                continue
            if base + nr > SWAPFILE_CLUSTER:
                continue
            if all(not words[base + k] and not vt[base + k] for k in range(nr)):
                return base
        return -1

    def alloc(self, order: int, tables: dict[tuple[int, int], array[int]]) -> tuple[int, bool]:
        """Models: the vswap device's cluster allocation (``cluster_alloc_swap_entry`` on
        ``vswap_si``): ``1 << order`` aligned slots from a cluster of that order with room,
        lowest first, else a new cluster at the lowest free id. Returns (offset, whether a
        new cluster was made; the caller then gives it its tables), or (0, False) when the
        space is full (``limit`` - 1 slots live: slot 0 is never handed out).
        """
        nr = 1 << order
        if self.used + nr > self.limit - 1:
            return 0, False
        # Only clusters with a free slot can hold the run: a full one (cluster 0 is full at
        # 511, its slot 0 never handed out) has none, so skipping it changes no choice.
        for c in self.nonfull.get(order, ()):
            if self.users[c] + nr > SWAPFILE_CLUSTER:
                continue
            base = self._free_run(c, nr, tables[(self.type, c)])
            if base >= 0:
                self._take(c, base, nr)
                return c * SWAPFILE_CLUSTER + base, False
        # Slot 0 is never handed out, so cluster 0 cannot hold a whole-cluster run: an
        # order-9 allocation starts its search at cluster 1 (it took offset 512 of cluster
        # 0, in cluster 1's range, and the next one collided with it).
        c = self._lowest_free_id(0 if nr < SWAPFILE_CLUSTER else 1)
        self.users[c] = 0
        self.cluster_order[c] = order
        insort(self.nonfull.setdefault(order, []), c)
        self.vtables[c] = array("Q", bytes(8 * SWAPFILE_CLUSTER))
        self.clusters_allocated += 1
        base = nr if c == 0 else 0  # the first aligned run after slot 0
        self._take(c, base, nr)
        return c * SWAPFILE_CLUSTER + base, True

    def _lowest_free_id(self, start: int) -> int:
        """The lowest cluster id at or above ``start`` (0 or 1) that no live cluster has."""
        heap = self.free_ids
        if heap and heap[0] >= start:
            return heappop(heap)
        if heap:  # heap[0] is 0, below start 1: the next lowest, if any
            zero = heappop(heap)
            c = heappop(heap) if heap else -1
            heappush(heap, zero)
            if c >= 0:
                return c
        c = max(self.next_id, start)
        for free in range(self.next_id, c):
            heappush(heap, free)
        self.next_id = c + 1
        return c

    @staticmethod
    def _capacity(c: int) -> int:
        """Slots cluster ``c`` can hand out (cluster 0's slot 0 is the header)."""
        return SWAPFILE_CLUSTER - 1 if c == 0 else SWAPFILE_CLUSTER

    def _take(self, c: int, base: int, nr: int) -> None:
        self.users[c] += nr
        self.used += nr
        self.next_hint[c] = (base + nr) % SWAPFILE_CLUSTER
        if self.users[c] == self._capacity(c):
            nonfull = self.nonfull[self.cluster_order[c]]
            del nonfull[bisect_left(nonfull, c)]

    def release(self, offset: int, nr: int) -> bool:
        """Give back ``nr`` slots (their words already cleared). Returns True when their
        cluster is now empty and was freed (the caller frees its swap and memcg tables)."""
        c = offset // SWAPFILE_CLUSTER
        vt = self.vtables[c]
        i0 = offset % SWAPFILE_CLUSTER
        assert not any(vt[i0:i0 + nr]), f"vswap slots {offset}+{nr} released with a backend"
        was_full = self.users[c] == self._capacity(c)
        self.users[c] -= nr
        self.used -= nr
        nonfull = self.nonfull[self.cluster_order[c]]
        if self.users[c]:
            if was_full:
                insort(nonfull, c)
            return False
        if not was_full:
            del nonfull[bisect_left(nonfull, c)]
        del self.users[c], self.vtables[c], self.cluster_order[c]
        self.next_hint.pop(c, None)
        heappush(self.free_ids, c)
        self.clusters_freed += 1
        return True

    def vt_get(self, offset: int) -> int:
        """Models: ``__vtable_get()`` (0 for a slot of no cluster)."""
        vt = self.vtables.get(offset // SWAPFILE_CLUSTER)
        return int(vt[offset % SWAPFILE_CLUSTER]) if vt is not None else 0

    def vt_set(self, offset: int, word: int) -> None:
        """Models: ``__vtable_set()``."""
        self.vtables[offset // SWAPFILE_CLUSTER][offset % SWAPFILE_CLUSTER] = word

    def clusters(self) -> Iterator[int]:
        """Live cluster ids, in order."""
        return iter(sorted(self.users))

    def check_invariants(self, tables: dict[tuple[int, int], array[int]]) -> None:
        """Raise AssertionError unless the module-docstring invariants hold."""
        assert set(self.vtables) == set(self.users) == set(self.cluster_order)
        total = 0
        for c, n in self.users.items():
            words = tables.get((self.type, c))
            assert words is not None, f"vswap cluster {c} without a swap table"
            vt = self.vtables[c]
            live = sum(1 for i in range(SWAPFILE_CLUSTER) if words[i] or vt[i])
            assert live == n, f"vswap cluster {c}: {n} users, {live} live slots"
            assert n, f"empty vswap cluster {c} not freed"
            if c == 0:
                assert not words[0] and not vt[0], "vswap slot 0 handed out"
            total += n
        assert total == self.used, f"vswap/used {self.used} != {total}"
        for order, ids in self.nonfull.items():
            want = sorted(c for c, n in self.users.items()
                          if self.cluster_order[c] == order and n < self._capacity(c))
            assert ids == want, f"vswap order-{order} nonfull list {ids} != {want}"
        assert not set(self.free_ids) & set(self.users), "a live vswap cluster id listed free"
        assert set(self.free_ids) | set(self.users) >= set(range(self.next_id)), \
            "a vswap cluster id below next_id neither live nor free"
