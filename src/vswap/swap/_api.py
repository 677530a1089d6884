"""The public swap API that every swap design implements.

Models: the "Lifetime swap API", "Swap cache API" and "Physical swap allocator and swap
device API" groups of include/linux/swap.h as the seed's patch 01 arranges them, with the
v6.14 function names. A design is a class implementing :class:`SwapDesign`; the memory-manager
model talks to swap only through it, so a new design plugs in without touching ``mm/``.

Conventions: functions that return an errno in the kernel return ``0`` or ``-Errno.X`` here
(``swapcache_prepare`` returning ``-EEXIST`` in a swap-in race is routine); breaking a rule
(freeing an entry twice, an entry of no device) raises :class:`vswap.errors.KernelError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from vswap.swap.types import SwpEntry, SwpSlot

if TYPE_CHECKING:  # folio.py imports the swap types, so Folio is imported lazily here
    from vswap.mm.folio import Folio
    from vswap.mm.memcontrol import MemCgroup
    from vswap.mm.vmstat import VmStat
    from vswap.swap.storage import SwapStorage
    from vswap.swap.swap_state import SwapCache
    from vswap.swap.swapfile import SwapDevices, SwapInfo

#: ``AOP_WRITEPAGE_ACTIVATE``: writepage kept the folio; reclaim should activate it.
AOP_WRITEPAGE_ACTIVATE = 0x80000

#: ``__try_to_reclaim_swap()`` flags.
TTRS_ANYWAY = 0x1
TTRS_UNMAPPED = 0x2
TTRS_FULL = 0x4


def _plain_folio(entry: SwpEntry, order: int, memcg_id: int) -> Folio | None:
    from vswap.mm.folio import Folio

    return Folio(order, memcg_id=memcg_id)


@dataclass
class SwapHooks:
    """What a design needs from the memory manager (``mm/``), with stand-alone defaults.

    * ``alloc_swapin_folio(entry, order, memcg_id)``: ``folio_alloc`` plus
      ``mem_cgroup_swapin_charge_folio``; None when memory cannot be had.
    * ``swapin_folio_added(folio, shadow)``: ``workingset_refault`` + ``folio_add_lru``.
    * ``unuse_ptes(type_)``: swapoff's page-table walk (classic ``try_to_unuse``): bring in
      every page of device ``type_`` mapped by a PTE, repoint the PTEs, and return the PTEs
      visited. The default knows of no page tables and visits none.
    * ``folio_mapped(folio)``: ``folio_mapped()``.
    * ``swapcache_folio_deleted(folio)``: the swap cache dropped its reference to ``folio``
      (``__delete_from_swap_cache()``'s caller then does ``folio_put``); the memory manager
      frees the folio if nothing else holds it. Called by :class:`SwapCache` on every
      removal, whichever path took the folio out.
    * ``release_swapin_folio(folio)``: a folio ``alloc_swapin_folio`` returned is dropped
      unused (``swapcache_prepare`` lost a race, ``add_to_swap_cache`` failed, a guard
      refused the pinned entry): ``folio_put`` on a new folio, releasing its memcg charge.
    """

    alloc_swapin_folio: Callable[[SwpEntry, int, int], Folio | None] = field(
        default_factory=lambda: _plain_folio)
    swapin_folio_added: Callable[[Folio, int | None], None] = lambda folio, shadow: None
    unuse_ptes: Callable[[int], int] = lambda type_: 0
    folio_mapped: Callable[[Folio], bool] = lambda folio: folio.mapcount > 0
    swapcache_folio_deleted: Callable[[Folio], None] = lambda folio: None
    release_swapin_folio: Callable[[Folio], None] = lambda folio: None


@dataclass
class SwapoffResult:
    """What one ``swapoff`` did: the cost measures the RFC compares (patch 16)."""

    type: int
    name: str
    pages_unused: int = 0
    ptes_visited: int = 0
    pages_read: int = 0
    completed: bool = True
    error: str = ""
    extra: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class SwapDesign(Protocol):
    """One swap design behind the kernel's swap API (classic v6.14, the seed's vswap, ...)."""

    name: str
    #: The physical layer (``swap_info[]``, ``nr_swap_pages``, ``/proc/swaps``).
    devices: SwapDevices
    #: The swap cache (``swap_address_space``).
    swap_cache: SwapCache
    #: The ``/proc/vmstat`` counters the design counts (``pswpin``, ``pswpout``, ...).
    vmstat: VmStat
    #: The ``Zswap`` in front of the devices; None until :meth:`attach_zswap`.
    zswap: object | None

    # -- devices ---------------------------------------------------------------------------
    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               blkdev: bool | None = None, solidstate: bool = True) -> SwapInfo: ...
    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult: ...
    def get_swap_device(self, entry: SwpEntry) -> SwapInfo | None: ...
    def put_swap_device(self, si: SwapInfo) -> None: ...
    def swp_entry_to_swp_slot(self, entry: SwpEntry) -> SwpSlot: ...
    def swp_slot_to_swp_entry(self, slot: SwpSlot) -> SwpEntry: ...

    # -- zswap -----------------------------------------------------------------------------
    def attach_zswap(self, *, total_ram_pages: int, params: object | None = None,
                     **options: object) -> object: ...

    # -- lifetime --------------------------------------------------------------------------
    def folio_alloc_swap(self, folio: Folio) -> SwpEntry: ...
    def put_swap_folio(self, folio: Folio, entry: SwpEntry) -> None: ...
    def swap_duplicate(self, entry: SwpEntry) -> int: ...
    def swapcache_prepare(self, entry: SwpEntry, nr: int) -> int: ...
    def swapcache_clear(self, entry: SwpEntry, nr: int) -> None: ...
    def swap_free_nr(self, entry: SwpEntry, nr: int) -> None: ...
    def free_swap_and_cache_nr(self, entry: SwpEntry, nr: int) -> None: ...
    def folio_free_swap(self, folio: Folio) -> bool: ...
    def swp_swapcount(self, entry: SwpEntry) -> int: ...
    def folio_swapped(self, folio: Folio) -> bool: ...

    # -- swap cache ------------------------------------------------------------------------
    def add_to_swap(self, folio: Folio) -> bool: ...
    def add_to_swap_cache(self, folio: Folio, entry: SwpEntry) -> tuple[int, int | None]: ...
    def delete_from_swap_cache(self, folio: Folio) -> None: ...
    def swap_cache_get_folio(self, entry: SwpEntry) -> Folio | None: ...
    def read_swap_cache_async(self, entry: SwpEntry, *,
                              skip_if_exists: bool = False) -> tuple[Folio | None, bool]: ...

    # -- I/O -------------------------------------------------------------------------------
    def swap_writepage(self, folio: Folio) -> int: ...
    def swap_read_folio(self, folio: Folio) -> bool: ...

    # -- memcg -----------------------------------------------------------------------------
    def lookup_swap_cgroup_id(self, entry: SwpEntry) -> int: ...
    def mem_cgroup_get_nr_swap_pages(self, memcg: MemCgroup | None) -> int: ...
    def memcg_swap_full(self, folio: Folio) -> bool: ...
    def get_shadow_from_swap_cache(self, entry: SwpEntry) -> int | None: ...

    # -- accounting and checking -------------------------------------------------------------
    def metadata_bytes(self) -> dict[str, int]: ...
    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]: ...
    def swapped_page_locations(self) -> tuple[int, int]: ...
    def swap_peek_entry(self, entry: SwpEntry) -> bytes | None: ...
    def check_invariants(self) -> None: ...
