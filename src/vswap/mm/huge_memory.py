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
from typing import TYPE_CHECKING

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
THP_MODES = ("always", "inherit", "madvise", "never")
MTHP_STATS = ("anon_fault_alloc", "anon_fault_fallback", "anon_fault_fallback_charge",
              "swpout", "swpout_fallback", "swpin", "swpin_fallback", "split")


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
        """Split an isolated large folio (not in the swap cache) into order-0 folios.

        Models: ``split_folio_to_list()``: the pages keep their contents, flags, memcg
        charge and mappings (each PTE is repointed at its new folio); the new folios come
        back isolated (one pin each), for the caller's list. Counts ``split`` and
        ``thp_split_page`` (PMD size).
        """
        if folio.swapcache:
            raise KernelError(Errno.EBUSY, "split_folio: folio is in the swap cache")
        nr = folio.nr_pages
        news = []
        for k in range(nr):
            new = Folio(0, folio.data[k * PAGE_SIZE:(k + 1) * PAGE_SIZE], folio.memcg_id)
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
            if new.mapcount:
                out.append(new)
            else:
                new.mm_pins = 0
                self.free_folio(new)
        return out

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
        """
        design = self.design
        if design.swp_swapcount(entry) != 1:
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
