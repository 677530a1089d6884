"""madvise(2): MADV_DONTNEED, MADV_PAGEOUT, MADV_HUGEPAGE, MADV_NOHUGEPAGE.

Models: mm/madvise.c (v6.14): ``do_madvise()`` over the VMAs of a range (the advice applies
to the mapped parts, then ``-ENOMEM`` if part of the range was unmapped),
``madvise_dontneed_single_vma()`` (``zap_page_range_single``), ``madvise_pageout()`` with
``madvise_cold_or_pageout_pte_range()`` + ``reclaim_pages()``, and the ``VM_HUGEPAGE`` /
``VM_NOHUGEPAGE`` flags of ``hugepage_madvise()``.
"""

from __future__ import annotations

from typing import Final

from vswap._mypyc import trait
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import PTE_PRESENT, PTE_TABLE_MASK, PTE_TABLE_SHIFT, VPN_MASK, Task

#: madvise(2) advice values (include/uapi/asm-generic/mman-common.h).
MADV_DONTNEED: Final = 4
MADV_HUGEPAGE: Final = 14
MADV_NOHUGEPAGE: Final = 15
MADV_PAGEOUT: Final = 21


@trait
class MadviseMixin(MachineBase):
    """madvise(2) of :class:`~vswap.mm.machine.Machine`."""

    def madvise(self, task: Task, addr: int, length: int, advice: int) -> int:
        """madvise(2) for MADV_DONTNEED, MADV_PAGEOUT, MADV_HUGEPAGE, MADV_NOHUGEPAGE.

        Returns pages reclaimed for MADV_PAGEOUT, else 0.

        Raises:
            KernelError(EINVAL): unknown advice or bad range; (ENOMEM): part of the range is
                not mapped (the kernel applies the advice to the mapped parts, then fails).
        """
        self._check_alive(task)
        start, end = self._range(addr, length, "madvise")
        if advice not in (MADV_DONTNEED, MADV_PAGEOUT, MADV_HUGEPAGE, MADV_NOHUGEPAGE):
            raise KernelError(Errno.EINVAL, f"madvise: unsupported advice {advice}")
        mm = task.mm
        self.op_begin(task)
        result = 0
        try:
            covered = 0
            for vma in list(mm.vmas):
                lo, hi = max(vma.start, start), min(vma.end, end)
                if lo >= hi:
                    continue
                covered += hi - lo
                if advice == MADV_DONTNEED:
                    self.zap_pte_range(mm, lo, hi)
                elif advice == MADV_PAGEOUT:
                    result += self.madvise_pageout(task, lo, hi)
                else:
                    for v in mm.split_vmas(lo, hi):
                        v.hugepage = advice == MADV_HUGEPAGE
        finally:
            self.op_end()
        if covered < end - start:
            raise KernelError(Errno.ENOMEM, f"madvise: {addr:#x}+{length:#x} not fully mapped")
        return result

    def madvise_pageout(self, task: Task, start: int, end: int) -> int:
        """Reclaim the folios mapped in ``[start, end)`` now. Returns pages reclaimed.

        Models: ``madvise_cold_or_pageout_pte_range()`` + ``reclaim_pages()``: folios
        mapped by other processes too are skipped (``folio_likely_mapped_shared``), young
        bits cleared, the rest reclaimed without reference checks. A large folio the range
        does not map whole is split first (``split_folio``; a swap-cache folio through the
        design's ``swap_cache_replace_folio``) and only its pages in the range are taken;
        one that cannot be split now is skipped.
        """
        mm = task.mm
        picked: list[Folio] = []
        seen: set[int] = set()
        for vpn, v in mm.iter_ptes(start, end):
            if not v & PTE_PRESENT:
                continue
            folios = mm.tables[vpn >> PTE_TABLE_SHIFT][1]
            folio = folios[vpn & PTE_TABLE_MASK]
            if folio is None or id(folio) in seen:
                continue
            seen.add(id(folio))
            if any((k >> 36) != mm.id for k in folio.rmap):
                continue
            if folio.order and folio.mapping is None and sum(
                    1 for k in folio.rmap
                    if start <= k & VPN_MASK < end) < folio.nr_pages:
                if not self.split_huge_page(folio):
                    continue
                folio = folios[vpn & PTE_TABLE_MASK]
                if folio is None:
                    continue
                seen.add(id(folio))
            if not folio.lru or folio.mm_pins:
                continue
            self.folio_referenced(folio)
            folio.referenced = False
            self.folio_del_lru(folio)
            folio.mm_pins += 1
            picked.append(folio)
        return self.reclaim_pages(picked)
