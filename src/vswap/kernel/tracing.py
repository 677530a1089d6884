"""Kernel-step hooks: what the memory manager, the swap designs and zswap did, for timing.

Models: nothing in the kernel; it is the observation side of "execute, then charge"
(docs/run.md). The memory manager (``vswap.mm``), the swap designs (``vswap.swap``) and
zswap call one :class:`KernelTracer` at the points where the kernel does costed work: a
fault, a reclaim scan, an unmap, a swap-cache insert or delete (naming the address space,
i.e. the lock), a slot allocation (naming the cluster or the ``vswap_map`` partition), a
descriptor lookup, a zswap tree operation (naming the tree), a compression, a device I/O,
the point where a task waits for its reads. The default tracer, :data:`NULL_TRACER`, does
nothing: every layer holds it in a class attribute ``tracer`` until a timed run sets an
instance attribute, so untimed use (tests, the mm model on its own) pays one no-op call per
step. Nothing is monkey-patched (STYLE point 10); the hooks are a Trio-style instrument
protocol of their own (the engine's :class:`vswap.sim.instrument.Instrument` observes the
engine; this one observes the kernel, and ``kernel/`` depends on nothing).

A critical section names the cost-table entry of the work done under it with a
:class:`Cost` member (never a string): each step charges its own entry, and
``tests/unit/run/test_run_charge.py`` checks that every member names an entry of
:class:`vswap.sim.costs.CostTable`.

The timed runner's recorder (:class:`vswap.run.charge.StepRecorder`) turns the hooks into a
list of steps that an engine task then charges: CPU work from the cost table, acquisitions
of the lock instances the designs name, and requests on per-device I/O queues.

Lock classes named by the hooks (instances in brackets):

================ ================================================= ======================
class            kernel lock                                       instance
================ ================================================= ======================
swap_cache       ``swapper_spaces[type][i].i_pages`` xa_lock        classic: (type, 64 MiB
                                                                    space); vswap: 0 or the
                                                                    partition
zswap_tree       ``zswap_trees[type][i]`` xa_lock                   the design's tree key
swap_cluster     ``swap_cluster_info.lock`` (``ci->lock``)           (type, cluster)
vswap_map        ``xa_lock(&vswap_map)`` (RFC allocator)            ("vswap_map", partition)
vswap_rmap       ``xa_lock(&vswap_rmap)``                            one
vswap_partition  dynamic partitioning's global lock                  one
================ ================================================= ======================
"""

from __future__ import annotations

import enum
from collections.abc import Hashable

__all__ = ["NULL_TRACER", "Cost", "KernelTracer"]


class Cost(enum.StrEnum):
    """The cost-table entry a critical section charges (``KernelTracer.lock_step``).

    Each value is the name of a :class:`vswap.sim.costs.CostTable` field.
    """

    SWAP_CACHE_INSERT = "swap_cache_insert"
    SWAP_CACHE_DELETE = "swap_cache_delete"
    SWAP_SLOT_ALLOC = "swap_slot_alloc"
    SWAP_MAP_UPDATE = "swap_map_update"
    VSWAP_SLOT_ALLOC = "vswap_slot_alloc"
    VSWAP_SLOT_FREE = "vswap_slot_free"
    VSWAP_PARTITION_ADOPT = "vswap_partition_adopt"
    VSWAP_RMAP_INSERT = "vswap_rmap_insert"
    VSWAP_RMAP_ERASE = "vswap_rmap_erase"
    ZSWAP_TREE_UPDATE = "zswap_tree_update"


class KernelTracer:
    """The kernel-step hooks, each a no-op until overridden. Every hook is one step.

    Arguments are plain values (names, ints, hashable lock instances); a hook never
    changes model state.
    """

    # -- mm ----------------------------------------------------------------------------------
    def fault(self) -> None:
        """``handle_mm_fault`` entered (exception entry/exit, PTE update)."""

    def folio_alloc(self, nr: int, zeroed: bool) -> None:
        """A folio of ``nr`` pages was allocated and charged (cleared if ``zeroed``)."""

    def folio_free(self, nr: int) -> None:
        """A folio of ``nr`` pages was freed and uncharged."""

    def page_copy(self, nr: int) -> None:
        """``nr`` pages were copied (COW)."""

    def reclaim_scan(self, nr: int) -> None:
        """Reclaim looked at a folio of ``nr`` pages (isolate, ``folio_referenced``)."""

    def unmap(self, nr_ptes: int) -> None:
        """``try_to_unmap`` replaced ``nr_ptes`` PTEs by swap entries (rmap walk, TLB flush)."""

    def pte_zap(self, nr_ptes: int) -> None:
        """``zap_pte_range`` cleared ``nr_ptes`` PTEs (present or swap)."""

    def pte_walk(self, nr_ptes: int) -> None:
        """A page-table walk (classic swapoff's, ``shmem_unuse``'s, ``UFFDIO_MOVE``'s) visited
        ``nr_ptes`` PTEs."""

    def io_wait(self) -> None:
        """The task now needs the data of the reads it submitted (``folio_lock`` on a
        folio under read)."""

    # -- swap --------------------------------------------------------------------------------
    def lock_step(self, lock_class: str, instance: Hashable, cost: Cost) -> None:
        """One critical section: lock ``lock_class[instance]`` for the cost table's entry
        ``cost``."""

    def swap_cache_lookup(self) -> None:
        """A lockless (RCU) swap-cache lookup."""

    def desc_lookup(self) -> None:
        """A lockless (RCU) lookup of a virtual swap descriptor (``vswap_map``)."""

    def zero_check(self, nr: int) -> None:
        """``swap_writepage`` tested ``nr`` pages for all-zero content."""

    def device_io(self, device: str, op: str, nbytes: int, offset: int = -1) -> None:
        """A bio reading or writing ``nbytes`` at page ``offset`` of swap device ``device``
        was submitted (``submit_bio``); ``offset`` -1: not known, never merged."""

    def blk_start_plug(self) -> None:
        """``blk_start_plug()``: bios submitted until the matching :meth:`blk_finish_plug`
        are held and merged into requests (nested plugs are part of the outermost one)."""

    def blk_finish_plug(self) -> None:
        """``blk_finish_plug()``: the outermost plug dispatches its requests."""

    # -- zswap -------------------------------------------------------------------------------
    def compress(self, algo: str, nbytes: int, poor: bool = False) -> None:
        """zswap (or zram) compressed ``nbytes`` with ``algo`` and allocated the object;
        ``poor``: the output was no smaller than the page (incompressible input)."""

    def decompress(self, algo: str, nbytes: int) -> None:
        """zswap decompressed to ``nbytes`` with ``algo``."""

    def zpool_free(self) -> None:
        """zswap freed one compressed object (``zs_free``)."""


#: The tracer every layer uses when nothing is timing it.
NULL_TRACER = KernelTracer()
