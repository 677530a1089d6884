"""``mthp-frag``: fragment the swap device with order-0 pages, then swap an mTHP region out.

The fragmenting allocation pattern of the large-folio use cases (docs/future.md): one process
(``frag``) writes usemem content over ``--fill`` of the first swap device and pushes every
16 pages out with ``MADV_PAGEOUT`` as it goes, so slots are handed out cluster by cluster;
then it drops every other page (``MADV_DONTNEED``), which frees every other slot: each
cluster it used is half full, and only the clusters it never reached stay free. Optionally
(``--compact``) the device is compacted (``echo 1 > /sys/kernel/mm/swap/compact``,
:mod:`vswap.swap.compaction`). Then a second process (``thp``) maps ``--size`` with
``MADV_HUGEPAGE``, writes it (``--thp-size`` folios: the workload sets that size's
``enabled`` to ``madvise`` and every other size to ``never``), pushes it out with one
``MADV_PAGEOUT``, reads every page back and checks it; so does ``frag``.

``--unrelated SIZE`` adds a process that maps SIZE and writes one page per 2 MiB, so
classic compaction's page-table walk has page tables to visit that hold no swap entry (as
the ``swapoff`` workload's). ``--discontig`` writes
``/sys/kernel/mm/swap/discontig_swapout`` (virtual designs only; the workload refuses to
start elsewhere, one line). Reported (``metrics``): the device's free
clusters and largest free run before and after compaction, compaction's moves, copies,
descriptor updates, PTEs scanned and rewritten and its modelled time, the mTHP ``swpout`` /
``swpout_fallback`` / ``split`` counts of the swap-out, the folios written to scattered
slots, ``pswpout`` and the swap-out's modelled time; then the read-back of the region: its
modelled time (``readback_time_s``), the device read requests it made
(``readback_reads``) and the write requests of swap-out and read-back
(``swapout_writes``: the swap-out's, completed by then).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.errors import ConfigError
from vswap.kernel.errors import KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_DONTNEED, MADV_HUGEPAGE, MADV_PAGEOUT
from vswap.swap.compaction import FragStats, check_compactable
from vswap.units import parse_size
from vswap.workloads._base import (
    USER_WORD_NS,
    Workload,
    WorkloadParser,
    device_requests,
    usemem_bytes,
    usemem_data,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling
from vswap.workloads._thp import enable_only_thp_order, thp_order_arg

if TYPE_CHECKING:
    from vswap.mm.mm_types import Task as MmTask
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.swap.swapfile import SwapInfo
    from vswap.workloads.context import WorkloadContext

__all__ = ["MthpFrag"]

CHUNK_PAGES = 16
#: Pages the unrelated process maps per page it writes: one per page table (2 MiB).
UNRELATED_STRIDE_PAGES = 512


class MthpFrag(Workload):
    """``mthp-frag [--fill F] [--size S] [--thp-size T] [--unrelated SIZE] [--compact]
    [--discontig]``."""

    name = "mthp-frag"

    SCALING: ClassVar[dict[str, Scaling]] = {
        "size": Scaling(SIZE, "bytes of the mTHP region (0: a third of the device)"),
        "fill": Scaling(KEPT, "fraction of the first swap device, whose size scales",
                        always=True),
        "thp_size": Scaling(KEPT, "the mTHP size", always=True),
        "unrelated": Scaling(SIZE, "bytes of the unrelated mapping"),
    }

    def __init__(self, command: str, *, fill: float, size: int, order: int, compact: bool,
                 discontig: bool, unrelated: int = 0) -> None:
        super().__init__(command)
        self.unrelated = unrelated
        self.fill = fill
        self.size = size
        self.order = order
        self.compact = compact
        self.discontig = discontig
        self.device_bytes = 0

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("mthp-frag")
        p.add_argument("--fill", type=float, default=0.9)
        p.add_argument("--size", default="0")
        p.add_argument("--thp-size", dest="thp_size", default="64K")
        p.add_argument("--unrelated", default="0")
        p.add_argument("--compact", action="store_true")
        p.add_argument("--discontig", action="store_true")
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> MthpFrag:
        p = cls.parser()
        a = p.parse_args(argv)
        if not 0.0 < a.fill <= 0.95:
            p.error(f"--fill {a.fill}: must be in (0, 0.95]")
        order = thp_order_arg(p, a.thp_size, "mthp-frag")
        return cls(command, fill=a.fill, size=parse_size(a.size, what="mthp-frag --size"),
                   order=order, compact=a.compact, discontig=a.discontig,
                   unrelated=parse_size(a.unrelated, what="mthp-frag --unrelated"))

    def needs_device(self) -> bool:
        return True

    def set_device_bytes(self, nbytes: int) -> None:
        """The size of the device to fragment (the run's first swap device)."""
        self.device_bytes = nbytes

    def fill_pages(self) -> int:
        return int(self.device_bytes // PAGE_SIZE * self.fill)

    def region_pages(self) -> int:
        nr = 1 << self.order
        pages = self.size // PAGE_SIZE if self.size else self.device_bytes // PAGE_SIZE // 3
        return max(pages - pages % nr, nr)

    def footprint_bytes(self) -> int:
        return (self.fill_pages() + self.region_pages()
                + self.unrelated // (UNRELATED_STRIDE_PAGES * PAGE_SIZE)) * PAGE_SIZE

    def progress_total(self) -> int:
        return 2 * (self.fill_pages() + self.region_pages())

    def start(self, ctx: WorkloadContext) -> None:
        if not ctx.device_records:
            raise ConfigError("workload mthp-frag: needs a swap device (--swap-device)")
        si: SwapInfo = next(iter(ctx.device_records.values()))["_si"]
        m = ctx.machine
        try:
            if self.discontig:
                m.sysfs_write("/sys/kernel/mm/swap/discontig_swapout", "1")
            if self.compact:
                check_compactable(m.design)
        except KernelError as exc:
            flag = "--discontig" if self.discontig and "discontig" in str(exc) else "--compact"
            raise ConfigError(f"mthp-frag {flag}: {exc}") from None
        enable_only_thp_order(m, self.order)
        proc = m.spawn("frag", ctx.cgroup)
        thp = m.spawn("thp", ctx.cgroup)
        mapper = m.spawn("mapper", ctx.cgroup)
        ctx.spawn(self._body, ctx, si, proc, thp, mapper, name="mthp-frag")

    def _body(self, task: CpuTask, ctx: WorkloadContext, si: SwapInfo, proc: MmTask,
              thp: MmTask, mapper: MmTask) -> Generator[Event, Any, None]:
        m = ctx.machine
        if self.unrelated >= PAGE_SIZE:
            size = self.unrelated - self.unrelated % PAGE_SIZE
            base = yield ctx.op(task, m.mmap, mapper, size)
            for off in range(0, size, UNRELATED_STRIDE_PAGES * PAGE_SIZE):
                yield ctx.op(task, m.write, mapper, base + off, b"\x01" * 8)
        n = self.fill_pages()
        addr = yield ctx.op(task, m.mmap, proc, n * PAGE_SIZE)
        step = CHUNK_PAGES * PAGE_SIZE
        for off in range(0, n * PAGE_SIZE, step):
            nb = min(step, n * PAGE_SIZE - off)
            yield ctx.op(task, m.write, proc, addr + off, usemem_data(m, off, nb))
            yield ctx.user(task, nb // 8 * USER_WORD_NS)
            yield ctx.op(task, m.madvise, proc, addr + off, nb, MADV_PAGEOUT)
            ctx.advance(nb // PAGE_SIZE)
        for i in range(0, n, 2):
            yield ctx.op(task, m.madvise, proc, addr + i * PAGE_SIZE, PAGE_SIZE,
                              MADV_DONTNEED)
        before = FragStats.of(si)
        after = before
        met = ctx.metrics
        met.update({"frag_free_clusters_before": before.free_clusters,
                    "frag_largest_free_run_before": before.largest_free_run})
        if self.compact:
            t0 = ctx.engine.now
            yield ctx.op(task, m.sysfs_write, "/sys/kernel/mm/swap/compact", "1")
            r = next(c for c in reversed(m.swap_compactions) if c.device == si.name)
            after = FragStats.of(si)
            met.update({"compact_moved": r.moved, "compact_skipped": r.skipped,
                        "compact_io_pages": r.io_read_pages + r.io_write_pages,
                        "compact_desc_updates": r.desc_updates,
                        "compact_ptes_scanned": r.ptes_scanned,
                        "compact_ptes_rewritten": r.ptes_rewritten,
                        "compact_time_s": (ctx.engine.now - t0) / 1e9})
        met.update({"frag_free_clusters_after": after.free_clusters,
                    "frag_largest_free_run_after": after.largest_free_run})
        yield from self._swap_out_thp(task, ctx, thp)
        for i in range(1, n, 2):
            off = i * PAGE_SIZE
            got = yield ctx.op(task, m.read, proc, addr + off, PAGE_SIZE)
            self._check(ctx, got, usemem_bytes(off, PAGE_SIZE))
        yield ctx.op(task, m.exit, proc)
        yield ctx.op(task, m.exit, mapper)
        ctx.report_lines.append(
            f"mthp-frag: {n} pages written, every other one freed; free clusters "
            f"{before.free_clusters} -> {after.free_clusters}; mTHP swpout "
            f"{met['mthp_swpout']}, swpout_fallback {met['mthp_swpout_fallback']}")

    def _swap_out_thp(self, task: CpuTask, ctx: WorkloadContext, thp: MmTask
                      ) -> Generator[Event, Any, None]:
        m = ctx.machine
        size = self.region_pages() * PAGE_SIZE
        addr = yield ctx.op(task, m.mmap, thp, size)
        yield ctx.op(task, m.madvise, thp, addr, size, MADV_HUGEPAGE)
        step = CHUNK_PAGES * PAGE_SIZE
        for off in range(0, size, step):
            nb = min(step, size - off)
            yield ctx.op(task, m.write, thp, addr + off, usemem_data(m, off, nb))
            yield ctx.user(task, nb // 8 * USER_WORD_NS)
            ctx.advance(nb // PAGE_SIZE)
        stats = m.thp.stats[self.order]
        s0 = dict(stats)
        out0 = m.vmstat["pswpout"]
        disc0 = getattr(m.design, "discontig_swpout", 0)
        io0 = device_requests(ctx)
        t0 = ctx.engine.now
        yield ctx.op(task, m.madvise, thp, addr, size, MADV_PAGEOUT)
        io1 = device_requests(ctx)
        t1 = ctx.engine.now
        ctx.metrics.update({
            "mthp_folios": size // (PAGE_SIZE << self.order),
            "mthp_swpout": stats["swpout"] - s0.get("swpout", 0),
            "mthp_swpout_fallback": stats["swpout_fallback"] - s0.get("swpout_fallback", 0),
            "mthp_split": stats["split"] - s0.get("split", 0),
            "discontig_swpout": getattr(m.design, "discontig_swpout", 0) - disc0,
            "pageout_pswpout": m.vmstat["pswpout"] - out0,
            "pageout_time_s": (ctx.engine.now - t0) / 1e9})
        for off in range(0, size, step):
            nb = min(step, size - off)
            got = yield ctx.op(task, m.read, thp, addr + off, nb)
            want = usemem_bytes(off, nb)
            for i in range(0, nb, PAGE_SIZE):
                self._check(ctx, got[i:i + PAGE_SIZE], want[i:i + PAGE_SIZE])
            ctx.advance(nb // PAGE_SIZE)
        io2 = device_requests(ctx)
        ctx.metrics.update({"swapout_writes": io2[1] - io0[1],
                            "readback_reads": io2[0] - io1[0],
                            "readback_time_s": (ctx.engine.now - t1) / 1e9})
        yield ctx.op(task, m.exit, thp)

    @staticmethod
    def _check(ctx: WorkloadContext, got: bytes, want: bytes) -> None:
        if got == want:
            ctx.verified_pages += 1
        else:
            ctx.data_loss += 1
