"""``stress-ng --pageswap N``: workers that push pages out with MADV_PAGEOUT and touch them
back; the load Nhat Pham used to expose swap-cache lock contention in the RFC.

Models: stress-ng's pageswap stressor: each worker maps pages one at a time, stores a small
``page_info`` record at the start of each (its own address, the previous page's address,
the size: a linked list through the pages; the rest of the page stays zero), pages each out
with ``madvise(MADV_PAGEOUT)``, then walks the list back from the newest page, checking each
record (which swaps it in, or on a swap file finds it still in the swap cache: the kernel
keeps a folio written there until reclaim needs it, see vswap.mm.vmscan), and unmaps it.
One page through this cycle is one bogo op.
``--pageswap-ops M`` stops after M bogo ops in all (split evenly over the workers); each
round handles up to :data:`ROUND_PAGES` pages. The pages are almost all zeros but not zero
pages, so they go to zswap or the device, never the zero map.
"""

from __future__ import annotations

import struct
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_PAGEOUT
from vswap.workloads._base import Workload, WorkloadParser, positive_int
from vswap.workloads._scale import KEPT, Scaling

if TYPE_CHECKING:
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

#: Pages a worker maps and pages out before walking them back.
ROUND_PAGES = 256
#: User time per page and step (store or check the 24-byte record, loop): estimate.
USER_PER_PAGE_NS = 100
_REC = struct.Struct("<QQQ")


class StressNgPageswap(Workload):
    """``stress-ng --pageswap N [--pageswap-ops M]``."""

    name = "stress-ng"

    def __init__(self, command: str, *, workers: int, ops: int) -> None:
        super().__init__(command)
        self.workers = workers
        self.ops = ops
        self.done_ops = 0

    SCALING: ClassVar[dict[str, Scaling]] = {
        "pageswap": Scaling(KEPT, "workers", always=True),
        "pageswap_ops": Scaling(KEPT, "bogo ops, one page each", always=True),
    }

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("stress-ng")
        p.add_argument("--pageswap", type=positive_int("stress-ng --pageswap"), required=True)
        p.add_argument("--pageswap-ops", type=positive_int("stress-ng --pageswap-ops"),
                       default=1024)
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> StressNgPageswap:
        a = cls.parser().parse_args(argv)
        return cls(command, workers=a.pageswap, ops=a.pageswap_ops)

    def footprint_bytes(self) -> int:
        return self.workers * min(ROUND_PAGES, -(-self.ops // self.workers)) * PAGE_SIZE

    def progress_total(self) -> int:
        return self.ops

    def expected_ns(self) -> int:
        return max(self.ops * 30_000 // self.workers, 1_000_000)

    def start(self, ctx: WorkloadContext) -> None:
        share, extra = divmod(self.ops, self.workers)
        for w in range(self.workers):
            n = share + (1 if w < extra else 0)
            if n:
                proc = ctx.machine.spawn(f"stress-ng-pageswap-{w}", ctx.cgroup)
                ctx.spawn(self._body, ctx, proc, n, name=f"stress-ng-pageswap-{w}")

    def _body(self, task: CpuTask, ctx: WorkloadContext, proc: Any, nops: int
              ) -> Generator[Event, Any, None]:
        m = ctx.machine
        left = nops
        while left:
            n = min(ROUND_PAGES, left)
            pages: list[int] = []
            prev = 0
            for _ in range(n):
                addr = yield ctx.op(task, m.mmap, proc, PAGE_SIZE)
                yield ctx.op(task, m.write, proc, addr, _REC.pack(addr, prev, PAGE_SIZE))
                yield ctx.op(task, m.madvise, proc, addr, PAGE_SIZE, MADV_PAGEOUT)
                yield ctx.user(task, USER_PER_PAGE_NS)
                pages.append(addr)
                prev = addr
            for i in range(n - 1, -1, -1):
                addr = pages[i]
                got = yield ctx.op(task, m.read, proc, addr, _REC.size)
                want = _REC.pack(addr, pages[i - 1] if i else 0, PAGE_SIZE)
                if got != want:
                    ctx.data_loss += 1
                else:
                    ctx.verified_pages += 1
                yield ctx.user(task, USER_PER_PAGE_NS)
                yield ctx.op(task, m.munmap, proc, addr, PAGE_SIZE)
                ctx.advance(1)
            left -= n
            self.done_ops += n
        yield ctx.op(task, m.exit, proc)

    def finish(self, ctx: WorkloadContext) -> None:
        real_s = ctx.cpus.statistics().real_ns / 1e9
        ctx.metrics["bogo_ops"] = self.done_ops
        ctx.metrics["bogo_ops_per_s"] = self.done_ops / real_s if real_s else 0.0
        ctx.report_lines.append(
            f"stress-ng: info: pageswap {self.done_ops} bogo ops in {real_s:.3f} s "
            f"({ctx.metrics['bogo_ops_per_s']:.1f} bogo ops/s)")
