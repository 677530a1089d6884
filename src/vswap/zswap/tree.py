"""zswap's tree index: which tree holds a swap entry, and the trees themselves.

Models: the ``zswap_trees[]`` XArrays of mm/zswap.c (v6.14): ``swap_zswap_tree()``,
``zswap_tree_index()``, ``zswap_swapon()`` and ``zswap_swapoff()``.

A tree is a plain ``dict`` index -> entry id, and the swap design says which tree and which
index an entry goes to through :class:`~vswap.zswap.host.ZswapHost`. Classic: one tree per
64 MiB of a device, keyed ``(type, offset >> 14)``, indexed by offset; the virtual design: one
tree for the whole space, indexed by the virtual slot. Each tree is its own lock identity for
the contention model (:meth:`ZswapTrees.tree_keys`).

Invariants: ``ids[keys[i]] == i`` for every live key; a tree id is never reused (a tree
dropped at swapoff is emptied in place), so an entry's tree column stays meaningful.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.sizes import xarray_bytes
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import SWAP_ADDRESS_SPACE_PAGES, SwpEntry

__all__ = ["TreePlacement", "ZswapTrees"]


class TreePlacement(Protocol):
    """The part of :class:`~vswap.zswap.host.ZswapHost` the trees use."""

    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """Which tree (and tree lock) holds ``entry``."""

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """The index of ``entry`` inside its tree."""


class ZswapTrees:
    """Every zswap tree of one machine, created on first use (or per device at swapon).

    Args:
        host: the swap design (its :class:`TreePlacement`: tree key and index of an entry).
        tracer: tree operations take the tree's lock (``Cost.ZSWAP_TREE_UPDATE``).
    """

    __slots__ = ("host", "ids", "keys", "swapon_types", "tracer", "trees")

    def __init__(self, host: TreePlacement, tracer: KernelTracer) -> None:
        self.host = host
        self.tracer = tracer
        #: tree key -> tree id; tree id -> {index: entry id}.
        self.ids: dict[Hashable, int] = {}
        self.keys: list[Hashable] = []
        self.trees: list[dict[int, int]] = []
        #: classic device type -> number of trees created at swapon.
        self.swapon_types: dict[int, int] = {}

    def lookup(self, entry: SwpEntry) -> tuple[int, int]:
        """(tree id, index) of ``entry``, taking the tree's lock; a tree is created on first
        use."""
        host = self.host
        key = host.zswap_tree_key(entry)
        self.tracer.lock_step("zswap_tree", key, Cost.ZSWAP_TREE_UPDATE)
        tid = self.ids.get(key)
        if tid is None:
            tid = self.add(key)
        return tid, host.zswap_tree_index(entry)

    def add(self, key: Hashable) -> int:
        """A new, empty tree for ``key``; returns its id."""
        tid = len(self.trees)
        self.ids[key] = tid
        self.keys.append(key)
        self.trees.append({})
        return tid

    def erase(self, entry: SwpEntry) -> int:
        """Erase ``entry``'s tree slot; return the entry id that was there (0: none)."""
        tid, index = self.lookup(entry)
        return self.trees[tid].pop(index, 0)

    def zswap_swapon(self, type_: int, nr_pages: int) -> None:
        """Models: ``zswap_swapon()``: one tree per 64 MiB of a classic device.

        Keys are ``(type_, n)`` as ``classic_zswap_tree_key`` builds them. The virtual
        design never calls this (its tree is static).

        Raises:
            KernelError(EBUSY): the device type already has trees.
        """
        if type_ in self.swapon_types:
            raise KernelError(Errno.EBUSY, f"zswap_swapon: type {type_} already has trees")
        nr = -(-nr_pages // SWAP_ADDRESS_SPACE_PAGES)
        self.swapon_types[type_] = nr
        for n in range(nr):
            if (type_, n) not in self.ids:
                self.add((type_, n))

    def zswap_swapoff(self, type_: int) -> None:
        """Models: ``zswap_swapoff()``: drop the trees of a classic device.

        Raises:
            KernelError(EBUSY): a tree still holds entries (the kernel's WARN; swapoff must
                have invalidated every entry through ``try_to_unuse``).
        """
        keys = [k for k in self.keys
                if isinstance(k, tuple) and len(k) == 2 and k[0] == type_]
        busy = sum(len(self.trees[self.ids[k]]) for k in keys)
        if busy:
            raise KernelError(Errno.EBUSY, f"zswap_swapoff: {busy} entries of type {type_} left")
        for k in keys:
            self.trees[self.ids.pop(k)] = {}
        self.keys = [k for k in self.keys if k not in keys]
        self.swapon_types.pop(type_, None)

    def tree_keys(self) -> list[Hashable]:
        """Every tree (lock identity), in creation order."""
        return list(self.keys)

    def tree_entry_counts(self) -> dict[Hashable, int]:
        """Entries per tree."""
        return {k: len(self.trees[self.ids[k]]) for k in self.keys}

    def metadata_bytes(self) -> int:
        """Bytes of XArray nodes the kernel would spend on every tree."""
        return sum(xarray_bytes(t.keys()) for t in self.trees if t)

    def check_invariants(self, tree_col: Sequence[int], swpentry_col: Sequence[int]
                         ) -> set[int]:
        """Raise AssertionError unless every entry is in one tree slot, of the tree its
        ``tree`` column names, at the index its swap entry maps to; return the live ids."""
        keys = self.keys
        live: set[int] = set()
        for tid, tree in enumerate(self.trees):
            for index, eid in tree.items():
                assert eid not in live, "entry in two tree slots"
                live.add(eid)
                assert tree_col[eid] == tid, "entry's tree"
                key = keys[tid] if tid < len(keys) else None
                if key is not None:
                    swp = SwpEntry(swpentry_col[eid])
                    assert self.host.zswap_tree_index(swp) == index, "entry's index"
        return live
