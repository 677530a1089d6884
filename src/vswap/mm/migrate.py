"""Page migration and memory compaction, NUMA-less: folios moved to new folios.

Models: mm/migrate.c (v6.14) ``migrate_pages()`` for anonymous folios, resident or in the
swap cache: ``try_to_migrate`` (the PTEs mapping the folio), ``migrate_folio()`` ->
``__folio_migrate_mapping()`` (a swap-cache folio's entries handed to the new folio through
the design's ``swap_cache_replace_folio``: the XArray slots, the swap table words, v6's
descriptors, RFC v2's ``vswap_migrate`` (T10, patch 12)), ``folio_migrate_flags()``,
``mem_cgroup_migrate()`` (the charge moves with it) and ``remove_migration_ptes()`` (each PTE
now maps the new folio); and mm/compaction.c's ``compact_nodes()`` behind
``echo 1 > /proc/sys/vm/compact_memory`` (a full compaction, ``order == -1``).

The model has no physical addresses: a full compaction migrates every movable folio on the
LRU lists once (the kernel moves those below the point where its migration and free
scanners meet, which depends on where pages sit). A folio that cannot be isolated (locked,
under writeback, held by reclaim or a fault: ``folio_isolate_lru`` / the refcount check) is
scanned and skipped; one whose new folio cannot be had (no free page: the free scanner
found none) fails (``pgmigrate_fail``) and ends the pass, as ``compaction_alloc`` running
dry ends ``compact_zone``. tmpfs folios are not migrated (their page-cache slot would move;
docs/folio-split-migration.md).

Counted (``/proc/vmstat``): ``pgmigrate_success`` / ``pgmigrate_fail`` (pages),
``compact_migrate_scanned`` (pages the migration scanner looked at), ``compact_isolated``
(pages isolated on both sides: the folios to move and the free pages they move to),
``thp_migration_success`` / ``thp_migration_fail`` (PMD-size folios). Direct compaction
(``compact_stall``) is not modelled: allocations never need contiguous memory here.
"""

from __future__ import annotations

from dataclasses import dataclass

from vswap._mypyc import trait
from vswap.kernel.folio import Folio
from vswap.kernel.types import HPAGE_PMD_ORDER, SwpEntry
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import PTE_TABLE_MASK, PTE_TABLE_SHIFT, VPN_BITS, VPN_MASK


@dataclass
class CompactMemoryResult:
    """What one ``compact_memory`` pass did (pages)."""

    scanned: int = 0
    isolated: int = 0
    migrated: int = 0
    failed: int = 0
    swapcache_migrated: int = 0


@trait
class MigrateMixin(MachineBase):
    """Migration and compaction of :class:`~vswap.mm.machine.Machine`."""

    def migrate_folio(self, folio: Folio) -> Folio | None:
        """Move an isolated, locked anonymous folio to a new folio; return it, or None
        when no free page can be had (nothing changed).

        Models: ``migrate_folio_unmap`` + ``migrate_folio_move`` for one folio: the new
        folio takes the bytes, the flags, the charge, the swap-cache entries (through the
        design's ``swap_cache_replace_folio``), the deferred split queue place and every
        PTE; the old one is freed. Context: ``folio`` isolated (one pin) and locked.
        """
        nr = folio.nr_pages
        if self.nr_free_pages() < nr:
            return None
        new = Folio(folio.order, folio.data, folio.memcg_id)
        for flag in ("dirty", "active", "referenced", "workingset", "uptodate",
                     "mm_written", "readahead"):
            setattr(new, flag, getattr(folio, flag))
        self.nr_used_pages += nr
        self.tracer.folio_alloc(nr, False)
        # mem_cgroup_migrate(): the charge moves to the new folio.
        new.mm_charged, folio.mm_charged = folio.mm_charged, 0
        new.locked = True
        if folio.swapcache:
            new.swap, new.swapcache = folio.swap, True
            self.design.swap_cache_replace_folio(folio, new)
            folio.swap, folio.swapcache = SwpEntry(0), False
        # remove_migration_ptes(): every PTE that mapped the old folio maps the new one.
        mms = self.mms
        for key in folio.rmap:
            mm = mms[key >> VPN_BITS]
            vpn = key & VPN_MASK
            mm.tables[vpn >> PTE_TABLE_SHIFT][1][vpn & PTE_TABLE_MASK] = new
        new.rmap, folio.rmap = folio.rmap, []
        new.mapcount, folio.mapcount = folio.mapcount, 0
        if folio in self.deferred_split_queue:
            # Off the queue with the old folio, requeued with the new (not counted again).
            del self.deferred_split_queue[folio]
            self.deferred_split_queue[new] = None
        new.locked = False
        folio.locked = False
        folio.mm_pins = 0
        # The old folio's pages go back to the allocator (its charge went with the data).
        self.nr_used_pages -= nr
        self.tracer.folio_free(nr)
        return new

    def compact_memory(self) -> CompactMemoryResult:
        """Models: ``compact_nodes()`` (``echo 1 > /proc/sys/vm/compact_memory``): every
        movable anonymous folio on the LRU lists is isolated, migrated to a new folio and
        put back (at the head of its list, as ``putback_movable_pages`` adds it)."""
        res = CompactMemoryResult()
        folios = [f for lv in self.lruvecs.values() for lst in (lv.inactive, lv.active)
                  for f in lst]
        for folio in folios:
            nr = folio.nr_pages
            res.scanned += nr
            if (not folio.lru or folio.mapping is not None or folio.mm_pins
                    or folio.locked or folio.writeback or not folio.mm_charged):
                continue
            self.folio_del_lru(folio)
            folio.mm_pins += 1
            folio.locked = True
            res.isolated += nr
            new = self.migrate_folio(folio)
            if new is None:
                folio.locked = False
                res.failed += nr
                if folio.order == HPAGE_PMD_ORDER:
                    self.count_event("thp_migration_fail", 1, 0)
                self.folio_putback_lru(folio)
                break
            res.isolated += nr
            res.migrated += nr
            if new.swapcache:
                res.swapcache_migrated += nr
            if folio.order == HPAGE_PMD_ORDER:
                self.count_event("thp_migration_success", 1, 0)
            self.folio_add_lru(new)
        self.count_event("compact_migrate_scanned", res.scanned, 0)
        self.count_event("compact_isolated", res.isolated, 0)
        self.count_event("pgmigrate_success", res.migrated, 0)
        self.count_event("pgmigrate_fail", res.failed, 0)
        self.compactions.append(res)
        return res
