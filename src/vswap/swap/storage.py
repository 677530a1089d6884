"""Page storage behind a swap device: real bytes in a real swap area.

Models: the data side of a swap device, what ``swap_writepage()``/``swap_read_folio()``
(mm/page_io.c) move between a folio and slot ``offset`` of the area, page ``offset`` at byte
``offset * PAGE_SIZE``, exactly as the kernel maps a swap file's slots through its extents.

Two implementations share one layout, so a design cannot tell them apart:

* :class:`FileSwapStorage`: a file made by ``mkswap`` (ours or util-linux's), mapped shared
  read/write; what is written survives :meth:`~FileSwapStorage.close` and a reopen.
* :class:`MemSwapStorage`: an anonymous mapping with a header page built in memory, like a
  zram or brd device. The kernel commits its memory page by page on first touch, so a large
  but lightly used device costs little.

In compact page-data mode (:mod:`vswap.kernel.pagedata`) a slot holds its page's 8-byte token
in a ``uint64`` array beside the mapping, which then keeps only the header (a file stays sparse).

Both use ``mmap`` because it is the fastest way to move a page in CPython: a read is one
slice of the map (the only allocation is the returned ``bytes``), a write to memory is one
slice assignment straight from the caller's buffer, with the length check done by ``mmap``
itself. A file's slots are written with ``pwrite`` instead (no page fault and no zero-fill
of a sparse file's page about to be overwritten; the mapping sees the same page cache).

Offset rules, taken from the swap map the kernel builds in ``setup_swap_map_and_extents()``
(mm/swapfile.c): offset 0 is the header and is never a slot, offsets past ``last_page`` do
not exist (both ``EINVAL``), and the pages the header lists as bad are ``SWAP_MAP_BAD``,
never handed out; touching one is ``EIO`` here, so a design that did would fail loudly.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from vswap.swap.mmap_storage import Buffer, FileSwapStorage, MemSwapStorage
from vswap.swap.swap_area import SwapHeader

__all__ = ["Buffer", "FileSwapStorage", "MemSwapStorage", "SwapStorage"]


@runtime_checkable
class SwapStorage(Protocol):
    """The pages of one swap area, addressed by slot offset.

    ``kind`` is ``"file"`` or ``"mem"``; ``name`` is the path or ``"mem:<size>"``;
    ``nr_pages`` is ``header.last_page + 1`` and counts the header page at offset 0.
    Valid offsets are ``1 .. nr_pages - 1`` minus ``header.bad_pages``.
    """

    kind: str
    name: str
    header: SwapHeader
    nr_pages: int

    def read_page(self, offset: int) -> bytes:
        """Return the 4096 bytes of slot ``offset``."""

    def write_page(self, offset: int, data: Buffer) -> None:
        """Store exactly 4096 bytes at slot ``offset``."""

    def read_pages(self, offset: int, nr: int) -> bytes:
        """Return ``nr`` consecutive pages starting at slot ``offset``."""

    def write_pages(self, offset: int, data: Buffer) -> None:
        """Store a whole number of pages starting at slot ``offset``."""

    def swap_slot_free_notify(self, offset: int, nr: int = 1) -> None:
        """The swap layer freed slots ``offset..offset+nr-1`` (``swap_slot_free_notify``:
        zram frees their memory; a plain area ignores it)."""

    def close(self) -> None:
        """Release the storage; further access is EBADF."""


