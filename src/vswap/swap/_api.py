"""The public swap API that every swap design implements.

Models: the "Lifetime swap API", "Swap cache API" and "Physical swap allocator and swap
device API" groups of include/linux/swap.h as the seed's patch 01 arranges them, with the
v6.14 function names. A design is a class implementing :class:`SwapDesign`; the memory-manager
model talks to swap only through it, so a new design plugs in without touching ``mm/``.
Every design module pins itself to this protocol with a static check (mypy), and
``vswap.swap.create_design`` returns this type.

Conventions: functions that return an errno in the kernel return ``0`` or ``-Errno.X`` here
(``swapcache_prepare`` returning ``-EEXIST`` in a swap-in race is routine); breaking a rule
(freeing an entry twice, an entry of no device) raises :class:`vswap.kernel.errors.KernelError`.

References, as the kernel counts them: a swap entry holds one *swap count* per page-table
entry (or shmem mapping) that names it, taken by ``swap_duplicate`` / given by
``folio_alloc_swap``'s caller, dropped by ``swap_free_nr`` / ``free_swap_and_cache_nr``; and
one *cache pin* (``SWAP_HAS_CACHE``; bit 0 of vswap's ``swap_refs``) while a folio is in the
swap cache at it or a swap-in is about to put one there (``swapcache_prepare``), dropped by
``put_swap_folio`` / ``swapcache_clear``. An entry is freed when both are gone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from vswap.kernel.types import SwpEntry, SwpSlot

if TYPE_CHECKING:  # folio.py imports the swap types, so Folio is imported lazily here
    from vswap.kernel.folio import Folio
    from vswap.kernel.memcontrol import MemCgroup
    from vswap.kernel.vmstat import VmStat
    from vswap.swap.storage import SwapStorage
    from vswap.swap.swap_state import SwapCache
    from vswap.swap.swapfile import SwapDevices, SwapInfo
    from vswap.zswap.zswap import Zswap, ZswapParams

#: ``AOP_WRITEPAGE_ACTIVATE``: writepage kept the folio; reclaim should activate it.
AOP_WRITEPAGE_ACTIVATE = 0x80000


def _plain_folio(entry: SwpEntry, order: int, memcg_id: int) -> Folio | None:
    from vswap.kernel.folio import Folio

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
    * ``remap_swap_ptes(type_, moves)``: swapfile compaction's page-table walk under the
      physical designs (:mod:`vswap.swap.compaction`): ``moves`` maps an old offset of device
      ``type_`` to (new offset, references expected); the PTEs of an old entry are rewritten
      to the new one only if exactly that many are found. Returns the PTEs visited and the
      old offsets rewritten. The default knows of no page tables.
    * ``shmem_unuse(type_)``: swapoff's walk of the shmem mappings (``shmem_unuse``, run
      by classic ``try_to_unuse`` before the page tables): bring in every page of device
      ``type_`` a tmpfs file holds a swap entry for, put it back in the file's page cache,
      and return the mapping slots visited. The default knows of no shmem and visits none.
    * ``move_swap_ptes(moves)``: a swap tier move under a design without a swap reverse
      map: walk every page table as ``try_to_unuse`` does, rewrite each PTE holding an old
      entry of ``moves`` (old -> new) to the new one, and return (PTEs visited, PTEs
      rewritten per old entry). The caller moves the swap counts. The default knows of no
      page tables.
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
    remap_swap_ptes: Callable[[int, dict[int, tuple[int, int]]], tuple[int, set[int]]] = (
        lambda type_, moves: (0, set()))
    shmem_unuse: Callable[[int], int] = lambda type_: 0
    move_swap_ptes: Callable[[dict[int, int]], tuple[int, dict[int, int]]] = \
        lambda moves: (0, {})
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
    """One swap design behind the kernel's swap API (classic v6.14, the seed's vswap, ...).

    Attributes are read-only to callers: the design owns them.
    """

    @property
    def name(self) -> str:
        """The registry name (``classic``, ``vswap``, ...)."""

    @property
    def devices(self) -> SwapDevices:
        """The physical layer: ``swap_info[]``, ``nr_swap_pages``, ``/proc/swaps``."""

    @property
    def swap_cache(self) -> SwapCache:
        """The swap cache (``swap_address_space``); read-only use (lookups, counts)."""

    @property
    def vmstat(self) -> VmStat:
        """The ``/proc/vmstat`` counters the design counts (``pswpin``, ``pswpout``, ...)."""

    @property
    def swapcache_bypass(self) -> bool:
        """May swap-in skip the swap cache on a ``SWP_SYNCHRONOUS_IO`` device?"""

    @property
    def zswap(self) -> Zswap | None:
        """The ``Zswap`` in front of the devices; None until :meth:`attach_zswap`."""

    #: The folio last written to a device that completes bios asynchronously (not
    #: ``SWP_SYNCHRONOUS_IO``), set by the write, cleared by reclaim: in the kernel it is
    #: still under writeback when ``pageout()`` returns (``SwapDesignBase.async_writeback``).
    async_writeback: Folio | None

    @property
    def unuse_updates_readahead(self) -> bool:
        """Does swapoff's swap-cache lookup count readahead hits and move the VMA's
        readahead state (v6.14: yes; 6.18, swap table phase I: no)?"""

    # -- devices ---------------------------------------------------------------------------
    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               blkdev: bool | None = None, solidstate: bool = True) -> SwapInfo:
        """Enable a swap area.

        Models: ``sys_swapon()``: register the device (priority, flags) and allocate the
        design's per-slot tables for it. ``blkdev`` None means a block device for a memory
        storage and a swap file otherwise (a swap file takes no large folio whole).

        Returns:
            The new device (``swap_info_struct``), which holds a reference until swapoff.

        Raises:
            KernelError(EBUSY): the storage is already swapped on. KernelError(EPERM): too
            many devices. KernelError(EINVAL): bad priority or no usable page.
        """

    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Disable a swap area, bringing every page it holds back into memory.

        Models: ``sys_swapoff()`` with ``try_to_unuse()`` (classic: a walk of every page
        table through ``SwapHooks.unuse_ptes``; vswap, patch 16: descriptors repointed, no
        PTE visited). ``signal_pending()`` is polled as the kernel polls
        ``signal_pending(current)``.

        Returns:
            What was done. On failure (``EINTR``, ``ENOMEM``, ``EIO``, slots still in use)
            the device stays on (``reinsert_swap_info``), ``completed`` is False and
            ``error`` names the errno; no exception is raised.

        Raises:
            KernelError(EINVAL): no such device, or a swapoff of it is already running.
        """

    def get_swap_device(self, entry: SwpEntry) -> SwapInfo | None:
        """Pin the device holding ``entry``'s data unless it is going away.

        Models: ``get_swap_device()`` (vswap: ``vswap_get_device()``, which gives None for
        an entry whose data is not on a device). Returns the device with one more user, to
        be dropped by :meth:`put_swap_device`, or None (no device, or it is dying).
        """

    def put_swap_device(self, si: SwapInfo) -> None:
        """Models: ``put_swap_device()``: drop the pin :meth:`get_swap_device` took."""

    def trylock_swapoff(self, entry: SwpEntry) -> tuple[bool, SwapInfo | None]:
        """Keep swapoff from tearing down ``entry``'s metadata while the caller uses it.

        Models: ``trylock_swapoff()`` (seed patch 04, with patch 10's semantics; used by
        ``move_pages_pte`` of ``UFFDIO_MOVE``, ``do_swap_page``, ``shmem_swapin_folio``):
        the device holding the entry's data is pinned (:meth:`get_swap_device`) when there is
        one. Returns ``(locked, si)``: the classic family fails (False) when the entry's
        device is gone or going; under the virtual designs it never fails (an entry whose
        data is on no device gives ``(True, None)``). Released by :meth:`unlock_swapoff`.
        """

    def unlock_swapoff(self, entry: SwpEntry, si: SwapInfo | None) -> None:
        """Models: ``unlock_swapoff()`` (patch 10: drops the pin only of a non-None
        ``si``, which fixes the NULL put of patches 04-09, spec D0)."""

    def swp_entry_to_swp_slot(self, entry: SwpEntry) -> SwpSlot:
        """Models: ``swp_entry_to_swp_slot()``: the physical slot of ``entry``'s data
        (classic: the identity; vswap: the descriptor's slot), 0 when it has none."""

    def swp_slot_to_swp_entry(self, slot: SwpSlot) -> SwpEntry:
        """Models: ``swp_slot_to_swp_entry()``: the entry whose data is in ``slot``
        (classic: the identity; vswap: the reverse map), 0 when none."""

    def vm_swap_full(self) -> bool:
        """Models: ``vm_swap_full()``: less than half of all swap space is free."""

    # -- set-up ------------------------------------------------------------------------------
    def attach_zswap(self, *, total_ram_pages: int, params: ZswapParams | None = None,
                     check_crc: bool = True, pool_max_pages: int | None = None) -> Zswap:
        """Put a zswap in front of the devices (``zswap.enabled=1`` at boot).

        The design is zswap's host (``ZswapHost``). Devices already swapped on get their
        zswap trees now (``zswap_swapon``). Returns the new ``Zswap``.
        """

    # -- lifetime --------------------------------------------------------------------------
    def folio_alloc_swap(self, folio: Folio) -> SwpEntry:
        """Give a folio swap entries, one per page, with the cache pin held.

        Models: ``folio_alloc_swap()`` (classic: device slots and the ``memory.swap``
        charge; vswap: virtual slots only, the charge waits for a physical slot).
        Context: folio locked, not in the swap cache.

        Returns:
            The first entry, or 0 when none could be had (nothing is left allocated; reclaim
            splits a large folio and retries its pages).
        """

    def put_swap_folio(self, folio: Folio, entry: SwpEntry) -> None:
        """Drop the cache pin of every page of ``folio`` at ``entry``; free entries left with
        no reference. Models: ``put_swap_folio()``. Context: folio locked.

        Raises:
            KernelError(EINVAL / ENOENT): an entry that is not in use or holds no pin.
        """

    def swap_duplicate(self, entry: SwpEntry) -> int:
        """Add a swap count for one more page table naming ``entry`` (fork).

        Models: ``swap_duplicate()``. Context: the caller holds a PTE with ``entry``, so the
        entry is live. Returns 0.
        """

    def swap_shmem_alloc(self, entry: SwpEntry, nr: int) -> None:
        """Give ``nr`` entries of a folio just added to the swap cache one reference each for
        the shmem mapping that will hold them (``shmem_writepage``).

        Models: ``swap_shmem_alloc()``: classic v6.14 marks each slot ``SWAP_MAP_SHMEM``
        (freed like a count of 1); vswap (patch 08) and mainline since the marker's removal
        take an ordinary count (``swap_duplicate_nr``). Context: folio locked, in the swap
        cache at ``entry``; the entries hold no count yet.
        """

    def swapcache_prepare(self, entry: SwpEntry, nr: int) -> int:
        """Take the cache pin of ``nr`` entries for a swap-in, all or none.

        Models: ``swapcache_prepare()``. Returns 0 (pinned: the caller adds a folio to the
        swap cache or, skipping it, drops the pin with :meth:`swapcache_clear`), ``-EEXIST``
        (another swap-in holds the pin: retry) or ``-ENOENT`` (an entry was freed).
        """

    def swapcache_clear(self, entry: SwpEntry, nr: int) -> None:
        """Models: ``swapcache_clear()``: drop the pins :meth:`swapcache_prepare` took;
        free entries left with no reference."""

    def swap_free_nr(self, entry: SwpEntry, nr: int) -> None:
        """Drop one swap count from each of ``nr`` entries (a PTE was made present).

        Models: ``swap_free_nr()``. Entries reaching no reference are freed.

        Raises:
            KernelError(EINVAL / ENOENT): an entry that holds no count (a double free).
        """

    def free_swap_and_cache_nr(self, entry: SwpEntry, nr: int) -> None:
        """Drop one swap count from each of ``nr`` entries and reclaim swap-cache folios
        only the cache still holds (zap, exit, munmap).

        Models: ``free_swap_and_cache_nr()`` (``__try_to_reclaim_swap`` with
        ``TTRS_UNMAPPED | TTRS_FULL`` in the classic design).

        Raises:
            KernelError(EINVAL / ENOENT): a bad or unused entry.
        """

    def folio_free_swap(self, folio: Folio) -> bool:
        """Free the swap space of a swap-cache folio no page table references any more.

        Models: ``folio_free_swap()``. Context: folio locked. Returns True if the folio left
        the swap cache (dirty now, its entries' cache pins dropped).
        """

    def swp_swapcount(self, entry: SwpEntry) -> int:
        """Models: ``swp_swapcount()``: the page-table references of ``entry`` (0 when it
        is free or unknown)."""

    def folio_swapped(self, folio: Folio) -> bool:
        """Models: ``folio_swapped()``: does any page table still name one of the folio's
        entries?"""

    # -- hibernation -----------------------------------------------------------------------
    def swap_slot_alloc_of_type(self, type_: int) -> SwpSlot:
        """Allocate one *physical* slot of device ``type_`` for a hibernation image page.

        Models: ``swap_slot_alloc_of_type()`` (seed patch 05; ``get_swap_page_of_type()`` in
        v6.14, ``swap_alloc_hibernation_slot()`` from swap table phase II), called by
        kernel/power/swap.c's ``alloc_swapdev_block()``. The slot is owned by no swap entry:
        classic and the swap table designs give it a swap count of one and no cache pin;
        the virtual designs mark it ``SWAP_MAP_ALLOCATED`` with no descriptor and no
        reverse-map owner (spec part 1 §3 and invariant 31, part 2 §18 invariant 3). No
        memcg is charged; ``/proc/swaps`` Used and ``nr_swap_pages`` count it.

        Returns:
            The slot, or 0 (no such device, not writable, or full).
        """

    def swap_slot_free_nr(self, slot: SwpSlot, nr: int) -> None:
        """Free ``nr`` consecutive hibernation slots from ``slot``.

        Models: ``swap_slot_free_nr()`` (seed patch 05; ``swap_free_nr()`` in v6.14,
        ``swap_free_hibernation_slot()`` per slot from swap table phase II, which also
        reclaims a folio readahead may have cached at it), called by
        ``free_all_swap_pages()``.

        Raises:
            KernelError(EINVAL): a slot that :meth:`swap_slot_alloc_of_type` did not give.
        """

    @property
    def pm_suspended_storage(self) -> bool:
        """Models: ``pm_suspended_storage()``: hibernation is writing its image, so
        ``folio_free_swap`` frees nothing (a slot recorded in the image as a clean
        swap-cache folio's must not be reused for an image page)."""

    @pm_suspended_storage.setter
    def pm_suspended_storage(self, value: bool) -> None:
        """``pm_restrict_gfp_mask()`` / ``pm_restore_gfp_mask()`` around the image write."""

    # -- swap cache ------------------------------------------------------------------------
    def add_to_swap(self, folio: Folio) -> bool:
        """Allocate entries for a locked anonymous folio and put it in the swap cache.

        Models: ``add_to_swap()``. Returns False (nothing allocated or left behind) when no
        entry could be had. On True the folio is dirty, in the swap cache, with the pins.

        Raises:
            KernelError(EINVAL / EEXIST): folio not locked, or already in the swap cache.
        """

    def add_to_swap_cache(self, folio: Folio, entry: SwpEntry) -> tuple[int, int | None]:
        """Models: ``add_to_swap_cache()``: insert a locked folio whose entries the caller
        pinned. Returns ``(0, shadow)`` (the workingset shadow replaced, or None) or
        ``(-EEXIST, None)`` with nothing changed."""

    def delete_from_swap_cache(self, folio: Folio, *, shadow: int | None = None) -> None:
        """Take a locked, clean folio out of the swap cache and drop its cache pins.

        Models: ``delete_from_swap_cache()``; with ``shadow``, the swap-cache half of
        ``__remove_mapping()``: ``__delete_from_swap_cache(folio, entry, shadow)`` (the
        workingset shadow stays in the cache's slots) then ``put_swap_folio()``. The cache's
        folio reference goes to ``SwapHooks.swapcache_folio_deleted``.
        """

    def swap_cache_replace_folio(self, old: Folio, new: Folio) -> None:
        """Hand ``old``'s place in the swap cache, for the entries of ``new``'s range, to
        ``new``: a migration (``new`` covers all of ``old``'s range) or one piece of a split.

        Models: ``__swap_cache_replace_folio()`` (6.18, the helper ``__folio_migrate_mapping``
        and ``__split_unmapped_folio`` share; at v6.14 their ``xas_store`` loops). The
        virtual designs update what names the folio besides the cache: RFC v2 (patch 12)
        calls ``vswap_migrate(src, dst)`` (T10: every FOLIO(src) descriptor becomes
        FOLIO(dst), all or none, else WARN) and, per tail, ``vswap_split_huge_page(head,
        tail)`` (T11: FOLIO(head) becomes FOLIO(tail)). Context: both folios locked; the
        caller set ``new.swap`` (an entry of ``old``'s range) and PG_swapcache, and clears
        ``old``'s once no entry names it. Swap counts, cache pins and backing are unchanged.
        """

    def swap_cache_get_folio(self, entry: SwpEntry) -> Folio | None:
        """Models: ``swap_cache_get_folio()``: the folio cached at ``entry``, or None."""

    def read_swap_cache_async(self, entry: SwpEntry, *,
                              skip_if_exists: bool = False) -> tuple[Folio | None, bool]:
        """Find or create the swap-cache folio for ``entry`` (order 0).

        Models: ``__read_swap_cache_async()``. Returns ``(folio, True)`` for a new, locked
        folio the caller must read into (:meth:`swap_read_folio`) and unlock,
        ``(folio, False)`` for a cached one, ``(None, False)`` when the entry is gone, no
        memory can be had, or another task holds the pin (the caller retries later).
        """

    def can_swapin_thp(self, entry: SwpEntry, nr: int) -> bool:
        """May ``nr`` consecutive entries from ``entry`` be read into one large folio,
        skipping the swap cache? Each must have exactly one swap count and no folio may be
        cached at the first. Models: the per-entry checks of ``can_swapin_thp()``
        (mm/memory.c); the PTE checks are the caller's."""

    # -- I/O -------------------------------------------------------------------------------
    def swap_writepage(self, folio: Folio) -> int:
        """Write a locked swap-cache folio out: zero check, then zswap, then the device.

        Models: ``swap_writepage()`` (mm/page_io.c). Context: folio locked, in the swap
        cache, its dirty bit already cleared by ``pageout``. Returns 0 (clean) or
        ``AOP_WRITEPAGE_ACTIVATE`` (kept dirty; reclaim activates it); the folio is unlocked
        on return.
        """

    def swap_read_folio(self, folio: Folio) -> bool:
        """Fill a locked folio whose ``swap`` is set from wherever its data is.

        Models: ``swap_read_folio()``: zero pages, zswap, the device. Returns True with the
        folio uptodate, or False for a read error (the fault raises SIGBUS).

        Raises:
            KernelError(EIO): zswap's bytes failed to decompress.
        """

    # -- memcg -----------------------------------------------------------------------------
    def lookup_swap_cgroup_id(self, entry: SwpEntry) -> int:
        """Models: ``lookup_swap_cgroup_id()``: the memcg id recorded for ``entry`` (0)."""

    def mem_cgroup_get_nr_swap_pages(self, memcg: MemCgroup | None) -> int:
        """Models: ``mem_cgroup_get_nr_swap_pages()``: swap pages ``memcg`` may still use;
        reclaim scans anonymous memory only while it is positive."""

    def memcg_swap_full(self, folio: Folio) -> bool:
        """Models: ``mem_cgroup_swap_full()``: swap over half full, globally or for a
        cgroup of the folio."""

    def get_shadow_from_swap_cache(self, entry: SwpEntry) -> int | None:
        """Models: ``get_shadow_from_swap_cache()``: the workingset shadow at ``entry``."""

    # -- accounting and checking -------------------------------------------------------------
    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel would spend on this design's swap metadata, by structure."""

    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]:
        """Every live entry with its swap count and whether its cache pin is held (for the
        checkers that compare them with the page tables; not a kernel path)."""

    def swapped_page_locations(self) -> tuple[int, int]:
        """(zero, device): swapped-out pages that are zero-filled and pages whose data is on
        a device, each counted once (for reports; not a kernel path)."""

    def swap_peek_entry(self, entry: SwpEntry) -> bytes | None:
        """The page stored for ``entry`` in its backend, read without side effects; None if
        no backend holds it (for checkers; not a kernel path)."""

    def leftovers(self) -> list[str]:
        """What the design still holds, one phrase per kind (used slots, live descriptors,
        swap-cache pages and shadows, ...); empty when nothing is held. The end-of-run leak
        check reports these."""

    def check_invariants(self) -> None:
        """Raise AssertionError unless the design's invariants hold (at a quiescent point)."""
