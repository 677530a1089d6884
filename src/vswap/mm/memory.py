"""Page faults, copy-on-write, fork's page-table copy and zap.

Models: mm/memory.c (v6.14): ``handle_mm_fault`` -> ``do_anonymous_page`` (with
``alloc_anon_folio`` choosing an mTHP order), ``do_wp_page`` (reuse or ``wp_page_copy``),
``do_swap_page`` (swap-cache lookup, ``swapin_readahead``, the skip-swapcache path for a
synchronous device with large-folio swap-in, ``should_try_to_free_swap``), ``copy_page_range``
(fork), ``zap_pte_range`` (munmap, exit, ``MADV_DONTNEED``). Readahead is in
:mod:`vswap.mm.swap_state`, madvise in :mod:`vswap.mm.madvise`, swapoff's PTE walk in
:mod:`vswap.mm.swapfile`.

The zero page: a read fault on an untouched page maps the shared zero page (a present PTE
with no folio, ``pte_special``), as ``do_anonymous_page`` does; a write then allocates.

Every page read from a backend or found in the swap cache is checked against the integrity
oracle (:mod:`vswap.mm.integrity`) with the path it took (zero, zswap, device, swapcache).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from vswap._mypyc import trait
from vswap.kernel.errors import DataLossError, Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SHIFT, SwpEntry
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import (
    PTE_IDX_SHIFT,
    PTE_PRESENT,
    PTE_TABLE_MASK,
    PTE_TABLE_SHIFT,
    PTE_WRITE,
    PTE_YOUNG,
    PTRS_PER_PTE,
    MmStruct,
    Signal,
    Task,
    Vma,
    pte_mkpresent,
)
from vswap.swap.swapfile import SWP_SYNCHRONOUS_IO

if TYPE_CHECKING:
    from vswap.kernel.memcontrol import MemCgroup

#: The present PTE of the shared zero page: present, read-only, young, no folio.
ZERO_PTE: Final = PTE_PRESENT | PTE_YOUNG


@trait
class FaultMixin(MachineBase):
    """Fault handling and page-table walks of :class:`~vswap.mm.machine.Machine`."""

    # -- the fault entry point --------------------------------------------------------------
    def handle_mm_fault(self, task: Task, vpn: int, write: bool) -> None:
        """Resolve a fault at page ``vpn`` of ``task``.

        Models: ``handle_mm_fault()`` -> ``handle_pte_fault()``. Raises TaskKilled (after the
        task was killed) for an address outside any VMA (SIGSEGV), a swap read error
        (SIGBUS), or when the OOM killer chose this task.
        """
        mm = task.mm
        vma = mm.find_vma(vpn)
        if vma is None:
            self.kill_task(task, Signal.SIGSEGV,
                           f"segfault at {vpn << PAGE_SHIFT:#x}: no mapping")
            raise AssertionError("unreachable: kill_task raises for the current task")
        self.count_event("pgfault", 1, mm.memcg.id)
        self.tracer.fault()
        tables = mm.tables
        key = vpn >> PTE_TABLE_SHIFT
        i = vpn & PTE_TABLE_MASK
        for _ in range(64):
            t = tables.get(key)  # mm.get_pte(vpn), inlined (twice a fault)
            v = t[0][i] if t is not None else 0
            if not v:
                self.do_anonymous_page(task, vma, vpn, write)
            elif v & PTE_PRESENT:
                if write and not v & PTE_WRITE:
                    self.do_wp_page(task, vma, vpn)
            elif not self.do_swap_page(task, vma, vpn, write):
                continue
            t = tables.get(key)
            v = t[0][i] if t is not None else 0
            if v & PTE_PRESENT and (v & PTE_WRITE or not write):
                task.min_flt += 1
                return
        raise KernelError(Errno.EFAULT, f"{task}: fault at {vpn << PAGE_SHIFT:#x} made no progress")

    # -- anonymous pages ----------------------------------------------------------------------
    def do_anonymous_page(self, task: Task, vma: Vma, vpn: int, write: bool) -> None:
        """Models: ``do_anonymous_page()`` with ``alloc_anon_folio()``.

        A read maps the zero page. A write allocates the largest enabled mTHP order whose
        aligned range lies in the VMA with every PTE none and whose charge fits without
        reclaim (``anon_fault_fallback`` / ``anon_fault_fallback_charge`` otherwise), else
        an order-0 folio (charged with reclaim, OOM on failure).
        """
        mm = task.mm
        ptes, folios = mm.pte_table(vpn)
        i = vpn & PTE_TABLE_MASK
        if not write:
            ptes[i] = ZERO_PTE
            return
        memcg = mm.memcg
        folio = None
        for order in (self.thp.orders_for(vma) if self.thp_any_enabled else ()):
            nr = 1 << order
            start = vpn & ~(nr - 1)
            if start < vma.start or start + nr > vma.end:
                continue
            base = start & PTE_TABLE_MASK
            if any(ptes[base:base + nr]):
                self.count_mthp_stat(order, "anon_fault_fallback")
                continue
            folio = self.alloc_folio(order, memcg, task, may_reclaim=False)
            if folio is None:
                self.count_mthp_stat(order, "anon_fault_fallback_charge")
                continue
            self.count_mthp_stat(order, "anon_fault_alloc")
            if order == self.HPAGE_PMD_ORDER:
                self.count_event("thp_fault_alloc", 1, memcg.id)
            break
        if folio is None:
            folio = self.alloc_folio(0, memcg, task, may_reclaim=True)
            assert folio is not None
        nr = folio.nr_pages
        start = vpn & ~(nr - 1)
        ptes, folios = mm.pte_table(vpn)
        if nr == 1 and ptes[i]:
            # A reclaim or OOM kill inside the allocation changed this PTE (cannot for a
            # none PTE of a live task, but keep the kernel's recheck).
            self.free_folio(folio)
            return
        folio.dirty = True
        folio.mm_written = True
        vma.anon_vma = True
        base = start & PTE_TABLE_MASK
        for k in range(nr):
            ptes[base + k] = pte_mkpresent(k, True)
            folios[base + k] = folio
            self.folio_add_rmap_pte(folio, mm, start + k)
        mm.rss_anon += nr
        self.folio_add_lru(folio)

    # -- copy on write ------------------------------------------------------------------------
    def do_wp_page(self, task: Task, vma: Vma, vpn: int) -> None:
        """Write to a read-only present PTE: reuse the folio if this PTE is its only user,
        else copy the page.

        Models: ``do_wp_page()`` with ``wp_can_reuse_anon_folio()`` (which frees the swap
        cache to prove exclusivity: ``folio_free_swap``) and ``wp_page_copy()``.
        """
        mm = task.mm
        ptes, folios = mm.pte_table(vpn)
        i = vpn & PTE_TABLE_MASK
        v = ptes[i]
        old = folios[i]
        if old is not None and old.mapcount == 1 and not old.mm_pins:
            if old.swapcache and old.folio_trylock():
                self.design.folio_free_swap(old)
                old.folio_unlock()
            if not old.swapcache:
                ptes[i] = v | PTE_WRITE | PTE_YOUNG
                old.dirty = True
                old.mm_written = True
                return
        if old is not None:
            old.mm_pins += 1
        try:
            new = self.alloc_folio(0, mm.memcg, task, may_reclaim=True)
        finally:
            if old is not None:
                old.mm_pins -= 1
                self.maybe_free_folio(old)
        assert new is not None
        ptes, folios = mm.pte_table(vpn)
        if ptes[i] != v or folios[i] is not old:
            # The PTE changed while we allocated (reclaim unmapped it): retry the fault.
            self.free_folio(new)
            if old is not None:
                self.maybe_free_folio(old)
            return
        if old is not None:
            idx = v >> PTE_IDX_SHIFT
            s = len(new.data)  # PAGE_SIZE, or a token in compact mode
            new.data[:] = old.data[idx * s:(idx + 1) * s]
            self.tracer.page_copy(1)
            self.folio_remove_rmap_pte(old, mm, vpn)
        else:
            mm.rss_anon += 1
        new.dirty = True
        new.mm_written = True
        ptes[i] = pte_mkpresent(0, True)
        folios[i] = new
        self.folio_add_rmap_pte(new, mm, vpn)
        self.folio_add_lru(new)
        if old is not None:
            self.maybe_free_folio(old)

    # -- swap-in ------------------------------------------------------------------------------
    def do_swap_page(self, task: Task, vma: Vma, vpn: int, write: bool) -> bool:
        """Bring the page of a swap PTE back and map it.

        Models: ``do_swap_page()``: swap-cache lookup (``swap_ra_hit`` for a readahead
        page), else the skip-swapcache path (synchronous device, swap count 1; large folios
        when an mTHP size is enabled and the design can read the range whole) or
        ``swapin_readahead``; ``pgmajfault``; the PTE maps the page, its swap reference is
        dropped (``swap_free_nr``), ``should_try_to_free_swap`` may release the swap space,
        and a write fault on an exclusive page maps it writable (else COW follows).

        Returns True if the PTE is now present, False to retry the fault (a race: the entry
        is pinned by another swap-in or changed under us).
        """
        mm = task.mm
        design = self.design
        ptes, folios = mm.pte_table(vpn)
        i = vpn & PTE_TABLE_MASK
        v = ptes[i]
        entry = SwpEntry(v >> 1)
        folio = design.swap_cache_get_folio(entry)
        major = False
        # swapin_sync_device() is always False where the skip-swapcache path exists.
        sync = (not design.swapcache_bypass and self.skip_swapcache_enabled
                and self.swapin_sync_device(entry))
        if folio is not None:
            self.swap_update_readahead(folio, vma, vpn)
            if not folio.mm_written:
                self.oracle_verify(folio, entry - folio.swap, entry, task, vpn, "swapcache")
        else:
            memcg = self.swapin_memcg(entry, mm)
            self.charge_prepare(memcg, 1, task)
            if ptes[i] != v:
                return False
            done = self.swapin_mixed_thp(task, vma, vpn, entry, write, memcg) \
                if self.mixed_thp_swapin else None
            if done is None:
                done = self.do_swap_page_skip_swapcache(task, vma, vpn, entry, write, memcg)
            if done is not None:
                return done
            if sync:
                # Swap table phase II on: a synchronous device's entry is read alone, never
                # with readahead (swapin_folio): a large folio as the skip-swapcache path
                # reads it (see swapin_sync_device), else order 0 through the swap cache.
                done = self.do_swap_page_skip_swapcache(task, vma, vpn, entry, write, memcg,
                                                        large_only=True)
                if done is not None:
                    return done
                folio = self.swapin_one(entry, task, vpn, None)
            else:
                folio = self.swapin_readahead(entry, task, vma, vpn)
            if folio is None:
                self.reap_folios()
                if ptes[i] != v:
                    return False
                if not design.swp_swapcount(entry) and design.swap_cache_get_folio(
                        entry) is None:
                    raise DataLossError(f"{task}: swap entry {entry:#x} at "
                                        f"{vpn << PAGE_SHIFT:#x} is gone (freed under a PTE)")
                self.swapin_fail_streak += 1
                if self.swapin_fail_streak > 8:
                    self.kill_task(task, Signal.SIGBUS,
                                   f"swap-in of {vpn << PAGE_SHIFT:#x} keeps failing")
                return False
            major = True
            # The fault sleeps on the folio lock until its read (and readahead) is done.
            self.tracer.io_wait()
        self.swapin_fail_streak = 0
        if not folio.uptodate:
            self.kill_task(task, Signal.SIGBUS,
                           f"swap read error at {vpn << PAGE_SHIFT:#x} (entry {entry:#x})")
        if major:
            task.maj_flt += 1
            self.count_event("pgmajfault", 1, mm.memcg.id)
        if not folio.swapcache or not folio.swap <= entry < folio.swap + folio.nr_pages \
                or ptes[i] != v:
            return False
        idx = entry - folio.swap
        exclusive = design.swp_swapcount(entry) == 1 and folio.mapcount == 0
        folio.mm_pins += 1
        ptes[i] = pte_mkpresent(idx, False)
        folios[i] = folio
        self.folio_add_rmap_pte(folio, mm, vpn)
        mm.rss_anon += 1
        mm.swapents -= 1
        vma.anon_vma = True
        design.swap_free_nr(entry, 1)
        if self.should_try_to_free_swap(folio, vma, write, sync) and folio.folio_trylock():
            design.folio_free_swap(folio)
            folio.folio_unlock()
        if write and (exclusive or not folio.swapcache) and folio.mapcount == 1:
            ptes[i] = pte_mkpresent(idx, True)
            folio.dirty = True
            folio.mm_written = True
        folio.mm_pins -= 1
        if not folio.lru and folio.mm_charged and not folio.mm_pins:
            self.folio_add_lru(folio)
        return True

    def should_try_to_free_swap(self, folio: Folio, vma: Vma, write: bool,
                                sync: bool = False) -> bool:
        """Models: ``should_try_to_free_swap()``: swap over half full (``vm_swap_full`` /
        ``mem_cgroup_swap_full``), a locked VMA, or a write fault by the only user; from
        swap table phase II on also always for a ``SWP_SYNCHRONOUS_IO`` device (``sync``,
        :meth:`swapin_sync_device`: fast devices gain little from the cached copy, and it
        pins the slot)."""
        if not folio.swapcache:
            return False
        if sync or self.swap_full_for(folio) or vma.locked:
            return True
        return write and folio.mapcount == 1 and folio.mm_pins == 1

    def swapin_sync_device(self, entry: SwpEntry) -> bool:
        """Is ``entry``'s data on a ``SWP_SYNCHRONOUS_IO`` device, under a design without
        the skip-swapcache path (swap table phase II on: ``swapcache_bypass`` False)?

        Models: the test ``do_swap_page`` makes there (``si->flags & SWP_SYNCHRONOUS_IO``,
        no swap-count condition; STE: ``swap_entry_backend_has_flag``, the flag of the
        virtual entry's physical backing, false for a zswap, zero or unbacked entry). True
        sends the fault to ``swapin_folio`` (one folio through the swap cache, no
        readahead) and makes ``should_try_to_free_swap`` true. Always False where the
        skip-swapcache path exists (v6.14 .. 6.19 and the RFC v2 / v6 designs, which
        test the flag in :meth:`do_swap_page_skip_swapcache`) or is turned off
        (``skip_swapcache``: memory devices are then not synchronous).
        """
        design = self.design
        if design.swapcache_bypass or not self.skip_swapcache_enabled:
            return False
        si = design.get_swap_device(entry)
        if si is None:
            return False
        try:
            return bool(si.flags & SWP_SYNCHRONOUS_IO)
        finally:
            design.put_swap_device(si)

    def swapin_memcg_id(self, entry: SwpEntry, mm: MmStruct) -> int:
        """The cgroup a swapped-in folio is charged to: the recorded owner if it still
        exists, else the faulting mm's (``mem_cgroup_swapin_charge_folio``)."""
        memcg_id = self.design.lookup_swap_cgroup_id(entry)
        if memcg_id and memcg_id in self.lruvecs:
            return memcg_id
        return mm.memcg.id

    def swapin_memcg(self, entry: SwpEntry, mm: MmStruct) -> MemCgroup:
        memcg = self.memcgs.mem_cgroup_from_id(self.swapin_memcg_id(entry, mm))
        return memcg if memcg is not None else mm.memcg

    def do_swap_page_skip_swapcache(self, task: Task, vma: Vma, vpn: int,
                                    entry: SwpEntry, write: bool, memcg: MemCgroup,
                                    large_only: bool = False) -> bool | None:
        """The ``SWP_SYNCHRONOUS_IO`` path of ``do_swap_page``: read straight into a private
        folio, pinned by ``swapcache_prepare`` but not inserted in the swap cache.

        Taken when the entry's device is a memory device (zram-like) and the swap count is 1.
        Tries the largest enabled mTHP order first (``can_swapin_thp``: the aligned PTEs hold
        consecutive entries of count 1, zswap was never enabled; the design's read must cover
        the range with one backend) and falls back to order 0. Returns None when the path does
        not apply, else as :meth:`do_swap_page`.

        ``large_only``: the large orders only, for a design without the bypass whose entry
        is on a synchronous device (swap table phase II on, :meth:`swapin_sync_device`):
        its ``alloc_swap_folio`` + ``swapin_folio`` read the same large folio through the
        swap cache, and ``should_try_to_free_swap`` drops it from the cache at once when the
        count was 1, which is this path's end state (the cache's own lock steps aside).
        """
        thp_orders = self.thp.orders_for(vma) if self.thp_any_enabled else []
        if large_only:
            if not thp_orders:
                return None
        elif not self.skip_swapcache_enabled or not self.design.swapcache_bypass:
            return None
        design = self.design
        si = design.get_swap_device(entry)
        if si is None:
            return None
        try:
            # SWP_SYNCHRONOUS_IO (set at swapon for memory devices, zram-like), and only the
            # faulting PTE references the entry (``__swap_count(entry) == 1``).
            if not si.flags & SWP_SYNCHRONOUS_IO or design.swp_swapcount(entry) != 1:
                return None
        finally:
            design.put_swap_device(si)
        mm = task.mm
        ptes, folios = mm.pte_table(vpn)
        zswap_used = self.zswap is not None and not self.zswap.zswap_never_enabled()
        orders = thp_orders if large_only else (*thp_orders, 0)
        tracer = self.tracer
        for order in orders:
            nr = 1 << order
            start = vpn & ~(nr - 1)
            if order:
                if zswap_used or start < vma.start or start + nr > vma.end:
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
            else:
                e = entry
            folio = self.alloc_folio(order, memcg, task, may_reclaim=(order == 0))
            if folio is None:
                continue
            if design.swapcache_prepare(e, nr):
                self.free_folio(folio)
                if order:
                    continue
                return False
            folio.locked = True
            folio.swap = e
            vm = self.vmstat
            # read_path_snapshot(), inlined.
            reads = vm["swpin_zero"], vm["zswpin"], vm["pswpin"]
            try:
                ok = design.swap_read_folio(folio)
            except KernelError as exc:
                if exc.errno != Errno.EIO:
                    folio.swap = SwpEntry(0)
                    folio.locked = False
                    design.swapcache_clear(e, nr)
                    self.free_folio(folio)
                    raise
                ok = False  # zswap could not decompress: an I/O error like a device's
            except Exception:
                folio.swap = SwpEntry(0)
                folio.locked = False
                design.swapcache_clear(e, nr)
                self.free_folio(folio)
                raise
            # read_path_since(reads), inlined.
            if vm["zswpin"] != reads[1]:
                path = "zswap"
            elif vm["pswpin"] != reads[2]:
                path = "device"
            elif vm["swpin_zero"] != reads[0]:
                path = "zero"
            else:
                path = "swapcache"
            tracer.io_wait()
            folio.swap = SwpEntry(0)
            folio.locked = False
            if not ok or not folio.uptodate:
                design.swapcache_clear(e, nr)
                self.free_folio(folio)
                if order:
                    self.count_mthp_stat(order, "swpin_fallback")
                    continue
                self.kill_task(task, Signal.SIGBUS,
                               f"swap read error at {vpn << PAGE_SHIFT:#x} (entry {e:#x})")
            shadow = design.get_shadow_from_swap_cache(e)
            if shadow is not None:
                self.workingset_refault(folio, shadow)
            oracle = self.oracle
            for k in range(nr):
                oracle.verify(folio, k, SwpEntry(e + k), task, start + k, path)
            base = start & PTE_TABLE_MASK
            folio.dirty = True
            for k in range(nr):
                ptes[base + k] = pte_mkpresent(k, write or nr > 1)
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
            if order:
                self.count_mthp_stat(order, "swpin")
            return True
        return None

    # -- zap and fork -------------------------------------------------------------------------
    def zap_pte_range(self, mm: MmStruct, start: int, end: int) -> None:
        """Clear every PTE in ``[start, end)``: unmap folios (freeing those nobody else
        holds) and drop swap references (``free_swap_and_cache_nr``, batched over runs of
        consecutive entries within one 512-entry block).

        Models: ``zap_pte_range()`` (munmap, exit, ``MADV_DONTNEED``).
        """
        design = self.design
        nr_before = mm.rss_anon + mm.swapents
        for key in range(start >> PTE_TABLE_SHIFT, ((end - 1) >> PTE_TABLE_SHIFT) + 1):
            t = mm.tables.get(key)
            if t is None:
                continue
            ptes, folios = t
            base = key << PTE_TABLE_SHIFT
            lo = max(start - base, 0)
            hi = min(end - base, PTRS_PER_PTE)
            run_entry = 0
            run_nr = 0
            for i in range(lo, hi):
                v = ptes[i]
                if not v:
                    continue
                if v & PTE_PRESENT:
                    folio = folios[i]
                    ptes[i] = 0
                    if folio is not None:
                        folios[i] = None
                        self.folio_remove_rmap_pte(folio, mm, base + i)
                        mm.rss_anon -= 1
                        if folio.swapcache and not folio.mapcount:
                            self.free_swap_cache(folio)
                        self.maybe_free_folio(folio)
                    continue
                e = v >> 1
                ptes[i] = 0
                mm.swapents -= 1
                if run_nr and e == run_entry + run_nr and (e & 511) != 0:
                    run_nr += 1
                    continue
                if run_nr:
                    design.free_swap_and_cache_nr(SwpEntry(run_entry), run_nr)
                run_entry, run_nr = e, 1
            if run_nr:
                design.free_swap_and_cache_nr(SwpEntry(run_entry), run_nr)
        self.tracer.pte_zap(nr_before - mm.rss_anon - mm.swapents)
        self.reap_folios()

    def free_swap_cache(self, folio: Folio) -> None:
        """The zap released the last mapping of a swap-cache folio: free its swap space.

        Models: ``free_swap_cache()``, called for every page the zap's mmu_gather frees
        (``tlb_batch_pages_flush`` -> ``free_pages_and_swap_cache``): an unmapped folio in
        the swap cache that can be locked now gives its slots back (``folio_free_swap``,
        which keeps it if a swap count or writeback still holds it). Without it, what a
        process had swapped in and still mapped at ``munmap`` or exit kept its slots
        (``SWAP_HAS_CACHE``) until reclaim found the folio.
        """
        if folio.folio_trylock():
            self.design.folio_free_swap(folio)
            folio.folio_unlock()

    def copy_page_range(self, src: MmStruct, dst: MmStruct) -> None:
        """Copy every PTE of ``src`` into ``dst`` for fork.

        Models: ``copy_page_range()`` -> ``copy_pte_range()``: a present page is shared
        copy-on-write (both PTEs read-only, the child's old), a swap PTE is copied after
        ``swap_duplicate`` (so swap counts above one occur), the zero page is copied.
        """
        design = self.design
        for key, (ptes, folios) in src.tables.items():
            base = key << PTE_TABLE_SHIFT
            dptes, dfolios = dst.pte_table(base)
            for i in range(PTRS_PER_PTE):
                v = ptes[i]
                if not v:
                    continue
                if v & PTE_PRESENT:
                    v &= ~PTE_WRITE
                    ptes[i] = v
                    dptes[i] = v & ~PTE_YOUNG
                    folio = folios[i]
                    if folio is not None:
                        dfolios[i] = folio
                        self.folio_add_rmap_pte(folio, dst, base + i)
                        dst.rss_anon += 1
                    continue
                if design.swap_duplicate(SwpEntry(v >> 1)) < 0:
                    raise KernelError(Errno.ENOMEM, f"fork: swap_duplicate({v >> 1:#x}) failed")
                dptes[i] = v
                if dst.id not in self.mmlist:
                    self.mmlist[dst.id] = dst  # copy_nonpresent_pte: the child joins mmlist
                dst.swapents += 1
