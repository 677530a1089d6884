"""Swapoff for the virtual designs: bring a device's pages in without a page-table walk.

Models: ``sys_swapoff()`` and ``try_to_unuse()`` of mm/swapfile.c as the virtual swap space
rewrites them ("[RFC PATCH v2 16/18] swap: simplify swapoff using virtual swap"; v6's
"swap: simplify swapoff using virtual swap"): round 1 reads every used slot's page into the
swap cache, its owner found through the reverse map (``pagein()``); round 2 locks each
folio and has the design repoint its descriptors to it (``vswap_swapoff()`` in mm/vswap.c,
the design's :meth:`~vswap.swap.vswap_base.VirtualSwapBase.vswap_swapoff`). ZERO and ZSWAP
entries are not on the device and are not touched; no PTE is visited.

Failure leaves a consistent state and the device on (``reinsert_swap_info``): ``ENOMEM``
when no folio can be had, ``EIO`` when a slot cannot be read back (the entry stays SWAPFILE,
never a FOLIO with bad bytes), ``EINTR`` when a signal is pending, ``EBUSY`` for a locked
folio. Entries already converted stay FOLIO (dirty, uncharged, slot freed); the rest stay on
the device with their reverse map.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vswap.kernel.errors import KernelError
from vswap.kernel.types import SwpEntry
from vswap.swap._api import SwapoffResult
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.swap.swapfile import SwapInfo
    from vswap.swap.vswap_base import VirtualSwapBase


def pagein(d: VirtualSwapBase[Any, Any], entry: SwpEntry) -> Folio | None:
    """``pagein()`` of the virtual ``try_to_unuse``: find or read the folio (unlocked).

    A failed read must not leave a bad folio behind: it leaves the swap cache and the entry
    stays on the device.
    """
    folio, new = d.read_swap_cache_async(entry)
    if folio is not None and new:
        try:
            ok = d.swap_read_folio(folio)
        except KernelError:
            ok = False
        if not ok:
            folio.uptodate = False
            d.delete_from_swap_cache(folio)
        folio.folio_unlock()
    return folio


def try_to_unuse(d: VirtualSwapBase[Any, Any], si: SwapInfo,
                 signal_pending: Callable[[], bool] | None) -> tuple[int, str]:
    """Move every page off ``si``: returns (descriptors converted, error or "").

    Context: ``si`` is being swapped off (no new slot is allocated on it).
    """
    col = d.rmap.cols[si.type]
    mask = d.rmap.id_mask
    smap = si.swap_map
    error = ""

    def used_offsets() -> list[int]:
        return [o for o in range(1, si.max) if smap[o] == SWAP_MAP_ALLOCATED]

    # Round 1: submit every read under one plug (the RFC's blk_start_plug), so runs of
    # used slots become requests; here the pages are in place at once.
    d.tracer.blk_start_plug()
    try:
        for off in used_offsets():
            if signal_pending is not None and signal_pending():
                error = "EINTR: interrupted by a signal"
                break
            e = col[off] & mask
            if e:
                pagein(d, SwpEntry(e))
    finally:
        d.tracer.blk_finish_plug()
    # Round 2: repoint each owner to its swap-cache folio, once round 1's reads are in.
    d.tracer.io_wait()
    converted = 0
    if error:
        return converted, error
    for off in used_offsets():
        if smap[off] != SWAP_MAP_ALLOCATED:
            continue  # freed by a large folio's head, or concurrently
        if signal_pending is not None and signal_pending():
            error = "EINTR: interrupted by a signal"
            break
        e = col[off] & mask
        if not e:
            continue
        entry = SwpEntry(e)
        folio = pagein(d, entry)
        if folio is None:
            if not col[off]:
                continue
            error = f"ENOMEM: swapoff: unable to allocate swap cache folio for {e:#x}"
            break
        if not folio.uptodate:
            error = f"EIO: swapoff: cannot read slot {si.type}:{off} of {e:#x}"
            break
        if not folio.swapcache or folio.swap != entry:
            continue  # a tail of a large folio, or a raced re-swap
        if not folio.folio_trylock():
            error = f"EBUSY: swapoff: folio of {e:#x} is locked"
            break
        converted += d.vswap_swapoff(entry, folio, si.slot(off))
        folio.folio_unlock()
    return converted, error


def vswap_sys_swapoff(d: VirtualSwapBase[Any, Any], name_or_type: str | int,
                      signal_pending: Callable[[], bool] | None) -> SwapoffResult:
    """Swap a device off (``sys_swapoff``); ``ptes_visited`` is 0 and ``hooks.unuse_ptes``
    is never called. On failure ``result.completed`` is False and ``error`` names it.

    Raises:
        KernelError(EINVAL): no such device.
    """
    si = d.find_device(name_or_type)
    d.devices.begin_swapoff(si)
    result = SwapoffResult(type=si.type, name=si.name)
    reads_before = d.io_reads
    converted, error = try_to_unuse(d, si, signal_pending)
    result.pages_read = d.io_reads - reads_before
    result.pages_unused = converted
    result.ptes_visited = 0
    if error or si.inuse_pages:
        d.devices.abort_swapoff(si)
        result.completed = False
        result.error = error or f"{si.inuse_pages} slots still in use"
        return result
    d.devices.remove_device(si)
    d.rmap.swapoff(si.type)
    return result
