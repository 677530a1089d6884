"""The ``struct zswap_entry`` table: one row of compact columns per stored page.

Models: ``struct zswap_entry``, ``zswap_entry_cache_alloc()`` and ``zswap_entry_cache_free()``
of mm/zswap.c (v6.14): the entry slab, here a struct of arrays indexed by the entry id.

Representation (DESIGN.md "Compact metadata"): one row per entry id, grown on demand; id 0
is never used, so 0 means "no entry" wherever an id is stored (trees, vswap descriptors).

========== ============ ==========================================================
column     type         meaning
========== ============ ==========================================================
swpentry   array('q')   the swap entry the page belongs to (``entry->swpentry``)
length     array('H')   compressed length (``PAGE_SIZE``: stored as-is)
handle     array('I')   zsmalloc handle in the entry's pool
pool       array('B')   index of the pool (compressor) the object lives in
memcg      array('I')   owning memcg id (``entry->objcg``; 0: none, the root)
lru        array('I')   key of the list_lru list holding the entry (memcg id)
tree       array('I')   tree id the entry is indexed in
crc        array('I')   CRC32 of the page (the model's own check; the kernel keeps none)
referenced bytearray    ``entry->referenced``: the LRU's second-chance bit
========== ============ ==========================================================

Invariants: a live id is in exactly one tree slot and on exactly one LRU list (the one its
``lru`` column names); a free id is on the free list and nowhere else. Ids are reused LIFO.
"""

from __future__ import annotations

from array import array

__all__ = ["ZswapEntryTable"]


class ZswapEntryTable:
    """The zswap entries of one :class:`~vswap.zswap.zswap.Zswap`, as compact columns.

    The columns are public so that the store and load paths index them directly (one array
    access per field, no per-entry object).
    """

    __slots__ = ("crc", "free_ids", "handle", "length", "lru", "memcg", "pool", "referenced",
                 "swpentry", "tree")

    def __init__(self) -> None:
        self.swpentry = array("q", [0])
        self.length = array("H", [0])
        self.handle = array("I", [0])
        self.pool = array("B", [0])
        self.memcg = array("I", [0])
        self.lru = array("I", [0])
        self.tree = array("I", [0])
        self.crc = array("I", [0])
        self.referenced = bytearray(1)
        self.free_ids: list[int] = []

    def alloc(self, swpentry: int, length: int, handle: int, pool: int, memcg_id: int,
              lru_key: int, tree: int, crc: int) -> int:
        """Models: ``zswap_entry_cache_alloc()`` + filling the entry; returns its id.

        The new entry is referenced (a fresh store gets its second chance on the LRU).
        """
        free_ids = self.free_ids
        if free_ids:
            eid = free_ids.pop()
            self.swpentry[eid] = swpentry
            self.length[eid] = length
            self.handle[eid] = handle
            self.pool[eid] = pool
            self.memcg[eid] = memcg_id
            self.lru[eid] = lru_key
            self.tree[eid] = tree
            self.crc[eid] = crc
            self.referenced[eid] = 1
            return eid
        eid = len(self.swpentry)
        self.swpentry.append(swpentry)
        self.length.append(length)
        self.handle.append(handle)
        self.pool.append(pool)
        self.memcg.append(memcg_id)
        self.lru.append(lru_key)
        self.tree.append(tree)
        self.crc.append(crc)
        self.referenced.append(1)
        return eid

    def free(self, eid: int) -> None:
        """Models: ``zswap_entry_cache_free()``: the id goes back to the free list."""
        self.free_ids.append(eid)
