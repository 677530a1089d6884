"""``mthp-mixed``: mTHPs whose pages end up partly zero, partly in zswap, partly on disk,
then read back.

The workload of the mixed-backing large-folio swap-in use case (docs/future.md): one process
maps ``--size`` with ``MADV_HUGEPAGE`` and writes usemem content in ``--thp-size`` folios
(the workload sets that size's ``enabled`` to ``madvise``, every other size to ``never``,
``vm.page-cluster`` to 0 so swap-ins read only the faulting page, and zswap's
``shrinker_enabled``), every ``--zero-every``-th page zero; then:

1. ``MADV_PAGEOUT`` of the region: each folio is stored in zswap whole;
2. the zero pages are read back one by one (order-0 swap-ins) and the region is paged out
   again: those pages are now zero entries (the zeromap, or a ZERO descriptor) while their
   neighbours stay in zswap, at the same swap entries;
3. zswap writeback (the shrinker's scan, 16 entries at a time, oldest first) moves
   ``--writeback`` of the zswap entries to the swap device; then, with the shrinker off
   again, reclaim drops the written folios from the swap cache;
4. with ``--mixed`` (virtual designs only; one-line error elsewhere)
   ``/sys/kernel/mm/swap/mixed_swapin`` is switched on; every page is read back in order and
   checked.

Reported (``metrics``): the folios, the mTHP ``swpin`` / ``swpin_fallback`` counts of the
read-back, the folios read from mixed backends and their pages per backend, ``pswpin``,
``zswpin``, ``swpin_zero``, major faults, the device read requests (``readback_reads``) and
the read-back's modelled time.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.errors import ConfigError
from vswap.kernel.errors import KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_HUGEPAGE, MADV_PAGEOUT
from vswap.units import format_size, parse_size
from vswap.workloads._base import (
    USER_WORD_NS,
    Workload,
    WorkloadParser,
    device_requests,
    usemem_bytes,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling
from vswap.workloads._thp import enable_only_thp_order, thp_order_arg

if TYPE_CHECKING:
    from vswap.mm.mm_types import Task as MmTask
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

__all__ = ["MthpMixed"]

CHUNK_PAGES = 16
WB_BATCH = 16


class MthpMixed(Workload):
    """``mthp-mixed [--size S] [--thp-size T] [--zero-every N] [--writeback F] [--mixed]``."""

    name = "mthp-mixed"

    SCALING: ClassVar[dict[str, Scaling]] = {
        "size": Scaling(SIZE, "bytes of the mTHP region"),
        "thp_size": Scaling(KEPT, "the mTHP size", always=True),
        "zero_every": Scaling(KEPT, "one zero page in N", always=True),
        "writeback": Scaling(KEPT, "fraction of the zswap entries written back", always=True),
    }

    def __init__(self, command: str, *, size: int, order: int, zero_every: int,
                 writeback: float, mixed: bool) -> None:
        super().__init__(command)
        self.size = size
        self.order = order
        self.zero_every = zero_every
        self.writeback = writeback
        self.mixed = mixed

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("mthp-mixed")
        p.add_argument("--size", default="4M")
        p.add_argument("--thp-size", dest="thp_size", default="64K")
        p.add_argument("--zero-every", dest="zero_every", type=int, default=4)
        p.add_argument("--writeback", type=float, default=0.5)
        p.add_argument("--mixed", action="store_true")
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> MthpMixed:
        p = cls.parser()
        a = p.parse_args(argv)
        order = thp_order_arg(p, a.thp_size, "mthp-mixed")
        size = parse_size(a.size, what="mthp-mixed --size")
        if size < PAGE_SIZE << order:
            p.error(f"--size {a.size}: smaller than one --thp-size folio")
        if a.zero_every < 2:
            p.error(f"--zero-every {a.zero_every}: must be at least 2")
        if not 0.0 <= a.writeback <= 1.0:
            p.error(f"--writeback {a.writeback}: must be in [0, 1]")
        return cls(command, size=size, order=order, zero_every=a.zero_every,
                   writeback=a.writeback, mixed=a.mixed)

    def pages(self) -> int:
        nr = 1 << self.order
        n = self.size // PAGE_SIZE
        return n - n % nr

    def footprint_bytes(self) -> int:
        return self.pages() * PAGE_SIZE

    def progress_total(self) -> int:
        return 2 * self.pages()

    def _content(self, off: int, nb: int) -> bytes:
        data = bytearray(usemem_bytes(off, nb))
        for i in range(0, nb, PAGE_SIZE):
            if (off + i) // PAGE_SIZE % self.zero_every == 1:
                data[i:i + PAGE_SIZE] = bytes(PAGE_SIZE)
        return bytes(data)

    def start(self, ctx: WorkloadContext) -> None:
        m = ctx.machine
        if m.zswap is None:
            raise ConfigError("workload mthp-mixed: needs zswap (--zswap)")
        if self.mixed:
            try:
                m.sysfs_read("/sys/kernel/mm/swap/mixed_swapin")
            except KernelError as exc:
                raise ConfigError(f"mthp-mixed --mixed: {exc}") from None
        self._check_devices(ctx)
        enable_only_thp_order(m, self.order)
        m.sysfs_write("/proc/sys/vm/page-cluster", "0")
        m.sysfs_write("/sys/module/zswap/parameters/shrinker_enabled", "Y")
        proc = m.spawn("mthp", ctx.cgroup)
        ctx.spawn(self._body, ctx, proc, name="mthp-mixed")

    def _check_devices(self, ctx: WorkloadContext) -> None:
        """Refuse swap devices that cannot hold the region (a one-line ConfigError naming
        the smallest device that can).

        Every design must be able to give every page of the region a slot: classic and the
        swap tables reserve one per page at swap-out, for zswap's pages too (zswap stores
        into the slot's entry), so a smaller device fills with zswap's reserved slots, the
        rest of the region stays in memory and the row measures a different workload. One
        slot more stays free: reclaim scans anonymous memory only while swap has a free
        slot (``can_reclaim_anon_pages``), and the written-back folios must be reclaimed
        from the swap cache before the read-back. With the header page, one device of
        ``(pages + 2) * PAGE_SIZE`` is the smallest that holds it.
        """
        need = self.pages() + 1
        have = sum(int(rec["_si"].pages) for rec in ctx.device_records.values())
        if have < need:
            got = (f"swap devices hold {have} slots" if ctx.device_records
                   else "no swap device")
            raise ConfigError(
                f"workload mthp-mixed: {got}, fewer than the {self.pages()} pages of --size "
                f"{format_size(self.pages() * PAGE_SIZE)} and one free slot: needs a swap "
                f"device of at least {format_size((need + 1) * PAGE_SIZE)} (--swap-device)")

    def _body(self, task: CpuTask, ctx: WorkloadContext, proc: MmTask
              ) -> Generator[Event, Any, None]:
        m = ctx.machine
        n = self.pages()
        size = n * PAGE_SIZE
        step = CHUNK_PAGES * PAGE_SIZE
        addr = yield ctx.op(task, m.mmap, proc, size)
        yield ctx.op(task, m.madvise, proc, addr, size, MADV_HUGEPAGE)
        for off in range(0, size, step):
            nb = min(step, size - off)
            yield ctx.op(task, m.write, proc, addr + off, self._content(off, nb))
            yield ctx.user(task, nb // 8 * USER_WORD_NS)
            ctx.advance(nb // PAGE_SIZE)
        yield ctx.op(task, m.madvise, proc, addr, size, MADV_PAGEOUT)
        for i in range(1, n, self.zero_every):
            got = yield ctx.op(task, m.read, proc, addr + i * PAGE_SIZE, PAGE_SIZE)
            self._check(ctx, got, bytes(PAGE_SIZE))
        yield ctx.op(task, m.madvise, proc, addr, size, MADV_PAGEOUT)
        yield from self._write_back(task, ctx)
        if self.mixed:
            yield ctx.op(task, m.sysfs_write, "/sys/kernel/mm/swap/mixed_swapin", "1")
        stats = m.thp.stats[self.order]
        s0 = dict(stats)
        design = m.design
        runs0 = dict(getattr(design, "mixed_runs", {}))
        mixed0 = getattr(design, "mixed_swpin", 0)
        vm = m.vmstat
        v0 = {k: vm[k] for k in ("pswpin", "zswpin", "swpin_zero", "pgmajfault")}
        reads0 = device_requests(ctx)[0]
        t0 = ctx.engine.now
        for off in range(0, size, step):
            nb = min(step, size - off)
            got = yield ctx.op(task, m.read, proc, addr + off, nb)
            want = self._content(off, nb)
            for i in range(0, nb, PAGE_SIZE):
                self._check(ctx, got[i:i + PAGE_SIZE], want[i:i + PAGE_SIZE])
            ctx.advance(nb // PAGE_SIZE)
        runs = getattr(design, "mixed_runs", {})
        ctx.metrics.update({
            "mthp_folios": n >> self.order,
            "mthp_swpin": stats["swpin"] - s0.get("swpin", 0),
            "mthp_swpin_fallback": stats["swpin_fallback"] - s0.get("swpin_fallback", 0),
            "mixed_swpin": getattr(design, "mixed_swpin", 0) - mixed0,
            **{f"mixed_{k.removeprefix('VSWAP_').lower()}_pages": runs[k] - runs0.get(k, 0)
               for k in runs},
            **{f"readback_{k}": vm[k] - v for k, v in v0.items()},
            "readback_reads": device_requests(ctx)[0] - reads0,
            "readback_time_s": (ctx.engine.now - t0) / 1e9})
        ctx.report_lines.append(
            f"mthp-mixed: {n >> self.order} folios; read back with mTHP swpin "
            f"{ctx.metrics['mthp_swpin']}, {ctx.metrics['readback_pgmajfault']} major faults")
        yield ctx.op(task, m.exit, proc)

    def _write_back(self, task: CpuTask, ctx: WorkloadContext
                    ) -> Generator[Event, Any, None]:
        """zswap writeback of ``--writeback`` of the stored entries, oldest first, then
        reclaim of the written folios left in the swap cache."""
        m = ctx.machine
        zswap = m.zswap
        assert zswap is not None
        memcg = m.memcgs.lookup(ctx.cgroup)
        target = int(zswap.stored_pages * self.writeback)
        done = 0
        # Entries start referenced: the first pass over the LRU only rotates them (second
        # chance), so allow two passes' worth of batches.
        tries = 2 * (zswap.stored_pages // WB_BATCH + 1)
        while done < target and tries > 0:
            got = yield ctx.op(task, zswap.zswap_shrinker_scan, memcg,
                                    min(WB_BATCH, target - done))
            done += max(got, 0)
            tries -= 1
        # Reclaim with the shrinker off, so it frees the written folios and writes back
        # nothing more.
        m.sysfs_write("/sys/module/zswap/parameters/shrinker_enabled", "N")
        yield ctx.op(task, m.try_to_free_pages, self.pages())
        ctx.metrics["written_back"] = done

    @staticmethod
    def _check(ctx: WorkloadContext, got: bytes, want: bytes) -> None:
        if got == want:
            ctx.verified_pages += 1
        else:
            ctx.data_loss += 1
