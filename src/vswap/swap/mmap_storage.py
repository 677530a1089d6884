"""The mmap-backed swap storages: the code behind :mod:`vswap.swap.storage`'s protocol.

Models: what ``swap_writepage()``/``swap_read_folio()`` (mm/page_io.c) move between a folio
and slot ``offset`` of a swap area; the layout, the offset rules and why ``mmap``:
:mod:`vswap.swap.storage`, which re-exports these classes.

A module of its own so mypyc compiles it: ``storage.py`` holds the ``runtime_checkable``
:class:`~vswap.swap.storage.SwapStorage` protocol, which mypyc cannot compile, and with it
every device read and write of a timed run ran as interpreted Python (docs/performance.md,
"The compiled kernel model without dictionary lookups").
"""

from __future__ import annotations

import bisect
import mmap
import os
import uuid as uuid_mod
from collections.abc import Iterable
from typing import Self

import numpy as np

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.pagedata import PAGE_DATA, TOKEN_BYTES, tokens_array
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE
from vswap.swap.swap_area import (
    SwapHeader,
    build_swap_header,
    check_swap_area_size,
    parse_swap_header,
    read_header_page,
)
from vswap.units import format_size

Buffer = bytes | bytearray | memoryview


class _MmapSwapStorage:
    """The shared implementation: a mapping of ``nr_pages`` pages, page N at byte N*4096.

    Context: not thread-safe; a device's storage is driven by one simulated I/O path.
    """

    kind: str
    name: str
    header: SwapHeader
    nr_pages: int

    def __init__(self, kind: str, name: str, header: SwapHeader, mapping: mmap.mmap) -> None:
        self.kind = kind
        self.name = name
        self.header = header
        self.nr_pages = header.nr_pages
        self._map = mapping
        #: The file of a file-backed area (FileSwapStorage), which slot writes go to with
        #: ``pwrite`` rather than through the mapping (see :meth:`_pwrite`); None in memory.
        self._fd: int | None = None
        self._closed = False
        # Sorted for the range test of the multi-page calls; a frozenset for the per-page one.
        self._bad_sorted = tuple(sorted(set(header.bad_pages)))
        self._bad = frozenset(self._bad_sorted)
        #: Compact page data (vswap.kernel.pagedata): the slots' 8-byte tokens, one uint64 a
        #: slot, made on first use; the mapping then keeps only the header page.
        self._tok: np.ndarray | None = None

    # -- checks (cold paths are out of line so the hot path stays a few compares) ---------

    def _bad_offset(self, offset: int, nr: int) -> KernelError:
        if self._closed:
            return KernelError(Errno.EBADF, f"{self.name}: swap storage is closed")
        if nr < 1:
            return KernelError(Errno.EINVAL, f"{self.name}: {nr} pages requested")
        last = self.nr_pages - 1
        if offset == 0:
            return KernelError(Errno.EINVAL, f"{self.name}: offset 0 is the swap header, "
                               f"not a slot")
        return KernelError(Errno.EINVAL, f"{self.name}: pages {offset}..{offset + nr - 1} "
                           f"outside slots 1..{last}")

    def _bad_page(self, page_nr: int) -> KernelError:
        return KernelError(Errno.EIO, f"{self.name}: page {page_nr} is listed bad in the "
                           f"swap header")

    def _check_bad_range(self, offset: int, nr: int) -> None:
        i = bisect.bisect_left(self._bad_sorted, offset)
        if i < len(self._bad_sorted) and self._bad_sorted[i] < offset + nr:
            raise self._bad_page(self._bad_sorted[i])

    def _closed_error(self) -> KernelError:
        return KernelError(Errno.EBADF, f"{self.name}: swap storage is closed")

    # -- main API --------------------------------------------------------------------------

    def read_page(self, offset: int) -> bytes:
        """Return a copy of slot ``offset`` (4096 bytes).

        Models: the device read of ``swap_read_folio()`` (mm/page_io.c).

        Raises:
            KernelError: EINVAL for offset 0 or past ``last_page``; EIO for a bad page;
                EBADF after :meth:`close`.
        """
        if not 0 < offset < self.nr_pages or self._closed:
            raise self._bad_offset(offset, 1)
        if self._bad and offset in self._bad:
            raise self._bad_page(offset)
        if PAGE_DATA.compact:
            return self._tokens()[offset:offset + 1].tobytes()
        start = offset << PAGE_SHIFT
        return self._map[start:start + PAGE_SIZE]

    def write_page(self, offset: int, data: Buffer) -> None:
        """Copy exactly one page from ``data`` (any C-contiguous buffer) into slot ``offset``.

        Models: the device write of ``swap_writepage()`` (mm/page_io.c).

        Raises:
            KernelError: EINVAL for offset 0, past ``last_page``, or ``data`` not 4096 bytes
                (nothing is written); EIO for a bad page; EBADF after :meth:`close`.
        """
        if not 0 < offset < self.nr_pages or self._closed:
            raise self._bad_offset(offset, 1)
        if self._bad and offset in self._bad:
            raise self._bad_page(offset)
        if PAGE_DATA.compact:
            self._write_tokens(offset, 1, data)
            return
        start = offset << PAGE_SHIFT
        if self._fd is not None:
            if _nbytes(data) != PAGE_SIZE:
                raise KernelError(Errno.EINVAL, f"{self.name}: write_page needs {PAGE_SIZE} "
                                  f"bytes, got {_nbytes(data)}")
            self._pwrite(data, start, PAGE_SIZE)
            return
        try:
            # mmap compares the buffer's byte length with the slice before copying.
            self._map[start:start + PAGE_SIZE] = data
        except IndexError:
            raise KernelError(Errno.EINVAL, f"{self.name}: write_page needs {PAGE_SIZE} "
                              f"bytes, got {_nbytes(data)}") from None

    def read_pages(self, offset: int, nr: int) -> bytes:
        """Return ``nr`` (>= 1) consecutive pages from slot ``offset`` as one ``bytes``.

        Models: a multi-page read of a large folio (``swap_read_folio()``, mm/page_io.c).

        Raises:
            KernelError: EINVAL if any page is 0 or past ``last_page`` or ``nr`` < 1; EIO if
                any page is bad; EBADF after :meth:`close`.
        """
        if not (offset > 0 and nr > 0 and offset + nr <= self.nr_pages) or self._closed:
            raise self._bad_offset(offset, nr)
        if self._bad:
            self._check_bad_range(offset, nr)
        if PAGE_DATA.compact:
            return self._tokens()[offset:offset + nr].tobytes()
        start = offset << PAGE_SHIFT
        return self._map[start:start + (nr << PAGE_SHIFT)]

    def write_pages(self, offset: int, data: Buffer) -> None:
        """Copy ``data`` (a whole, non-zero number of pages) to consecutive slots.

        Models: a multi-page write of a large folio (``swap_writepage()``, mm/page_io.c).

        Raises:
            KernelError: EINVAL if ``data`` is not a whole number of pages or any page is 0
                or past ``last_page``; EIO if any page is bad (nothing is written on any
                error); EBADF after :meth:`close`.
        """
        nbytes = _nbytes(data)
        nr, rem = divmod(nbytes, TOKEN_BYTES if PAGE_DATA.compact else PAGE_SIZE)
        if rem or not nr:
            raise KernelError(Errno.EINVAL, f"{self.name}: write_pages needs a whole number "
                              f"of pages, got {nbytes} bytes")
        if not (offset > 0 and offset + nr <= self.nr_pages) or self._closed:
            raise self._bad_offset(offset, nr)
        if self._bad:
            self._check_bad_range(offset, nr)
        if PAGE_DATA.compact:
            self._write_tokens(offset, nr, data)
            return
        start = offset << PAGE_SHIFT
        if self._fd is not None:
            self._pwrite(data, start, nbytes)
            return
        self._map[start:start + nbytes] = data

    def _pwrite(self, data: Buffer, start: int, nbytes: int) -> None:
        """Write ``nbytes`` of ``data`` at byte ``start`` of the area's file.

        A swap file is sparse: a store through the shared mapping to a slot never written
        faults its page in first, and the kernel reads the hole (zero-filling the page and
        its readahead window) only for the page to be overwritten; that was about a tenth
        of a compiled timed run's CPU (docs/performance.md). ``pwrite`` puts the bytes in
        the page cache with no fault and no zero-fill; the mapping, which reads go
        through, sees them (one page cache).
        """
        assert self._fd is not None
        done = os.pwrite(self._fd, data, start)
        if done != nbytes:
            # Only on a host failure (a full disk): never a modelled outcome.
            raise OSError(f"{self.name}: short write of a swap slot ({done} of {nbytes} "
                          f"bytes at {start})")

    def read_block(self, block: int) -> bytes:
        """Return page ``block`` of the area, the header page (0) included.

        Models: a read by ``hib_submit_io()`` (kernel/power/swap.c), which addresses the
        block device directly, below the swap layer: the resume block is the swap header.

        Raises:
            KernelError: EINVAL past ``last_page``; EBADF after :meth:`close`.
        """
        if not 0 <= block < self.nr_pages or self._closed:
            raise self._closed_error() if self._closed else KernelError(
                Errno.EINVAL, f"{self.name}: block {block} outside 0..{self.nr_pages - 1}")
        start = block << PAGE_SHIFT
        return self._map[start:start + PAGE_SIZE]

    def write_block(self, block: int, data: Buffer) -> None:
        """Store exactly one page at page ``block``, the header page (0) included.

        Models: a write by ``hib_submit_io()`` (``mark_swapfiles()`` rewrites the header
        page's signature; resume puts the original back).

        Raises:
            KernelError: EINVAL past ``last_page`` or ``data`` not 4096 bytes; EBADF after
                :meth:`close`.
        """
        if _nbytes(data) != PAGE_SIZE:
            raise KernelError(Errno.EINVAL, f"{self.name}: write_block needs {PAGE_SIZE} "
                              f"bytes, got {_nbytes(data)}")
        if not 0 <= block < self.nr_pages or self._closed:
            raise self._closed_error() if self._closed else KernelError(
                Errno.EINVAL, f"{self.name}: block {block} outside 0..{self.nr_pages - 1}")
        start = block << PAGE_SHIFT
        self._map[start:start + PAGE_SIZE] = data

    def _tokens(self) -> np.ndarray:
        if self._tok is None:
            self._tok = tokens_array(self.nr_pages)
        return self._tok

    def _write_tokens(self, offset: int, nr: int, data: Buffer) -> None:
        if _nbytes(data) != nr * TOKEN_BYTES:
            raise KernelError(Errno.EINVAL, f"{self.name}: a compact write of {nr} pages "
                              f"needs {nr * TOKEN_BYTES} bytes of tokens, got {_nbytes(data)}")
        self._tokens()[offset:offset + nr] = np.frombuffer(data, dtype=np.uint64)

    def swap_slot_free_notify(self, offset: int, nr: int = 1) -> None:
        """Nothing to free: the slot's bytes stay until overwritten, as on a disk."""

    def close(self) -> None:
        """Unmap the storage; idempotent. Every later access is EBADF."""
        if not self._closed:
            self._closed = True
            self._release()

    def _release(self) -> None:
        self._map.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{self.nr_pages} pages"
        return f"<{type(self).__name__} {self.name} {state}>"


def _nbytes(data: Buffer) -> int:
    if isinstance(data, bytes | bytearray):
        return len(data)
    with memoryview(data) as view:
        return view.nbytes


class FileSwapStorage(_MmapSwapStorage):
    """A swap area in a file, mapped shared so writes reach the file.

    Built by :meth:`open`; the mapping covers the ``last_page + 1`` pages the header names
    (a longer file's tail is ignored, as ``swapon`` ignores it). The file descriptor and the
    mapping are released by :meth:`close`, which also flushes dirty pages to the file.
    """

    def __init__(self, name: str, header: SwapHeader, mapping: mmap.mmap, fd: int) -> None:
        super().__init__("file", name, header, mapping)
        self._fd = fd

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, block_device: bool = False
             ) -> FileSwapStorage:
        """Open and validate the swap area at ``path`` for reading and writing.

        ``block_device=True`` treats the file as an image of a partition, where the header
        may list bad pages; otherwise the kernel's regular-file rule refuses them.

        Models: the ``swapon`` syscall up to ``setup_swap_map_and_extents()``
        (mm/swapfile.c): header read and validated, then the area made addressable.

        Raises:
            KernelError: EINVAL as :func:`~vswap.swap.swap_area.parse_swap_header`.
            OSError: the file cannot be opened (missing, a directory, no permission).
        """
        name = os.fspath(path)
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            header = read_header_page(fd, name, block_device=block_device)
            mapping = mmap.mmap(fd, header.nr_pages * PAGE_SIZE, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(fd)
            raise
        return cls(name, header, mapping, fd)

    def flush(self) -> None:
        """Write dirty pages back to the file (``msync``), as a sync of the swap file would."""
        if self._closed:
            raise self._closed_error()
        self._map.flush()

    def close_unsynced(self) -> None:
        """Close without waiting for the write-back (no ``msync``): the kernel still writes
        the dirty pages back in its own time, unless the file is deleted first, as a timed
        run's temporary swap file is (its ``msync`` waited for the disk to write what was
        deleted next). Idempotent; every later access is EBADF."""
        if not self._closed:
            self._closed = True
            self._release(flush=False)

    def _release(self, flush: bool = True) -> None:
        assert self._fd is not None
        try:
            if flush:
                self._map.flush()
            self._map.close()
        finally:
            os.close(self._fd)


class MemSwapStorage(_MmapSwapStorage):
    """A swap area in anonymous memory, laid out exactly like a file made by ``mkswap``.

    ``label``, ``uuid`` (default: random, as mkswap) and ``bad_pages`` go into the header
    page, which is then parsed back, so the same validation applies. Bad pages are allowed:
    an in-memory device is a block device, not a regular file.

    Raises:
        KernelError: EINVAL for a size that is not whole pages, under 10 pages or over
            2**32 pages, a label over 16 bytes, or bad pages out of range.
    """

    def __init__(self, size_bytes: int, label: str | None = None, *,
                 uuid: uuid_mod.UUID | None = None, bad_pages: Iterable[int] = ()) -> None:
        bad = tuple(bad_pages)
        last_page = check_swap_area_size(size_bytes, bad_pages=bad)
        page = build_swap_header(last_page=last_page, uuid=uuid or uuid_mod.uuid4(),
                                 label=label, bad_pages=bad)
        name = f"mem:{format_size(size_bytes)}"
        header = parse_swap_header(page, file_pages=None, name=name, regular_file=False)
        mapping = mmap.mmap(-1, size_bytes, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        mapping[:PAGE_SIZE] = page
        super().__init__("mem", name, header, mapping)

    def header_page(self) -> bytes:
        """The raw header page, as a file made by ``mkswap`` would start."""
        if self._closed:
            raise self._closed_error()
        return self._map[:PAGE_SIZE]
