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
from vswap.kernel.types import HPAGE_PMD_ORDER, PAGE_SIZE
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import PTE_IDX_SHIFT, PTE_TABLE_MASK, PTE_TABLE_SHIFT, VPN_BITS, VPN_MASK

if TYPE_CHECKING:
    from vswap.mm.mm_types import Vma

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
