"""Steps every swap design repeats: device I/O, the swap cache glue, memcg and counters.

Models the parts of mm/swap_state.c and mm/page_io.c (v6.14) that do not depend on what a
swap entry *is*: ``add_to_swap()``, ``delete_from_swap_cache()``,
``__read_swap_cache_async()``, ``folio_free_swap()``, device reads and writes with their
``pswpin``/``pswpout`` accounting. A design subclasses :class:`SwapDesignBase` and provides
the entry-specific operations: every method of the :class:`~vswap.swap.SwapDesign` protocol,
of :class:`~vswap.zswap.zswap.ZswapHost` and of :class:`~vswap.swap.swapfile.SlotOwner` is
either implemented here or declared abstract here, so a design missing one cannot be built.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Final

from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MemCgroup, MemCgroupTree
from vswap.kernel.tracing import KernelTracer
from vswap.kernel.types import (
    HPAGE_PMD_ORDER,
    PAGE_SIZE,
    SwpEntry,
    SwpSlot,
    swp_slot_offset,
    swp_slot_type,
)
from vswap.kernel.vmstat import VmStat
from vswap.swap._api import AOP_WRITEPAGE_ACTIVATE, SwapHooks, SwapoffResult
from vswap.swap.swap_state import SwapCache
from vswap.swap.swapfile import SWP_SYNCHRONOUS_IO, SwapDevices, SwapInfo

if TYPE_CHECKING:
    from vswap.swap.storage import SwapStorage
    from vswap.zswap.zswap import Zswap, ZswapParams


class SwapDesignBase(abc.ABC):
    """Shared state and steps of a swap design.

    Attributes: ``env`` (the machine's :class:`~vswap.kernel.env.KernelEnv`: counters,
    cgroups, tracer, fault injector, current CPU, warnings), ``devices`` (the physical
    layer), ``swap_cache``, ``memcgs`` and ``vmstat`` (the env's), ``zswap`` (None when the
    machine has no zswap), ``hooks`` (what the memory manager provides).
    """

    name = "base"
    #: The base kernel's zswap stores a page that does not compress below PAGE_SIZE as-is
    #: (v6.18+, commit dca4437a5861); False: v6.14's, which rejects it (reject_compress_poor)
    #: and writes it to the device. The classic design and RFC v2 are on v6.14.
    zswap_stores_incompressible = False
    #: swapoff's swap-cache lookup (``unuse_pte_range``) counts readahead hits and moves
    #: the VMA's readahead state, as v6.14's ``swap_cache_get_folio(entry, vma, addr)``
    #: does; False: 6.18's, where only a fault does (``swap_update_readahead``, swap table
    #: phase I), so swapoff's own readahead window stays small.
    unuse_updates_readahead = True
    #: A swap entry *is* a device slot (classic and the swap table phases): a page in zswap
    #: or a zero page still holds its slot and its ``memory.swap`` charge. False: the
    #: virtual designs, whose entries get a slot (and the charge) only when data reaches a
    #: device.
    entry_is_slot = False
    #: ``do_swap_page`` may read a ``SWP_SYNCHRONOUS_IO`` device (zram-like) straight into a
    #: private folio, skipping the swap cache (v6.14 .. 6.18). False: swap table phase II
    #: removed that bypass; every swap-in goes through the swap cache.
    swapcache_bypass = True

    def __init__(self, *, env: KernelEnv, devices: SwapDevices, swap_cache: SwapCache,
                 hooks: SwapHooks | None = None) -> None:
        self.env = env
        self.devices = devices
        self.swap_cache = swap_cache
        self.memcgs: MemCgroupTree = env.memcgs
        self.vmstat: VmStat = env.vmstat
        self.hooks = hooks if hooks is not None else SwapHooks()
        # The swap cache's folio reference is dropped through the hooks (``folio_put``).
        swap_cache.folio_deleted = lambda folio: self.hooks.swapcache_folio_deleted(folio)
        self.zswap: Zswap | None = None
        #: Device I/O counts (pages), for the engine and reports.
        self.io_reads = 0
        self.io_writes = 0
        #: Device I/O errors (pages): the kernel logs "Write-error on swap-device" /
        #: "Read-error on swap-device" (``end_swap_bio_write`` / ``end_swap_bio_read``).
        self.io_write_errors = 0
        self.io_read_errors = 0
        #: The folio last written to a device whose bios complete asynchronously (not
        #: ``SWP_SYNCHRONOUS_IO``: a swap file or disk, not zram or pmem). The model's write
        #: is done when :meth:`device_write` returns, but in the kernel such a folio is
        #: still under writeback when ``pageout()`` returns, so ``shrink_folio_list()``
        #: keeps it in the swap cache (``PAGE_SUCCESS`` + ``folio_test_writeback``) until a
        #: later pass finds it clean; reclaim reads (and clears) this to do the same.
        self.async_writeback: Folio | None = None
        self._pm_suspended_storage = False

    @property
    def tracer(self) -> KernelTracer:
        """The env's kernel-step hooks (a timed run's recorder, else the no-op tracer)."""
        return self.env.tracer

    @property
    def faults(self) -> FaultInjector:
        """The env's fault injector (points ``device_write``, ``device_read``)."""
        return self.env.faults

    def attach_zswap(self, *, total_ram_pages: int, params: ZswapParams | None = None,
                     check_crc: bool = True, pool_max_pages: int | None = None) -> Zswap:
        """Give the design a zswap (``zswap.enabled=1``); returns the ``Zswap``.

        The design is zswap's host (``ZswapHost``): it names the trees and does writeback.
        Devices already swapped on get their trees now (``zswap_swapon``).
        """
        from vswap.zswap.zswap import Zswap, ZswapParams

        zswap = Zswap(self, total_ram_pages=total_ram_pages,
                      params=params if params is not None else ZswapParams(),
                      env=self.env, check_crc=check_crc, pool_max_pages=pool_max_pages,
                      store_incompressible=self.zswap_stores_incompressible)
        self.zswap = zswap
        for si in self.devices.devices():
            zswap.zswap_swapon(si.type, si.max)
        return zswap

    # -- memcg helpers --------------------------------------------------------------------
    def memcg_of(self, memcg_id: int) -> MemCgroup | None:
        """Models: ``mem_cgroup_from_id()``."""
        return self.memcgs.mem_cgroup_from_id(memcg_id) if memcg_id else None

    def count_event(self, name: str, nr: int, memcg_id: int) -> None:
        """Count a vm event globally and for the folio's memcg (``count_memcg_folio_events``)."""
        self.vmstat.count_vm_events(name, nr)
        memcg = self.memcgs.mem_cgroup_from_id(memcg_id) if memcg_id else None
        if memcg is not None:
            memcg.count_memcg_events(name, nr)

    def memcg_swap_full(self, folio: Folio) -> bool:
        """Models: ``mem_cgroup_swap_full()``: swap over half full globally or for a cgroup."""
        if self.devices.vm_swap_full():
            return True
        memcg = self.memcg_of(folio.memcg_id)
        while memcg is not None and memcg.parent is not None:
            usage = memcg.swap.usage
            if usage * 2 >= memcg.swap_high or usage * 2 >= memcg.swap.max:
                return True
            memcg = memcg.parent
        return False

    def mem_cgroup_get_nr_swap_pages(self, memcg: MemCgroup | None) -> int:
        """Swap pages ``memcg`` may still use; reclaim scans anon only if > 0.

        Models: ``mem_cgroup_get_nr_swap_pages()`` (v6.14 mm/memcontrol.c): free swap
        (``get_nr_swap_pages()``) clamped by the ``swap.max`` headroom of every non-root
        ancestor. Designs where some swap-out takes no slot override it (vswap).
        """
        nr: int = self.devices.nr_swap_pages
        m = memcg
        while m is not None and m.parent is not None:
            nr = min(nr, m.swap.max - m.swap.usage)
            m = m.parent
        return nr

    def get_shadow_from_swap_cache(self, entry: SwpEntry) -> int | None:
        """Models: ``get_shadow_from_swap_cache()``: the workingset shadow at ``entry``."""
        return self.swap_cache.get_shadow_from_swap_cache(entry)

    # -- device I/O -----------------------------------------------------------------------
    def device_write(self, si: SwapInfo, offset: int, folio: Folio) -> None:
        """Write the folio's pages to ``offset..`` of ``si`` (``__swap_writepage``).

        The write is counted (``pswpout``) at submission, as ``count_swpout_vm_event`` does.
        A write error (fault point ``device_write``) follows ``end_swap_bio_write()``: the
        folio is re-dirtied and stays in the swap cache holding its slots, so reclaim keeps
        it and writes it again later; the device's bytes are stale and never read (the cache
        folio is found first). Counted in ``io_write_errors``.
        """
        storage = si.storage
        nr = folio.nr_pages
        env = self.env
        if env.faults.fail("device_write"):
            self.io_write_errors += nr
            folio.dirty = True
        elif nr == 1:
            storage.write_page(offset, folio.data)
        else:
            storage.write_pages(offset, folio.data)
        self.io_writes += nr
        env.tracer.device_io(si.name, "write", nr * PAGE_SIZE, offset)
        self.count_event("pswpout", nr, folio.memcg_id)
        if not si.flags & SWP_SYNCHRONOUS_IO:
            # swap_writepage_bdev_async(): the bio completes later (end_swap_bio_write).
            self.async_writeback = folio
        if folio.order == HPAGE_PMD_ORDER:
            self.count_event("thp_swpout", 1, folio.memcg_id)

    def device_read(self, si: SwapInfo, offset: int, folio: Folio) -> bool:
        """Read ``offset..`` of ``si`` into the folio (``swap_read_folio_bdev_*``).

        Returns True, or False for a read error (fault point ``device_read``): as
        ``end_swap_bio_read()`` the folio is left !uptodate (its bytes untouched), counted
        in ``io_read_errors``; the fault that wanted it raises SIGBUS.
        """
        storage = si.storage
        nr = folio.nr_pages
        env = self.env
        if env.faults.fail("device_read"):
            self.io_read_errors += nr
            folio.uptodate = False
            return False
        if nr == 1:
            folio.data[:] = storage.read_page(offset)
        else:
            folio.data[:] = storage.read_pages(offset, nr)
        self.io_reads += nr
        env.tracer.device_io(si.name, "read", nr * PAGE_SIZE, offset)
        if self.devices.tiers.enabled:
            self.devices.tiers.note_read(si, offset)
        self.count_event("pswpin", nr, folio.memcg_id)
        return True

    # -- swap cache glue ------------------------------------------------------------------
    def add_to_swap_cache(self, folio: Folio, entry: SwpEntry) -> tuple[int, int | None]:
        """Models: ``add_to_swap_cache()``; see :meth:`SwapCache.add_to_swap_cache`."""
        return self.swap_cache.add_to_swap_cache(folio, entry)

    def swap_cache_get_folio(self, entry: SwpEntry) -> Folio | None:
        """Models: ``swap_cache_get_folio()`` (lookup; readahead statistics are mm's)."""
        return self.swap_cache.swap_cache_get_folio(entry)

    def swap_cache_replace_folio(self, old: Folio, new: Folio) -> None:
        """Models: ``__swap_cache_replace_folio()``; see the protocol and
        :meth:`SwapCache.replace_folio`. A design that names cached folios elsewhere too
        (RFC v2's FOLIO descriptors) extends it."""
        if not old.locked or not new.locked:
            raise KernelError(Errno.EINVAL, "__swap_cache_replace_folio: folio not locked")
        e0 = int(old.swap)
        if (not old.swapcache or not new.swapcache or not new.swap
                or not e0 <= int(new.swap) <= e0 + old.nr_pages - new.nr_pages):
            raise KernelError(Errno.EINVAL, "__swap_cache_replace_folio: new folio's entries "
                                            "outside the old folio's")
        self.swap_cache.replace_folio(old, new)

    def add_to_swap(self, folio: Folio) -> bool:
        """Give a locked, dirty-to-be anonymous folio swap entries and put it in the cache.

        Models: ``add_to_swap()`` (mm/swap_state.c). Context: folio locked, not in the swap
        cache. Returns False (nothing allocated or left behind) when no entry can be had.
        """
        if not folio.locked:
            raise KernelError(Errno.EINVAL, "add_to_swap: folio not locked")
        if folio.swapcache:
            raise KernelError(Errno.EEXIST, "add_to_swap: folio already in the swap cache")
        entry = self.folio_alloc_swap(folio)
        if not entry:
            return False
        err, _shadow = self.add_to_swap_cache(folio, entry)
        if err:
            self.put_swap_folio(folio, entry)
            return False
        folio.dirty = True
        return True

    def delete_from_swap_cache(self, folio: Folio, *, shadow: int | None = None) -> None:
        """Models: ``delete_from_swap_cache()``: out of the cache, then drop the cache pins;
        with ``shadow`` (``__remove_mapping()``), the shadow is left in the cache's slots."""
        entry = folio.swap
        self.swap_cache._delete_from_swap_cache(folio, entry, shadow)
        self.put_swap_folio(folio, entry)

    def folio_swapcache_freeable(self, folio: Folio) -> bool:
        """Models: ``folio_swapcache_freeable()``: in the swap cache, not under writeback,
        and hibernation is not writing its image (``pm_suspended_storage()``)."""
        return folio.swapcache and not folio.writeback and not self._pm_suspended_storage

    @property
    def pm_suspended_storage(self) -> bool:
        """Models: ``pm_suspended_storage()``: set while hibernation writes its image."""
        return self._pm_suspended_storage

    @pm_suspended_storage.setter
    def pm_suspended_storage(self, value: bool) -> None:
        self._pm_suspended_storage = value

    # -- hibernation ------------------------------------------------------------------------
    #: The allocator byte of a hibernation slot: a swap count of one (classic, 6.18) or
    #: ``SWAP_MAP_ALLOCATED`` (the virtual designs and the swap tables): both are 1.
    hibernation_slot_usage = 1

    def swap_slot_alloc_of_type(self, type_: int) -> SwpSlot:
        """Allocate one physical slot of device ``type_`` for a hibernation image page.

        Models: ``swap_slot_alloc_of_type()`` (seed patch 05; ``get_swap_page_of_type()``,
        ``swap_alloc_hibernation_slot()``): :meth:`SwapDevices.swap_slot_alloc_of_type`,
        then the design's :meth:`hibernation_slot_taken`. Returns the slot or 0.
        """
        si = self.devices.swap_type_to_swap_info(type_)
        if si is None:
            return SwpSlot(0)
        offset = self.devices.swap_slot_alloc_of_type(si, self.hibernation_slot_usage)
        if not offset:
            return SwpSlot(0)
        self.hibernation_slot_taken(si, offset)
        return si.slot(offset)

    def swap_slot_free_nr(self, slot: SwpSlot, nr: int) -> None:
        """Free ``nr`` hibernation slots from ``slot`` (``free_all_swap_pages``).

        Models: ``swap_slot_free_nr()`` (seed patch 05; ``swap_free_nr()``,
        ``swap_free_hibernation_slot()``): each slot leaves ``si.hibernation_slots``, then
        the design's :meth:`hibernation_slot_free` returns it.

        Raises:
            KernelError(EINVAL): a slot of no device, or not a hibernation slot (nothing of
                the range is freed).
        """
        si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
        offset = swp_slot_offset(slot)
        if si is None:
            raise KernelError(Errno.EINVAL, f"swap_slot_free_nr: slot {slot:#x} of no device")
        for off in range(offset, offset + nr):
            if off not in si.hibernation_slots:
                raise KernelError(Errno.EINVAL, f"swap_slot_free_nr: slot {si.type}:{off} "
                                                "is not a hibernation slot")
        for off in range(offset, offset + nr):
            self.devices.hibernation_slot_release(si, off)
            self.hibernation_slot_free(si, off)

    def hibernation_slot_taken(self, si: SwapInfo, offset: int) -> None:  # noqa: B027
        """The design's part of a hibernation slot's allocation (the allocator byte is all
        most designs need; the swap table designs give the cluster its table)."""

    @abc.abstractmethod
    def hibernation_slot_free(self, si: SwapInfo, offset: int) -> None:
        """Return hibernation slot ``offset`` of ``si`` (already out of
        ``si.hibernation_slots``): the design's free path for a slot no entry owns."""

    def folio_free_swap(self, folio: Folio) -> bool:
        """Free the swap space of a folio no page table references any more.

        Models: ``folio_free_swap()``. Context: folio locked. Returns True if the folio left
        the swap cache (and is now dirty, its swap space released).
        """
        if not self.folio_swapcache_freeable(folio):
            return False
        if self.folio_swapped(folio):
            return False
        self.delete_from_swap_cache(folio)
        folio.dirty = True
        return True

    def read_swap_cache_async(self, entry: SwpEntry, *,
                              skip_if_exists: bool = False) -> tuple[Folio | None, bool]:
        """Find or create the swap-cache folio for ``entry``.

        Models: ``__read_swap_cache_async()`` (order 0). Returns ``(folio, True)`` for a new,
        locked folio that the caller must read into (``swap_read_folio``), ``(folio, False)``
        for one already in the cache, and ``(None, False)`` when the entry is gone, memory
        cannot be had, or (``-EEXIST``) another task holds the entry's cache pin and has not
        inserted its folio yet: the kernel waits and retries; the model returns so the caller
        (the engine) can retry after that task ran. With ``skip_if_exists`` (zswap writeback)
        a held pin means giving up.
        """
        si = self.get_swap_device(entry)
        if si is None and self.entry_needs_device(entry):
            return None, False
        try:
            folio = self.swap_cache_get_folio(entry)
            if folio is not None:
                return folio, False
            if not self.swp_swapcount(entry):
                return None, False
            memcg_id = self.lookup_swap_cgroup_id(entry)
            new = self.hooks.alloc_swapin_folio(entry, 0, memcg_id)
            if new is None:
                return None, False
            err = self.swapcache_prepare(entry, 1)
            if err or not self.swapin_pinned_ok(entry):
                # The new folio is dropped unused (folio_put): its charge goes back.
                self.hooks.release_swapin_folio(new)
                return None, False
            new.locked = True
            new.swapbacked = True
            err, shadow = self.add_to_swap_cache(new, entry)
            if err:
                self.put_swap_folio(new, entry)
                new.locked = False
                self.hooks.release_swapin_folio(new)
                return None, False
            self.hooks.swapin_folio_added(new, shadow)
            return new, True
        finally:
            if si is not None:
                self.put_swap_device(si)

    def swapin_pinned_ok(self, entry: SwpEntry) -> bool:
        """After ``swapcache_prepare`` pinned ``entry`` for a swap-in: may it be read?

        A design returns False (having dropped the pin) when reading would be bogus; the
        caller then retries. The classic design always may.
        """
        return True

    def can_swapin_thp(self, entry: SwpEntry, nr: int) -> bool:
        """Every entry of ``entry .. +nr`` has one swap count and none is cached at the first.

        Models: the per-entry half of ``can_swapin_thp()`` (mm/memory.c): the skip-swapcache
        path may read the range into one large folio (the design's ``swap_read_folio`` must
        then cover it with one backend, else the fault falls back to a smaller order).
        """
        for k in range(nr):
            if self.swp_swapcount(SwpEntry(entry + k)) != 1:
                return False
        return self.swap_cache_get_folio(entry) is None

    def vm_swap_full(self) -> bool:
        """Models: ``vm_swap_full()`` (the :class:`SlotOwner` question of the devices)."""
        return self.devices.vm_swap_full()

    def swap_writepage(self, folio: Folio) -> int:
        """Write a locked swap-cache folio out: zero check, then zswap, then the device.

        Models: ``swap_writepage()`` (mm/page_io.c; v6.14, and patch 12's order under vswap).
        Context: folio locked, in the swap cache, dirty bit already cleared by the caller
        (``pageout``). In order: no PTE left -> freed from the swap cache; all zero ->
        :meth:`swap_zeromap_folio_set`; else :meth:`swap_zeromap_folio_clear` and
        ``zswap_store``; zswap refused and ``memory.zswap.writeback=0`` -> kept; else the
        design's :meth:`swap_writepage_fallback` (the device).

        Returns:
            0 (the folio is clean: freed, zero-marked, in zswap or written) or
            ``AOP_WRITEPAGE_ACTIVATE`` (kept dirty in the swap cache; reclaim activates it).
            The folio is unlocked on return in both cases.
        """
        if self.folio_free_swap(folio):
            folio.folio_unlock()
            return 0
        nr = folio.nr_pages
        self.env.tracer.zero_check(nr)
        data = folio.data
        if nr == 1 and len(data) == PAGE_SIZE and not data.startswith(_ZERO_WORD):
            # Full page data, first word not zero: not a zero page, decided without
            # page_is_zero's call and page-sized comparison (the common case).
            zero = False
        else:
            zero = all(folio.page_is_zero(i) for i in range(nr))
        if zero:
            self.swap_zeromap_folio_set(folio)
            folio.folio_unlock()
            return 0
        self.swap_zeromap_folio_clear(folio)
        if self.zswap is not None and self.zswap.zswap_store(folio):
            folio.folio_unlock()
            return 0
        memcg_id = folio.memcg_id
        memcg = self.memcgs.mem_cgroup_from_id(memcg_id) if memcg_id else None
        if memcg is not None and not memcg.mem_cgroup_zswap_writeback_enabled():
            ret = AOP_WRITEPAGE_ACTIVATE
        else:
            ret = self.swap_writepage_fallback(folio)
        if ret:
            folio.dirty = True
        folio.folio_unlock()
        return ret

    # -- template methods the designs provide ------------------------------------------------
    @abc.abstractmethod
    def swap_zeromap_folio_set(self, folio: Folio) -> None:
        """Record that every page of the folio is zero; count ``swpout_zero``."""

    @abc.abstractmethod
    def swap_zeromap_folio_clear(self, folio: Folio) -> None:
        """Forget any zero mark of the folio's entries (it is about to be stored)."""

    @abc.abstractmethod
    def swapped_page_locations(self) -> tuple[int, int]:
        """(zero, device): swapped-out pages that are zero-filled (no data anywhere) and pages
        whose data is on a swap device, each counted once (zswap pages are zswap's count).
        For reports and plots, not a kernel path."""

    @abc.abstractmethod
    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]:
        """Every live swap entry with its swap count and whether its swap-cache pin is held
        (``SWAP_HAS_CACHE`` / ``swap_refs`` bit 0): what the checkers compare against the
        page tables and the swap cache (``mm/checks.py``)."""

    @abc.abstractmethod
    def swap_peek_entry(self, entry: SwpEntry) -> bytes | None:
        """The page stored for ``entry`` in its backend (zero, zswap, device), read
        without I/O accounting, counters or state changes; None if no backend holds it.
        For checkers and debugging (``mm/checks.py``), not a kernel path."""

    @abc.abstractmethod
    def swap_writepage_fallback(self, folio: Folio) -> int:
        """Write the folio to a device after zswap refused it: 0, or
        ``AOP_WRITEPAGE_ACTIVATE`` to keep it (the caller re-dirties and unlocks)."""

    def entry_needs_device(self, entry: SwpEntry) -> bool:
        """Whether an entry with no device is dead (classic) or simply not on disk (vswap)."""
        return True

    def get_swap_device(self, entry: SwpEntry) -> SwapInfo | None:
        """Pin the device holding ``entry``'s data, unless it is going away.

        Models: ``get_swap_device()`` (classic: the entry *is* the slot) and
        ``vswap_get_device()`` (patch 12: only a SWAPFILE-backed entry has a device; ZERO,
        ZSWAP, FOLIO, unbacked and dead entries give None, "not on a device").
        Released by :meth:`put_swap_device`.
        """
        slot = self.swp_entry_to_swp_slot(entry)
        if not slot:
            return None
        si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
        if si is None or si.dying or not 0 < swp_slot_offset(slot) < si.max:
            return None
        si.users += 1
        return si

    def put_swap_device(self, si: SwapInfo) -> None:
        """Models: ``put_swap_device()`` (``swap_slot_put_swap_info()`` in the seed)."""
        si.users -= 1

    def trylock_swapoff(self, entry: SwpEntry) -> tuple[bool, SwapInfo | None]:
        """Models: ``trylock_swapoff()`` (seed patches 04/05/10): the entry's device pinned
        when it has one; fails only where an entry with no device is dead
        (:meth:`entry_needs_device`: the classic family), never under the virtual designs.
        Released by :meth:`unlock_swapoff`."""
        si = self.get_swap_device(entry)
        return si is not None or not self.entry_needs_device(entry), si

    def unlock_swapoff(self, entry: SwpEntry, si: SwapInfo | None) -> None:
        """Models: ``unlock_swapoff()`` (patch 10): put the device pinned by
        :meth:`trylock_swapoff`, if any."""
        if si is not None:
            self.put_swap_device(si)

    @abc.abstractmethod
    def swp_entry_to_swp_slot(self, entry: SwpEntry) -> SwpSlot:
        """The physical slot holding ``entry``'s data (0: none)."""

    @abc.abstractmethod
    def folio_alloc_swap(self, folio: Folio) -> SwpEntry:
        """Design-specific: see ``SwapDesign.folio_alloc_swap``."""

    @abc.abstractmethod
    def put_swap_folio(self, folio: Folio, entry: SwpEntry) -> None:
        """Design-specific: see ``SwapDesign.put_swap_folio``."""

    @abc.abstractmethod
    def swapcache_prepare(self, entry: SwpEntry, nr: int) -> int:
        """Design-specific: see ``SwapDesign.swapcache_prepare``."""

    @abc.abstractmethod
    def swp_swapcount(self, entry: SwpEntry) -> int:
        """Design-specific: see ``SwapDesign.swp_swapcount``."""

    @abc.abstractmethod
    def folio_swapped(self, folio: Folio) -> bool:
        """Design-specific: see ``SwapDesign.folio_swapped``."""

    @abc.abstractmethod
    def lookup_swap_cgroup_id(self, entry: SwpEntry) -> int:
        """Design-specific: see ``SwapDesign.lookup_swap_cgroup_id``."""

    # -- devices (abstract) -------------------------------------------------------------------
    @abc.abstractmethod
    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               blkdev: bool | None = None, solidstate: bool = True) -> SwapInfo:
        """Design-specific: see ``SwapDesign.swapon``; passes ``owner=self`` to
        ``devices.add_device`` (the design is the devices' :class:`SlotOwner`)."""

    @abc.abstractmethod
    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Design-specific: see ``SwapDesign.swapoff``."""

    @abc.abstractmethod
    def swp_slot_to_swp_entry(self, slot: SwpSlot) -> SwpEntry:
        """Design-specific: see ``SwapDesign.swp_slot_to_swp_entry``."""

    # -- lifetime (abstract) ------------------------------------------------------------------
    @abc.abstractmethod
    def swap_duplicate(self, entry: SwpEntry) -> int:
        """Design-specific: see ``SwapDesign.swap_duplicate``."""

    def swap_shmem_alloc(self, entry: SwpEntry, nr: int) -> None:
        """Models: ``swap_shmem_alloc()`` as ``swap_duplicate_nr()``: an ordinary count per
        entry (vswap, patch 08; mainline once ``SWAP_MAP_SHMEM`` was removed). The classic
        v6.14 design overrides it with the ``SWAP_MAP_SHMEM`` marker."""
        for i in range(nr):
            self.swap_duplicate(SwpEntry(entry + i))

    @abc.abstractmethod
    def swapcache_clear(self, entry: SwpEntry, nr: int) -> None:
        """Design-specific: see ``SwapDesign.swapcache_clear``."""

    @abc.abstractmethod
    def swap_free_nr(self, entry: SwpEntry, nr: int) -> None:
        """Design-specific: see ``SwapDesign.swap_free_nr``."""

    @abc.abstractmethod
    def free_swap_and_cache_nr(self, entry: SwpEntry, nr: int) -> None:
        """Design-specific: see ``SwapDesign.free_swap_and_cache_nr``."""

    @abc.abstractmethod
    def swap_read_folio(self, folio: Folio) -> bool:
        """Design-specific: see ``SwapDesign.swap_read_folio``."""

    # -- the devices' SlotOwner (abstract) ------------------------------------------------------
    @abc.abstractmethod
    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        """Design-specific: see ``SlotOwner.swap_cache_only``."""

    @abc.abstractmethod
    def cache_only_slots_possible(self, si: SwapInfo) -> bool:
        """Design-specific: see ``SlotOwner.cache_only_slots_possible``."""

    @abc.abstractmethod
    def try_to_reclaim_swap(self, si: SwapInfo, offset: int, flags: int) -> int:
        """Design-specific: see ``SlotOwner.try_to_reclaim_swap``."""

    # -- zswap host (abstract; see ZswapHost for each contract) ---------------------------------
    @abc.abstractmethod
    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """See ``ZswapHost.zswap_tree_key``."""

    @abc.abstractmethod
    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """See ``ZswapHost.zswap_tree_index``."""

    @abc.abstractmethod
    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """See ``ZswapHost.zswap_entry_stored``."""

    @abc.abstractmethod
    def zswap_store_undone(self, folio: Folio) -> None:
        """See ``ZswapHost.zswap_store_undone``."""

    @abc.abstractmethod
    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """See ``ZswapHost.zswap_loaded_exclusive``."""

    @abc.abstractmethod
    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """See ``ZswapHost.zswap_writeback_prepare``."""

    @abc.abstractmethod
    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """See ``ZswapHost.zswap_writeback_abort``."""

    @abc.abstractmethod
    def zswap_writeback_submit(self, folio: Folio) -> None:
        """See ``ZswapHost.zswap_writeback_submit``."""

    @abc.abstractmethod
    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """See ``ZswapHost.zswap_writeback_possible``."""

    # -- accounting -----------------------------------------------------------------------
    def device_metadata_bytes(self) -> dict[str, int]:
        """Physical-layer bytes summed over devices, by structure."""
        total: dict[str, int] = {}
        for si in self.devices.devices():
            for k, v in si.metadata_bytes().items():
                total[k] = total.get(k, 0) + v
        return total

    def leftovers(self) -> list[str]:
        """Used slots per device, then the design's own (:meth:`entry_leftovers`), then
        swap-cache pages and shadows; empty when the design holds nothing."""
        out = [f"{si.inuse_pages} used slots on {si.name}"
               for si in self.devices.devices() if si.inuse_pages]
        out += self.entry_leftovers()
        cache = self.swap_cache
        if cache.nr_pages:
            out.append(f"{cache.nr_pages} swap-cache pages")
        shadows = cache.nr_shadows()
        if shadows:
            out.append(f"{shadows} swap-cache shadows")
        return out

    @abc.abstractmethod
    def entry_leftovers(self) -> list[str]:
        """What the design's own entry metadata still holds (vswap: live descriptors and
        writebacks in flight), for :meth:`leftovers`."""

    @abc.abstractmethod
    def metadata_bytes(self) -> dict[str, int]:
        """Design-specific: see ``SwapDesign.metadata_bytes``."""

    @abc.abstractmethod
    def check_invariants(self) -> None:
        """Design-specific: see ``SwapDesign.check_invariants``."""


#: The first word of a zero page (:meth:`SwapDesignBase.swap_writepage`'s quick test).
_ZERO_WORD: Final = bytes(8)


def page_bytes(nr_pages: int) -> int:
    """Bytes in ``nr_pages`` pages."""
    return nr_pages * PAGE_SIZE
