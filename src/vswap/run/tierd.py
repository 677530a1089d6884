"""The swap tier worker as an engine task of a timed run.

Models: the model's demotion/promotion worker (docs/future.md): a kernel thread that wakes
every ``interval`` (or at once when a refault queued a promotion), runs one pass
(:func:`vswap.mm.swap_tier.swap_tier_work`), and has its
steps charged like any kernel operation: the reads and writes on the devices' queues, the
page-table walk of the slot designs, the swap-cache and allocator work. It stops once
every task of the run has exited.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from vswap.mm.swap_tier import swap_tier_work

if TYPE_CHECKING:
    from vswap.run.context import RunContext
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event

__all__ = ["PROMOTE_POLLS", "start_tier_worker"]

#: Looks for queued promotions per worker period.
PROMOTE_POLLS = 100


def start_tier_worker(ctx: RunContext) -> None:
    """Spawn the worker if the machine's tiers would move anything; its modelled time goes
    to ``ctx.tier_worker_ns``."""
    m = ctx.machine
    tiers = m.design.devices.tiers
    if not tiers.enabled or not tiers.knobs.moves_enabled:
        return
    ctx.tier_worker_ns = 0

    interval = tiers.knobs.interval_ns
    # A refault from a slow tier queues its cluster for promotion and wakes the worker
    # (a queued work item); the model looks for such work every 1/100 of the period.
    poll = max(interval // PROMOTE_POLLS, 1)

    def body(task: CpuTask) -> Generator[Event, Any, None]:
        waited = 0
        while True:
            yield task.sleep(poll)
            waited += poll
            if not m.tasks:
                return
            full = waited >= interval
            if not full and not tiers.promote_queue:
                continue
            if full:
                waited = 0
            t0 = ctx.engine.now
            yield from ctx.op(task, swap_tier_work, m, ctx.engine.now, full)
            ctx.tier_worker_ns += ctx.engine.now - t0

    ctx.spawn(body, name="swap_tierd")
