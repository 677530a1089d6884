"""Moving swapped-out pages between swap tiers: demotion, promotion, one worker pass.

Models: nothing merged or posted; the seed's section III use case ("multi-tier swapping ...
with transparent transferring (promotion/demotion) of pages across tiers") built from the
kernel's own pieces, so that each design pays what it would pay:

* **Virtual designs** (``vswap``, ``vswap-static``, ``vswap-dynamic``, ``vswap-v6``): the
  page table holds the virtual entry, so a move never touches a PTE. The page is read into
  the swap cache (``pagein()`` of the virtual swapoff), its descriptor repointed to the
  folio (``vswap_swapoff()``, which frees the old slot), a slot allocated on the target
  tier (``vswap_alloc_swap_slot()``, the writeback-time allocation) and written
  (``__swap_writepage()``); the folio then leaves the swap cache.
* **Slot designs** (``classic``, ``swap-table-p1``, ``swap-table-p4``): the PTE holds the
  slot, and there is no reverse map from a slot to its PTEs. Each page is read into the
  swap cache at its old entry, given a new entry on the target tier
  (``folio_alloc_swap()``) and written there; then one walk of every page table, as
  ``try_to_unuse()`` walks them (``SwapHooks.move_swap_ptes``), rewrites the PTEs of the
  whole batch, and the swap counts move with them (``swap_duplicate`` on the new entry,
  ``swap_free_nr`` on the old one).
* ``vswap-ste``: the PTE holds the virtual entry and the physical cluster's swap table a
  reverse-map pointer word to it, so a move is the same operation as its compaction
  (:mod:`vswap.swap.vswap_ste_folio`) across devices. The page is read into the swap cache
  at its virtual entry (which pins it against a fault or a free), a physical slot claimed
  on the target tier and written; then the pointer word moves to the new slot, the
  ``virtual_table`` word is repointed and the old slot released: no PTE is visited, the
  ``memory.swap`` charge stays (still one physical slot), and with no room on the target
  the entry simply stays where it was. A direct-mapped entry (the fallback when the vswap
  space is full) is held by its PTEs as under phase IV, so it moves as the slot designs'
  entries do: a direct-mapped slot on the target tier (``direct_alloc``, charged), one
  page-table walk for the batch, the counts moved (as the design's swapoff walks for
  them).

Every move reads real bytes from one device and writes them to another, and the copy is
checked against the source bytes (``verified``). A move that cannot complete leaves the
entry where it was (busy in the swap cache, held by zswap, no room on the target tier, a
failed read or write), counted by reason.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Final

import numpy as np

from vswap.kernel.types import (
    PAGE_SIZE,
    SWAPFILE_CLUSTER,
    SwpEntry,
    swp_entry,
    swp_slot_offset,
    swp_slot_type,
)
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED, SWP_WRITEOK

if TYPE_CHECKING:
    from collections.abc import Callable

    from vswap.kernel.folio import Folio
    from vswap.swap._base import SwapDesignBase
    from vswap.swap.swapfile import SwapInfo
    from vswap.swap.tiers import SwapTiers

__all__ = ["move_entries", "swap_tier_pass", "tier_moves_unsupported", "tier_usage"]

_VIRTUAL: Final = ("vswap", "vswap-static", "vswap-dynamic", "vswap-v6")
_BY_WALK: Final = ("classic", "swap-table-p1", "swap-table-p4")
_STE: Final = ("vswap-ste",)


def tier_moves_unsupported(design: str) -> str | None:
    """Why ``design`` cannot move entries between tiers, or None if it can."""
    if design in _VIRTUAL or design in _BY_WALK or design in _STE:
        return None
    return (f"swap tier demotion/promotion is not modelled for design {design!r} "
            f"(it is for {', '.join(_BY_WALK + _VIRTUAL + _STE)})")


def _entry_of(d: SwapDesignBase, si: SwapInfo, off: int) -> int:
    if d.name in _BY_WALK:
        return int(swp_entry(si.type, off))
    return int(d.swp_slot_to_swp_entry(si.slot(off)))


def _used(d: SwapDesignBase, si: SwapInfo) -> np.ndarray:
    sm = np.frombuffer(si.swap_map, dtype=np.uint8)[:si.max]
    used: np.ndarray = (sm != 0) & (sm != d.devices.map_bad)
    used[0] = False
    return used


def _verify(d: SwapDesignBase, tiers: SwapTiers, entry: int, data: bytes) -> None:
    stored = d.swap_peek_entry(SwpEntry(entry))
    if stored is not None and stored != data:
        from vswap.kernel.errors import Errno, KernelError

        raise KernelError(Errno.EIO, f"swap tier move: entry {entry:#x} reads back "
                                     "different bytes")
    tiers.totals.verified += 1


def _fail(tiers: SwapTiers, si: SwapInfo, reason: str) -> None:
    tiers.totals.failed += 1
    tiers.totals.by_reason[reason] += 1
    t = tiers.tier_of_prio(si.prio)
    if t is not None:
        tiers.counters[t.name].move_failed += 1


def _read_into_cache(d: SwapDesignBase, tiers: SwapTiers, si: SwapInfo,
                     entry: SwpEntry) -> Folio | None:
    """Read ``entry`` into a new swap-cache folio, returned locked and uptodate; None (the
    reason counted) when the entry is already cached (busy), no folio can be had (nomem) or
    the read fails (read: the folio leaves the cache). The read is not a refault."""
    tiers.move_target = frozenset()
    try:
        folio, new_folio = d.read_swap_cache_async(entry)
        if folio is not None and not new_folio:
            tiers.totals.busy += 1
            return None
        if folio is None:
            _fail(tiers, si, "nomem")
            return None
        ok = d.swap_read_folio(folio)
    finally:
        tiers.move_target = None
    if not ok:
        folio.uptodate = False
        d.delete_from_swap_cache(folio)
        folio.folio_unlock()
        _fail(tiers, si, "read")
        return None
    folio.uptodate = True
    return folio


def _move_virtual(d: SwapDesignBase, tiers: SwapTiers, si: SwapInfo, entries: list[int],
                  dst: frozenset[int]) -> int:
    """Repoint each entry's descriptor to a slot on ``dst``; no PTE is visited."""
    from vswap.swap.vswap_base import VirtualSwapBase
    from vswap.swap.vswap_swapoff import pagein

    assert isinstance(d, VirtualSwapBase)
    moved = 0
    for e in entries:
        entry = SwpEntry(e)
        slot = d.swp_entry_to_swp_slot(entry)
        if not slot or d.swap_cache_get_folio(entry) is not None:
            tiers.totals.busy += 1
            continue
        tiers.move_target = frozenset()  # reads during a move are not refaults
        try:
            folio = pagein(d, entry)
        finally:
            tiers.move_target = None
        if folio is None or not folio.uptodate or folio.swap != entry or \
                not folio.folio_trylock():
            _fail(tiers, si, "read")
            continue
        data = bytes(folio.data)
        d.vswap_swapoff(entry, folio, slot)
        tiers.move_target = dst
        try:
            new = d.vswap_alloc_swap_slot(folio)
        finally:
            tiers.move_target = None
        back = not new
        if back:
            # No room on the target tier: back to any device the cgroup may use (the old
            # slot was just freed). With none, the page stays in the swap cache, dirty,
            # as after swapoff, and reclaim writes it out again later.
            _fail(tiers, si, "full")
            new = d.vswap_alloc_swap_slot(folio)
            if not new:
                folio.folio_unlock()
                continue
        folio.dirty = False
        d.swap_writepage_device(folio, new)
        if folio.dirty:  # a failed write: the folio keeps its slot and stays cached
            folio.folio_unlock()
            _fail(tiers, si, "write")
            continue
        d.delete_from_swap_cache(folio)
        folio.folio_unlock()
        _verify(d, tiers, e, data)
        moved += not back
    return moved


def _move_ste(d: SwapDesignBase, tiers: SwapTiers, si: SwapInfo, entries: list[int],
              dst: frozenset[int]) -> int:
    """vswap-ste: copy each virtual entry's page to a slot on ``dst``, then move its
    reverse-map pointer word there and repoint its virtual word; no PTE is visited. The
    direct-mapped entries move first, by :func:`_move_by_walk`."""
    from vswap.swap.vswap_ste import VswapSTE
    from vswap.swap.vswap_ste_folio import move_backing

    assert isinstance(d, VswapSTE)
    direct = [e for e in entries if not d.is_vswap_entry(SwpEntry(e))]
    moved = _move_by_walk(d, tiers, si, direct, dst) if direct else 0
    for e in entries:
        entry = SwpEntry(e)
        if not d.is_vswap_entry(entry):
            continue
        slot = d.swp_entry_to_swp_slot(entry)
        if not slot or swp_slot_type(slot) != si.type or \
                d.swap_cache_get_folio(entry) is not None:
            tiers.totals.busy += 1
            continue
        old = swp_slot_offset(slot)
        folio = _read_into_cache(d, tiers, si, entry)
        if folio is None:
            continue
        data = bytes(folio.data)
        tiers.move_target = dst
        try:
            new = d.devices.swap_slot_alloc(0, SWAP_MAP_ALLOCATED, folio.memcg_id)
        finally:
            tiers.move_target = None
        if not new:
            # No room on the target tier: the entry keeps its slot (nothing was released).
            d.delete_from_swap_cache(folio)
            folio.folio_unlock()
            _fail(tiers, si, "full")
            continue
        dsi = d.devices.swap_type_to_swap_info(swp_slot_type(new))
        assert dsi is not None
        folio.dirty = False
        d.device_write(dsi, swp_slot_offset(new), folio)
        if folio.dirty:  # a failed write: the new slot goes back, the old one still holds it
            d.devices.swap_range_free(dsi, swp_slot_offset(new), 1)
            folio.dirty = False
            d.delete_from_swap_cache(folio)
            folio.folio_unlock()
            _fail(tiers, si, "write")
            continue
        move_backing(d, si, old, dsi, swp_slot_offset(new))
        d.delete_from_swap_cache(folio)
        folio.folio_unlock()
        _verify(d, tiers, e, data)
        moved += 1
    return moved


def _move_by_walk(d: SwapDesignBase, tiers: SwapTiers, si: SwapInfo, entries: list[int],
                  dst: frozenset[int]) -> int:
    """Copy each entry to a new entry on ``dst``, then rewrite every PTE in one walk.
    (vswap-ste: for its direct-mapped entries, each given a direct-mapped slot.)"""
    alloc = d.folio_alloc_swap
    if d.name in _STE:
        from vswap.swap.vswap_ste import VswapSTE
        from vswap.swap.vswap_ste_rmap import direct_alloc

        assert isinstance(d, VswapSTE)
        ste = d

        def alloc(folio: Folio) -> SwpEntry:
            return direct_alloc(ste, folio)
    moves: dict[int, int] = {}
    folios: dict[int, Folio] = {}
    zswap = d.zswap
    for e in entries:
        old = SwpEntry(e)
        if zswap is not None and zswap.lookup(old) is not None:
            tiers.totals.busy += 1  # held by zswap: its writeback decides where it goes
            continue
        folio = _read_into_cache(d, tiers, si, old)
        if folio is None:
            continue
        d.delete_from_swap_cache(folio)
        tiers.move_target = dst
        try:
            new = alloc(folio)
        finally:
            tiers.move_target = None
        if not new:
            folio.folio_unlock()
            _fail(tiers, si, "full")
            continue
        err, _shadow = d.add_to_swap_cache(folio, new)
        if err:
            d.put_swap_folio(folio, new)
            folio.folio_unlock()
            _fail(tiers, si, "full")
            continue
        folio.dirty = False
        d.swap_writepage_device(folio)  # type: ignore[attr-defined]
        if folio.dirty:
            d.delete_from_swap_cache(folio)
            folio.folio_unlock()
            _fail(tiers, si, "write")
            continue
        moves[e] = int(new)
        folios[e] = folio
    if not moves:
        return 0
    visited, found = d.hooks.move_swap_ptes(moves)
    tiers.totals.walks += 1
    tiers.totals.ptes_visited += visited
    moved = 0
    for old_e, new_e in moves.items():
        n = found.get(old_e, 0)
        folio = folios[old_e]
        data = bytes(folio.data)
        for _ in range(n):
            d.swap_duplicate(SwpEntry(new_e))
            d.swap_free_nr(SwpEntry(old_e), 1)
        d.delete_from_swap_cache(folio)
        folio.folio_unlock()
        tiers.totals.ptes_rewritten += n
        if n:
            _verify(d, tiers, new_e, data)
            moved += 1
        else:
            _fail(tiers, si, "unmapped")
    return moved


def tier_usage(d: SwapDesignBase) -> dict[str, dict[str, int]]:
    """Pages on each tier's devices by owning cgroup path (``swap_cgroup``), now."""
    tiers = d.devices.tiers
    memcgs = d.env.memcgs
    out: dict[str, dict[str, int]] = {}
    for si in d.devices.devices():
        t = tiers.tier_of_prio(si.prio)
        per = out.setdefault(t.name if t is not None else si.name, {})
        for off in np.nonzero(_used(d, si))[0]:
            e = _entry_of(d, si, int(off))
            if not e:
                continue
            memcg = memcgs.mem_cgroup_from_id(d.lookup_swap_cgroup_id(SwpEntry(e)))
            path = memcg.path if memcg is not None else "/"
            per[path] = per.get(path, 0) + 1
    return {k: dict(sorted(v.items())) for k, v in out.items()}


def move_entries(d: SwapDesignBase, si: SwapInfo, entries: list[int],
                 dst: frozenset[int]) -> int:
    """Move ``entries`` (their data on ``si``) to the devices ``dst``, as the worker does
    (no tier bookkeeping beyond the totals). Returns the entries moved.

    Raises:
        ConfigError: the design cannot move entries (:func:`tier_moves_unsupported`).
    """
    why = tier_moves_unsupported(d.name)
    if why is not None:
        from vswap.errors import ConfigError

        raise ConfigError(why)
    return _mover(d)(d, d.devices.tiers, si, entries, dst)


def _mover(d: SwapDesignBase) -> Callable[
        [SwapDesignBase, SwapTiers, SwapInfo, list[int], frozenset[int]], int]:
    if d.name in _VIRTUAL:
        return _move_virtual
    if d.name in _STE:
        return _move_ste
    return _move_by_walk


def _candidates(d: SwapDesignBase, tiers: SwapTiers, si: SwapInfo, now: int) -> list[int]:
    """Offsets of ``si`` due for demotion: older than the age, then the oldest while the
    device is above its fill limit; oldest first."""
    k = tiers.knobs
    used = _used(d, si)
    stamps = tiers.stamps_of(si)
    offs = np.nonzero(used)[0]
    if not len(offs):
        return []
    order = offs[np.argsort(stamps[offs], kind="stable")]
    due: list[int] = []
    if k.demote_age_ns:
        old = order[now - stamps[order] >= k.demote_age_ns]
        due.extend(int(o) for o in old)
    if k.demote_fill_percent < 100:
        limit = si.pages * k.demote_fill_percent // 100
        over = len(offs) - limit
        if over > 0:
            seen = set(due)
            due.extend(int(o) for o in order[:over] if int(o) not in seen)
    return due


def _target(tiers: SwapTiers, d: SwapDesignBase, rank: int, step: int, memcg_id: int,
            by_rank: dict[int, list[SwapInfo]]) -> int:
    """The nearest rank from ``rank`` in direction ``step`` that the cgroup allows and that
    has a device with room; -1 if none."""
    r = rank + step
    while 0 <= r < len(tiers.tiers):
        if tiers.allowed_rank(r, memcg_id) and any(
                x.inuse_pages < x.pages for x in by_rank.get(r, ())):
            return r
        r += step
    return -1


def swap_tier_pass(d: SwapDesignBase, now: int, *, demote: bool = True) -> int:
    """One pass of the tier worker at time ``now`` (ns): stamp the slots seen in use,
    promote the queued clusters, then (``demote``) demote what is due; all within the rate
    limit (the pages earned since the last pass). Returns the pages moved. Context: the
    machine's operation (``mm.swap_tier``), not in reclaim.
    """
    tiers = d.devices.tiers
    if not tiers.enabled or not tiers.knobs.moves_enabled:
        return 0
    tiers.totals.passes += 1
    now = max(now, 1)
    devices = [si for si in d.devices.devices()
               if si.flags & SWP_WRITEOK and not si.dying]
    by_rank: dict[int, list[SwapInfo]] = defaultdict(list)
    for si in devices:
        by_rank[tiers.rank_of(si)].append(si)
        stamps = tiers.stamps_of(si)
        fresh = _used(d, si) & (stamps[:si.max] == 0)
        stamps[:si.max][fresh] = now
    # The rate limit: the bytes earned since the last pass, at most one period's worth.
    k = tiers.knobs
    elapsed = now - tiers.last_pass_ns if tiers.last_pass_ns else k.interval_ns
    tiers.last_pass_ns = now
    budget = max(min(elapsed, k.interval_ns) * k.rate_limit // 1_000_000_000 // PAGE_SIZE, 1)
    moved = 0
    # Promotion first: a task is waiting on the slow tier.
    for key in list(tiers.promote_queue):
        if budget <= 0:
            break
        del tiers.promote_queue[key]
        tiers.refaults.pop(key, None)
        src = d.devices.swap_type_to_swap_info(key[0])
        if src is None or src not in devices:
            continue
        si = src
        lo = key[1] * SWAPFILE_CLUSTER
        used = _used(d, si)[lo:lo + SWAPFILE_CLUSTER]
        offs = [lo + int(o) for o in np.nonzero(used)[0]][:budget]
        moved += _move_group(d, tiers, si, offs, -1, by_rank)
        budget -= max(len(offs), 1)
    if not demote:
        return moved
    for rank in range(len(tiers.tiers) - 1):
        for si in by_rank.get(rank, []):
            if budget <= 0:
                return moved
            offs = _candidates(d, tiers, si, now)[:budget]
            if offs:
                moved += _move_group(d, tiers, si, offs, +1, by_rank)
                budget -= len(offs)
    return moved


def _move_group(d: SwapDesignBase, tiers: SwapTiers, si: SwapInfo, offs: list[int],
                step: int, by_rank: dict[int, list[SwapInfo]]) -> int:
    """Move the entries at ``offs`` of ``si`` one allowed tier in direction ``step``."""
    rank = tiers.rank_of(si)
    groups: dict[int, list[int]] = defaultdict(list)
    for off in offs:
        e = _entry_of(d, si, off)
        if not e:
            continue
        memcg_id = d.lookup_swap_cgroup_id(SwpEntry(e))
        r = _target(tiers, d, rank, step, memcg_id, by_rank)
        if r < 0:
            _fail(tiers, si, "no-tier")
            continue
        groups[r].append(e)
    moved = 0
    src = tiers.tier_of_prio(si.prio)
    assert src is not None
    for r, entries in groups.items():
        dst = frozenset(x.type for x in by_rank[r])
        n = _mover(d)(d, tiers, si, entries, dst)
        moved += n
        to = tiers.tiers[r]
        if step > 0:
            tiers.totals.demoted += n
            tiers.counters[src.name].demoted_out += n
            tiers.counters[to.name].demoted_in += n
        else:
            tiers.totals.promoted += n
            tiers.counters[src.name].promoted_out += n
            tiers.counters[to.name].promoted_in += n
    return moved
