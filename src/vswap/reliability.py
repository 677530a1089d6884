"""A random-operation harness with a plain page oracle: the engine of the state machines and
of ``vswap soak``.

Not a kernel file. :class:`Harness` owns one :class:`~vswap.mm.machine.Machine` with zswap,
two memory swap devices, two cgroups and a :class:`~vswap.kernel.faults.FaultInjector`, and
offers the operations the reliability tests drive (task writes and reads, fork, exit, munmap,
``MADV_PAGEOUT``, ``memory.reclaim``, zswap writeback, swapon, swapoff, limit changes). Its
oracle is a plain dict per task: page index -> tag (the page's bytes are :func:`page_bytes` of
the tag, 0 = never written). :meth:`Harness.check` verifies, without side effects, that every
readable page equals the oracle, that swap references match the page tables, that counters
agree; the faults injected since the previous check that passed then count as survived
(:attr:`Harness.survived`, counted by the harness from that observed outcome: a fault after
which a check failed, or after which no check ran, is not survived). A task may die only of a
legitimate cause: SIGBUS after an injected read or decompression error, SIGKILL from the OOM
killer; anything else (and any :class:`~vswap.kernel.errors.DataLossError`) fails the run.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vswap.kernel.errors import DataLossError, KernelError
from vswap.kernel.faults import FAULT_POINTS, FaultInjector
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE
from vswap.mm import checks
from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig
from vswap.mm.mm_types import Signal, Task, TaskKilled
from vswap.swap.storage import MemSwapStorage

#: Pages each task maps.
TASK_PAGES = 24
#: The cgroups tasks run in.
CGROUPS = ("/a", "/b")
#: Values the limit-change operation writes.
LIMITS: dict[str, tuple[str, ...]] = {
    "memory.max": ("max", "1M", "512K", "256K"),
    "memory.swap.max": ("max", "256K", "64K", "0"),
    "memory.zswap.max": ("max", "64K", "0"),
    "memory.zswap.writeback": ("1", "0"),
}
#: Default fault rates of the soak (probability per call of the point).
SOAK_RATES: dict[str, float] = {
    "device_write": 0.02, "device_read": 0.01, "device_full": 0.02, "zswap_compress": 0.02,
    "zswap_alloc": 0.02, "zswap_decompress": 0.005, "swapoff_eintr": 0.2,
    "swapoff_enomem": 0.05,
}


@functools.lru_cache(maxsize=1024)
def page_bytes(tag: int) -> bytes:
    """The bytes of a page written with ``tag``: 0 zero-filled, odd tags incompressible,
    even tags compressible. Cached (immutable bytes): :meth:`Harness.check` compares every
    page of every task with its tag's bytes after every step, and seeding a generator per
    incompressible page cost more than the compare."""
    if not tag:
        return bytes(PAGE_SIZE)
    if tag & 1:
        return random.Random(tag).randbytes(PAGE_SIZE)
    return tag.to_bytes(8, "little") * (PAGE_SIZE // 8)


@dataclass
class TaskState:
    task: Task
    addr: int
    pages: dict[int, int] = field(default_factory=dict)


class HarnessError(AssertionError):
    """The harness saw something that must not happen (an illegitimate death, a wrong page)."""


class HarnessDataLoss(HarnessError):
    """A page the harness read or peeked holds other bytes than the oracle's."""


class Harness:
    """One machine under random operations, with its oracle. See the module docstring."""

    def __init__(self, design: str, *, seed: int = 0, zswap: bool = True,
                 rates: dict[str, float] | None = None, ram: int = 3 << 20,
                 page_cluster: int = 2) -> None:
        self.faults = FaultInjector(seed=seed, rates=rates or {})
        self.m = Machine(MachineConfig(ram=ram, design=design, zswap=zswap,
                                       zswap_params={"compressor": "lz4"} if zswap else {},
                                       page_cluster=page_cluster, faults=self.faults))
        self.storages = [MemSwapStorage(512 << 10), MemSwapStorage(384 << 10)]
        self.on = [True, False]
        self.m.swapon(self.storages[0])
        for cg in CGROUPS:
            self.m.create_cgroup(cg)
        self.tasks: dict[int, TaskState] = {}
        self.next_tag = 1
        self.ops = 0
        self.pages_verified = 0
        #: Faults per point followed by a check that passed (see :meth:`check`), and the
        #: injection counts at that check.
        self.survived = dict.fromkeys(FAULT_POINTS, 0)
        self._checked_injected = dict.fromkeys(FAULT_POINTS, 0)
        self.deaths: dict[str, int] = {}
        self.swapoff_interrupted = 0
        self.swapoff_retried_ok = 0

    # -- bookkeeping ---------------------------------------------------------------------
    def _read_faults(self) -> int:
        inj = self.faults.injected
        return inj["device_read"] + inj["zswap_decompress"]

    def _sync_deaths(self) -> None:
        """Drop dead tasks from the oracle, checking each died of a legitimate cause."""
        for pid in [p for p, ts in self.tasks.items() if not ts.task.alive]:
            task = self.tasks.pop(pid).task
            sig = task.exit_signal
            legit = (sig == Signal.SIGBUS and self._read_faults()) or (
                sig == Signal.SIGKILL and "out of memory" in task.exit_reason)
            if not legit:
                raise HarnessError(f"{task.comm}[{pid}] died illegitimately: "
                                   f"{sig!r} ({task.exit_reason})")
            name = sig.name if sig is not None else "exit"
            self.deaths[name] = self.deaths.get(name, 0) + 1

    def _do(self, fn: Callable[[], object]) -> object:
        self.ops += 1
        try:
            return fn()
        except TaskKilled:
            return None
        finally:
            self._sync_deaths()

    def _pick(self, k: int) -> TaskState | None:
        if not self.tasks:
            return None
        return self.tasks[sorted(self.tasks)[k % len(self.tasks)]]

    # -- operations ----------------------------------------------------------------------
    def spawn(self, cg: int) -> None:
        def op() -> None:
            t = self.m.spawn("task", CGROUPS[cg % len(CGROUPS)])
            addr = self.m.mmap(t, TASK_PAGES * PAGE_SIZE)
            self.tasks[t.pid] = TaskState(t, addr)
        self._do(op)

    def write(self, k: int, page: int, n: int = 1, zero: bool = False) -> None:
        ts = self._pick(k)
        if ts is None:
            return
        for i in range(n):
            p = (page + i) % TASK_PAGES
            tag = 0 if zero else self.next_tag
            self.next_tag += 1
            data = page_bytes(tag)

            def op(p: int = p, tag: int = tag, data: bytes = data) -> None:
                self.m.write(ts.task, ts.addr + p * PAGE_SIZE, data)
                ts.pages[p] = tag
            self._do(op)
            if not ts.task.alive:
                return

    def read(self, k: int, page: int, n: int = 1) -> None:
        ts = self._pick(k)
        if ts is None:
            return
        for i in range(n):
            p = (page + i) % TASK_PAGES

            def op(p: int = p) -> None:
                got = self.m.read(ts.task, ts.addr + p * PAGE_SIZE, PAGE_SIZE)
                if got != page_bytes(ts.pages.get(p, 0)):
                    raise HarnessDataLoss(f"task {ts.task.pid} page {p}: read back wrong "
                                          "bytes")
                self.pages_verified += 1
            self._do(op)
            if not ts.task.alive:
                return

    def fork(self, k: int) -> None:
        ts = self._pick(k)
        if ts is None:
            return

        def op() -> None:
            child = self.m.fork(ts.task)
            self.tasks[child.pid] = TaskState(child, ts.addr, dict(ts.pages))
        self._do(op)

    def exit(self, k: int) -> None:
        ts = self._pick(k)
        if ts is None:
            return
        self.tasks.pop(ts.task.pid)
        self._do(lambda: self.m.exit(ts.task))

    def munmap(self, k: int, page: int, n: int) -> None:
        """munmap a range and map it again in place: its pages read as zero."""
        ts = self._pick(k)
        if ts is None:
            return
        lo = page % TASK_PAGES
        n = max(1, min(n, TASK_PAGES - lo))

        def op() -> None:
            self.m.munmap(ts.task, ts.addr + lo * PAGE_SIZE, n * PAGE_SIZE)
            for p in range(lo, lo + n):
                ts.pages.pop(p, None)
            self.m.mmap(ts.task, n * PAGE_SIZE, ts.addr + lo * PAGE_SIZE)
        self._do(op)

    def pageout(self, k: int, page: int, n: int) -> None:
        ts = self._pick(k)
        if ts is None:
            return
        lo = page % TASK_PAGES
        n = max(1, min(n, TASK_PAGES - lo))
        self._do(lambda: self.m.madvise(ts.task, ts.addr + lo * PAGE_SIZE, n * PAGE_SIZE,
                                        MADV_PAGEOUT))

    def reclaim(self, cg: int, kib: int) -> None:
        def op() -> None:
            with contextlib.suppress(KernelError):
                self.m.cgroup_write(CGROUPS[cg % len(CGROUPS)], "memory.reclaim", f"{kib}K")
        self._do(op)

    def zswap_writeback(self, cg: int, nr: int) -> None:
        m = self.m
        zswap = m.zswap
        if zswap is None:
            return

        def op() -> None:
            memcg = m.memcgs.lookup(CGROUPS[cg % len(CGROUPS)])
            m.op_begin(None)
            m._memalloc += 1
            try:
                zswap.zswap_shrinker_scan(memcg, nr)
            finally:
                m._memalloc -= 1
                m.op_end()
        self._do(op)

    def swap_toggle(self, dev: int) -> None:
        """swapon the device if it is off, else swapoff it (retrying once, faults off, after
        an injected EINTR or ENOMEM: the second swapoff must leave a consistent state)."""
        dev %= len(self.storages)
        st = self.storages[dev]
        if not self.on[dev]:
            self._do(lambda: self.m.swapon(st))
            self.on[dev] = True
            return
        res = self._do(lambda: self.m.swapoff(st.name))
        if res is None:
            return
        if res.completed:  # type: ignore[attr-defined]
            self.on[dev] = False
            return
        err = res.error  # type: ignore[attr-defined]
        if err.startswith(("EINTR", "ENOMEM")):
            self.swapoff_interrupted += 1
            checks.check_swap_references(self.m)
            with self.faults.suspend():
                res2 = self._do(lambda: self.m.swapoff(st.name))
            if res2 is not None and res2.completed:  # type: ignore[attr-defined]
                self.swapoff_retried_ok += 1
                self.on[dev] = False

    def set_limit(self, cg: int, knob: int, value: int) -> None:
        name = sorted(LIMITS)[knob % len(LIMITS)]
        values = LIMITS[name]
        val = values[value % len(values)]
        self._do(lambda: self.m.cgroup_write(CGROUPS[cg % len(CGROUPS)], name, val))

    # -- checks --------------------------------------------------------------------------
    def check(self) -> None:
        """Every readable page equals the oracle; references and counters agree. Then the
        faults injected so far count as survived."""
        m = self.m
        for ts in self.tasks.values():
            base = ts.addr >> PAGE_SHIFT
            for p in range(TASK_PAGES):
                got = checks.peek_page(m, ts.task, base + p)
                if got is None:
                    raise HarnessError(f"task {ts.task.pid} page {p} is not mapped")
                if got != page_bytes(ts.pages.get(p, 0)):
                    raise HarnessDataLoss(
                        f"task {ts.task.pid} page {p}: holds the wrong bytes (tag "
                        f"{ts.pages.get(p, 0)}); design {m.design.name}")
                self.pages_verified += 1
        checks.check_swap_references(m)
        checks.check_counters(m)
        injected = self.faults.statistics().injected
        for point in FAULT_POINTS:
            self.survived[point] += injected[point] - self._checked_injected[point]
        self._checked_injected = dict(injected)
        self.faults.mark_survived()

    def finish(self) -> None:
        """Exit every task, then check that nothing leaked."""
        for ts in list(self.tasks.values()):
            self.tasks.pop(ts.task.pid)
            if ts.task.alive:
                self._do(lambda task=ts.task: self.m.exit(task))  # type: ignore[misc]
        self.check()
        self.m.check_no_leaks()

    # -- random driving (soak) -------------------------------------------------------------
    def random_op(self, rng: random.Random) -> None:
        r = rng.random()
        k = rng.randrange(1 << 16)
        if len(self.tasks) < 2 or (r < 0.04 and len(self.tasks) < 6):
            self.spawn(rng.randrange(2))
        elif r < 0.40:
            self.write(k, rng.randrange(TASK_PAGES), rng.randrange(1, 9), rng.random() < 0.15)
        elif r < 0.60:
            self.read(k, rng.randrange(TASK_PAGES), rng.randrange(1, 9))
        elif r < 0.64:
            self.fork(k)
        elif r < 0.68:
            self.exit(k)
        elif r < 0.72:
            self.munmap(k, rng.randrange(TASK_PAGES), rng.randrange(1, 8))
        elif r < 0.82:
            self.pageout(k, rng.randrange(TASK_PAGES), rng.randrange(1, TASK_PAGES))
        elif r < 0.88:
            self.reclaim(rng.randrange(2), rng.choice((64, 256, 1024)))
        elif r < 0.92:
            self.zswap_writeback(rng.randrange(2), rng.randrange(1, 16))
        elif r < 0.95:
            self.swap_toggle(rng.randrange(2))
        else:
            self.set_limit(rng.randrange(2), rng.randrange(8), rng.randrange(8))


@dataclass
class SoakResult:
    """What one design's soak did."""

    design: str
    seconds: float = 0.0
    machines: int = 0
    ops: int = 0
    pages_verified: int = 0
    oracle_checked: int = 0
    injected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_POINTS, 0))
    survived: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_POINTS, 0))
    deaths: dict[str, int] = field(default_factory=dict)
    swapoff_interrupted: int = 0
    swapoff_retried_ok: int = 0
    failure: str = ""
    #: What the failure was: ``"loss"`` (a page read back wrong or with no record),
    #: ``"leak"``, or ``"other"`` (a broken invariant, an illegitimate death); ``""`` if none.
    failure_kind: str = ""

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    @property
    def verified_per_s(self) -> float:
        return (self.pages_verified + self.oracle_checked) / self.seconds if self.seconds else 0.0


def soak(design: str, *, seconds: float, seed: int, ops_per_machine: int = 400,
         check_every: int = 8, rates: dict[str, float] | None = None) -> SoakResult:
    """Run machines of ``design`` under random operations and faults for ``seconds``.

    Each machine lives ``ops_per_machine`` operations, is checked every ``check_every``
    operations and ends with every task exited and :meth:`Machine.check_no_leaks`. The first
    failure (data loss, illegitimate death, broken invariant, leak) stops the soak and is
    recorded in ``failure``.
    """
    res = SoakResult(design)
    rng = random.Random(seed)
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        h = Harness(design, seed=rng.randrange(1 << 30), zswap=rng.random() < 0.8,
                    rates=rates if rates is not None else SOAK_RATES)
        res.machines += 1
        try:
            for i in range(ops_per_machine):
                h.random_op(rng)
                if i % check_every == check_every - 1:
                    h.check()
            h.finish()
        except (AssertionError, Exception) as exc:
            res.failure = f"machine {res.machines} (seed {seed}): {type(exc).__name__}: {exc}"
            res.failure_kind = ("loss" if isinstance(exc, DataLossError | HarnessDataLoss)
                                else "leak" if isinstance(exc, checks.LeakError) else "other")
        res.ops += h.ops
        res.pages_verified += h.pages_verified
        res.oracle_checked += h.m.oracle.stats.checked
        st = h.faults.statistics()
        for p in FAULT_POINTS:
            res.injected[p] += st.injected[p]
            res.survived[p] += h.survived[p]
        for k, v in h.deaths.items():
            res.deaths[k] = res.deaths.get(k, 0) + v
        res.swapoff_interrupted += h.swapoff_interrupted
        res.swapoff_retried_ok += h.swapoff_retried_ok
        if res.failure:
            break
    res.seconds = time.monotonic() - start
    return res
