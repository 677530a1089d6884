"""The swap tier worker's pass as the memory manager runs it.

Models: a kernel worker (the model's; swap tiers v10 leaves demotion and promotion
undefined) that wakes every ``interval`` and moves swapped-out pages between tiers
(:func:`vswap.swap.tier_move.swap_tier_pass`). It allocates its bounce folios as reclaim
does (``PF_MEMALLOC``: the charge is forced; the folio is freed when the move ends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vswap.swap.tier_move import swap_tier_pass

if TYPE_CHECKING:
    from vswap.mm.machine import Machine

__all__ = ["swap_tier_work"]


def swap_tier_work(m: Machine, now: int, demote: bool = True) -> int:
    """One pass of the tier worker at time ``now`` (ns); ``demote`` False only promotes
    (a wake for a queued promotion). Returns the pages moved."""
    m.op_begin(None)
    m._memalloc += 1
    try:
        return swap_tier_pass(m.design, now, demote=demote)
    finally:
        m._memalloc -= 1
        m.op_end()
