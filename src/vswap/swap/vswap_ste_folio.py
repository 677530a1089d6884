"""The large-folio use cases under the Swap Table Edition: discontiguous physical slots,
mixed-backing swap-in and swapfile compaction of backing slots.

Models: the virtual swap cover letter's section III use cases (spec part 2, sections 15.3 to
15.5; docs/future.md) on ``vswap-ste``, whose ``virtual_table`` word names each virtual
slot's backend on its own (a physical slot per word, plus the reverse-map pointer word in
the physical cluster's swap table). None of it is in the posted series; it is what its
indirection permits, as :mod:`vswap.swap.folio_slots` and :mod:`vswap.swap.compaction` build
for the RFC v2 / v6 designs:

* **discontiguous slots** (:func:`vswap.swap.vswap_ste_rmap.alloc_phys`): a large folio
  that finds no contiguous physical run at writeout takes ``nr`` order-0 slots wherever
  they are free (all or nothing) when ``discontig_swapout`` is on; each virtual word then
  names its own slot and the write is one request per contiguous run
  (:func:`~vswap.swap.folio_slots.scatter_write`).
* **mixed-backing swap-in** (:func:`mixed_read_folio`): with ``mixed_swapin`` a large folio
  whose virtual slots are partly zero, in zswap and on disk is read run by run (maximal
  uniform runs of ``__vswap_check_backing``), each from its own backend.
* **compaction** (:func:`compact_movable`, :func:`compact_move`): a physical slot backing a
  virtual one moves by a copy, the pointer word moving to the new slot and the virtual word
  repointed: no PTE is touched (PTEs hold the virtual entry). A direct-mapped slot (the
  fallback when the vswap space is full) is held by PTEs like phase IV's and is skipped
  (``direct-mapped``), as is a slot whose virtual entry has a folio in the swap cache.
  The same move across devices (:func:`move_backing`) is a swap tier demotion or
  promotion (:mod:`vswap.swap.tier_move`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE, swp_entry, swp_offset, swp_slot
from vswap.swap.folio_slots import scatter_read
from vswap.swap.vswap_ste_rmap import phys_release, rmap_owner, swp_tb_is_pointer
from vswap.swap.vswap_ste_table import (
    VSWAP_SWAPFILE,
    VSWAP_ZERO,
    VSWAP_ZSWAP,
    VTABLE_TAG_MASK,
    vtable_mk_phys,
    vtable_to_phys,
)

if TYPE_CHECKING:
    from vswap.swap.swapfile import SwapInfo
    from vswap.swap.vswap_ste import VswapSTE

__all__ = ["compact_movable", "compact_move", "folio_phys_slots", "mixed_read_folio",
           "move_backing"]

#: ``mixed_runs`` keys (the names the RFC v2 / v6 designs count under).
RUN_ZERO, RUN_ZSWAP, RUN_SWAPFILE = "VSWAP_ZERO", "VSWAP_ZSWAP", "VSWAP_SWAPFILE"


def folio_phys_slots(d: VswapSTE, folio: Folio) -> list[int]:
    """The physical slot of each virtual slot of ``folio`` (0 where it has none)."""
    off = swp_offset(folio.swap)
    out = []
    for k in range(folio.nr_pages):
        vt = d.space.vt_get(off + k)
        out.append(int(swp_slot(*vtable_to_phys(vt)))
                   if vt & VTABLE_TAG_MASK == VSWAP_SWAPFILE else 0)
    return out


def mixed_read_folio(d: VswapSTE, folio: Folio) -> bool:
    """Fill a large folio from the backends of its virtual slots, run by run.

    As :func:`vswap.swap.folio_slots.mixed_read_folio` for the STE words: each maximal
    uniform run (``vswap_check_backing``: ZERO, ZSWAP, or SWAPFILE contiguous on one device)
    goes to its handler, zero-fill (``swpin_zero``), a non-exclusive zswap load per page, or
    one device read per run (``pswpin``); all or nothing. A NONE or cached-folio slot fails
    the read (the fault falls back to order 0).

    Raises:
        KernelError(EIO): zswap's stored bytes failed to decompress.
    """
    off = swp_offset(folio.swap)
    nr = folio.nr_pages
    i = 0
    runs: list[tuple[str, int]] = []
    while i < nr:
        n, ty = d.vswap_check_backing(swp_entry(d.space.type, off + i), nr - i)
        if not n:
            return False
        if ty == VSWAP_ZERO:
            folio.data[i * PAGE_SIZE:(i + n) * PAGE_SIZE] = bytes(n * PAGE_SIZE)
            d.count_event("swpin_zero", n, folio.memcg_id)
            runs.append((RUN_ZERO, n))
        elif ty == VSWAP_ZSWAP:
            if d.zswap is None:
                return False
            for k in range(i, i + n):
                tmp = Folio(0, memcg_id=folio.memcg_id)
                tmp.swap = swp_entry(d.space.type, off + k)
                tmp.locked = True
                if not d.zswap.zswap_load(tmp) or not tmp.uptodate:
                    return False
                folio.data[k * PAGE_SIZE:(k + 1) * PAGE_SIZE] = tmp.data
            runs.append((RUN_ZSWAP, n))
        elif ty == VSWAP_SWAPFILE:
            slots = [int(swp_slot(*vtable_to_phys(d.space.vt_get(off + k))))
                     for k in range(i, i + n)]
            if not scatter_read(d, folio, i, slots):
                return False
            runs.append((RUN_SWAPFILE, n))
        else:
            return False
        i += n
    for name, n in runs:
        d.mixed_runs[name] += n
    d.mixed_swpin += 1
    folio.uptodate = True
    return True


def compact_movable(d: VswapSTE, si: SwapInfo, offset: int) -> str:
    """"" when physical slot ``offset`` of ``si`` may move, else why not."""
    tb = d.tables.swp_tb(swp_entry(si.type, offset))
    if not swp_tb_is_pointer(tb):
        return "direct-mapped"
    owner = rmap_owner(tb)
    vt = d.space.vt_get(owner)
    if vt & VTABLE_TAG_MASK != VSWAP_SWAPFILE or vtable_to_phys(vt) != (si.type, offset):
        return "no owner"
    if d.swap_cache_get_folio(swp_entry(d.space.type, owner)) is not None:
        return "swap cache"
    return ""


def compact_move(d: VswapSTE, si: SwapInfo, old: int, new: int) -> None:
    """Move the backing of the virtual slot whose pointer word is at ``old`` to ``new``
    (claimed by the caller, data copied): :func:`move_backing` within ``si``."""
    move_backing(d, si, old, si, new)


def move_backing(d: VswapSTE, si: SwapInfo, old: int, dsi: SwapInfo, new: int) -> None:
    """Move the backing of the virtual slot whose pointer word is at ``old`` of ``si`` to
    slot ``new`` of ``dsi`` (the same device for compaction, another tier's for a tier move;
    claimed by the caller, data copied): the pointer word moves, the virtual word is
    repointed under its cluster's lock, the old slot is released. The ``memory.swap``
    charge stays (same owner, still one physical slot)."""
    table, i = d._word(si, old)
    word = table[i]
    owner = rmap_owner(word)
    d._clusters_used(dsi, new, 1)
    ntable, j = d._word(dsi, new)
    ntable[j] = word
    d._vlock(owner)
    d.space.vt_set(owner, vtable_mk_phys(dsi.type, new))
    table, i = d._word(si, old)
    table[i] = 0
    phys_release(d, si, old, 1)
