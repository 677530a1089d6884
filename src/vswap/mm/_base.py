"""The typed base shared by :class:`~vswap.mm.machine.Machine` and its mixins.

Not a kernel file: the kernel's mm/ functions all see one global state (``struct pglist_data``,
``current``, the swap API), which the model keeps on one :class:`Machine` split over one mixin
per kernel file (:mod:`vswap.mm.memory`, :mod:`vswap.mm.swap_state`, :mod:`vswap.mm.swapfile`,
:mod:`vswap.mm.madvise`, :mod:`vswap.mm.mmap`, :mod:`vswap.mm.page_alloc`,
:mod:`vswap.mm.vmscan`, :mod:`vswap.mm.rmap`, :mod:`vswap.mm.oom`, :mod:`vswap.mm.huge_memory`,
:mod:`vswap.mm.memcg_files`, :mod:`vswap.mm.knobs`, :mod:`vswap.mm.procfs`,
:mod:`vswap.mm.shmem`).
:class:`MachineBase` is what the mixins have in common, so that each is type-checked as a
class of its own (mypy rejects ``self: Machine`` on a mixin Machine inherits from): it
declares

* the machine state the mixins read and write (assigned by ``Machine.__init__``), and
* as abstract methods, the operations one mixin calls that :class:`Machine` or another
  mixin implements (with the same signatures, which mypy checks against the
  implementations; instantiating a :class:`Machine` missing one fails).

It holds no state and no behaviour of its own. Why not a ``Protocol`` self type: every mixin
method would then see only the protocol, so the protocol would have to repeat nearly every
method of every mixin; the base repeats only the cross-file calls.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar

from vswap._mypyc import trait

if TYPE_CHECKING:
    from vswap.kernel.faults import FaultInjector
    from vswap.kernel.folio import Folio
    from vswap.kernel.memcontrol import MemCgroup, MemCgroupTree
    from vswap.kernel.tracing import KernelTracer
    from vswap.kernel.types import SwpEntry
    from vswap.kernel.vmstat import VmStat
    from vswap.mm.huge_memory import ThpSettings
    from vswap.mm.integrity import PageOracle
    from vswap.mm.machine import MachineConfig
    from vswap.mm.migrate import CompactMemoryResult
    from vswap.mm.mm_types import MmStruct, Signal, Task, Vma
    from vswap.mm.vmscan import ExactReclaim, Lruvec, ScanControl
    from vswap.swap import SwapHooks
    from vswap.swap._base import SwapDesignBase
    from vswap.swap.compaction import CompactResult
    from vswap.zswap.zswap import Zswap


@trait
class MachineBase(abc.ABC):
    """State and cross-mixin operations of a :class:`~vswap.mm.machine.Machine`."""

    # -- state (see Machine.__init__) -----------------------------------------------------
    config: MachineConfig
    #: RAM: total pages, pages held by folios, anonymous pages mapped; the watermarks.
    nr_pages: int
    nr_used_pages: int
    nr_anon_mapped: int
    wmark_min: int
    wmark_low: int
    wmark_high: int
    vmstat: VmStat
    memcgs: MemCgroupTree
    lruvecs: dict[int, Lruvec]
    tasks: dict[int, Task]
    mms: dict[int, MmStruct]
    mmlist: dict[int, MmStruct]
    #: The task doing the current operation (``current``); None outside one or in kswapd.
    current: Task | None
    # Tunables (vm.swappiness, vm.page-cluster, vma_ra_enabled, skip-swapcache devices).
    swappiness: int
    page_cluster: int
    vma_ra_enabled: bool
    skip_swapcache_enabled: bool
    # Readahead state (swap_ra_info, the cluster readahead window, swap-in failures).
    swapin_readahead_hits: int
    cluster_ra_prev: int
    cluster_ra_win: int
    swapin_fail_streak: int
    # Reclaim and OOM.
    kswapd_pending: bool
    kswapd_failures: int
    stats_allocstall: int
    nr_swapout_pages: int
    oom_log: list[tuple[str, int, str]]
    # Transparent huge pages.
    HPAGE_PMD_ORDER: ClassVar[int]
    thp: ThpSettings
    thp_any_enabled: bool
    #: The deferred split queue (``ds_queue``): partially mapped large anon folios, in
    #: queueing order (a dict used as an ordered set).
    deferred_split_queue: dict[Folio, None]
    #: Large folios split while in the swap cache (model count, for reports).
    thp_split_swapcache: int
    #: ``/proc/sys/vm/drop_caches``: the last value written (0: never).
    drop_caches: int
    #: Every ``compact_memory`` pass (``/proc/sys/vm/compact_memory``), in order.
    compactions: list[CompactMemoryResult]
    mixed_thp_swapin: bool
    #: Every swapfile compaction run (``/sys/kernel/mm/swap/compact``), in order.
    swap_compactions: list[CompactResult]
    # The swap layer and what it calls back; zswap (None when not configured).
    oracle: PageOracle
    hook_mode: str
    _memalloc: int
    #: A signal is pending for the task running swapoff (until the syscall returns).
    _signal: bool
    hooks: SwapHooks
    design: SwapDesignBase
    zswap: Zswap | None
    faults: FaultInjector
    tracer: KernelTracer
    #: ``--reclaim lru|fifo|clock`` (vmscan.py); None under the kernel's LRU.
    exact_reclaim: ExactReclaim | None
    #: ``/sys/kernel/mm/transparent_hugepage/shmem_enabled``, ``NR_SHMEM`` and
    #: ``NR_SHMEM_THPS`` in pages (vswap.mm.shmem).
    shmem_enabled: str
    nr_shmem: int
    nr_shmem_hugepages: int

    # -- implemented by Machine ------------------------------------------------------------
    @abc.abstractmethod
    def nr_free_pages(self) -> int: ...

    @abc.abstractmethod
    def nr_swapcached(self) -> int: ...

    @abc.abstractmethod
    def total_swap_pages(self) -> int: ...

    @abc.abstractmethod
    def alloc_folio(self, order: int, memcg: MemCgroup, task: Task | None, *,
                    may_reclaim: bool) -> Folio | None: ...

    @abc.abstractmethod
    def charge_prepare(self, memcg: MemCgroup, nr: int, task: Task | None) -> None: ...

    @abc.abstractmethod
    def free_folio(self, folio: Folio) -> None: ...

    @abc.abstractmethod
    def maybe_free_folio(self, folio: Folio) -> None: ...

    @abc.abstractmethod
    def reap_folios(self) -> None: ...

    @abc.abstractmethod
    def add_to_swap(self, folio: Folio) -> bool: ...

    @abc.abstractmethod
    def oracle_record_folio(self, folio: Folio) -> None: ...

    @abc.abstractmethod
    def oracle_verify(self, folio: Folio, idx: int, entry: SwpEntry, task: Task | None,
                      vpn: int, path: str) -> None: ...

    @abc.abstractmethod
    def swap_full_for(self, folio: Folio) -> bool: ...

    @abc.abstractmethod
    def can_reclaim_anon_pages(self, memcg: MemCgroup, sc: ScanControl) -> bool: ...

    @abc.abstractmethod
    def count_event(self, name: str, nr: int, memcg_id: int) -> None: ...

    @abc.abstractmethod
    def op_begin(self, task: Task | None) -> None: ...

    @abc.abstractmethod
    def op_end(self) -> None: ...

    @abc.abstractmethod
    def kill_task(self, task: Task, signal: Signal, reason: str, *,
                  raise_: bool = True) -> None: ...

    @abc.abstractmethod
    def raise_killed(self, task: Task) -> None: ...

    @abc.abstractmethod
    def mem_cgroup_charge(self, memcg: MemCgroup, nr: int, task: Task | None, *,
                          may_reclaim: bool = True, charge: bool = True) -> bool: ...

    @abc.abstractmethod
    def _check_alive(self, task: Task) -> None: ...

    # -- implemented by FaultMixin (vswap.mm.memory) ----------------------------------------
    @abc.abstractmethod
    def zap_pte_range(self, mm: MmStruct, start: int, end: int) -> None: ...

    # -- implemented by SwapStateMixin (vswap.mm.swap_state) --------------------------------
    @abc.abstractmethod
    def get_shadow(self, entry: SwpEntry) -> int | None: ...

    @abc.abstractmethod
    def swapin_readahead(self, entry: SwpEntry, task: Task | None, vma: Vma,
                         vpn: int, mm: MmStruct | None = None) -> Folio | None: ...

    @abc.abstractmethod
    def swap_update_readahead(self, folio: Folio, vma: Vma | None, vpn: int) -> None: ...

    @abc.abstractmethod
    def swap_cluster_readahead(self, entry: SwpEntry, task: Task | None, vpn: int) -> None: ...

    @abc.abstractmethod
    def swapin_one(self, entry: SwpEntry, task: Task | None, vpn: int,
                   readahead: bool | None) -> Folio | None: ...

    @abc.abstractmethod
    def read_path_snapshot(self) -> tuple[int, int, int]: ...

    @abc.abstractmethod
    def read_path_since(self, before: tuple[int, int, int]) -> str: ...

    # -- implemented by SwapfileMixin (vswap.mm.swapfile) -----------------------------------
    @abc.abstractmethod
    def signal_pending(self) -> bool: ...

    # -- implemented by MmapMixin (vswap.mm.mmap) -------------------------------------------
    @abc.abstractmethod
    def _range(self, addr: int, length: int, what: str) -> tuple[int, int]: ...

    # -- implemented by VmscanMixin (vswap.mm.vmscan) ---------------------------------------
    @abc.abstractmethod
    def folio_add_lru(self, folio: Folio) -> None: ...

    @abc.abstractmethod
    def folio_del_lru(self, folio: Folio) -> None: ...

    @abc.abstractmethod
    def workingset_refault(self, folio: Folio, shadow: int) -> None: ...

    @abc.abstractmethod
    def folio_putback_lru(self, folio: Folio) -> None: ...

    @abc.abstractmethod
    def _activate_locked(self, folio: Folio) -> None: ...

    # -- implemented by ShmemMixin (vswap.mm.shmem) -----------------------------------------
    @abc.abstractmethod
    def shmem_writeout(self, folio: Folio, folios: list[Folio]) -> bool: ...

    @abc.abstractmethod
    def shmem_memcg_pages(self, ids: set[int]) -> int: ...

    @abc.abstractmethod
    def shmem_memcg_thp_pages(self, ids: set[int]) -> int: ...

    @abc.abstractmethod
    def reclaim_pages(self, folios: list[Folio]) -> int: ...

    @abc.abstractmethod
    def try_to_free_pages(self, nr_pages: int) -> int: ...

    @abc.abstractmethod
    def try_to_free_mem_cgroup_pages(self, memcg: MemCgroup, nr_pages: int, *,
                                     swappiness: int | None = None,
                                     proactive: bool = False) -> int: ...

    # -- implemented by RmapMixin (vswap.mm.rmap) -------------------------------------------
    @abc.abstractmethod
    def folio_add_rmap_pte(self, folio: Folio, mm: MmStruct, vpn: int) -> None: ...

    @abc.abstractmethod
    def folio_remove_rmap_pte(self, folio: Folio, mm: MmStruct, vpn: int) -> None: ...

    @abc.abstractmethod
    def folio_referenced(self, folio: Folio) -> int: ...

    @abc.abstractmethod
    def folio_partially_mapped(self, folio: Folio) -> bool: ...

    @abc.abstractmethod
    def try_to_unmap(self, folio: Folio) -> bool: ...

    # -- implemented by OomMixin (vswap.mm.oom) ---------------------------------------------
    @abc.abstractmethod
    def out_of_memory(self, memcg: MemCgroup | None, reason: str) -> Task | None: ...

    # -- implemented by HugeMemoryMixin (vswap.mm.huge_memory) ------------------------------
    @abc.abstractmethod
    def swapin_mixed_thp(self, task: Task, vma: Vma, vpn: int, entry: SwpEntry, write: bool,
                         memcg: MemCgroup) -> bool | None: ...

    @abc.abstractmethod
    def thp_orders_for(self, vma: Vma) -> list[int]: ...

    @abc.abstractmethod
    def count_mthp_stat(self, order: int, name: str) -> None: ...

    @abc.abstractmethod
    def split_folio_isolated(self, folio: Folio) -> list[Folio]: ...

    @abc.abstractmethod
    def split_huge_page(self, folio: Folio) -> bool: ...

    @abc.abstractmethod
    def deferred_split_folio(self, folio: Folio) -> None: ...

    @abc.abstractmethod
    def deferred_split_count(self, memcg_id: int) -> int: ...

    @abc.abstractmethod
    def deferred_split_scan(self, memcg_id: int, nr_to_scan: int) -> int: ...

    @abc.abstractmethod
    def drop_slab(self) -> int: ...

    # -- implemented by MigrateMixin (vswap.mm.migrate) ------------------------------------
    @abc.abstractmethod
    def compact_memory(self) -> CompactMemoryResult: ...
