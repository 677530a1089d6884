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
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.faults import NO_FAULTS, FaultInjector
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MAX, MemCgroup
from vswap.kernel.tracing import NULL_TRACER, KernelTracer
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE, SwpEntry
from vswap.mm.huge_memory import THP_ORDERS, HugeMemoryMixin, ThpSettings
from vswap.mm.integrity import PageOracle
from vswap.mm.memcg_files import MemcgFilesMixin
from vswap.mm.memory import FaultMixin
from vswap.mm.mm_types import (
    PTE_PRESENT,
    PTE_TABLE_MASK,
    PTE_TABLE_SHIFT,
    PTE_WRITE,
    PTE_YOUNG,
    TASK_PAGES,
    MmStruct,
    Signal,
    Task,
    TaskKilled,
    Vma,
)
from vswap.mm.oom import OomMixin
from vswap.mm.procfs import ProcfsMixin
from vswap.mm.rmap import RmapMixin
from vswap.mm.vmscan import MAX_RECLAIM_RETRIES, Lruvec, ScanControl, VmscanMixin
from vswap.swap import SwapHooks, SwapoffResult, create_design

if TYPE_CHECKING:
    from vswap.swap.storage import SwapStorage
    from vswap.swap.swapfile import SwapInfo

#: madvise(2) advice values (include/uapi/asm-generic/mman-common.h).
MADV_DONTNEED = 4
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_PAGEOUT = 21


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


class Machine(FaultMixin, VmscanMixin, RmapMixin, OomMixin, HugeMemoryMixin, MemcgFilesMixin,
              ProcfsMixin):
    """One simulated machine. See the module docstring for the public API."""

    def __init__(self, config: MachineConfig | None = None, *,
                 tracer: KernelTracer = NULL_TRACER, **kwargs: Any) -> None:
        if config is None:
            config = MachineConfig(**kwargs)
        elif kwargs:
            raise ConfigError("Machine: give a MachineConfig or keyword arguments, not both")
        self.config = config
        if config.ram < 16 * PAGE_SIZE or config.ram % PAGE_SIZE:
            raise ConfigError(f"Machine: ram={config.ram} is not a whole number of pages >= 16")
        self.nr_pages = config.ram // PAGE_SIZE
        self._init_watermarks(config)
        self.nr_used_pages = 0
        self.nr_anon_mapped = 0
        #: The kernel's globals, shared by the design, its devices and swap cache, and
        #: zswap: counters, cgroups, the tracer (a timed run's recorder), the fault injector.
        self.env = KernelEnv(faults=config.faults if config.faults is not None else NO_FAULTS,
                             tracer=tracer)
        self.tracer = tracer
        self.faults = self.env.faults
        self.vmstat = self.env.vmstat
        self.memcgs = self.env.memcgs
        self.lruvecs: dict[int, Lruvec] = {}
        self._add_lruvec(self.memcgs.root)
        self.tasks: dict[int, Task] = {}
        self.mms: dict[int, MmStruct] = {}
        self._next_pid = 1
        self._next_mm = 1
        self.current: Task | None = None
        self.swappiness = config.swappiness
        self.page_cluster = config.page_cluster
        self.vma_ra_enabled = config.vma_ra_enabled
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
        self.oracle = PageOracle(config.verify)
        self.hook_mode = "fault"
        self._memalloc = 0
        self._depth = 0
        self._reap: list[Folio] = []
        self.hooks = SwapHooks(alloc_swapin_folio=self._hook_alloc_swapin_folio,
                               swapin_folio_added=self._hook_swapin_folio_added,
                               unuse_ptes=self.unuse_ptes,
                               folio_mapped=lambda folio: folio.mapcount > 0,
                               swapcache_folio_deleted=self._reap.append,
                               release_swapin_folio=self._hook_release_swapin_folio)
        self.design = create_design(config.design, nr_cpus=config.nr_cpus, env=self.env,
                                    hooks=self.hooks, **config.design_options)
        self.zswap = None
        if config.zswap:
            from vswap.zswap.zswap import ZswapParams

            self.zswap = self.design.attach_zswap(
                total_ram_pages=self.nr_pages, params=ZswapParams(**config.zswap_params))
        self._signal = False

    # -- setup helpers -------------------------------------------------------------------------
    def _init_watermarks(self, config: MachineConfig) -> None:
        """Models: ``init_per_zone_wmark_min()`` + ``__setup_per_zone_wmarks()`` (one zone)."""
        ram_kb = self.nr_pages * PAGE_SIZE // 1024
        mfk = config.min_free_kbytes
        if mfk is None:
            mfk = min(max(int((ram_kb * 16) ** 0.5), 128), 262144)
        self.wmark_min = max(mfk * 1024 // PAGE_SIZE, 1)
        delta = max(self.wmark_min // 4,
                    self.nr_pages * config.watermark_scale_factor // 10000)
        self.wmark_low = self.wmark_min + delta
        self.wmark_high = self.wmark_min + 2 * delta
        if self.wmark_high * 2 > self.nr_pages:
            raise ConfigError(f"Machine: ram={config.ram} too small for its watermarks "
                              f"(min_free_kbytes={mfk})")

    def _add_lruvec(self, memcg: MemCgroup) -> Lruvec:
        parent = self.lruvecs.get(memcg.parent.id) if memcg.parent is not None else None
        lv = self.lruvecs[memcg.id] = Lruvec(memcg, parent)
        return lv

    # -- swap hooks ------------------------------------------------------------------------
    def _hook_alloc_swapin_folio(self, entry: SwpEntry, order: int,
                                 memcg_id: int) -> Folio | None:
        """``folio_alloc`` + ``mem_cgroup_swapin_charge_folio`` for the swap layer.

        In reclaim (``PF_MEMALLOC``: zswap writeback) the charge is forced, as the kernel
        lets reclaim's own allocations exceed the limit; during swapoff a charge over the
        limit reclaims first; on the fault path (where the fault already made room for its
        target page) a readahead page that does not fit is simply not read.
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
            if over is not None and self.hook_mode == "swapoff":
                self.try_to_free_mem_cgroup_pages(over, nr)
                over = memcg.try_charge_memory(nbytes)
            if over is not None:
                return None
            if self.nr_free_pages() - nr < self.wmark_min:
                if self.hook_mode == "swapoff":
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
    def nr_free_pages(self) -> int:
        """Free RAM pages: total minus folios minus zswap's pool (``NR_FREE_PAGES``)."""
        free = self.nr_pages - self.nr_used_pages
        if self.zswap is not None:
            free -= self.zswap.zswap_total_pages()
        return free

    def nr_swapcached(self) -> int:
        return int(self.design.swap_cache.nr_pages)

    def total_swap_pages(self) -> int:
        return int(self.design.devices.total_swap_pages)

    def alloc_folio(self, order: int, memcg: MemCgroup, task: Task | None, *,
                    may_reclaim: bool) -> Folio | None:
        """Allocate and charge a zeroed folio. Models: ``folio_alloc`` (page allocator with
        watermarks, direct reclaim, global OOM) + ``mem_cgroup_charge`` (``try_charge_memcg``).

        Without ``may_reclaim`` (large folios: no direct reclaim) return None when memory is
        short. With it, reclaim and, failing that, OOM-kill; raises TaskKilled if the
        current task is chosen.
        """
        nr = 1 << order
        if not self.alloc_pages_prepare(nr, task, may_reclaim):
            return None
        if not self.mem_cgroup_charge(memcg, nr, task, may_reclaim=may_reclaim):
            return None
        if may_reclaim and self.nr_free_pages() - nr < self.wmark_min:
            # Memcg reclaim cannot have used memory, but an OOM kill may have run: recheck.
            self.alloc_pages_prepare(nr, task, True)
        folio = Folio(order, memcg_id=memcg.id)
        folio.uptodate = True
        folio.mm_charged = nr * PAGE_SIZE
        self.tracer.folio_alloc(nr, True)
        self.nr_used_pages += nr
        return folio

    def alloc_pages_prepare(self, nr: int, task: Task | None, may_reclaim: bool) -> bool:
        """The page allocator's watermark logic for ``nr`` pages: below low wakes kswapd,
        below min reclaims directly (``__alloc_pages_slowpath``), then the global OOM killer."""
        if self.nr_free_pages() - nr >= self.wmark_low:
            return True
        self.kswapd_pending = True
        if self.nr_free_pages() - nr >= self.wmark_min:
            return True
        if not may_reclaim:
            return False
        retries = MAX_RECLAIM_RETRIES
        loops = 0
        while self.nr_free_pages() - nr < self.wmark_min:
            got = self.try_to_free_pages(nr)
            loops += 1
            if got and loops < 1000:
                continue
            retries -= 1
            if retries > 0:
                continue
            if self.out_of_memory(None, "page allocation") is None:
                if self.nr_free_pages() - nr >= 0:
                    return True
                if task is not None:
                    self.kill_task(task, Signal.SIGKILL, "out of memory, nothing to kill")
                return False
            retries = MAX_RECLAIM_RETRIES
        return True

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
                over = next((m for m in memcg.ancestors()
                             if m.memory.usage + nbytes > m.memory.max), None)
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
        if folio.lru:
            self.folio_del_lru(folio)
        memcg = self.memcgs.mem_cgroup_from_id(folio.memcg_id)
        if memcg is not None:
            memcg.uncharge_memory(folio.mm_charged)
        self.nr_used_pages -= folio.nr_pages
        self.tracer.folio_free(folio.nr_pages)
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
        self.vmstat.count_vm_events(name, nr)
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

    def exit_mmap(self, mm: MmStruct) -> None:
        """Models: ``exit_mmap()``: zap every VMA, free the page tables, forget the mm."""
        for vma in mm.vmas:
            self.zap_pte_range(mm, vma.start, vma.end)
        mm.vmas = []
        mm.vma_starts = []
        mm.tables.clear()
        self.mms.pop(mm.id, None)

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

    # -- address space -----------------------------------------------------------------------
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

    def madvise(self, task: Task, addr: int, length: int, advice: int) -> int:
        """madvise(2) for MADV_DONTNEED, MADV_PAGEOUT, MADV_HUGEPAGE, MADV_NOHUGEPAGE.

        Returns pages reclaimed for MADV_PAGEOUT, else 0.

        Raises:
            KernelError(EINVAL): unknown advice or bad range; (ENOMEM): part of the range is
                not mapped (the kernel applies the advice to the mapped parts, then fails).
        """
        self._check_alive(task)
        start, end = self._range(addr, length, "madvise")
        if advice not in (MADV_DONTNEED, MADV_PAGEOUT, MADV_HUGEPAGE, MADV_NOHUGEPAGE):
            raise KernelError(Errno.EINVAL, f"madvise: unsupported advice {advice}")
        mm = task.mm
        self.op_begin(task)
        result = 0
        try:
            covered = 0
            for vma in list(mm.vmas):
                lo, hi = max(vma.start, start), min(vma.end, end)
                if lo >= hi:
                    continue
                covered += hi - lo
                if advice == MADV_DONTNEED:
                    self.zap_pte_range(mm, lo, hi)
                elif advice == MADV_PAGEOUT:
                    result += self.madvise_pageout(task, lo, hi)
                else:
                    for v in mm.split_vmas(lo, hi):
                        v.hugepage = advice == MADV_HUGEPAGE
        finally:
            self.op_end()
        if covered < end - start:
            raise KernelError(Errno.ENOMEM, f"madvise: {addr:#x}+{length:#x} not fully mapped")
        return result

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
                return t[1][i], v >> 3
        self.handle_mm_fault(task, vpn, write)
        t = mm.tables[vpn >> PTE_TABLE_SHIFT]
        v = t[0][vpn & PTE_TABLE_MASK]
        return t[1][vpn & PTE_TABLE_MASK], v >> 3

    def write(self, task: Task, addr: int, data: bytes | bytearray | memoryview) -> None:
        """Store ``data`` at ``addr`` in ``task``'s address space (faulting as needed).

        Raises:
            TaskKilled: the access killed the task (SIGSEGV outside any mapping, SIGBUS on a
                swap read error, SIGKILL by the OOM killer).
            DataLossError: a page read back from swap differs from what was written.
        """
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

    def read(self, task: Task, addr: int, length: int) -> bytes:
        """Load ``length`` bytes at ``addr`` from ``task``'s address space.

        Raises: as :meth:`write`.
        """
        self.op_begin(task)
        try:
            off = addr & (PAGE_SIZE - 1)
            if 0 < length <= PAGE_SIZE - off:
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

    # -- swap devices --------------------------------------------------------------------------
    def swapon(self, storage: SwapStorage, *, prio: int | None = None) -> SwapInfo:
        """``swapon`` a storage (:class:`vswap.swap.storage.MemSwapStorage` or
        ``FileSwapStorage``). Returns the design's ``SwapInfo``."""
        return self.design.swapon(storage, prio=prio)

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

    # -- reclaim control -----------------------------------------------------------------------
    def run_kswapd(self) -> int:
        """Run kswapd now (``balance_pgdat``); returns pages reclaimed."""
        self.op_begin(None)
        try:
            return self.balance_pgdat()
        finally:
            self.op_end()

    # -- sysfs / procfs knobs ------------------------------------------------------------------
    def sysfs_write(self, path: str, value: str | int) -> None:
        """Write a knob: ``/proc/sys/vm/swappiness``, ``/proc/sys/vm/page-cluster``,
        ``/sys/kernel/mm/swap/vma_ra_enabled``,
        ``/sys/kernel/mm/transparent_hugepage/[hugepages-<size>kB/]enabled``,
        ``/sys/module/zswap/parameters/<name>``.

        Raises:
            KernelError(EINVAL): malformed value (nothing changed); (ENOENT): unknown path.
        """
        text = str(value).strip()
        if path == "/proc/sys/vm/swappiness":
            if not text.isdigit() or not 0 <= int(text) <= 200:
                raise KernelError(Errno.EINVAL, f"swappiness: {text!r} outside 0..200")
            self.swappiness = int(text)
        elif path == "/proc/sys/vm/page-cluster":
            if not text.isdigit() or int(text) > 31:
                raise KernelError(Errno.EINVAL, f"page-cluster: {text!r} is not 0..31")
            self.page_cluster = int(text)
        elif path == "/sys/kernel/mm/swap/vma_ra_enabled":
            if text.lower() not in ("true", "false", "1", "0", "y", "n"):
                raise KernelError(Errno.EINVAL, f"vma_ra_enabled: {text!r} is not a boolean")
            self.vma_ra_enabled = text.lower() in ("true", "1", "y")
        elif path.startswith("/sys/kernel/mm/transparent_hugepage/"):
            rest = path[len("/sys/kernel/mm/transparent_hugepage/"):]
            if rest == "enabled":
                self.thp.set_enabled(None, text)
            else:
                order = self._thp_order_of(rest)
                self.thp.set_enabled(order, text)
            self.thp_any_enabled = any(self.thp.orders_for(Vma(0, 1, hugepage=True)))
        elif path.startswith("/sys/module/zswap/parameters/"):
            if self.zswap is None:
                raise KernelError(Errno.ENOENT, "zswap is not configured on this machine")
            name = path.rsplit("/", 1)[1]
            cur = getattr(self.zswap.params, name, None)
            if isinstance(cur, bool):
                if text.upper() not in ("Y", "N", "1", "0"):
                    raise KernelError(Errno.EINVAL, f"zswap.{name}: {text!r} is not Y/N")
                new: Any = text.upper() in ("Y", "1")
            elif isinstance(cur, int):
                if not text.isdigit():
                    raise KernelError(Errno.EINVAL, f"zswap.{name}: {text!r} is not a number")
                new = int(text)
            else:
                new = text
            try:
                self.zswap.set_param(name, new)
            except ConfigError as exc:
                raise KernelError(Errno.EINVAL, str(exc)) from None
        else:
            raise KernelError(Errno.ENOENT, f"no knob {path}")

    def sysfs_read(self, path: str) -> str:
        """Read a knob written by :meth:`sysfs_write`, or an mTHP statistic
        (``.../hugepages-<size>kB/stats/<name>``)."""
        if path == "/proc/sys/vm/swappiness":
            return f"{self.swappiness}\n"
        if path == "/proc/sys/vm/page-cluster":
            return f"{self.page_cluster}\n"
        if path == "/sys/kernel/mm/swap/vma_ra_enabled":
            return "true\n" if self.vma_ra_enabled else "false\n"
        if path.startswith("/sys/kernel/mm/transparent_hugepage/"):
            rest = path[len("/sys/kernel/mm/transparent_hugepage/"):]
            if rest == "enabled":
                return self.thp.format_enabled(None)
            size, _, leaf = rest.partition("/")
            order = self._thp_order_of(size + "/enabled")
            if leaf == "enabled":
                return self.thp.format_enabled(order)
            if leaf.startswith("stats/"):
                return f"{self.thp.stats[order][leaf[6:]]}\n"
        if path.startswith("/sys/module/zswap/parameters/") and self.zswap is not None:
            v = getattr(self.zswap.params, path.rsplit("/", 1)[1])
            return ("Y" if v else "N") + "\n" if isinstance(v, bool) else f"{v}\n"
        raise KernelError(Errno.ENOENT, f"no knob {path}")

    @staticmethod
    def _thp_order_of(rest: str) -> int:
        size, _, leaf = rest.partition("/")
        for order in THP_ORDERS:
            if size == f"hugepages-{(PAGE_SIZE << order) // 1024}kB" and leaf == "enabled":
                return order
        raise KernelError(Errno.ENOENT, f"no THP knob {rest}")

    # -- checks ------------------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Raise AssertionError unless the model's invariants hold.

        * every present PTE's folio lists the PTE in its rmap, and ``mapcount == len(rmap)``;
        * ``rss_anon`` / ``swapents`` of each mm match its PTEs;
        * LRU page counts match the lists; every charged folio is accounted in RAM;
        * each memcg's memory usage is its folios (and zswap bytes);
        * the swap design's own invariants.
        """
        folios: dict[int, Folio] = {}
        for mm in self.mms.values():
            rss = swp = 0
            for key, (ptes, fl) in mm.tables.items():
                for i in range(512):
                    v = ptes[i]
                    if not v:
                        assert fl[i] is None
                        continue
                    vpn = (key << PTE_TABLE_SHIFT) + i
                    if v & PTE_PRESENT:
                        f = fl[i]
                        if f is None:
                            continue
                        rss += 1
                        assert (mm.id << 36 | vpn) in f.rmap, f"{f!r} lacks rmap for {vpn:#x}"
                        assert f.mm_charged, f"mapped folio {f!r} was freed"
                        folios[id(f)] = f
                    else:
                        assert fl[i] is None
                        swp += 1
                        assert self.design.swp_swapcount(SwpEntry(v >> 1)) >= 1, (
                            f"swap PTE {v >> 1:#x} at {vpn:#x} has no swap count")
            assert rss == mm.rss_anon, f"mm {mm.id}: rss {mm.rss_anon} != {rss}"
            assert swp == mm.swapents, f"mm {mm.id}: swapents {mm.swapents} != {swp}"
        for f in folios.values():
            assert f.mapcount == len(f.rmap), f"{f!r} mapcount {f.mapcount} != rmap"
        used = 0
        per_memcg: dict[int, int] = {}
        for lv in self.lruvecs.values():
            ni = sum(f.nr_pages for f in lv.inactive)
            na = sum(f.nr_pages for f in lv.active)
            assert ni == lv.nr_inactive and na == lv.nr_active, "LRU counts"
            for f in list(lv.inactive) + list(lv.active):
                assert f.mm_charged, f"freed folio {f!r} on the LRU"
                used += f.nr_pages
                per_memcg[f.memcg_id] = per_memcg.get(f.memcg_id, 0) + f.mm_charged
        assert used == self.nr_used_pages, (
            f"RAM accounting: {self.nr_used_pages} pages used, {used} on LRUs")
        for memcg in self.memcgs:
            memcg.check_invariants()
            local = per_memcg.get(memcg.id, 0) + memcg.zswap.local
            assert memcg.memory.local == local, (
                f"{memcg.path}: memory charged {memcg.memory.local} != folios+zswap {local}")
        self.design.check_invariants()

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
