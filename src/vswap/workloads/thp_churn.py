"""``thp-churn``: large folios held in the swap cache, migrated and split there.

The workload of docs/folio-split-migration.md: it drives the kernel paths that split a
large folio while the swap cache holds it, so each design's swap cache (and RFC v2's FOLIO
descriptors) must hand every page's entry to its new folio. One process, in its own cgroup
``<cgroup>/churn`` with ``memory.zswap.writeback`` 0, maps ``--size`` with
``MADV_HUGEPAGE`` (the workload sets ``--thp-size``'s ``enabled`` to ``madvise``, every
other size to ``never``, and ``vm.page-cluster`` to 0) and writes incompressible pages; then:

1. ``MADV_PAGEOUT`` of the region: each folio gets swap entries whole (``add_to_swap``) and
   is unmapped; zswap rejects its pages and writeback is off, so ``swap_writepage`` keeps it
   (``AOP_WRITEPAGE_ACTIVATE``): a large folio parked in the swap cache;
2. the first half of every folio is read back (minor faults that map pages of the cached
   folio), and ``echo 1 > /proc/sys/vm/compact_memory`` migrates every folio: the large
   swap-cache folios move whole (``folio_migrate_mapping``; RFC v2's ``vswap_migrate``);
3. ``MADV_PAGEOUT`` of the first quarter of every even folio: the range does not cover the
   folio, so ``madvise_cold_or_pageout_pte_range`` splits it (``split_folio`` of a
   swap-cache folio) and pages out only the quarter;
4. ``MADV_DONTNEED`` of the second quarter of every odd folio (so ``--size`` of one folio
   has none): the folio is left partially mapped and goes on the deferred split queue
   (``thp_deferred_split_page``);
5. ``echo 2 > /proc/sys/vm/drop_caches``: ``drop_slab`` runs the deferred split shrinker,
   which splits the queued swap-cache folios (the reclaim-time split), freeing the dropped
   pages; then a second ``compact_memory`` migrates the order-0 pieces, mapped or not, in
   the swap cache or not;
6. every page still mapped is read back and checked (``--rounds`` times the whole cycle on a
   fresh mapping).

Under classic and the swap tables a swap *file* takes no large folio whole, so ``add_to_swap``
splits each folio before the swap cache holds it (``swpout_fallback``); a block device
(``mem:``) gives them whole, as the virtual designs always do.

Reported (``metrics``): folios, mTHP ``split`` / ``split_deferred`` / ``split_failed`` /
``swpout_fallback`` of the size, the splits of swap-cache folios, ``thp_split_page``, the
swap-cache pages at the park, and the compactions' ``pgmigrate_success`` /
``pgmigrate_fail``, ``compact_migrate_scanned``, ``compact_isolated`` and the pages
migrated while in the swap cache.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.errors import ConfigError
from vswap.kernel.types import HPAGE_PMD_ORDER, PAGE_SIZE
from vswap.mm.machine import MADV_DONTNEED, MADV_HUGEPAGE, MADV_PAGEOUT
from vswap.units import parse_size
from vswap.workloads._base import USER_WORD_NS, Workload, WorkloadParser
from vswap.workloads._scale import KEPT, SIZE, Scaling
from vswap.workloads._thp import enable_only_thp_order, thp_order_arg

if TYPE_CHECKING:
    from vswap.mm.mm_types import Task as MmTask
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

__all__ = ["ThpChurn"]

MIGRATE_EVENTS = ("pgmigrate_success", "pgmigrate_fail", "compact_migrate_scanned",
                  "compact_isolated")


def churn_page(round_: int, i: int) -> bytes:
    """The incompressible bytes of page ``i`` in round ``round_`` (zswap rejects them)."""
    return random.Random(round_ << 32 | i).randbytes(PAGE_SIZE)


class ThpChurn(Workload):
    """``thp-churn [--size S] [--thp-size T] [--rounds N]``."""

    name = "thp-churn"

    SCALING: ClassVar[dict[str, Scaling]] = {
        "size": Scaling(SIZE, "bytes of the mTHP region"),
        "thp_size": Scaling(KEPT, "the mTHP size", always=True),
        "rounds": Scaling(KEPT, "cycles of park, split and read-back", always=True),
    }

    def __init__(self, command: str, *, size: int, order: int, rounds: int) -> None:
        super().__init__(command)
        self.size = size
        self.order = order
        self.rounds = rounds

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("thp-churn")
        p.add_argument("--size", default="2M")
        p.add_argument("--thp-size", dest="thp_size", default="64K")
        p.add_argument("--rounds", type=int, default=1)
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> ThpChurn:
        p = cls.parser()
        a = p.parse_args(argv)
        order = thp_order_arg(p, a.thp_size, "thp-churn")
        size = parse_size(a.size, what="thp-churn --size")
        if size < PAGE_SIZE << order:
            p.error(f"--size {a.size}: smaller than one --thp-size folio")
        if a.rounds < 1:
            p.error(f"--rounds {a.rounds}: must be at least 1")
        return cls(command, size=size, order=order, rounds=a.rounds)

    def pages(self) -> int:
        nr = 1 << self.order
        n = self.size // PAGE_SIZE
        return n - n % nr

    def footprint_bytes(self) -> int:
        return self.pages() * PAGE_SIZE

    def progress_total(self) -> int:
        return self.rounds * self.pages()

    def needs_device(self) -> bool:
        return True

    def start(self, ctx: WorkloadContext) -> None:
        m = ctx.machine
        if m.zswap is None:
            raise ConfigError("workload thp-churn: needs zswap (--zswap): its folios are "
                              "parked in the swap cache by zswap rejecting them with "
                              "writeback off")
        enable_only_thp_order(m, self.order)
        m.sysfs_write("/proc/sys/vm/page-cluster", "0")
        memcg = m.create_cgroup(f"{ctx.cgroup.rstrip('/')}/churn")
        memcg.zswap_writeback = False
        proc = m.spawn("churn", memcg)
        ctx.spawn(self._body, ctx, proc, name="thp-churn")

    def _body(self, task: CpuTask, ctx: WorkloadContext, proc: MmTask
              ) -> Generator[Event, Any, None]:
        m = ctx.machine
        nr = 1 << self.order
        n = self.pages()
        size = n * PAGE_SIZE
        stats = m.thp.stats[self.order]
        s0 = dict(stats)
        v0 = m.vmstat["thp_split_page"]
        c0 = m.thp_split_swapcache
        k0 = len(m.compactions)
        vm0 = {k: m.vmstat[k] for k in MIGRATE_EVENTS}
        parked = 0
        for r in range(self.rounds):
            addr = yield ctx.op(task, m.mmap, proc, size)
            yield ctx.op(task, m.madvise, proc, addr, size, MADV_HUGEPAGE)
            for i in range(n):
                yield ctx.op(task, m.write, proc, addr + i * PAGE_SIZE, churn_page(r, i))
            yield ctx.user(task, size // 8 * USER_WORD_NS)
            yield ctx.op(task, m.madvise, proc, addr, size, MADV_PAGEOUT)
            parked = max(parked, m.nr_swapcached())
            for f in range(0, n, nr):
                for i in range(f, f + nr // 2):
                    got = yield ctx.op(task, m.read, proc, addr + i * PAGE_SIZE,
                                            PAGE_SIZE)
                    self._check(ctx, got, churn_page(r, i))
            yield ctx.op(task, m.sysfs_write, "/proc/sys/vm/compact_memory", "1")
            quarter = max(nr // 4, 1)
            dropped: set[int] = set()
            for k, f in enumerate(range(0, n, nr)):
                if k % 2 == 0:
                    yield ctx.op(task, m.madvise, proc, addr + f * PAGE_SIZE,
                                      quarter * PAGE_SIZE, MADV_PAGEOUT)
                else:
                    lo = f + quarter
                    yield ctx.op(task, m.madvise, proc, addr + lo * PAGE_SIZE,
                                      quarter * PAGE_SIZE, MADV_DONTNEED)
                    dropped.update(range(lo, lo + quarter))
            yield ctx.op(task, m.sysfs_write, "/proc/sys/vm/drop_caches", "2")
            yield ctx.op(task, m.sysfs_write, "/proc/sys/vm/compact_memory", "1")
            for i in range(n):
                got = yield ctx.op(task, m.read, proc, addr + i * PAGE_SIZE, PAGE_SIZE)
                self._check(ctx, got, bytes(PAGE_SIZE) if i in dropped else churn_page(r, i))
                ctx.advance(1)
            yield ctx.op(task, m.munmap, proc, addr, size)
        ctx.metrics.update({
            "thp_folios": self.rounds * (n >> self.order),
            "thp_parked_swapcache_pages": parked,
            "mthp_split": stats["split"] - s0.get("split", 0),
            "split_in_swapcache": m.thp_split_swapcache - c0,
            "mthp_swpout_fallback": stats["swpout_fallback"] - s0.get("swpout_fallback", 0),
            "mthp_split_deferred": stats["split_deferred"] - s0.get("split_deferred", 0),
            "mthp_split_failed": stats["split_failed"] - s0.get("split_failed", 0),
            "thp_split_page": m.vmstat["thp_split_page"] - v0
            if self.order == HPAGE_PMD_ORDER else 0,
            **{k: m.vmstat[k] - v for k, v in vm0.items()},
            "migrated_in_swapcache": sum(c.swapcache_migrated
                                         for c in m.compactions[k0:])})
        ctx.report_lines.append(
            f"thp-churn: {ctx.metrics['thp_folios']} folios parked in the swap cache "
            f"({parked} pages), split {ctx.metrics['mthp_split']} "
            f"({ctx.metrics['split_in_swapcache']} in the swap cache, "
            f"{ctx.metrics['mthp_split_deferred']} through the deferred split queue); "
            f"{ctx.metrics['pgmigrate_success']} pages migrated "
            f"({ctx.metrics['migrated_in_swapcache']} in the swap cache)")
        yield ctx.op(task, m.exit, proc)

    @staticmethod
    def _check(ctx: WorkloadContext, got: bytes, want: bytes) -> None:
        if got == want:
            ctx.verified_pages += 1
        else:
            ctx.data_loss += 1
