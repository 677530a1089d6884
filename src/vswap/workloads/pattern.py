"""``pattern`` and ``pageout``: fill one region with a content class, swap it, read it back.

Models: the host programs of the same names (``src/vswap/host/hostwl.c``), which run the
same steps on the real kernel, so ``vswap parity`` compares like with like. Contents are
:mod:`vswap.workloads.content` (zero, random, text, mixed; usemem too), byte-for-byte the
host program's.

* ``pattern --size S --content C [--passes N]``: one process maps ``S`` of anonymous memory;
  each pass writes every page in order (a ``zero`` page is written with text first and then
  zeroed), then reads every page in order and checks it. Memory pressure (``memory.max``)
  swaps the region out while it is written and back in while it is read.
* ``pageout --size S --content C``: one process writes every page in order, then
  ``madvise(MADV_PAGEOUT)`` of the whole region in one call, then reads every page back in
  order and checks it.

Both then unmap the region (``usecs to free memory``) and exit. The user time of a page
written is one 4 KiB copy plus generating the content (:data:`USER_CONTENT_NS`); of a page
checked, generating it plus one 4 KiB compare. Pages move in kernel operations of
:data:`CHUNK_PAGES` pages, as usemem's walk does.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.kernel.pagedata import PageRun
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_PAGEOUT
from vswap.workloads._base import (
    USER_MEMSET_PAGE_NS,
    USER_WORD_NS,
    Workload,
    WorkloadParser,
    positive_int,
    size_arg,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling
from vswap.workloads.content import (
    CONTENTS,
    content_token,
    page_class,
    page_content,
    write_sequence,
)

if TYPE_CHECKING:
    from vswap.mm.mm_types import Task as MmTask
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

__all__ = ["CHUNK_PAGES", "USER_CONTENT_NS", "Pageout", "Pattern"]

#: Pages per kernel operation.
CHUNK_PAGES = 16
#: User time to generate one page of each class (estimates from the C program's loops:
#: usemem and random store 512 words, random mixing each (~3 cycles a word at 3 GHz); text
#: picks ~1100 words of 2-5 bytes, ~1 ns a word; zero is a memset, charged as the copy).
USER_CONTENT_NS = {"usemem": 512 * USER_WORD_NS, "random": 512, "text": 1100, "zero": 0}


def _region_parser(prog: str, passes: bool) -> WorkloadParser:
    p = WorkloadParser(prog)
    p.add_argument("--size", type=size_arg(f"{prog} --size"), required=True)
    p.add_argument("--content", required=True)
    if passes:
        p.add_argument("--passes", type=positive_int(f"{prog} --passes"), default=1)
    return p


def _parse_region(prog: str, argv: list[str], passes: bool) -> Any:
    p = _region_parser(prog, passes)
    a = p.parse_args(argv)
    if a.content not in CONTENTS:
        p.error(f"--content {a.content!r}: one of {', '.join(CONTENTS)}")
    if a.size < PAGE_SIZE:
        p.error(f"--size {a.size} is smaller than one page")
    a.size -= a.size % PAGE_SIZE
    return a


class _RegionWorkload(Workload):
    """One process, one region of ``size`` bytes filled with ``content``."""

    SCALING: ClassVar[dict[str, Scaling]] = {
        "size": Scaling(SIZE, "bytes of the region"),
        "passes": Scaling(KEPT, "passes"),
    }

    def __init__(self, command: str, *, size: int, content: str) -> None:
        super().__init__(command)
        self.size = size
        self.content = content
        self.npages = size // PAGE_SIZE
        self.wrong = 0

    def footprint_bytes(self) -> int:
        return self.size

    def _write_all(self, task: CpuTask, ctx: WorkloadContext, th: MmTask, addr: int
                   ) -> Generator[Event, Any, None]:
        """Write every page in order; a zero page gets text, then zeros."""
        m = ctx.machine
        content = self.content
        for first in range(0, self.npages, CHUNK_PAGES):
            last = min(first + CHUNK_PAGES, self.npages)
            user = 0
            if m.compact:
                # Descriptors: a zero page is written as text, then zeroed, as in full mode.
                zero = [page_class(content, i) == "zero" for i in range(first, last)]
                yield ctx.op(task, m.write, th, addr + first * PAGE_SIZE, PageRun(
                    [content_token("text" if z else content, i)
                     for i, z in zip(range(first, last), zero)]))
                for k, z in enumerate(zero):
                    user += USER_MEMSET_PAGE_NS * (2 if z else 1) + \
                        USER_CONTENT_NS[page_class(content, first + k)]
                    if z:
                        yield ctx.op(task, m.write, th, addr + (first + k) * PAGE_SIZE,
                                          PageRun([0]))
                yield ctx.user(task, user)
                ctx.advance(last - first)
                continue
            seqs = [write_sequence(content, i) for i in range(first, last)]
            yield ctx.op(task, m.write, th, addr + first * PAGE_SIZE,
                              b"".join(s[0] for s in seqs))
            for k, seq in enumerate(seqs):
                user += USER_MEMSET_PAGE_NS * len(seq) + \
                    USER_CONTENT_NS[page_class(content, first + k)]
                if len(seq) > 1:
                    yield ctx.op(task, m.write, th, addr + (first + k) * PAGE_SIZE, seq[1])
            yield ctx.user(task, user)
            ctx.advance(last - first)

    def _verify_all(self, task: CpuTask, ctx: WorkloadContext, th: MmTask, addr: int
                    ) -> Generator[Event, Any, int]:
        """Read every page in order and check it; returns the pages that were wrong."""
        m = ctx.machine
        wrong = 0
        for first in range(0, self.npages, CHUNK_PAGES):
            last = min(first + CHUNK_PAGES, self.npages)
            got = yield ctx.op(task, m.read, th, addr + first * PAGE_SIZE,
                                    (last - first) * PAGE_SIZE)
            user = 0
            for k, i in enumerate(range(first, last)):
                if got[k * PAGE_SIZE:(k + 1) * PAGE_SIZE] == page_content(self.content, i):
                    ctx.verified_pages += 1
                else:
                    ctx.data_loss += 1
                    wrong += 1
                user += USER_MEMSET_PAGE_NS + USER_CONTENT_NS[page_class(self.content, i)]
            yield ctx.user(task, user)
            ctx.advance(last - first)
        return wrong

    def _free(self, task: CpuTask, ctx: WorkloadContext, th: MmTask, addr: int
              ) -> Generator[Event, Any, None]:
        m = ctx.machine
        t0 = ctx.now_us()
        yield ctx.op(task, m.munmap, th, addr, self.size)
        fus = ctx.now_us() - t0
        ctx.metrics["free_time_s"] = fus / 1e6
        ctx.report_lines.append(f"{fus} usecs to free memory")
        yield ctx.op(task, m.exit, th)


class Pattern(_RegionWorkload):
    """``pattern --size S --content zero|random|text|mixed|usemem [--passes N]``."""

    name = "pattern"

    def __init__(self, command: str, *, size: int, content: str, passes: int = 1) -> None:
        super().__init__(command, size=size, content=content)
        self.passes = passes

    @classmethod
    def parser(cls) -> WorkloadParser:
        return _region_parser("pattern", passes=True)

    @classmethod
    def parse(cls, argv: list[str], command: str) -> Pattern:
        a = _parse_region("pattern", argv, passes=True)
        return cls(command, size=a.size, content=a.content, passes=a.passes)

    def progress_total(self) -> int:
        return 2 * self.npages * self.passes

    def start(self, ctx: WorkloadContext) -> None:
        proc = ctx.machine.spawn("pattern", ctx.cgroup)
        ctx.spawn(self._body, ctx, proc, name="pattern")

    def _body(self, task: CpuTask, ctx: WorkloadContext, th: MmTask
              ) -> Generator[Event, Any, None]:
        m = ctx.machine
        addr = yield ctx.op(task, m.mmap, th, self.size)
        for p in range(self.passes):
            t0 = ctx.now_us()
            yield from self._write_all(task, ctx, th, addr)
            t1 = ctx.now_us()
            wrong = yield from self._verify_all(task, ctx, th, addr)
            t2 = ctx.now_us()
            self.wrong += wrong
            ctx.report_lines.append(
                f"pattern pass {p + 1}: wrote {self.npages} pages in {t1 - t0} usecs, "
                f"verified in {t2 - t1} usecs, {wrong} wrong")
            if p == 0:
                ctx.snapshot_metadata()
        yield from self._free(task, ctx, th, addr)


class Pageout(_RegionWorkload):
    """``pageout --size S --content zero|random|text|mixed|usemem``."""

    name = "pageout"

    @classmethod
    def parser(cls) -> WorkloadParser:
        return _region_parser("pageout", passes=False)

    @classmethod
    def parse(cls, argv: list[str], command: str) -> Pageout:
        a = _parse_region("pageout", argv, passes=False)
        return cls(command, size=a.size, content=a.content)

    def progress_total(self) -> int:
        return 2 * self.npages

    def start(self, ctx: WorkloadContext) -> None:
        proc = ctx.machine.spawn("pageout", ctx.cgroup)
        ctx.spawn(self._body, ctx, proc, name="pageout")

    def _body(self, task: CpuTask, ctx: WorkloadContext, th: MmTask
              ) -> Generator[Event, Any, None]:
        m = ctx.machine
        addr = yield ctx.op(task, m.mmap, th, self.size)
        t0 = ctx.now_us()
        yield from self._write_all(task, ctx, th, addr)
        t1 = ctx.now_us()
        yield ctx.op(task, m.madvise, th, addr, self.size, MADV_PAGEOUT)
        t2 = ctx.now_us()
        ctx.snapshot_metadata()
        wrong = yield from self._verify_all(task, ctx, th, addr)
        t3 = ctx.now_us()
        self.wrong = wrong
        ctx.report_lines.append(
            f"pageout: wrote {self.npages} pages in {t1 - t0} usecs, MADV_PAGEOUT in "
            f"{t2 - t1} usecs, touched back in {t3 - t2} usecs, {wrong} wrong")
        yield from self._free(task, ctx, th, addr)
