"""Swap tiers: named priority ranges of swap devices, per-cgroup tier masks, and the state
the demotion/promotion worker keeps (slot ages, refaults, counters).

Models: "mm: swap: introduce swap tier infrastructure" (YoungJun Park, swap tiers v5-v10,
``Documentation/mm/swap-tier.rst`` in linux-mm): a tier is a user-named group of swap
devices classified by priority range; tiers are configured by writing
``"+NAME:START_PRIO"`` (add), ``"-NAME"`` (remove) or ``"NAME:START_PRIO"`` (modify) into
``/sys/kernel/mm/swap/tiers``, several operations separated by spaces or commas; each
tier's end priority is the start of the next higher one, and the tiers must cover -1
(``DEF_SWAP_PRIO``) .. 32767 (``SHRT_MAX``). A cgroup selects its tiers with
``memory.swap.tiers.max`` (v8/v9 spelling, suggested by Shakeel Butt and Yosry Ahmed): one
line per tier, ``max`` (allowed, the default) or ``0`` (disabled); the effective mask is
bounded by the parent's (a child cannot enable a tier its parent disabled). v10 moved the
masks to debugfs (``/sys/kernel/debug/swap/memcg_tiers``, not a stable ABI); the model keeps
the cgroup file.

Demotion and promotion between tiers are **not** in any posted series (v10 floats
``memory.swap.tiers.demotion``): they are this model's answer to the seed's section III
("multi-tier swapping ... with transparent transferring (promotion/demotion) of pages across
tiers"). The knobs (:class:`TierKnobs`) are the model's own and documented in
docs/future.md; the moves themselves are :mod:`vswap.swap.tier_move`.

Invariants: ``tiers`` is sorted by ``start`` descending (fastest first) and, when not empty,
its last tier starts at -1; ``idx`` values are unique and below :data:`MAX_SWAPTIER`; a
slot's age stamp is 0 exactly when the worker has not seen it in use since it was last freed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import SWAPFILE_CLUSTER

if TYPE_CHECKING:
    from vswap.kernel.memcontrol import MemCgroupTree
    from vswap.swap.swapfile import SwapInfo

__all__ = ["DEF_SWAP_PRIO", "MAX_SWAPTIER", "SHRT_MAX", "SwapTier", "SwapTiers", "TierKnobs"]

#: ``DEF_SWAP_PRIO``: the priority of a device swapped on without one (round robin).
DEF_SWAP_PRIO: Final = -1
#: The highest swap priority.
SHRT_MAX: Final = 32767
#: ``CONFIG_MAX_SWAPTIER`` default (swap tiers v4).
MAX_SWAPTIER: Final = 4
#: A tier name: the series' ``MAX_TIERNAME`` is 16 bytes with the NUL.
_NAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")


@dataclass
class SwapTier:
    """One tier: its name, its index (``Idx``, kept across modifications) and the lowest
    priority of its range."""

    name: str
    idx: int
    start: int


@dataclass
class TierKnobs:
    """The demotion/promotion worker's knobs (the model's, not a kernel interface).

    * ``demote_age_ns``: an entry not touched for this long moves down a tier (0: never by
      age). Ages count from the first worker pass that sees the slot in use.
    * ``demote_fill_percent``: above this fill a tier's oldest entries move down until it
      is below (100: never by fill).
    * ``promote_refaults``: after this many refaults from one cluster of a slower tier, that
      cluster's remaining entries move up a tier (0: no promotion).
    * ``rate_limit``: bytes moved per second, both directions together.
    * ``interval_ns``: the worker's period.
    """

    demote_age_ns: int = 0
    demote_fill_percent: int = 100
    promote_refaults: int = 0
    rate_limit: int = 64 << 20
    interval_ns: int = 100_000_000

    @property
    def moves_enabled(self) -> bool:
        """Will the worker ever move an entry?"""
        return bool(self.demote_age_ns or self.demote_fill_percent < 100
                    or self.promote_refaults)

    def pages_per_pass(self, page_size: int) -> int:
        """The rate limit as pages per worker pass (at least one)."""
        return max(int(self.rate_limit * self.interval_ns // 1_000_000_000) // page_size, 1)


@dataclass
class TierCounters:
    """Per-tier counters (pages): moved out down/up, moved in, failed moves."""

    demoted_out: int = 0
    demoted_in: int = 0
    promoted_out: int = 0
    promoted_in: int = 0
    refaults: int = 0
    move_failed: int = 0


@dataclass
class MoveTotals:
    """What every move did, all tiers together (the bench's columns)."""

    demoted: int = 0
    promoted: int = 0
    failed: int = 0
    busy: int = 0
    ptes_visited: int = 0
    ptes_rewritten: int = 0
    passes: int = 0
    walks: int = 0
    verified: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)


class SwapTiers:
    """The tier table, the cgroup masks and the worker's per-slot state of one machine.

    Models: ``swap_tiers`` (``mm/swap_tier.c`` of the series) plus the model's demotion and
    promotion state. With no tier defined every device is allowed and nothing moves.
    """

    def __init__(self, memcgs: MemCgroupTree | None = None) -> None:
        self.memcgs = memcgs
        self.tiers: list[SwapTier] = []
        self.knobs = TierKnobs()
        #: Disabled-tier bitmask per memcg id (bit ``idx``); absent: every tier allowed.
        self.memcg_disabled: dict[int, int] = {}
        #: Per device type: the time the worker first saw each slot in use (0: not seen).
        self.stamps: dict[int, np.ndarray] = {}
        #: Refaults per (device type, cluster) of a tier below the top since its last move.
        self.refaults: Counter[tuple[int, int]] = Counter()
        #: Clusters queued for promotion, in arrival order.
        self.promote_queue: dict[tuple[int, int], None] = {}
        self.counters: dict[str, TierCounters] = {}
        self.totals = MoveTotals()
        #: When the worker's last pass ran (ns; 0: never): its rate limit's clock.
        self.last_pass_ns = 0
        #: While a move runs: the device types the allocator may use (None: normal rules).
        self.move_target: frozenset[int] | None = None

    # -- the tier table (/sys/kernel/mm/swap/tiers) ------------------------------------------
    @property
    def enabled(self) -> bool:
        return bool(self.tiers)

    def write(self, text: str) -> None:
        """Apply a write to ``/sys/kernel/mm/swap/tiers``; all operations or none.

        Raises:
            KernelError(EINVAL): malformed operation, unknown or duplicate name, a priority
                outside -1..32767, more than :data:`MAX_SWAPTIER` tiers, or tiers that do
                not cover -1 afterwards.
        """
        ops = [op for op in re.split(r"[,\s]+", text.strip()) if op]
        if not ops:
            raise KernelError(Errno.EINVAL, "swap tiers: empty write")
        tiers = [SwapTier(t.name, t.idx, t.start) for t in self.tiers]
        for op in ops:
            if op.startswith("-"):
                name = op[1:]
                if not any(t.name == name for t in tiers):
                    raise KernelError(Errno.EINVAL, f"swap tiers: no tier {name!r}")
                tiers = [t for t in tiers if t.name != name]
                continue
            add = op.startswith("+")
            name, sep, prio_text = op.lstrip("+").partition(":")
            if not sep or not _NAME.match(name) or not re.fullmatch(r"-?\d+", prio_text):
                raise KernelError(Errno.EINVAL, f"swap tiers: malformed operation {op!r} "
                                                "(+NAME:PRIO, -NAME or NAME:PRIO)")
            prio = int(prio_text)
            if not DEF_SWAP_PRIO <= prio <= SHRT_MAX:
                raise KernelError(Errno.EINVAL, f"swap tiers: priority {prio} outside "
                                                f"{DEF_SWAP_PRIO}..{SHRT_MAX}")
            existing = next((t for t in tiers if t.name == name), None)
            if add:
                if existing is not None:
                    raise KernelError(Errno.EINVAL, f"swap tiers: tier {name!r} exists")
                if len(tiers) >= MAX_SWAPTIER:
                    raise KernelError(Errno.EINVAL, f"swap tiers: at most {MAX_SWAPTIER}")
                used = {t.idx for t in tiers}
                tiers.append(SwapTier(name, min(set(range(MAX_SWAPTIER)) - used), prio))
            else:
                if existing is None:
                    raise KernelError(Errno.EINVAL, f"swap tiers: no tier {name!r}")
                existing.start = prio
        starts = [t.start for t in tiers]
        if len(set(starts)) != len(starts):
            raise KernelError(Errno.EINVAL, "swap tiers: two tiers start at one priority")
        if tiers and min(starts) != DEF_SWAP_PRIO:
            raise KernelError(Errno.EINVAL, f"swap tiers: a tier must start at "
                                            f"{DEF_SWAP_PRIO} to cover the whole range")
        tiers.sort(key=lambda t: -t.start)
        gone = {t.idx for t in self.tiers} - {t.idx for t in tiers}
        for memcg_id in list(self.memcg_disabled):
            # A recreated tier starts allowed everywhere (the series resets the mask bit).
            self.memcg_disabled[memcg_id] &= ~sum(1 << i for i in gone)
        self.tiers = tiers
        for t in tiers:
            self.counters.setdefault(t.name, TierCounters())

    def read(self) -> str:
        """``cat /sys/kernel/mm/swap/tiers``."""
        lines = [f"{'Name':<16} {'Idx':<5} {'PrioStart':<11} PrioEnd\n"]
        end = SHRT_MAX
        for t in self.tiers:
            lines.append(f"{t.name:<16} {t.idx:<5} {t.start:<11} {end}\n")
            end = t.start - 1
        return "".join(lines)

    def tier_of_prio(self, prio: int) -> SwapTier | None:
        """The tier whose range holds ``prio`` (a priority below -1, from the old
        decreasing default, falls in the lowest tier); None without tiers."""
        for t in self.tiers:
            if prio >= t.start:
                return t
        return self.tiers[-1] if self.tiers else None

    def rank_of(self, si: SwapInfo) -> int:
        """The position of ``si``'s tier in the ladder, 0 the fastest (-1 without tiers)."""
        t = self.tier_of_prio(si.prio)
        return -1 if t is None else self.tiers.index(t)

    # -- memory.swap.tiers.max -------------------------------------------------------------
    def memcg_read(self, memcg_id: int) -> str:
        """``cat memory.swap.tiers.max``: ``NAME max`` or ``NAME 0`` per tier."""
        disabled = self.memcg_disabled.get(memcg_id, 0)
        return "".join(f"{t.name} {'0' if disabled >> t.idx & 1 else 'max'}\n"
                       for t in self.tiers)

    def memcg_write(self, memcg_id: int, text: str) -> None:
        """``echo "NAME max|0" > memory.swap.tiers.max`` (one or more lines).

        Raises:
            KernelError(EINVAL): malformed line or unknown tier (nothing changed).
        """
        disabled = self.memcg_disabled.get(memcg_id, 0)
        lines = [ln.split() for ln in re.split(r"[\n,]+", text) if ln.strip()]
        if not lines:
            raise KernelError(Errno.EINVAL, "memory.swap.tiers.max: empty write")
        for parts in lines:
            if len(parts) != 2 or parts[1] not in ("max", "0"):
                raise KernelError(Errno.EINVAL, f"memory.swap.tiers.max: {' '.join(parts)!r}"
                                                " is not '<tier> max' or '<tier> 0'")
            tier = next((t for t in self.tiers if t.name == parts[0]), None)
            if tier is None:
                raise KernelError(Errno.EINVAL, f"memory.swap.tiers.max: no tier {parts[0]!r}")
            if parts[1] == "0":
                disabled |= 1 << tier.idx
            else:
                disabled &= ~(1 << tier.idx)
        self.memcg_disabled[memcg_id] = disabled

    def effective_disabled(self, memcg_id: int) -> int:
        """The disabled mask of ``memcg_id`` and every ancestor (``effective_mask``)."""
        if not self.memcg_disabled or not memcg_id or self.memcgs is None:
            return 0
        memcg = self.memcgs.mem_cgroup_from_id(memcg_id)
        mask = 0
        while memcg is not None:
            mask |= self.memcg_disabled.get(memcg.id, 0)
            memcg = memcg.parent
        return mask

    def allowed(self, si: SwapInfo, memcg_id: int) -> bool:
        """May a folio of ``memcg_id`` get a slot on ``si`` (the allocator's filter)?"""
        if self.move_target is not None:
            return si.type in self.move_target
        if not self.tiers:
            return True
        t = self.tier_of_prio(si.prio)
        return t is None or not self.effective_disabled(memcg_id) >> t.idx & 1

    def allowed_rank(self, rank: int, memcg_id: int) -> bool:
        return not self.effective_disabled(memcg_id) >> self.tiers[rank].idx & 1

    # -- the worker's per-slot state ---------------------------------------------------------
    def stamps_of(self, si: SwapInfo) -> np.ndarray:
        arr = self.stamps.get(si.type)
        if arr is None or len(arr) < si.max:
            arr = self.stamps[si.type] = np.zeros(si.max, dtype=np.int64)
        return arr

    def slots_freed(self, type_: int, offset: int, nr: int) -> None:
        """Slots returned to the allocator: their ages restart (``swap_range_free``)."""
        arr = self.stamps.get(type_)
        if arr is not None:
            arr[offset:offset + nr] = 0

    def note_read(self, si: SwapInfo, offset: int) -> None:
        """A page was read from ``si`` (a refault): count it for promotion."""
        if not self.knobs.promote_refaults or self.move_target is not None or \
                self.rank_of(si) <= 0:
            return
        key = (si.type, offset // SWAPFILE_CLUSTER)
        self.refaults[key] += 1
        t = self.tier_of_prio(si.prio)
        assert t is not None
        self.counters[t.name].refaults += 1
        if self.refaults[key] >= self.knobs.promote_refaults:
            self.promote_queue[key] = None

    def device_removed(self, type_: int) -> None:
        """swapoff: forget the device's state."""
        self.stamps.pop(type_, None)
        for key in [k for k in self.refaults if k[0] == type_]:
            del self.refaults[key]
        for key in [k for k in self.promote_queue if k[0] == type_]:
            del self.promote_queue[key]

    def stats(self) -> dict[str, object]:
        """The per-tier counters and the totals, for the run's result."""
        t = self.totals
        return {
            "tiers": {x.name: {"idx": x.idx, "start": x.start,
                               **vars(self.counters[x.name])} for x in self.tiers},
            "demoted": t.demoted, "promoted": t.promoted, "failed": t.failed,
            "busy": t.busy, "ptes_visited": t.ptes_visited,
            "ptes_rewritten": t.ptes_rewritten, "passes": t.passes, "walks": t.walks,
            "verified": t.verified, "failed_by_reason": dict(t.by_reason),
        }
