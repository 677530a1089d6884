"""The Swap Table Edition's vswap device allocator (:class:`VswapSpace`) against the plain
statement of its policy: an allocation of order k takes the lowest live cluster of order k
with an aligned free run (searched from the cluster's hint), else a new cluster at the lowest
free id (from 1 for a whole-cluster run). The space keeps per-order sorted lists of clusters
with a free slot and a heap of free ids so that it never sorts or walks every live cluster;
these tests replay long random sequences of allocations and frees on both and require the
same offset every time, and the space's invariants after every step.
"""

from __future__ import annotations

import random
from array import array
from itertools import chain

import pytest

from vswap.kernel.types import SWAPFILE_CLUSTER
from vswap.swap.vswap_ste_table import VswapSpace

TYPE = 7


class Reference:
    """The allocator as first written: every live cluster sorted and tried per allocation,
    ids probed upward from 0 (or 1) for a new cluster."""

    def __init__(self, max_pages: int) -> None:
        self.limit = max_pages
        self.users: dict[int, int] = {}
        self.order: dict[int, int] = {}
        self.hint: dict[int, int] = {}
        self.used = 0

    def _free_run(self, c: int, nr: int, words: array[int]) -> int:
        start = self.hint.get(c, 0)
        for base in chain(range(start - start % nr, SWAPFILE_CLUSTER, nr), range(0, start, nr)):
            if (c == 0 and base == 0) or base + nr > SWAPFILE_CLUSTER:
                continue
            if all(not words[base + k] for k in range(nr)):
                return base
        return -1

    def alloc(self, order: int, tables: dict[tuple[int, int], array[int]]) -> int:
        nr = 1 << order
        if self.used + nr > self.limit - 1:
            return 0
        for c in sorted(self.users):
            if self.order[c] != order or self.users[c] + nr > SWAPFILE_CLUSTER:
                continue
            base = self._free_run(c, nr, tables[(TYPE, c)])
            if base >= 0:
                self._take(c, base, nr)
                return c * SWAPFILE_CLUSTER + base
        c = 0 if nr < SWAPFILE_CLUSTER else 1
        while c in self.users:
            c += 1
        self.users[c], self.order[c] = 0, order
        base = nr if c == 0 else 0
        self._take(c, base, nr)
        return c * SWAPFILE_CLUSTER + base

    def _take(self, c: int, base: int, nr: int) -> None:
        self.users[c] += nr
        self.used += nr
        self.hint[c] = (base + nr) % SWAPFILE_CLUSTER

    def release(self, offset: int, nr: int) -> None:
        c = offset // SWAPFILE_CLUSTER
        self.users[c] -= nr
        self.used -= nr
        if not self.users[c]:
            del self.users[c], self.order[c]
            self.hint.pop(c, None)


@pytest.mark.parametrize("seed", range(6))
def test_same_offsets_as_the_plain_policy(seed: int) -> None:
    rng = random.Random(seed)
    max_pages = 24 * SWAPFILE_CLUSTER
    space = VswapSpace(type_=TYPE, max_pages=max_pages)
    ref = Reference(max_pages)
    tables: dict[tuple[int, int], array[int]] = {}
    live: list[tuple[int, int]] = []
    # Orders weighted to the common case, with mTHP and whole-cluster runs; phases that mostly
    # allocate and phases that mostly free, so clusters fill, empty, fragment and come back.
    orders = [0] * 12 + [2, 4, 9]
    freed_clusters = 0
    for step in range(6000):
        grow = (step // 700) % 2 == 0
        if live and rng.random() < (0.3 if grow else 0.75):
            offset, nr = live.pop(rng.randrange(len(live)))
            words = tables[(TYPE, offset // SWAPFILE_CLUSTER)]
            i0 = offset % SWAPFILE_CLUSTER
            words[i0:i0 + nr] = array("Q", bytes(8 * nr))
            ref.release(offset, nr)
            if space.release(offset, nr):
                del tables[(TYPE, offset // SWAPFILE_CLUSTER)]
                freed_clusters += 1
        else:
            order = rng.choice(orders)
            nr = 1 << order
            want = ref.alloc(order, tables)
            got, new_cluster = space.alloc(order, tables)
            assert got == want, f"step {step}: order {order} at {got}, the policy says {want}"
            if not got:
                continue
            c = got // SWAPFILE_CLUSTER
            assert new_cluster == ((TYPE, c) not in tables)
            words = tables.setdefault((TYPE, c), array("Q", bytes(8 * SWAPFILE_CLUSTER)))
            i0 = got % SWAPFILE_CLUSTER
            assert not any(words[i0:i0 + nr]), f"step {step}: {got}+{nr} handed out twice"
            words[i0:i0 + nr] = array("Q", [1] * nr)
            live.append((got, nr))
        if step % 50 == 0:
            space.check_invariants(tables)
    space.check_invariants(tables)
    assert space.used == ref.used == sum(nr for _, nr in live)
    assert freed_clusters, "the sequence never emptied a cluster: the id heap went untested"


def test_order9_skips_a_free_cluster_0() -> None:
    """A whole-cluster run never takes cluster 0 (its slot 0 is the header), even when 0 is
    the lowest free id; an order-0 allocation after it does take 0."""
    space = VswapSpace(type_=TYPE, max_pages=8 * SWAPFILE_CLUSTER)
    tables: dict[tuple[int, int], array[int]] = {}
    off, new = space.alloc(9, tables)
    assert (off, new) == (SWAPFILE_CLUSTER, True)
    tables[(TYPE, 1)] = array("Q", [1] * SWAPFILE_CLUSTER)
    off, new = space.alloc(9, tables)
    assert (off, new) == (2 * SWAPFILE_CLUSTER, True)
    tables[(TYPE, 2)] = array("Q", [1] * SWAPFILE_CLUSTER)
    tables[(TYPE, 1)] = array("Q", bytes(8 * SWAPFILE_CLUSTER))
    assert space.release(SWAPFILE_CLUSTER, SWAPFILE_CLUSTER)
    del tables[(TYPE, 1)]
    off, new = space.alloc(9, tables)
    assert (off, new) == (SWAPFILE_CLUSTER, True)
    tables[(TYPE, 1)] = array("Q", [1] * SWAPFILE_CLUSTER)
    assert space.alloc(0, tables) == (1, True)
    tables[(TYPE, 0)] = array("Q", bytes(8 * SWAPFILE_CLUSTER))
    tables[(TYPE, 0)][1] = 1
    space.check_invariants(tables)
