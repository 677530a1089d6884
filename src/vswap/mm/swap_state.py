"""Swap-in readahead and the swap-cache read path of the memory manager.

Models: mm/swap_state.c (v6.14): ``swapin_readahead()`` choosing ``swap_vma_readahead()``
(with ``swap_vma_ra_win()``) or ``swap_cluster_readahead()``, the window sizing of
``__swapin_nr_pages()``, the readahead accounting of a swap-cache hit
(``swap_cache_get_folio()``; 6.18 moved it to ``swap_update_readahead()``, same rules),
``read_swap_cache_async()`` + ``swap_read_folio()`` for one entry, and
``get_shadow_from_swap_cache()``.

VMA readahead keeps its state in the VMA (``vma->swap_readahead_info``: the address of
the last swap fault *or swap-cache hit*, the last window, the readahead hits since the
last fault; 4 hits before the first fault), so a sequential reader's window grows to
``1 << page_cluster`` and stays there: each fault reads 8 pages at the default
page-cluster 3, the next fault's address follows the last hit's. Cluster readahead keeps
one global hit count and previous offset, as the kernel's statics. The window's pages are
charged one by one and may reclaim, as the kernel's readahead allocations do.

The swap cache itself lives in the swap layer (:mod:`vswap.swap.swap_state`); this is the
half that runs in the faulting task.

Every page read is checked against the integrity oracle with the path it took (zero, zswap,
device, swapcache), which :meth:`SwapStateMixin.read_path_since` tells from the counters.
"""

from __future__ import annotations

from typing import Final

from vswap._mypyc import trait
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import SwpEntry, SwpSlot, swp_slot_offset, swp_slot_type
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import PTE_PRESENT, PTE_TABLE_MASK, PTRS_PER_PTE, MmStruct, Task, Vma

#: ``GET_SWAP_RA_VAL()`` of a VMA that never faulted: 4 hits, to start with a small window.
SWAP_RA_HITS_INIT: Final = 4
#: ``SWAP_RA_HITS_MAX``: the hit count's field in ``swap_readahead_info`` is 6 bits.
SWAP_RA_HITS_MAX: Final = 63


@trait
class SwapStateMixin(MachineBase):
    """Swap-in readahead of :class:`~vswap.mm.machine.Machine`."""

    def get_shadow(self, entry: SwpEntry) -> int | None:
        """Models: ``get_shadow_from_swap_cache()``."""
        return self.design.get_shadow_from_swap_cache(entry)

    def swapin_nr_pages(self, prev: int, cur: int, prev_win: int,
                        hits: int | None = None) -> int:
        """Models: ``__swapin_nr_pages()``: grow the window with readahead hits, keep at
        least half the previous one, at most ``1 << page_cluster``. ``hits`` are the VMA's
        (VMA readahead); None takes and clears the global count (cluster readahead's
        ``swapin_readahead_hits``)."""
        max_pages = 1 << self.page_cluster
        if max_pages <= 1:
            return 1
        if hits is None:
            hits = self.swapin_readahead_hits
            self.swapin_readahead_hits = 0
        pages = hits + 2
        if pages == 2:
            if cur != prev + 1 and cur != prev - 1:
                pages = 1
        else:
            roundup = 4
            while roundup < pages:
                roundup <<= 1
            pages = roundup
        pages = min(pages, max_pages)
        return max(pages, prev_win // 2)

    def swap_use_vma_readahead(self) -> bool:
        """Models: ``swap_use_vma_readahead()``: ``vma_ra_enabled`` and no rotational swap
        device on (``nr_rotate_swap``: a disk, or a swap file on one, turns VMA readahead
        off for every device until its swapoff has finished)."""
        return self.vma_ra_enabled and not self.design.devices.nr_rotate_swap

    def swap_update_readahead(self, folio: Folio, vma: Vma | None, vpn: int) -> None:
        """A swap-cache hit at ``vpn``. Models: the readahead half of v6.14's
        ``swap_cache_get_folio()`` (6.18: ``swap_update_readahead()``): a readahead folio
        counts ``swap_ra_hit`` and loses ``PG_readahead``; with VMA readahead the VMA's
        state moves to this address and counts the hit (so the next fault, one page on,
        is sequential); without, the global hit count grows. Large folios carry no
        readahead state."""
        if folio.nr_pages > 1:
            return
        readahead = folio.readahead
        folio.readahead = False
        vma_ra = self.swap_use_vma_readahead()
        if vma is not None and vma_ra:
            info = vma.swap_readahead_info
            win, hits = (info[1], info[2]) if info is not None else (0, SWAP_RA_HITS_INIT)
            if readahead:
                hits = min(hits + 1, SWAP_RA_HITS_MAX)
            vma.swap_readahead_info = (vpn, win, hits)
        if readahead:
            self.count_event("swap_ra_hit", 1, 0)
            if vma is None or not vma_ra:
                self.swapin_readahead_hits += 1

    def swapin_readahead(self, entry: SwpEntry, task: Task | None, vma: Vma,
                         vpn: int, mm: MmStruct | None = None) -> Folio | None:
        """Models: ``swapin_readahead()``: VMA readahead if :meth:`swap_use_vma_readahead`,
        else cluster readahead. The target page is read first (so readahead pages never take
        the memory reclaimed for it), then the window; readahead pages get ``PG_readahead``
        and count ``swap_ra``. ``mm`` is the address space of ``vma`` (default: ``task``'s;
        swapoff passes it without a faulting task). Returns the target's swap-cache folio
        (locked state: unlocked) or None.
        """
        if self.page_cluster == 0:
            return self.swapin_one(entry, task, vpn, None)
        # Both readaheads read their window under one plug (blk_start_plug), the target
        # included: contiguous slots become one request.
        tracer = self.tracer
        tracer.blk_start_plug()
        try:
            folio = self.swapin_one(entry, task, vpn, None)
            if folio is None:
                return None
            # The window's pages are charged one by one and may reclaim (as the kernel's
            # readahead allocations do), so the target is held against reclaim meanwhile.
            prev_mode = self.hook_mode
            if prev_mode == "fault":
                self.hook_mode = "readahead"
            folio.mm_pins += 1
            try:
                if self.swap_use_vma_readahead():
                    if mm is None:
                        assert task is not None
                        mm = task.mm
                    self.swap_vma_readahead(task, mm, vma, vpn)
                else:
                    self.swap_cluster_readahead(entry, task, vpn)
            finally:
                folio.mm_pins -= 1
                self.hook_mode = prev_mode
        finally:
            tracer.blk_finish_plug()
        # Whoever dropped the folio from the swap cache meanwhile (swapoff, zswap writeback,
        # a racing free) left it to this reference: folio_put frees it, the fault retries.
        self.maybe_free_folio(folio)
        return folio

    def swap_vma_readahead(self, task: Task | None, mm: MmStruct, vma: Vma,
                           vpn: int) -> None:
        """Models: ``swap_vma_readahead()`` with ``swap_vma_ra_win()``: a window of swap
        PTEs around the fault, inside the VMA and its page table, sized by
        ``__swapin_nr_pages`` from the VMA's state (``vma->swap_readahead_info``: the last
        fault's or hit's address, the last window, the hits since; the fault resets the
        hits)."""
        info = vma.swap_readahead_info
        prev, prev_win, hits = info if info is not None else (0, 0, SWAP_RA_HITS_INIT)
        win = self.swapin_nr_pages(prev, vpn, prev_win, hits)
        vma.swap_readahead_info = (vpn, win, 0)
        if win <= 1:
            return
        if vpn == prev + 1:
            lo, hi = vpn, vpn + win
        elif prev == vpn + 1:
            lo, hi = vpn - win + 1, vpn + 1
        else:
            left = (win - 1) // 2
            lo, hi = vpn - left, vpn + win - left
        table_start = vpn & ~PTE_TABLE_MASK
        lo = max(lo, vma.start, table_start)
        hi = min(hi, vma.end, table_start + PTRS_PER_PTE)
        ptes = mm.pte_table(vpn)[0]
        for p in range(lo, hi):
            if p == vpn:
                continue
            v = ptes[p & PTE_TABLE_MASK]
            if v and not v & PTE_PRESENT:
                self.swapin_one(SwpEntry(v >> 1), task, p, True)

    def swap_cluster_readahead(self, entry: SwpEntry, task: Task | None, vpn: int) -> None:
        """Models: ``swap_cluster_readahead()``: the aligned window of physical offsets
        around the entry's slot, each mapped back to its swap entry
        (``swp_slot_to_swp_entry``: the identity in the classic design, the reverse map
        under the virtual one, where an entry not on a device reads only itself)."""
        design = self.design
        slot = design.swp_entry_to_swp_slot(entry)
        if not slot:
            return
        # swapin_nr_pages(): the hits are taken (and cleared); the previous offset moves
        # only when there were none.
        hits = self.swapin_readahead_hits
        self.swapin_readahead_hits = 0
        win = self.swapin_nr_pages(self.cluster_ra_prev, int(slot), self.cluster_ra_win, hits)
        if not hits:
            self.cluster_ra_prev = int(slot)
        self.cluster_ra_win = win
        if win <= 1:
            return
        mask = win - 1
        type_ = swp_slot_type(slot)
        off = swp_slot_offset(slot)
        si = design.devices.swap_type_to_swap_info(type_)
        if si is None:
            return
        for o in range(max(off & ~mask, 1), min(off | mask, si.max - 1) + 1):
            if o == off:
                continue
            e = design.swp_slot_to_swp_entry(SwpSlot(slot - off + o))
            if e:
                self.swapin_one(e, task, vpn, True)

    def swapin_one(self, entry: SwpEntry, task: Task | None, vpn: int,
                   readahead: bool | None) -> Folio | None:
        """``read_swap_cache_async`` + ``swap_read_folio`` for one entry, with the integrity
        check of what was read. ``readahead`` marks a page read ahead of use."""
        design = self.design
        folio, new = design.read_swap_cache_async(entry)
        self.reap_folios()
        if folio is None:
            return None
        if new:
            reads = self.read_path_snapshot()
            try:
                ok = design.swap_read_folio(folio)
            except KernelError as exc:
                if exc.errno != Errno.EIO:
                    folio.folio_unlock()
                    raise
                ok = False  # zswap could not decompress: an I/O error like a device's
            path = self.read_path_since(reads)
            if not ok:
                # end_swap_bio_read left the folio !uptodate. The kernel keeps it in the swap
                # cache until reclaim drops it (a sibling faulting first gets SIGBUS too);
                # the model drops it at once, so only the faulting task sees the error.
                folio.uptodate = False
                if folio.swapcache:
                    design.delete_from_swap_cache(folio)
                folio.folio_unlock()
                return folio if not readahead else None
            folio.folio_unlock()
            self.oracle_verify(folio, 0, entry, task, vpn, path)
            if readahead:
                folio.readahead = True
                self.count_event("swap_ra", 1, 0)
        return folio

    def read_path_snapshot(self) -> tuple[int, int, int]:
        vm = self.vmstat
        return vm["swpin_zero"], vm["zswpin"], vm["pswpin"]

    def read_path_since(self, before: tuple[int, int, int]) -> str:
        vm = self.vmstat
        if vm["zswpin"] != before[1]:
            return "zswap"
        if vm["pswpin"] != before[2]:
            return "device"
        if vm["swpin_zero"] != before[0]:
            return "zero"
        return "swapcache"
