"""Page data modes: a page's real bytes (``full``) or an 8-byte descriptor (``compact``).

Not a kernel structure: how the model keeps the contents of the pages it moves.

``full`` (the default and the reference): every folio holds ``PAGE_SIZE`` bytes per page, zswap
and zram compress them, devices store them. ``compact``: every folio holds one 8-byte *token*
per page, and so do the zsmalloc objects, the swap devices and the integrity oracle; nothing
keeps 4 KiB per page. A token names the page's content and the version of its last write:

=========  ======  ===========================================================================
bits       field   meaning
=========  ======  ===========================================================================
63..60     class   0 zero, 1 usemem, 2 random, 3 text (:mod:`vswap.workloads.content`),
                   4 kbuild text, 5 kbuild random (:mod:`vswap.workloads.kbuild`), 6 literal
59..52     version incremented (mod 256) on every write of the page (0 for a zero page)
51..0      payload the page index (classes 1-3), ``pool << 44 | job << 20 | page`` (4),
                   ``job << 20 | page`` (5), the literal's id (6), 0 (zero)
=========  ======  ===========================================================================

A page written with arbitrary bytes (a partial write, a write of bytes no class describes) is a
*literal*: its bytes are kept once per distinct content (:class:`Literals`, content-addressed),
not once per page, so the ``b"\\x01" * 8`` pages of ``swapoff --unrelated`` cost one entry.

Zero-page detection follows the class (``is_folio_zero_filled`` is class 0). Compressed sizes
are exact: :func:`compressed_len` applies the real compressor to the page's bytes, rebuilt from
its token, once per (compressor, content) while it is in a bounded cache; so a run gives the same
counters and modelled times in both modes (the sizes of one class differ by page: lz4 on
``text`` pages gives 86 different sizes in 429 pages, so one sampled size per class could not).
The one content not rebuilt byte for byte is kbuild's random page (``rng.randbytes`` in full
mode, splitmix64 here, the generator's state being too large for a token): both are
incompressible, and every compressor's output for them is over ``PAGE_SIZE``, which zswap and zram
treat alike whatever the exact length (rejected, or stored as a raw page).

The integrity oracle hashes the token, so a page that comes back with another identity or an
older version fails verification, also where the bytes would be equal (a rewrite with the same
content), which ``full`` mode cannot see.

The mode is process-wide (:func:`set_mode`), set by :class:`vswap.mm.machine.Machine` when it is
built: one process runs one machine at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Final

import numpy as np

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE

__all__ = [
    "MODES", "TOKEN_BYTES", "PageData", "PageRun", "compressed_len", "materialize",
    "register_class", "reset", "set_mode",
]

#: The ``--page-data`` choices; the first is the default.
MODES: Final = ("full", "compact")
#: Bytes per page of a folio in compact mode.
TOKEN_BYTES: Final = 8

ZERO, USEMEM, RANDOM, TEXT, KTEXT, KRANDOM, LITERAL = range(7)
CLASS_SHIFT: Final = 60
VERSION_SHIFT: Final = 52
VERSION_MASK: Final = 0xFF << VERSION_SHIFT
PAYLOAD_MASK: Final = (1 << VERSION_SHIFT) - 1


class PageData:
    """The process's page-data mode (one instance, :data:`PAGE_DATA`)."""

    __slots__ = ("compact", "stride")

    def __init__(self) -> None:
        self.compact = False
        #: Bytes a folio keeps per page: ``PAGE_SIZE`` or :data:`TOKEN_BYTES`.
        self.stride = PAGE_SIZE


PAGE_DATA = PageData()


def set_mode(mode: str) -> None:
    """Select ``full`` or ``compact`` for the folios, pools and devices built from now on.

    Raises:
        ConfigError: an unknown mode.
    """
    if mode not in MODES:
        raise ConfigError(f"--page-data: {mode!r} is not one of {', '.join(MODES)}")
    PAGE_DATA.compact = mode == "compact"
    PAGE_DATA.stride = TOKEN_BYTES if PAGE_DATA.compact else PAGE_SIZE


def token(cls: int, payload: int) -> int:
    """The version-0 token of a page of class ``cls``."""
    if not 0 <= payload <= PAYLOAD_MASK:
        raise ValueError(f"page descriptor payload {payload:#x} out of range")
    return cls << CLASS_SHIFT | payload


#: How each non-zero class rebuilds its bytes from its payload, registered by the module that
#: defines the content (vswap.workloads.content, vswap.workloads.kbuild): this layer knows
#: the token's layout, not the contents.
_BUILDERS: Final[dict[int, Callable[[int], bytes]]] = {}


def register_class(cls: int, build: Callable[[int], bytes]) -> None:
    """Say how pages of class ``cls`` are rebuilt from their payload."""
    _BUILDERS[cls] = build


class PageRun:
    """What a workload writes in compact mode: whole pages given by their tokens (version
    0; the write sets the version). ``len()`` is the byte length the pages stand for."""

    __slots__ = ("tokens",)

    def __init__(self, tokens: list[int]) -> None:
        self.tokens = tokens

    def __len__(self) -> int:
        return len(self.tokens) * PAGE_SIZE


class Literals:
    """Pages written with bytes no class describes, kept once per distinct content."""

    def __init__(self) -> None:
        self.ids: dict[bytes, int] = {}
        self.pages: list[bytes] = []

    def token(self, page: bytes) -> int:
        lid = self.ids.get(page)
        if lid is None:
            lid = self.ids[page] = len(self.pages)
            self.pages.append(page)
        return token(LITERAL, lid)

    def reset(self) -> None:
        self.ids.clear()
        self.pages.clear()


LITERALS = Literals()
_ZERO_PAGE: Final = bytes(PAGE_SIZE)


def bytes_token(page: bytes | bytearray | memoryview) -> int:
    """The version-0 token of a page written with these ``PAGE_SIZE`` bytes."""
    b = bytes(page)
    if b == _ZERO_PAGE:
        return 0
    return LITERALS.token(b)


def tok_of(data: bytes | bytearray | memoryview, i: int) -> int:
    """Token ``i`` of a compact folio's data."""
    return int.from_bytes(data[i * TOKEN_BYTES:(i + 1) * TOKEN_BYTES], "little")


def tok_bytes(tok: int) -> bytes:
    return tok.to_bytes(TOKEN_BYTES, "little")


def is_zero_token(tok: int) -> bool:
    return tok >> CLASS_SHIFT == ZERO


def next_version(old: int, new: int) -> int:
    """``new`` (a version-0 token) with the version after ``old``'s; a zero page's token is
    always 0 (the zero map keeps nothing but "zero", as the kernel's: a swapped-in zero page
    is all zeros, whatever write made it)."""
    if not new:
        return 0
    return new | ((old & VERSION_MASK) + (1 << VERSION_SHIFT)) & VERSION_MASK


def materialize(tok: int) -> bytes:
    """The ``PAGE_SIZE`` bytes a token stands for (its version ignored)."""
    cls = tok >> CLASS_SHIFT
    payload = tok & PAYLOAD_MASK
    if cls == ZERO:
        return _ZERO_PAGE
    if cls == LITERAL:
        return LITERALS.pages[payload]
    build = _BUILDERS.get(cls)
    if build is None:
        raise ValueError(f"page token {tok:#x}: no content class {cls} registered")
    return build(payload)


def materialize_data(data: bytes | bytearray | memoryview) -> bytes:
    """The bytes of every page of a compact folio's (or run's) data."""
    n = len(data) // TOKEN_BYTES
    return b"".join(materialize(tok_of(data, i)) for i in range(n))


#: Compressed lengths kept at once (a bounded cache: memory does not grow with the run).
SIZE_CACHE_ENTRIES: Final = 1 << 16


@lru_cache(maxsize=SIZE_CACHE_ENTRIES)
def _clen(name: str, compress: Callable[[bytes], bytes], content: int) -> int:
    return len(compress(materialize(content)))


def compressed_len(name: str, compress: Callable[[bytes], bytes], tok: int) -> int:
    """The length of ``compress`` (named ``name``) applied to the page ``tok`` stands for.

    Raises: what the compressor raises (a library failure, handled as in full mode).
    """
    return _clen(name, compress, tok & ~VERSION_MASK)


def reset() -> None:
    """Forget the literals and the compressed sizes (a new machine: a literal's id names
    other bytes from now on)."""
    LITERALS.reset()
    _clen.cache_clear()


def tokens_array(n: int) -> np.ndarray:
    """A zeroed per-slot token table (one uint64 per slot: 8 bytes an entry)."""
    return np.zeros(n, dtype=np.uint64)


def write_bytes(data: bytearray, idx: int, off: int,
                src: bytes | bytearray | memoryview) -> None:
    """Store ``src`` at byte ``off`` of page ``idx`` of a compact folio's ``data``: the page
    gets the token of its new bytes (a literal unless they are a whole zero page), with the
    next version."""
    old = tok_of(data, idx)
    if off == 0 and len(src) == PAGE_SIZE:
        new = bytes_token(src)
    else:
        page = bytearray(materialize(old))
        page[off:off + len(src)] = src
        new = bytes_token(page)
    data[idx * TOKEN_BYTES:(idx + 1) * TOKEN_BYTES] = tok_bytes(next_version(old, new))


def read_bytes(data: bytes | bytearray | memoryview, idx: int, off: int, n: int) -> bytes:
    """``n`` bytes at byte ``off`` of page ``idx`` of a compact folio's ``data``."""
    return materialize(tok_of(data, idx))[off:off + n]
