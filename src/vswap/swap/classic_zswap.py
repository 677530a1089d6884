"""The classic design as zswap's host: tree placement and writeback to the reserved slot.

Models: the swap-layer side of mm/zswap.c (v6.14) under ``CONFIG_VIRTUAL_SWAP=n``:
``swap_zswap_tree()`` (one tree per 64 MiB of each device, ``zswap_swapon``),
``zswap_tree_index()`` (the offset), and ``zswap_writeback_entry()``'s calls into the swap
cache (``__read_swap_cache_async(skip_if_exists)``, ``delete_from_swap_cache`` on abort,
``__swap_writepage`` to the slot the entry has reserved since ``folio_alloc_swap``). The four
hooks of the virtual swap space are no-ops here: the slot *is* the entry.
"""

from __future__ import annotations

import abc
from collections.abc import Hashable
from typing import TYPE_CHECKING

from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.types import (
    SWAP_ADDRESS_SPACE_SHIFT,
    SWP_OFFSET_MASK,
    SWP_TYPE_SHIFT,
    SwpEntry,
    swp_offset,
)
from vswap.swap._base import SwapDesignBase

if TYPE_CHECKING:
    from vswap.kernel.memcontrol import MemCgroup

__all__ = ["ClassicZswapHost"]


class ClassicZswapHost(SwapDesignBase):
    """The ``ZswapHost`` methods of :class:`~vswap.swap.classic.ClassicSwap` (see
    :class:`~vswap.zswap.host.ZswapHost` for each contract)."""

    @abc.abstractmethod
    def swap_writepage_device(self, folio: Folio) -> None:
        """Models: ``__swap_writepage()``: the folio goes to its own slots."""

    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """Models: ``swap_zswap_tree()``: one tree per 64 MiB of each device."""
        # classic_zswap_tree_key() inlined: vswap.zswap.host stays plain Python, and this
        # runs for every zswap store, load and invalidation.
        return (entry >> SWP_TYPE_SHIFT, (entry & SWP_OFFSET_MASK) >> SWAP_ADDRESS_SPACE_SHIFT)

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """Models: ``zswap_tree_index()``: ``swp_offset``."""
        return swp_offset(entry)

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """Nothing to record: the classic tree key *is* the slot."""

    def zswap_store_undone(self, folio: Folio) -> None:
        """Nothing to undo in the classic design (the slot stays reserved)."""

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """``__read_swap_cache_async(skip_if_exists)`` for zswap writeback.

        Returns a new locked folio in the swap cache, ``Errno.EEXIST`` if the entry raced into
        the swap cache, or ``Errno.ENOMEM`` if it is gone or no memory could be had.
        """
        if self.swap_cache_get_folio(entry) is not None:
            return Errno.EEXIST
        folio, allocated = self.read_swap_cache_async(entry, skip_if_exists=True)
        if folio is None:
            return Errno.ENOMEM
        if not allocated:
            return Errno.EEXIST
        return folio

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """Nothing to repoint: the slot stays reserved for the entry."""

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """The tree entry changed under us: drop the new folio again."""
        self.delete_from_swap_cache(folio)
        folio.folio_unlock()

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """Always: every zswap entry has its slot reserved in the classic design."""
        return True

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """Write the decompressed folio to its slot; it stays clean in the swap cache."""
        folio.uptodate = True
        folio.dirty = False
        self.swap_writepage_device(folio)
        folio.folio_unlock()
