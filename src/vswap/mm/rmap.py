"""Reverse mapping: from a folio to the PTEs that map it.

Models: mm/rmap.c (v6.14) for anonymous folios: ``folio_add_anon_rmap_ptes``,
``folio_remove_rmap_ptes``, ``folio_referenced`` (young-bit harvesting for reclaim) and
``try_to_unmap`` (``try_to_unmap_one``: each PTE becomes a swap PTE of
``folio->swap + page index``, taking one swap reference per PTE with ``swap_duplicate``).

The kernel walks ``anon_vma`` chains; the model keeps the answer directly: ``folio.rmap`` is
a list of ``mm_id << 36 | vpn`` keys, one per PTE mapping a page of the folio, so
``folio.mapcount == len(folio.rmap)``. Fork appends the child's keys; unmapping removes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vswap._mypyc import trait
from vswap.kernel.types import SwpEntry
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import (
    PTE_IDX_SHIFT,
    PTE_TABLE_MASK,
    PTE_TABLE_SHIFT,
    PTE_YOUNG,
    VPN_BITS,
    VPN_MASK,
)

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.mm.mm_types import MmStruct


@trait
class RmapMixin(MachineBase):
    """Reverse-map operations of :class:`~vswap.mm.machine.Machine`."""

    def folio_add_rmap_pte(self, folio: Folio, mm: MmStruct, vpn: int) -> None:
        """Models: ``folio_add_anon_rmap_pte()`` / ``folio_add_new_anon_rmap()``."""
        if not folio.mapcount:
            self.lruvecs[folio.memcg_id].nr_anon += folio.nr_pages
            self.nr_anon_mapped += folio.nr_pages
        folio.rmap.append(mm.id << VPN_BITS | vpn)
        folio.mapcount += 1

    def folio_remove_rmap_pte(self, folio: Folio, mm: MmStruct, vpn: int) -> None:
        """Models: ``folio_remove_rmap_pte()``."""
        folio.rmap.remove(mm.id << VPN_BITS | vpn)
        folio.mapcount -= 1
        if not folio.mapcount:
            self.lruvecs[folio.memcg_id].nr_anon -= folio.nr_pages
            self.nr_anon_mapped -= folio.nr_pages
        elif folio.mapcount < folio.nr_pages and folio.mapping is None:
            # __folio_remove_rmap: a large anon folio left partially mapped.
            self.deferred_split_folio(folio)

    def folio_referenced(self, folio: Folio) -> int:
        """Count and clear the young bits of the PTEs mapping ``folio``.

        Models: ``folio_referenced()`` (``folio_referenced_one`` with
        ``ptep_clear_flush_young_notify``). Returns the number of young PTEs (each mapping
        counts once, as the kernel counts per VMA walk).
        """
        referenced = 0
        mms = self.mms
        for key in folio.rmap:
            mm = mms[key >> VPN_BITS]
            vpn = key & VPN_MASK
            ptes = mm.tables[vpn >> PTE_TABLE_SHIFT][0]
            i = vpn & PTE_TABLE_MASK
            v = ptes[i]
            if v & PTE_YOUNG:
                ptes[i] = v & ~PTE_YOUNG
                referenced += 1
        return referenced

    def folio_partially_mapped(self, folio: Folio) -> bool:
        """Models: ``folio_test_partially_mapped()``: some page of a mapped large folio is
        mapped by no PTE (after a partial munmap, MADV_DONTNEED or COW)."""
        if not folio.mapcount:
            return False
        seen = set()
        mms = self.mms
        for key in folio.rmap:
            vpn = key & VPN_MASK
            v = mms[key >> VPN_BITS].tables[vpn >> PTE_TABLE_SHIFT][0][vpn & PTE_TABLE_MASK]
            seen.add(v >> PTE_IDX_SHIFT)
        return len(seen) < folio.nr_pages

    def try_to_unmap(self, folio: Folio) -> bool:
        """Replace every PTE mapping the swap-cache ``folio`` with its swap entry.

        Models: ``try_to_unmap()`` / ``try_to_unmap_one()`` for anonymous folios. Context:
        folio locked, in the swap cache. Each PTE takes one swap reference
        (``swap_duplicate``); ``MM_ANONPAGES`` moves to ``MM_SWAPENTS``. Returns True when
        the folio is no longer mapped; on a ``swap_duplicate`` failure the PTE is left
        mapped and the walk stops (the kernel's ``walk_abort``).
        """
        design = self.design
        entry0 = folio.swap
        mms = self.mms
        self.tracer.unmap(len(folio.rmap))
        for key in list(folio.rmap):
            mm = mms[key >> VPN_BITS]
            vpn = key & VPN_MASK
            ptes, folios = mm.tables[vpn >> PTE_TABLE_SHIFT]
            i = vpn & PTE_TABLE_MASK
            entry = SwpEntry(entry0 + (ptes[i] >> PTE_IDX_SHIFT))
            if design.swap_duplicate(entry) < 0:
                return False
            ptes[i] = entry << 1
            folios[i] = None
            mm.rss_anon -= 1
            if not mm.swapents and mm.id not in self.mmlist:
                self.mmlist[mm.id] = mm  # try_to_unmap_one: the mm joins init_mm.mmlist
            mm.swapents += 1
            folio.rmap.remove(key)
            folio.mapcount -= 1
        if not folio.mapcount:
            self.lruvecs[folio.memcg_id].nr_anon -= folio.nr_pages
            self.nr_anon_mapped -= folio.nr_pages
        return True
