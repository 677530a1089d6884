"""``coldstart``: relaunch an app whose memory went to swap while it sat in the background.

Models: the cold app launches of the swap tiers v10 cover letter (YoungJun Park,
2026-07-13: background apps on a network block device tier, foreground apps relaunched
from it, 13.17 -> 4.18 s) as a program: an app (``<cgroup>/app``) is launched (writes its
``--app`` bytes), other apps (``<cgroup>/others``) then fill ``--others`` bytes and push it
into swap, the machine idles ``--idle`` seconds (the tier worker may demote the app's
entries meanwhile), the others exit, and the app is relaunched: it reads all its memory
back, each page checked. The result is the relaunch's latency (``launch_s``), beside the
first launch (``first_launch_s``) and where the app's pages were just before it
(``app_swapped_pages``, ``app_pages_by_tier``; every cgroup's pages per tier:
``swap_pages_by_tier_and_cgroup``).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, ClassVar

from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.mm.mm_types import PTE_PRESENT, PTE_TABLE_MASK, PTE_TABLE_SHIFT, pte_to_swp_entry
from vswap.swap.tier_move import tier_usage
from vswap.workloads._base import (
    USER_MEMSET_PAGE_NS,
    Workload,
    WorkloadParser,
    size_arg,
    usemem_bytes,
    usemem_data,
)
from vswap.workloads._scale import KEPT, SIZE, Scaling

if TYPE_CHECKING:
    from vswap.mm.mm_types import Task as MmTask
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

#: Pages per kernel operation.
CHUNK_PAGES = 16


def _idle_arg(text: str) -> float:
    from vswap.errors import ConfigError

    try:
        v = float(text)
    except ValueError:
        raise ConfigError(f"coldstart --idle: {text!r} is not a number of seconds") from None
    if not 0 <= v <= 86400:
        raise ConfigError(f"coldstart --idle: {v:g} is outside 0..86400 seconds")
    return v


class Coldstart(Workload):
    """``coldstart --app SIZE --others SIZE [--idle SEC]``."""

    name = "coldstart"

    SCALING: ClassVar[dict[str, Scaling]] = {
        "app": Scaling(SIZE, "bytes of the relaunched app"),
        "others": Scaling(SIZE, "bytes of the other apps"),
        "idle": Scaling(KEPT, "seconds in the background (the demotion age is not scaled)"),
    }

    def __init__(self, command: str, *, app: int, others: int, idle: float) -> None:
        super().__init__(command)
        self.app = app
        self.others = others
        self.idle = idle

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("coldstart")
        p.add_argument("--app", type=size_arg("coldstart --app"), required=True)
        p.add_argument("--others", type=size_arg("coldstart --others"), required=True)
        p.add_argument("--idle", type=_idle_arg, default=1.0)
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> Coldstart:
        p = cls.parser()
        a = p.parse_args(argv)
        for what, v in (("--app", a.app), ("--others", a.others)):
            if v < 16 * PAGE_SIZE:
                p.error(f"{what} {v} is smaller than 16 pages")
        return cls(command, app=a.app - a.app % PAGE_SIZE,
                   others=a.others - a.others % PAGE_SIZE, idle=a.idle)

    def footprint_bytes(self) -> int:
        return self.app + self.others

    def progress_total(self) -> int:
        return (2 * self.app + self.others) // PAGE_SIZE

    def needs_device(self) -> bool:
        return True

    def start(self, ctx: WorkloadContext) -> None:
        m = ctx.machine
        base = ctx.cgroup.rstrip("/")
        for sub in ("app", "others"):
            m.create_cgroup(f"{base}/{sub}")
        app = m.spawn("app", f"{base}/app")
        others = m.spawn("others", f"{base}/others")
        ctx.spawn(self._body, ctx, app, others, name="coldstart")

    def _fill(self, task: CpuTask, ctx: WorkloadContext, proc: MmTask, addr: int,
              size: int) -> Generator[Event, Any, None]:
        m = ctx.machine
        step = CHUNK_PAGES * PAGE_SIZE
        for off in range(0, size, step):
            nb = min(step, size - off)
            yield ctx.op(task, m.write, proc, addr + off, usemem_data(m, off, nb))
            yield ctx.user(task, nb // PAGE_SIZE * USER_MEMSET_PAGE_NS)
            ctx.advance(nb // PAGE_SIZE)

    def _body(self, task: CpuTask, ctx: WorkloadContext, app: MmTask, others: MmTask
              ) -> Generator[Event, Any, None]:
        m = ctx.machine
        t0 = ctx.engine.now
        a_addr = yield ctx.op(task, m.mmap, app, self.app)
        yield from self._fill(task, ctx, app, a_addr, self.app)
        first = ctx.engine.now - t0
        o_addr = yield ctx.op(task, m.mmap, others, self.others)
        yield from self._fill(task, ctx, others, o_addr, self.others)
        ctx.snapshot_metadata()
        yield task.sleep(int(self.idle * 1e9))
        swapped, by_tier = self._where(ctx, app, a_addr)
        usage = tier_usage(m.design)
        yield ctx.op(task, m.exit, others)
        t0 = ctx.engine.now
        step = CHUNK_PAGES * PAGE_SIZE
        bad = 0
        for off in range(0, self.app, step):
            nb = min(step, self.app - off)
            got = yield ctx.op(task, m.read, app, a_addr + off, nb)
            if got != usemem_bytes(off, nb):
                bad += 1
            ctx.verified_pages += nb // PAGE_SIZE
            ctx.advance(nb // PAGE_SIZE)
        launch = ctx.engine.now - t0
        ctx.data_loss += bad
        yield ctx.op(task, m.exit, app)
        ctx.metrics.update({"launch_s": launch / 1e9, "first_launch_s": first / 1e9,
                            "app_swapped_pages": swapped, "app_pages_by_tier": by_tier,
                            "swap_pages_by_tier_and_cgroup": usage})
        ctx.report_lines.append(f"first launch {first / 1e9:.6f} s, relaunch after "
                                f"{self.idle:g} s idle {launch / 1e9:.6f} s "
                                f"({swapped} of {self.app // PAGE_SIZE} pages swapped: "
                                f"{by_tier})")

    def _where(self, ctx: WorkloadContext, app: MmTask, addr: int) -> tuple[int, dict[str, int]]:
        """The app's swapped pages, and how many are on a device of each tier."""
        m = ctx.machine
        d = m.design
        tiers = d.devices.tiers
        by_tier: dict[str, int] = {}
        swapped = 0
        for vpn in range(addr // PAGE_SIZE, (addr + self.app) // PAGE_SIZE):
            table = app.mm.tables.get(vpn >> PTE_TABLE_SHIFT)
            pte = table[0][vpn & PTE_TABLE_MASK] if table is not None else 0
            if not pte or pte & PTE_PRESENT:
                continue
            entry = pte_to_swp_entry(pte)
            swapped += 1
            si = d.get_swap_device(SwpEntry(entry))
            if si is None:
                name = "zswap/zero/cache"
            else:
                t = tiers.tier_of_prio(si.prio)
                name = t.name if t is not None else si.name
                d.put_swap_device(si)
            by_tier[name] = by_tier.get(name, 0) + 1
        return swapped, dict(sorted(by_tier.items()))
