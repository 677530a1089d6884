"""Compressors by kernel name: real round trips, refusal of unavailable ones, strict decompress."""

from __future__ import annotations

import pytest

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.zswap.compressors import (
    KNOWN_COMPRESSORS,
    DecompressError,
    available_compressors,
    crypto_has_acomp,
    get_compressor,
)

AVAILABLE = ["lzo", "lz4", "lz4hc", "zstd", "deflate"]


def test_available_compressors_are_the_kernel_names() -> None:
    assert sorted(available_compressors()) == sorted(AVAILABLE)
    assert set(available_compressors()) <= set(KNOWN_COMPRESSORS)
    assert crypto_has_acomp("lz4") and not crypto_has_acomp("lzo-rle")


def _pages(helpers):
    return {
        "zero": bytes(PAGE_SIZE),
        "text": helpers.text_page(1),
        "usemem": helpers.usemem_page(1 << 20),
        "random": helpers.random_page(7),
    }


@pytest.mark.parametrize("name", AVAILABLE)
def test_round_trip_every_page_kind(name: str, helpers) -> None:
    comp = get_compressor(name)
    assert comp.name == name
    for kind, page in _pages(helpers).items():
        out = comp.compress(page)
        assert isinstance(out, bytes)
        assert comp.decompress(out) == page, kind
        if kind == "zero":
            assert len(out) < 64, (name, len(out))
        if kind in ("text", "usemem"):
            assert len(out) < PAGE_SIZE, (name, kind, len(out))
        if kind == "random":
            assert len(out) >= PAGE_SIZE - 64, (name, len(out))


@pytest.mark.parametrize("name", AVAILABLE)
def test_memoryview_input(name: str, helpers) -> None:
    comp = get_compressor(name)
    page = helpers.usemem_page(3)
    buf = bytearray(page * 2)
    view = memoryview(buf)[PAGE_SIZE:]
    assert comp.decompress(memoryview(comp.compress(view))) == page


def test_lzo_rle_is_refused_not_aliased() -> None:
    with pytest.raises(ConfigError, match="compressor lzo-rle not available") as exc:
        get_compressor("lzo-rle")
    assert "LZO-RLE" in str(exc.value)
    for name in AVAILABLE:
        assert name in str(exc.value)


def test_unknown_compressor_lists_available() -> None:
    with pytest.raises(ConfigError, match="compressor 842 not available") as exc:
        get_compressor("842")
    assert "available: " in str(exc.value) and "zstd" in str(exc.value)


@pytest.mark.parametrize("name", AVAILABLE)
def test_corrupted_input_never_returns_a_wrong_length(name: str, helpers) -> None:
    comp = get_compressor(name)
    page = helpers.text_page(3)
    good = comp.compress(page)
    for bad in (good[: len(good) // 2], b"\xff" * 40, good + b"\x00" * 5):
        try:
            out = comp.decompress(bad)
        except DecompressError as exc:
            assert name in str(exc)
        else:
            assert len(out) == PAGE_SIZE


def test_zstd_frame_for_a_larger_page_is_rejected() -> None:
    comp = get_compressor("zstd")
    big = comp.compress(bytes(2 * PAGE_SIZE))
    with pytest.raises(DecompressError):
        comp.decompress(big)


def test_lz4_short_output_is_rejected() -> None:
    comp = get_compressor("lz4")
    half = comp.compress(bytes(PAGE_SIZE // 2))
    with pytest.raises(DecompressError, match="not 4096"):
        comp.decompress(half)
