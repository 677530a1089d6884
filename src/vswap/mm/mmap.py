"""mmap(2), munmap(2) and the teardown of an address space.

Models: mm/mmap.c and mm/vma.c (v6.14): ``do_mmap()`` of anonymous private memory
(``get_unmapped_area``, ``MAP_FIXED_NOREPLACE`` semantics for a given address), ``do_vmi_munmap()``
(split the VMAs at the range, ``unmap_region`` zapping pages and swap entries,
``free_pgtables``) and ``exit_mmap()``.
"""

from __future__ import annotations

from vswap._mypyc import trait
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import TASK_PAGES, MmStruct, Task, Vma


@trait
class MmapMixin(MachineBase):
    """Address-space operations of :class:`~vswap.mm.machine.Machine`."""

    def mmap(self, task: Task, length: int, addr: int | None = None) -> int:
        """Map ``length`` bytes of anonymous private memory; returns the address.

        Raises:
            KernelError(EINVAL): length 0 or not page-aligned address, or ``addr`` given and the
                range overlaps an existing mapping or leaves the user address space (no state
                changed).
        """
        self._check_alive(task)
        if length <= 0:
            raise KernelError(Errno.EINVAL, f"mmap: bad length {length}")
        nr = (length + PAGE_SIZE - 1) >> PAGE_SHIFT
        mm = task.mm
        if addr is None:
            start = mm.get_unmapped_area(nr)
        else:
            if addr % PAGE_SIZE:
                raise KernelError(Errno.EINVAL, f"mmap: address {addr:#x} not page aligned")
            start = addr >> PAGE_SHIFT
            if start + nr > TASK_PAGES or start <= 0:
                raise KernelError(Errno.EINVAL, f"mmap: {addr:#x}+{length:#x} outside the "
                                                f"user address space")
            other = mm.overlaps(start, start + nr)
            if other is not None:
                raise KernelError(Errno.EINVAL,
                                  f"mmap: {addr:#x}+{length:#x} overlaps the mapping "
                                  f"{other.start << PAGE_SHIFT:#x}-{other.end << PAGE_SHIFT:#x}")
        mm.insert_vma(Vma(start, start + nr))
        return start << PAGE_SHIFT

    def _range(self, addr: int, length: int, what: str) -> tuple[int, int]:
        if addr % PAGE_SIZE or length <= 0:
            raise KernelError(Errno.EINVAL, f"{what}: bad range {addr:#x}+{length:#x}")
        start = addr >> PAGE_SHIFT
        return start, start + ((length + PAGE_SIZE - 1) >> PAGE_SHIFT)

    def munmap(self, task: Task, addr: int, length: int) -> None:
        """Unmap ``[addr, addr+length)``: zap its pages and swap, split and drop the VMAs."""
        self._check_alive(task)
        start, end = self._range(addr, length, "munmap")
        self.op_begin(task)
        try:
            mm = task.mm
            inside = mm.split_vmas(start, end)
            for vma in inside:
                self.zap_pte_range(mm, vma.start, vma.end)
            mm.remove_vmas(inside)
            mm.free_pgtables(start, end)
        finally:
            self.op_end()

    def exit_mmap(self, mm: MmStruct) -> None:
        """Models: ``exit_mmap()``: zap every VMA, free the page tables, forget the mm."""
        for vma in mm.vmas:
            self.zap_pte_range(mm, vma.start, vma.end)
        mm.vmas = []
        mm.vma_starts = []
        mm.tables.clear()
        self.mms.pop(mm.id, None)
        self.mmlist.pop(mm.id, None)
