"""``memhog``: numactl's memory hog, as used for the v5/v6 regression reports.

Models: ``memhog`` of numactl (``memhog [-rNUM] SIZE``): map ``SIZE`` of anonymous memory
and fill it with ``memset`` (byte 0xff), ``NUM`` times (default once), then exit. The result
is the run's real time (``time memhog 48G``). Pages are never zero and compress extremely
well. User time per page is a 4 KiB memset (:data:`USER_MEMSET_PAGE_NS`). memhog never reads
its memory back; pages it rewrites (``-r``) are checked by the oracle as they swap in.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.kernel.types import PAGE_SIZE
from vswap.workloads._base import (
    USER_MEMSET_PAGE_NS,
    Workload,
    WorkloadParser,
    positive_int,
    size_arg,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling

if TYPE_CHECKING:
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

#: Pages per kernel operation.
CHUNK_PAGES = 16
#: The byte memhog's memset writes.
FILL_BYTE = 0xFF


class Memhog(Workload):
    """``memhog [-r NUM] SIZE``."""

    name = "memhog"

    def __init__(self, command: str, *, size: int, repeat: int = 1) -> None:
        super().__init__(command)
        self.size = size
        self.repeat = repeat

    SCALING: ClassVar[dict[str, Scaling]] = {
        "size": Scaling(SIZE, "bytes"),
        "repeat": Scaling(KEPT, "fills"),
    }

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("memhog")
        p.add_argument("-r", type=positive_int("memhog -r"), default=1, dest="repeat")
        p.add_argument("size", type=size_arg("memhog size"))
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> Memhog:
        p = cls.parser()
        a = p.parse_args(argv)
        if a.size < PAGE_SIZE:
            p.error(f"size {a.size} is smaller than one page")
        return cls(command, size=a.size - a.size % PAGE_SIZE, repeat=a.repeat)

    def footprint_bytes(self) -> int:
        return self.size

    def progress_total(self) -> int:
        return self.size // PAGE_SIZE * self.repeat

    def start(self, ctx: WorkloadContext) -> None:
        proc = ctx.machine.spawn("memhog", ctx.cgroup)
        ctx.spawn(self._body, ctx, proc, name="memhog")

    def _body(self, task: CpuTask, ctx: WorkloadContext, proc: Any) -> Generator[Event, Any, None]:
        m = ctx.machine
        addr = yield ctx.op(task, m.mmap, proc, self.size)
        step = CHUNK_PAGES * PAGE_SIZE
        chunk = bytes([FILL_BYTE]) * step
        for _ in range(self.repeat):
            for off in range(0, self.size, step):
                nb = min(step, self.size - off)
                yield ctx.op(task, m.write, proc, addr + off, chunk[:nb])
                yield ctx.user(task, nb // PAGE_SIZE * USER_MEMSET_PAGE_NS)
                ctx.advance(nb // PAGE_SIZE)
        yield ctx.op(task, m.exit, proc)
