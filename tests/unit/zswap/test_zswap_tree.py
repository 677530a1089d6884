"""zswap's tree index (vswap.zswap.tree): placement, swapon/swapoff, locking."""

from __future__ import annotations

from collections.abc import Hashable

import pytest

from vswap.kernel.errors import KernelError
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import SWAP_ADDRESS_SPACE_PAGES, SwpEntry, swp_entry
from vswap.zswap.host import classic_zswap_tree_index, classic_zswap_tree_key
from vswap.zswap.tree import ZswapTrees


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
