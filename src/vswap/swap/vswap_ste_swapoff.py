"""Swapoff under the Swap Table Edition: virtual entries come in without a page-table walk.

Models: ``sys_swapoff()`` / ``try_to_unuse()`` of mm/swapfile.c as "[PATCH v5 00/11]
Virtual Swap Space (Swap Table Edition)" changes them: each slot of the device whose swap
table word is a reverse-map pointer is read into the swap cache and its virtual entry
repointed to the folio (NONE backend, folio dirty), no PTE visited; only direct-mapped
entries need phase IV's walk (``hooks.unuse_ptes``).

Failure (``ENOMEM``, ``EIO``, ``EBUSY``, ``EINTR``) leaves the device on
(``reinsert_swap_info``) with what was repointed repointed (``completed=False``); a slot
whose read failed stays SWAPFILE, its folio dropped from the swap cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vswap.kernel.types import swp_entry, swp_offset
from vswap.swap._api import SwapoffResult
from vswap.swap.swap_table_p4 import SwapTableP4
from vswap.swap.vswap_ste_rmap import release_backing, rmap_owner, swp_tb_is_pointer
from vswap.swap.vswap_ste_table import VSWAP_SWAPFILE, VTABLE_TAG_MASK, vtable_to_phys

if TYPE_CHECKING:
    from vswap.swap.vswap_ste import VswapSTE


def swapoff(d: VswapSTE, name_or_type: str | int,
            signal_pending: Callable[[], bool] | None) -> SwapoffResult:
    """Models: ``sys_swapoff()`` under STE (see the module docstring)."""
    si = d._find_device(name_or_type)
    d.devices.begin_swapoff(si)
    result = SwapoffResult(type=si.type, name=si.name)
    before = si.inuse_pages
    reads_before = d.io_reads
    direct = False
    error = ""
    for poff in range(1, si.max):
        if not d._allocated(si, poff):
            continue
        tb = d.tables.swp_tb(swp_entry(si.type, poff))
        if not swp_tb_is_pointer(tb):
            direct = True
            continue
        if signal_pending is not None and signal_pending():
            error = "EINTR: interrupted by a signal"
            break
        entry = swp_entry(d.space.type, rmap_owner(tb))
        folio, new = d.read_swap_cache_async(entry)
        if folio is None:
            error = f"ENOMEM: swapoff: unable to allocate swap cache folio for {entry:#x}"
            break
        if new:
            if not d.swap_read_folio(folio):
                folio.uptodate = False
                d.delete_from_swap_cache(folio)
                folio.folio_unlock()
                error = f"EIO: swapoff: cannot read slot {si.type}:{poff} of {entry:#x}"
                break
        elif not folio.folio_trylock():
            error = f"EBUSY: swapoff: folio of {entry:#x} is locked"
            break
        off = swp_offset(folio.swap)
        d._vlock(off)
        for k in range(folio.nr_pages):
            vt = d.space.vt_get(off + k)
            if vt & VTABLE_TAG_MASK == VSWAP_SWAPFILE and vtable_to_phys(vt)[0] == si.type:
                release_backing(d, off + k, 1)
        folio.dirty = True
        folio.folio_unlock()
    if direct and not error:
        # try_to_unuse() scans the shmem mappings first (shmem_unuse), then the mms.
        shmem_visited = d.hooks.shmem_unuse(si.type)
        if shmem_visited:
            result.extra["shmem_visited"] = shmem_visited
        result.ptes_visited = d.hooks.unuse_ptes(si.type)
        for offset in range(1, si.max):
            # Phase IV's question: a direct-mapped slot's own word, not the rmap bit.
            if SwapTableP4.swap_cache_only(d, si, offset):
                folio = d.swap_cache_get_folio(swp_entry(si.type, offset))
                if folio is not None and folio.folio_trylock():
                    d.folio_free_swap(folio)
                    folio.folio_unlock()
    result.pages_read = d.io_reads - reads_before
    result.pages_unused = before - si.inuse_pages
    if error or si.inuse_pages:
        d.devices.abort_swapoff(si)
        result.completed = False
        if not error and signal_pending is not None and signal_pending():
            error = "EINTR: interrupted by a signal"
        result.error = error or f"{si.inuse_pages} slots still in use"
        return result
    if d.zswap is not None:
        d.zswap.zswap_swapoff(si.type)
    d.devices.remove_device(si)
    users = d.table_users.pop(si.type)
    assert not any(users), "swapoff completed with used clusters"
    return result
