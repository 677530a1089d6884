"""Page reclaim: anonymous LRU lists, aging, shrink_folio_list, kswapd, direct and memcg reclaim.

Models: mm/vmscan.c (v6.14, the classic two-list LRU; MGLRU off) for anonymous memory, and
the anon half of mm/workingset.c (shadow entries, refault distance).

* Per memcg one ``lruvec`` with an inactive and an active anonymous list. New anonymous
  folios start inactive (since v5.9). Lists are insertion-ordered: the *first* item is the
  tail the kernel scans (oldest), appending is ``list_add`` at the head.
* ``shrink_active_list`` moves folios from the active tail to the inactive list, clearing
  their young bits and setting ``PG_workingset``; anonymous folios are never kept active
  for being referenced.
* ``shrink_folio_list`` follows the kernel's order: ``folio_check_references`` (activate a
  folio referenced twice, give a once-referenced one another round), ``add_to_swap`` (split
  a large folio the swap layer cannot take whole: ``thp_swpout_fallback``), ``try_to_unmap``,
  ``pageout`` through ``swap_writepage`` (``AOP_WRITEPAGE_ACTIVATE`` activates),
  ``__remove_mapping`` with a workingset shadow and ``put_swap_folio``, free.
* Scan pressure per memcg is ``lru_size >> priority`` from ``DEF_PRIORITY`` down, as
  ``get_scan_count`` computes it when only anonymous pages exist; anon is scanned only when
  ``can_reclaim_anon_pages`` (swap space, or zswap under the virtual design) and, in memcg
  reclaim, ``swappiness > 0``.
* kswapd runs when free memory falls below the low watermark, until the high watermark
  (``balance_pgdat``); an allocation that would go below min reclaims directly
  (``try_to_free_pages``); a charge over ``memory.max`` reclaims in the cgroup
  (``try_to_free_mem_cgroup_pages``).
* ``shrink_slab`` is the zswap shrinker (``zswap_shrinker_count`` / ``_scan``), scanned
  per memcg with the kernel's ``(freeable >> priority) * 4 / seeks`` pressure.

Writeback: a write-out completes before ``swap_writepage`` returns, but a folio written
to a device whose bios complete asynchronously (a swap file or disk: not
``SWP_SYNCHRONOUS_IO``, not zswap, not a zero page) is kept as the kernel keeps it, still
under writeback when ``pageout()`` returns: clean in the swap cache, back on the inactive
list and rotated to its tail (``PG_reclaim``, ``folio_rotate_reclaimable``), freed without
I/O by the next scan. So ``MADV_PAGEOUT`` leaves the pages it wrote to a swap file in the
swap cache until reclaim needs the memory. There is no writeback throttling.

Idealised reclaim (``--reclaim lru|fifo|clock``, :meth:`VmscanMixin.set_reclaim_policy`): for
studies and for the cross-check against libCacheSim, an exact replacement policy replaces the
two lists (:class:`ExactReclaim`). Reclaim then runs on demand only: an allocation or charge
that needs ``n`` pages evicts exactly ``n`` pages' worth of victims, chosen by the policy
(kswapd and the ``SWAP_CLUSTER_MAX`` batch do not run); swap-in reads only the faulting page
(``vm.page-cluster`` 0); an evicted page leaves memory at once (the write-out is synchronous,
so nothing stays in the swap cache unmapped). The capacity is ``memory.max`` of the cgroup (or
RAM less the ``min`` watermark for global reclaim), so with order-0 pages and no zswap the
major faults are the misses of the same policy on a cache of that many pages, minus the first
touches.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

from vswap._mypyc import trait
from vswap.kernel.folio import Folio

# At run time, not only for the checker: mypyc's ScanControl dataclass reads its field types
# when vmscan is imported (vswap.compile).
from vswap.kernel.memcontrol import MemCgroup
from vswap.kernel.types import PAGE_SIZE
from vswap.mm._base import MachineBase
from vswap.swap.swap_state import pack_shadow, unpack_shadow

#: ``DEF_PRIORITY``: scan ``size >> 12`` first, doubling down to the whole list.
DEF_PRIORITY: Final = 12
#: ``SWAP_CLUSTER_MAX``: the reclaim batch.
SWAP_CLUSTER_MAX: Final = 32
#: ``MAX_RECLAIM_RETRIES`` (mm/internal.h).
MAX_RECLAIM_RETRIES: Final = 16
#: ``DEFAULT_SEEKS`` and ``SHRINK_BATCH`` (include/linux/shrinker.h).
DEFAULT_SEEKS: Final = 2
SHRINK_BATCH: Final = 128

#: ``--reclaim``: the kernel's LRU (default) and the idealised policies.
RECLAIM_POLICIES: Final = ("linux", "lru", "fifo", "clock")

# folio_check_references() verdicts.
FOLIOREF_RECLAIM: Final = 0
FOLIOREF_KEEP: Final = 1
FOLIOREF_ACTIVATE: Final = 2


class Lruvec:
    """One memcg's anonymous LRU lists and workingset state. Models: ``struct lruvec``.

    ``nr_inactive`` / ``nr_active`` are in pages (``NR_INACTIVE_ANON`` / ``NR_ACTIVE_ANON``),
    ``nr_anon`` is ``NR_ANON_MAPPED`` (pages of mapped folios), ``nonresident_age`` the
    workingset clock (``lruvec->nonresident_age``). A list maps each folio to 0, or under an
    idealised policy to the :class:`ExactReclaim` tick of its position.
    """

    __slots__ = ("active", "inactive", "memcg", "nonresident_age", "nr_active", "nr_anon",
                 "nr_inactive", "parent")

    def __init__(self, memcg: MemCgroup, parent: Lruvec | None) -> None:
        self.memcg = memcg
        self.parent = parent
        self.inactive: OrderedDict[Folio, int] = OrderedDict()
        self.active: OrderedDict[Folio, int] = OrderedDict()
        self.nr_inactive = 0
        self.nr_active = 0
        self.nr_anon = 0
        self.nonresident_age = 0

    def lru_pages(self) -> int:
        return self.nr_inactive + self.nr_active

    def inactive_is_low(self) -> bool:
        """Models: ``inactive_is_low()`` with ``inactive_ratio = int_sqrt(10 * GB)`` (1 below
        1 GB): the inactive list needs refilling from the active list."""
        gb = (self.nr_inactive + self.nr_active) * PAGE_SIZE >> 30
        ratio = int((10 * gb) ** 0.5) if gb else 1
        return self.nr_inactive * ratio < self.nr_active


class ExactReclaim:
    """An idealised replacement policy over the anonymous folios: exact LRU, FIFO or CLOCK.

    Models: nothing in the kernel (which approximates LRU with two lists and young bits); the
    textbook policies as libCacheSim implements them (``LRU``, ``FIFO``, ``Clock`` with a
    one-bit counter and initial frequency 0).

    Invariants: every folio on an LRU is on its lruvec's ``inactive`` list (``active`` is
    empty, ``folio.active`` false); a list is in eviction order, oldest first: last access
    (lru), insertion (fifo), insertion or second-chance reinsertion (clock); each folio's
    list value is the machine-wide :attr:`tick` of its position, so the oldest folio of a set
    of lruvecs is the first one with the smallest value. Under clock ``folio.referenced`` is
    the reference bit, set by an access after the one that brought the folio in.
    """

    __slots__ = ("_new", "lruvecs", "policy", "tick")

    def __init__(self, policy: str, lruvecs: dict[int, Lruvec]) -> None:
        self.policy = policy
        self.lruvecs = lruvecs
        self.tick = 0
        #: The folio inserted last, whose first access is the one that inserted it.
        self._new: Folio | None = None

    def folio_added(self, lruvec: Lruvec, folio: Folio) -> None:
        """A folio enters memory (a miss): at the young end, reference bit clear."""
        folio.active = False
        folio.referenced = False
        self.tick += 1
        lruvec.inactive[folio] = self.tick
        lruvec.nr_inactive += folio.nr_pages
        self._new = folio

    def forget_new(self) -> None:
        self._new = None

    def folio_accessed(self, folio: Folio | None) -> None:
        """A user access to a resident folio (None: the zero page)."""
        if folio is None or not folio.lru:
            return
        if folio is self._new:
            self._new = None  # the access that inserted it: not a hit
            return
        if self.policy == "lru":
            od = self.lruvecs[folio.memcg_id].inactive
            self.tick += 1
            od[folio] = self.tick
            od.move_to_end(folio)
        elif self.policy == "clock":
            folio.referenced = True

    def pick_victim(self, lruvecs: list[Lruvec]) -> Lruvec | None:
        """The lruvec whose first folio is the policy's victim, that folio moved to the list's
        front (clock gives referenced folios their second chance first); None if all are
        empty."""
        while True:
            best: Lruvec | None = None
            best_tick = 0
            for lv in lruvecs:
                if lv.inactive:
                    t = next(iter(lv.inactive.values()))
                    if best is None or t < best_tick:
                        best, best_tick = lv, t
            if best is None:
                return None
            folio = next(iter(best.inactive))
            if self.policy != "clock" or not folio.referenced:
                return best
            folio.referenced = False
            self.tick += 1
            best.inactive[folio] = self.tick
            best.inactive.move_to_end(folio)


@dataclass
class ScanControl:
    """Models: ``struct scan_control`` (the fields anonymous reclaim uses)."""

    nr_to_reclaim: int
    target: MemCgroup | None = None
    swappiness: int = 60
    may_swap: bool = True
    kswapd: bool = False
    priority: int = DEF_PRIORITY
    nr_scanned: int = 0
    nr_reclaimed: int = 0
    #: ``reclaim_pages()`` (MADV_PAGEOUT): skip the reference checks.
    ignore_references: bool = False
    #: Proactive reclaim (``memory.reclaim``).
    proactive: bool = False


@trait
class VmscanMixin(MachineBase):
    """Reclaim entry points of :class:`~vswap.mm.machine.Machine` (see module docstring)."""

    #: The idealised policy in force (None: the kernel's LRU, ``--reclaim linux``).
    exact_reclaim: ExactReclaim | None = None

    def set_reclaim_policy(self, policy: str) -> None:
        """``--reclaim``: the kernel's LRU (``linux``) or an idealised policy; set before any
        page is allocated (pages already on the LRU would be out of the policy's order).

        Raises:
            ConfigError: an unknown policy, or pages already on an LRU.
        """
        from vswap.errors import ConfigError

        if policy not in RECLAIM_POLICIES:
            raise ConfigError(f"--reclaim {policy!r}: one of {', '.join(RECLAIM_POLICIES)}")
        if policy == "linux" and self.exact_reclaim is None:
            return
        if any(lv.lru_pages() for lv in self.lruvecs.values()):
            raise ConfigError("--reclaim: set the policy before any page is allocated")
        if policy == "linux":
            self.exact_reclaim = None
            return
        self.exact_reclaim = ExactReclaim(policy, self.lruvecs)
        self.page_cluster = 0  # no swap readahead: a major fault reads the faulting page

    # -- LRU maintenance ---------------------------------------------------------------------
    def folio_add_lru(self, folio: Folio) -> None:
        """Models: ``folio_add_lru()``: onto the list its ``PG_active`` names."""
        lruvec = self.lruvecs[folio.memcg_id]
        folio.lru = True
        if self.exact_reclaim is not None:
            self.exact_reclaim.folio_added(lruvec, folio)
            return
        if folio.active:
            lruvec.active[folio] = 0
            lruvec.nr_active += folio.nr_pages
        else:
            lruvec.inactive[folio] = 0
            lruvec.nr_inactive += folio.nr_pages

    def folio_del_lru(self, folio: Folio) -> None:
        """Models: ``lruvec_del_folio()`` (also isolation: ``folio_isolate_lru``)."""
        if not folio.lru:
            return
        lruvec = self.lruvecs[folio.memcg_id]
        folio.lru = False
        if folio.active:
            del lruvec.active[folio]
            lruvec.nr_active -= folio.nr_pages
        else:
            del lruvec.inactive[folio]
            lruvec.nr_inactive -= folio.nr_pages

    def folio_putback_lru(self, folio: Folio) -> None:
        """Models: ``folio_putback_lru()``: drop the isolation pin; free a folio nobody uses."""
        folio.mm_pins -= 1
        if not folio.mm_charged:
            return
        if folio.mapcount == 0 and not folio.swapcache and folio.mm_pins == 0:
            self.free_folio(folio)
            return
        if not folio.lru:
            self.folio_add_lru(folio)

    # -- workingset (mm/workingset.c) -------------------------------------------------------
    def workingset_age_nonresident(self, lruvec: Lruvec, nr: int) -> None:
        """Models: ``workingset_age_nonresident()``: advance the clock here and above."""
        lv: Lruvec | None = lruvec
        while lv is not None:
            lv.nonresident_age += nr
            lv = lv.parent

    def workingset_eviction(self, folio: Folio) -> int:
        """Models: ``workingset_eviction()``: the shadow left in the swap cache."""
        lruvec = self.lruvecs[folio.memcg_id]
        eviction = lruvec.nonresident_age
        nr = folio.nr_pages
        lv: Lruvec | None = lruvec
        while lv is not None:  # workingset_age_nonresident(), inlined
            lv.nonresident_age += nr
            lv = lv.parent
        return pack_shadow(folio.memcg_id, eviction, folio.workingset)

    def workingset_refault(self, folio: Folio, shadow: int) -> None:
        """Models: ``workingset_refault()`` for anon: count the refault and activate the
        folio if its refault distance fits in the active list (``workingset_test_recent``)."""
        memcg_id, eviction, workingset = unpack_shadow(shadow)
        eviction_lruvec = self.lruvecs.get(memcg_id)
        if eviction_lruvec is None:
            return
        nr = folio.nr_pages
        self.count_event("workingset_refault_anon", nr, folio.memcg_id)
        distance = eviction_lruvec.nonresident_age - eviction
        if distance > eviction_lruvec.nr_active or self.exact_reclaim is not None:
            return
        folio.active = True
        self.workingset_age_nonresident(self.lruvecs[folio.memcg_id], nr)
        self.count_event("workingset_activate_anon", nr, folio.memcg_id)
        if workingset:
            folio.workingset = True
            self.count_event("workingset_restore_anon", nr, folio.memcg_id)

    # -- reference checks ------------------------------------------------------------------
    def folio_check_references(self, folio: Folio) -> int:
        """Models: ``folio_check_references()`` for anonymous folios."""
        referenced_ptes = self.folio_referenced(folio)
        referenced_folio = folio.referenced
        folio.referenced = False
        if referenced_ptes:
            folio.referenced = True
            if referenced_folio or referenced_ptes > 1:
                return FOLIOREF_ACTIVATE
            return FOLIOREF_KEEP
        return FOLIOREF_RECLAIM

    # -- the LRU scanners --------------------------------------------------------------------
    def shrink_active_list(self, lruvec: Lruvec, nr_to_scan: int,
                           sc: ScanControl) -> None:
        """Models: ``shrink_active_list()``: age the oldest active folios onto the inactive
        list (clearing young bits, setting ``PG_workingset``)."""
        active = lruvec.active
        moved = 0
        scanned = 0
        while active and scanned < nr_to_scan:
            folio, _ = active.popitem(last=False)
            lruvec.nr_active -= folio.nr_pages
            scanned += folio.nr_pages
            if folio.mapcount:
                self.folio_referenced(folio)
            folio.active = False
            folio.workingset = True
            lruvec.inactive[folio] = 0
            lruvec.nr_inactive += folio.nr_pages
            moved += folio.nr_pages
        self.count_event("pgrefill", scanned, lruvec.memcg.id)
        self.count_event("pgdeactivate", moved, lruvec.memcg.id)

    def shrink_inactive_list(self, lruvec: Lruvec, nr_to_scan: int,
                             sc: ScanControl) -> int:
        """Models: ``shrink_inactive_list()``: isolate up to ``nr_to_scan`` pages from the
        tail, run ``shrink_folio_list``, put the rest back. Returns pages reclaimed."""
        inactive = lruvec.inactive
        batch: list[Folio] = []
        scanned = 0
        popitem = inactive.popitem
        while inactive and scanned < nr_to_scan:
            folio, _ = popitem(last=False)
            nr = folio.nr_pages
            lruvec.nr_inactive -= nr
            folio.lru = False
            folio.mm_pins += 1
            scanned += nr
            batch.append(folio)
        if not batch:
            return 0
        memcg_id = lruvec.memcg.id
        self.count_event("pgscan_anon", scanned, memcg_id)
        self.count_event("pgscan_kswapd" if sc.kswapd else "pgscan_direct", scanned, memcg_id)
        sc.nr_scanned += scanned
        reclaimed = self.shrink_folio_list(batch, sc)
        if reclaimed:
            self.count_event("pgsteal_anon", reclaimed, memcg_id)
            self.count_event("pgsteal_kswapd" if sc.kswapd else "pgsteal_direct", reclaimed,
                             memcg_id)
        sc.nr_reclaimed += reclaimed
        return reclaimed

    def shrink_folio_list(self, folios: list[Folio], sc: ScanControl) -> int:
        """Reclaim isolated (pinned, off-LRU) folios; return pages freed.

        Models: ``shrink_folio_list()`` (anonymous, swap-backed folios). Every folio comes
        back through :meth:`folio_putback_lru` (kept, activated) or is freed here.
        """
        design = self.design
        tracer = self.tracer
        ignore_references = sc.ignore_references
        reclaimed = 0
        i = 0
        while i < len(folios):
            folio = folios[i]
            i += 1
            tracer.reclaim_scan(folio.nr_pages)
            if folio.locked:  # folio_trylock() failed
                self.folio_putback_lru(folio)
                continue
            folio.locked = True
            if not ignore_references:
                ref = self.folio_check_references(folio)
                if ref == FOLIOREF_ACTIVATE:
                    self._activate_locked(folio)
                    continue
                if ref == FOLIOREF_KEEP:
                    folio.folio_unlock()
                    self.folio_putback_lru(folio)
                    continue
            if folio.mapping is not None:
                # A tmpfs folio: pageout() is shmem_writepage() (vswap.mm.shmem).
                if not self.shmem_writeout(folio, folios):
                    continue
            elif not folio.swapcache:
                if folio.order and self.folio_partially_mapped(folio):
                    # Split partially mapped folios right away: unmapped pages go without I/O.
                    folio.folio_unlock()
                    folios.extend(self.split_folio_isolated(folio))
                    continue
                if not self.add_to_swap(folio):
                    if not folio.order:
                        self._activate_locked(folio)
                        continue
                    order = folio.order
                    folio.folio_unlock()
                    if order == self.HPAGE_PMD_ORDER:
                        self.count_event("thp_swpout_fallback", 1, folio.memcg_id)
                    self.count_mthp_stat(order, "swpout_fallback")
                    folios.extend(self.split_folio_isolated(folio))
                    continue
            if folio.mapcount and not self.try_to_unmap(folio):
                self._activate_locked(folio)
                continue
            if folio.dirty:
                # pageout(): the dirty bit moves to the I/O, swap_writepage unlocks.
                folio.dirty = False
                if folio.mm_written:
                    self.oracle_record_folio(folio)
                order = folio.order
                design.async_writeback = None
                ret = design.swap_writepage(folio)
                # swap_writepage may set async_writeback, but mypy still narrows it to the
                # None assigned above and mypyc checks that narrowed type at run time
                # (TypeError "None object expected"); rebinding design drops the narrowing.
                design = self.design
                if ret:
                    # AOP_WRITEPAGE_ACTIVATE: kept dirty (zswap refused, writeback disabled).
                    if folio.folio_trylock():
                        self._activate_locked(folio)
                    else:
                        folio.active = True
                        self.folio_putback_lru(folio)
                    continue
                if order:
                    self.count_mthp_stat(order, "swpout")
                if folio.swapcache:
                    self.nr_swapout_pages += folio.nr_pages
                if design.async_writeback is folio and self.exact_reclaim is None:
                    # PAGE_SUCCESS with the folio under writeback (an asynchronous bio):
                    # keep it, clean, in the swap cache; its completion rotates it.
                    design.async_writeback = None
                    self.folio_putback_lru(folio)
                    self.folio_rotate_reclaimable(folio)
                    continue
                if folio.writeback or folio.dirty or not folio.folio_trylock():
                    self.folio_putback_lru(folio)
                    continue
            # __remove_mapping(): only a folio nobody maps any more.
            if folio.mapcount or folio.mm_pins != 1:
                folio.folio_unlock()
                self.folio_putback_lru(folio)
                continue
            if folio.swapcache:
                shadow = self.workingset_eviction(folio)
                design.delete_from_swap_cache(folio, shadow=shadow)
            folio.folio_unlock()
            folio.mm_pins -= 1
            reclaimed += folio.nr_pages
            self.free_folio(folio)
        return reclaimed

    def folio_rotate_reclaimable(self, folio: Folio) -> None:
        """Writeback of a folio ``pageout()`` wrote to an asynchronous device ended.

        Models: ``folio_end_writeback()`` of a folio with ``PG_reclaim`` (set by
        ``pageout()``), which calls ``folio_rotate_reclaimable()``: an inactive folio back on
        the LRU moves to the tail of its list (``lru_move_tail``, ``pgrotated``), where the
        next scan finds it clean and frees it without I/O. The model's write is complete
        when ``swap_writepage`` returns; the kernel's bio completes after the caller put the
        folio back (``move_folios_to_lru``, ``folio_putback_lru``), so the rotation follows
        the putback. An active or isolated folio is left where it is.
        """
        if not folio.lru or folio.active or not folio.swapcache:
            return
        lruvec = self.lruvecs[folio.memcg_id]
        lruvec.inactive.move_to_end(folio, last=False)
        self.count_event("pgrotated", folio.nr_pages, folio.memcg_id)

    def _activate_locked(self, folio: Folio) -> None:
        """The ``activate_locked`` exit: back onto the active list (``pgactivate``)."""
        if folio.swapcache and self.swap_full_for(folio):
            # Not worth keeping a swap slot for a folio that stays in memory.
            self.design.folio_free_swap(folio)
        if not folio.active:
            folio.active = True
            self.count_event("pgactivate", folio.nr_pages, folio.memcg_id)
        folio.folio_unlock()
        self.folio_putback_lru(folio)

    # -- per-memcg and per-node shrinking -----------------------------------------------
    def shrink_lruvec(self, lruvec: Lruvec, sc: ScanControl) -> None:
        """Models: ``shrink_lruvec()`` with ``get_scan_count()`` for anonymous pages only."""
        if not sc.may_swap or not self.can_reclaim_anon_pages(lruvec.memcg, sc):
            return
        if sc.target is not None and sc.swappiness == 0:
            return
        size = lruvec.lru_pages()
        scan = size >> sc.priority
        if not scan:
            if sc.priority > 0 and size > SWAP_CLUSTER_MAX:
                return
            scan = min(size, SWAP_CLUSTER_MAX)
        target = sc.nr_to_reclaim
        # One plug over the whole pass (blk_start_plug in shrink_lruvec): the swap-outs of
        # consecutive slots become one request.
        tracer = self.tracer
        tracer.blk_start_plug()
        try:
            while scan > 0 and sc.nr_reclaimed < target:
                chunk = min(scan, SWAP_CLUSTER_MAX)
                if lruvec.inactive_is_low():
                    self.shrink_active_list(lruvec, chunk, sc)
                if not lruvec.inactive:
                    break
                self.shrink_inactive_list(lruvec, chunk, sc)
                scan -= chunk
        finally:
            tracer.blk_finish_plug()

    def shrink_node_memcgs(self, sc: ScanControl) -> None:
        """Models: ``shrink_node_memcgs()``: every memcg of the target subtree, then its
        slab (the zswap shrinker)."""
        root = sc.target if sc.target is not None else self.memcgs.root
        for memcg in root.subtree():
            lruvec = self.lruvecs.get(memcg.id)
            if lruvec is None:
                continue
            self.shrink_lruvec(lruvec, sc)
            self.shrink_slab(memcg, sc)
            if sc.nr_reclaimed >= sc.nr_to_reclaim and not sc.kswapd:
                break

    def shrink_slab(self, memcg: MemCgroup, sc: ScanControl) -> int:
        """Models: ``shrink_slab()`` -> ``do_shrink_slab()`` for the deferred split shrinker
        (``thp-deferred_split``, when a folio is queued) and the zswap shrinker."""
        if self.deferred_split_queue:
            self.shrink_deferred_split(memcg, sc)
        zswap = self.zswap
        if zswap is None:
            return 0
        freeable = zswap.zswap_shrinker_count(memcg)
        if not freeable:
            return 0
        total_scan = min((freeable >> sc.priority) * 4 // DEFAULT_SEEKS, 2 * freeable)
        freed = 0
        self._memalloc += 1
        try:
            while total_scan >= SHRINK_BATCH or (total_scan and total_scan >= freeable):
                nr = min(SHRINK_BATCH, total_scan)
                ret = zswap.zswap_shrinker_scan(memcg, nr)
                if ret is None or ret < 0:
                    break
                freed += ret
                total_scan -= nr
        finally:
            self._memalloc -= 1
        self.reap_folios()
        return freed

    def shrink_deferred_split(self, memcg: MemCgroup, sc: ScanControl) -> int:
        """``do_shrink_slab()`` of the deferred split shrinker: the same pressure as for
        zswap's (``(count >> priority) * 4 / seeks``, at most twice the count), in
        ``SHRINK_BATCH`` steps. Returns the folios split."""
        freeable = self.deferred_split_count(memcg.id)
        if not freeable:
            return 0
        total_scan = min((freeable >> sc.priority) * 4 // DEFAULT_SEEKS, 2 * freeable)
        split = 0
        while total_scan >= SHRINK_BATCH or (total_scan and total_scan >= freeable):
            nr = min(SHRINK_BATCH, total_scan)
            split += self.deferred_split_scan(memcg.id, nr)
            total_scan -= nr
        self.reap_folios()
        return split

    def drop_slab(self) -> int:
        """Models: ``drop_slab()`` (``echo 2 > /proc/sys/vm/drop_caches``): every memcg's
        shrinkers (the deferred split queue, zswap) at priority 0, repeated while a pass
        still splits a folio or frees more than 10 objects. Returns the objects freed."""
        total = 0
        while True:
            before = len(self.deferred_split_queue)
            freed = 0
            for memcg in self.memcgs.root.subtree():
                if memcg.id in self.lruvecs:
                    freed += self.shrink_slab(memcg, ScanControl(nr_to_reclaim=0, priority=0))
            split = before - len(self.deferred_split_queue)
            total += freed + split
            if freed <= 10 and not split:
                return total

    def do_try_to_free_pages(self, sc: ScanControl) -> int:
        """Models: ``do_try_to_free_pages()``: raise the priority until enough was freed."""
        self._memalloc += 1
        try:
            sc.priority = DEF_PRIORITY
            while sc.priority >= 0:
                self.shrink_node_memcgs(sc)
                if sc.nr_reclaimed >= sc.nr_to_reclaim:
                    break
                sc.priority -= 1
        finally:
            self._memalloc -= 1
        self.reap_folios()
        return sc.nr_reclaimed

    def try_to_free_mem_cgroup_pages(self, memcg: MemCgroup, nr_pages: int, *,
                                     swappiness: int | None = None,
                                     proactive: bool = False) -> int:
        """Models: ``try_to_free_mem_cgroup_pages()``: reclaim at least SWAP_CLUSTER_MAX."""
        if self.exact_reclaim is not None:
            return self.exact_reclaim_pages(memcg, nr_pages)
        sc = ScanControl(nr_to_reclaim=max(nr_pages, SWAP_CLUSTER_MAX), target=memcg,
                         swappiness=self.swappiness if swappiness is None else swappiness,
                         proactive=proactive)
        return self.do_try_to_free_pages(sc)

    def try_to_free_pages(self, nr_pages: int) -> int:
        """Models: ``try_to_free_pages()``: global direct reclaim."""
        self.stats_allocstall += 1
        if self.exact_reclaim is not None:
            return self.exact_reclaim_pages(None, nr_pages)
        sc = ScanControl(nr_to_reclaim=max(nr_pages, SWAP_CLUSTER_MAX),
                         swappiness=self.swappiness)
        return self.do_try_to_free_pages(sc)

    def balance_pgdat(self) -> int:
        """Models: kswapd's ``balance_pgdat()``: reclaim until free >= the high watermark.

        Returns pages reclaimed; gives up (``kswapd_failures``) after a pass at priority 0
        freed nothing. Under an idealised policy kswapd does not run (reclaim is on demand).
        """
        if self.exact_reclaim is not None:
            return 0
        total = 0
        while self.nr_free_pages() < self.wmark_high:
            need = self.wmark_high - self.nr_free_pages()
            sc = ScanControl(nr_to_reclaim=max(need, SWAP_CLUSTER_MAX), kswapd=True,
                             swappiness=self.swappiness)
            got = self.do_try_to_free_pages(sc)
            total += got
            if not got:
                self.kswapd_failures += 1
                break
        return total

    def reclaim_pages(self, folios: list[Folio]) -> int:
        """Models: ``reclaim_pages()`` (MADV_PAGEOUT): reclaim isolated folios regardless
        of references."""
        if not folios:
            return 0
        sc = ScanControl(nr_to_reclaim=len(folios), ignore_references=True,
                         swappiness=self.swappiness)
        self._memalloc += 1
        try:
            got = self.shrink_folio_list(folios, sc)
        finally:
            self._memalloc -= 1
        self.reap_folios()
        return got

    def exact_reclaim_pages(self, target: MemCgroup | None, nr_pages: int) -> int:
        """Reclaim under the idealised policy: evict victims of the cgroup subtree of
        ``target`` (None: every cgroup) until ``nr_pages`` pages are freed; returns the pages
        freed. Each victim goes through :meth:`shrink_folio_list` without reference checks
        (swap-out, unmap, free); one that cannot go (no swap space) returns to the young end,
        and after a whole list's worth of failures reclaim gives up (the caller OOMs)."""
        exact = self.exact_reclaim
        assert exact is not None
        root = target if target is not None else self.memcgs.root
        lruvecs = [self.lruvecs[m.id] for m in root.subtree() if m.id in self.lruvecs]
        sc = ScanControl(nr_to_reclaim=nr_pages, target=target, ignore_references=True,
                         swappiness=self.swappiness)
        if not self.can_reclaim_anon_pages(root, sc):
            return 0
        budget = sum(lv.lru_pages() for lv in lruvecs)
        reclaimed = 0
        self._memalloc += 1
        try:
            while reclaimed < nr_pages and budget > 0:
                lruvec = exact.pick_victim(lruvecs)
                if lruvec is None:
                    break
                folio, _ = lruvec.inactive.popitem(last=False)
                nr = folio.nr_pages
                lruvec.nr_inactive -= nr
                folio.lru = False
                folio.mm_pins += 1
                memcg_id = lruvec.memcg.id
                self.count_event("pgscan_anon", nr, memcg_id)
                self.count_event("pgscan_direct", nr, memcg_id)
                got = self.shrink_folio_list([folio], sc)
                exact.forget_new()  # a folio put back was not brought in by an access
                if got:
                    self.count_event("pgsteal_anon", got, memcg_id)
                    self.count_event("pgsteal_direct", got, memcg_id)
                reclaimed += got
                budget -= nr if not got else 0
        finally:
            self._memalloc -= 1
        sc.nr_reclaimed = reclaimed
        self.reap_folios()
        return reclaimed
