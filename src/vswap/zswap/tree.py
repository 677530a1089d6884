"""zswap's tree index: which tree holds a swap entry, and the trees themselves.

Models: the ``zswap_trees[]`` XArrays of mm/zswap.c (v6.14): ``swap_zswap_tree()``,
``zswap_tree_index()``, ``zswap_swapon()`` and ``zswap_swapoff()``.

A tree (:class:`ZswapTree`) maps an index to an entry id (0: none; ids start at 1) in
``array('I')`` chunks of 512 indices, allocated with a chunk's first entry and freed with its
last, as the XArray's nodes are: 4 bytes per stored page, not a dict entry and two ints. The
swap design says which tree and which index an entry goes to through
:class:`~vswap.zswap.host.ZswapHost`. Classic: one tree per
64 MiB of a device, keyed ``(type, offset >> 14)``, indexed by offset; the virtual design: one
tree for the whole space, indexed by the virtual slot. Each tree is its own lock identity for
the contention model (:meth:`ZswapTrees.tree_keys`).

Invariants: ``ids[keys[i]] == i`` for every live key; a tree id is never reused (a tree
dropped at swapoff is emptied in place), so an entry's tree column stays meaningful.
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterator, Sequence
from typing import Final, Protocol

import numpy as np

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.sizes import XA_NODE_BYTES, xarray_nodes_of
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import SWAP_ADDRESS_SPACE_PAGES, SwpEntry

__all__ = ["TreePlacement", "ZswapTree", "ZswapTrees"]


#: Indices per tree chunk (a swap cluster's worth).
TREE_CHUNK_SHIFT: Final = 9
_TREE_CHUNK_MASK: Final = (1 << TREE_CHUNK_SHIFT) - 1
_ZERO_TREE_CHUNK = bytes(4 << TREE_CHUNK_SHIFT)


class ZswapTree:
    """One zswap tree (``struct xarray``): index -> entry id, the subset of ``dict`` the
    store, load, invalidate and writeback paths use, on ``array('I')`` chunks (module
    docstring). A stored id is never 0."""

    __slots__ = ("chunks", "nr", "used")

    def __init__(self) -> None:
        #: Chunk (``index >> TREE_CHUNK_SHIFT``) -> its ids (0: empty slot).
        self.chunks: dict[int, array[int]] = {}
        #: Chunk -> ids it holds (the chunk is freed at 0).
        self.used: dict[int, int] = {}
        self.nr = 0

    def __len__(self) -> int:
        return self.nr

    def __bool__(self) -> bool:
        return self.nr > 0

    def get(self, index: int, default: int = 0) -> int:
        """Models: ``xa_load()``: the id at ``index``, or ``default``."""
        ids = self.chunks.get(index >> TREE_CHUNK_SHIFT)
        if ids is None:
            return default
        return ids[index & _TREE_CHUNK_MASK] or default

    def __getitem__(self, index: int) -> int:
        eid = self.get(index, 0)
        if not eid:
            raise KeyError(index)
        return eid

    def __setitem__(self, index: int, eid: int) -> None:
        """Models: ``xa_store()`` of a non-NULL entry."""
        assert eid > 0, "zswap tree: entry id 0 is NULL"
        c = index >> TREE_CHUNK_SHIFT
        ids = self.chunks.get(c)
        if ids is None:
            ids = self.chunks[c] = array("I", _ZERO_TREE_CHUNK)
            self.used[c] = 0
        i = index & _TREE_CHUNK_MASK
        if not ids[i]:
            self.used[c] += 1
            self.nr += 1
        ids[i] = eid

    def pop(self, index: int, default: int = 0) -> int:
        """Models: ``xa_erase()``: clear ``index``, returning its id (``default``: none)."""
        c = index >> TREE_CHUNK_SHIFT
        ids = self.chunks.get(c)
        if ids is None:
            return default
        i = index & _TREE_CHUNK_MASK
        eid = ids[i]
        if not eid:
            return default
        ids[i] = 0
        self.nr -= 1
        left = self.used[c] - 1
        if left:
            self.used[c] = left
        else:
            del self.chunks[c], self.used[c]
        return eid

    def __delitem__(self, index: int) -> None:
        if not self.pop(index, 0):
            raise KeyError(index)

    def items(self) -> Iterator[tuple[int, int]]:
        """(index, id) of every stored entry, by chunk."""
        for c, ids in self.chunks.items():
            base = c << TREE_CHUNK_SHIFT
            for i, eid in enumerate(ids):
                if eid:
                    yield base + i, eid

    def indices(self) -> np.ndarray:
        """Indices holding an entry (int64)."""
        parts = [np.flatnonzero(np.frombuffer(ids, dtype=np.uint32)).astype(np.int64)
                 + (c << TREE_CHUNK_SHIFT) for c, ids in self.chunks.items()]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


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
        #: tree key -> tree id; tree id -> its :class:`ZswapTree` (index -> entry id).
        self.ids: dict[Hashable, int] = {}
        self.keys: list[Hashable] = []
        self.trees: list[ZswapTree] = []
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
        self.trees.append(ZswapTree())
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
            self.trees[self.ids.pop(k)] = ZswapTree()
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
        return sum(xarray_nodes_of(t.indices()) for t in self.trees if t) * XA_NODE_BYTES

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
