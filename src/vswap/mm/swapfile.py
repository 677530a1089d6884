"""swapon, swapoff and classic swapoff's page-table walk, as the memory manager runs them.

Models: mm/swapfile.c (v6.14): ``sys_swapon()`` and ``sys_swapoff()`` entered from a task
(the design does the device work, :mod:`vswap.swap.swapfile`), ``signal_pending()`` checked by
``try_to_unuse()``, and ``try_to_unuse()``'s walk ``unuse_mm()`` -> ``unuse_vma()`` ->
``unuse_pte_range()`` -> ``unuse_pte()`` over every mm, which brings back every page of a
device that a PTE references (the classic design's swapoff; the virtual design repoints
descriptors instead and never calls it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vswap._mypyc import trait
from vswap.kernel.types import SwpEntry, swp_entry, swp_offset, swp_type
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import (
    PTE_PRESENT,
    PTE_TABLE_MASK,
    PTE_TABLE_SHIFT,
    PTE_YOUNG,
    PTRS_PER_PTE,
    MmStruct,
    Task,
    Vma,
    pte_mkpresent,
    pte_to_swp_entry,
    swp_entry_to_pte,
)

if TYPE_CHECKING:
    from vswap.swap import SwapoffResult
    from vswap.swap.storage import SwapStorage
    from vswap.swap.swapfile import SwapInfo


@trait
class SwapfileMixin(MachineBase):
    """swapon/swapoff and the swapoff PTE walk of :class:`~vswap.mm.machine.Machine`."""

    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               solidstate: bool = True) -> SwapInfo:
        """``swapon`` a storage (:class:`vswap.swap.storage.MemSwapStorage` or
        ``FileSwapStorage``). ``solidstate`` False: a rotational device (``SWP_SOLIDSTATE``
        unset, counted in ``nr_rotate_swap``, which turns VMA readahead off). Returns the
        design's ``SwapInfo``."""
        return self.design.swapon(storage, prio=prio, solidstate=solidstate)

    def swapoff(self, name_or_type: str | int) -> SwapoffResult:
        """``swapoff`` with tasks alive: the classic design walks every page table (through
        :meth:`unuse_ptes`), the virtual design repoints descriptors."""
        self.op_begin(None)
        self.hook_mode = "swapoff"
        self._signal = False
        try:
            return self.design.swapoff(name_or_type, signal_pending=self.signal_pending)
        finally:
            self.hook_mode = "fault"
            self._signal = False
            self.op_end()

    def signal_pending(self) -> bool:
        """Models: ``signal_pending(current)`` for the task running swapoff: a signal arrives
        when the fault injector says so (``swapoff_eintr``) and stays pending until the
        syscall returns."""
        if not self._signal and self.faults.fail("swapoff_eintr"):
            self._signal = True
        return self._signal

    # -- classic swapoff: the page-table walk ---------------------------------------------------
    def unuse_ptes(self, type_: int) -> int:
        """Bring in every page of swap device ``type_`` that a PTE references, and map it.

        Models: ``try_to_unuse()``'s ``unuse_mm()`` -> ``unuse_vma()`` ->
        ``unuse_pte_range()`` -> ``unuse_pte()`` over the mms of ``init_mm.mmlist`` (those
        that have had a swap PTE, :attr:`mmlist`), the newest first: every PTE of every VMA
        with an ``anon_vma`` is visited. An mm that never swapped is not walked, however
        large its page tables, and the walk stops once the device has no slot in use
        (``swap_usage_in_pages``). Returns the PTEs visited.
        """
        visited = 0
        si = self.design.devices.swap_type_to_swap_info(type_)
        prev_mode, self.hook_mode = self.hook_mode, "swapoff"
        try:
            for mm in reversed(list(self.mmlist.values())):
                if si is not None and not si.inuse_pages:
                    break
                if self.hook_mode == "swapoff" and self.signal_pending():
                    break  # try_to_unuse() stops walking the mmlist on a signal
                task = next((t for t in self.tasks.values() if t.mm is mm), None)
                for vma in list(mm.vmas):
                    if not vma.anon_vma:
                        continue
                    for key in range(vma.start >> PTE_TABLE_SHIFT,
                                     ((vma.end - 1) >> PTE_TABLE_SHIFT) + 1):
                        t = mm.tables.get(key)
                        if t is None:
                            continue
                        ptes = t[0]
                        base = key << PTE_TABLE_SHIFT
                        lo = max(vma.start - base, 0)
                        hi = min(vma.end - base, PTRS_PER_PTE)
                        visited += hi - lo
                        self.tracer.pte_walk(hi - lo)
                        for i in range(lo, hi):
                            v = ptes[i]
                            if not v or v & PTE_PRESENT or swp_type(SwpEntry(v >> 1)) != type_:
                                continue
                            self.unuse_pte(mm, task, vma, base + i, SwpEntry(v >> 1))
        finally:
            self.hook_mode = prev_mode
        return visited

    def remap_swap_ptes(self, type_: int, moves: dict[int, tuple[int, int]]
                        ) -> tuple[int, set[int]]:
        """Repoint the swap PTEs of relocated slots (swapfile compaction, physical designs).

        Models: a ``try_to_unuse()``-style walk (every PTE of every VMA with an
        ``anon_vma`` of every mm is visited) that rewrites instead of bringing pages in:
        ``moves`` maps an old offset of device ``type_`` to (new offset, swap count). An old
        entry's PTEs are rewritten only when exactly its count of them is found (no other
        holder, such as a shmem mapping, is left pointing at the old slot), and the
        integrity oracle's record follows the page. Returns (PTEs visited, old offsets
        rewritten).
        """
        found: dict[int, list[tuple[Any, int]]] = {}
        visited = 0
        for mm in list(self.mms.values()):
            for vma in mm.vmas:
                if not vma.anon_vma:
                    continue
                for key in range(vma.start >> PTE_TABLE_SHIFT,
                                 ((vma.end - 1) >> PTE_TABLE_SHIFT) + 1):
                    t = mm.tables.get(key)
                    if t is None:
                        continue
                    ptes = t[0]
                    base = key << PTE_TABLE_SHIFT
                    lo = max(vma.start - base, 0)
                    hi = min(vma.end - base, PTRS_PER_PTE)
                    visited += hi - lo
                    self.tracer.pte_walk(hi - lo)
                    for i in range(lo, hi):
                        v = ptes[i]
                        if not v or v & PTE_PRESENT:
                            continue
                        entry = SwpEntry(v >> 1)
                        if swp_type(entry) == type_ and swp_offset(entry) in moves:
                            found.setdefault(swp_offset(entry), []).append((ptes, i))
        done: set[int] = set()
        by_entry = self.oracle.by_entry
        for old, where in found.items():
            new, count = moves[old]
            if len(where) != count:
                continue
            new_entry = swp_entry(type_, new)
            for ptes, i in where:
                ptes[i] = int(new_entry) << 1
            old_entry = swp_entry(type_, old)
            if old_entry in by_entry:
                by_entry[new_entry] = by_entry.pop(old_entry)
            done.add(old)
        return visited, done

    def move_swap_ptes(self, moves: dict[int, int]) -> tuple[int, dict[int, int]]:
        """Rewrite every PTE holding an old entry of ``moves`` to its new entry.

        Models: a swap tier move under a design whose swap entry is the slot (classic,
        swap table): there is no reverse map from a slot to its PTEs, so the walk is
        ``try_to_unuse()``'s (every PTE of every anonymous VMA of every mm), restricted to
        the entries moved, across devices; a matching PTE gets the new entry (the model's
        swap PTEs carry no soft-dirty or exclusive bit to keep), whatever the number found
        (the caller moves one swap count per PTE, so an entry with other holders keeps
        theirs). Returns (PTEs visited, rewrites per old entry).
        """
        visited = 0
        found: dict[int, int] = {}
        if not moves:
            return 0, found
        for mm in list(self.mms.values()):
            for vma in mm.vmas:
                if not vma.anon_vma:
                    continue
                for key in range(vma.start >> PTE_TABLE_SHIFT,
                                 ((vma.end - 1) >> PTE_TABLE_SHIFT) + 1):
                    t = mm.tables.get(key)
                    if t is None:
                        continue
                    ptes = t[0]
                    base = key << PTE_TABLE_SHIFT
                    lo = max(vma.start - base, 0)
                    hi = min(vma.end - base, PTRS_PER_PTE)
                    visited += hi - lo
                    self.tracer.pte_walk(hi - lo)
                    for i in range(lo, hi):
                        v = ptes[i]
                        if not v or v & PTE_PRESENT:
                            continue
                        old = pte_to_swp_entry(v)
                        new = moves.get(old)
                        if new is None:
                            continue
                        ptes[i] = swp_entry_to_pte(new)
                        found[old] = found.get(old, 0) + 1
        # The integrity oracle's record follows the PTEs: what was last written under the
        # old entry is what a fault through the new one must read.
        by_entry = self.oracle.by_entry
        for old in found:
            if old in by_entry:
                by_entry[moves[old]] = by_entry[old]
        return visited, found

    def unuse_pte(self, mm: MmStruct, task: Task | None, vma: Vma, vpn: int,
                  entry: SwpEntry) -> None:
        """Models: ``unuse_pte()``: swap the page in (readahead), map it read-only, drop
        the swap reference, and ``folio_free_swap`` it.

        As v6.14's (and 6.18's) ``unuse_pte_range()``, a page not in the swap cache comes
        through ``swapin_readahead()`` with the VMA and address (VMA readahead). On v6.14 a
        page found in the swap cache counts its readahead hit and moves the VMA's state as a
        fault's hit does (so the walk reads whole windows); on 6.18 it does neither
        (``unuse_updates_readahead`` False), and the window shrinks to one or two pages.
        """
        design = self.design
        folio = design.swap_cache_get_folio(entry)
        if folio is not None and design.unuse_updates_readahead:
            self.swap_update_readahead(folio, vma, vpn)
        if folio is None:
            folio = self.swapin_readahead(entry, task, vma, vpn, mm)
            if folio is None:
                return
            # swapoff sleeps on the folio lock until the read (and its readahead) is done.
            self.tracer.io_wait()
        elif not folio.mm_written:
            self.oracle_verify(folio, entry - folio.swap, entry, task, vpn, "swapcache")
        if not folio.uptodate or not folio.swapcache:
            return
        ptes, folios = mm.pte_table(vpn)
        i = vpn & PTE_TABLE_MASK
        idx = entry - folio.swap
        ptes[i] = pte_mkpresent(idx, False) & ~PTE_YOUNG
        folios[i] = folio
        self.folio_add_rmap_pte(folio, mm, vpn)
        mm.rss_anon += 1
        mm.swapents -= 1
        folio.mm_pins += 1
        design.swap_free_nr(entry, 1)
        if folio.folio_trylock():
            design.folio_free_swap(folio)
            folio.folio_unlock()
        folio.mm_pins -= 1
        if not folio.lru and folio.mm_charged:
            self.folio_add_lru(folio)
