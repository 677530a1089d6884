"""Transparent huge pages for anonymous memory: the mTHP switches, statistics and splitting.

Models: mm/huge_memory.c (v6.14): ``/sys/kernel/mm/transparent_hugepage/enabled`` and the
per-size ``hugepages-<size>kB/enabled`` switches (``always``, ``inherit``, ``madvise``,
``never``; ``thp_vma_allowable_orders``), the per-size statistics under
``hugepages-<size>kB/stats/`` (``anon_fault_alloc``, ``anon_fault_fallback``,
``anon_fault_fallback_charge``, ``swpout``, ``swpout_fallback``, ``swpin``,
``swpin_fallback``, ``split``), and ``split_folio_to_list()`` for a folio that is not in the
swap cache.

Anonymous mTHP orders are 2..9 (16 KiB .. 2 MiB with 4 KiB pages); the model maps every folio
with PTEs (a PMD-size folio too: no PMD mappings).

Defaults: top-level ``madvise``, ``hugepages-2048kB`` ``inherit``, every other size
``never`` (the kernel's defaults with ``CONFIG_TRANSPARENT_HUGEPAGE_MADVISE``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Final

from vswap._mypyc import trait
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import HPAGE_PMD_ORDER, PAGE_SIZE, SwpEntry
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import (
    PTE_IDX_SHIFT,
    PTE_PRESENT,
    PTE_TABLE_MASK,
    PTE_TABLE_SHIFT,
    VPN_BITS,
    VPN_MASK,
    pte_mkpresent,
)

if TYPE_CHECKING:
    from vswap.kernel.memcontrol import MemCgroup
    from vswap.mm.mm_types import Task, Vma

THP_ORDERS = tuple(range(2, HPAGE_PMD_ORDER + 1))
THP_MODES: Final = ("always", "inherit", "madvise", "never")
MTHP_STATS: Final = ("anon_fault_alloc", "anon_fault_fallback", "anon_fault_fallback_charge",
              "swpout", "swpout_fallback", "swpin", "swpin_fallback", "split",
              "split_failed", "split_deferred")


def order_size_name(order: int) -> str:
    """``hugepages-<size>kB`` for an order."""
    return f"hugepages-{(PAGE_SIZE << order) // 1024}kB"


class ThpSettings:
    """The THP enable switches. ``enabled`` is the top-level mode, ``per_order`` the
    per-size ones."""

    def __init__(self) -> None:
        self.enabled = "madvise"
        self.per_order: dict[int, str] = {o: "never" for o in THP_ORDERS}
        self.per_order[HPAGE_PMD_ORDER] = "inherit"
        self.stats: dict[int, Counter[str]] = {o: Counter() for o in THP_ORDERS}

    def set_enabled(self, order: int | None, value: str) -> None:
        """Write a switch; KernelError(EINVAL) for a bad mode (nothing changes)."""
        value = value.strip()
        if order is None:
            if value not in ("always", "madvise", "never"):
                raise KernelError(Errno.EINVAL, f"transparent_hugepage/enabled: bad mode "
                                                f"{value!r}")
            self.enabled = value
            return
        if value not in THP_MODES:
            raise KernelError(Errno.EINVAL, f"{order_size_name(order)}/enabled: bad mode "
                                            f"{value!r}")
        self.per_order[order] = value

    def format_enabled(self, order: int | None) -> str:
        """The sysfs text: every mode, the current one in brackets."""
        modes = ("always", "madvise", "never") if order is None else (
            "always", "inherit", "madvise", "never")
        cur = self.enabled if order is None else self.per_order[order]
        return " ".join(f"[{m}]" if m == cur else m for m in modes) + "\n"

    def orders_for(self, vma: Vma) -> list[int]:
        """Models: ``thp_vma_allowable_orders()``: enabled orders for the VMA, largest first."""
        out = []
        for order in reversed(THP_ORDERS):
            mode = self.per_order[order]
            if mode == "inherit":
                mode = self.enabled
            if mode == "always" or (mode == "madvise" and vma.hugepage):
                out.append(order)
        return out


@trait
class HugeMemoryMixin(MachineBase):
    """mTHP helpers of :class:`~vswap.mm.machine.Machine`."""

    HPAGE_PMD_ORDER = HPAGE_PMD_ORDER
    #: ``/sys/kernel/mm/swap/mixed_swapin`` (model only): :meth:`swapin_mixed_thp` runs.
    mixed_thp_swapin = False

    def thp_orders_for(self, vma: Vma) -> list[int]:
        return self.thp.orders_for(vma) if self.thp_any_enabled else []

    def count_mthp_stat(self, order: int, name: str) -> None:
        """Models: ``count_mthp_stat()``."""
        if order in self.thp.stats:
            self.thp.stats[order][name] += 1

    def split_folio_isolated(self, folio: Folio) -> list[Folio]:
        """Split an isolated large anonymous folio into order-0 folios.

        Models: ``split_folio_to_list()`` (``__split_huge_page``): the pages keep their
        contents, flags, memcg charge and mappings (each PTE is repointed at its new folio);
        the new folios come back isolated (one pin each), for the caller's list. Counts
        ``split`` and ``thp_split_page`` (PMD size).

        A folio in the swap cache keeps its entries: page ``k``'s new folio takes entry
        ``folio.swap + k`` through the design's ``swap_cache_replace_folio`` (the swap cache's
        slots, and RFC v2's FOLIO descriptors: ``vswap_split_huge_page``). The kernel keeps
        the head page's struct as the first new folio; the model makes a new folio for it
        too, so the head's slot is handed over like a tail's. An unmapped new page of a
        swap-cache folio goes through ``free_page_and_swap_cache``: out of the swap cache
        (``folio_free_swap``) and freed unless a swap PTE still names its entry, in which
        case it stays in the cache (returned, for reclaim to write out).
        """
        if folio.mapping is not None:
            raise KernelError(Errno.EINVAL, "split_folio: a shmem folio (shmem_split_folio)")
        nr = folio.nr_pages
        s = folio.stride  # PAGE_SIZE, or a token in compact mode
        news = []
        for k in range(nr):
            new = Folio(0, folio.data[k * s:(k + 1) * s], folio.memcg_id)
            new.dirty = folio.dirty
            new.active = folio.active
            new.referenced = folio.referenced
            new.workingset = folio.workingset
            new.uptodate = folio.uptodate
            new.mm_written = folio.mm_written
            new.mm_charged = PAGE_SIZE
            new.mm_pins = 1
            news.append(new)
        was_mapped = folio.mapcount > 0
        mms = self.mms
        for key in folio.rmap:
            mm = mms[key >> VPN_BITS]
            vpn = key & VPN_MASK
            ptes, folios = mm.tables[vpn >> PTE_TABLE_SHIFT]
            i = vpn & PTE_TABLE_MASK
            v = ptes[i]
            new = news[v >> PTE_IDX_SHIFT]
            ptes[i] = v & ((1 << PTE_IDX_SHIFT) - 1)
            folios[i] = new
            new.rmap.append(key)
            new.mapcount += 1
        lruvec = self.lruvecs[folio.memcg_id]
        if was_mapped:
            lruvec.nr_anon -= nr
            self.nr_anon_mapped -= nr
            for new in news:
                if new.mapcount:
                    lruvec.nr_anon += 1
                    self.nr_anon_mapped += 1
        swapcache = folio.swapcache
        if swapcache:
            self._split_swapcache(folio, news)
        self.deferred_split_queue.pop(folio, None)
        folio.rmap = []
        folio.mapcount = 0
        folio.mm_charged = 0
        folio.mm_pins = 0
        self.count_mthp_stat(folio.order, "split")
        if folio.order == HPAGE_PMD_ORDER:
            self.count_event("thp_split_page", 1, folio.memcg_id)
        # Unmapped pages of a partially mapped folio are freed right away.
        out = []
        for new in news:
            if new.mapcount or (swapcache and not self._free_split_swapcache(new)):
                out.append(new)
            else:
                new.mm_pins = 0
                self.free_folio(new)
        return out

    def _split_swapcache(self, folio: Folio, news: list[Folio]) -> None:
        """The swap-cache half of ``__split_huge_page``: each new folio takes its page's
        entry from ``folio`` (``swap_cache_replace_folio``), under the folio locks."""
        design = self.design
        e0 = int(folio.swap)
        self.thp_split_swapcache += 1
        was_locked = folio.locked
        folio.locked = True
        for k, new in enumerate(news):
            new.locked = True
            new.readahead = folio.readahead
            new.swap = SwpEntry(e0 + k)
            new.swapcache = True
            design.swap_cache_replace_folio(folio, new)
            new.locked = False
        folio.swap = SwpEntry(0)
        folio.swapcache = False
        folio.locked = was_locked

    def _free_split_swapcache(self, new: Folio) -> bool:
        """``free_page_and_swap_cache`` of an unmapped page after a split: True when it left
        the swap cache (no swap PTE names its entry) and can be freed."""
        new.locked = True
        gone = self.design.folio_free_swap(new)
        new.locked = False
        return gone

    def split_huge_page(self, folio: Folio) -> bool:
        """Split a large anonymous folio on the LRU (not isolated) into order-0 folios.

        Models: ``split_folio()`` outside reclaim (the deferred split shrinker,
        ``madvise_cold_or_pageout_pte_range``): isolate, :meth:`split_folio_isolated`, put
        the pages back on the LRU. Fails (False, ``split_failed``, ``thp_split_page_failed``)
        for a folio that is locked or held besides its mappings and the swap cache
        (isolated by reclaim, a fault in progress: ``can_split_folio``).
        """
        if not folio.order or folio.mapping is not None or not folio.mm_charged:
            return False
        if folio.locked or folio.mm_pins or folio.writeback or not folio.lru:
            self.count_mthp_stat(folio.order, "split_failed")
            if folio.order == HPAGE_PMD_ORDER:
                self.count_event("thp_split_page_failed", 1, folio.memcg_id)
            return False
        self.folio_del_lru(folio)
        folio.mm_pins += 1
        for new in self.split_folio_isolated(folio):
            self.folio_putback_lru(new)
        return True

    # -- the deferred split queue (mm/huge_memory.c) -------------------------------------
    def deferred_split_folio(self, folio: Folio) -> None:
        """Queue a large anonymous folio that became partially mapped.

        Models: ``deferred_split_folio(folio, partially_mapped=true)`` from
        ``__folio_remove_rmap``: counts ``thp_deferred_split_page`` (PMD size) and mTHP
        ``split_deferred`` once per folio. The model queues a folio left with fewer PTEs
        than pages (a folio mapped by several processes is not checked page by page).
        """
        if folio in self.deferred_split_queue or folio.mapping is not None:
            return
        self.deferred_split_queue[folio] = None
        self.count_mthp_stat(folio.order, "split_deferred")
        if folio.order == HPAGE_PMD_ORDER:
            self.count_event("thp_deferred_split_page", 1, folio.memcg_id)

    def deferred_split_count(self, memcg_id: int) -> int:
        """Models: ``deferred_split_count()``: queued folios of the memcg."""
        return sum(1 for f in self.deferred_split_queue if f.memcg_id == memcg_id)

    def deferred_split_scan(self, memcg_id: int, nr_to_scan: int) -> int:
        """Split up to ``nr_to_scan`` queued folios of the memcg; return how many were split.

        Models: ``deferred_split_scan()``: a folio no longer partially mapped leaves the
        queue unsplit; one that cannot be split now (locked, isolated) stays queued; the
        others are split (:meth:`split_huge_page`; a swap-cache folio through the design's
        ``swap_cache_replace_folio``), their unmapped pages freed.
        """
        split = 0
        for folio in [f for f in self.deferred_split_queue if f.memcg_id == memcg_id]:
            if nr_to_scan <= 0:
                break
            nr_to_scan -= 1
            if not folio.mm_charged or not self.folio_partially_mapped(folio):
                self.deferred_split_queue.pop(folio, None)
                continue
            if self.split_huge_page(folio):
                split += 1
        return split

    def swapin_mixed_thp(self, task: Task, vma: Vma, vpn: int, entry: SwpEntry, write: bool,
                         memcg: MemCgroup) -> bool | None:
        """Swap a whole large folio in from mixed backends (virtual designs, model only).

        Models: the mixed-backing THP swap-in of the virtual swap cover letter (section III,
        ref [7]; spec part 2, 15.4), on the steps of ``do_swap_page``'s large-folio path: the
        largest enabled order whose aligned PTEs hold consecutive entries of swap count 1,
        none in the swap cache (``can_swapin_thp``), pinned with ``swapcache_prepare``, read
        by the design run by run (zero-fill, zswap, device:
        :func:`~vswap.swap.folio_slots.mixed_read_folio`), mapped whole; the swap-cache
        bypass needs no synchronous device here, since the pinned range is read at once.
        Unlike the kernel, zswap having been enabled does not rule it out. A failed read or
        allocation counts ``swpin_fallback`` and tries the next order. Returns None when no
        order applies (the fault goes on as usual), else as ``do_swap_page``.

        Only virtual entries have backends to read run by run: ``vswap-ste``'s direct-mapped
        entries (its vswap space full, the PTE holds a physical slot as under phase IV) get
        None, and the fault goes on the kernel's way (``do_swap_page`` / ``alloc_swap_folio``:
        no large order once zswap was ever enabled, else ``can_swapin_thp``), since phase
        IV's ``swap_read_folio`` cannot load a large folio from zswap (``zswap_load`` warns).
        """
        design = self.design
        if design.swp_swapcount(entry) != 1:
            return None
        is_virtual = getattr(design, "is_vswap_entry", None)
        if is_virtual is not None and not is_virtual(entry):
            return None
        mm = task.mm
        ptes, folios = mm.pte_table(vpn)
        for order in self.thp_orders_for(vma):
            nr = 1 << order
            start = vpn & ~(nr - 1)
            if start < vma.start or start + nr > vma.end:
                continue
            base = start & PTE_TABLE_MASK
            first = ptes[base]
            e0 = first >> 1
            if first & PTE_PRESENT or not first or entry != e0 + (vpn - start):
                continue
            if any(ptes[base + k] != (e0 + k) << 1 for k in range(nr)):
                continue
            e = SwpEntry(e0)
            if not design.can_swapin_thp(e, nr):
                continue
            folio = self.alloc_folio(order, memcg, task, may_reclaim=False)
            if folio is None:
                self.count_mthp_stat(order, "swpin_fallback")
                continue
            if design.swapcache_prepare(e, nr):
                self.free_folio(folio)
                continue
            folio.locked = True
            folio.swap = e
            reads = self.read_path_snapshot()
            try:
                ok = design.swap_read_folio(folio)
            except KernelError as exc:
                if exc.errno != Errno.EIO:
                    folio.swap = SwpEntry(0)
                    folio.locked = False
                    design.swapcache_clear(e, nr)
                    self.free_folio(folio)
                    raise
                ok = False
            path = self.read_path_since(reads)
            self.tracer.io_wait()
            folio.swap = SwpEntry(0)
            folio.locked = False
            if not ok or not folio.uptodate:
                design.swapcache_clear(e, nr)
                self.free_folio(folio)
                self.count_mthp_stat(order, "swpin_fallback")
                continue
            shadow = self.get_shadow(e)
            if shadow is not None:
                self.workingset_refault(folio, shadow)
            for k in range(nr):
                self.oracle_verify(folio, k, SwpEntry(e + k), task, start + k, path)
            folio.dirty = True
            for k in range(nr):
                ptes[base + k] = pte_mkpresent(k, True)
                folios[base + k] = folio
                self.folio_add_rmap_pte(folio, mm, start + k)
            folio.mm_written = True
            mm.rss_anon += nr
            mm.swapents -= nr
            vma.anon_vma = True
            design.swap_free_nr(e, nr)
            design.swapcache_clear(e, nr)
            self.folio_add_lru(folio)
            task.maj_flt += 1
            self.count_event("pgmajfault", 1, mm.memcg.id)
            self.count_mthp_stat(order, "swpin")
            return True
        return None
