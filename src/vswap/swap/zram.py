"""zram: a compressed RAM block device used as a swap device.

Models: drivers/block/zram/zram_drv.c (v6.18, with the 7.0 writeback additions
``writeback_batch_size`` and compressed writeback) as the swap layer sees it: a block
device that completes every bio in the submitter (``BLK_FEAT_SYNCHRONOUS``, so swapon sets
``SWP_SYNCHRONOUS_IO`` and ``do_swap_page`` reads a page of swap count 1 straight into a
private folio, bypassing the swap cache and readahead), whose slots hold:

=================  ==========================================================================
slot state         what is stored
=================  ==========================================================================
free               nothing (``slot_allocated`` false)
``ZRAM_SAME``      one 8-byte word: every word of the page equals it (``page_same_filled``);
                   no memory is allocated; counted in ``same_pages``
compressed         a zsmalloc object of the compressed length (``compr_data_size``)
``ZRAM_HUGE``      the raw page in a zsmalloc object of PAGE_SIZE: compression gave
                   ``>= huge_class_size`` bytes (``write_incompressible_page``, ``huge_pages``)
``ZRAM_WB``        written back to the backing device: the slot holds a block index; with
                   ``writeback_compressed`` the block holds the compressed object (and the
                   slot keeps its size and ``ZRAM_HUGE``), else the decompressed page
=================  ==========================================================================

Transitions: a write frees whatever the slot held and stores the new page; a read leaves
the slot as it is and clears ``ZRAM_IDLE`` (``mark_slot_accessed``); a slot free
notification (``zram_slot_free_notify``, sent by the swap layer when a slot's swap count
drops to 0) or a discard frees it; :meth:`ZramStorage.writeback` moves selected slots to
backing blocks. Zero pages never arrive here: the swap layer stores them in its zeromap
(``swpout_zero``), so ``same_pages`` counts only other same-filled pages.

Statistics: ``mm_stat`` and ``io_stat`` with the kernel's field names, ``bd_stat`` in 4 KiB
units. Invariant (:meth:`ZramStorage.check_invariants`): ``pages_stored`` counts the
allocated slots, ``same_pages`` the ``ZRAM_SAME`` ones, ``huge_pages`` the in-pool
``ZRAM_HUGE`` ones, ``compr_data_size`` the sizes of the in-pool objects, ``bd_count`` the
backing blocks in use, and every backing block belongs to exactly one ``ZRAM_WB`` slot.

The device is a :class:`~vswap.swap.storage.SwapStorage` of kind ``mem`` (so swapon marks
it ``SWP_SYNCHRONOUS_IO``, and ``/proc/swaps`` says ``partition``) whose header page is
kept raw, as a block device holds what ``mkswap`` wrote; its CPU costs (compression,
decompression, zsmalloc) go to the run's tracer.
"""

from __future__ import annotations

import enum
import uuid as uuid_mod
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

import numpy as np

from vswap.errors import ConfigError
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.pagedata import PAGE_DATA, TOKEN_BYTES, compressed_len, materialize
from vswap.kernel.tracing import NULL_TRACER, KernelTracer
from vswap.kernel.types import PAGE_SIZE
from vswap.swap.swap_area import build_swap_header, check_swap_area_size, parse_swap_header
from vswap.units import format_size
from vswap.zswap.compressors import get_compressor
from vswap.zswap.zsmalloc import ZsPool, huge_class_size

__all__ = ["WRITEBACK_MODES", "ZRAM_WB_BATCH_SIZE", "ZramFlag", "ZramStorage"]

Buffer = bytes | bytearray | memoryview

#: ``writeback_batch_size`` default: requests in flight at once during writeback.
ZRAM_WB_BATCH_SIZE: Final = 32
#: The ``writeback`` store's modes (``parse_mode``).
WRITEBACK_MODES: Final = ("idle", "huge", "huge_idle", "incompressible")


class ZramFlag(enum.IntFlag):
    """Per-slot flags (``enum zram_pageflags``); see the module docstring's table.

    ``SAME``, ``HUGE`` and ``WB`` say what the slot holds (``SAME`` and ``HUGE`` exclude each
    other; ``WB`` may keep ``HUGE`` for a compressed writeback of a huge object); ``IDLE``
    is set by ``idle`` and cleared on access; ``INCOMPRESSIBLE`` marks pages no algorithm
    shrank (recompression; not reached without a secondary algorithm).
    """

    SAME = 1
    WB = 2
    HUGE = 4
    IDLE = 8
    INCOMPRESSIBLE = 16


@dataclass(frozen=True, slots=True)
class ZramMmStat:
    """``/sys/block/zramN/mm_stat``, in its field order (bytes unless noted)."""

    orig_data_size: int
    compr_data_size: int
    mem_used_total: int
    mem_limit: int
    mem_used_max: int
    same_pages: int
    pages_compacted: int
    huge_pages: int
    huge_pages_since: int

    def format(self) -> str:
        return " ".join(f"{v:8d}" for v in (
            self.orig_data_size, self.compr_data_size, self.mem_used_total, self.mem_limit,
            self.mem_used_max, self.same_pages, self.pages_compacted, self.huge_pages,
            self.huge_pages_since)) + "\n"


class ZramStorage:
    """A zram device of ``size_bytes`` swapped on as a swap area (see the module docstring).

    ``comp`` is the ``comp_algorithm`` (a kernel crypto name the model can compute);
    ``mem_limit`` bytes (0: none) bounds the pool; ``backing_dev`` bytes (0: none) is the
    backing device's size, for :meth:`writeback`; ``writeback_compressed`` writes objects
    without decompressing them; ``writeback_batch_size`` requests are in flight at once.

    Raises:
        ConfigError: an unknown or unavailable compressor, a bad size or option.
    """

    kind = "mem"

    def __init__(self, size_bytes: int, *, comp: str = "lz4", name: str = "/dev/zram0",
                 label: str | None = None, mem_limit: int = 0, backing_dev: int = 0,
                 writeback_compressed: bool = False,
                 writeback_batch_size: int = ZRAM_WB_BATCH_SIZE,
                 tracer: KernelTracer = NULL_TRACER) -> None:
        try:
            last_page = check_swap_area_size(size_bytes)
        except KernelError as exc:
            raise ConfigError(f"zram disksize {size_bytes}: {exc.detail}") from None
        if writeback_batch_size < 1:
            raise ConfigError(f"zram writeback_batch_size {writeback_batch_size}: must be "
                              "at least 1 (-EINVAL)")
        if mem_limit < 0 or backing_dev < 0 or backing_dev % PAGE_SIZE:
            raise ConfigError("zram mem_limit and backing_dev must be non-negative "
                              "(backing_dev whole pages)")
        self.compressor = get_compressor(comp)
        self.comp_algorithm = comp
        self.name = name
        self.disksize = size_bytes
        self.nr_pages = last_page + 1
        page = build_swap_header(last_page=last_page, uuid=uuid_mod.uuid4(),
                                 label=label or "zram")
        self.header = parse_swap_header(page, file_pages=None, name=name, regular_file=False)
        self._header_page = page
        self.pool = ZsPool(name.rsplit("/", 1)[-1])
        self.huge_class_size = huge_class_size()
        self.mem_limit = mem_limit
        self.writeback_compressed = writeback_compressed
        self.writeback_batch_size = writeback_batch_size
        #: The machine's tracer (a timed run's recorder), given at construction.
        self.tracer = tracer
        n = self.nr_pages
        # Per slot: flags, handle (pool handle, same-filled word's index into _same, or
        # backing block), stored size.
        self.flags = bytearray(n)
        self.handle = array("Q", bytes(8 * n))
        self.size = array("I", bytes(4 * n))
        self._same: dict[int, int] = {}
        # Backing device: raw 4 KiB blocks and their allocation bitmap.
        self.bd_pages = backing_dev // PAGE_SIZE
        self._bd_used = bytearray(self.bd_pages)
        self._bd_data: dict[int, bytes] = {}
        # Statistics (struct zram_stats).
        self.pages_stored = 0
        self.compr_data_size = 0
        self.same_pages = 0
        self.huge_pages = 0
        self.huge_pages_since = 0
        self.mem_used_max = 0
        self.failed_reads = 0
        self.failed_writes = 0
        self.invalid_io = 0
        self.notify_free = 0
        self.bd_count = 0
        self.bd_reads = 0
        self.bd_writes = 0
        self.num_reads = 0
        self.num_writes = 0
        self._closed = False

    # -- slot helpers ----------------------------------------------------------------------
    def _check(self, offset: int) -> None:
        if self._closed:
            raise KernelError(Errno.EBADF, f"{self.name}: device was reset")
        if not 0 <= offset < self.nr_pages:
            self.invalid_io += 1
            raise KernelError(Errno.EINVAL, f"{self.name}: sector of page {offset} beyond "
                              f"disksize ({self.nr_pages} pages)")

    def slot_allocated(self, index: int) -> bool:
        """Models: ``slot_allocated()``: the slot holds a page in any form."""
        return bool(self.handle[index] or self.flags[index] & (ZramFlag.SAME | ZramFlag.WB))

    def slot_free(self, index: int) -> None:
        """Models: ``slot_free()``: release what the slot holds, update the statistics."""
        fl = self.flags[index]
        self.flags[index] = 0
        if fl & ZramFlag.SAME:
            self._same.pop(index, None)
            self.same_pages -= 1
            self.pages_stored -= 1
        elif fl & ZramFlag.WB:
            blk = int(self.handle[index])
            self._bd_used[blk] = 0
            self._bd_data.pop(blk, None)
            self.bd_count -= 1
            self.pages_stored -= 1
        elif self.handle[index]:
            self.pool.zs_free(int(self.handle[index]))
            self.tracer.zpool_free()
            self.compr_data_size -= self.size[index]
            if fl & ZramFlag.HUGE:
                self.huge_pages -= 1
            self.pages_stored -= 1
        self.handle[index] = 0
        self.size[index] = 0

    def zram_can_store_page(self) -> bool:
        """Models: ``zram_can_store_page()``: the pool is under ``mem_limit``."""
        if not self.mem_limit:
            return True
        return self.pool.zs_get_total_pages() * PAGE_SIZE <= self.mem_limit

    def _update_used_max(self) -> None:
        used = self.pool.zs_get_total_pages() * PAGE_SIZE
        if used > self.mem_used_max:
            self.mem_used_max = used

    @staticmethod
    def page_same_filled(data: Buffer) -> int | None:
        """Models: ``page_same_filled()``: the repeated word if every 8-byte word of the page
        is the same, else None."""
        words = np.frombuffer(data, dtype="<u8", count=PAGE_SIZE // 8)
        first = words[0]
        if words[-1] != first or not (words == first).all():
            return None
        return int(first)

    # -- the block device: header and pages -------------------------------------------
    def read_page(self, offset: int) -> bytes:
        """Models: ``zram_read_page()``: decompress (or fill, or read from the backing device)
        slot ``offset``; the header page reads as mkswap wrote it."""
        self._check(offset)
        if offset == 0:
            return self._header_page
        self.num_reads += 1
        fl = self.flags[offset]
        self.flags[offset] = fl & ~ZramFlag.IDLE
        compact = PAGE_DATA.compact
        if fl & ZramFlag.SAME:
            if compact:  # the page's token, kept in place of the word
                return self._same[offset].to_bytes(8, "little")
            return self._same[offset].to_bytes(8, "little") * (PAGE_SIZE // 8)
        if fl & ZramFlag.WB:
            return self._read_from_bdev(offset)
        h = int(self.handle[offset])
        if not h:
            # A never-written sector reads as zeros (the slot holds nothing).
            return bytes(TOKEN_BYTES if compact else PAGE_SIZE)
        size = self.size[offset]
        obj = bytes(self.pool.zs_obj_read(h, size))
        if fl & ZramFlag.HUGE or compact:
            if compact and not fl & ZramFlag.HUGE:
                self.tracer.decompress(self.comp_algorithm, PAGE_SIZE)
            return obj
        self.tracer.decompress(self.comp_algorithm, PAGE_SIZE)
        return self._decompress(obj)

    def _decompress(self, obj: bytes) -> bytes:
        try:
            return self.compressor.decompress(obj)
        except Exception as exc:
            self.failed_reads += 1
            raise KernelError(Errno.EIO, f"{self.name}: decompression failed: {exc}") from None

    def _read_from_bdev(self, offset: int) -> bytes:
        """Models: ``read_from_bdev()``; with compressed writeback the block is decompressed
        (``zram_read_from_bdev`` + ``decompress_bdev_page``)."""
        blk = int(self.handle[offset])
        self.bd_reads += 1
        self.tracer.device_io(self.name + ":backing_dev", "read", PAGE_SIZE)
        data = self._bd_data[blk]
        if not self.writeback_compressed or self.flags[offset] & ZramFlag.HUGE:
            return data
        self.tracer.decompress(self.comp_algorithm, PAGE_SIZE)
        if PAGE_DATA.compact:
            return data
        return self._decompress(data[:self.size[offset]])

    def write_page(self, offset: int, data: Buffer) -> None:
        """Models: ``zram_write_page()``: same-filled detection, else compression into the
        pool (raw when ``>= huge_class_size``).

        Raises:
            KernelError: ENOMEM past ``mem_limit`` (``failed_writes``; the swap layer sees a
                write error), EINVAL for a sector beyond the disk.
        """
        self._check(offset)
        compact = PAGE_DATA.compact and offset != 0
        if len(data) != (TOKEN_BYTES if compact else PAGE_SIZE):
            raise KernelError(Errno.EINVAL, f"{self.name}: write of {len(data)} bytes")
        if offset == 0:
            self._header_page = bytes(data)
            return
        self.num_writes += 1
        self.tracer.zero_check(1)
        tok = int.from_bytes(data, "little") if compact else 0
        word = self.page_same_filled(materialize(tok) if compact else data)
        if word is not None:
            self.slot_free(offset)
            self.flags[offset] = ZramFlag.SAME
            self._same[offset] = tok if compact else word
            self.same_pages += 1
            self.pages_stored += 1
            return
        if compact:
            # The object is the page's token; its size is the real compressor's output.
            clen = compressed_len(self.compressor.name, self.compressor.compress, tok)
            huge = clen >= self.huge_class_size
            obj, objlen = bytes(data), PAGE_SIZE if huge else clen
        else:
            comp = self.compressor.compress(data)
            clen = len(comp)
            huge = clen >= self.huge_class_size
            obj = bytes(data) if huge else comp
            objlen = len(obj)
        # Priced after the fact: the compressor's time depends on whether the page
        # compressed at all (CostTable.compress_poor_*).
        self.tracer.compress(self.comp_algorithm, PAGE_SIZE, clen >= PAGE_SIZE)
        h = self.pool.zs_malloc(objlen)
        if not self.zram_can_store_page():
            self.pool.zs_free(h)
            self.failed_writes += 1
            raise KernelError(Errno.ENOMEM, f"{self.name}: mem_limit {self.mem_limit} reached")
        self.pool.zs_obj_write(h, obj)
        self.slot_free(offset)
        self.handle[offset] = h
        self.size[offset] = objlen
        self.compr_data_size += objlen
        self.pages_stored += 1
        if huge:
            self.flags[offset] = ZramFlag.HUGE
            self.huge_pages += 1
            self.huge_pages_since += 1
        self._update_used_max()

    def read_pages(self, offset: int, nr: int) -> bytes:
        return b"".join(self.read_page(offset + i) for i in range(nr))

    def write_pages(self, offset: int, data: Buffer) -> None:
        mv = memoryview(data)
        s = TOKEN_BYTES if PAGE_DATA.compact else PAGE_SIZE
        for i in range(len(mv) // s):
            self.write_page(offset + i, mv[i * s:(i + 1) * s])

    def swap_slot_free_notify(self, offset: int, nr: int = 1) -> None:
        """Models: ``zram_slot_free_notify()``: the swap layer freed these slots."""
        for index in range(offset, offset + nr):
            self.notify_free += 1
            if 0 < index < self.nr_pages:
                self.slot_free(index)

    def discard(self, offset: int, nr: int) -> None:
        """Models: ``zram_bio_discard()``."""
        self.swap_slot_free_notify(offset, nr)

    # -- idle marking and writeback -----------------------------------------------------
    def mark_idle(self) -> int:
        """``echo all > idle``: mark every allocated slot idle (``mark_idle``). Returns the
        slots marked."""
        n = 0
        for index in range(1, self.nr_pages):
            if self.slot_allocated(index) and not self.flags[index] & ZramFlag.WB:
                self.flags[index] |= ZramFlag.IDLE
                n += 1
        return n

    def writeback(self, mode: str, page_indexes: Iterable[int] | None = None) -> int:
        """``echo MODE > writeback``: write selected slots to the backing device.

        Models: ``writeback_store()`` -> ``scan_slots_for_writeback()`` ->
        ``zram_writeback_slots()``: every allocated slot that is not same-filled or already
        written back and matches the mode (``idle``, ``huge``, ``huge_idle``,
        ``incompressible``) goes to a free backing block, in batches of
        ``writeback_batch_size`` requests (each batch's writes are submitted together and
        waited for: one ``io_wait`` per batch). Plain writeback decompresses the object and
        writes the page; compressed writeback writes the object as it is. The slot's pool
        object is then freed. Returns the pages written back.

        Raises:
            KernelError: ENODEV without a backing device, EINVAL for an unknown mode;
                ENOSPC when the backing device filled up (what was written stays written).
        """
        if not self.bd_pages:
            raise KernelError(Errno.ENODEV, f"{self.name}: no backing_dev")
        if mode not in WRITEBACK_MODES:
            raise KernelError(Errno.EINVAL, f"{self.name}: writeback mode {mode!r} "
                              f"(valid: {', '.join(WRITEBACK_MODES)})")
        need = 0
        if "idle" in mode:
            need |= ZramFlag.IDLE
        if "huge" in mode:
            need |= ZramFlag.HUGE
        if mode == "incompressible":
            need |= ZramFlag.INCOMPRESSIBLE
        indexes = range(1, self.nr_pages) if page_indexes is None else page_indexes
        picked = [i for i in indexes
                  if self.handle[i] and not self.flags[i] & (ZramFlag.WB | ZramFlag.SAME)
                  and self.flags[i] & need == need]
        done = 0
        for start in range(0, len(picked), self.writeback_batch_size):
            for index in picked[start:start + self.writeback_batch_size]:
                blk = self._bd_used.find(0)
                if blk < 0:
                    raise KernelError(Errno.ENOSPC, f"{self.name}: backing device full "
                                      f"after {done} pages")
                fl = self.flags[index]
                size = self.size[index]
                obj = bytes(self.pool.zs_obj_read(int(self.handle[index]), size))
                if self.writeback_compressed or fl & ZramFlag.HUGE:
                    data = obj
                else:
                    self.tracer.decompress(self.comp_algorithm, PAGE_SIZE)
                    data = obj if PAGE_DATA.compact else self._decompress(obj)
                self._bd_used[blk] = 1
                self._bd_data[blk] = data
                self.bd_count += 1
                self.bd_writes += 1
                self.tracer.device_io(self.name + ":backing_dev", "write", PAGE_SIZE)
                keep_huge = self.writeback_compressed and fl & ZramFlag.HUGE
                self.slot_free(index)
                self.flags[index] = ZramFlag.WB | (ZramFlag.HUGE if keep_huge else 0)
                self.handle[index] = blk
                self.size[index] = size if self.writeback_compressed else PAGE_SIZE
                self.pages_stored += 1
                done += 1
            self.tracer.io_wait()
        return done

    # -- sysfs ------------------------------------------------------------------------
    def mm_stat(self) -> ZramMmStat:
        """``mm_stat``: ``orig_data_size`` counts every stored page but same-filled ones and
        written-back ones (which are not in memory)."""
        wb = self.bd_count
        return ZramMmStat(
            orig_data_size=(self.pages_stored - self.same_pages - wb) * PAGE_SIZE,
            compr_data_size=self.compr_data_size,
            mem_used_total=self.pool.zs_get_total_pages() * PAGE_SIZE,
            mem_limit=self.mem_limit, mem_used_max=self.mem_used_max,
            same_pages=self.same_pages, pages_compacted=self.pool.pages_compacted,
            huge_pages=self.huge_pages, huge_pages_since=self.huge_pages_since)

    def io_stat(self) -> dict[str, int]:
        """``io_stat``: failed_reads, failed_writes, invalid_io, notify_free."""
        return {"failed_reads": self.failed_reads, "failed_writes": self.failed_writes,
                "invalid_io": self.invalid_io, "notify_free": self.notify_free}

    def bd_stat(self) -> dict[str, int]:
        """``bd_stat`` (4 KiB units): bd_count, bd_reads, bd_writes."""
        return {"bd_count": self.bd_count, "bd_reads": self.bd_reads,
                "bd_writes": self.bd_writes}

    def stats(self) -> dict[str, object]:
        """The device's sysfs statistics by name, as a host run records them."""
        mm = self.mm_stat()
        return {"mm_stat": {f: getattr(mm, f) for f in mm.__dataclass_fields__},
                "io_stat": self.io_stat(), "bd_stat": self.bd_stat(),
                "comp_algorithm": self.comp_algorithm, "disksize": self.disksize,
                "writeback_batch_size": self.writeback_batch_size,
                "writeback_compressed": int(self.writeback_compressed),
                "stat": {"read_ios": self.num_reads, "write_ios": self.num_writes}}

    def check_invariants(self) -> None:
        """The accounting invariants of the module docstring.

        Raises:
            AssertionError: a counter disagrees with the slots.
        """
        stored = same = huge = comp = wb = 0
        blocks: set[int] = set()
        for i in range(1, self.nr_pages):
            fl = self.flags[i]
            if not self.slot_allocated(i):
                continue
            stored += 1
            if fl & ZramFlag.SAME:
                same += 1
            elif fl & ZramFlag.WB:
                wb += 1
                assert int(self.handle[i]) not in blocks, f"block reused at slot {i}"
                blocks.add(int(self.handle[i]))
            else:
                comp += self.size[i]
                huge += bool(fl & ZramFlag.HUGE)
        assert stored == self.pages_stored, (stored, self.pages_stored)
        assert same == self.same_pages and huge == self.huge_pages
        assert comp == self.compr_data_size and wb == self.bd_count == sum(self._bd_used)

    def close(self) -> None:
        """``reset``: free everything."""
        self._closed = True
        self._same.clear()
        self._bd_data.clear()

    def __repr__(self) -> str:
        return (f"ZramStorage({self.name}, {format_size(self.disksize)}, "
                f"comp={self.comp_algorithm})")
