"""The interface between a virtual swap design and its descriptor table.

Models: what mm/vswap.c's lifetime, I/O and swapoff code asks of ``struct swp_desc`` and of
the virtual slot allocator, in every posted version of the virtual swap space (RFC v2's
48-byte descriptor with a flat allocator, :mod:`vswap.swap.vswap_desc`; v6's 24-byte
descriptor in dynamically allocated clusters, :mod:`vswap.swap.vswap_v6_table`). The shared
steps of :class:`~vswap.swap.vswap_base.VirtualSwapBase` read and write descriptors only
through this protocol, so a new descriptor layout or allocator is a new table module plus a
short design subclass (its lifetime rules, allocation and release of backing).

Invariants every table keeps: id 0 is never a live id; ``type[e]`` is a
:class:`~vswap.swap.vswap_desc.SwapType` for every live ``e``; ``slot_of(e)`` is non-zero
only for a SWAPFILE descriptor with a physical slot, ``zswap_of(e)`` only for a ZSWAP one,
``folio_of(e)`` is the FOLIO descriptor's folio (RFC v2) or the swap-cache folio at ``e``
(v6, where the cache is a descriptor field); ``used`` counts the live ids.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.swap.vswap_desc import SwapType


class VswapTable(Protocol):
    """A descriptor table and its allocator, as the shared virtual-swap steps use it."""

    #: ``type`` of each descriptor (a ``SwapType``), by virtual id.
    type: bytearray
    #: ``memcgid`` of each descriptor (0: none), by virtual id.
    memcgid: array[int]
    #: debugfs ``vswap/used`` and ``vswap/alloc_reject``.
    used: int
    alloc_reject: int

    def is_live(self, e: int) -> bool:
        """Is ``e`` an allocated virtual slot?"""

    def live_ids(self) -> Iterator[int]:
        """Every live id, ascending."""

    def slot_of(self, e: int) -> int:
        """The physical slot value of SWAPFILE descriptor ``e`` (0: unbacked)."""

    def zswap_of(self, e: int) -> int:
        """The zswap entry id of ZSWAP descriptor ``e`` (0: none)."""

    def folio_of(self, e: int) -> Folio | None:
        """The folio a FOLIO descriptor ``e`` names (None: none)."""

    def set_zswap(self, e: int, zentry: int) -> None:
        """Make descriptor ``e`` ZSWAP(``zentry``) (its old backing already released)."""

    def swap_count_of(self, e: int) -> int:
        """Page-table (and shmem) references of live id ``e``."""

    def check_backing(self, e0: int, nr: int) -> tuple[int, SwapType]:
        """Models: ``vswap_check_backing()``: the length of the prefix of ``e0 .. +nr``
        backed like ``e0`` (SWAPFILE: one device, consecutive offsets), and that type;
        ``(0, SWAPFILE)`` when ``e0`` is not live."""

    def live_entries(self) -> Iterator[tuple[int, int, bool]]:
        """Every live id with its swap count and whether its swap-cache pin is held."""

    def swapped_page_locations(self) -> tuple[int, int]:
        """Live ZERO descriptors, and live SWAPFILE descriptors with a slot."""

    def check_invariants(self) -> None:
        """Raise AssertionError unless the table's own invariants hold."""
