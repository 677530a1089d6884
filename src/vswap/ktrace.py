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
protocol, extending :class:`vswap.sim.instrument.Instrument`.

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

from collections.abc import Hashable

from vswap.sim.instrument import Instrument, hook

__all__ = ["NULL_TRACER", "KernelTracer"]


class KernelTracer(Instrument):
    """The kernel-step hooks, each a no-op until overridden. Every hook is one step.

    Arguments are plain values (names, ints, hashable lock instances); a hook never
    changes model state.
    """

    # -- mm ----------------------------------------------------------------------------------
    @hook
    def fault(self) -> None:
        """``handle_mm_fault`` entered (exception entry/exit, PTE update)."""

    @hook
    def folio_alloc(self, nr: int, zeroed: bool) -> None:
        """A folio of ``nr`` pages was allocated and charged (cleared if ``zeroed``)."""

    @hook
    def folio_free(self, nr: int) -> None:
        """A folio of ``nr`` pages was freed and uncharged."""

    @hook
    def page_copy(self, nr: int) -> None:
        """``nr`` pages were copied (COW)."""

    @hook
    def reclaim_scan(self, nr: int) -> None:
        """Reclaim looked at a folio of ``nr`` pages (isolate, ``folio_referenced``)."""

    @hook
    def unmap(self, nr_ptes: int) -> None:
        """``try_to_unmap`` replaced ``nr_ptes`` PTEs by swap entries (rmap walk, TLB flush)."""

    @hook
    def pte_zap(self, nr_ptes: int) -> None:
        """``zap_pte_range`` cleared ``nr_ptes`` PTEs (present or swap)."""

    @hook
    def pte_walk(self, nr_ptes: int) -> None:
        """The classic swapoff walk visited ``nr_ptes`` PTEs."""

    @hook
    def io_wait(self) -> None:
        """The task now needs the data of the reads it submitted (``folio_lock`` on a
        folio under read)."""

    # -- swap --------------------------------------------------------------------------------
    @hook
    def lock_step(self, lock_class: str, instance: Hashable, cost: str) -> None:
        """One critical section: lock ``lock_class[instance]`` for the cost table's
        ``cost`` (an entry name)."""

    @hook
    def swap_cache_lookup(self) -> None:
        """A lockless (RCU) swap-cache lookup."""

    @hook
    def desc_lookup(self) -> None:
        """A lockless (RCU) lookup of a virtual swap descriptor (``vswap_map``)."""

    @hook
    def zero_check(self, nr: int) -> None:
        """``swap_writepage`` tested ``nr`` pages for all-zero content."""

    @hook
    def device_io(self, device: str, op: str, nbytes: int) -> None:
        """A read or write of ``nbytes`` was submitted to swap device ``device``."""

    # -- zswap -------------------------------------------------------------------------------
    @hook
    def compress(self, algo: str, nbytes: int) -> None:
        """zswap compressed ``nbytes`` with ``algo`` and allocated the object."""

    @hook
    def decompress(self, algo: str, nbytes: int) -> None:
        """zswap decompressed to ``nbytes`` with ``algo``."""

    @hook
    def zpool_free(self) -> None:
        """zswap freed one compressed object (``zs_free``)."""


#: The tracer every layer uses when nothing is timing it.
NULL_TRACER = KernelTracer()
