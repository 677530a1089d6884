"""Page contents shared by the model's workloads and the host's real programs.

Models: nothing in the kernel; it is the data the workloads write, defined once so that
``vswap host run`` (the C program ``src/vswap/host/hostwl.c``) and ``vswap run`` swap
byte-for-byte the same pages, and zswap, zram and the zero-page check see the same input on
both sides. :func:`page_content` is tested against the C program's ``page`` mode.

Classes (``pattern --content``, ``pageout --content``):

========  ==========================================================================
usemem    every 8-byte word holds its index in the region (vm-scalability's usemem)
zero      all zero; written with the ``text`` content first, then zeroed, so the
          page is dirty and its last write leaves zeros (``swpout_zero`` on swap-out)
random    incompressible: word ``k`` of page ``i`` is ``splitmix64((512 i + k + 1) * G)``
text      words of a 16-word English dictionary, one space after each; word ``j``
          of page ``i`` is nibble ``j % 16`` of ``splitmix64((256 i + j // 16 + 1) * G)``;
          the page is the first 4096 bytes (lz4 about 2x, deflate about 4x)
mixed     page ``i`` is zero, random or text for ``i mod 3`` = 0, 1, 2
========  ==========================================================================

``G`` is the golden-ratio increment of splitmix64 (``0x9E3779B97F4A7C15``); ``splitmix64(z)``
is its output mixing function, all arithmetic modulo 2**64.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from vswap.errors import ConfigError
from vswap.kernel import pagedata
from vswap.kernel.types import PAGE_SIZE

__all__ = ["CONTENTS", "WORDS", "content_run", "content_token", "page_class", "page_content",
           "write_sequence"]

#: The content classes, in the order ``--content`` lists them.
CONTENTS = ("usemem", "zero", "random", "text", "mixed")
#: The text dictionary (16 words, at most 4 letters: the C program stores 8 bytes a word).
WORDS = ("the", "of", "and", "to", "in", "is", "that", "it",
         "was", "for", "on", "are", "as", "with", "his", "they")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_WORDS_PER_PAGE = PAGE_SIZE // 8
_WORD_BYTES = [w.encode() + b" " for w in WORDS]
assert len(WORDS) == 16 and max(map(len, WORDS)) <= 4
_NIBBLE_SHIFTS = np.arange(0, 64, 4, dtype=np.uint64)


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's output function on an array of uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


def _splitmix(start: int, n: int) -> np.ndarray:
    """``mix64((start + k + 1) * G)`` for k in range(n)."""
    with np.errstate(over="ignore"):
        x = np.arange(start + 1, start + n + 1, dtype=np.uint64) * _GOLDEN
    return _mix64(x)


def page_class(content: str, index: int) -> str:
    """The class of page ``index`` (``mixed`` cycles zero, random, text)."""
    if content != "mixed":
        return content
    return ("zero", "random", "text")[index % 3]


@lru_cache(maxsize=4096)
def _text_page(index: int) -> bytes:
    bits = _splitmix(index * 256, 128)  # 2048 words: enough for 4096 bytes of 2-5 byte words
    nibbles = ((bits[:, None] >> _NIBBLE_SHIFTS[None, :]) & np.uint64(15)).ravel()
    words = _WORD_BYTES
    return b"".join([words[w] for w in nibbles.tolist()])[:PAGE_SIZE]


def page_content(content: str, index: int) -> bytes:
    """The final content of page ``index`` of a region filled with ``content``.

    Raises:
        ConfigError: unknown content class.
    """
    cls = page_class(content, index)
    if cls == "usemem":
        first = index * _WORDS_PER_PAGE
        return np.arange(first, first + _WORDS_PER_PAGE, dtype="<u8").tobytes()
    if cls == "zero":
        return bytes(PAGE_SIZE)
    if cls == "random":
        return _splitmix(index * _WORDS_PER_PAGE, _WORDS_PER_PAGE).astype("<u8").tobytes()
    if cls == "text":
        return _text_page(index)
    raise ConfigError(f"unknown content {content!r} (known: {', '.join(CONTENTS)})")


def write_sequence(content: str, index: int) -> tuple[bytes, ...]:
    """What the program writes to page ``index``, in order: a zero page gets the text
    content and is then zeroed; every other page gets its content once."""
    if page_class(content, index) == "zero":
        return (_text_page(index), bytes(PAGE_SIZE))
    return (page_content(content, index),)


_CLASS_OF_CONTENT = {"zero": pagedata.ZERO, "usemem": pagedata.USEMEM,
                     "random": pagedata.RANDOM, "text": pagedata.TEXT}


def content_token(content: str, index: int) -> int:
    """The compact-mode token of page ``index`` of a region filled with ``content``
    (:mod:`vswap.kernel.pagedata`; ``mixed`` resolves per page).

    Raises:
        ConfigError: unknown content class.
    """
    c = _CLASS_OF_CONTENT.get(page_class(content, index))
    if c is None:
        raise ConfigError(f"unknown content {content!r} (known: {', '.join(CONTENTS)})")
    return 0 if c == pagedata.ZERO else pagedata.token(c, index)


def content_run(content: str, first: int, n: int) -> pagedata.PageRun:
    """Pages ``first .. first + n - 1`` of ``content`` as compact-mode descriptors."""
    return pagedata.PageRun([content_token(content, i) for i in range(first, first + n)])


def _builder(name: str) -> Callable[[int], bytes]:
    return lambda payload: page_content(name, payload)


for _name, _cls in _CLASS_OF_CONTENT.items():
    if _cls != pagedata.ZERO:
        pagedata.register_class(_cls, _builder(_name))
