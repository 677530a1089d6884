"""zswap's host under the virtual designs: descriptors instead of zswap trees of slots.

Models: the vswap side of mm/zswap.c in "[RFC PATCH v2 12/18]" and v6 ("move zswap entry
management to the virtual swap descriptor"): ``zswap_store_page`` associates the entry with
the descriptor (``vswap_assoc_zswap``), a failed store or an exclusive load makes the folio
the backend again (``vswap_store_folio``), and ``zswap_writeback_entry`` gets a swap-cache
folio and a physical slot from the virtual layer (``vswap_alloc_swap_slot``), undoing it on
failure. :class:`VswapZswapHost` implements :class:`~vswap.zswap.zswap.ZswapHost` for a
:class:`~vswap.swap.vswap_base.VirtualSwapBase`; the design forwards the protocol to it.

Invariant: ``wb_pending`` holds exactly the writebacks between ``zswap_writeback_prepare``
and its ``zswap_writeback_submit`` / ``zswap_writeback_abort``: entry -> (zswap entry id,
the physical slot prepare allocated). Writeback never touches a descriptor that left zswap
or that no longer holds that slot (spec part 2, 16.3).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING

from vswap.kernel.errors import Errno
from vswap.kernel.types import SwpEntry, SwpSlot
from vswap.swap.vswap_desc import SwapType

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.kernel.memcontrol import MemCgroup
    from vswap.swap.vswap_base import VirtualSwapBase

SWAPFILE = SwapType.VSWAP_SWAPFILE
ZSWAP = SwapType.VSWAP_ZSWAP


class VswapZswapHost:
    """The :class:`~vswap.zswap.zswap.ZswapHost` of a virtual design.

    Args:
        design: the design whose descriptors hold the zswap entries.
        tree_key: ``swap_zswap_tree()`` of the design: which lock instance (tree) zswap's
            index operations on an entry take.
    """

    def __init__(self, design: VirtualSwapBase,
                 tree_key: Callable[[SwpEntry], Hashable]) -> None:
        self.design = design
        self.tree_key = tree_key
        #: Writebacks in flight: entry -> (zswap entry id, physical slot).
        self.wb_pending: dict[int, tuple[int, int]] = {}

    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """Models: ``swap_zswap_tree()`` (vswap): the design's tree or lock instance."""
        return self.tree_key(entry)

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """Models: ``zswap_tree_index()`` (vswap): ``entry.val``, the virtual id."""
        return int(entry)

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """``vswap_assoc_zswap()`` from ``zswap_store_page`` (T4)."""
        self.design.vswap_assoc_zswap(entry, zentry)

    def zswap_store_undone(self, folio: Folio) -> None:
        """``vswap_store_folio()`` after a failed store (T5)."""
        self.design.vswap_store_folio(folio.swap, folio)

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """``vswap_store_folio()`` in an exclusive ``zswap_load`` (T8): the folio is the
        backend."""
        self.design.vswap_store_folio(folio.swap, folio)

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """A swap-cache folio and a physical slot for zswap writeback (patch 12, spec 5).

        Models: ``zswap_writeback_entry()`` steps 1-2: ``__read_swap_cache_async`` with
        ``skip_if_exists``, then ``vswap_alloc_swap_slot`` (ZSWAP -> SWAPFILE, charged to the
        recorded owner). An entry that is no longer ZSWAP is a raced attempt (``EEXIST``),
        its backing is never touched (spec 16.3).

        Returns:
            The locked folio; ``Errno.EEXIST`` (cached, or no longer in zswap);
            ``Errno.ENOMEM`` (dead entry, no memory, no free slot or ``swap.max`` hit; the
            descriptor stays ZSWAP).
        """
        d = self.design
        e = int(entry)
        t = d.table
        if not t.is_live(e):
            return Errno.ENOMEM
        if d.swap_cache_get_folio(entry) is not None or t.type[e] != ZSWAP:
            return Errno.EEXIST
        zentry = t.zswap_of(e)
        folio, new = d.read_swap_cache_async(entry, skip_if_exists=True)
        if folio is None:
            return Errno.ENOMEM
        if not new:
            return Errno.EEXIST
        slot = d.vswap_alloc_swap_slot(folio)
        if not slot:
            d.delete_from_swap_cache(folio)
            folio.folio_unlock()
            return Errno.ENOMEM
        self.wb_pending[e] = (zentry, int(slot))
        return folio

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """Undo a prepared writeback: the tree holds ``zentry`` (0: nothing) at the index.

        Models: the ``fail`` path of ``zswap_writeback_entry`` (``vswap_assoc_zswap(entry,
        new)``), taken only while the descriptor is still the SWAPFILE(slot) writeback made
        (spec 16.3): the slot is freed and uncharged and the descriptor points at zswap's
        entry again. With no entry the page's data is gone; the descriptor is left unbacked
        so a later read fails loudly instead of returning stale bytes. The new folio leaves
        the swap cache.
        """
        d = self.design
        e = int(folio.swap)
        t = d.table
        pending = self.wb_pending.pop(e, None)
        if pending is not None and t.is_live(e) and t.type[e] == SWAPFILE \
                and t.slot_of(e) == pending[1]:
            d.release_backing(folio.swap, 1)
            if zentry:
                t.set_zswap(e, zentry)
            else:
                d.env.warn("zswap writeback: entry vanished under a ZSWAP descriptor")
        d.delete_from_swap_cache(folio)
        folio.folio_unlock()

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """Write the decompressed folio to the slot prepare allocated; it stays clean in the
        swap cache, unlocked when the (synchronous) write completes."""
        d = self.design
        e = int(folio.swap)
        self.wb_pending.pop(e, None)
        folio.uptodate = True
        folio.dirty = False
        d.swap_writepage_device(folio, SwpSlot(d.table.slot_of(e)))
        folio.folio_unlock()

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """Patch 13 (v6: "zswap: do not start zswap shrinker if there is no physical swap
        slots"): no shrinking without a free physical slot anywhere."""
        return self.design.devices.nr_swap_pages > 0
