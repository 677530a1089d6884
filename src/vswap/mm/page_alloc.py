"""The page allocator: one zone's watermarks, free pages, folio allocation.

Models: mm/page_alloc.c (v6.14) for one zone: ``init_per_zone_wmark_min()`` +
``__setup_per_zone_wmarks()`` (``min_free_kbytes``, ``watermark_scale_factor``),
``NR_FREE_PAGES`` (zswap's pool pages count as used, as zsmalloc allocates them), and
``folio_alloc()`` with the slow path of ``__alloc_pages_slowpath()``: below the low watermark
wake kswapd, below min reclaim directly, then the global OOM killer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vswap._mypyc import trait
from vswap.errors import ConfigError
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MemCgroup
from vswap.kernel.types import PAGE_SIZE
from vswap.mm._base import MachineBase
from vswap.mm.mm_types import Signal, Task
from vswap.mm.vmscan import MAX_RECLAIM_RETRIES

if TYPE_CHECKING:
    from vswap.mm.machine import MachineConfig


@trait
class PageAllocMixin(MachineBase):
    """RAM, watermarks and folio allocation of :class:`~vswap.mm.machine.Machine`."""

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

    def nr_free_pages(self) -> int:
        """Free RAM pages: total minus folios minus zswap's pool (``NR_FREE_PAGES``)."""
        free = self.nr_pages - self.nr_used_pages
        if self.zswap is not None:
            free -= self.zswap.zswap_total_pages()
        return free

    def alloc_folio(self, order: int, memcg: MemCgroup, task: Task | None, *,
                    may_reclaim: bool) -> Folio | None:
        """Allocate and charge a zeroed folio. Models: ``folio_alloc`` (page allocator with
        watermarks, direct reclaim, global OOM) + ``mem_cgroup_charge`` (``try_charge_memcg``).

        Without ``may_reclaim`` (large folios: no direct reclaim) return None when memory is
        short. With it, reclaim and, failing that, OOM-kill; raises TaskKilled if the
        current task is chosen.
        """
        nr = 1 << order
        # alloc_pages_prepare()'s first test inlined: above the low watermark it has nothing
        # to do (the common case).
        if (self.nr_free_pages() - nr < self.wmark_low
                and not self.alloc_pages_prepare(nr, task, may_reclaim)):
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
