"""What a swap design provides to zswap: tree placement, backend hooks and writeback.

Models: the calls mm/zswap.c (v6.14) makes into the swap layer (``swap_zswap_tree()``,
``zswap_tree_index()``, ``__read_swap_cache_async()``, ``__swap_writepage()``,
``delete_from_swap_cache()``), plus the hooks of the virtual swap space ([RFC PATCH v2 12/18]
and 13/18: ``vswap_assoc_zswap``, ``vswap_store_folio``, ``vswap_alloc_swap_slot`` at
writeback, no shrinking without free physical swap).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MemCgroup
from vswap.kernel.types import (
    SWAP_ADDRESS_SPACE_SHIFT,
    SWP_OFFSET_MASK,
    SWP_TYPE_SHIFT,
    SwpEntry,
)

__all__ = [
    "WB_BATCH_DESIGNS",
    "WB_COMPRESSED_DESIGNS",
    "WbPage",
    "ZswapBatchHost",
    "ZswapHost",
    "classic_zswap_tree_index",
    "classic_zswap_tree_key",
    "wb_batch_unsupported",
]


@runtime_checkable
class ZswapHost(Protocol):
    """What a swap design provides to zswap: tree placement, backend hooks and writeback.

    zswap calls these with the folio lock held where the kernel holds it. The classic design
    implements the four hooks marked *vswap-only* as no-ops.
    """

    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """Which tree (and tree lock) holds ``entry``.

        Classic: ``(swp_type(entry), swp_offset(entry) >> SWAP_ADDRESS_SPACE_SHIFT)``, one
        tree per 64 MiB per device (``swap_zswap_tree``; :func:`classic_zswap_tree_key`).
        Virtual: one constant key for the global tree (or a partition id when partitioned).
        """

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """The index of ``entry`` inside its tree.

        Classic: ``swp_offset(entry)``. Virtual: ``entry`` itself (``zswap_tree_index``).
        """

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """*vswap-only.* Page ``entry`` is now in zswap as entry id ``zentry``.

        Models ``vswap_assoc_zswap()``: release the descriptor's previous backing and make it
        ``ZSWAP(zentry)``. Called with the folio locked, after the tree insert, per page.
        Classic: no-op.
        """

    def zswap_store_undone(self, folio: Folio) -> None:
        """*vswap-only.* ``zswap_store(folio)`` failed; its tree entries are already erased.

        Models ``vswap_store_folio(folio->swap, folio)``: every descriptor of the folio goes
        back to ``FOLIO(folio)`` (some may be ZSWAP after a partial large-folio store; their
        ``zswap_invalidate`` finds nothing). Called on every failed store, also when zswap is
        disabled. Classic: no-op.
        """

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """*vswap-only.* ``zswap_load`` erased the entry: the swap-cache folio is the only copy.

        Models the ``vswap_store_folio()`` call of patch 12 in ``zswap_load``: the descriptor
        becomes ``FOLIO(folio)``. Called after the tree erase, before the entry is freed.
        Classic: no-op.
        """

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """Give writeback a new locked order-0 folio in the swap cache for ``entry``.

        Models ``__read_swap_cache_async(entry, ..., skip_if_exists=true)``: allocate a folio,
        pin the entry (``swapcache_prepare``) and add the folio to the swap cache, locked, with
        ``folio.swap = entry``. Returns ``Errno.EEXIST`` if the entry already has a folio in the
        swap cache (raced with a swap-in or another shrinker: nothing changes) and
        ``Errno.ENOMEM`` if the entry is dead, or no folio can be allocated.

        Virtual design: after the folio is in the swap cache, also allocate the physical slot
        (``vswap_alloc_swap_slot``, descriptor ZSWAP -> SWAPFILE, memory.swap charged). If
        that fails, delete the folio from the swap cache, unlock it and return
        ``Errno.ENOMEM`` (the descriptor stays ZSWAP).
        """

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """Undo :meth:`zswap_writeback_prepare`: the tree no longer holds the expected entry.

        ``zentry`` is the entry id the tree now holds at that index (0: none). Classic:
        ``delete_from_swap_cache(folio)`` and unlock. Virtual: also the ``fail`` path of patch
        12 (``vswap_assoc_zswap(entry, zentry)``: free the just-allocated slot, uncharge),
        taken only if the descriptor is still the one writeback converted (spec section 16.3).
        """

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """Write the decompressed, uptodate folio to its slot.

        Models ``folio_set_reclaim`` + ``__swap_writepage()`` + ``folio_put``: classic writes
        to ``folio.swap``'s own (pre-reserved) slot, virtual to the slot allocated in prepare.
        The folio stays clean in the swap cache for reclaim to free; the host unlocks it when
        the write completes (``end_swap_bio_write``). zswap has already freed its entry.
        """

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """May the memory-pressure shrinker write back at all (``zswap_shrinker_count``)?

        Classic: always True. Virtual (patch 13): ``get_nr_swap_pages() > 0``, because no slot
        is reserved for a zswap entry and writeback without free physical swap can only fail.
        """


def classic_zswap_tree_key(entry: SwpEntry) -> tuple[int, int]:
    """The classic design's tree key: ``(type, offset >> SWAP_ADDRESS_SPACE_SHIFT)``."""
    return (entry >> SWP_TYPE_SHIFT, (entry & SWP_OFFSET_MASK) >> SWAP_ADDRESS_SPACE_SHIFT)


def classic_zswap_tree_index(entry: SwpEntry) -> int:
    """The classic design's tree index: the device offset."""
    return entry & SWP_OFFSET_MASK



# -- batched and compressed writeback (model only; docs/future.md) ----------------------------
#: The designs whose zswap entries have no physical slot until writeback, and so can take
#: one for a whole batch at writeback time (the cover letter's section III); under
#: ``vswap-ste`` its virtual entries (a direct-mapped one keeps its reserved slot).
WB_BATCH_DESIGNS = ("vswap", "vswap-static", "vswap-dynamic", "vswap-v6", "vswap-ste")
#: The designs that can also write the compressed object (``writeback_compressed``).
WB_COMPRESSED_DESIGNS = ("vswap", "vswap-static", "vswap-dynamic", "vswap-v6")

_WB_WHY = {
    "classic": "a zswap entry keeps the slot reserved at swap-out (its tree key is the "
               "slot), so writeback writes each page to its own slot",
    "swap-table-p1": "a zswap entry keeps the slot reserved at swap-out (its tree key is "
                     "the slot), so writeback writes each page to its own slot",
    "swap-table-p4": "a zswap entry keeps the slot reserved at swap-out (its tree key is "
                     "the slot), so writeback writes each page to its own slot",
    "vswap-ste": "not modelled for this design (its slots hold pages only)",
}


def wb_batch_unsupported(design: str, feature: str) -> str | None:
    """None if ``design`` has ``feature`` (``writeback_batch_size``: batched writeback;
    ``writeback_compressed``: compressed writeback); else the one-line reason naming it."""
    ok = WB_BATCH_DESIGNS if feature == "writeback_batch_size" else WB_COMPRESSED_DESIGNS
    if design in ok:
        return None
    why = _WB_WHY.get(design, "it has no virtual swap layer")
    return f"{feature}: not available under {design}: {why}"


@dataclass(slots=True)
class WbPage:
    """One page of a writeback batch: its locked swap-cache folio and the page of bytes to
    write to the slot. ``clen`` > 0: ``data`` starts with the entry's compressed object of
    that length (compressed writeback) made by ``compressor``, whose decompressed page has
    CRC32 ``crc`` (0: not kept); 0: ``data`` is the page itself."""

    folio: Folio
    data: bytes | bytearray
    clen: int = 0
    compressor: str = ""
    crc: int = 0


@runtime_checkable
class ZswapBatchHost(Protocol):
    """What a design whose zswap entries have no slot provides for batched writeback."""

    def zswap_writeback_prepare_batch(self, entry: SwpEntry) -> Folio | Errno:
        """As :meth:`ZswapHost.zswap_writeback_prepare`, without a physical slot: the
        descriptor stays ZSWAP until :meth:`zswap_writeback_batch` gives the batch its slots.
        Undone by :meth:`ZswapHost.zswap_writeback_abort`."""

    def zswap_writeback_batch(self, pages: list[WbPage]) -> tuple[list[int], list[int]]:
        """Give the prepared pages physical slots, contiguous where the allocator has a free
        run, and write them: one I/O request per contiguous run of slots.

        Returns:
            Per page 0 (written: the descriptor is SWAPFILE(slot), charged; an uncompressed
            page's folio stays clean in the swap cache, unlocked; a compressed one's leaves
            the cache) or a negative errno with the writeback undone (the descriptor is
            ZSWAP again, the folio out of the cache and unlocked): ``-ENOMEM`` (no slot or
            ``memory.swap`` full), ``-EIO`` (its request failed: fault point
            ``device_write``). And the pages of each I/O request submitted, in order.
        """
