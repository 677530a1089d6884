"""Helpers for the virtual swap design's tests: build a design, drive reclaim and faults."""

from __future__ import annotations

import random

from vswap.kernel.env import KernelEnv
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.swap.storage import MemSwapStorage
from vswap.swap.vswap import VirtualSwap
from vswap.zswap.zswap import Zswap, ZswapParams

_LABELS = iter(range(1 << 30))


def mk(*, device_mib: int = 0, zswap: bool = False, writeback: bool = True,
       **options: object) -> VirtualSwap:
    """A VirtualSwap with debug_vm on, optionally a device of ``device_mib`` and zswap."""
    d = VirtualSwap(env=KernelEnv(debug_vm=True), **options)  # type: ignore[arg-type]
    if device_mib:
        add_device(d, device_mib)
    if zswap:
        attach_zswap(d)
    d.memcgs.root.zswap_writeback = writeback
    return d


def add_device(d: object, mib: int = 1, pages: int | None = None) -> object:
    """swapon a fresh in-memory device (unique label, so names never collide)."""
    size = (pages * PAGE_SIZE) if pages else (mib << 20)
    return d.swapon(MemSwapStorage(size, label=f"t{next(_LABELS)}"))  # type: ignore[attr-defined]


def attach_zswap(d: VirtualSwap, **params: object) -> Zswap:
    z = Zswap(d, total_ram_pages=1 << 16, env=d.env,
              params=ZswapParams(**params) if params else None)  # type: ignore[arg-type]
    d.zswap = z
    return z


def compressible(rng: random.Random, nr: int = 1) -> bytes:
    return (rng.randbytes(64) * (PAGE_SIZE // 64)) * nr


def random_page(rng: random.Random, nr: int = 1) -> bytes:
    return rng.randbytes(PAGE_SIZE * nr)


def zero_page(nr: int = 1) -> bytes:
    return bytes(PAGE_SIZE * nr)


def add(d: object, folio: Folio) -> SwpEntry:
    """add_to_swap on a locked folio; returns its first entry (folio stays locked)."""
    folio.folio_lock()
    assert d.add_to_swap(folio)  # type: ignore[attr-defined]
    return folio.swap


def map_ptes(d: object, entry: SwpEntry, nr: int, ptes: int = 1) -> None:
    for i in range(nr):
        for _ in range(ptes):
            assert d.swap_duplicate(SwpEntry(entry + i)) == 0  # type: ignore[attr-defined]


def swap_out(d: object, folio: Folio, nr_ptes: int = 1) -> tuple[SwpEntry, int]:
    """add_to_swap, unmap, pageout, and __remove_mapping when writepage cleaned it."""
    entry = add(d, folio)
    map_ptes(d, entry, folio.nr_pages, nr_ptes)
    folio.dirty = False
    ret = d.swap_writepage(folio)  # type: ignore[attr-defined]
    if ret == 0 and folio.swapcache:
        reclaim(d, folio)
    return entry, ret


def reclaim(d: object, folio: Folio, shadow: int | None = None) -> None:
    """__remove_mapping of a clean swap-cache folio: out of the cache, drop its pins."""
    folio.folio_lock()
    d.delete_from_swap_cache(folio, shadow=shadow)  # type: ignore[attr-defined]
    folio.folio_unlock()


def fault_in(d: object, entry: SwpEntry) -> Folio:
    """The read half of do_swap_page: the folio in the swap cache, read, unlocked."""
    folio, new = d.read_swap_cache_async(entry)  # type: ignore[attr-defined]
    assert folio is not None
    if new:
        assert d.swap_read_folio(folio)  # type: ignore[attr-defined]
        folio.folio_unlock()
    return folio


def swap_in(d: object, entry: SwpEntry) -> Folio:
    """do_swap_page for one PTE: read, drop the PTE's reference, free the swap space."""
    folio = fault_in(d, entry)
    d.swap_free_nr(entry, 1)  # type: ignore[attr-defined]
    folio.folio_lock()
    d.folio_free_swap(folio)  # type: ignore[attr-defined]
    folio.folio_unlock()
    return folio
