"""Helpers for the virtual designs' tests (``test_vswap*.py`` here): build a design,
allocate, drive reclaim and faults."""

from __future__ import annotations

import random
from typing import Any

from vswap.kernel.env import KernelEnv
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MAX, MemCgroup
from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.swap import AOP_WRITEPAGE_ACTIVATE, SwapDesign, create_design, design_class
from vswap.swap._base import SwapDesignBase
from vswap.swap.storage import MemSwapStorage
from vswap.swap.swapfile import SwapInfo
from vswap.swap.vswap import VirtualSwap
from vswap.swap.vswap_base import VirtualSwapBase
from vswap.zswap.zswap import Zswap, ZswapParams

_LABELS = iter(range(1 << 30))


def mk(*, device_mib: int = 0, zswap: bool = False, writeback: bool = True,
       **options: Any) -> VirtualSwap:
    """A VirtualSwap with debug_vm on, optionally a device of ``device_mib`` and zswap."""
    d = VirtualSwap(env=KernelEnv(debug_vm=True), **options)
    if device_mib:
        add_device(d, device_mib)
    if zswap:
        attach_zswap(d)
    d.memcgs.root.zswap_writeback = writeback
    return d


#: The registered virtual designs: they share vswap_base's steps, swapoff and zswap host.
VIRTUAL_DESIGNS = ("vswap", "vswap-v6")


def mk_virtual(name: str, *, device_mib: int = 0, zswap: bool = False,
               **options: Any) -> VirtualSwapBase:
    """A registered virtual design with debug_vm on, small clusters, optionally a device of
    ``device_mib`` and zswap."""
    d = design_class(name)(env=KernelEnv(debug_vm=True), cluster_shift=2, **options)
    assert isinstance(d, VirtualSwapBase)
    if device_mib:
        add_device(d, device_mib)
    if zswap:
        attach_zswap(d)
    return d


def add_device(d: SwapDesign, mib: int = 1, pages: int | None = None) -> SwapInfo:
    """swapon a fresh in-memory device (unique label, so names never collide)."""
    size = (pages * PAGE_SIZE) if pages else (mib << 20)
    return d.swapon(MemSwapStorage(size, label=f"t{next(_LABELS)}"))


def attach_zswap(d: VirtualSwapBase, **params: Any) -> Zswap:
    z = Zswap(d, total_ram_pages=1 << 16, env=d.env,
              params=ZswapParams(**params) if params else None)
    d.zswap = z
    return z


def compressible(rng: random.Random, nr: int = 1) -> bytes:
    return (rng.randbytes(64) * (PAGE_SIZE // 64)) * nr


def random_page(rng: random.Random, nr: int = 1) -> bytes:
    return rng.randbytes(PAGE_SIZE * nr)


def zero_page(nr: int = 1) -> bytes:
    return bytes(PAGE_SIZE * nr)


def add(d: SwapDesign, folio: Folio) -> SwpEntry:
    """add_to_swap on a locked folio; returns its first entry (folio stays locked)."""
    folio.folio_lock()
    assert d.add_to_swap(folio)
    return folio.swap


def map_ptes(d: SwapDesign, entry: SwpEntry, nr: int, ptes: int = 1) -> None:
    for i in range(nr):
        for _ in range(ptes):
            assert d.swap_duplicate(SwpEntry(entry + i)) == 0


def swap_out(d: SwapDesign, folio: Folio, nr_ptes: int = 1) -> tuple[SwpEntry, int]:
    """add_to_swap, unmap, pageout, and __remove_mapping when writepage cleaned it."""
    entry = add(d, folio)
    map_ptes(d, entry, folio.nr_pages, nr_ptes)
    folio.dirty = False
    ret = d.swap_writepage(folio)
    if ret == 0 and folio.swapcache:
        reclaim(d, folio)
    return entry, ret


def reclaim(d: SwapDesign, folio: Folio, shadow: int | None = None) -> None:
    """__remove_mapping of a clean swap-cache folio: out of the cache, drop its pins."""
    folio.folio_lock()
    d.delete_from_swap_cache(folio, shadow=shadow)
    folio.folio_unlock()


def fault_in(d: SwapDesign, entry: SwpEntry) -> Folio:
    """The read half of do_swap_page: the folio in the swap cache, read, unlocked."""
    folio, new = d.read_swap_cache_async(entry)
    assert folio is not None
    if new:
        assert d.swap_read_folio(folio)
        folio.folio_unlock()
    return folio


def swap_in(d: SwapDesign, entry: SwpEntry) -> Folio:
    """do_swap_page for one PTE: read, drop the PTE's reference, free the swap space."""
    folio = fault_in(d, entry)
    d.swap_free_nr(entry, 1)
    folio.folio_lock()
    d.folio_free_swap(folio)
    folio.folio_unlock()
    return folio


def small(**kw: Any) -> VirtualSwap:
    """A tiny space: clusters of 4, ids 1..63."""
    return mk(max_vswap=63, cluster_shift=2, **kw)


def locked_folio(order: int = 0) -> Folio:
    """A fresh, locked folio."""
    f = Folio(order)
    f.folio_lock()
    return f


def alloc(d: SwapDesign, order: int = 0, memcg_id: int = 0) -> tuple[Folio, SwpEntry]:
    """``folio_alloc_swap`` for a fresh, locked folio (not put in the swap cache)."""
    f = Folio(order, memcg_id=memcg_id)
    f.folio_lock()
    e = d.folio_alloc_swap(f)
    return f, e


def cache_add(d: SwapDesign, f: Folio, e: SwpEntry) -> None:
    assert d.add_to_swap_cache(f, e)[0] == 0


def design_with_device(name: str) -> SwapDesign:
    """A registered design with a 1 MiB device."""
    d = create_design(name)
    d.swapon(MemSwapStorage(1 << 20, label="b"))
    return d


def used_slots(d: SwapDesign) -> int:
    """Physical slots in use on every device."""
    return sum(si.inuse_pages for si in d.devices.devices())


def child(d: SwapDesignBase, path: str = "/a", swap_max: int = MAX) -> MemCgroup:
    """A child cgroup with ``memory.swap.max``."""
    m = d.memcgs.create(path)
    m.swap.max = swap_max
    return m


def mixed_workload(d: VirtualSwap, rng: random.Random) -> dict[str, SwpEntry]:
    """One entry of each backend: ZERO, ZSWAP, SWAPFILE, FOLIO (writeback disabled memcg)."""
    assert d.zswap is not None
    out = {}
    out["zero"], _ = swap_out(d, Folio(0, zero_page()))
    out["zswap"], _ = swap_out(d, Folio(0, compressible(rng)))
    d.zswap.set_param("enabled", False)
    out["disk"], _ = swap_out(d, Folio(0, random_page(rng)))
    m = d.memcgs.create("/nowb")
    m.zswap_writeback = False
    out["folio"], ret = swap_out(d, Folio(0, random_page(rng), memcg_id=m.id))
    assert ret == AOP_WRITEPAGE_ACTIVATE
    d.zswap.set_param("enabled", True)
    return out
