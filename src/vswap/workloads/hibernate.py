"""``hibernate``: fill memory, hibernate to swap, resume, and check every page.

Models the swap side of ``echo disk > /sys/power/state`` (kernel/power/swap.c, with seed
patch 05's physical-slot API): ``--tasks`` processes write ``--size`` of usemem content in
all and push ``--swapped`` of each region out with ``MADV_PAGEOUT``, so the machine holds
some pages in swap and some resident; then one task hibernates (:meth:`Machine.hibernate
<vswap.mm.hibernate.HibernateMixin.hibernate>`): memory is shrunk to ``--image``
(``/sys/power/image_size``; default 2/5 of RAM), the resident pages are written as an image
to physical slots of the first swap device, read back at "resume" and compared page by page,
and the image slots are freed. Then every process reads its whole region back (swapped
pages fault in) and compares every page.

Reported: the image (data pages, slots, extents), the pages reclaimed to fit it, the swap
pages kept across hibernation, the image pages verified at resume, and the time the
hibernate task took (``hibernate_s``).

Command: ``hibernate [--size SIZE] [--image SIZE] [--tasks N] [--swapped F]``.
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
    read_back_usemem,
    size_arg,
    usemem_data,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling

if TYPE_CHECKING:
    from vswap.mm.hibernate import HibernateResult
    from vswap.sim.cpus import Task as CpuTask
    from vswap.workloads.context import TaskBarrier, WorkloadContext

CHUNK_PAGES = 16


class Hibernate(Workload):
    """``hibernate [--size SIZE] [--image SIZE] [--tasks N] [--swapped F]``."""

    name = "hibernate"

    def __init__(self, command: str, *, size: int, image: int | None, tasks: int,
                 swapped: float) -> None:
        super().__init__(command)
        self.size = size
        self.image = image
        self.tasks = tasks
        self.swapped = swapped
        self.result: HibernateResult | None = None
        self.elapsed_ns = 0

    SCALING: ClassVar[dict[str, Scaling]] = {
        "size": Scaling(SIZE, "bytes written by the processes in all"),
        "image": Scaling(SIZE, "bytes of /sys/power/image_size"),
        "tasks": Scaling(KEPT, "processes", always=True),
        "swapped": Scaling(KEPT, "fraction of each region paged out before hibernation"),
    }

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("hibernate")
        p.add_argument("--size", type=size_arg("hibernate --size"), default=16 << 20)
        p.add_argument("--image", type=size_arg("hibernate --image"), default=None)
        p.add_argument("--tasks", type=positive_int("hibernate --tasks"), default=2)
        p.add_argument("--swapped", type=float, default=0.5)
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> Hibernate:
        p = cls.parser()
        a = p.parse_args(argv)
        if a.size < PAGE_SIZE:
            p.error(f"--size {a.size} is smaller than one page")
        if not 0.0 <= a.swapped <= 1.0:
            p.error(f"--swapped {a.swapped}: must be in [0, 1]")
        return cls(command, size=a.size - a.size % PAGE_SIZE, image=a.image, tasks=a.tasks,
                   swapped=a.swapped)

    def footprint_bytes(self) -> int:
        return self.size

    def progress_total(self) -> int:
        return 2 * (self.size // PAGE_SIZE)

    def needs_device(self) -> bool:
        return True

    def start(self, ctx: WorkloadContext) -> None:
        if not ctx.device_records:
            raise ConfigError("workload hibernate: needs a swap device (--swap-device)")
        m = ctx.machine
        filled = ctx.barrier(self.tasks + 1)
        resumed = ctx.barrier(self.tasks + 1)
        share, extra = divmod(self.size // PAGE_SIZE, self.tasks)
        for i in range(self.tasks):
            n = share + (1 if i < extra else 0)
            proc = m.spawn(f"hib-{i}", ctx.cgroup)
            ctx.spawn(self._process, ctx, proc, n, filled, resumed, name=f"hib-{i}")
        ctx.spawn(self._hibernate, ctx, filled, resumed, name="hibernate")

    def _process(self, task: CpuTask, ctx: WorkloadContext, proc: Any, npages: int,
                 filled: TaskBarrier, resumed: TaskBarrier) -> Generator[Any, Any, None]:
        m = ctx.machine
        size = npages * PAGE_SIZE
        addr = 0
        step = CHUNK_PAGES * PAGE_SIZE
        if npages:
            addr = yield ctx.op(task, m.mmap, proc, size)
            out = int(npages * self.swapped) * PAGE_SIZE
            for off in range(0, size, step):
                nb = min(step, size - off)
                yield ctx.op(task, m.write, proc, addr + off, usemem_data(m, off, nb))
                yield ctx.user(task, nb // 8 * USER_WORD_NS)
                ctx.advance(nb // PAGE_SIZE)
            if out:
                yield ctx.op(task, m.madvise, proc, addr, out, MADV_PAGEOUT)
        yield from filled.wait(task)
        yield from resumed.wait(task)
        yield from read_back_usemem(ctx, task, proc, addr, size, step)
        yield ctx.op(task, m.exit, proc)

    def _hibernate(self, task: CpuTask, ctx: WorkloadContext, filled: TaskBarrier,
                   resumed: TaskBarrier) -> Generator[Any, Any, None]:
        m = ctx.machine
        yield from filled.wait(task)
        t0 = ctx.engine.now
        self.result = yield ctx.op(task, m.hibernate, None, self.image)
        self.elapsed_ns = ctx.engine.now - t0
        yield from resumed.wait(task)

    def finish(self, ctx: WorkloadContext) -> None:
        r = self.result
        if r is None:
            ctx.report_lines.append("hibernate: not reached (a process died before it)")
            return
        ctx.metrics.update({
            "hibernate_completed": int(r.completed),
            "hibernate_image_pages": r.image_pages,
            "hibernate_slots": r.slots,
            "hibernate_extents": r.extents,
            "hibernate_reclaimed": r.preallocated_reclaimed,
            "hibernate_swapped_kept": r.swapped_pages,
            "hibernate_verified": r.pages_verified,
            "hibernate_s": self.elapsed_ns / 1e9,
        })
        if r.completed:
            ctx.report_lines.append(
                f"hibernate to {r.device}: image {r.image_pages} pages in {r.slots} slots "
                f"({r.extents} extents), {r.preallocated_reclaimed} pages reclaimed to fit, "
                f"{r.swapped_pages} swap pages kept, {r.pages_verified} image pages verified "
                f"at resume, {self.elapsed_ns / 1e9:.6f} s")
        else:
            ctx.report_lines.append(f"hibernate to {r.device or 'swap'}: failed ({r.error})")
