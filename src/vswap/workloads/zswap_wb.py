"""``zswap-wb``: fill zswap, write it back to the swap device, read everything back.

The workload of the zswap writeback use case (docs/future.md, "zswap writeback at writeback
time"): one process writes ``--size`` of usemem content and pages it out (``MADV_PAGEOUT``):
every page is stored in zswap. Then, timed, the zswap shrinker's scan (``SHRINK_BATCH`` =
128 entries at a time, oldest first, as ``do_shrink_slab`` calls ``zswap_shrinker_scan``)
writes ``--writeback`` of the stored entries back to the device, per page or in batches as
zswap's ``writeback_batch_size`` and ``writeback_compressed`` say; with the shrinker off
again, reclaim drops the written folios from the swap cache. Finally, timed, every page is
read back in order and checked.

Reported (``metrics``): the pages stored and written back, the writeback phase's modelled
time (``writeback_s``) and its ``pswpout``, and the read-back's time (``swapin_s``) with its
``pswpin`` and major faults (the device's write requests and bytes are the result's device
statistics: nothing else writes to the device). The phases are separate so each time is the
phase's alone; the shrinker is the same one memory pressure runs (``shrink_slab``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_PAGEOUT
from vswap.units import parse_size
from vswap.workloads._base import (
    USER_WORD_NS,
    Workload,
    WorkloadParser,
    read_back_usemem,
    usemem_data,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling

if TYPE_CHECKING:
    from vswap.mm.mm_types import Task as MmTask
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

__all__ = ["ZswapWb"]

CHUNK_PAGES = 16
#: ``SHRINK_BATCH`` (mm/shrinker.c): the entries one ``zswap_shrinker_scan`` call walks.
SHRINK_BATCH = 128
PARAMS = "/sys/module/zswap/parameters/"


class ZswapWb(Workload):
    """``zswap-wb [--size S] [--writeback F]``."""

    name = "zswap-wb"

    SCALING: ClassVar[dict[str, Scaling]] = {
        "size": Scaling(SIZE, "bytes written, paged out and written back"),
        "writeback": Scaling(KEPT, "fraction of the zswap entries written back", always=True),
    }

    def __init__(self, command: str, *, size: int, writeback: float) -> None:
        super().__init__(command)
        self.size = size
        self.writeback = writeback

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("zswap-wb")
        p.add_argument("--size", default="64M")
        p.add_argument("--writeback", type=float, default=1.0)
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> ZswapWb:
        p = cls.parser()
        a = p.parse_args(argv)
        size = parse_size(a.size, what="zswap-wb --size")
        if size < CHUNK_PAGES * PAGE_SIZE:
            p.error(f"--size {a.size}: at least {CHUNK_PAGES} pages")
        if not 0.0 <= a.writeback <= 1.0:
            p.error(f"--writeback {a.writeback}: must be in [0, 1]")
        return cls(command, size=size, writeback=a.writeback)

    def pages(self) -> int:
        return self.size // PAGE_SIZE

    def footprint_bytes(self) -> int:
        return self.pages() * PAGE_SIZE

    def progress_total(self) -> int:
        return 2 * self.pages()

    def start(self, ctx: WorkloadContext) -> None:
        m = ctx.machine
        if m.zswap is None:
            raise ConfigError("workload zswap-wb: needs zswap (--zswap)")
        proc = m.spawn("zswap-wb", ctx.cgroup)
        ctx.spawn(self._body, ctx, proc, name="zswap-wb")

    def _body(self, task: CpuTask, ctx: WorkloadContext, proc: MmTask
              ) -> Generator[Event, Any, None]:
        m = ctx.machine
        zswap = m.zswap
        assert zswap is not None
        n = self.pages()
        size = n * PAGE_SIZE
        step = CHUNK_PAGES * PAGE_SIZE
        addr = yield ctx.op(task, m.mmap, proc, size)
        for off in range(0, size, step):
            nb = min(step, size - off)
            yield ctx.op(task, m.write, proc, addr + off, usemem_data(m, off, nb))
            yield ctx.user(task, nb // 8 * USER_WORD_NS)
        yield ctx.op(task, m.madvise, proc, addr, size, MADV_PAGEOUT)
        stored = zswap.stored_pages
        vm = m.vmstat
        out0 = vm["pswpout"]
        t0 = ctx.engine.now
        done = yield from self._write_back(task, ctx, int(stored * self.writeback))
        wb_ns = ctx.engine.now - t0
        v0 = {k: vm[k] for k in ("pswpin", "pgmajfault")}
        t1 = ctx.engine.now
        yield from read_back_usemem(ctx, task, proc, addr, size, step)
        ctx.metrics.update({
            "zswap_stored": stored, "written_back": done, "writeback_s": wb_ns / 1e9,
            "wb_pswpout": vm["pswpout"] - out0,
            "swapin_s": (ctx.engine.now - t1) / 1e9,
            **{f"readback_{k}": vm[k] - v for k, v in v0.items()}})
        ctx.report_lines.append(
            f"zswap-wb: {stored} pages stored in zswap, {done} written back in "
            f"{wb_ns / 1e6:.3f} ms")
        yield ctx.op(task, m.exit, proc)

    def _write_back(self, task: CpuTask, ctx: WorkloadContext, target: int
                    ) -> Generator[Event, Any, int]:
        """The shrinker's scans until ``target`` entries are written back, then reclaim of
        the written folios left in the swap cache (shrinker off)."""
        m = ctx.machine
        zswap = m.zswap
        assert zswap is not None
        memcg = m.memcgs.lookup(ctx.cgroup)
        m.sysfs_write(PARAMS + "shrinker_enabled", "Y")
        done = 0
        # Entries start referenced: the first pass over the LRU only rotates them (second
        # chance), so allow two passes' worth of scans.
        tries = 2 * (zswap.stored_pages // SHRINK_BATCH + 1)
        while done < target and tries > 0:
            got = yield ctx.op(task, zswap.zswap_shrinker_scan, memcg,
                                    min(SHRINK_BATCH, target - done))
            done += max(got, 0)
            tries -= 1
            ctx.advance(max(got, 0))
        m.sysfs_write(PARAMS + "shrinker_enabled", "N")
        yield ctx.op(task, m.try_to_free_pages, self.pages())
        return done
