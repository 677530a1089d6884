"""``uffd-move``: swap a region out, move it with ``UFFDIO_MOVE``, read it back moved.

Models the use of ``UFFDIO_MOVE`` by a userfaultfd monitor (a live-migration receiver, a
compacting garbage collector): a process maps a staging region and a destination region it
registers with a userfaultfd (``UFFDIO_REGISTER``), writes ``--size`` of usemem content into
the staging region and pushes ``--swapped`` of it out with ``MADV_PAGEOUT``. A second
process, the monitor holding the userfaultfd, moves the staging region onto the destination
``--chunk`` pages per ioctl (:meth:`Machine.uffdio_move
<vswap.mm.userfaultfd.UserfaultfdMixin.uffdio_move>`): swapped-out pages move as their swap
PTEs, the swap entries unchanged. Then the process reads the destination (every page
compared with what was written: swapped pages fault in there) and the staging region (every
page must now read as zeros). ``UFFDIO_MOVE`` acts within the mm the userfaultfd belongs to,
so both regions are the first process's; the monitor only issues the ioctls.

Reported: pages moved by kind (swap PTEs, of which with a swap-cache folio; present; zero),
ioctl errors, and the monitor's time (``uffd_move_s``).

Command: ``uffd-move [--size SIZE] [--swapped F] [--chunk PAGES]``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_PAGEOUT
from vswap.workloads._base import (
    USER_WORD_NS,
    Workload,
    WorkloadParser,
    positive_int,
    size_arg,
    usemem_bytes,
    usemem_data,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling

if TYPE_CHECKING:
    from vswap.sim.cpus import Task as CpuTask
    from vswap.workloads.context import TaskBarrier, WorkloadContext

CHUNK_PAGES = 16


class UffdMove(Workload):
    """``uffd-move [--size SIZE] [--swapped F] [--chunk PAGES]``."""

    name = "uffd-move"

    def __init__(self, command: str, *, size: int, swapped: float, chunk: int) -> None:
        super().__init__(command)
        self.size = size
        self.swapped = swapped
        self.chunk = chunk
        self.regions: tuple[Any, int, int] | None = None
        self.errors = 0
        self.elapsed_ns = 0
        self.moved_pages = 0

    SCALING: ClassVar[dict[str, Scaling]] = {
        "size": Scaling(SIZE, "bytes of the region moved"),
        "swapped": Scaling(KEPT, "fraction paged out before the move"),
        "chunk": Scaling(KEPT, "pages per UFFDIO_MOVE"),
    }

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("uffd-move")
        p.add_argument("--size", type=size_arg("uffd-move --size"), default=16 << 20)
        p.add_argument("--swapped", type=float, default=1.0)
        p.add_argument("--chunk", type=positive_int("uffd-move --chunk"), default=CHUNK_PAGES)
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> UffdMove:
        p = cls.parser()
        a = p.parse_args(argv)
        if a.size < PAGE_SIZE:
            p.error(f"--size {a.size} is smaller than one page")
        if not 0.0 <= a.swapped <= 1.0:
            p.error(f"--swapped {a.swapped}: must be in [0, 1]")
        return cls(command, size=a.size - a.size % PAGE_SIZE, swapped=a.swapped,
                   chunk=a.chunk)

    def footprint_bytes(self) -> int:
        return self.size

    def progress_total(self) -> int:
        return 4 * (self.size // PAGE_SIZE)

    def needs_device(self) -> bool:
        return False

    def start(self, ctx: WorkloadContext) -> None:
        m = ctx.machine
        filled = ctx.barrier(2)
        moved = ctx.barrier(2)
        proc = m.spawn("app", ctx.cgroup)
        monitor = m.spawn("monitor", ctx.cgroup)
        ctx.spawn(self._app, ctx, proc, filled, moved, name="app")
        ctx.spawn(self._monitor, ctx, monitor, proc, filled, moved, name="monitor")

    def _app(self, task: CpuTask, ctx: WorkloadContext, proc: Any, filled: TaskBarrier,
             moved: TaskBarrier) -> Generator[Any, Any, None]:
        m = ctx.machine
        size = self.size
        step = CHUNK_PAGES * PAGE_SIZE
        src = yield ctx.op(task, m.mmap, proc, size)
        dst = yield ctx.op(task, m.mmap, proc, size)
        yield ctx.op(task, m.uffdio_register, proc, dst, size)
        for off in range(0, size, step):
            nb = min(step, size - off)
            yield ctx.op(task, m.write, proc, src + off, usemem_data(m, off, nb))
            yield ctx.user(task, nb // 8 * USER_WORD_NS)
            ctx.advance(nb // PAGE_SIZE)
        out = int(size // PAGE_SIZE * self.swapped) * PAGE_SIZE
        if out:
            yield ctx.op(task, m.madvise, proc, src, out, MADV_PAGEOUT)
        self.regions = (proc, src, dst)
        yield from filled.wait(task)
        yield from moved.wait(task)
        zero = bytes(PAGE_SIZE)
        for off in range(0, size, step):
            nb = min(step, size - off)
            got = yield ctx.op(task, m.read, proc, dst + off, nb)
            want = usemem_bytes(off, nb)
            old = yield ctx.op(task, m.read, proc, src + off, nb)
            for i in range(0, nb, PAGE_SIZE):
                ok = got[i:i + PAGE_SIZE] == want[i:i + PAGE_SIZE] and \
                    old[i:i + PAGE_SIZE] == zero
                if ok:
                    ctx.verified_pages += 1
                else:
                    ctx.data_loss += 1
            ctx.advance(2 * (nb // PAGE_SIZE))
        yield ctx.op(task, m.exit, proc)

    def _monitor(self, task: CpuTask, ctx: WorkloadContext, monitor: Any, proc: Any,
                 filled: TaskBarrier, moved: TaskBarrier) -> Generator[Any, Any, None]:
        m = ctx.machine
        yield from filled.wait(task)
        if self.regions is None:
            raise ConfigError("workload uffd-move: the process did not map its regions")
        _proc, src, dst = self.regions
        t0 = ctx.engine.now
        step = self.chunk * PAGE_SIZE
        for off in range(0, self.size, step):
            nb = min(step, self.size - off)
            got = yield ctx.op(task, m.uffdio_move, proc, dst + off, src + off, nb)
            if got < 0:
                self.errors += 1
            else:
                self.moved_pages += got // PAGE_SIZE
            ctx.advance(nb // PAGE_SIZE)
        self.elapsed_ns = ctx.engine.now - t0
        yield from moved.wait(task)
        yield ctx.op(task, m.exit, monitor)

    def finish(self, ctx: WorkloadContext) -> None:
        if self.regions is None:
            ctx.report_lines.append("uffd-move: the process died before the move (killed)")
            return
        st = ctx.machine.uffd_stats
        ctx.metrics.update({
            "uffd_moved_pages": self.moved_pages,
            "uffd_moved_swap": st.swap,
            "uffd_moved_swapcache": st.swapcache,
            "uffd_moved_present": st.present,
            "uffd_moved_zero": st.zero,
            "uffd_errors": self.errors,
            "uffd_move_s": self.elapsed_ns / 1e9,
        })
        ctx.report_lines.append(
            f"uffd-move: {self.moved_pages} pages moved ({st.swap} swap PTEs, {st.swapcache} "
            f"with a swap-cache folio; {st.present} present, {st.zero} zero), "
            f"{self.errors} ioctl errors, {self.elapsed_ns / 1e9:.6f} s")
