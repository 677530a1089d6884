"""``UFFDIO_MOVE``: move anonymous pages, swapped out or not, between two ranges of one mm.

Models: mm/userfaultfd.c (v6.15+, with the 2025 swap-cache fixes) ``move_pages()`` ->
``move_pages_pte()`` -> ``move_present_pte()`` / ``move_swap_pte()`` /
``move_zeropage_pte()``, and the RFC's change to it (seed patch 04, semantics of patch 10):
the source entry's device is held with ``trylock_swapoff()`` instead of
``get_swap_device()``, which under the virtual designs never fails.

A swapped-out page moves as its swap PTE: the *entry is unchanged* (no swap count moves, no
slot or descriptor is touched, no memcg recharge); the source PTE is cleared and the
destination PTE takes the entry. A folio of that entry in the swap cache is locked for the
move (``folio_move_anon_rmap`` re-homes it to the destination: the model's folios keep no
anon_vma or index, so only the lock is modelled). The refusals are the kernel's:

========================== ==============================================================
``-EEXIST``                the destination PTE is not empty
``-ENOENT``                a source hole (without ``UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES``),
                           or no VMA at the source
``-EBUSY``                 the source page is shared: a present folio another mm maps
                           (``!PageAnonExclusive``) or a swap PTE that is not exclusive
                           (its entry has more than one swap count: fork); a *large*
                           folio in the swap cache at the entry, not split (6.15 to 6.18
                           and the mm tree after: split_folio() cannot split an unmapped
                           swap-cache folio either; docs/kernel-paths.md)
``-EAGAIN``                the entry's device is going (``trylock_swapoff`` failed,
                           classic family), or the swap-cache folio is locked by another
                           task (the kernel sleeps on it and retries; the model's
                           operations are atomic, so a held lock is reported)
``-EINVAL``                bad alignment or length, ranges outside their VMAs, the
                           destination not registered, ``VM_LOCKED`` differing
========================== ==============================================================

A present large folio is split first (``split_folio``), as the kernel does, and its page
moved as an order-0 folio. Modelled time: two PTEs walked per page (``pte_walk``), a
swap-cache lookup per swap PTE, and the design's own steps of ``trylock_swapoff``.

The model has no PTE exclusive bit: a swap PTE is taken as exclusive when its entry has
exactly one swap count and no page of it is mapped (as ``do_swap_page`` decides here), which
differs from the kernel only after a fork whose child has since dropped its reference (the
kernel still refuses with ``-EBUSY``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from vswap._mypyc import trait
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE, SwpEntry
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import (
    PTE_IDX_SHIFT,
    PTE_PRESENT,
    PTE_TABLE_MASK,
    VPN_BITS,
    MmStruct,
    Task,
    Vma,
    pte_mkpresent,
)

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio

#: ``UFFDIO_MOVE_MODE_DONTWAKE`` / ``UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES`` (uapi userfaultfd.h).
UFFDIO_MOVE_MODE_DONTWAKE: Final = 1 << 0
UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES: Final = 1 << 1


@dataclass
class UffdMoveStats:
    """What ``UFFDIO_MOVE`` did on this machine, by kind of source PTE (not kernel
    counters: the kernel counts none; for reports and tests)."""

    present: int = 0
    swap: int = 0
    swapcache: int = 0
    zero: int = 0
    holes: int = 0
    splits: int = 0
    ebusy: int = 0


@trait
class UserfaultfdMixin(MachineBase):
    """``UFFDIO_REGISTER`` and ``UFFDIO_MOVE`` of :class:`~vswap.mm.machine.Machine`."""

    uffd_stats: UffdMoveStats

    def _uffd_init(self) -> None:
        self.uffd_stats = UffdMoveStats()

    # -- registration --------------------------------------------------------------------
    def uffdio_register(self, task: Task, addr: int, length: int) -> None:
        """Register ``[addr, addr+length)`` of ``task`` for missing faults (a ``UFFDIO_MOVE``
        destination). Models: ``userfaultfd_register()`` with
        ``UFFDIO_REGISTER_MODE_MISSING``: the VMAs are split at the range and flagged.

        Raises:
            KernelError(EINVAL): a bad range, or a page of it outside any VMA.
        """
        self._check_alive(task)
        start, end = self._range(addr, length, "UFFDIO_REGISTER")
        mm = task.mm
        vpn = start
        while vpn < end:
            vma = mm.find_vma(vpn)
            if vma is None:
                raise KernelError(Errno.EINVAL, f"UFFDIO_REGISTER: {vpn << PAGE_SHIFT:#x} "
                                                "is not mapped")
            vpn = vma.end
        for vma in mm.split_vmas(start, end):
            vma.uffd = True

    # -- UFFDIO_MOVE -----------------------------------------------------------------------
    def uffdio_move(self, task: Task, dst: int, src: int, length: int, mode: int = 0) -> int:
        """Move ``length`` bytes of pages from ``src`` to ``dst`` in ``task``'s mm.

        Models: ``move_pages()``. Context: the destination range lies in one VMA registered
        with :meth:`uffdio_register`; the source in one anonymous VMA with the same
        ``VM_LOCKED``.

        Returns:
            The bytes moved if any, else the negative errno of the first refusal (the
            table in the module docstring); never 0, as the ioctl's ``move`` field.
        """
        self.op_begin(task)
        try:
            return self._move_pages(task.mm, dst, src, length, mode)
        finally:
            self.op_end()

    def _move_pages(self, mm: MmStruct, dst: int, src: int, length: int, mode: int) -> int:
        if dst % PAGE_SIZE or src % PAGE_SIZE or length <= 0 or length % PAGE_SIZE:
            return -Errno.EINVAL
        dst_vpn, src_vpn, nr = dst >> PAGE_SHIFT, src >> PAGE_SHIFT, length >> PAGE_SHIFT
        dst_vma = mm.find_vma(dst_vpn)
        if dst_vma is None:
            return -Errno.ENOENT
        src_vma = mm.find_vma(src_vpn)
        if src_vma is None:
            return -Errno.ENOENT
        if src_vpn + nr > src_vma.end or dst_vpn + nr > dst_vma.end:
            return -Errno.EINVAL
        if src_vma.locked != dst_vma.locked or not dst_vma.uffd:
            return -Errno.EINVAL
        # find_vma_and_prepare_anon(): the destination gets its anon_vma (swapoff's walk
        # visits only VMAs that have one).
        dst_vma.anon_vma = True
        moved = 0
        err = 0
        for k in range(nr):
            err = self.move_pages_pte(mm, dst_vma, src_vma, dst_vpn + k, src_vpn + k, mode)
            if err:
                break
            moved += PAGE_SIZE
        return moved if moved else err

    def move_pages_pte(self, mm: MmStruct, dst_vma: Vma, src_vma: Vma, dst_vpn: int,
                       src_vpn: int, mode: int) -> int:
        """Move the page at ``src_vpn`` to ``dst_vpn``; 0 or a negative errno.

        Models: ``move_pages_pte()`` for one PTE: the destination must be none, a source
        hole is ``-ENOENT`` (or nothing to do with ``ALLOW_SRC_HOLES``); a present page goes
        through :meth:`move_present_pte` (the zero page through ``move_zeropage_pte``), a
        swap PTE through :meth:`move_swap_pte`.
        """
        # Both PTEs are read and written under their locks (double_pt_lock).
        self.tracer.pte_walk(2)
        dptes, _ = mm.pte_table(dst_vpn)
        di = dst_vpn & PTE_TABLE_MASK
        if dptes[di]:
            return -Errno.EEXIST
        sptes, sfolios = mm.pte_table(src_vpn)
        si_ = src_vpn & PTE_TABLE_MASK
        v = sptes[si_]
        if not v:
            if not mode & UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES:
                return -Errno.ENOENT
            self.uffd_stats.holes += 1
            return 0
        if v & PTE_PRESENT:
            folio = sfolios[si_]
            if folio is None:
                # move_zeropage_pte(): the zero page's PTE moves.
                sptes[si_] = 0
                dptes[di] = v
                self.uffd_stats.zero += 1
                return 0
            # PageAnonExclusive: no other mm maps the folio (fork shares it copy-on-write).
            if any(key >> VPN_BITS != mm.id for key in folio.rmap):
                self.uffd_stats.ebusy += 1
                return -Errno.EBUSY
            if folio.order:
                self._split_for_move(folio)
                self.uffd_stats.splits += 1
                folio = sfolios[si_]
                assert folio is not None and not folio.order
            return self.move_present_pte(mm, folio, dst_vpn, src_vpn)
        return self.move_swap_pte(mm, dst_vpn, src_vpn)

    def _split_for_move(self, folio: Folio) -> None:
        """``split_folio()`` of a mapped large folio: isolated from the LRU, split, its
        pages put back (each keeps its mapping)."""
        self.folio_del_lru(folio)
        folio.mm_pins += 1
        for new in self.split_folio_isolated(folio):
            self.folio_putback_lru(new)

    def move_present_pte(self, mm: MmStruct, folio: Folio, dst_vpn: int, src_vpn: int) -> int:
        """Models: ``move_present_pte()``: the PTE of an exclusive order-0 folio moves, the
        folio's reverse map follows (``folio_move_anon_rmap``), the new PTE is writable.
        Returns 0."""
        sptes, sfolios = mm.pte_table(src_vpn)
        dptes, dfolios = mm.pte_table(dst_vpn)
        si_, di = src_vpn & PTE_TABLE_MASK, dst_vpn & PTE_TABLE_MASK
        idx = sptes[si_] >> PTE_IDX_SHIFT
        sptes[si_] = 0
        sfolios[si_] = None
        dptes[di] = pte_mkpresent(idx, True)
        dfolios[di] = folio
        folio.rmap[folio.rmap.index(mm.id << VPN_BITS | src_vpn)] = mm.id << VPN_BITS | dst_vpn
        self.uffd_stats.present += 1
        return 0

    def move_swap_pte(self, mm: MmStruct, dst_vpn: int, src_vpn: int) -> int:
        """Move a swap PTE: the entry is unchanged, its swap-cache folio (if any) locked.

        Models: ``move_pages_pte()``'s swap branch and ``move_swap_pte()``: the PTE must be
        exclusive (else ``-EBUSY``); ``trylock_swapoff()`` holds the entry's device (seed
        patch 04; ``-EAGAIN`` when it fails); a folio in the swap cache at the entry is
        looked up: large -> ``-EBUSY``, locked by another task -> ``-EAGAIN``, else locked,
        re-checked (still in the swap cache at this entry) and moved with the PTE. Without a
        folio the kernel re-checks that none was added meanwhile (``SWAP_HAS_CACHE`` /
        the cache pin): nothing else runs during a model operation, so it holds. Returns 0.
        """
        design = self.design
        sptes, _ = mm.pte_table(src_vpn)
        dptes, _ = mm.pte_table(dst_vpn)
        si_, di = src_vpn & PTE_TABLE_MASK, dst_vpn & PTE_TABLE_MASK
        v = sptes[si_]
        entry = SwpEntry(v >> 1)
        self.tracer.swap_cache_lookup()
        folio = design.swap_cache_get_folio(entry)
        if design.swp_swapcount(entry) != 1 or (folio is not None and folio.mapcount):
            self.uffd_stats.ebusy += 1
            return -Errno.EBUSY
        locked, si = design.trylock_swapoff(entry)
        if not locked:
            return -Errno.EAGAIN
        try:
            if folio is not None:
                if folio.order:
                    self.uffd_stats.ebusy += 1
                    return -Errno.EBUSY
                if not folio.folio_trylock():
                    return -Errno.EAGAIN
                try:
                    if not folio.swapcache or folio.swap != entry:
                        return -Errno.EAGAIN
                    sptes[si_] = 0
                    dptes[di] = v
                finally:
                    folio.folio_unlock()
                self.uffd_stats.swapcache += 1
            else:
                sptes[si_] = 0
                dptes[di] = v
            self.uffd_stats.swap += 1
            return 0
        finally:
            design.unlock_swapoff(entry, si)
