"""The classic design with zswap: every zswap page still holds a disk slot (the RFC's
motivation), loads are exclusive, and writeback goes to the pre-reserved slot."""

from __future__ import annotations

import random
import struct

from swaphelpers import swap_in, swap_out

from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE, swp_offset
from vswap.swap.classic import ClassicSwap
from vswap.swap.storage import MemSwapStorage
from vswap.zswap.zswap import ZswapParams


def _usemem_page(i: int) -> bytes:
    return struct.pack("<512Q", *range(i * 512, i * 512 + 512))


def _design(compressor: str = "lz4") -> ClassicSwap:
    d = ClassicSwap()
    d.swapon(MemSwapStorage(8 << 20))
    d.attach_zswap(total_ram_pages=1 << 16, params=ZswapParams(compressor=compressor))
    return d


def test_zswap_pages_hold_disk_slots_and_round_trip() -> None:
    d = _design()
    pages = [_usemem_page(i) for i in range(50)]
    entries = [swap_out(d, Folio(0, p))[0] for p in pages]
    si = next(d.devices.devices())
    assert d.vmstat["zswpout"] == 50 and d.vmstat["pswpout"] == 0
    assert si.inuse_pages == 50, "classic: each zswap page pins a disk slot it never uses"
    assert d.zswap.statistics().stored_pages == 50  # type: ignore[union-attr]
    for e, data in zip(entries, pages):
        assert bytes(swap_in(d, e).data) == data
    assert d.vmstat["zswpin"] == 50 and d.vmstat["pswpin"] == 0
    assert si.inuse_pages == 0
    assert d.zswap.statistics().stored_pages == 0  # type: ignore[union-attr]
    d.check_invariants()


def test_incompressible_pages_are_rejected_and_written_to_the_device() -> None:
    """v6.14's zswap: a page that does not compress below PAGE_SIZE fails zs_malloc
    (reject_compress_poor) and swap_writepage writes it to the device (later kernels store
    it as-is: tests/unit/zswap/test_zswap_kernel_versions.py)."""
    d = _design()
    rng = random.Random(7)
    data = rng.randbytes(PAGE_SIZE)
    e, _ = swap_out(d, Folio(0, data))
    stats = d.zswap.statistics()  # type: ignore[union-attr]
    assert stats.reject_compress_poor == 1 and stats.stored_incompressible_pages == 0
    assert d.vmstat["zswpout"] == 0 and d.vmstat["pswpout"] == 1
    si = next(d.devices.devices())
    assert si.storage.read_page(swp_offset(e)) == data
    assert bytes(swap_in(d, e).data) == data


def test_writeback_writes_to_the_reserved_slot() -> None:
    d = _design()
    data = _usemem_page(3)
    e, _ = swap_out(d, Folio(0, data))
    assert d.zswap.zswap_writeback_entry(e) == 0  # type: ignore[union-attr]
    assert d.vmstat["zswpwb"] == 1 and d.vmstat["pswpout"] == 1
    si = next(d.devices.devices())
    assert si.storage.read_page(swp_offset(e)) == data
    # the written-back folio sits clean in the swap cache; a fault finds it there
    folio = d.swap_cache_get_folio(e)
    assert folio is not None and not folio.dirty
    assert bytes(swap_in(d, e).data) == data
    assert si.inuse_pages == 0
    d.check_invariants()


def test_zero_pages_never_reach_zswap() -> None:
    d = _design()
    swap_out(d, Folio(0))
    assert d.vmstat["swpout_zero"] == 1 and d.vmstat["zswpout"] == 0


def test_writeback_disabled_keeps_rejected_page_resident() -> None:
    d = ClassicSwap()
    d.swapon(MemSwapStorage(8 << 20))
    d.attach_zswap(total_ram_pages=1 << 16, params=ZswapParams(enabled=False))
    cg = d.memcgs.create("/nowb")
    cg.zswap_writeback = False
    folio = Folio(0, _usemem_page(1), memcg_id=cg.id)
    _, ret = swap_out(d, folio)
    assert ret != 0 and folio.swapcache and folio.dirty
    assert d.vmstat["pswpout"] == 0


def test_writeback_skips_entry_that_raced_into_swap_cache() -> None:
    d = _design()
    data = _usemem_page(5)
    e, _ = swap_out(d, Folio(0, data))
    folio, new = d.read_swap_cache_async(e)  # a fault brings it in: the entry is hot now
    assert folio is not None and new
    assert d.zswap.zswap_writeback_entry(e) != 0  # type: ignore[union-attr]
    assert d.vmstat["zswpwb"] == 0 and d.vmstat["pswpout"] == 0
    assert d.swap_read_folio(folio) and bytes(folio.data) == data
