"""zswap's tree index (vswap.zswap.tree): placement, swapon/swapoff, locking, and a tree's
chunked storage (issue 12)."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from vswap.kernel.errors import KernelError
from vswap.kernel.sizes import xarray_bytes
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import SWAP_ADDRESS_SPACE_PAGES, SwpEntry, swp_entry
from vswap.zswap.host import classic_zswap_tree_index, classic_zswap_tree_key
from vswap.zswap.tree import TREE_CHUNK_SHIFT, ZswapTree, ZswapTrees


class ClassicPlacement:
    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        return classic_zswap_tree_key(entry)

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        return classic_zswap_tree_index(entry)


class LockLog(KernelTracer):
    def __init__(self) -> None:
        self.locks: list[tuple[str, Hashable, Cost]] = []

    def lock_step(self, lock_class: str, instance: Hashable, cost: Cost) -> None:
        self.locks.append((lock_class, instance, cost))


def test_lookup_creates_one_tree_per_64mib_and_takes_its_lock() -> None:
    log = LockLog()
    trees = ZswapTrees(ClassicPlacement(), log)
    far = swp_entry(0, SWAP_ADDRESS_SPACE_PAGES + 5)
    assert trees.lookup(swp_entry(0, 5)) == (0, 5)
    assert trees.lookup(far) == (1, SWAP_ADDRESS_SPACE_PAGES + 5)
    assert trees.lookup(swp_entry(0, 6)) == (0, 6)
    assert trees.tree_keys() == [(0, 0), (0, 1)]
    assert log.locks == [("zswap_tree", (0, 0), Cost.ZSWAP_TREE_UPDATE),
                         ("zswap_tree", (0, 1), Cost.ZSWAP_TREE_UPDATE),
                         ("zswap_tree", (0, 0), Cost.ZSWAP_TREE_UPDATE)]


def test_swapon_swapoff_and_erase() -> None:
    trees = ZswapTrees(ClassicPlacement(), KernelTracer())
    trees.zswap_swapon(1, 2 * SWAP_ADDRESS_SPACE_PAGES + 1)
    assert trees.tree_entry_counts() == {(1, 0): 0, (1, 1): 0, (1, 2): 0}
    with pytest.raises(KernelError, match="EBUSY"):
        trees.zswap_swapon(1, 8)
    tid, index = trees.lookup(swp_entry(1, 3))
    trees.trees[tid][index] = 42
    with pytest.raises(KernelError, match="EBUSY: zswap_swapoff: 1 entries"):
        trees.zswap_swapoff(1)
    assert trees.erase(swp_entry(1, 3)) == 42 and trees.erase(swp_entry(1, 3)) == 0
    trees.zswap_swapoff(1)
    assert trees.tree_keys() == [] and trees.metadata_bytes() == 0
    # Tree ids are not reused: a new device gets new trees.
    trees.zswap_swapon(1, 8)
    assert trees.lookup(swp_entry(1, 3))[0] == 3


def test_a_tree_keeps_ids_in_chunks_freed_with_their_last_entry() -> None:
    # issue 12: 4 bytes per stored page in per-cluster chunks, not a dict entry and two ints
    tree = ZswapTree()
    assert not tree and tree.get(7) == 0 and tree.pop(7) == 0
    tree[7] = 3
    tree[7] = 4                                   # a re-store replaces, counts once
    tree[(5 << TREE_CHUNK_SHIFT) + 1] = 9
    assert len(tree) == 2 and tree[7] == 4 and tree.get(8, -1) == -1
    assert sorted(tree.items()) == [(7, 4), ((5 << TREE_CHUNK_SHIFT) + 1, 9)]
    assert sorted(tree.indices().tolist()) == [7, (5 << TREE_CHUNK_SHIFT) + 1]
    assert sorted(tree.chunks) == [0, 5]
    del tree[7]
    with pytest.raises(KeyError):
        del tree[7]
    with pytest.raises(KeyError):
        tree[7]
    assert sorted(tree.chunks) == [5] and tree.pop((5 << TREE_CHUNK_SHIFT) + 1) == 9
    assert not tree and not tree.chunks and not tree.used


def test_tree_metadata_counts_the_xarray_nodes_of_its_indices() -> None:
    trees = ZswapTrees(ClassicPlacement(), KernelTracer())
    offsets = [1, 2, 64, 700, SWAP_ADDRESS_SPACE_PAGES + 3]
    for n, off in enumerate(offsets, start=1):
        tid, index = trees.lookup(swp_entry(0, off))
        trees.trees[tid][index] = n
    assert trees.metadata_bytes() == (xarray_bytes(offsets[:-1])
                                      + xarray_bytes([SWAP_ADDRESS_SPACE_PAGES + 3]))
    assert trees.tree_entry_counts() == {(0, 0): 4, (0, 1): 1}
