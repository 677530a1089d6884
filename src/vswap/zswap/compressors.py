"""Compressors by their kernel crypto names: the zswap ``compressor`` parameter.

Models: the ``crypto_acomp`` algorithms zswap can be configured with (crypto/lzo.c,
crypto/lzo-rle.c, crypto/lz4.c, crypto/lz4hc.c, crypto/zstd.c, crypto/deflate.c at v6.14), and
the refusal of ``zswap_compressor_param_set()`` (mm/zswap.c) when ``crypto_has_acomp()`` says
the algorithm is not available ("compressor %s not available").

Every compressor really compresses the page's bytes with a maintained library:

========  ==================================  ==========================================
name      library call                        kernel parameters reproduced
========  ==================================  ==========================================
lzo       ``lzallright.LZOCompressor``        LZO1X bitstream (see the note below)
lz4       ``lz4.block`` mode ``default``      ``LZ4_compress_default`` (acceleration 1)
lz4hc     ``lz4.block`` ``high_compression``  ``LZ4HC_DEFAULT_CLEVEL`` = 9
zstd      ``zstandard`` level 3               ``ZSTD_DEF_LEVEL`` = 3, a frame with its
                                              content size and no checksum
deflate   ``zlib`` raw deflate                ``DEFLATE_DEF_LEVEL`` = Z_DEFAULT_COMPRESSION
                                              (6), ``DEFLATE_DEF_WINBITS`` = 11 (raw, so
                                              wbits -11), ``MAX_MEM_LEVEL`` (9)
========  ==================================  ==========================================

Notes, measured rather than assumed:

* ``lzo``: the kernel's compressor is LZO1X-1 (lib/lzo/lzo1x_compress.c). The only LZO library
  installable here without a C toolchain, ``lzallright`` (a Rust port of lzokay), writes the
  same LZO1X bitstream but searches matches much harder: about 120 us per 4 KiB page against a
  few us for LZO1X-1, and somewhat smaller output. Sizes (and so pool packing) are therefore a
  little optimistic for ``lzo``; the bytes round-trip exactly.
* ``lzo-rle``: the kernel's run-length variant writes a different bitstream (a version marker
  and a zero-run encoding). No installable library implements it, so it is refused exactly as
  the kernel refuses an algorithm it does not have; it is *not* silently aliased to ``lzo``.

Decompression is strict: any library error, or an output that is not exactly ``PAGE_SIZE``
bytes, raises :class:`DecompressError`. zswap turns that into ``KernelError(EIO)`` naming the
entry (``zswap_decompress`` failing, ``zswap_load`` returning ``-EIO``).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Final

import lz4.block
import lzallright
import zstandard

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE

#: ``CONFIG_ZSWAP_COMPRESSOR_DEFAULT`` (mm/Kconfig: ZSWAP_COMPRESSOR_DEFAULT_LZO is the default).
CONFIG_ZSWAP_COMPRESSOR_DEFAULT: Final = "lzo"

#: Kernel crypto compressor names zswap accepts; those without an implementation here are
#: refused by :func:`get_compressor` with the list of available ones.
KNOWN_COMPRESSORS: Final = ("lzo", "lzo-rle", "lz4", "lz4hc", "zstd", "deflate")

#: ``LZ4HC_DEFAULT_CLEVEL`` (include/linux/lz4.h), used by crypto/lz4hc.c.
LZ4HC_DEFAULT_CLEVEL: Final = 9
#: ``ZSTD_DEF_LEVEL`` (crypto/zstd.c).
ZSTD_DEF_LEVEL: Final = 3
#: crypto/deflate.c: ``DEFLATE_DEF_LEVEL`` (Z_DEFAULT_COMPRESSION = 6), ``DEFLATE_DEF_WINBITS``,
#: ``DEFLATE_DEF_MEMLEVEL`` (MAX_MEM_LEVEL = 9). Raw deflate: negative window bits.
DEFLATE_DEF_LEVEL: Final = 6
DEFLATE_DEF_WINBITS: Final = 11
DEFLATE_DEF_MEMLEVEL: Final = 9


class DecompressError(Exception):
    """The compressed bytes did not decompress to exactly one page."""


@dataclass(frozen=True, slots=True)
class Compressor:
    """One compression algorithm: its kernel name and two plain functions.

    ``compress(page) -> bytes`` takes any bytes-like object of ``PAGE_SIZE`` bytes.
    ``decompress(src) -> bytes`` returns exactly ``PAGE_SIZE`` bytes or raises
    :class:`DecompressError`. The functions are stored directly so the zswap hot path calls
    the library with no extra Python frame in between.
    """

    name: str
    compress: Callable[[bytes | bytearray | memoryview], bytes]
    decompress: Callable[[bytes | bytearray | memoryview], bytes]
    library: str


def _checked(name: str, raw: Callable[[bytes | bytearray | memoryview], bytes],
             errors: tuple[type[BaseException], ...]
             ) -> Callable[[bytes | bytearray | memoryview], bytes]:
    """Wrap a library decompressor: library errors and short/long output -> DecompressError."""

    def decompress(src: bytes | bytearray | memoryview) -> bytes:
        try:
            out = raw(src)
        except errors as exc:
            raise DecompressError(f"{name}: {exc}") from exc
        if len(out) != PAGE_SIZE:
            raise DecompressError(f"{name}: decompressed to {len(out)} bytes, not {PAGE_SIZE}")
        return out

    return decompress


def _make_lz4() -> Compressor:
    block = lz4.block
    # functools.partial binds the keyword arguments in C: no Python frame per call.
    compress: Callable[[bytes | bytearray | memoryview], bytes] = partial(
        block.compress, mode="default", acceleration=1, store_size=False)
    raw: Callable[[bytes | bytearray | memoryview], bytes] = partial(
        block.decompress, uncompressed_size=PAGE_SIZE)
    return Compressor("lz4", compress, _checked("lz4", raw, (block.LZ4BlockError, ValueError)),
                      f"lz4 {lz4.version.version}")


def _make_lz4hc() -> Compressor:
    block = lz4.block
    compress: Callable[[bytes | bytearray | memoryview], bytes] = partial(
        block.compress, mode="high_compression", compression=LZ4HC_DEFAULT_CLEVEL,
        store_size=False)
    raw: Callable[[bytes | bytearray | memoryview], bytes] = partial(
        block.decompress, uncompressed_size=PAGE_SIZE)

    return Compressor("lz4hc", compress,
                      _checked("lz4hc", raw, (block.LZ4BlockError, ValueError)),
                      f"lz4 {lz4.version.version}")


def _make_zstd() -> Compressor:
    cctx = zstandard.ZstdCompressor(level=ZSTD_DEF_LEVEL, write_checksum=False,
                                    write_content_size=True)
    dctx = zstandard.ZstdDecompressor()
    raw: Callable[[bytes | bytearray | memoryview], bytes] = partial(
        dctx.decompress, max_output_size=PAGE_SIZE)

    return Compressor("zstd", cctx.compress,
                      _checked("zstd", raw, (zstandard.ZstdError, ValueError)),
                      f"zstandard {zstandard.__version__}")


def _make_deflate() -> Compressor:
    compressobj = zlib.compressobj
    deflated = zlib.DEFLATED
    wbits = -DEFLATE_DEF_WINBITS

    def compress(src: bytes | bytearray | memoryview) -> bytes:
        c = compressobj(DEFLATE_DEF_LEVEL, deflated, wbits, DEFLATE_DEF_MEMLEVEL)
        return c.compress(src) + c.flush()

    def raw(src: bytes | bytearray | memoryview) -> bytes:
        d = zlib.decompressobj(wbits)
        out = d.decompress(src, PAGE_SIZE + 1)
        if not d.eof:
            raise DecompressError("deflate: truncated stream")
        return out

    return Compressor("deflate", compress, _checked("deflate", raw, (zlib.error,)),
                      f"zlib {zlib.ZLIB_RUNTIME_VERSION}")


def _make_lzo() -> Compressor:
    lzo = lzallright.LZOCompressor()

    def raw(src: bytes | bytearray | memoryview) -> bytes:
        return lzo.decompress(src, PAGE_SIZE)

    return Compressor("lzo", lzo.compress,
                      _checked("lzo", raw, (lzallright.LZOError, ValueError)),
                      "lzallright 0.3.0 (LZO1X bitstream, lzokay match search)")


_FACTORIES: dict[str, Callable[[], Compressor]] = {
    "lzo": _make_lzo,
    "lz4": _make_lz4,
    "lz4hc": _make_lz4hc,
    "zstd": _make_zstd,
    "deflate": _make_deflate,
}

#: Why a known kernel name has no implementation here.
_UNAVAILABLE: Final[dict[str, str]] = {
    "lzo-rle": "no installable library implements the LZO-RLE bitstream",
}


def available_compressors() -> tuple[str, ...]:
    """Kernel names that :func:`get_compressor` can build (``crypto_has_acomp`` true)."""
    return tuple(_FACTORIES)


def crypto_has_acomp(name: str) -> bool:
    """Models: ``crypto_has_acomp()``: is ``name`` an available compression algorithm."""
    return name in _FACTORIES


def get_compressor(name: str) -> Compressor:
    """Build the compressor called ``name`` (a kernel crypto name).

    Raises:
        ConfigError: the name is unknown or has no implementation here; the message reads
            ``compressor <name> not available`` (as the kernel logs), says why when the name is
            a known kernel algorithm, and lists the available ones.
    """
    factory = _FACTORIES.get(name)
    if factory is None:
        why = _UNAVAILABLE.get(name)
        reason = f" ({why})" if why else (
            "" if name in KNOWN_COMPRESSORS else " (not a kernel compressor name)")
        raise ConfigError(
            f"compressor: compressor {name} not available{reason}; "
            f"available: {', '.join(available_compressors())}")
    return factory()
