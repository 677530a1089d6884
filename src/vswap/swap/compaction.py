"""Swapfile compaction: move allocated physical slots to rebuild free clusters.

Models: the future use case of the virtual swap cover letter (section III, "Swapfile
compaction to alleviate fragmentation", Ying Huang's proposal, ref [6]; spec part 2 section
15.3). No kernel has it; cluster compaction is named as future work upstream. Order-0 swap-outs
and frees leave clusters half used, so a large folio finds no free cluster (no contiguous
run of its order) and is split (classic) or kept (RFC v2). Compaction empties the sparsest
clusters into the holes of the densest ones:

* **plan** (:func:`plan_moves`): clusters in use but not full, sparsest first as sources,
  densest first as destinations; each movable slot of a source goes to the lowest free slot
  of the current destination, until the two meet. A slot that cannot move (see below) stays,
  and its cluster stays in use.
* **virtual designs** (``vswap``, ``vswap-static``, ``vswap-dynamic``, ``vswap-v6``): the
  reverse map names the descriptor owning the slot; the page is read from the old slot and
  written to the new one (real bytes, read back and compared), the descriptor's slot and the
  reverse map are updated, the old slot is freed. PTEs are untouched: they hold the virtual
  id. The ``memory.swap`` charge stays (same owner, still one physical slot). A slot whose
  descriptor has a folio in the swap cache is pinned and skipped.
* **classic**: the PTE holds the slot, so a move rewrites every PTE of the entry: a
  ``try_to_unuse``-style walk over every page table of every mm (``SwapHooks.remap_swap_ptes``)
  after the data is copied, then the swap count byte, ``swap_cgroup`` owner, zeromap bit and
  workingset shadow move to the new slot. An entry is moved only if its PTEs number exactly
  its swap count; slots held by the swap cache, by zswap (its tree is keyed by the slot), or
  with count continuations are skipped.
* **vswap-ste**: a slot backing a virtual one moves by a copy, its reverse-map pointer word
  moving to the new slot and the virtual word repointed (one update each, no PTE:
  :mod:`vswap.swap.vswap_ste_folio`); direct-mapped slots (the fallback when the vswap space
  is full) are held by PTEs and stay, as do slots whose virtual entry has a folio cached.
* **swap-table-p1, swap-table-p4**: not modelled (their per-cluster swap tables hold counts,
  folios and shadows by physical slot, and a PTE holds the slot); a one-line ``ENOTSUP``
  error.

A destination claim can fail (fault point ``device_full``): compaction stops there, every
move already made stands, nothing is half done. The fragmentation measure
(:class:`FragStats`) counts free clusters and the largest run of free slots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vswap.kernel.errors import DataLossError, Errno, KernelError
from vswap.kernel.tracing import Cost
from vswap.kernel.types import (
    PAGE_SIZE,
    SWAPFILE_CLUSTER,
    SwpEntry,
    SwpSlot,
    swp_entry,
    swp_slot,
)
from vswap.swap.swapfile import (
    COUNT_CONTINUED,
    SWAP_HAS_CACHE,
    SWAP_MAP_ALLOCATED,
    SWAP_MAP_SHMEM,
    SWP_WRITEOK,
    ClusterFlag,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from vswap.swap.classic import ClassicSwap
    from vswap.swap.swapfile import SwapInfo
    from vswap.swap.vswap_base import VirtualSwapBase
    from vswap.swap.vswap_ste import VswapSTE

__all__ = ["CompactResult", "FragStats", "check_compactable", "plan_moves", "swap_compact"]

_FREE_RUN = re.compile(rb"\x00+")


@dataclass(frozen=True)
class FragStats:
    """A device's fragmentation: whole clusters free, the largest run of free slots, and
    slots in use."""

    clusters: int
    free_clusters: int
    largest_free_run: int
    used: int

    @classmethod
    def of(cls, si: SwapInfo) -> FragStats:
        runs = [m.end() - m.start() for m in _FREE_RUN.finditer(bytes(si.swap_map))]
        return cls(clusters=si.nr_clusters, free_clusters=len(si.free_clusters),
                   largest_free_run=max(runs, default=0), used=si.inuse_pages)


@dataclass
class CompactResult:
    """What one compaction of one device did and cost.

    ``moved``: slots relocated; ``skipped``: used slots of source clusters that could not
    move (pinned); ``io_read_pages``/``io_write_pages``: pages copied through the device;
    ``desc_updates``: descriptor (and reverse-map) updates (virtual designs);
    ``ptes_scanned``/``ptes_rewritten``: the page-table walk (classic); ``stopped``: why it
    ended early ("" when the plan ran out).
    """

    design: str
    device: str
    before: FragStats
    after: FragStats | None = None
    moved: int = 0
    skipped: int = 0
    io_read_pages: int = 0
    io_write_pages: int = 0
    desc_updates: int = 0
    ptes_scanned: int = 0
    ptes_rewritten: int = 0
    stopped: str = ""
    skipped_why: dict[str, int] = field(default_factory=dict)


def _skip(result: CompactResult, why: str) -> None:
    result.skipped += 1
    result.skipped_why[why] = result.skipped_why.get(why, 0) + 1


def plan_moves(si: SwapInfo, movable: Callable[[int], str]) -> tuple[list[tuple[int, int]],
                                                                       list[str]]:
    """The moves (old offset, new offset) that empty the sparsest clusters into the holes of
    the densest, and the reasons of the slots that must stay (clusters with a slot that can
    never be free, such as the header, are destinations first).

    ``movable(off)`` returns "" for a slot that may move, else why not. Only clusters that
    are in use and not full take part; the header and bad slots never move.
    """
    bad = si.map_bad
    # Clusters that can never be free (the header, a bad slot, the tail past ``max``) are
    # the first destinations, never sources.
    fixed = {0, (si.max - 1) // SWAPFILE_CLUSTER} if si.max % SWAPFILE_CLUSTER else {0}
    if si.nr_badpages:
        off = si.swap_map.find(bad, 1)
        while off >= 0:
            fixed.add(off // SWAPFILE_CLUSTER)
            off = si.swap_map.find(bad, off + 1)
    part = [c for c in range(si.nr_clusters)
            if si.cluster_flags[c] not in (ClusterFlag.FREE, ClusterFlag.FULL)
            and si.cluster_count[c]]
    part.sort(key=lambda c: (c in fixed, si.cluster_count[c], c))
    holes_of: dict[int, list[int]] = {}
    moves: list[tuple[int, int]] = []
    pinned: list[str] = []
    lo, hi = 0, len(part) - 1
    while lo < hi:
        src = part[lo]
        start = src * SWAPFILE_CLUSTER
        for off in range(max(start, 1), min(start + SWAPFILE_CLUSTER, si.max)):
            v = si.swap_map[off]
            if not v or v == bad:
                continue
            why = movable(off)
            if why:
                pinned.append(why)
                continue
            while lo < hi:
                dst = part[hi]
                holes = holes_of.get(dst)
                if holes is None:
                    d0 = dst * SWAPFILE_CLUSTER
                    holes = [o for o in range(min(d0 + SWAPFILE_CLUSTER, si.max) - 1,
                                              max(d0, 1) - 1, -1) if not si.swap_map[o]]
                    holes_of[dst] = holes
                if holes:
                    moves.append((off, holes.pop()))
                    break
                hi -= 1
            if lo >= hi:
                break
        lo += 1
    return moves, pinned


def swap_compact(design: object, si: SwapInfo) -> CompactResult:
    """Compact device ``si`` of ``design``; see the module docstring.

    Raises:
        KernelError(ENOTSUP): a design without compaction (one line saying why).
        KernelError(EBUSY): the device is being swapped off.
    """
    from vswap.swap.classic import ClassicSwap
    from vswap.swap.vswap_base import VirtualSwapBase
    from vswap.swap.vswap_ste import VswapSTE

    check_compactable(design)
    if not si.flags & SWP_WRITEOK:
        raise KernelError(Errno.EBUSY, f"swap compaction: {si.name} is being swapped off")
    result = CompactResult(design=str(getattr(design, "name", "")), device=si.name,
                           before=FragStats.of(si))
    if isinstance(design, VirtualSwapBase):
        _compact_virtual(design, si, result)
    elif isinstance(design, VswapSTE):
        _compact_ste(design, si, result)
    else:
        assert isinstance(design, ClassicSwap)
        _compact_classic(design, si, result)
    result.after = FragStats.of(si)
    return result


def check_compactable(design: object) -> None:
    """KernelError(ENOTSUP), one line saying why, unless ``design`` has compaction."""
    from vswap.swap.classic import ClassicSwap
    from vswap.swap.vswap_base import VirtualSwapBase
    from vswap.swap.vswap_ste import VswapSTE

    name = str(getattr(design, "name", type(design).__name__))
    if isinstance(design, VirtualSwapBase | VswapSTE) or (isinstance(design, ClassicSwap)
                                                          and name == "classic"):
        return
    raise KernelError(Errno.ENOTSUP, f"swap compaction: not available under {name}: not "
                                     "modelled (its swap table keeps counts, folios and "
                                     "shadows per physical slot)")


def _copy(d: VirtualSwapBase[Any, Any] | ClassicSwap | VswapSTE, si: SwapInfo, old: int, new: int,
          result: CompactResult) -> None:
    """Read the page at ``old``, write it at ``new``, read it back and compare."""
    data = si.storage.read_page(old)
    si.storage.write_page(new, data)
    d.tracer.device_io(si.name, "read", PAGE_SIZE)
    d.tracer.device_io(si.name, "write", PAGE_SIZE)
    if si.storage.read_page(new) != data:
        raise DataLossError(f"swap compaction: {si.name} slot {new} differs from slot {old}")
    result.io_read_pages += 1
    result.io_write_pages += 1


# -- the virtual designs: one descriptor update per slot ------------------------------------
def _compact_virtual(d: VirtualSwapBase[Any, Any], si: SwapInfo, result: CompactResult) -> None:
    from vswap.swap.vswap_desc import SwapType

    t = d.table

    def movable(off: int) -> str:
        e = d.rmap.owner(si.type, off)
        if not e or not t.is_live(e) or t.type[e] != SwapType.VSWAP_SWAPFILE:
            return "no owner"
        if t.slot_of(e) != int(si.slot(off)):
            return "no owner"
        if d.swap_cache.swap_cache_get_folio(SwpEntry(e)) is not None:
            return "swap cache"
        return ""

    moves, pinned = plan_moves(si, movable)
    for why in pinned:
        _skip(result, why)
    set_slot = _slot_setter(d)
    for old, new in moves:
        if not d.devices.swap_slot_claim(si, new, SWAP_MAP_ALLOCATED):
            result.stopped = "device full"
            return
        e = d.rmap.owner(si.type, old)
        _copy(d, si, old, new, result)
        set_slot(e, swp_slot(si.type, new))
        if d.wb_compressed:  # a compressed object moves with its slot
            moved = d.wb_compressed.pop(int(si.slot(old)), None)
            if moved is not None:
                d.wb_compressed[int(si.slot(new))] = moved
        d.rmap.set(si.type, old, 0)
        d.rmap.set(si.type, new, e)
        d.tracer.lock_step("vswap_rmap", "vswap_rmap", Cost.VSWAP_RMAP_INSERT)
        result.desc_updates += 1
        d.devices.swap_range_free(si, old, 1)
        result.moved += 1


def _compact_ste(d: VswapSTE, si: SwapInfo, result: CompactResult) -> None:
    """vswap-ste: a slot backing a virtual one moves by one pointer-word move and one
    virtual-word update (:mod:`vswap.swap.vswap_ste_folio`); direct-mapped slots stay."""
    from vswap.swap.vswap_ste_folio import compact_movable, compact_move

    moves, pinned = plan_moves(si, lambda off: compact_movable(d, si, off))
    for why in pinned:
        _skip(result, why)
    for old, new in moves:
        if not d.devices.swap_slot_claim(si, new, SWAP_MAP_ALLOCATED):
            result.stopped = "device full"
            return
        _copy(d, si, old, new, result)
        compact_move(d, si, old, new)
        result.desc_updates += 1
        result.moved += 1


def _slot_setter(d: VirtualSwapBase[Any, Any]) -> Callable[[int, SwpSlot], None]:
    """How the design's table stores a descriptor's slot (RFC v2 ``slot``, v6 ``backing``)."""
    from vswap.swap.vswap_desc import VswapDescTable

    t = d.table
    if isinstance(t, VswapDescTable):
        slots = t.slot

        def set_v2(e: int, s: SwpSlot) -> None:
            slots[e] = s

        return set_v2
    backing = t.backing

    def set_v6(e: int, s: SwpSlot) -> None:
        backing[e] = s

    return set_v6


# -- classic: the page-table walk --------------------------------------------------------------
def _compact_classic(d: ClassicSwap, si: SwapInfo, result: CompactResult) -> None:
    zmap = d.zeromap[si.type]
    cgroup = d.swap_cgroup[si.type]

    def movable(off: int) -> str:
        v = si.swap_map[off]
        if v & SWAP_HAS_CACHE:
            return "swap cache"
        if v & COUNT_CONTINUED or v == SWAP_MAP_SHMEM:
            return "count continuation"
        if d.zswap is not None and d.zswap.lookup(swp_entry(si.type, off)) is not None:
            return "zswap"
        return ""

    moves, pinned = plan_moves(si, movable)
    for why in pinned:
        _skip(result, why)
    claimed: dict[int, tuple[int, int]] = {}
    for old, new in moves:
        v = si.swap_map[old]
        if not d.devices.swap_slot_claim(si, new, v):
            result.stopped = "device full"
            break
        if not zmap[old >> 3] >> (old & 7) & 1:
            _copy(d, si, old, new, result)
        claimed[old] = (new, si.full_count(old))
    if not claimed:
        return
    visited, done = d.hooks.remap_swap_ptes(si.type, claimed)
    result.ptes_scanned += visited
    for old, (new, count) in claimed.items():
        if old not in done:
            _skip(result, "other holders")
            d.devices.swap_range_free(si, new, 1)
            continue
        result.ptes_rewritten += count
        if zmap[old >> 3] >> (old & 7) & 1:
            zmap[old >> 3] &= ~(1 << (old & 7)) & 0xFF
            zmap[new >> 3] |= 1 << (new & 7)
        cgroup[new] = cgroup[old]
        cgroup[old] = 0
        d.swap_cache.move_shadow(swp_entry(si.type, old), swp_entry(si.type, new))
        d.devices.swap_range_free(si, old, 1)
        result.moved += 1

