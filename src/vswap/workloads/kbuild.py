"""``kbuild``: a kernel-build-like mix (``make -jW`` running many short compile jobs).

Models the memory behaviour of the RFC's kernel-build benchmark (52 workers in
``memory.max=3G`` with zswap), not a compiler: W worker processes (``make`` children with a
small heap of their own) take compile jobs from one queue; each job ``fork``s from its
worker (copy-on-write of the worker's heap, like the shell and ``cc1`` startup), maps a heap
whose size is drawn between ``--heap MIN:MAX``, fills it with mixed content, walks it with a
skewed access pattern doing user work, and exits (tearing down its memory and swap).

Page content of a job heap, per page (the proportions are the mix, ``--mix Z:T:R``): zero
pages (calloc'd, never written: ``swpout_zero``), text-like pages (symbol names and tokens,
compressible about 3-4x), and random pages (pointers, hashes: incompressible). Every
non-zero page is stamped with its job and page number so that no two pages are equal.

Access pattern: after the fill, ``--touches T`` x heap-pages accesses, each at page
``int(heap * u**3)`` for uniform ``u`` (a skewed, hot-head pattern: the first 10% of the
heap gets ~46% of the accesses), 30% of them writes; ``--user-per-touch`` ns of user time
each (default :data:`USER_PER_TOUCH_NS`: the compile work). Randomness comes from the run's
seed and the job number only, so every design sees the same jobs with the same content.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.errors import ConfigError
from vswap.kernel import pagedata
from vswap.kernel.pagedata import PageRun
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.mm_types import TaskKilled
from vswap.units import parse_size
from vswap.workloads._base import USER_MEMSET_PAGE_NS, Workload, WorkloadParser, positive_int
from vswap.workloads._scale import KEPT, SIZE, SIZE_RANGE, Scaling
from vswap.workloads.content import page_content

if TYPE_CHECKING:
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

#: Default user time per heap access (the compile work between memory accesses). A workload
#: parameter, not a kernel cost: set once so that the *classic* run's user:sys ratio is of the
#: order of the RFC baseline's (5119 s user / 655 s sys, ~8:1); never fitted to a difference
#: between designs.
USER_PER_TOUCH_NS = 80_000
#: Pages per kernel operation while filling a heap.
CHUNK_PAGES = 16
_WORDS = (b"struct ", b"static ", b"inline ", b"return ", b"unsigned long ", b"spin_lock",
          b"folio_", b"swap_", b"->next", b"(void *)", b"const char *", b"#define ",
          b"__attribute__", b"EXPORT_SYMBOL", b"list_head", b"atomic_t ")


def _text_page(rng: random.Random) -> bytes:
    out = bytearray()
    while len(out) < PAGE_SIZE:
        out += _WORDS[rng.randrange(len(_WORDS))]
        out += b"%x" % rng.randrange(1 << 12)
        out += b" " if rng.random() < 0.8 else b"\n"
    return bytes(out[:PAGE_SIZE])


#: Text-like page bodies, built once from a fixed seed (generating text per page would cost
#: the model more than everything else it does for the page).
_TEXT_POOL: list[bytes] = []
TEXT_POOL_PAGES = 64


def kbuild_text_body(k: int) -> bytes:
    """Text body ``k`` of the pool (built on first use)."""
    if not _TEXT_POOL:
        pool_rng = random.Random(0x6B6275)
        _TEXT_POOL.extend(_text_page(pool_rng) for _ in range(TEXT_POOL_PAGES))
    return _TEXT_POOL[k]


def kbuild_token(job: int, page: int, kind: int, rng: random.Random) -> int:
    """The compact-mode token of :func:`kbuild_page` (:mod:`vswap.kernel.pagedata`): draws
    from ``rng`` exactly as it does, so a run takes the same course in both modes. A random
    page stands for splitmix64 bytes instead of ``rng``'s (both incompressible)."""
    if kind == 0:
        return 0
    if kind == 1:
        pool = rng.randrange(TEXT_POOL_PAGES)
        return pagedata.token(pagedata.KTEXT, pool << 44 | job << 20 | page)
    rng.randbytes(PAGE_SIZE)
    return pagedata.token(pagedata.KRANDOM, job << 20 | page)


def _build_text(payload: int) -> bytes:
    head = (payload >> 20 & 0xFFFFFF) << 32 | payload & 0xFFFFF
    return head.to_bytes(8, "little") + kbuild_text_body(payload >> 44)[8:]


def _build_random(payload: int) -> bytes:
    head = (payload >> 20) << 32 | payload & 0xFFFFF
    return head.to_bytes(8, "little") + page_content("random", payload)[8:]


pagedata.register_class(pagedata.KTEXT, _build_text)
pagedata.register_class(pagedata.KRANDOM, _build_random)


def kbuild_page(job: int, page: int, kind: int, rng: random.Random) -> bytes:
    """Content of page ``page`` of job ``job``'s heap: ``kind`` 0 zero, 1 text, 2 random.

    Text pages are one of :data:`TEXT_POOL_PAGES` bodies chosen by ``rng``; every non-zero
    page starts with its job and page number, so no two pages are equal.
    """
    if kind == 0:
        return bytes(PAGE_SIZE)
    if kind == 1:
        body = kbuild_text_body(rng.randrange(TEXT_POOL_PAGES))
    else:
        body = rng.randbytes(PAGE_SIZE)
    return (job << 32 | page).to_bytes(8, "little") + body[8:]


class Kbuild(Workload):
    """``kbuild -j W [--jobs J] [--heap MIN:MAX] [--mix Z:T:R] [--touches T]
    [--user-per-touch NS] [--worker-heap SIZE]``."""

    name = "kbuild"

    def __init__(self, command: str, *, workers: int, jobs: int, heap_min: int,
                 heap_max: int, mix: tuple[int, int, int], touches: int,
                 user_per_touch_ns: int, worker_heap: int) -> None:
        super().__init__(command)
        self.workers = workers
        self.jobs = jobs
        self.heap_min = heap_min
        self.heap_max = heap_max
        self.mix = mix
        self.touches = touches
        self.user_per_touch_ns = user_per_touch_ns
        self.worker_heap = worker_heap
        self.jobs_done = 0
        self.jobs_failed = 0

    SCALING: ClassVar[dict[str, Scaling]] = {
        "heap": Scaling(SIZE_RANGE, "bytes of a compile job's heap"),
        "worker_heap": Scaling(SIZE, "bytes of a make worker's heap"),
        "workers": Scaling(KEPT, "make workers", always=True),
        "jobs": Scaling(KEPT, "compile jobs", always=True, default_text="4 x -j"),
        "touches": Scaling(KEPT, "accesses per heap page"),
        "user_per_touch": Scaling(KEPT, "ns of user work per access"),
    }

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("kbuild")
        p.add_argument("-j", type=positive_int("kbuild -j"), required=True, dest="workers")
        p.add_argument("--jobs", type=positive_int("kbuild --jobs"), default=None)
        p.add_argument("--heap", default="16M:64M")
        p.add_argument("--mix", default="30:50:20")
        p.add_argument("--touches", type=int, default=2)
        p.add_argument("--user-per-touch", type=int, default=USER_PER_TOUCH_NS)
        p.add_argument("--worker-heap", default="1M")
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> Kbuild:
        p = cls.parser()
        a = p.parse_args(argv)
        lo_s, sep, hi_s = a.heap.partition(":")
        lo = parse_size(lo_s, what="kbuild --heap")
        hi = parse_size(hi_s, what="kbuild --heap") if sep else lo
        if lo < PAGE_SIZE or hi < lo:
            p.error(f"--heap {a.heap!r}: need PAGE <= MIN <= MAX")
        try:
            mix = tuple(int(x) for x in a.mix.split(":"))
        except ValueError:
            raise ConfigError(f"workload kbuild: --mix {a.mix!r} is not Z:T:R") from None
        if len(mix) != 3 or min(mix) < 0 or not sum(mix):
            p.error(f"--mix {a.mix!r} is not three non-negative weights Z:T:R")
        if a.touches < 0 or a.user_per_touch < 0:
            p.error("--touches and --user-per-touch must be >= 0")
        wh = parse_size(a.worker_heap, what="kbuild --worker-heap")
        return cls(command, workers=a.workers, jobs=a.jobs or 4 * a.workers, heap_min=lo,
                   heap_max=hi, mix=mix, touches=a.touches,
                   user_per_touch_ns=a.user_per_touch, worker_heap=wh - wh % PAGE_SIZE)

    def footprint_bytes(self) -> int:
        return self.jobs * (self.heap_min + self.heap_max) // 2 + \
            self.workers * self.worker_heap

    def progress_total(self) -> int:
        return self.jobs

    def expected_ns(self) -> int:
        pages = (self.heap_min + self.heap_max) // 2 // PAGE_SIZE
        per_job = pages * (self.touches * self.user_per_touch_ns + 10_000)
        return max(per_job * self.jobs // self.workers, 1_000_000)

    def start(self, ctx: WorkloadContext) -> None:
        queue: deque[int] = deque(range(self.jobs))
        seed = ctx.seed
        for w in range(self.workers):
            proc = ctx.machine.spawn(f"make-{w}", ctx.cgroup)
            ctx.spawn(self._worker, ctx, proc, queue, seed, name=f"make-{w}")

    def _worker(self, task: CpuTask, ctx: WorkloadContext, proc: Any, queue: deque[int],
                seed: int) -> Generator[Event, Any, None]:
        m = ctx.machine
        if self.worker_heap:
            base = yield ctx.op(task, m.mmap, proc, self.worker_heap)
            rng = random.Random(seed * 1_000_003 + id_of(proc.comm))
            for off in range(0, self.worker_heap, CHUNK_PAGES * PAGE_SIZE):
                n = min(CHUNK_PAGES, (self.worker_heap - off) // PAGE_SIZE)
                data: bytes | PageRun
                if m.compact:
                    data = PageRun([kbuild_token(1 << 20, off // PAGE_SIZE + k, 1, rng)
                                    for k in range(n)])
                else:
                    data = b"".join(kbuild_page(1 << 20, off // PAGE_SIZE + k, 1, rng)
                                    for k in range(n))
                yield ctx.op(task, m.write, proc, base + off, data)
        while queue:
            job = queue.popleft()
            try:
                yield from self._job(task, ctx, proc, job, seed)
            except TaskKilled as exc:
                if exc.task is proc:
                    raise
                # A compile job (cc1) was killed (OOM, SIGBUS): make reports the failed job
                # and goes on with the next one; the worker itself lives.
                ctx.killed += 1
                self.jobs_failed += 1
                continue
            self.jobs_done += 1
            ctx.advance(1)
        yield ctx.op(task, m.exit, proc)

    def _job(self, task: CpuTask, ctx: WorkloadContext, proc: Any, job: int, seed: int
             ) -> Generator[Event, Any, None]:
        m = ctx.machine
        rng = random.Random(seed * 1_000_003 + job)
        child = yield ctx.op(task, m.fork, proc, "cc1")
        pages = rng.randint(self.heap_min // PAGE_SIZE, self.heap_max // PAGE_SIZE)
        addr = yield ctx.op(task, m.mmap, child, pages * PAGE_SIZE)
        kinds = rng.choices((0, 1, 2), weights=self.mix, k=pages)
        expect: dict[int, bytes] = {}
        for first in range(0, pages, CHUNK_PAGES):
            last = min(first + CHUNK_PAGES, pages)
            run_start = first
            # Write runs of non-zero pages; zero pages are only touched (calloc'd memory
            # that the program reads: mapped to the zero page, or written with zeros).
            for p in range(first, last + 1):
                if p == last or kinds[p] == 0:
                    if p > run_start:
                        run: bytes | PageRun
                        if m.compact:
                            toks = [kbuild_token(job, q, kinds[q], rng)
                                    for q in range(run_start, p)]
                            for q, tok in zip(range(run_start, p), toks):
                                if q < 8:
                                    expect[q] = pagedata.materialize(tok)
                            run = PageRun(toks)
                        else:
                            data = [kbuild_page(job, q, kinds[q], rng)
                                    for q in range(run_start, p)]
                            for q, d in zip(range(run_start, p), data):
                                if q < 8:
                                    expect[q] = d
                            run = b"".join(data)
                        yield ctx.op(task, m.write, child, addr + run_start * PAGE_SIZE,
                                          run)
                    if p < last:
                        yield ctx.op(task, m.write, child, addr + p * PAGE_SIZE,
                                          bytes(PAGE_SIZE))
                    run_start = p + 1
            yield ctx.user(task, (last - first) * USER_MEMSET_PAGE_NS)
        for _ in range(self.touches * pages):
            p = int(pages * rng.random() ** 3)
            write = rng.random() < 0.3
            yield ctx.op(task, m.touch, child, addr + p * PAGE_SIZE, write)
            if self.user_per_touch_ns:
                yield ctx.user(task, self.user_per_touch_ns)
        # The job checks its first pages before it exits (its output).
        for q, d in expect.items():
            got = yield ctx.op(task, m.read, child, addr + q * PAGE_SIZE, PAGE_SIZE)
            if got != d:
                ctx.data_loss += 1
            else:
                ctx.verified_pages += 1
        yield ctx.op(task, m.exit, child)

    def finish(self, ctx: WorkloadContext) -> None:
        ctx.metrics["jobs"] = self.jobs_done
        ctx.metrics["jobs_failed"] = self.jobs_failed
        real_s = ctx.cpus.statistics().real_ns / 1e9
        failed = f" ({self.jobs_failed} killed)" if self.jobs_failed else ""
        ctx.report_lines.append(f"kbuild: {self.jobs_done} jobs{failed} on {self.workers} "
                                f"workers in {real_s:.3f} s")


def id_of(name: str) -> int:
    """A stable small integer from a name (not Python's salted hash)."""
    return sum((i + 1) * b for i, b in enumerate(name.encode())) & 0xFFFF
