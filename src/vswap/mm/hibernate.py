"""Hibernation to swap: the swsusp image written to swap slots, read back at resume.

Models: kernel/power/swap.c (v6.14, with the seed's patch 05 renames) and the swap-facing
steps of kernel/power/hibernate.c and snapshot.c: ``swsusp_swap_check()`` picks the device
(``swap_type_of()`` / ``find_first_swap()``), ``hibernate_preallocate_memory()`` shrinks
memory to ``/sys/power/image_size`` (``shrink_all_memory()``), the snapshot copies every
resident page, ``enough_swap()`` checks the device, ``swsusp_write()`` writes the header
page, the data pages and the swap map pages (each slot from ``alloc_swapdev_block()``:
the design's :meth:`~vswap.swap.SwapDesign.swap_slot_alloc_of_type`, a *physical* slot
under every design, seed patch 05), ``mark_swapfiles()`` puts the hibernation signature in
the resume block (the swap header page); resume checks and restores the signature
(``swsusp_check()``), reads the image back through its map pages (``load_image()``) and
compares every page; ``free_all_swap_pages()`` returns the slots (the design's
:meth:`~vswap.swap.SwapDesign.swap_slot_free_nr`).

The image lives in ``swsusp_extents``: runs of slot offsets, each new slot merged into a run
it touches (``swsusp_extents_insert``). Image slots are charged to no cgroup; they count in
``/proc/swaps`` Used and ``nr_swap_pages``, as the kernel counts them. While the image is
written the design's ``pm_suspended_storage`` is set, so ``folio_free_swap`` frees nothing.

Model choices (docs/kernel-paths.md): the image is written uncompressed (the kernel's
``hibernate=nocompress``); "power off" leaves the machine as it was, so resume compares the
pages read back with the snapshot's copies, and the restored kernel, whose state is the
snapshot taken before the image slots were allocated, is reached by freeing them.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol, cast

from vswap._mypyc import trait
from vswap.kernel import pagedata
from vswap.kernel.errors import DataLossError, Errno, KernelError
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE, swp_slot_offset
from vswap.mm._base import MachineBase

if TYPE_CHECKING:
    from vswap.swap.swapfile import SwapInfo

#: ``HIBERNATE_SIG``: the signature ``mark_swapfiles()`` writes over the swap signature.
HIBERNATE_SIG: Final = b"S1SUSPEND\0"
#: The swap area signature of a version-2 ``mkswap`` header.
SWAP_SIG: Final = b"SWAPSPACE2"
#: ``MAP_PAGE_ENTRIES``: sector numbers in one swap map page (the last word is the link).
MAP_PAGE_ENTRIES: Final = PAGE_SIZE // 8 - 1
#: ``PAGES_FOR_IO`` (kernel/power/power.h): free swap ``enough_swap()`` keeps beyond the image.
PAGES_FOR_IO: Final = (4096 * 1024) >> PAGE_SHIFT
#: ``SF_NOCOMPRESS_MODE``: the header flag of an uncompressed image.
SF_NOCOMPRESS_MODE: Final = 2
#: The ``swsusp_header`` fields at the end of the resume block (``hw_sig``, ``crc32``,
#: ``image``, ``flags``, ``orig_sig``, ``sig``), packed little endian.
_SWSUSP_HEADER = struct.Struct("<IIQI10s10s")
_SWSUSP_AT = PAGE_SIZE - _SWSUSP_HEADER.size
#: The model's ``swsusp_info`` header page: a magic, the image's data pages, its pages in
#: all (header + data + map pages), the machine's RAM pages.
_SWSUSP_INFO = struct.Struct("<8sQQQ")
_INFO_MAGIC: Final = b"vswapimg"


class BlockDevice(Protocol):
    """Storage addressable by block, the header page included (``hib_submit_io``)."""

    name: str

    def read_block(self, block: int) -> bytes: ...

    def write_block(self, block: int, data: bytes | bytearray | memoryview) -> None: ...


def as_block_device(storage: object) -> BlockDevice | None:
    """``storage`` as a :class:`BlockDevice`, or None if it has no block access.

    The member test of ``typing.runtime_checkable`` spelled out: mypyc (:mod:`vswap.compile`)
    compiles a protocol to a native class, which ``runtime_checkable`` rejects.
    """
    if all(hasattr(storage, a) for a in ("name", "read_block", "write_block")):
        return cast("BlockDevice", storage)
    return None


@dataclass
class HibernateResult:
    """What one ``hibernate`` did: the image, its slots, and the resume's checks.

    ``error`` names the errno of a failed hibernation (``ENODEV``: no writable swap device,
    ``ENOMEM``: memory could not be shrunk for the copy, ``ENOSPC``: ``enough_swap()`` or a
    slot allocation failed); the image slots are freed either way.
    """

    type: int = -1
    device: str = ""
    completed: bool = False
    error: str = ""
    #: Pages ``shrink_all_memory`` reclaimed to fit ``image_size``.
    preallocated_reclaimed: int = 0
    #: Data pages in the image (the resident pages at the snapshot), its map pages, and
    #: every slot it took (header + data + map pages).
    image_pages: int = 0
    map_pages: int = 0
    slots: int = 0
    #: ``swsusp_extents`` when the image was complete: runs of consecutive slots.
    extents: int = 0
    #: Swap pages the device held for processes at the snapshot (kept across hibernation).
    swapped_pages: int = 0
    #: Image pages read back at resume and found equal to the snapshot's.
    pages_verified: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class SwsuspExtents:
    """``swsusp_extents``: the image's slot offsets as runs ``[start, end]``.

    Models: ``swsusp_extents_insert()`` (a slot touching a run extends it; a new run
    otherwise; a slot already inside one is ``-EINVAL``) and the walk of
    ``free_all_swap_pages()``. The kernel's tree merges a slot only into a run on its search
    path; runs here are kept sorted and a slot joins the run it touches, so two runs may
    end up adjacent, as in the kernel.
    """

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []

    def insert(self, offset: int) -> int:
        """Add ``offset``; 0, or ``-EINVAL`` if it is already in a run."""
        i = bisect.bisect_right(self.starts, offset)
        if i and offset <= self.ends[i - 1]:
            return -Errno.EINVAL
        if i < len(self.starts) and offset == self.starts[i] - 1:
            self.starts[i] = offset
            return 0
        if i and offset == self.ends[i - 1] + 1:
            self.ends[i - 1] = offset
            return 0
        self.starts.insert(i, offset)
        self.ends.insert(i, offset)
        return 0

    def __len__(self) -> int:
        return len(self.starts)

    def pop_all(self) -> list[tuple[int, int]]:
        """Every run as (start, nr), the set emptied."""
        runs = [(s, e - s + 1) for s, e in zip(self.starts, self.ends, strict=True)]
        self.starts.clear()
        self.ends.clear()
        return runs


@trait
class HibernateMixin(MachineBase):
    """``echo disk > /sys/power/state`` for :class:`~vswap.mm.machine.Machine`."""

    #: ``/sys/power/image_size`` in bytes; None: the kernel's default, 2/5 of RAM.
    image_size: int | None = None

    def hibernate(self, resume: str | None = None,
                  image_size: int | None = None) -> HibernateResult:
        """Hibernate to swap and resume: write the image, read it back, free its slots.

        ``resume`` is the ``resume=`` device name (None: the first writable swap device);
        ``image_size`` overrides ``/sys/power/image_size``.

        Returns:
            What was done; on failure ``completed`` is False and ``error`` names the errno
            (the image slots are freed on every path, as ``swap_writer_finish()`` does).

        Raises:
            DataLossError: an image page read back at resume differs from the snapshot.
        """
        res = HibernateResult()
        self.op_begin(None)
        try:
            self._hibernate(res, resume, image_size)
        finally:
            self.op_end()
        return res

    # -- the steps, in the kernel's order ----------------------------------------------------
    def _hibernate(self, res: HibernateResult, resume: str | None,
                   image_size: int | None) -> None:
        d = self.design
        root = d.devices.swap_type_of(resume, 0)
        si = d.devices.swap_type_to_swap_info(root) if root >= 0 else None
        if si is None:
            res.error = Errno.ENODEV.name
            return
        storage = as_block_device(si.storage)
        if storage is None:
            res.error = Errno.ENODEV.name  # no block access (a zram device keeps nothing)
            return
        res.type, res.device = si.type, si.name
        res.preallocated_reclaimed = self.hibernate_preallocate_memory(image_size)
        if self.nr_used_pages > self.nr_free_pages():
            res.error = Errno.ENOMEM.name
            return
        image = self._snapshot()
        res.image_pages = len(image)
        res.swapped_pages = si.inuse_pages
        nr_map = -(-len(image) // MAP_PAGE_ENTRIES) if image else 1
        if not self.enough_swap(si, len(image)):
            res.error = Errno.ENOSPC.name
            return
        extents = SwsuspExtents()
        d.pm_suspended_storage = True
        try:
            first = self.swsusp_write(si, storage, image, extents, res)
        finally:
            d.pm_suspended_storage = False
        try:
            if first:
                res.extents = len(extents)
                res.map_pages = nr_map
                res.slots = sum(e - s + 1 for s, e in zip(extents.starts, extents.ends,
                                                          strict=True))
                self._resume(si, storage, image, res)
                res.completed = True
        finally:
            self.free_all_swap_pages(si, extents)

    def hibernate_preallocate_memory(self, image_size: int | None) -> int:
        """Shrink resident memory to the image size; returns the pages reclaimed.

        Models: ``hibernate_preallocate_memory()``'s ``shrink_all_memory()`` passes: the
        image is to hold at most ``image_size`` bytes (``/sys/power/image_size``, default 2/5
        of RAM), and reclaim (which swaps anonymous pages out) runs until it does or makes
        no progress.
        """
        size = image_size if image_size is not None else self.image_size
        target = (self.nr_pages * 2 // 5) if size is None else size // PAGE_SIZE
        reclaimed = 0
        while self.nr_used_pages > target:
            got = self.try_to_free_pages(self.nr_used_pages - target)
            self.reap_folios()
            if got <= 0:
                break
            reclaimed += got
        return reclaimed

    def _snapshot(self) -> list[bytes]:
        """The image's data pages: a copy of every resident page, LRU by LRU
        (``copy_data_pages()``; the copy's own memory is not modelled)."""
        pages: list[bytes] = []
        for lv in self.lruvecs.values():
            for folio in (*lv.inactive, *lv.active):
                data = folio.data
                if folio.stride != PAGE_SIZE:  # compact page data: the bytes of the tokens
                    pages.extend(pagedata.materialize(pagedata.tok_of(data, i))
                                 for i in range(folio.nr_pages))
                    continue
                for i in range(folio.nr_pages):
                    pages.append(bytes(data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]))
        return pages

    def enough_swap(self, si: SwapInfo, nr_pages: int) -> bool:
        """Models: ``enough_swap()``: the device's free slots exceed the image plus
        ``PAGES_FOR_IO``."""
        return self.design.devices.count_swap_pages(si.type, True) > PAGES_FOR_IO + nr_pages

    def alloc_swapdev_block(self, si: SwapInfo, extents: SwsuspExtents) -> int:
        """Models: ``alloc_swapdev_block()``: a physical slot of the resume device, recorded
        in ``swsusp_extents``; its block number (``swapdev_block()``: the slot offset, as
        the model's areas start at block 0), or 0 when the device is full."""
        d = self.design
        slot = d.swap_slot_alloc_of_type(si.type)
        if not slot:
            return 0
        offset = swp_slot_offset(slot)
        if extents.insert(offset):
            d.swap_slot_free_nr(slot, 1)
            return 0
        return offset

    def _write_page(self, si: SwapInfo, storage: BlockDevice, block: int,
                    data: bytes | bytearray) -> None:
        """``hib_submit_io(REQ_OP_WRITE)``: one page to the device (no ``pswpout``)."""
        storage.write_block(block, data)
        self.tracer.device_io(si.name, "write", PAGE_SIZE)

    def swsusp_write(self, si: SwapInfo, storage: BlockDevice, image: list[bytes],
                     extents: SwsuspExtents, res: HibernateResult) -> int:
        """Write the image: header page, data pages, swap map pages, then the signature.

        Models: ``swsusp_write()`` with ``get_swap_writer()`` (the first map page's slot),
        ``swap_write_page()`` (a slot per page; a full map page gets the next one's block
        as its link and is written), ``flush_swap_writer()`` and ``mark_swapfiles()``.
        Returns the first map page's block (``swsusp_header->image``), or 0 with
        ``res.error`` set (``ENOSPC``: a slot could not be had).
        """
        first = cur_block = self.alloc_swapdev_block(si, extents)
        if not first:
            res.error = Errno.ENOSPC.name
            return 0
        entries: list[int] = []
        nr_map = -(-len(image) // MAP_PAGE_ENTRIES) if image else 1
        header = _SWSUSP_INFO.pack(_INFO_MAGIC, len(image), 1 + len(image) + nr_map,
                                   self.nr_pages).ljust(PAGE_SIZE, b"\0")
        for data in (header, *image):
            block = self.alloc_swapdev_block(si, extents)
            if not block:
                res.error = Errno.ENOSPC.name
                return 0
            self._write_page(si, storage, block, data)
            entries.append(block)
            if len(entries) == MAP_PAGE_ENTRIES:
                nxt = self.alloc_swapdev_block(si, extents)
                if not nxt:
                    res.error = Errno.ENOSPC.name
                    return 0
                self._write_page(si, storage, cur_block, _map_page(entries, nxt))
                cur_block, entries = nxt, []
        self._write_page(si, storage, cur_block, _map_page(entries, 0))
        self.mark_swapfiles(si, storage, first)
        return first

    def mark_swapfiles(self, si: SwapInfo, storage: BlockDevice, first: int) -> None:
        """Models: ``mark_swapfiles()``: the resume block's swap signature is kept in
        ``orig_sig`` and replaced by ``HIBERNATE_SIG``; ``image`` names the first map
        page, ``flags`` says the image is uncompressed."""
        page = bytearray(storage.read_block(0))
        *_, sig = _SWSUSP_HEADER.unpack_from(page, _SWSUSP_AT)
        if sig != SWAP_SIG:
            raise KernelError(Errno.ENODEV, f"{si.name}: swap header not found")
        _SWSUSP_HEADER.pack_into(page, _SWSUSP_AT, 0, 0, first, SF_NOCOMPRESS_MODE, sig,
                                 HIBERNATE_SIG)
        self._write_page(si, storage, 0, page)

    def _resume(self, si: SwapInfo, storage: BlockDevice, image: list[bytes],
                res: HibernateResult) -> None:
        """Resume: ``swsusp_check()`` then ``load_image()``, every page compared.

        Raises:
            DataLossError: no hibernation signature, a bad header, or a page that differs.
        """
        page = bytearray(storage.read_block(0))
        _hw, _crc, first, flags, orig, sig = _SWSUSP_HEADER.unpack_from(page, _SWSUSP_AT)
        self.tracer.device_io(si.name, "read", PAGE_SIZE)
        if sig != HIBERNATE_SIG or not flags & SF_NOCOMPRESS_MODE:
            raise DataLossError(f"resume from {si.name}: no hibernation image signature")
        # swsusp_check() puts the swap signature back at once (the other fields stay).
        _SWSUSP_HEADER.pack_into(page, _SWSUSP_AT, _hw, _crc, first, flags, orig, orig)
        self._write_page(si, storage, 0, page)
        blocks: list[int] = []
        nxt = first
        while nxt:
            words = struct.unpack(f"<{MAP_PAGE_ENTRIES + 1}Q", storage.read_block(nxt))
            self.tracer.device_io(si.name, "read", PAGE_SIZE)
            blocks.extend(b for b in words[:MAP_PAGE_ENTRIES] if b)
            nxt = words[MAP_PAGE_ENTRIES]
        if not blocks:
            raise DataLossError(f"resume from {si.name}: empty image map")
        magic, nr_data, _total, _ram = _SWSUSP_INFO.unpack_from(storage.read_block(blocks[0]))
        if magic != _INFO_MAGIC or nr_data != len(image) or len(blocks) != nr_data + 1:
            raise DataLossError(f"resume from {si.name}: image header does not match the "
                                f"snapshot ({nr_data} pages, {len(blocks) - 1} mapped)")
        for i, block in enumerate(blocks[1:]):
            got = storage.read_block(block)
            self.tracer.device_io(si.name, "read", PAGE_SIZE)
            if got != image[i]:
                raise DataLossError(f"resume from {si.name}: image page {i} (block {block}) "
                                    "differs from the snapshot")
            res.pages_verified += 1

    def free_all_swap_pages(self, si: SwapInfo, extents: SwsuspExtents) -> None:
        """Models: ``free_all_swap_pages()``: every run of ``swsusp_extents`` returned
        through the design's ``swap_slot_free_nr``."""
        for start, nr in extents.pop_all():
            self.design.swap_slot_free_nr(si.slot(start), nr)


def _map_page(entries: list[int], nxt: int) -> bytes:
    """A ``struct swap_map_page``: the blocks of up to ``MAP_PAGE_ENTRIES`` pages and the
    link to the next map page (0: the last)."""
    words = entries + [0] * (MAP_PAGE_ENTRIES - len(entries)) + [nxt]
    return struct.pack(f"<{MAP_PAGE_ENTRIES + 1}Q", *words)
