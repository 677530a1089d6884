"""zswap's host under the Swap Table Edition for virtual entries: the virtual table points
at the zswap entry.

Models: the zswap side of "[PATCH v5 00/11] Virtual Swap Space (Swap Table Edition)"
(``vswap_zswap_store()``, zswap writeback through the virtual layer): a store releases the
virtual slot's old backend and points its ``virtual_table`` word at the zswap entry; a failed
store or an exclusive load makes the cached folio the only copy (NONE); writeback gets a new
swap-cache folio and a physical slot (ZSWAP -> SWAPFILE, charged then). :class:`SteZswapHost`
does this for virtual entries; :class:`~vswap.swap.vswap_ste.VswapSTE` forwards them to it
and keeps phase IV's behaviour for direct-mapped ones.

Invariant: ``wb_pending`` holds exactly the writebacks between ``zswap_writeback_prepare``
and its ``zswap_writeback_submit`` / ``zswap_writeback_abort``: virtual offset -> (zswap
entry id, the physical slot prepare allocated). Abort releases the slot only while the entry
still holds that slot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vswap.kernel.errors import Errno
from vswap.kernel.types import SwpEntry, swp_offset, swp_slot_offset, swp_slot_type
from vswap.swap.vswap_ste_rmap import alloc_phys, release_backing
from vswap.swap.vswap_ste_table import (
    VSWAP_NONE,
    VSWAP_ZSWAP,
    VTABLE_TAG_BITS,
    VTABLE_TAG_MASK,
    vtable_mk_zswap,
)
from vswap.swap.vswap_zswap import alloc_batch_slots, free_batch_slot, submit_batch

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.swap.vswap_ste import VswapSTE
    from vswap.zswap.host import WbPage


class SteZswapHost:
    """The :class:`~vswap.zswap.zswap.ZswapHost` methods of ``design`` for virtual entries."""

    def __init__(self, design: VswapSTE) -> None:
        self.design = design
        #: Writebacks prepared and not yet submitted: virtual offset -> (zswap entry, slot).
        self.wb_pending: dict[int, tuple[int, int]] = {}

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """Models: ``vswap_zswap_store()``: release the old backend, point at the entry."""
        d = self.design
        off = swp_offset(entry)
        d._vlock(off)
        release_backing(d, off, 1, invalidate_zswap=False)
        d.space.vt_set(off, vtable_mk_zswap(zentry))

    def zswap_store_undone(self, folio: Folio) -> None:
        """zswap failed after storing some pages: those virtual slots are NONE again (the
        folio, still cached, holds the data)."""
        space = self.design.space
        off = swp_offset(folio.swap)
        for k in range(folio.nr_pages):
            if space.vt_get(off + k) & VTABLE_TAG_MASK == VSWAP_ZSWAP:
                space.vt_set(off + k, VSWAP_NONE)

    def zswap_writeback_prepare_batch(self, entry: SwpEntry) -> Folio | Errno:
        """Step 1 of a virtual entry's writeback: a new locked swap-cache folio pins it; the
        virtual table still points at the zswap entry."""
        d = self.design
        off = swp_offset(entry)
        if not d._allocated(d.space, off):
            return Errno.ENOMEM
        vt = d.space.vt_get(off)
        if d.swap_cache_get_folio(entry) is not None or vt & VTABLE_TAG_MASK != VSWAP_ZSWAP:
            return Errno.EEXIST
        folio, new = d.read_swap_cache_async(entry, skip_if_exists=True)
        if folio is None:
            return Errno.ENOMEM
        if not new:
            return Errno.EEXIST
        return folio

    def zswap_writeback_batch(self, pages: list[WbPage]) -> tuple[list[int], list[int]]:
        """Batched writeback under STE (model only; as
        :meth:`vswap.swap.vswap_zswap.VswapZswapHost.zswap_writeback_batch`): the virtual
        entries of the batch take their slots together (:func:`alloc_batch_slots`, then
        :func:`alloc_phys` per entry with its slot), a direct-mapped entry (phase IV) is
        written to the slot it reserved at swap-out; the batch's slots are written one
        request per contiguous run. Pages written compressed are not modelled here."""
        d = self.design
        status = [-int(Errno.ENOMEM)] * len(pages)
        nvirt = sum(1 for p in pages if d.is_vswap_entry(p.folio.swap))
        slots = alloc_batch_slots(d.devices, nvirt, pages[0].folio.memcg_id) if nvirt else []
        assigned: list[tuple[int, int]] = []
        k = 0
        for i, p in enumerate(pages):
            f = p.folio
            if not d.is_vswap_entry(f.swap):
                assigned.append((i, int(d.swp_entry_to_swp_slot(f.swap))))
                continue
            off = swp_offset(f.swap)
            s = slots[k] if k < len(slots) else 0
            k += 1
            vt = d.space.vt_get(off) if d._allocated(d.space, off) else VSWAP_NONE
            if not s or vt & VTABLE_TAG_MASK != VSWAP_ZSWAP:
                if s:
                    free_batch_slot(d.devices, s)
                d.zswap_writeback_abort(f, 0)
                continue
            # Keep the zswap entry: zswap frees it itself once the data is written.
            d.space.vt_set(off, VSWAP_NONE)
            slot = alloc_phys(d, f, preset=s)
            if not slot:
                d.space.vt_set(off, vt)
                d.zswap_writeback_abort(f, 0)
                continue
            self.wb_pending[off] = (vt >> VTABLE_TAG_BITS, int(slot))
            assigned.append((i, int(slot)))

        def fail(p: WbPage) -> None:
            f = p.folio
            pending = self.wb_pending.get(swp_offset(f.swap)) \
                if d.is_vswap_entry(f.swap) else None
            d.zswap_writeback_abort(f, pending[0] if pending is not None else 0)

        def done(p: WbPage) -> None:
            if d.is_vswap_entry(p.folio.swap):
                self.wb_pending.pop(swp_offset(p.folio.swap))

        return status, submit_batch(d, pages, assigned, status, fail, done)

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """zswap writeback of a virtual entry: a new swap-cache folio and physical slots now
        (ZSWAP -> SWAPFILE, charged)."""
        folio = self.zswap_writeback_prepare_batch(entry)
        if isinstance(folio, Errno):
            return folio
        d = self.design
        off = swp_offset(entry)
        vt = d.space.vt_get(off)
        # Keep the zswap entry: zswap frees it itself once the data is written.
        d.space.vt_set(off, VSWAP_NONE)
        slot = alloc_phys(d, folio)
        if not slot:
            d.space.vt_set(off, vt)
            d.delete_from_swap_cache(folio)
            folio.folio_unlock()
            return Errno.ENOMEM
        self.wb_pending[off] = (vt >> VTABLE_TAG_BITS, int(slot))
        return folio

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """Undo a prepared writeback: the physical slot goes, the entry is ZSWAP again if
        zswap still holds it; the new folio leaves the cache."""
        d = self.design
        off = swp_offset(folio.swap)
        pending = self.wb_pending.pop(off, None)
        if pending is not None and d._allocated(d.space, off) \
                and int(d.swp_entry_to_swp_slot(folio.swap)) == pending[1]:
            release_backing(d, off, 1)
            if zentry:
                d.space.vt_set(off, vtable_mk_zswap(zentry))
        d.delete_from_swap_cache(folio)
        folio.folio_unlock()

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """Write the decompressed folio to the slot prepare allocated; it stays clean in the
        swap cache."""
        d = self.design
        self.wb_pending.pop(swp_offset(folio.swap), None)
        folio.uptodate = True
        folio.dirty = False
        slot = d.swp_entry_to_swp_slot(folio.swap)
        si = d.devices.swap_type_to_swap_info(swp_slot_type(slot))
        assert si is not None
        folio.writeback = True
        d.device_write(si, swp_slot_offset(slot), folio)
        folio.writeback = False
        folio.folio_unlock()
