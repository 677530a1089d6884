"""Helpers that drive a swap design the way reclaim and the fault path do (test support)."""

from __future__ import annotations

import random

from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE
from vswap.swap import SwapDesign, SwpEntry, create_design
from vswap.swap.storage import MemSwapStorage


def make_design(name: str, *, swap_mib: int = 8, **options: object) -> SwapDesign:
    """A design with one in-memory swap device of ``swap_mib`` MiB (0: no device)."""
    design = create_design(name, **options)
    if swap_mib:
        design.swapon(MemSwapStorage(swap_mib << 20))
    return design


def random_page(rng: random.Random, nr_pages: int = 1) -> bytes:
    return rng.randbytes(PAGE_SIZE * nr_pages)


def swap_out(design: SwapDesign, folio: Folio, nr_ptes: int = 1) -> tuple[SwpEntry, int]:
    """add_to_swap, unmap (``nr_ptes`` swap_duplicate), pageout, then __remove_mapping.

    Returns the entry and swap_writepage's result. The folio leaves the swap cache only
    when writepage cleaned it (result 0), as shrink_folio_list does.
    """
    folio.folio_lock()
    assert design.add_to_swap(folio)
    entry = folio.swap
    for i in range(folio.nr_pages):  # try_to_unmap: each PTE maps one page of the folio
        for _ in range(nr_ptes):
            assert design.swap_duplicate(SwpEntry(entry + i)) == 0
    folio.dirty = False
    ret = design.swap_writepage(folio)
    if ret == 0 and folio.swapcache:
        folio.folio_lock()
        design.delete_from_swap_cache(folio)
        folio.folio_unlock()
    return entry, ret


def swap_in(design: SwapDesign, entry: SwpEntry) -> Folio:
    """do_swap_page for one PTE: read through the swap cache, drop the PTE's reference,
    and free the swap space if nothing else references it (as with vm_swap_full)."""
    folio, new = design.read_swap_cache_async(entry)
    assert folio is not None
    if new:
        assert design.swap_read_folio(folio)
        folio.folio_unlock()
    design.swap_free_nr(entry, 1)
    folio.folio_lock()
    design.folio_free_swap(folio)
    folio.folio_unlock()
    return folio
