"""``swapoff``: fill a swap device to a fraction with live tasks, then swap it off.

Models the RFC's swapoff benchmark ("32 GB swapfile, 50% full, with a process that has
mmap'ed a 128 GB file"): ``--tasks N`` processes write usemem content (every word its index)
into regions that add up to ``--fill`` of the first swap device and push every page out with
``MADV_PAGEOUT`` as they go, so the device holds exactly those pages; as in the kernel, those
written to a swap file stay in the swap cache until reclaim passes again, and
``--drop-swapcache`` makes one ``memory.reclaim`` drop them before swapoff, so swapoff reads
them from the device as the RFC's did (the RFC's table and examples use it). An unrelated process
maps ``--unrelated SIZE`` and writes one page per 2 MiB, so the classic page-table walk has
page tables to visit that hold no swap entry (the RFC's big mapping). Then a ``swapoff``
task turns the device off while everyone is alive, and the fill tasks read every page back
and check it.

Reported (the result's ``swapoff``): the swapoff task's own real and sys time (what
``time swapoff`` prints), the PTEs the classic walk visited, pages read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.errors import ConfigError
from vswap.kernel.errors import KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_PAGEOUT
from vswap.units import parse_size
from vswap.workloads._base import (
    USER_WORD_NS,
    Workload,
    WorkloadParser,
    positive_int,
    read_back_usemem,
    usemem_data,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling

if TYPE_CHECKING:
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

CHUNK_PAGES = 16
#: Pages the unrelated process maps per page it writes: one per page table (2 MiB).
UNRELATED_STRIDE_PAGES = 512


class SwapoffWorkload(Workload):
    """``swapoff [--fill F] [--tasks N] [--unrelated SIZE] [--drop-swapcache]``."""

    name = "swapoff"

    def __init__(self, command: str, *, fill: float, tasks: int, unrelated: int,
                 drop_swapcache: bool = False) -> None:
        super().__init__(command)
        self.drop_swapcache = drop_swapcache
        self.fill = fill
        self.tasks = tasks
        self.unrelated = unrelated
        self.device_bytes = 0

    SCALING: ClassVar[dict[str, Scaling]] = {
        "unrelated": Scaling(SIZE, "bytes of the unrelated mapping"),
        "fill": Scaling(KEPT, "fraction of the first swap device, whose size scales", always=True),
        "tasks": Scaling(KEPT, "filling processes", always=True),
    }

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("swapoff")
        p.add_argument("--fill", type=float, default=0.5)
        p.add_argument("--tasks", type=positive_int("swapoff --tasks"), default=4)
        p.add_argument("--unrelated", default="0")
        p.add_argument("--drop-swapcache", action="store_true")
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> SwapoffWorkload:
        p = cls.parser()
        a = p.parse_args(argv)
        if not 0.0 < a.fill <= 0.95:
            p.error(f"--fill {a.fill}: must be in (0, 0.95]")
        return cls(command, fill=a.fill, tasks=a.tasks,
                   unrelated=parse_size(a.unrelated, what="swapoff --unrelated"),
                   drop_swapcache=a.drop_swapcache)

    def needs_device(self) -> bool:
        return True

    def set_device_bytes(self, nbytes: int) -> None:
        """The size of the device to fill (the run's first swap device)."""
        self.device_bytes = nbytes

    def fill_pages(self) -> int:
        return int(self.device_bytes // PAGE_SIZE * self.fill)

    def footprint_bytes(self) -> int:
        return self.fill_pages() * PAGE_SIZE + \
            self.unrelated // (UNRELATED_STRIDE_PAGES * PAGE_SIZE) * PAGE_SIZE

    def progress_total(self) -> int:
        return 2 * self.fill_pages()

    def expected_ns(self) -> int:
        return max(self.fill_pages() * 30_000 // self.tasks, 1_000_000)

    def start(self, ctx: WorkloadContext) -> None:
        if not ctx.device_records:
            raise ConfigError("workload swapoff: needs a swap device (--swap-device)")
        rec = next(iter(ctx.device_records.values()))
        device = rec["_si"].name
        total = self.fill_pages()
        m = ctx.machine
        filled = ctx.barrier(self.tasks + 2)
        done = ctx.engine.event()
        share, extra = divmod(total, self.tasks)
        for i in range(self.tasks):
            n = share + (1 if i < extra else 0)
            proc = m.spawn(f"filler-{i}", ctx.cgroup)
            ctx.spawn(self._filler, ctx, proc, n, filled, done, name=f"filler-{i}")
        proc = m.spawn("mapper", ctx.cgroup)
        ctx.spawn(self._unrelated, ctx, proc, filled, done, name="mapper")
        ctx.spawn(self._swapoff, ctx, device, filled, done, name="swapoff")

    def _filler(self, task: CpuTask, ctx: WorkloadContext, proc: Any, npages: int,
                filled: Any, done: Event) -> Generator[Event, Any, None]:
        m = ctx.machine
        size = npages * PAGE_SIZE
        addr = 0
        if npages:
            addr = yield ctx.op(task, m.mmap, proc, size)
            step = CHUNK_PAGES * PAGE_SIZE
            for off in range(0, size, step):
                nb = min(step, size - off)
                yield ctx.op(task, m.write, proc, addr + off, usemem_data(m, off, nb))
                yield ctx.user(task, nb // 8 * USER_WORD_NS)
                yield ctx.op(task, m.madvise, proc, addr + off, nb, MADV_PAGEOUT)
                ctx.advance(nb // PAGE_SIZE)
        yield from filled.wait(task)
        yield task.block(done)
        if npages:
            step = CHUNK_PAGES * PAGE_SIZE
            yield from read_back_usemem(ctx, task, proc, addr, size, step)
        yield ctx.op(task, m.exit, proc)

    def _unrelated(self, task: CpuTask, ctx: WorkloadContext, proc: Any, filled: Any,
                   done: Event) -> Generator[Event, Any, None]:
        m = ctx.machine
        if self.unrelated >= PAGE_SIZE:
            size = self.unrelated - self.unrelated % PAGE_SIZE
            addr = yield ctx.op(task, m.mmap, proc, size)
            for off in range(0, size, UNRELATED_STRIDE_PAGES * PAGE_SIZE):
                yield ctx.op(task, m.write, proc, addr + off, b"\x01" * 8)
        yield from filled.wait(task)
        yield task.block(done)
        yield ctx.op(task, m.exit, proc)

    def _swapoff(self, task: CpuTask, ctx: WorkloadContext, device: str, filled: Any,
                 done: Event) -> Generator[Event, Any, None]:
        m = ctx.machine
        yield from filled.wait(task)
        # MADV_PAGEOUT's folios written to a swap file stay in the swap cache, clean, until
        # reclaim passes again (shrink_folio_list rotates them when writeback ends); the
        # RFC's swapoff read its half-full swapfile from the disk, so --drop-swapcache
        # makes one proactive reclaim (memory.reclaim of the swap cache's size: those
        # folios sit at the inactive tail) drop them first, as memory pressure would.
        cached = m.nr_swapcached() * PAGE_SIZE if self.drop_swapcache else 0
        if cached:
            with contextlib.suppress(KernelError):
                m.cgroup_write(ctx.cgroup, "memory.reclaim", str(cached))
        # Room for every page to come back (the RFC's host had the memory).
        m.cgroup_write(ctx.cgroup, "memory.max", "max")
        ctx.snapshot_metadata()
        t0 = ctx.engine.now
        sys0 = task.sys_ns
        # The other tasks wait for `done`: what is recorded between the marks is swapoff's.
        ctx.mark("swapoff_begin")
        result = yield ctx.op(task, m.swapoff, device)
        ctx.mark("swapoff_end")
        real = ctx.engine.now - t0
        sys = task.sys_ns - sys0
        ctx.swapoff.update({
            "ptes_visited": int(result.ptes_visited), "pages_read": int(result.pages_read),
            "real_s": real / 1e9, "sys_s": sys / 1e9, "completed": bool(result.completed)})
        ctx.report_lines.append(
            f"swapoff {device}: real {real / 1e9:.6f} s, sys {sys / 1e9:.6f} s, "
            f"{result.pages_read} pages read, {result.ptes_visited} PTEs visited"
            + ("" if result.completed else f" (failed: {result.error})"))
        done.succeed()

    def finish(self, ctx: WorkloadContext) -> None:
        for k in ("real_s", "sys_s"):
            if k in ctx.swapoff:
                ctx.metrics["swapoff_" + k] = ctx.swapoff[k]
