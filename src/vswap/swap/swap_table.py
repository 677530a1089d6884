"""The swap table: the swap cache as one array of 8-byte entries per swap cluster.

Models: mm/swap_table.h and the swap-cache half of mm/swap_state.c as swap table phase I
left them (Linux 6.18, "mm, swap: use the swap table for the swap cache and switch API",
torvalds/linux mm/swap_table.h @07adc4cf1ecd), and the entry layout phases III-IV give the
same word (linux-mm/linux-mm mm/swap_table.h @0822e81d0463): ``struct swap_table`` is
``atomic_long_t entries[SWAPFILE_CLUSTER]``, one per cluster, allocated while the cluster is
in use (``swap_cluster_alloc_table`` / ``swap_cluster_free_table``), read without a lock
(``swap_table_get`` under RCU) and written under the cluster lock (``__swap_table_set``,
``__swap_table_xchg``). There is no XArray and no ``address_space`` per 64 MiB: every
swap-cache update takes the lock of the entry's *cluster*, the lock the swap count updates of
the same slots take.

One entry (an unsigned 64-bit word in the cluster's ``array('Q')``):

==================================  ==========================================================
value                               meaning
==================================  ==========================================================
0                                   NULL: nothing cached, no shadow (``swp_tb_is_null``)
``shadow << 1 | 1``                 a workingset shadow (``xa_mk_value``, ``swp_tb_is_shadow``)
``key << 2 | 0b10``                 a cached folio (phase I stores the pointer, phase IV the
                                    PFN with mark ``0b10``); ``key`` names the folio in
                                    :attr:`SwapTableCache.folio_by_key` (the model's
                                    ``pfn_folio``); key 0 is the *placeholder* of a swap-in
                                    that claimed the slot and has not inserted its folio yet
bits 59..63 (phase IV only)         the flags field: zero flag (bit 59), swap count
                                    (bits 60..63, 0..15; 15 = continued in the extend table)
==================================  ==========================================================

Phase I uses only the low 59 bits (its swap counts are in ``swap_map``); phase IV keeps the
count and zero flag in the same word (:mod:`vswap.swap.swap_table_p4`).

Invariants (:meth:`SwapTableCache.check_invariants`):

* A folio of ``nr`` pages at entry ``e`` has its value at exactly ``e .. e+nr-1`` (one
  cluster: a folio's entries never cross one); ``folio.swap == e``, ``folio.swapcache``.
* Every table belongs to a cluster in use: the design frees a cluster's table only when no
  slot of it is allocated, and then the table holds nothing (every entry NULL).
* ``nr_pages`` equals the pages of all cached folios (``NR_SWAPCACHE``).
"""

from __future__ import annotations

from array import array
from collections.abc import Hashable, Iterable, Iterator
from typing import Final

import numpy as np

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.tracing import Cost
from vswap.kernel.types import (
    NO_ENTRY,
    SWAPFILE_CLUSTER,
    SWP_OFFSET_MASK,
    SWP_TYPE_SHIFT,
    SwpEntry,
)
from vswap.swap.swap_state import SwapCache

#: Low bits that mark the kind of a non-NULL entry (``SWP_TB_SHADOW_MARK``, ``SWP_TB_PFN_MARK``).
SWP_TB_SHADOW_MARK: Final = 0b1
SWP_TB_PFN_MARK: Final = 0b10
SWP_TB_PFN_MARK_MASK: Final = 0b11
#: The flags field of phase IV: 5 bits at the top of the word (``SWP_TB_FLAGS_BITS``), the
#: zero flag its lowest bit, the swap count the 4 above it (``SWP_TB_COUNT_BITS``).
SWP_TB_FLAGS_BITS: Final = 5
SWP_TB_FLAGS_SHIFT: Final = 64 - SWP_TB_FLAGS_BITS
SWP_TB_FLAGS_MASK: Final = ((1 << SWP_TB_FLAGS_BITS) - 1) << SWP_TB_FLAGS_SHIFT
SWP_TB_VAL_MASK: Final = (1 << SWP_TB_FLAGS_SHIFT) - 1
SWP_TB_ZERO_FLAG: Final = 1 << SWP_TB_FLAGS_SHIFT
SWP_TB_COUNT_SHIFT: Final = SWP_TB_FLAGS_SHIFT + 1
SWP_TB_COUNT_MASK: Final = ((1 << (SWP_TB_FLAGS_BITS - 1)) - 1) << SWP_TB_COUNT_SHIFT
#: ``SWP_TB_COUNT_MAX``: a count field at this value continues in the cluster's extend table.
SWP_TB_COUNT_MAX: Final = (1 << (SWP_TB_FLAGS_BITS - 1)) - 1
#: The value of a slot claimed by a swap-in whose folio is not inserted yet (PFN mark, key 0).
SWP_TB_PLACEHOLDER: Final = SWP_TB_PFN_MARK


def table_words(tables: Iterable[array[int]], batch: int = 1024) -> Iterator[np.ndarray]:
    """The words of ``tables`` as ``uint64`` arrays, ``batch`` tables (4 MiB) at a time.

    Not a kernel function: the reports (the timeline's zero and device pages, sampled
    about 64 times a run) count words over every table of the run with numpy instead of a
    Python test per word, which at the RFC's full size (millions of slots) took seconds a
    sample.
    """
    group: list[array[int]] = []
    for table in tables:
        group.append(table)
        if len(group) == batch:
            yield np.frombuffer(b"".join(group), dtype=np.uint64)
            group = []
    if group:
        yield np.frombuffer(b"".join(group), dtype=np.uint64)


def shadow_to_swp_tb(shadow: int) -> int:
    """Models: ``shadow_swp_to_tb()``: a packed workingset shadow as a value entry."""
    if shadow < 0 or shadow >> (SWP_TB_FLAGS_SHIFT - 1):
        raise KernelError(Errno.EINVAL, f"shadow {shadow:#x} does not fit a swap table entry")
    return shadow << 1 | SWP_TB_SHADOW_MARK


def swp_tb_is_folio(tb: int) -> bool:
    """Models: ``swp_tb_is_folio()`` (the placeholder counts: it stands for a folio)."""
    return tb & SWP_TB_PFN_MARK_MASK == SWP_TB_PFN_MARK


def swp_tb_is_shadow(tb: int) -> bool:
    """Models: ``swp_tb_is_shadow()``."""
    return bool(tb & SWP_TB_SHADOW_MARK)


class SwapTableCache(SwapCache):
    """The swap cache of a swap-table design: per-cluster ``array('Q')`` tables.

    ``tables[(type, cluster)]`` is the cluster's table while it exists. The design calls
    :meth:`alloc_table` when a cluster gets its first allocated slot and :meth:`free_table`
    when its last one is freed. Cached folios are named by key (``id(folio)``) in
    :attr:`folio_by_key`, one row per cached folio, as a PFN names its page.
    """

    def __init__(self, *, env: KernelEnv | None = None) -> None:
        super().__init__(self._cluster_key, self._cluster_index, env=env)
        self.tables: dict[tuple[int, int], array[int]] = {}
        self.folio_by_key: dict[int, Folio] = {}
        #: Shadows of entries claimed by a swap-in (phase II+), until its folio is inserted
        #: or the claim dropped: the kernel checks and inserts in one lock section, the
        #: model's API in two, and the shadow must survive the claim in between.
        self.pending_shadow: dict[int, int] = {}
        #: Tables allocated and freed over the run (``swap_cluster_alloc_table`` calls).
        self.tables_allocated = 0
        self.tables_freed = 0

    @staticmethod
    def _cluster_key(entry: SwpEntry) -> Hashable:
        return (entry >> SWP_TYPE_SHIFT, (entry & SWP_OFFSET_MASK) // SWAPFILE_CLUSTER)

    @staticmethod
    def _cluster_index(entry: SwpEntry) -> int:
        return (entry & SWP_OFFSET_MASK) % SWAPFILE_CLUSTER

    def _table(self, entry: SwpEntry) -> tuple[array[int] | None, int]:
        key = (entry >> SWP_TYPE_SHIFT, (entry & SWP_OFFSET_MASK) // SWAPFILE_CLUSTER)
        return self.tables.get(key), (entry & SWP_OFFSET_MASK) % SWAPFILE_CLUSTER

    # -- table lifetime ------------------------------------------------------------------------
    def alloc_table(self, type_: int, cluster: int) -> array[int]:
        """Models: ``swap_cluster_alloc_table()``: one zeroed page of entries for a cluster
        taken into use (no-op when it has one)."""
        key = (type_, cluster)
        table = self.tables.get(key)
        if table is None:
            table = self.tables[key] = array("Q", bytes(sizes.SWAP_TABLE_BYTES_PER_CLUSTER))
            self.tables_allocated += 1
        return table

    def free_table(self, type_: int, cluster: int) -> None:
        """Models: ``swap_cluster_free_table()``: the cluster is free again; its table must
        hold nothing (every slot's shadow was cleared when the slot was freed)."""
        table = self.tables.pop((type_, cluster), None)
        if table is None:
            return
        if any(table):
            raise AssertionError(f"swap table of cluster {type_}:{cluster} freed non-empty")
        self.tables_freed += 1

    def table_of(self, entry: SwpEntry) -> array[int] | None:
        """The table of ``entry``'s cluster, or None when the cluster has none."""
        return self._table(entry)[0]

    def swp_tb(self, entry: SwpEntry) -> int:
        """Models: ``swap_table_get()``: the entry's word, read without the lock (0: no
        table)."""
        table, i = self._table(entry)
        return table[i] if table is not None else 0

    def claim(self, entry: SwpEntry, nr: int) -> None:
        """Put the placeholder at ``entry .. +nr`` (phase II+: the swap-cache entry is the
        pin); a shadow there is kept aside for :meth:`add_to_swap_cache`. The caller holds
        the cluster lock and checked that no folio is cached there."""
        table, i0 = self._table(entry)
        assert table is not None, f"claim of {entry:#x}: no table"
        for k in range(nr):
            tb = table[i0 + k]
            val = tb & SWP_TB_VAL_MASK
            assert not swp_tb_is_folio(val), f"claim of {entry + k:#x}: already cached"
            if swp_tb_is_shadow(val):
                self.pending_shadow[entry + k] = val >> 1
            table[i0 + k] = tb & SWP_TB_FLAGS_MASK | SWP_TB_PLACEHOLDER

    def unclaim(self, entry: SwpEntry, nr: int) -> None:
        """Drop the placeholders at ``entry .. +nr``, putting their shadows back."""
        table, i0 = self._table(entry)
        assert table is not None, f"unclaim of {entry:#x}: no table"
        for k in range(nr):
            tb = table[i0 + k]
            assert tb & SWP_TB_VAL_MASK == SWP_TB_PLACEHOLDER, f"{entry + k:#x} not claimed"
            shadow = self.pending_shadow.pop(entry + k, None)
            val = shadow_to_swp_tb(shadow) if shadow is not None else 0
            table[i0 + k] = tb & SWP_TB_FLAGS_MASK | val

    # -- the cluster lock ------------------------------------------------------------------------
    def _locked(self, entry: SwpEntry, cost: Cost = Cost.SWAP_CACHE_DELETE) -> Hashable:
        """One ``ci->lock`` section of the entry's cluster (lock class ``swap_cluster``, the
        instance the swap count updates of the same slots use)."""
        key = self._cluster_key(entry)
        self.tracer.lock_step("swap_cluster", key, cost)
        return key

    def swap_address_space(self, entry: SwpEntry) -> Hashable:
        """The lock that serialises the entry's swap-cache updates: its cluster's."""
        return self._cluster_key(entry)

    # -- the swap cache API -----------------------------------------------------------------------
    def add_to_swap_cache(self, folio: Folio, entry: SwpEntry) -> tuple[int, int | None]:
        """Point the entries ``entry .. entry+nr-1`` at ``folio``.

        Models: ``swap_cache_add_folio()`` (6.18; the model keeps the v6.14 name the memory
        manager calls): under the cluster lock, each entry's shadow (or placeholder) is
        replaced by the folio, the flags field kept. Filling a claimed range takes no lock
        section of its own: the claim's section is the kernel's one insertion section.
        Returns ``(0, shadow)`` with the first entry's shadow (or None), or
        ``(-EEXIST, None)`` when an entry holds a folio.

        Raises:
            KernelError(ENOENT): the cluster has no table (the slots are not allocated).
        """
        nr = folio.nr_pages
        table, i0 = self._table(entry)
        if table is None or i0 + nr > SWAPFILE_CLUSTER:
            raise KernelError(Errno.ENOENT, f"swap_cache_add_folio: {entry:#x} has no table")
        if table[i0] & SWP_TB_VAL_MASK != SWP_TB_PLACEHOLDER:
            # A claimed range was checked and taken in the claimer's lock section, which in
            # the kernel inserts the folio too (phase II+): no second section.
            self._locked(entry, Cost.SWAP_CACHE_INSERT)
        for i in range(i0, i0 + nr):
            tb = table[i] & SWP_TB_VAL_MASK
            if tb != SWP_TB_PLACEHOLDER and swp_tb_is_folio(tb):
                return -Errno.EEXIST, None
        first = table[i0] & SWP_TB_VAL_MASK
        shadow = first >> 1 if swp_tb_is_shadow(first) else None
        if first == SWP_TB_PLACEHOLDER:
            shadow = self.pending_shadow.get(entry)
        for k in range(nr):
            self.pending_shadow.pop(entry + k, None)
        key = id(folio)
        val = key << 2 | SWP_TB_PFN_MARK
        for i in range(i0, i0 + nr):
            table[i] = table[i] & SWP_TB_FLAGS_MASK | val
        self.folio_by_key[key] = folio
        folio.swap = entry
        folio.swapcache = True
        self.nr_pages += nr
        return 0, shadow

    def _delete_from_swap_cache(self, folio: Folio, entry: SwpEntry,
                                shadow: int | None) -> None:
        """Models: ``__swap_cache_del_folio()``: under the cluster lock the folio's entries
        become ``shadow`` (or NULL), the flags field kept. The cache pins are not dropped here
        (``put_swap_folio``); the cache's folio reference goes to :attr:`folio_deleted`."""
        self._locked(entry)
        table, i0 = self._table(entry)
        key = id(folio)
        if table is None or table[i0] & SWP_TB_VAL_MASK != key << 2 | SWP_TB_PFN_MARK:
            raise AssertionError(f"__swap_cache_del_folio: {folio!r} not at {entry:#x}")
        val = shadow_to_swp_tb(shadow) if shadow is not None else 0
        for i in range(i0, i0 + folio.nr_pages):
            table[i] = table[i] & SWP_TB_FLAGS_MASK | val
        del self.folio_by_key[key]
        folio.swap = NO_ENTRY
        folio.swapcache = False
        self.nr_pages -= folio.nr_pages
        self.folio_deleted(folio)

    def replace_folio(self, old: Folio, new: Folio) -> None:
        """Models: ``__swap_cache_replace_folio()`` (6.18): under the cluster lock each word
        of ``new``'s range is exchanged from ``old``'s PFN to ``new``'s (the flags field
        kept); ``old`` leaves :attr:`folio_by_key` once no word names it (a split replaces
        it part by part). Context as :meth:`SwapCache.replace_folio`."""
        entry = new.swap
        self._locked(entry, Cost.SWAP_CACHE_INSERT)
        table, i0 = self._table(entry)
        old_val = id(old) << 2 | SWP_TB_PFN_MARK
        if table is None or any(table[i] & SWP_TB_VAL_MASK != old_val
                                for i in range(i0, i0 + new.nr_pages)):
            raise AssertionError(f"__swap_cache_replace_folio: {old!r} not at {entry:#x}")
        val = id(new) << 2 | SWP_TB_PFN_MARK
        for i in range(i0, i0 + new.nr_pages):
            table[i] = table[i] & SWP_TB_FLAGS_MASK | val
        self.folio_by_key[id(new)] = new
        o_table, o0 = self._table(old.swap)
        if o_table is None or all(o_table[i] & SWP_TB_VAL_MASK != old_val
                                  for i in range(o0, o0 + old.nr_pages)):
            self.folio_by_key.pop(id(old), None)

    def swap_cache_get_folio(self, entry: SwpEntry) -> Folio | None:
        """Models: ``swap_cache_get_folio()``: a lockless read of the entry's word."""
        self.tracer.swap_cache_lookup()
        table, i = self._table(entry)
        if table is None:
            return None
        tb = table[i] & SWP_TB_VAL_MASK
        if tb == SWP_TB_PLACEHOLDER or not swp_tb_is_folio(tb):
            return None
        return self.folio_by_key[tb >> 2]

    def get_shadow_from_swap_cache(self, entry: SwpEntry) -> int | None:
        """Models: ``swap_cache_get_shadow()``: the entry's shadow, if it holds one."""
        tb = self.swp_tb(entry) & SWP_TB_VAL_MASK
        return tb >> 1 if swp_tb_is_shadow(tb) else None

    def clear_shadow(self, entry: SwpEntry, nr: int = 1) -> int:
        """Models: ``__swap_cache_clear_shadow()`` (slots being freed, cluster lock held by
        the caller's section): shadows at ``entry .. +nr`` become NULL, folios stay.
        Returns the shadows cleared; ``nr`` entries lie in one cluster."""
        table, i0 = self._table(entry)
        if table is None:
            return 0
        cleared = 0
        for i in range(i0, min(i0 + nr, SWAPFILE_CLUSTER)):
            tb = table[i]
            if swp_tb_is_shadow(tb & SWP_TB_VAL_MASK):
                table[i] = tb & SWP_TB_FLAGS_MASK
                cleared += 1
        return cleared

    def folios(self) -> Iterator[Folio]:
        """Every distinct folio in the cache."""
        yield from list(self.folio_by_key.values())

    def nr_shadows(self) -> int:
        """Entries holding a workingset shadow."""
        return sum(1 for table in self.tables.values() for tb in table
                   if swp_tb_is_shadow(tb & SWP_TB_VAL_MASK))

    def metadata_bytes(self) -> int:
        """The tables: one page of entries per cluster in use."""
        return len(self.tables) * sizes.SWAP_TABLE_BYTES_PER_CLUSTER

    def check_invariants(self) -> None:
        """Raise AssertionError unless the module-docstring invariants hold (the design
        checks that tables exist exactly for clusters in use)."""
        pages = 0
        for key, folio in self.folio_by_key.items():
            assert key == id(folio), f"{folio!r} cached under a foreign key"
            assert folio.swapcache and folio.swap, f"{folio!r} cached without swap entry"
            table, i0 = self._table(folio.swap)
            assert table is not None, f"{folio!r} cached in a cluster with no table"
            val = key << 2 | SWP_TB_PFN_MARK
            for i in range(i0, i0 + folio.nr_pages):
                assert table[i] & SWP_TB_VAL_MASK == val, f"{folio!r} missing at index {i}"
            pages += folio.nr_pages
        on_tables = sum(1 for table in self.tables.values() for tb in table
                        if (tb & SWP_TB_VAL_MASK) != SWP_TB_PLACEHOLDER
                        and swp_tb_is_folio(tb & SWP_TB_VAL_MASK))
        assert on_tables == pages, f"{on_tables} folio entries for {pages} cached pages"
        for e in self.pending_shadow:
            assert self.swp_tb(SwpEntry(e)) & SWP_TB_VAL_MASK == SWP_TB_PLACEHOLDER, (
                f"shadow kept aside for {e:#x}, which is not claimed")
        assert pages == self.nr_pages, f"NR_SWAPCACHE {self.nr_pages} != {pages}"
