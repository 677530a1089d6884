"""A machine: RAM with watermarks, memory cgroups, tasks, one swap design, zswap, devices.

The memory-manager model's entry point. A workload creates tasks (:meth:`Machine.spawn`,
:meth:`Machine.fork`, :meth:`Machine.clone_thread`), maps memory (:meth:`Machine.mmap`),
writes and reads bytes (:meth:`Machine.write`, :meth:`Machine.read`), advises
(:meth:`Machine.madvise`), exits (:meth:`Machine.exit`), sets cgroup knobs
(:meth:`Machine.cgroup_write`), swaps devices on and off, and reads the kernel's views
(:meth:`Machine.proc_meminfo`, :meth:`Machine.proc_vmstat`, :meth:`Machine.proc_swaps`,
:meth:`Machine.cgroup_read`). Everything below that goes through the kernel-named functions
of :mod:`vswap.mm.memory`, :mod:`vswap.mm.vmscan`, :mod:`vswap.mm.rmap`,
:mod:`vswap.mm.oom` and the swap API; the swap design is created by name through
:func:`vswap.swap.create_design` with the :class:`~vswap.swap.SwapHooks` this class provides.

Memory accounting: every folio the model allocates is charged to a memcg (bytes, hierarchical)
and counted against RAM (``nr_used_pages``); zswap's pool pages count against RAM too. A
folio is freed when no PTE maps it, it is not in the swap cache and nothing pins it (the
model's ``folio_put`` reaching zero). Folios that leave the swap cache inside the swap layer
(``free_swap_and_cache_nr``, ``__try_to_reclaim_swap`` on a full device, swapoff) arrive
through ``SwapHooks.swapcache_folio_deleted`` and are freed at the next safe point
(:meth:`Machine.reap_folios`); swap-in folios the layer drops unused come back through
``SwapHooks.release_swapin_folio`` and are freed at once.

Operations are synchronous: kswapd and ``memory.high`` reclaim run at the end of the
operation that woke them (the return to user space).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vswap.errors import ConfigError
from vswap.kernel import pagedata
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.faults import NO_FAULTS, FaultInjector
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MAX, MemCgroup, MemCgroupTree
from vswap.kernel.tracing import NULL_TRACER, KernelTracer
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE, SwpEntry
from vswap.kernel.vmstat import VM_EVENTS
from vswap.mm.checks import check_folio_free
from vswap.mm.hibernate import HibernateMixin
from vswap.mm.huge_memory import HugeMemoryMixin, ThpSettings
from vswap.mm.integrity import PageOracle
from vswap.mm.knobs import KnobsMixin
from vswap.mm.madvise import (
    MADV_DONTNEED,
    MADV_HUGEPAGE,
    MADV_NOHUGEPAGE,
    MADV_PAGEOUT,
    MadviseMixin,
)
from vswap.mm.memcg_files import MemcgFilesMixin
from vswap.mm.memory import FaultMixin
from vswap.mm.migrate import MigrateMixin
from vswap.mm.mm_types import (
    PTE_PRESENT,
    PTE_TABLE_MASK,
    PTE_TABLE_SHIFT,
    PTE_WRITE,
    PTE_YOUNG,
    MmStruct,
    Signal,
    Task,
    TaskKilled,
    Vma,
)
from vswap.mm.mmap import MmapMixin
from vswap.mm.oom import OomMixin
from vswap.mm.page_alloc import PageAllocMixin
from vswap.mm.procfs import ProcfsMixin
from vswap.mm.rmap import RmapMixin
from vswap.mm.shmem import ShmemMixin
from vswap.mm.swap_state import SwapStateMixin
from vswap.mm.swapfile import SwapfileMixin
from vswap.mm.userfaultfd import UserfaultfdMixin
from vswap.mm.vmscan import MAX_RECLAIM_RETRIES, Lruvec, ScanControl, VmscanMixin
from vswap.swap import SwapHooks, create_design
from vswap.swap._base import SwapDesignBase

if TYPE_CHECKING:
    pass

__all__ = ["MADV_DONTNEED", "MADV_HUGEPAGE", "MADV_NOHUGEPAGE", "MADV_PAGEOUT", "Machine",
           "MachineConfig"]


@dataclass(kw_only=True)
class MachineConfig:
    """How to build a :class:`Machine`. Sizes in bytes.

    * ``ram``: total RAM (``MemTotal``).
    * ``design``: swap design name (``vswap.swap.DESIGNS``); ``design_options`` go to it.
    * ``zswap``: create zswap; ``zswap_params``: its module parameters
      (:class:`vswap.zswap.zswap.ZswapParams` fields, e.g. ``compressor="lz4"``).
    * ``swappiness`` (``vm.swappiness``, 60), ``page_cluster`` (``vm.page-cluster``, 3),
      ``vma_ra_enabled`` (``/sys/kernel/mm/swap/vma_ra_enabled``, true).
    * ``skip_swapcache``: memory swap devices are ``SWP_SYNCHRONOUS_IO`` (zram-like).
    * ``verify``: check every page read back against the integrity oracle.
    * ``faults``: a :class:`vswap.kernel.faults.FaultInjector` (None: no faults), installed in the
      design, its devices and zswap; the machine consults it at ``swapoff_eintr`` and
      ``swapoff_enomem``.
    * ``min_free_kbytes``: None computes the kernel's default, ``sqrt(16 * RAM in kB)``
      clamped to 128..262144.
    * ``page_data``: ``full`` (pages hold their bytes) or ``compact`` (an 8-byte descriptor
      per page, :mod:`vswap.kernel.pagedata`); process-wide, set when the machine is built.
    * ``cgroup_version``: 2 (default) or 1, the memory controller's hierarchy
      (:class:`vswap.kernel.memcontrol.MemCgroupTree`: on v1 zswap is not charged to
      cgroups, as ``obj_cgroup_charge_zswap()`` does there).
    """

    ram: int = 64 << 20
    design: str = "classic"
    design_options: dict[str, Any] = field(default_factory=dict)
    zswap: bool = False
    zswap_params: dict[str, Any] = field(default_factory=dict)
    swappiness: int = 60
    page_cluster: int = 3
    vma_ra_enabled: bool = True
    skip_swapcache: bool = True
    verify: bool = True
    faults: FaultInjector | None = None
    min_free_kbytes: int | None = None
    watermark_scale_factor: int = 10
    nr_cpus: int = 1
    page_data: str = "full"
    cgroup_version: int = 2


class Machine(FaultMixin, SwapStateMixin, SwapfileMixin, MadviseMixin, MmapMixin, PageAllocMixin,
              VmscanMixin, RmapMixin, OomMixin, HugeMemoryMixin, MemcgFilesMixin, KnobsMixin,
              ProcfsMixin, ShmemMixin, MigrateMixin, HibernateMixin, UserfaultfdMixin):
    """One simulated machine. See the module docstring for the public API.

    The mixins, one per kernel file: :mod:`vswap.mm.memory` (faults, COW, fork, zap),
    :mod:`vswap.mm.swap_state` (readahead), :mod:`vswap.mm.swapfile` (swapon, swapoff and its
    PTE walk), :mod:`vswap.mm.madvise`, :mod:`vswap.mm.mmap` (mmap, munmap, exit_mmap),
    :mod:`vswap.mm.page_alloc` (watermarks, allocation), :mod:`vswap.mm.vmscan`,
    :mod:`vswap.mm.rmap`, :mod:`vswap.mm.oom`, :mod:`vswap.mm.huge_memory`,
    :mod:`vswap.mm.memcg_files`, :mod:`vswap.mm.knobs` (sysctl/sysfs),
    :mod:`vswap.mm.procfs`, :mod:`vswap.mm.shmem` (tmpfs), :mod:`vswap.mm.hibernate`
    (hibernation to swap) and :mod:`vswap.mm.userfaultfd` (``UFFDIO_MOVE``); their shared
    state is declared
    in :mod:`vswap.mm._base`.
    """

    def __init__(self, config: MachineConfig | None = None, *,
                 tracer: KernelTracer = NULL_TRACER, **kwargs: Any) -> None:
        if config is None:
            config = MachineConfig(**kwargs)
        elif kwargs:
            raise ConfigError("Machine: give a MachineConfig or keyword arguments, not both")
        self.config = config
        if config.ram < 16 * PAGE_SIZE or config.ram % PAGE_SIZE:
            raise ConfigError(f"Machine: ram={config.ram} is not a whole number of pages >= 16")
        pagedata.set_mode(config.page_data)
        pagedata.reset()
        #: Compact page data: folios hold one 8-byte token per page (vswap.kernel.pagedata).
        self.compact = pagedata.PAGE_DATA.compact
        self.nr_pages = config.ram // PAGE_SIZE
        self._init_watermarks(config)
        self.nr_used_pages = 0
        self.nr_anon_mapped = 0
        #: The kernel's globals, shared by the design, its devices and swap cache, and
        #: zswap: counters, cgroups, the tracer (a timed run's recorder), the fault injector.
        self.env = KernelEnv(faults=config.faults if config.faults is not None else NO_FAULTS,
                             tracer=tracer, memcgs=MemCgroupTree(config.cgroup_version))
        self.tracer = tracer
        self.faults = self.env.faults
        self.vmstat = self.env.vmstat
        self.memcgs = self.env.memcgs
        self.lruvecs: dict[int, Lruvec] = {}
        self._add_lruvec(self.memcgs.root)
        self.tasks: dict[int, Task] = {}
        self.mms: dict[int, MmStruct] = {}
        #: ``init_mm.mmlist``: the address spaces that have had a swap PTE (try_to_unmap
        #: installed one, or fork copied one), in the order they joined; swapoff's walk
        #: visits only these, the newest first. An mm leaves it when it is torn down.
        self.mmlist: dict[int, MmStruct] = {}
        self._next_pid = 1
        self._next_mm = 1
        self.current: Task | None = None
        self.swappiness = config.swappiness
        self.page_cluster = config.page_cluster
        self.vma_ra_enabled = config.vma_ra_enabled
        self.swap_compactions = []
        self.skip_swapcache_enabled = config.skip_swapcache
        self.swapin_readahead_hits = 0
        self.cluster_ra_prev = 0
        self.cluster_ra_win = 0
        self.swapin_fail_streak = 0
        self.kswapd_failures = 0
        self.stats_allocstall = 0
        #: Pages written out by pageout (to a device, zswap or the zero map): the swap-outs
        #: that pswpout + zswpout + swpout_zero must add up to when nothing was written back.
        self.nr_swapout_pages = 0
        self.oom_log: list[tuple[str, int, str]] = []
        self.thp = ThpSettings()
        self.thp_any_enabled = False
        self.deferred_split_queue = {}
        self.thp_split_swapcache = 0
        self.drop_caches = 0
        self.compactions = []
        self.oracle = PageOracle(config.verify)
        self.hook_mode = "fault"
        self._memalloc = 0
        self._depth = 0
        self._reap: list[Folio] = []
        self._shmem_init()
        self._uffd_init()
        self.hooks = SwapHooks(alloc_swapin_folio=self._hook_alloc_swapin_folio,
                               swapin_folio_added=self._hook_swapin_folio_added,
                               unuse_ptes=self.unuse_ptes,
                               remap_swap_ptes=self.remap_swap_ptes,
                               shmem_unuse=self.shmem_unuse,
                               move_swap_ptes=self.move_swap_ptes,
                               folio_mapped=lambda folio: folio.mapcount > 0,
                               swapcache_folio_deleted=self._reap.append,
                               release_swapin_folio=self._hook_release_swapin_folio)
        design = create_design(config.design, nr_cpus=config.nr_cpus, env=self.env,
                               hooks=self.hooks, **config.design_options)
        # Every design derives from SwapDesignBase: typed as that compiled class rather than
        # the SwapDesign protocol, a compiled machine calls the design's methods directly
        # instead of looking each up by name and going through its Python wrapper.
        assert isinstance(design, SwapDesignBase)
        self.design = design
        self.zswap = None
        if config.zswap:
            from vswap.zswap.zswap import ZswapParams

            self.zswap = self.design.attach_zswap(
                total_ram_pages=self.nr_pages, params=ZswapParams(**config.zswap_params))
        self._signal = False

    # -- setup helpers -------------------------------------------------------------------------
    def _add_lruvec(self, memcg: MemCgroup) -> Lruvec:
        parent = self.lruvecs.get(memcg.parent.id) if memcg.parent is not None else None
        lv = self.lruvecs[memcg.id] = Lruvec(memcg, parent)
        return lv

    # -- swap hooks ------------------------------------------------------------------------
    def _hook_alloc_swapin_folio(self, entry: SwpEntry, order: int,
                                 memcg_id: int) -> Folio | None:
        """``folio_alloc`` + ``mem_cgroup_swapin_charge_folio`` for the swap layer.

        In reclaim (``PF_MEMALLOC``: zswap writeback) the charge is forced, as the kernel
        lets reclaim's own allocations exceed the limit; during swapoff and for the
        readahead pages of a fault (``hook_mode`` ``readahead``: the allocation comes
        before the entry is pinned, as the kernel's ``mem_cgroup_swapin_charge_folio``
        reclaims for each readahead folio) a charge over the limit reclaims first; on the
        fault path otherwise (where the fault already made room for its target page) a
        page that does not fit is not read.
        """
        memcg = self.memcgs.mem_cgroup_from_id(memcg_id) if memcg_id else None
        if memcg is None or memcg.id not in self.lruvecs:
            memcg = self.memcgs.root
        nr = 1 << order
        nbytes = nr * PAGE_SIZE
        if self.hook_mode == "swapoff" and self.faults.fail("swapoff_enomem"):
            return None
        if self._memalloc:
            memcg.charge_memory(nbytes)
        else:
            over = memcg.try_charge_memory(nbytes)
            reclaims = self.hook_mode in ("swapoff", "readahead")
            if over is not None and reclaims:
                self.try_to_free_mem_cgroup_pages(over, nr)
                over = memcg.try_charge_memory(nbytes)
            if over is not None:
                return None
            if self.nr_free_pages() - nr < self.wmark_min:
                if reclaims:
                    self.try_to_free_pages(nr)
                if self.nr_free_pages() - nr < self.wmark_min:
                    memcg.uncharge_memory(nbytes)
                    return None
        folio = Folio(order, memcg_id=memcg.id)
        folio.mm_charged = nbytes
        self.tracer.folio_alloc(nr, False)
        self.nr_used_pages += nr
        return folio

    def _hook_release_swapin_folio(self, folio: Folio) -> None:
        """``folio_put`` of a swap-in folio the swap layer allocated and did not use."""
        self.maybe_free_folio(folio)

    def _hook_swapin_folio_added(self, folio: Folio, shadow: int | None) -> None:
        """``workingset_refault`` + ``folio_add_lru`` for a new swap-cache folio."""
        if shadow is not None:
            self.workingset_refault(folio, shadow)
        if folio.mm_charged and not folio.lru:
            self.folio_add_lru(folio)

    # -- memory: allocation, charging, freeing ----------------------------------------------
    def nr_swapcached(self) -> int:
        return int(self.design.swap_cache.nr_pages)

    def total_swap_pages(self) -> int:
        return int(self.design.devices.total_swap_pages)

    def mem_cgroup_charge(self, memcg: MemCgroup, nr: int, task: Task | None, *,
                          may_reclaim: bool = True, charge: bool = True) -> bool:
        """Charge ``nr`` pages to ``memcg``. Models: ``try_charge_memcg()``: on hitting a
        limit raise ``max``, reclaim in the cgroup over its limit, retry
        (MAX_RECLAIM_RETRIES without progress), then ``mem_cgroup_oom``. With
        ``charge=False`` only make room (``charge_prepare``)."""
        nbytes = nr * PAGE_SIZE
        retries = MAX_RECLAIM_RETRIES
        loops = 0
        while True:
            if charge:
                over = memcg.try_charge_memory(nbytes)
            else:
                # The first ancestor without room (the ancestors() walk, without a generator:
                # this runs before every swap-in).
                over = memcg
                while over is not None:
                    mc = over.memory
                    if mc.usage + nbytes > mc.max:
                        break
                    over = over.parent
            if over is None:
                break
            over.memcg_memory_event("max")
            if not may_reclaim:
                return False
            got = self.try_to_free_mem_cgroup_pages(over, nr)
            loops += 1
            if over.memory.max - over.memory.usage >= nbytes:
                continue
            if got and loops < 1000:
                continue
            retries -= 1
            if retries > 0:
                continue
            if self.out_of_memory(over, f"memory.max of {over.path}") is None:
                if task is not None:
                    self.kill_task(task, Signal.SIGKILL,
                                   f"out of memory in {over.path}, nothing to kill")
                return False
            retries = MAX_RECLAIM_RETRIES
        return True

    def charge_prepare(self, memcg: MemCgroup, nr: int, task: Task | None) -> None:
        """Make room for ``nr`` pages in ``memcg`` and in RAM before a swap-in (whose folio
        the swap layer allocates through the hook, which must not reclaim)."""
        self.alloc_pages_prepare(nr, task, True)
        self.mem_cgroup_charge(memcg, nr, task, charge=False)

    def free_folio(self, folio: Folio) -> None:
        """Free a folio: off the LRU, uncharged, its pages back to RAM (``free_folio``)."""
        if not folio.mm_charged:
            return
        if (folio.locked or folio.writeback or folio.swapcache or folio.mapcount
                or folio.mm_pins):
            # Only a bug's free gets here: check_folio_free (mm/checks.py, left plain
            # Python) is not called on every clean free.
            check_folio_free(folio)
        if folio.order:
            self.deferred_split_queue.pop(folio, None)
        if folio.lru:
            self.folio_del_lru(folio)
        memcg = self.memcgs.mem_cgroup_from_id(folio.memcg_id)
        if memcg is not None:
            memcg.memory.uncharge(folio.mm_charged)
        nr = folio.nr_pages
        self.nr_used_pages -= nr
        self.tracer.folio_free(nr)
        folio.mm_charged = 0

    def maybe_free_folio(self, folio: Folio) -> None:
        """``folio_put`` reaching zero: free an unmapped, unpinned folio not in the cache."""
        if (folio.mm_charged and not folio.mapcount and not folio.swapcache
                and not folio.mm_pins):
            self.free_folio(folio)

    def reap_folios(self) -> None:
        """Free the folios the swap layer dropped from its cache that nothing else holds."""
        reap = self._reap
        while reap:
            folio = reap.pop()
            self.maybe_free_folio(folio)

    def add_to_swap(self, folio: Folio) -> bool:
        """``add_to_swap`` through the design, recording the folio in the integrity oracle."""
        if not self.design.add_to_swap(folio):
            return False
        self.oracle_record_folio(folio)
        return True

    def oracle_record_folio(self, folio: Folio) -> None:
        self.oracle.record_folio(folio)
        folio.mm_written = False

    def oracle_verify(self, folio: Folio, idx: int, entry: SwpEntry, task: Task | None,
                      vpn: int, path: str) -> None:
        self.oracle.verify(folio, idx, entry, task, vpn, path)

    def swap_full_for(self, folio: Folio) -> bool:
        """``mem_cgroup_swap_full()`` (``vm_swap_full()`` or a cgroup's swap half used)."""
        return self.design.memcg_swap_full(folio)

    def can_reclaim_anon_pages(self, memcg: MemCgroup, sc: ScanControl) -> bool:
        """Models: ``can_reclaim_anon_pages()``: swap space this cgroup may still use
        (the design's ``mem_cgroup_get_nr_swap_pages``; under the virtual design unlimited
        while zswap can take pages)."""
        return self.design.mem_cgroup_get_nr_swap_pages(memcg) > 0

    def count_event(self, name: str, nr: int, memcg_id: int) -> None:
        """A vm event, global and (if ``memcg_id``) for that cgroup."""
        if not nr:
            return
        if name not in VM_EVENTS:  # VmStat.count_vm_events(), inlined
            raise KeyError(f"undeclared vm event {name!r}")
        self.vmstat[name] += nr
        if memcg_id:
            lv = self.lruvecs.get(memcg_id)
            if lv is not None:
                lv.memcg.stat[name] += nr

    # -- operations: begin / end -----------------------------------------------------------
    def op_begin(self, task: Task | None) -> None:
        if task is not None and not task.alive:
            raise TaskKilled(task, task.exit_signal or Signal.SIGKILL,
                             f"task already dead ({task.exit_reason})")
        self._depth += 1
        if self._depth == 1:
            self.current = task

    def op_end(self) -> None:
        """The return to user space: ``memory.high`` reclaim, kswapd, zswap's work item."""
        self._depth -= 1
        if self._depth:
            return
        try:
            self._depth += 1
            if self._reap:
                self.reap_folios()
            task = self.current
            if task is not None:
                memcg = task.mm.memcg
                # The ancestors() walks, without generators (this runs once per operation).
                m: MemCgroup | None = memcg
                while m is not None:
                    if m.memory.usage > m.memory_high:
                        self.reclaim_high(memcg)
                        break
                    m = m.parent
                m = memcg
                while m is not None:
                    if m.swap_high < MAX and m.swap.usage > m.swap_high:
                        m.memcg_swap_event("high")
                    m = m.parent
            if self.kswapd_pending or self.nr_free_pages() < self.wmark_low:
                self.kswapd_pending = False
                self.balance_pgdat()
            if self.zswap is not None and self.zswap.shrink_work_pending:
                self._memalloc += 1
                try:
                    self.zswap.run_pending_work()
                finally:
                    self._memalloc -= 1
            if self._reap:
                self.reap_folios()
        finally:
            self._depth -= 1
            self.current = None

    kswapd_pending = False

    # -- tasks -------------------------------------------------------------------------------
    def create_cgroup(self, path: str) -> MemCgroup:
        """``mkdir /sys/fs/cgroup/<path>`` (parents too)."""
        memcg = self.memcgs.create(path)
        for m in reversed(list(memcg.ancestors())):
            if m.id not in self.lruvecs:
                self._add_lruvec(m)
        return memcg

    def spawn(self, comm: str = "task", cgroup: str | MemCgroup = "/", *,
              oom_score_adj: int = 0) -> Task:
        """A new process with an empty address space in ``cgroup``."""
        memcg = cgroup if isinstance(cgroup, MemCgroup) else self.memcgs.lookup(cgroup)
        mm = MmStruct(self._next_mm, memcg)
        self._next_mm += 1
        self.mms[mm.id] = mm
        return self._new_task(comm, mm, memcg, oom_score_adj)

    def _new_task(self, comm: str, mm: MmStruct, memcg: MemCgroup, adj: int) -> Task:
        if not -1000 <= adj <= 1000:
            raise KernelError(Errno.EINVAL, f"oom_score_adj {adj} outside -1000..1000")
        task = Task(self._next_pid, comm, mm, memcg, oom_score_adj=adj)
        self._next_pid += 1
        mm.users += 1
        self.tasks[task.pid] = task
        return task

    def clone_thread(self, task: Task, comm: str | None = None) -> Task:
        """A thread sharing ``task``'s mm (``CLONE_VM``)."""
        self._check_alive(task)
        return self._new_task(comm or task.comm, task.mm, task.memcg, task.oom_score_adj)

    def fork(self, task: Task, comm: str | None = None) -> Task:
        """A child process with a copy-on-write copy of ``task``'s address space.

        Models: ``dup_mm()`` -> ``dup_mmap()`` -> ``copy_page_range()``.
        """
        self.op_begin(task)
        try:
            src = task.mm
            mm = MmStruct(self._next_mm, src.memcg)
            self._next_mm += 1
            for vma in src.vmas:
                mm.insert_vma(Vma(vma.start, vma.end, vma.anon_vma, vma.locked, vma.hugepage))
            self.mms[mm.id] = mm
            self.copy_page_range(src, mm)
            return self._new_task(comm or task.comm, mm, task.memcg, task.oom_score_adj)
        finally:
            self.op_end()

    def exit(self, task: Task) -> None:
        """The task exits; the last user of an mm tears it down (``exit_mmap``)."""
        self._check_alive(task)
        self.op_begin(None)
        try:
            self._do_exit(task, None, "exit")
        finally:
            self.op_end()

    def _do_exit(self, task: Task, signal: Signal | None, reason: str) -> None:
        task.alive = False
        task.exit_signal = signal
        task.exit_reason = reason
        self.tasks.pop(task.pid, None)
        mm = task.mm
        mm.users -= 1
        if mm.users == 0:
            self.exit_mmap(mm)

    def kill_task(self, task: Task, signal: Signal, reason: str, *, raise_: bool = True) -> None:
        """Deliver a fatal signal: the task (and, for SIGKILL by the OOM killer, every task
        sharing its mm, done by the caller) dies and its memory is released. Raises
        TaskKilled when ``task`` is the one doing the current operation."""
        if task.alive:
            self._do_exit(task, signal, reason)
        if raise_ and task is self.current:
            self.raise_killed(task)

    def raise_killed(self, task: Task) -> None:
        raise TaskKilled(task, task.exit_signal or Signal.SIGKILL, task.exit_reason)

    def _check_alive(self, task: Task) -> None:
        if not task.alive:
            raise TaskKilled(task, task.exit_signal or Signal.SIGKILL,
                             f"task already dead ({task.exit_reason})")

    def mlock(self, task: Task, addr: int, length: int) -> None:
        """Mark the VMAs in the range ``VM_LOCKED`` (their swap is freed on swap-in; the model
        does not make them unevictable)."""
        start, end = self._range(addr, length, "mlock")
        for v in task.mm.split_vmas(start, end):
            v.locked = True

    # -- page access -------------------------------------------------------------------------
    def _page(self, task: Task, vpn: int, write: bool) -> tuple[Folio | None, int]:
        """The folio and page index backing ``vpn`` after any fault (None: zero page)."""
        mm = task.mm
        t = mm.tables.get(vpn >> PTE_TABLE_SHIFT)
        if t is not None:
            i = vpn & PTE_TABLE_MASK
            v = t[0][i]
            if v & PTE_PRESENT and (v & PTE_WRITE or not write):
                if not v & PTE_YOUNG:
                    t[0][i] = v | PTE_YOUNG
                if self.exact_reclaim is not None:  # --reclaim lru|fifo|clock: vmscan.py
                    self.exact_reclaim.folio_accessed(t[1][i])
                return t[1][i], v >> 3
        self.handle_mm_fault(task, vpn, write)
        t = mm.tables[vpn >> PTE_TABLE_SHIFT]
        v = t[0][vpn & PTE_TABLE_MASK]
        if self.exact_reclaim is not None:  # --reclaim lru|fifo|clock: vmscan.py
            self.exact_reclaim.folio_accessed(t[1][vpn & PTE_TABLE_MASK])
        return t[1][vpn & PTE_TABLE_MASK], v >> 3

    def write(self, task: Task, addr: int,
              data: bytes | bytearray | memoryview | pagedata.PageRun) -> None:
        """Store ``data`` at ``addr`` in ``task``'s address space (faulting as needed).

        Raises:
            TaskKilled: the access killed the task (SIGSEGV outside any mapping, SIGBUS on a
                swap read error, SIGKILL by the OOM killer).
            DataLossError: a page read back from swap differs from what was written.
        """
        if self.compact:
            self._write_compact(task, addr, data)
            return
        assert not isinstance(data, pagedata.PageRun), "a PageRun needs --page-data compact"
        self.op_begin(task)
        try:
            mv = memoryview(data).cast("B")
            pos = 0
            n = len(mv)
            while pos < n:
                a = addr + pos
                vpn = a >> PAGE_SHIFT
                off = a & (PAGE_SIZE - 1)
                chunk = min(PAGE_SIZE - off, n - pos)
                folio, idx = self._page(task, vpn, True)
                assert folio is not None
                base = idx * PAGE_SIZE + off
                folio.data[base:base + chunk] = mv[pos:pos + chunk]
                folio.dirty = True
                folio.mm_written = True
                pos += chunk
        finally:
            self.op_end()

    def _write_compact(self, task: Task, addr: int,
                       data: bytes | bytearray | memoryview | pagedata.PageRun) -> None:
        """:meth:`write` in compact mode: each page written gets a new token (the content's,
        with the next version); a partial page or bytes no class describes make a literal."""
        tokb = pagedata.TOKEN_BYTES
        self.op_begin(task)
        try:
            if isinstance(data, pagedata.PageRun):
                if addr & (PAGE_SIZE - 1):
                    raise ValueError("a PageRun is written at a page boundary")
                vpn = addr >> PAGE_SHIFT
                for k, tok in enumerate(data.tokens):
                    folio, idx = self._page(task, vpn + k, True)
                    assert folio is not None
                    d = folio.data
                    old = int.from_bytes(d[idx * tokb:(idx + 1) * tokb], "little")
                    d[idx * tokb:(idx + 1) * tokb] = pagedata.tok_bytes(
                        pagedata.next_version(old, tok))
                    folio.dirty = True
                    folio.mm_written = True
                return
            mv = memoryview(data).cast("B")
            pos = 0
            n = len(mv)
            while pos < n:
                a = addr + pos
                vpn = a >> PAGE_SHIFT
                off = a & (PAGE_SIZE - 1)
                chunk = min(PAGE_SIZE - off, n - pos)
                folio, idx = self._page(task, vpn, True)
                assert folio is not None
                d = folio.data
                old = int.from_bytes(d[idx * tokb:(idx + 1) * tokb], "little")
                if chunk == PAGE_SIZE:
                    new = pagedata.bytes_token(mv[pos:pos + chunk])
                else:
                    page = bytearray(pagedata.materialize(old))
                    page[off:off + chunk] = mv[pos:pos + chunk]
                    new = pagedata.bytes_token(page)
                d[idx * tokb:(idx + 1) * tokb] = pagedata.tok_bytes(
                    pagedata.next_version(old, new))
                folio.dirty = True
                folio.mm_written = True
                pos += chunk
        finally:
            self.op_end()

    def read(self, task: Task, addr: int, length: int) -> bytes:
        """Load ``length`` bytes at ``addr`` from ``task``'s address space.

        Raises: as :meth:`write`.
        """
        self.op_begin(task)
        try:
            off = addr & (PAGE_SIZE - 1)
            if not self.compact and 0 < length <= PAGE_SIZE - off:
                # Within one page: one copy instead of slice + append + bytes().
                folio, idx = self._page(task, addr >> PAGE_SHIFT, False)
                if folio is None:
                    return bytes(length)
                base = idx * PAGE_SIZE + off
                return bytes(memoryview(folio.data)[base:base + length])
            out = bytearray()
            pos = 0
            while pos < length:
                a = addr + pos
                vpn = a >> PAGE_SHIFT
                off = a & (PAGE_SIZE - 1)
                chunk = min(PAGE_SIZE - off, length - pos)
                folio, idx = self._page(task, vpn, False)
                if folio is None:
                    out += bytes(chunk)
                elif self.compact:  # the bytes the page's token stands for
                    page = pagedata.materialize(pagedata.tok_of(folio.data, idx))
                    out += page[off:off + chunk]
                else:
                    base = idx * PAGE_SIZE + off
                    out += folio.data[base:base + chunk]
                pos += chunk
            return bytes(out)
        finally:
            self.op_end()

    def touch(self, task: Task, addr: int, write: bool = False) -> None:
        """Access one byte (fault it in) without copying data."""
        self.op_begin(task)
        try:
            folio, _ = self._page(task, addr >> PAGE_SHIFT, write)
            if write and folio is not None:
                folio.dirty = True
                folio.mm_written = True
        finally:
            self.op_end()

    # -- reclaim control -----------------------------------------------------------------------
    def run_kswapd(self) -> int:
        """Run kswapd now (``balance_pgdat``); returns pages reclaimed."""
        self.op_begin(None)
        try:
            return self.balance_pgdat()
        finally:
            self.op_end()

    # -- checks ------------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Raise AssertionError unless the model's invariants hold.

        * every present PTE's folio lists the PTE in its rmap, and ``mapcount == len(rmap)``;
        * ``rss_anon`` / ``swapents`` of each mm match its PTEs;
        * LRU page counts match the lists; every charged folio is accounted in RAM;
        * each memcg's memory usage is its folios (and zswap bytes);
        * the swap design's own invariants.
        """
        from vswap.mm.checks import check_invariants

        check_invariants(self)

    def check_no_leaks(self) -> None:
        """Once every task exited: drop what only the swap cache holds (as reclaim would),
        then raise :class:`vswap.mm.checks.LeakError` listing anything still held (used
        slots, live descriptors, zswap entries and pool bytes, swap-cache pages, resident
        pages, memcg charges). Run it at the end of every run."""
        from vswap.mm.checks import check_no_leaks

        check_no_leaks(self)

    def metadata_bytes(self) -> dict[str, int]:
        """Python bytes the model spends on page tables (for the benchmark)."""
        return {"page_tables": sum(8 * 512 + 8 * 512 + 56 for _ in range(sum(
            len(mm.tables) for mm in self.mms.values())))}
