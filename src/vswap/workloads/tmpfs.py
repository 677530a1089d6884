"""``tmpfs``: a build whose objects live in tmpfs, swapping file pages instead of heap.

Models the swap-table series' kernel build on tmpfs (the objects of ``make`` written to a
tmpfs ``O=`` directory, so that memory pressure swaps shmem pages): ``-j`` compiler processes
each write ``--objects`` object files of ``--object-size`` into a tmpfs mount (``/build``,
``size=`` and ``huge=`` from the options; ``--memfd`` puts every object in a
``memfd_create`` file instead), then a link step reads every object back ``--links`` times
and the files are unlinked. Contents are compressible text-like pages (a quarter zero); every
byte read back is compared with what was written (besides the oracle's check of each swapped
page). Reported: ``shmem_swapped_peak`` (most file pages swapped at once), ``shmem_pages``
(pages written), the files' bytes and the read-back checks.

Command: ``tmpfs [-j N] [--objects N] [--object-size SIZE] [--links N] [--huge MODE]
[--size SIZE] [--memfd]``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.errors import ConfigError
from vswap.kernel.errors import DataLossError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.shmem import SHMEM_HUGE_MODES
from vswap.workloads._base import (
    USER_MEMSET_PAGE_NS,
    Workload,
    WorkloadParser,
    positive_int,
    size_arg,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling

if TYPE_CHECKING:
    from vswap.mm.shmem import ShmemInode
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

#: The mount point of the build directory.
MOUNT = "/build"


def object_page(job: int, obj: int, i: int) -> bytes:
    """Page ``i`` of object ``obj`` of job ``job``: a repeated 64-byte line naming it (every
    fourth page zero, as object files have zero-filled sections)."""
    if i % 4 == 3:
        return bytes(PAGE_SIZE)
    line = f"job {job:05d} obj {obj:05d} page {i:07d} ".encode().ljust(63, b".") + b"\n"
    return line * (PAGE_SIZE // 64)


class Tmpfs(Workload):
    """``tmpfs [-j N] [--objects N] [--object-size SIZE] [--links N] [--huge MODE]
    [--size SIZE] [--memfd]``."""

    name = "tmpfs"

    def __init__(self, command: str, *, jobs: int, objects: int, object_size: int,
                 links: int, huge: str, size: int | None, memfd: bool) -> None:
        super().__init__(command)
        self.jobs = jobs
        self.objects = objects
        self.object_size = object_size
        self.links = links
        self.huge = huge
        self.size = size
        self.memfd = memfd
        self._swapped_peak = 0

    SCALING: ClassVar[dict[str, Scaling]] = {
        "jobs": Scaling(KEPT, "compiler processes", always=True),
        "objects": Scaling(KEPT, "object files per process", always=True),
        "object_size": Scaling(SIZE, "bytes per object file"),
        "links": Scaling(KEPT, "link passes reading every object"),
        "huge": Scaling(KEPT, "tmpfs huge= mode"),
        "size": Scaling(SIZE, "bytes of the tmpfs mount"),
        "memfd": Scaling(KEPT, "objects in memfd_create files"),
    }

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("tmpfs")
        p.add_argument("-j", type=positive_int("tmpfs -j"), default=4, dest="jobs")
        p.add_argument("--objects", type=positive_int("tmpfs --objects"), default=8)
        p.add_argument("--object-size", type=size_arg("tmpfs --object-size"), default=256 << 10,
                       dest="object_size")
        p.add_argument("--links", type=positive_int("tmpfs --links"), default=1)
        p.add_argument("--huge", choices=SHMEM_HUGE_MODES, default="never")
        p.add_argument("--size", type=size_arg("tmpfs --size"), default=None)
        p.add_argument("--memfd", action="store_true")
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> Tmpfs:
        p = cls.parser()
        a = p.parse_args(argv)
        if a.object_size < PAGE_SIZE:
            p.error(f"--object-size {a.object_size} is smaller than one page")
        if a.size is not None and a.size < PAGE_SIZE:
            p.error(f"--size {a.size} is smaller than one page")
        return cls(command, jobs=a.jobs, objects=a.objects,
                   object_size=a.object_size - a.object_size % PAGE_SIZE, links=a.links,
                   huge=a.huge, size=a.size, memfd=a.memfd)

    def footprint_bytes(self) -> int:
        return self.jobs * self.objects * self.object_size

    def progress_total(self) -> int:
        return self.footprint_bytes() // PAGE_SIZE * (1 + self.links)

    def needs_device(self) -> bool:
        return False

    def start(self, ctx: WorkloadContext) -> None:
        m = ctx.machine
        if MOUNT not in m.tmpfs_mounts:
            try:
                m.tmpfs_mount(MOUNT, size=self.size, huge=self.huge)
            except Exception as exc:  # a KernelError from the mount options
                raise ConfigError(f"workload tmpfs: {exc}") from None
        files: list[list[ShmemInode]] = [[] for _ in range(self.jobs)]
        # A barrier is passed once: one after the compiles, one after the link.
        barriers = (ctx.barrier(self.jobs), ctx.barrier(self.jobs))
        for job in range(self.jobs):
            proc = m.spawn(f"cc{job}", ctx.cgroup)
            ctx.spawn(self._body, ctx, proc, job, files, barriers, name=f"cc{job}")

    def _body(self, task: CpuTask, ctx: WorkloadContext, proc: Any, job: int,
              files: list[list[ShmemInode]],
              barriers: tuple[Any, Any]) -> Generator[Event, Any, None]:
        m = ctx.machine
        pages = self.object_size // PAGE_SIZE
        for obj in range(self.objects):
            if self.memfd:
                f = m.memfd_create(f"cc{job}.{obj}.o")
            else:
                f = yield ctx.op(task, m.shmem_open, f"{MOUNT}/cc{job}.{obj}.o")
            files[job].append(f)
            for i in range(pages):
                yield ctx.op(task, m.shmem_write, proc, f, i * PAGE_SIZE,
                                  object_page(job, obj, i))
                yield ctx.user(task, USER_MEMSET_PAGE_NS)
                ctx.advance(1)
            self._note_swapped(ctx)
        yield from barriers[0].wait(task)
        # The link: job 0 reads every object of every job, --links times; the others wait.
        if job == 0:
            for _ in range(self.links):
                for j, objs in enumerate(files):
                    for obj, f in enumerate(objs):
                        for i in range(pages):
                            got = yield ctx.op(task, m.shmem_read, proc, f,
                                                    i * PAGE_SIZE, PAGE_SIZE)
                            if got != object_page(j, obj, i):
                                ctx.data_loss += 1
                                raise DataLossError(f"tmpfs: cc{j}.{obj}.o page {i} read back "
                                                    "differs from what was written")
                            ctx.verified_pages += 1
                            ctx.advance(self.jobs)
                    self._note_swapped(ctx)
        yield from barriers[1].wait(task)
        for obj, f in enumerate(files[job]):
            if self.memfd:
                yield ctx.op(task, m.shmem_close, f)
            else:
                yield ctx.op(task, m.shmem_unlink, f"{MOUNT}/cc{job}.{obj}.o")
        yield ctx.op(task, m.exit, proc)

    def _note_swapped(self, ctx: WorkloadContext) -> None:
        swapped = sum(i.swapped for i in ctx.machine.shmem_inodes.values())
        self._swapped_peak = max(self._swapped_peak, swapped)

    def finish(self, ctx: WorkloadContext) -> None:
        ctx.metrics["shmem_pages"] = self.footprint_bytes() // PAGE_SIZE
        ctx.metrics["shmem_swapped_peak"] = self._swapped_peak
        ctx.report_lines.append(
            f"tmpfs: {self.jobs} jobs x {self.objects} objects x {self.object_size} bytes in "
            f"{'memfd files' if self.memfd else MOUNT}, peak {self._swapped_peak} pages "
            f"swapped, {self.links} link pass(es) verified")
