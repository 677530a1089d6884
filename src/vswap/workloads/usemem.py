"""``usemem``: vm-scalability's allocate-and-dirty benchmark, as the RFC ran it.

Models: ``usemem.c`` of vm-scalability (teawater/vm-scalability). Semantics kept:

* ``-n N`` processes (forked), ``-t M`` threads in each (each thread allocates and walks its
  own ``SIZE``; 0 = the process itself); all start together (the ready pipes);
* ``-O`` anonymous private mmap (the model always maps anonymous memory; without ``-O``
  usemem maps /dev/zero privately, which is anonymous memory too);
* every 8-byte word gets its index (``vp[idx] = idx``), sequentially, or at random indices
  with ``-R``; ``-r N`` repeats the walk, checking each word before rewriting it;
* ``-y`` waits for all tasks after the allocation, ``-x`` before the free;
* ``-Z`` reads everything again afterwards ("read again" throughput), checking it;
* ``-s SEC`` sleeps before freeing (a float is accepted here; usemem takes an int);
* ``-w`` is ``--open-rw`` in usemem.c (open the mapped file read-write): with ``-O`` it
  has no effect, and none here;
* ``--init-time`` reports the initialisation separately (here it is instantaneous);
* throughput as usemem computes it: ``bytes / 8 + bytes * repeats`` (the allocation is
  counted as ``bytes / 8``) over the microseconds from the start to the end of the walk,
  ``((bytes * 10**6) >> 10) / usecs`` KB/s; then ``U usecs to free memory`` (the munmap).

Model choices: a page is written as one 4 KiB store of its words (16 pages per kernel
operation), with the user time of 512 word stores (:data:`USER_WORD_NS`); the random walk
visits pages uniformly at random (as many page visits as pages), each visit costing the user
time of 512 random word accesses.
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.kernel.types import PAGE_SIZE
from vswap.mm.mm_types import Task as MmTask
from vswap.units import bounded_int
from vswap.workloads._base import (
    USER_RANDOM_NS,
    USER_WORD_NS,
    Workload,
    WorkloadParser,
    size_arg,
    usemem_bytes,
    usemem_data,
)
from vswap.workloads._scale import KEPT, SECONDS, SIZE, Scaling

if TYPE_CHECKING:
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import ProcessGenerator
    from vswap.workloads.context import TaskBarrier, WorkloadContext

#: Pages per kernel operation in the sequential walk.
CHUNK_PAGES = 16
#: The documented ranges of the counts (docs/workloads.md): checked when the command line
#: is parsed, before anything is built.
NPROC_RANGE = (1, 1 << 16)
THREAD_RANGE = (0, 4096)
REPEAT_RANGE = (1, 100_000)
#: ``-s``: seconds of (modelled) sleep, finite, at most a day.
MAX_SLEEP_S = 86_400.0


def _sleep_arg(text: str) -> float:
    try:
        value = float(text) if len(text) <= 32 else math.nan
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= MAX_SLEEP_S:  # also refuses NaN and infinities
        raise argparse.ArgumentTypeError(f"{text[:24]!r} is outside 0..{MAX_SLEEP_S:g} "
                                         "seconds")
    return value


class Usemem(Workload):
    """``usemem [-n N] [-t M] [-O] [-w] [-y] [-x] [-R] [-r N] [-Z] [-s SEC] [--init-time]
    SIZE``."""

    name = "usemem"

    def __init__(self, command: str, *, size: int, nproc: int = 1, nthread: int = 0,
                 random: bool = False, repeat: int = 1, sync_rw: bool = False,
                 sync_free: bool = False, read_again: bool = False, sleep_s: float = 0.0
                 ) -> None:
        super().__init__(command)
        self.size = size
        self.nproc = nproc
        self.nthread = nthread
        self.random = random
        self.repeat = repeat
        self.sync_rw = sync_rw
        self.sync_free = sync_free
        self.read_again = read_again
        self.sleep_s = sleep_s
        self.throughputs: list[int] = []
        self.free_us: list[int] = []
        self.read_throughputs: list[int] = []

    SCALING: ClassVar[dict[str, Scaling]] = {
        "size": Scaling(SIZE, "bytes per task"),
        "sleep": Scaling(SECONDS, "seconds of sleep before the free"),
        "nproc": Scaling(KEPT, "processes", always=True),
        "thread": Scaling(KEPT, "threads per process"),
        "repeat": Scaling(KEPT, "walks"),
    }

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("usemem")
        p.add_argument("-n", "--nproc", type=bounded_int(*NPROC_RANGE), default=1)
        p.add_argument("-t", "--thread", type=bounded_int(*THREAD_RANGE), default=0)
        p.add_argument("-O", "--anonymous", action="store_true")
        p.add_argument("-w", "--open-rw", action="store_true")
        p.add_argument("-y", "--sync-rw", action="store_true")
        p.add_argument("-x", "--sync-free", action="store_true")
        p.add_argument("-R", "--random", action="store_true")
        p.add_argument("-r", "--repeat", type=bounded_int(*REPEAT_RANGE), default=1)
        p.add_argument("-Z", "--read-again", action="store_true")
        p.add_argument("-s", "--sleep", type=_sleep_arg, default=0.0)
        p.add_argument("--init-time", action="store_true")
        p.add_argument("size", type=size_arg("usemem size"))
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> Usemem:
        p = cls.parser()
        a = p.parse_args(argv)
        if a.size < PAGE_SIZE:
            p.error(f"size {a.size} is smaller than one page")
        return cls(command, size=a.size - a.size % 8, nproc=a.nproc, nthread=a.thread,
                   random=a.random, repeat=a.repeat, sync_rw=a.sync_rw,
                   sync_free=a.sync_free, read_again=a.read_again, sleep_s=a.sleep)

    @property
    def nr_tasks(self) -> int:
        return self.nproc * max(self.nthread, 1)

    def footprint_bytes(self) -> int:
        return self.nr_tasks * self.size

    def progress_total(self) -> int:
        pages = -(-self.size // PAGE_SIZE)
        return self.nr_tasks * pages * (self.repeat + (1 if self.read_again else 0))

    # -- the run -----------------------------------------------------------------------------
    def start(self, ctx: WorkloadContext) -> None:
        m = ctx.machine
        ready = ctx.barrier(self.nr_tasks)
        free = ctx.barrier(self.nr_tasks) if self.sync_free else None
        for p in range(self.nproc):
            proc = m.spawn(f"usemem-{p}", ctx.cgroup)
            threads = [proc]
            if self.nthread:
                threads = [m.clone_thread(proc) for _ in range(self.nthread)]
                # The main thread only waits (pthread_join); it does no memory work.
            state: dict[str, Any] = {"live": len(threads),
                                     "tasks": [proc] + [t for t in threads if t is not proc]}
            for i, th in enumerate(threads):
                ctx.spawn(self._body, ctx, th, state, ready, free, name=f"usemem-{p}.{i}")

    def _body(self, task: CpuTask, ctx: WorkloadContext, th: MmTask,
              state: dict[str, Any], ready: TaskBarrier, free: TaskBarrier | None
              ) -> ProcessGenerator:
        m = ctx.machine
        if not self.sync_rw:
            yield from ready.wait(task)
        addr = yield ctx.op(task, m.mmap, th, self.size)
        if self.sync_rw:
            yield from ready.wait(task)
        rw_bytes = self.size // 8
        for rep in range(self.repeat):
            yield self._walk(task, ctx, th, addr, verify=rep > 0)
            rw_bytes += self.size
        delta_us = max(ctx.now_us(), 1)
        tput = ((rw_bytes * 1_000_000) >> 10) // delta_us
        self.throughputs.append(tput)
        ctx.report_lines.append(f"{rw_bytes} bytes / {delta_us} usecs = {tput} KB/s")
        if self.read_again:
            t0 = ctx.now_us()
            yield self._read_walk(task, ctx, th, addr)
            d = max(ctx.now_us() - t0, 1)
            rt = ((self.size * 1_000_000) >> 10) // d
            self.read_throughputs.append(rt)
            ctx.report_lines.append(f"read again {self.size} bytes / {d} usecs = {rt} KB/s")
        if len(self.throughputs) == self.nr_tasks and ctx.metadata_snapshot is None:
            ctx.snapshot_metadata()
        if self.sleep_s:
            yield task.sleep(int(self.sleep_s * 1e9))
        if free is not None:
            yield from free.wait(task)
        t0 = ctx.now_us()
        yield ctx.op(task, m.munmap, th, addr, self.size)
        fus = ctx.now_us() - t0
        self.free_us.append(fus)
        ctx.report_lines.append(f"{fus} usecs to free memory")
        state["live"] -= 1
        if not state["live"]:
            for t in state["tasks"]:
                if t.alive:
                    yield ctx.op(task, m.exit, t)

    def _walk(self, task: CpuTask, ctx: WorkloadContext, th: MmTask, addr: int, *,
              verify: bool) -> ProcessGenerator:
        # Kernel operations are yielded (``yield ctx.op(...)``: the event their charge fires
        # when done), not delegated to with ``yield from``, which would make a generator per
        # operation for nothing; the walk itself is yielded for the same reason
        # (vswap.sim.engine.Process).
        m = ctx.machine
        size = self.size
        npages = -(-size // PAGE_SIZE)
        if self.random:
            user = PAGE_SIZE // 8 * (USER_WORD_NS + USER_RANDOM_NS)
            rng = ctx.rng
            for _ in range(npages):
                pg = rng.randrange(npages)
                off = pg * PAGE_SIZE
                nb = min(PAGE_SIZE, size - off)
                yield ctx.op(task, m.write, th, addr + off, usemem_data(m, off, nb))
                ev = ctx.user(task, user)
                if ev.callbacks is not None:
                    yield ev
                ctx.advance(1)
            return
        step = CHUNK_PAGES * PAGE_SIZE
        for off in range(0, size, step):
            nb = min(step, size - off)
            data = usemem_bytes(off, nb)
            if verify:
                got = yield ctx.op(task, m.read, th, addr + off, nb)
                self._check(ctx, got, data, off)
            yield ctx.op(task, m.write, th, addr + off,
                         usemem_data(m, off, nb) if m.compact else data)
            # User work that Task.work's fast path already finished (an already-processed
            # event) is not yielded: the engine would resume this generator at once with
            # None, through the task's frames, for nothing.
            ev = ctx.user(task, nb // 8 * USER_WORD_NS * (2 if verify else 1))
            if ev.callbacks is not None:
                yield ev
            ctx.advance(-(-nb // PAGE_SIZE))

    def _read_walk(self, task: CpuTask, ctx: WorkloadContext, th: MmTask, addr: int
                   ) -> ProcessGenerator:
        m = ctx.machine
        step = CHUNK_PAGES * PAGE_SIZE
        for off in range(0, self.size, step):
            nb = min(step, self.size - off)
            got = yield ctx.op(task, m.read, th, addr + off, nb)
            self._check(ctx, got, usemem_bytes(off, nb), off)
            ev = ctx.user(task, nb // 8 * USER_WORD_NS)
            if ev.callbacks is not None:
                yield ev
            ctx.advance(-(-nb // PAGE_SIZE))

    @staticmethod
    def _check(ctx: WorkloadContext, got: bytes, want: bytes, offset: int = 0) -> None:
        """usemem's "Data wrong at offset" check, per page: a page that differs counts in
        ``data_loss`` (the run then exits 3) and the first wrong word of the run is
        reported as usemem reports it.

        Invariant: ``got`` and ``want`` are the same length (a short read is a loss of every
        page it did not return)."""
        if len(got) != len(want):
            got = bytes(got[:len(want)]).ljust(len(want), b"\xa5")
        for i in range(0, len(want), PAGE_SIZE):
            if got[i:i + PAGE_SIZE] == want[i:i + PAGE_SIZE]:
                ctx.verified_pages += 1
                continue
            if not ctx.data_loss:
                w = next(j for j in range(i, min(i + PAGE_SIZE, len(want)), 8)
                         if got[j:j + 8] != want[j:j + 8])
                ctx.report_lines.append(
                    f"Data wrong at offset 0x{offset + w:x}. Expected 0x"
                    f"{int.from_bytes(want[w:w + 8], 'little'):x}, got 0x"
                    f"{int.from_bytes(got[w:w + 8], 'little'):x}")
            ctx.data_loss += 1

    def finish(self, ctx: WorkloadContext) -> None:
        if self.throughputs:
            ctx.metrics["throughput_kbps"] = sum(self.throughputs) / len(self.throughputs)
        if self.free_us:
            ctx.metrics["free_time_s"] = sum(self.free_us) / len(self.free_us) / 1e6
        ctx.metrics["throughputs_kbps"] = list(self.throughputs)
        ctx.metrics["free_times_us"] = list(self.free_us)
        if self.read_throughputs:
            ctx.metrics["read_again_kbps"] = sum(self.read_throughputs) / len(
                self.read_throughputs)
