"""The classic design's swapoff: ``try_to_unuse()`` by page-table walk.

Models: ``sys_swapoff()`` of mm/swapfile.c (v6.14) with ``try_to_unuse()``: the device stops
taking new slots, every PTE that maps one of its slots is visited and its page brought back
(the memory manager's ``unuse_ptes`` hook, :mod:`vswap.mm.swapfile`), then pages left only
in the swap cache are freed; if slots remain in use the device is re-enabled
(``reinsert_swap_info``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import swp_entry
from vswap.swap._api import SwapoffResult
from vswap.swap.swapfile import SWAP_HAS_CACHE

if TYPE_CHECKING:
    from vswap.swap.classic import ClassicSwap
    from vswap.swap.swapfile import SwapInfo

__all__ = ["classic_swapoff", "find_device"]


def find_device(design: ClassicSwap, name_or_type: str | int) -> SwapInfo:
    """The device ``swapoff`` names, by type number or name.

    Raises:
        KernelError(EINVAL): no such swap device.
    """
    for si in design.devices.devices():
        if si.type == name_or_type or si.name == name_or_type:
            return si
    raise KernelError(Errno.EINVAL, f"swapoff: {name_or_type} is not a swap device")


def classic_swapoff(design: ClassicSwap, name_or_type: str | int,
                    signal_pending: Callable[[], bool] | None) -> SwapoffResult:
    """Models: ``sys_swapoff()`` with ``try_to_unuse()``: walk every page table.

    Every PTE that maps a slot of the device is visited and its page brought back
    (``hooks.unuse_ptes``, which stops early when a signal is pending); then pages left only
    in the swap cache are freed. If slots remain in use the device is re-enabled
    (``reinsert_swap_info``) and no exception is raised: the result says
    ``completed=False`` with the reason, as the syscall returns an error and leaves the
    device on: ``EINTR`` when ``signal_pending()`` says so (``try_to_unuse`` returns
    -EINTR), else the slots still in use (a read or allocation failed; the kernel would
    retry or return -ENOMEM). Pages already brought back stay mapped; a later swapoff
    continues from there.
    """
    si = find_device(design, name_or_type)
    design.devices.begin_swapoff(si)
    result = SwapoffResult(type=si.type, name=si.name)
    before = si.inuse_pages
    reads_before = design.io_reads
    # try_to_unuse() scans the shmem mappings first (shmem_unuse), then the mms.
    shmem_visited = design.hooks.shmem_unuse(si.type)
    if shmem_visited:
        result.extra["shmem_visited"] = shmem_visited
    result.ptes_visited = design.hooks.unuse_ptes(si.type)
    # Slots held only by the swap cache (no PTE left) are dropped from the cache.
    for offset in range(1, si.max):
        if si.swap_map[offset] == SWAP_HAS_CACHE:
            folio = design.swap_cache_get_folio(swp_entry(si.type, offset))
            if folio is not None and folio.folio_trylock():
                design.folio_free_swap(folio)
                folio.folio_unlock()
    result.pages_read = design.io_reads - reads_before
    result.pages_unused = before - si.inuse_pages
    if si.inuse_pages:
        design.devices.abort_swapoff(si)
        result.completed = False
        if signal_pending is not None and signal_pending():
            result.error = "EINTR: interrupted by a signal"
        else:
            result.error = f"{si.inuse_pages} slots still in use"
        return result
    if design.zswap is not None:
        design.zswap.zswap_swapoff(si.type)
    design.devices.remove_device(si)
    del design.swap_cgroup[si.type]
    del design.zeromap[si.type]
    return result
