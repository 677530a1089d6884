"""The on-disk swap area format: the header page that ``mkswap`` writes and ``swapon`` reads.

Models: ``union swap_header`` and ``MAX_SWAP_BADPAGES`` (include/linux/swap.h, v6.14),
``read_swap_header()`` and the bad-page pass of ``setup_swap_map_and_extents()``
(mm/swapfile.c, v6.14), and util-linux ``mkswap`` (disk-utils/mkswap.c, 2.38).

Layout of page 0 of a swap area (4096 bytes, host byte order, little-endian on x86-64):

=======  =====  ==========================================================================
offset   bytes  field
=======  =====  ==========================================================================
0        1024   ``bootbits``: left alone, so a disk label or boot block can live there
1024     4      ``version``: always 1 (version 0, magic ``SWAP-SPACE``, left Linux in 2.5)
1028     4      ``last_page``: index of the last usable page; the area has last_page+1 pages
1032     4      ``nr_badpages``: number of entries used in ``badpages``
1036     16     ``sws_uuid``: the UUID, raw bytes in RFC 4122 order (what blkid prints)
1052     16     ``sws_volume``: the label, NUL padded (util-linux keeps it to 15 bytes + NUL)
1068     468    ``padding[117]``
1536     2550   ``badpages[]``: page indexes the kernel must never use, up to 637 of them
4086     10     magic ``SWAPSPACE2``
=======  =====  ==========================================================================

Page 0 itself is never used for swapped data: slot 0 of every device is "no slot"
(``SWAP_SLOT_INVALID`` in :mod:`vswap.kernel.types`), which is why the header can live there.

Modelling choices, recorded here because they differ from a bare reading of the format:

* A byte-swapped header (a partition made on a host of the other endianness) is accepted
  and decoded, because the kernel accepts it: ``read_swap_header()`` swabs the three
  counters and the bad-page list when the swabbed version is 1. The result says so in
  :attr:`SwapHeader.byteswapped`.
* The kernel refuses a *regular file* whose header lists bad pages (only a block device
  can have them). :func:`parse_swap_header` applies that rule when ``regular_file=True``;
  :mod:`vswap.swap.storage` turns it off for in-memory devices and for files opened as an
  image of a block device, so bad pages stay testable.
* ``arch_max_swapfile_size()`` on x86-64 allows far more than the 2**32 pages a 32-bit
  ``last_page`` can name, so the kernel's "Truncating oversized swap area" path cannot
  trigger there and is not modelled.
"""

from __future__ import annotations

import os
import stat
import struct
import tempfile
import uuid as uuid_mod
from collections.abc import Iterable
from dataclasses import dataclass

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SIZE

SWAP_HEADER_MAGIC = b"SWAPSPACE2"
#: The version-0 signature; no kernel since 2.5 accepts it.
SWAP_HEADER_MAGIC_V0 = b"SWAP-SPACE"
SWAP_HEADER_VERSION = 1
SWAP_UUID_LENGTH = 16
SWAP_LABEL_LENGTH = 16
#: util-linux refuses areas with fewer pages (``MIN_GOODPAGES`` in disk-utils/mkswap.c).
MIN_GOODPAGES = 10
#: ``last_page`` is a ``__u32``.
MAX_LAST_PAGE = 0xFFFF_FFFF

_BOOTBITS = 1024
_INFO = struct.Struct("<III16s16s")  # version, last_page, nr_badpages, uuid, volume
_INFO_SWAPPED = struct.Struct(">III16s16s")
_PADDING_WORDS = 117
_BADPAGES_OFFSET = _BOOTBITS + _INFO.size + 4 * _PADDING_WORDS
_MAGIC_OFFSET = PAGE_SIZE - len(SWAP_HEADER_MAGIC)
#: How many ``badpages`` entries fit between the array start and the magic.
MAX_SWAP_BADPAGES = (_MAGIC_OFFSET - _BADPAGES_OFFSET) // 4

# Layout facts of union swap_header (BUILD_BUG_ON equivalents).
assert _INFO.size == 44
assert _BADPAGES_OFFSET == 1536
assert MAX_SWAP_BADPAGES == 637


@dataclass(frozen=True, slots=True)
class SwapHeader:
    """The decoded, validated header page of a swap area.

    ``label`` is ``""`` when the area has none. ``bad_pages`` holds the ``nr_badpages``
    listed indexes in header order (duplicates kept, as the kernel keeps them).
    ``byteswapped`` is true when the header was written in the other byte order and
    decoded by swabbing, as ``read_swap_header()`` does.
    """

    version: int
    last_page: int
    nr_badpages: int
    uuid: uuid_mod.UUID
    label: str
    bad_pages: tuple[int, ...]
    byteswapped: bool = False

    @property
    def nr_pages(self) -> int:
        """Pages the area spans, header page included (the kernel's ``maxpages``)."""
        return self.last_page + 1

    @property
    def size_bytes(self) -> int:
        """Usable bytes: every page but the header, as util-linux mkswap reports the size."""
        return self.last_page * PAGE_SIZE

    @property
    def nr_good_pages(self) -> int:
        """Pages that can hold swapped data: all but the header and distinct bad pages."""
        return self.last_page - len(set(self.bad_pages))


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------


def _einval(name: str, message: str) -> KernelError:
    return KernelError(Errno.EINVAL, f"{name}: {message}")


def _encode_label(label: str | None) -> bytes:
    """The label as stored: UTF-8, at most 16 bytes, no NUL inside (it would end the label)."""
    if not label:
        return b""
    raw = label.encode("utf-8", "surrogateescape")
    if b"\0" in raw:
        raise KernelError(Errno.EINVAL, f"label {label!r} contains a NUL byte")
    if len(raw) > SWAP_LABEL_LENGTH:
        raise KernelError(
            Errno.EINVAL,
            f"label {label!r} is {len(raw)} bytes long; the header holds at most "
            f"{SWAP_LABEL_LENGTH}")
    return raw


def _decode_label(raw: bytes) -> str:
    # surrogateescape keeps any non-UTF-8 label byte-exact through a parse/build round trip.
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def escape_label(label: str) -> str:
    """A label as a program prints it: bytes that are not printable UTF-8 (control
    characters, line breaks, escape sequences, invalid UTF-8) as ``\\xNN`` and a backslash
    as ``\\\\``, as blkid's ``safe_print`` does, so a label cannot forge an output line or
    drive the terminal."""
    out = []
    for ch in label:
        if ch == "\\":
            out.append("\\\\")
        elif "\udc80" <= ch <= "\udcff":  # a non-UTF-8 byte kept by surrogateescape
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8"))
    return "".join(out)


def size_to_human_string(nbytes: int) -> str:
    """Format a size the way util-linux prints it (``1024 MiB``, ``36 KiB``, ``1.5 GiB``).

    Models: ``size_to_human_string()`` with ``SIZE_SUFFIX_3LETTER | SIZE_SUFFIX_SPACE``
    (util-linux lib/strutils.c): the largest binary unit not above the value, the fraction
    cut to thousandths and then rounded half-up to one decimal, which may carry into the
    whole part (so 1 GiB - 4 KiB prints as ``1024 MiB``, not ``1 GiB``).
    """
    exp = 0
    while exp < 60 and nbytes >= 1 << (exp + 10):
        exp += 10
    whole, rem = divmod(nbytes, 1 << exp)
    tenths = 0
    if rem:
        tenths = ((rem * 1000 >> exp) + 50) // 100
        if tenths == 10:
            whole, tenths = whole + 1, 0
    unit = "BKMGTPE"[exp // 10]
    suffix = " B" if unit == "B" else f" {unit}iB"
    return f"{whole}.{tenths}{suffix}" if tenths else f"{whole}{suffix}"


# ---------------------------------------------------------------------------------------
# main API
# ---------------------------------------------------------------------------------------


def build_swap_header(*, last_page: int, uuid: uuid_mod.UUID, label: str | None = None,
                      bad_pages: Iterable[int] = (), version: int = SWAP_HEADER_VERSION,
                      nr_badpages: int | None = None, byteswapped: bool = False,
                      magic: bytes = SWAP_HEADER_MAGIC) -> bytes:
    """Encode a header page (4096 bytes) with zeroed bootbits and padding.

    Only what the format cannot represent is refused here; whether the header makes sense
    (``last_page`` > 0, bad pages in range) is :func:`parse_swap_header`'s job, so tests can
    build every broken header the kernel must reject. ``nr_badpages`` overrides the count
    written (default ``len(bad_pages)``); ``byteswapped`` writes the counters big-endian,
    as a big-endian host's mkswap would; ``magic`` replaces the signature.

    Models: the header util-linux ``write_header_to_device()`` writes (disk-utils/mkswap.c).

    Raises:
        KernelError: EINVAL for a label over 16 bytes or with a NUL, more than
            ``MAX_SWAP_BADPAGES`` bad pages, a counter outside ``__u32``, or a magic that is
            not 10 bytes.
    """
    bad = tuple(bad_pages)
    count = len(bad) if nr_badpages is None else nr_badpages
    if len(bad) > MAX_SWAP_BADPAGES:
        raise KernelError(Errno.EINVAL, f"{len(bad)} bad pages; the header holds at most "
                          f"{MAX_SWAP_BADPAGES}")
    if len(magic) != len(SWAP_HEADER_MAGIC):
        raise KernelError(Errno.EINVAL, f"magic {magic!r} is not {len(SWAP_HEADER_MAGIC)} bytes")
    for what, value in (("version", version), ("last_page", last_page),
                        ("nr_badpages", count), *(("bad page", b) for b in bad)):
        if not 0 <= value <= MAX_LAST_PAGE:
            raise KernelError(Errno.EINVAL, f"{what} {value} does not fit in a __u32")
    page = bytearray(PAGE_SIZE)
    info = _INFO_SWAPPED if byteswapped else _INFO
    info.pack_into(page, _BOOTBITS, version, last_page, count, uuid.bytes,
                   _encode_label(label))
    struct.pack_into((">" if byteswapped else "<") + f"{len(bad)}I", page, _BADPAGES_OFFSET,
                     *bad)
    page[_MAGIC_OFFSET:] = magic
    return bytes(page)


def parse_swap_header(page: bytes | bytearray | memoryview, *, file_pages: int | None,
                      name: str, regular_file: bool = False) -> SwapHeader:
    """Decode and validate a header page the way ``swapon`` does.

    ``page`` is the first page of the area; a shorter buffer is zero-extended, as the page
    cache fills a page past end of file. ``file_pages`` is the size of the file or device
    in whole pages (``None`` or 0: unknown, the size check is skipped as the kernel skips
    it for a zero ``i_size``). ``regular_file`` applies the rule that only block devices
    may list bad pages. Checks run in the kernel's order, so the first failure reported is
    the one ``swapon`` would log.

    Models: ``read_swap_header()`` and the bad-page loop of ``setup_swap_map_and_extents()``
    (mm/swapfile.c, v6.14).

    Returns:
        The decoded :class:`SwapHeader`.

    Raises:
        KernelError: EINVAL, with ``"<name>: <message>"``, when
            - the last 10 bytes are not ``SWAPSPACE2`` ("Unable to find swap-space
              signature"; a version-0 ``SWAP-SPACE`` area says so in addition),
            - a byte-swapped header lists more than ``MAX_SWAP_BADPAGES`` bad pages,
            - the version is not 1 ("Unable to handle swap header version N"),
            - ``last_page`` is 0 ("Empty swap-file"),
            - the file has fewer than ``last_page + 1`` pages ("Swap area shorter than
              signature indicates"),
            - ``regular_file`` and ``nr_badpages`` > 0,
            - ``nr_badpages`` > ``MAX_SWAP_BADPAGES``,
            - a bad page index is 0 or past ``last_page``,
            - no good page is left ("Empty swap-file").
    """
    if len(page) < PAGE_SIZE:
        page = bytes(page) + bytes(PAGE_SIZE - len(page))
    magic = bytes(page[_MAGIC_OFFSET:PAGE_SIZE])
    if magic != SWAP_HEADER_MAGIC:
        if magic == SWAP_HEADER_MAGIC_V0:
            raise _einval(name, "Unable to find swap-space signature (found the version 0 "
                          "signature SWAP-SPACE, unsupported since Linux 2.5; run mkswap)")
        raise _einval(name, "Unable to find swap-space signature")

    version, last_page, nr_badpages, raw_uuid, raw_label = _INFO.unpack_from(page, _BOOTBITS)
    byteswapped = False
    order = "<"
    # Same test as the kernel: a header whose version reads 1 once swabbed came from a host
    # of the other byte order; the counters and bad-page list are swabbed, the byte arrays
    # (UUID, label) are not.
    if version == 0x0100_0000:
        byteswapped, order = True, ">"
        version, last_page, nr_badpages, _, _ = _INFO_SWAPPED.unpack_from(page, _BOOTBITS)
        # Checked before the list is read, so a garbage count cannot run past the page.
        if nr_badpages > MAX_SWAP_BADPAGES:
            raise _einval(name, f"byte-swapped header lists {nr_badpages} bad pages, more "
                          f"than MAX_SWAP_BADPAGES ({MAX_SWAP_BADPAGES})")
    if version != SWAP_HEADER_VERSION:
        # The kernel prints the __u32 with %d.
        signed = version - (1 << 32) if version & 0x8000_0000 else version
        raise _einval(name, f"Unable to handle swap header version {signed}")
    if last_page == 0:
        raise _einval(name, "Empty swap-file")
    nr_pages = last_page + 1
    if file_pages and nr_pages > file_pages:
        raise _einval(name, f"Swap area shorter than signature indicates (header: "
                      f"{nr_pages} pages, file: {file_pages} pages)")
    if nr_badpages and regular_file:
        # The kernel fails this one silently; say why.
        raise _einval(name, f"header lists {nr_badpages} bad pages, which only a block "
                      f"device may have, not a regular file")
    if nr_badpages > MAX_SWAP_BADPAGES:
        raise _einval(name, f"header lists {nr_badpages} bad pages, more than "
                      f"MAX_SWAP_BADPAGES ({MAX_SWAP_BADPAGES})")
    bad_pages = struct.unpack_from(f"{order}{nr_badpages}I", page, _BADPAGES_OFFSET)
    for page_nr in bad_pages:
        if page_nr == 0 or page_nr > last_page:
            raise _einval(name, f"bad page {page_nr} outside 1..{last_page}")
    header = SwapHeader(version=version, last_page=last_page, nr_badpages=nr_badpages,
                        uuid=uuid_mod.UUID(bytes=raw_uuid), label=_decode_label(raw_label),
                        bad_pages=bad_pages, byteswapped=byteswapped)
    if header.nr_good_pages <= 0:
        raise _einval(name, "Empty swap-file (every page is listed bad)")
    return header


def read_header_page(fd: int, name: str, *, block_device: bool = False) -> SwapHeader:
    """Read page 0 of the open file ``fd`` and validate it with :func:`parse_swap_header`.

    A regular file gets the regular-file rules (no bad pages) unless ``block_device``
    says it stands in for a partition image.

    Models: the header read in the ``swapon`` syscall (``read_mapping_folio()`` of index 0
    followed by ``read_swap_header()``, mm/swapfile.c).

    Raises:
        KernelError: EINVAL as :func:`parse_swap_header`.
        OSError: the file cannot be read.
    """
    st = os.fstat(fd)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        # swapon's "!S_ISBLK && !S_ISREG -> EINVAL"; and a FIFO or /dev/zero is never read.
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO"
                if stat.S_ISFIFO(st.st_mode) else "a character device"
                if stat.S_ISCHR(st.st_mode) else "not a regular file")
        raise _einval(name, f"{kind}, not a swap area (a regular file or a block device)")
    page = os.pread(fd, PAGE_SIZE, 0)
    return parse_swap_header(page, file_pages=st.st_size // PAGE_SIZE, name=name,
                             regular_file=stat.S_ISREG(st.st_mode) and not block_device)


def swap_header_from_file(path: str | os.PathLike[str], *,
                          block_device: bool = False) -> SwapHeader:
    """Open ``path`` read-only and return its validated header (see :func:`read_header_page`).

    Raises:
        KernelError: EINVAL, the file is not a usable swap area.
        OSError: the file cannot be opened or read.
    """
    # O_NONBLOCK: opening a FIFO would otherwise wait for a writer (read_header_page then
    # refuses it); reads of a regular file or block device do not block either way.
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        return read_header_page(fd, os.fspath(path), block_device=block_device)
    finally:
        os.close(fd)


def check_swap_area_size(size_bytes: int, *, bad_pages: Iterable[int] = ()) -> int:
    """Validate a new area's size and bad-page list; return its ``last_page``.

    Models: the size checks of util-linux mkswap (``MIN_GOODPAGES``, "Unable to set up
    swap-space: unreadable"), made strict: the size must be whole pages and ``last_page``
    must fit in ``__u32`` (util-linux rounds down and truncates instead).

    Raises:
        KernelError: EINVAL naming the rule broken.
    """
    if size_bytes % PAGE_SIZE:
        raise KernelError(Errno.EINVAL, f"swap area size {size_bytes} is not a multiple of "
                          f"the page size ({PAGE_SIZE} bytes)")
    npages = size_bytes // PAGE_SIZE
    if npages < MIN_GOODPAGES:
        raise KernelError(Errno.EINVAL, f"swap area needs to be at least "
                          f"{MIN_GOODPAGES * PAGE_SIZE // 1024} KiB ({MIN_GOODPAGES} pages), "
                          f"got {size_bytes} bytes")
    last_page = npages - 1
    if last_page > MAX_LAST_PAGE:
        raise KernelError(Errno.EINVAL, f"swap area of {npages} pages is too large: "
                          f"last_page is a __u32 (at most {MAX_LAST_PAGE + 1} pages)")
    bad = set(bad_pages)
    for page_nr in bad:
        if not 1 <= page_nr <= last_page:
            raise KernelError(Errno.EINVAL, f"bad page {page_nr} outside 1..{last_page}")
    if last_page - len(bad) <= 0:
        raise KernelError(Errno.EINVAL, "Unable to set up swap-space: unreadable")
    return last_page


#: Signatures :func:`existing_data` recognises, as util-linux's libblkid probes them:
#: (byte offset, magic, what it is).
FOREIGN_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"XFSB", "an XFS filesystem"),
    (0, b"LUKS\xba\xbe", "a LUKS encrypted volume"),
    (0, b"hsqs", "a squashfs filesystem"),
    (3, b"NTFS    ", "an NTFS filesystem"),
    (0x36, b"FAT1", "a FAT filesystem"),
    (0x52, b"FAT32   ", "a FAT32 filesystem"),
    (0x1FE, b"\x55\xaa", "a DOS partition table or boot sector"),
    (0x200, b"EFI PART", "a GPT partition table"),
    (0x438, b"\x53\xef", "an ext2/3/4 filesystem"),
    (0x8001, b"CD001", "an ISO 9660 filesystem"),
    (0x10040, b"_BHRfS_M", "a btrfs filesystem"),
)
_PROBE_BYTES = 0x10040 + 8
_SCAN_CHUNK = 1 << 20


def existing_data(fd: int) -> str | None:
    """What the open regular file ``fd`` holds that ``mkswap`` would destroy, in words
    ("a swap signature (label 'x')", "an ext2/3/4 filesystem", "non-zero bytes at offset
    N"), or ``None`` when it is empty or all zero bytes. Holes are skipped (``SEEK_DATA``),
    so a sparse file costs only its data.

    Models: the signature probe util-linux mkswap runs before it writes (libblkid,
    ``check_blkdev()``/``wipe_device()`` in disk-utils/mkswap.c), made stricter: any
    non-zero byte counts as data, not only a known signature.
    """
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    head = os.pread(fd, _PROBE_BYTES, 0)
    magic = head[_MAGIC_OFFSET:PAGE_SIZE]
    if magic in (SWAP_HEADER_MAGIC, SWAP_HEADER_MAGIC_V0):
        label = _decode_label(head[_BOOTBITS + 28:_BOOTBITS + 44])
        shown = f" (label {label!r})" if label else ""
        return f"a swap signature{shown}, {magic.decode()}"
    for offset, sig, what in FOREIGN_SIGNATURES:
        if head[offset:offset + len(sig)] == sig:
            return f"{what} signature"
    off = 0
    while off < size:
        try:
            off = os.lseek(fd, off, os.SEEK_DATA)
        except OSError:  # ENXIO: only a hole is left
            return None
        chunk = os.pread(fd, _SCAN_CHUNK, off)
        if not chunk:
            return None
        stripped = chunk.lstrip(b"\0")
        if stripped:
            return f"non-zero bytes (the first at offset {off + len(chunk) - len(stripped)})"
        off += len(chunk)
    return None


def _check_target(name: str, *, force: bool) -> None:
    """Refuse a target ``mkswap`` must not touch: a symbolic link (it would be followed or
    replaced without a word), anything but a regular file, and, without ``force``, a file
    holding data (:func:`existing_data`)."""
    try:
        st = os.lstat(name)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        raise KernelError(Errno.EINVAL, f"{name}: a symbolic link (to "
                          f"{os.readlink(name)!r}); name the file itself, mkswap does not "
                          "follow links")
    if not stat.S_ISREG(st.st_mode):
        kind = ("a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO"
                if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode)
                or stat.S_ISBLK(st.st_mode) else "not a regular file")
        raise KernelError(Errno.EINVAL, f"{name}: {kind}; mkswap makes regular files only")
    if force:
        return
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        found = existing_data(fd)
    finally:
        os.close(fd)
    if found:
        raise KernelError(Errno.EEXIST, f"{name}: holds {found}; not overwritten (remove "
                          "it, or replace it with vswap mkswap --force)")


def mkswap(path: str | os.PathLike[str], size_bytes: int, *, label: str | None = None,
           uuid: uuid_mod.UUID | None = None, bad_pages: Iterable[int] = (),
           allocate: bool = False, force: bool = False) -> SwapHeader:
    """Create (or replace) ``path`` as a swap area of ``size_bytes`` and return its header.

    The area is built in a new temporary file beside ``path`` (sparse, or every block
    reserved with ``allocate=True``, which a real ``swapon`` needs: the kernel refuses swap
    files with holes), its header written and read back, and only then renamed over
    ``path``; so a failure (no space, too large for the filesystem) leaves ``path`` as it
    was. A new file gets mode 0600, as util-linux asks for. ``uuid`` defaults to a random
    one, as util-linux does.

    An existing ``path`` is replaced only if it is a regular file (never a symbolic link,
    a device, a FIFO or a folder) and holds no data, unless ``force``: a swap signature,
    another filesystem's signature or any non-zero byte refuses it (:func:`existing_data`).

    Models: util-linux ``mkswap`` (disk-utils/mkswap.c), with ``--force`` as its ``-f``.

    Returns:
        The header written, as :func:`parse_swap_header` reads it back.

    Raises:
        KernelError: EINVAL as :func:`check_swap_area_size` and :func:`build_swap_header`,
            or for a target that is a link or not a regular file; EEXIST for a target that
            holds data without ``force`` (the file is not touched in any of these cases).
        OSError: the file cannot be created or written (``path`` is then unchanged).
    """
    bad = tuple(bad_pages)
    last_page = check_swap_area_size(size_bytes, bad_pages=bad)
    page = build_swap_header(last_page=last_page, uuid=uuid or uuid_mod.uuid4(), label=label,
                             bad_pages=bad)
    name = os.fspath(path)
    _check_target(name, force=force)
    folder, base = os.path.split(os.path.abspath(name))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".mkswap", dir=folder)
    except OSError as exc:  # name the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, name) from None
    try:
        os.ftruncate(fd, size_bytes)
        if allocate:
            os.posix_fallocate(fd, 0, size_bytes)
        os.pwrite(fd, page, 0)
        # Bad pages are legal in an image of a block device, so read back with that rule.
        header = read_header_page(fd, name, block_device=True)
        os.fsync(fd)
        os.replace(tmp, name)
        tmp = ""
        return header
    finally:
        os.close(fd)
        if tmp:
            os.unlink(tmp)
