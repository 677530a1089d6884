"""Tasks, address spaces, VMAs and page tables.

Models: ``struct mm_struct``, ``struct vm_area_struct`` and ``struct task_struct`` of
include/linux/mm_types.h and include/linux/sched.h (v6.14) as far as anonymous memory needs
them, and the x86-64 last-level page table (``pte_t``, arch/x86/include/asm/pgtable_types.h).

Page tables are kept per mm as 512-entry tables (one per 2 MiB of address space, created on
first touch like a PTE page under a PMD, freed when their range is unmapped), each a pair:
an ``array('Q')`` of encoded PTEs and a list of folio references. A PTE is 8 bytes, and a
present PTE costs 8 more for the folio pointer; there is no Python object per page.

PTE states (the encoded ``array('Q')`` value ``v``):

=============== ============================= =========================================
state           encoding                      meaning / transitions
=============== ============================= =========================================
none            ``v == 0``                    never touched or zapped; -> present on a
                                              fault (do_anonymous_page)
present         ``v & 1``: bit 1 writable,    maps page ``v >> PTE_IDX_SHIFT`` of the
                bit 2 young (accessed),       folio in the parallel list; -> swap by
                bits 3.. page index in folio  try_to_unmap, -> none by zap
swap            ``v`` even, non-zero:         ``pte_to_swp_entry``; -> present by
                ``v >> 1`` is the swap entry  do_swap_page / unuse_pte, -> none by zap
=============== ============================= =========================================

A swap PTE holds one reference to its entry (the swap count); a present PTE holds one
mapping of its folio (``folio.mapcount``, ``folio.rmap``).
"""

from __future__ import annotations

import enum
from array import array
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from vswap.kernel.errors import Errno, KernelError

# At run time, not only for the checker: mypyc's Task dataclass reads its field types when
# mm_types is imported (vswap.compile).
from vswap.kernel.memcontrol import MemCgroup
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio

#: Entries per last-level page table (``PTRS_PER_PTE``).
PTRS_PER_PTE: Final = 512
PTE_TABLE_SHIFT: Final = 9
PTE_TABLE_MASK: Final = PTRS_PER_PTE - 1

PTE_PRESENT: Final = 0x1
PTE_WRITE: Final = 0x2
PTE_YOUNG: Final = 0x4
PTE_IDX_SHIFT: Final = 3

#: Highest user virtual page number + 1 (47-bit user address space, ``TASK_SIZE``).
TASK_SIZE: Final = 1 << 47
TASK_PAGES: Final = TASK_SIZE >> PAGE_SHIFT
#: Bits of a virtual page number in an rmap key (``mm_id << VPN_BITS | vpn``).
VPN_BITS: Final = 36
VPN_MASK: Final = (1 << VPN_BITS) - 1
#: Where ``mmap`` without an address starts looking (``mmap_base``, bottom-up here).
MMAP_BASE: Final = 0x7F00_0000_0000 >> PAGE_SHIFT


def pte_mkpresent(idx: int, writable: bool) -> int:
    """A present, young PTE for page ``idx`` of its folio (``mk_pte`` + ``pte_mkyoung``)."""
    return (idx << PTE_IDX_SHIFT) | PTE_YOUNG | (PTE_WRITE if writable else 0) | PTE_PRESENT


def swp_entry_to_pte(entry: int) -> int:
    """Models: ``swp_entry_to_pte()``."""
    return entry << 1


def pte_to_swp_entry(pte: int) -> int:
    """Models: ``pte_to_swp_entry()``."""
    return pte >> 1


class Signal(enum.IntEnum):
    """The fatal signals the model delivers."""

    SIGBUS = 7
    SIGKILL = 9
    SIGSEGV = 11


class TaskKilled(Exception):
    """The task doing an operation died: a fatal signal was delivered to it.

    Raised to the workload by the access that killed it (SIGSEGV for an address outside any
    mapping, SIGBUS for a swap read error, SIGKILL when the OOM killer chose it). The task's
    memory and swap are already released; other tasks go on.
    """

    def __init__(self, task: Task, signal: Signal, reason: str) -> None:
        super().__init__(f"{task.comm}[{task.pid}] killed by {signal.name}: {reason}")
        self.task = task
        self.signal = signal
        self.reason = reason


@dataclass
class Vma:
    """An anonymous private mapping ``[start, end)`` in pages. Models: ``vm_area_struct``."""

    start: int
    end: int
    #: ``anon_vma`` exists once a page was faulted in (swapoff walks only such VMAs).
    anon_vma: bool = False
    #: ``VM_LOCKED`` (mlock): swap is freed eagerly on swap-in (should_try_to_free_swap).
    locked: bool = False
    #: ``VM_HUGEPAGE`` (``MADV_HUGEPAGE``), for mTHP sizes set to ``madvise``.
    hugepage: bool = False
    #: ``vma->swap_readahead_info``: (vpn of the last swap fault or swap-cache hit,
    #: readahead window, readahead hits since the fault), None before the first. A VMA
    #: made by a split or by fork starts without one.
    swap_readahead_info: tuple[int, int, int] | None = None
    #: Registered with a userfaultfd for missing faults (``VM_UFFD_MISSING``,
    #: ``UFFDIO_REGISTER``): a ``UFFDIO_MOVE`` destination (:mod:`vswap.mm.userfaultfd`).
    uffd: bool = False

    @property
    def nr_pages(self) -> int:
        return self.end - self.start


class MmStruct:
    """One address space: VMAs, page tables and RSS counters. Models: ``struct mm_struct``.

    ``tables`` maps ``vpn >> 9`` to ``(ptes, folios)``: the encoded PTEs and, for present
    ones, the folio they map. ``rss_anon`` (``MM_ANONPAGES``) and ``swapents``
    (``MM_SWAPENTS``) feed the OOM badness; ``users`` counts the tasks sharing the mm
    (``mm_users``).
    """

    __slots__ = ("id", "memcg", "rss_anon", "swapents", "tables", "users", "vma_starts", "vmas")

    def __init__(self, mm_id: int, memcg: MemCgroup) -> None:
        self.id = mm_id
        self.memcg = memcg
        self.vmas: list[Vma] = []
        self.vma_starts: list[int] = []
        self.tables: dict[int, tuple[array[int], list[Folio | None]]] = {}
        self.rss_anon = 0
        self.swapents = 0
        self.users = 0

    # -- VMAs ------------------------------------------------------------------------------
    def find_vma(self, vpn: int) -> Vma | None:
        """Models: ``vma_lookup()``: the VMA containing page ``vpn``, or None."""
        i = bisect_right(self.vma_starts, vpn) - 1
        if i >= 0:
            vma = self.vmas[i]
            if vpn < vma.end:
                return vma
        return None

    def overlaps(self, start: int, end: int) -> Vma | None:
        """The first VMA intersecting ``[start, end)``, or None."""
        i = max(bisect_right(self.vma_starts, start) - 1, 0)
        for vma in self.vmas[i:]:
            if vma.start >= end:
                break
            if vma.end > start:
                return vma
        return None

    def insert_vma(self, vma: Vma) -> None:
        """Link a VMA that overlaps nothing (``vma_link``)."""
        i = bisect_right(self.vma_starts, vma.start)
        self.vmas.insert(i, vma)
        self.vma_starts.insert(i, vma.start)

    def get_unmapped_area(self, nr_pages: int) -> int:
        """Models: ``get_unmapped_area()``: the first gap of ``nr_pages`` above MMAP_BASE."""
        addr = MMAP_BASE
        for vma in self.vmas:
            if vma.end <= addr:
                continue
            if vma.start >= addr + nr_pages:
                break
            addr = vma.end
        if addr + nr_pages > TASK_PAGES:
            raise KernelError(Errno.ENOMEM, "mmap: no room left in the address space")
        return addr

    def split_vmas(self, start: int, end: int) -> list[Vma]:
        """Split VMAs at ``start`` and ``end`` and return the ones inside (``split_vma``)."""
        inside: list[Vma] = []
        out: list[Vma] = []
        for vma in self.vmas:
            if vma.end <= start or vma.start >= end:
                out.append(vma)
                continue
            if vma.start < start:
                out.append(Vma(vma.start, start, vma.anon_vma, vma.locked, vma.hugepage,
                               uffd=vma.uffd))
            mid = Vma(max(vma.start, start), min(vma.end, end), vma.anon_vma, vma.locked,
                      vma.hugepage, uffd=vma.uffd)
            out.append(mid)
            inside.append(mid)
            if vma.end > end:
                out.append(Vma(end, vma.end, vma.anon_vma, vma.locked, vma.hugepage,
                               uffd=vma.uffd))
        self.vmas = out
        self.vma_starts = [v.start for v in out]
        return inside

    def remove_vmas(self, vmas: list[Vma]) -> None:
        """Unlink VMAs (``remove_vma``)."""
        gone = {id(v) for v in vmas}
        self.vmas = [v for v in self.vmas if id(v) not in gone]
        self.vma_starts = [v.start for v in self.vmas]

    # -- page tables -----------------------------------------------------------------------
    def pte_table(self, vpn: int) -> tuple[array[int], list[Folio | None]]:
        """The PTE table covering ``vpn``, allocated on first use (``pte_alloc``)."""
        key = vpn >> PTE_TABLE_SHIFT
        t = self.tables.get(key)
        if t is None:
            t = self.tables[key] = (array("Q", bytes(8 * PTRS_PER_PTE)),
                                    [None] * PTRS_PER_PTE)
        return t

    def get_pte(self, vpn: int) -> int:
        """The encoded PTE at ``vpn`` (0 when no table exists)."""
        t = self.tables.get(vpn >> PTE_TABLE_SHIFT)
        return t[0][vpn & PTE_TABLE_MASK] if t is not None else 0

    def iter_ptes(self, start: int, end: int) -> Iterator[tuple[int, int]]:
        """``(vpn, pte)`` for every non-none PTE in ``[start, end)``, ascending."""
        for key in range(start >> PTE_TABLE_SHIFT, ((end - 1) >> PTE_TABLE_SHIFT) + 1):
            t = self.tables.get(key)
            if t is None:
                continue
            base = key << PTE_TABLE_SHIFT
            ptes = t[0]
            lo = max(start - base, 0)
            hi = min(end - base, PTRS_PER_PTE)
            for i in range(lo, hi):
                v = ptes[i]
                if v:
                    yield base + i, v

    def free_pgtables(self, start: int, end: int) -> None:
        """Free PTE tables wholly inside ``[start, end)`` (``free_pgtables``)."""
        first = (start + PTE_TABLE_MASK) >> PTE_TABLE_SHIFT
        last = end >> PTE_TABLE_SHIFT
        if last - first < len(self.tables):
            for key in range(first, last):
                self.tables.pop(key, None)
        else:
            for key in [k for k in self.tables if first <= k < last]:
                del self.tables[key]

    def pgtables_bytes(self) -> int:
        """Models: ``mm_pgtables_bytes()`` (last-level tables only)."""
        return len(self.tables) * PAGE_SIZE


@dataclass(eq=False)
class Task:
    """A task (thread or process). Models: ``task_struct`` (pid, comm, mm, cgroup, state).

    Threads of one process share ``mm``; ``oom_score_adj`` is ``/proc/<pid>/oom_score_adj``.
    """

    pid: int
    comm: str
    mm: MmStruct
    memcg: MemCgroup
    oom_score_adj: int = 0
    alive: bool = True
    exit_signal: Signal | None = None
    exit_reason: str = ""
    #: Faults taken: minor and major (``min_flt``, ``maj_flt``).
    min_flt: int = 0
    maj_flt: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Task({self.comm}[{self.pid}])"
