"""The classic swap design: a swap entry *is* a device slot.

Models: Linux v6.14 (the seed's base, ``CONFIG_VIRTUAL_SWAP=n``): mm/swapfile.c swap counts
(``__swap_duplicate``, ``__swap_entry_free_locked``, ``swap_entry_range_free``,
``free_swap_and_cache_nr``, ``__try_to_reclaim_swap``), mm/swap_state.c (``folio_alloc_swap``
with the memcg charge, the swap cache split into 64 MiB address spaces), mm/page_io.c
(``swap_writepage``: zero check, zswap, device; ``swap_read_folio``), mm/swap_cgroup.c
(2 bytes per slot) and the per-device ``zeromap`` bitmap, and ``try_to_unuse`` (swapoff by
page-table walk, :mod:`vswap.swap.classic_swapoff`).

``swap_map`` byte states of one slot (``SWAP_HAS_CACHE`` may be or'ed onto any count):

==================== ======================================================================
byte                 meaning
==================== ======================================================================
0                    free
1..0x3e              that many page-table (or shmem) references
0x3f SWAP_MAP_BAD    bad slot or the header
+0x40 SWAP_HAS_CACHE in the swap cache, or pinned to be added (swap-in serialisation)
+0x80 COUNT_CONTINUED the count continues in continuation pages (counts above 0x3e)
0xbf SWAP_MAP_SHMEM  owned by shmem
==================== ======================================================================

A slot is allocated as ``SWAP_HAS_CACHE`` (``folio_alloc_swap``), gains a count per mapping
(``swap_duplicate``), and is freed when count and cache flag are both gone: on its way to 0 it
transits through ``SWAP_HAS_CACHE`` (``__swap_entry_free_locked``), then
``swap_entry_range_free`` clears it, uncharges the memcg, clears its zeromap bit, invalidates
its zswap entry and its swap-cache shadow.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.tracing import Cost
from vswap.kernel.types import (
    PAGE_SIZE,
    SWAP_ADDRESS_SPACE_MASK,
    SWAP_ADDRESS_SPACE_SHIFT,
    SWAPFILE_CLUSTER,
    SWP_OFFSET_MASK,
    SWP_TYPE_SHIFT,
    SwpEntry,
    SwpSlot,
    swp_entry,
    swp_offset,
    swp_type,
)
from vswap.swap._api import SwapHooks, SwapoffResult
from vswap.swap.classic_swapoff import classic_swapoff, find_device
from vswap.swap.classic_zswap import ClassicZswapHost
from vswap.swap.swap_state import SwapCache
from vswap.swap.swapfile import (
    COUNT_CONTINUED,
    SWAP_HAS_CACHE,
    SWAP_MAP_BAD,
    SWAP_MAP_MAX,
    SWAP_MAP_SHMEM,
    TTRS_ANYWAY,
    TTRS_FULL,
    TTRS_UNMAPPED,
    SlotOwner,
    SwapDevices,
    SwapInfo,
)

if TYPE_CHECKING:
    from vswap.swap._api import SwapDesign
    from vswap.swap.storage import SwapStorage
    from vswap.zswap.zswap import ZswapHost


def _classic_space(entry: SwpEntry) -> Hashable:
    """Models: ``swap_address_space()``: ``swapper_spaces[type][offset >> 14]``."""
    # swp_type / swp_offset inlined: this runs several times per swapped page.
    return (entry >> SWP_TYPE_SHIFT, (entry & SWP_OFFSET_MASK) >> SWAP_ADDRESS_SPACE_SHIFT)


def _classic_index(entry: SwpEntry) -> int:
    """Models: ``swap_cache_index()``: ``offset & SWAP_ADDRESS_SPACE_MASK``."""
    return entry & SWP_OFFSET_MASK & SWAP_ADDRESS_SPACE_MASK


class ClassicSwap(ClassicZswapHost):
    """The v6.14 swap subsystem. See the module docstring for the ``swap_map`` states.

    Per device it keeps ``swap_cgroup`` (``array('H')``, one memcg id per slot) and
    ``zeromap`` (a bitmap). Each 64 MiB of a device is its own swap-cache space and zswap tree.
    Its zswap-host side is :class:`~vswap.swap.classic_zswap.ClassicZswapHost`, its swapoff
    :func:`~vswap.swap.classic_swapoff.classic_swapoff`.
    """

    name = "classic"
    entry_is_slot = True

    def __init__(self, *, nr_cpus: int = 1, env: KernelEnv | None = None,
                 hooks: SwapHooks | None = None, default_prio: str = "decreasing") -> None:
        env = env if env is not None else KernelEnv()
        super().__init__(env=env,
                         devices=SwapDevices(env=env, nr_cpus=nr_cpus,
                                             default_prio=default_prio, map_bad=SWAP_MAP_BAD),
                         swap_cache=SwapCache(_classic_space, _classic_index, env=env),
                         hooks=hooks)
        self.swap_cgroup: dict[int, array[int]] = {}
        self.zeromap: dict[int, bytearray] = {}

    # -- devices ----------------------------------------------------------------------------
    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               blkdev: bool | None = None, solidstate: bool = True) -> SwapInfo:
        """Models: ``sys_swapon()``: register the device and allocate its per-slot tables.

        ``blkdev`` defaults to True for a memory device (a block device such as zram or a
        partition) and False for a swap file, which can then take no large folio whole.
        """
        header = storage.header
        kind = storage.kind
        if blkdev is None:
            blkdev = kind != "file"
        si = self.devices.add_device(
            storage, nr_pages=header.last_page + 1, bad_pages=tuple(header.bad_pages),
            prio=prio, solidstate=solidstate, blkdev=blkdev,
            name=storage.name, kind="file" if kind == "file" else "partition", owner=self)
        self.swap_cgroup[si.type] = array("H", bytes(2 * si.max))
        self.zeromap[si.type] = bytearray((si.max + 7) // 8)
        if self.zswap is not None:
            self.zswap.zswap_swapon(si.type, si.max)
        return si

    def _find_device(self, name_or_type: str | int) -> SwapInfo:
        return find_device(self, name_or_type)

    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Models: ``sys_swapoff()`` with ``try_to_unuse()``: walk every page table (see
        :func:`vswap.swap.classic_swapoff.classic_swapoff`)."""
        return classic_swapoff(self, name_or_type, signal_pending)

    def swp_entry_to_swp_slot(self, entry: SwpEntry) -> SwpSlot:
        """Models: ``swp_entry_to_swp_slot()``: the identity in the classic design."""
        return SwpSlot(entry)

    def swp_slot_to_swp_entry(self, slot: SwpSlot) -> SwpEntry:
        """Models: ``swp_slot_to_swp_entry()``: the identity in the classic design."""
        return SwpEntry(slot)

    def _swap_info_get(self, entry: SwpEntry) -> tuple[SwapInfo, int]:
        """Models: ``_swap_info_get()``: the device and offset of a *used* entry.

        Raises:
            KernelError(EINVAL): "Bad swap file entry", "Bad swap offset entry" or "Unused swap
            offset entry", as the kernel reports them (for example, a double free).
        """
        # swap_type_to_swap_info(), swp_type() and swp_offset() inlined: this runs for
        # every swap-out, swap-in and free.
        type_ = entry >> SWP_TYPE_SHIFT
        infos = self.devices.swap_info
        si = infos[type_] if type_ < len(infos) else None
        if si is None:
            raise KernelError(Errno.EINVAL, f"Bad swap file entry {entry:#x}")
        offset = entry & SWP_OFFSET_MASK
        if not 0 < offset < si.max:
            raise KernelError(Errno.EINVAL, f"Bad swap offset entry {entry:#x}")
        if not si.swap_map[offset]:
            raise KernelError(Errno.EINVAL, f"Unused swap offset entry {entry:#x}")
        return si, offset

    # -- lifetime -----------------------------------------------------------------------
    def folio_alloc_swap(self, folio: Folio) -> SwpEntry:
        """Allocate contiguous slots for the folio and charge them to its memcg.

        Models: ``folio_alloc_swap()`` (v6.14 mm/swap_slots.c): slots come as
        ``SWAP_HAS_CACHE``; then ``mem_cgroup_try_charge_swap()``, which records the memcg id
        in ``swap_cgroup`` and on failure gives the slots back. As in v6.14 (before the seed's
        patch 05) a failed allocation still reaches the charge, which raises the cgroup's
        ``memory.swap.events`` ``fail``.

        Returns:
            The first entry, or 0 (nothing allocated; a large folio is then split by reclaim).
        """
        slot = self.devices.swap_slot_alloc(folio.order, SWAP_HAS_CACHE, folio.memcg_id)
        entry = SwpEntry(slot)
        if not self.mem_cgroup_try_charge_swap(folio, entry):
            if entry:
                self.put_swap_folio(folio, entry)
            return SwpEntry(0)
        return entry

    def mem_cgroup_try_charge_swap(self, folio: Folio, entry: SwpEntry) -> bool:
        """Models: ``__mem_cgroup_try_charge_swap()`` (cgroup v2; the root is not charged)."""
        memcg_id = folio.memcg_id
        memcg = self.memcgs.mem_cgroup_from_id(memcg_id) if memcg_id else None
        if memcg is None:
            return True
        if not entry:
            memcg.memcg_swap_event("fail")
            return True
        nr = folio.nr_pages
        if memcg.parent is not None and not memcg.try_charge_swap(nr):
            return False
        memcg.stat["swap"] += nr
        self.swap_cgroup_record(entry, memcg.id, nr)
        return True

    def mem_cgroup_uncharge_swap(self, entry: SwpEntry, nr: int) -> None:
        """Models: ``__mem_cgroup_uncharge_swap()``: clear the record, uncharge its memcg."""
        memcg_id = self.swap_cgroup_clear(entry, nr)
        memcg = self.memcgs.mem_cgroup_from_id(memcg_id) if memcg_id else None
        if memcg is not None:
            if memcg.parent is not None:
                memcg.uncharge_swap(nr)
            memcg.stat["swap"] -= nr

    def swap_cgroup_record(self, entry: SwpEntry, memcg_id: int, nr: int) -> None:
        """Models: ``swap_cgroup_record()``: set the owner of ``nr`` slots."""
        table = self.swap_cgroup[entry >> SWP_TYPE_SHIFT]
        off = entry & SWP_OFFSET_MASK
        if nr == 1:
            table[off] = memcg_id
            return
        for i in range(nr):
            table[off + i] = memcg_id

    def swap_cgroup_clear(self, entry: SwpEntry, nr: int) -> int:
        """Models: ``swap_cgroup_clear()``: zero the owner of ``nr`` slots, return the old id."""
        table = self.swap_cgroup[entry >> SWP_TYPE_SHIFT]
        off = entry & SWP_OFFSET_MASK
        old = table[off]
        for i in range(nr):
            table[off + i] = 0
        return old

    def lookup_swap_cgroup_id(self, entry: SwpEntry) -> int:
        """Models: ``lookup_swap_cgroup_id()``."""
        table = self.swap_cgroup.get(entry >> SWP_TYPE_SHIFT)
        off = entry & SWP_OFFSET_MASK
        if table is None or off >= len(table):
            return 0
        return table[off]

    def _swap_duplicate(self, entry: SwpEntry, usage: int, nr: int) -> int:
        """Models: ``__swap_duplicate()``: check the whole range, then apply.

        Returns 0, ``-ENOENT`` (a free or bad slot), ``-EEXIST`` (cache flag already set when
        asked for it), ``-EINVAL`` (a shmem-owned slot) or ``-ENOMEM`` (a continuation page
        is needed; only possible with ``usage == 1``, ``nr == 1``).
        """
        type_ = entry >> SWP_TYPE_SHIFT
        infos = self.devices.swap_info
        si = infos[type_] if type_ < len(infos) else None
        offset = entry & SWP_OFFSET_MASK
        if si is None or not offset > 0 or offset + nr > si.max:
            return -Errno.ENOENT
        # Under lock_cluster() of the range's cluster.
        self.env.tracer.lock_step("swap_cluster", (si.type, offset // SWAPFILE_CLUSTER),
                                  Cost.SWAP_MAP_UPDATE)
        smap = si.swap_map
        if nr == 1 and usage == 1:
            # The common case (try_to_unmap's one reference): the checks and the update of
            # the loops below for one slot, the count below SWAP_MAP_MAX.
            count = smap[offset]
            low = count & ~SWAP_HAS_CACHE
            if low and low < SWAP_MAP_MAX:
                smap[offset] = count + 1
                return 0
        for i in range(nr):
            count = smap[offset + i]
            if count & ~SWAP_HAS_CACHE == SWAP_MAP_BAD:
                return -Errno.ENOENT
            has_cache = count & SWAP_HAS_CACHE
            count &= ~SWAP_HAS_CACHE
            if not count and not has_cache:
                return -Errno.ENOENT
            if usage == SWAP_HAS_CACHE:
                if has_cache:
                    return -Errno.EEXIST
            elif count & ~COUNT_CONTINUED > SWAP_MAP_MAX:
                return -Errno.EINVAL
        for i in range(nr):
            count = smap[offset + i]
            has_cache = count & SWAP_HAS_CACHE
            count &= ~SWAP_HAS_CACHE
            if usage == SWAP_HAS_CACHE:
                has_cache = SWAP_HAS_CACHE
            elif count & ~COUNT_CONTINUED < SWAP_MAP_MAX:
                count += usage
            elif si.swap_count_continued_inc(offset + i):
                count = COUNT_CONTINUED
            else:
                return -Errno.ENOMEM
            smap[offset + i] = count | has_cache
        return 0

    def swap_duplicate(self, entry: SwpEntry) -> int:
        """Add one mapping reference (fork copying a swap PTE).

        Models: ``swap_duplicate()``: retries with ``add_swap_count_continuation()`` when the
        count needs another continuation page. Returns 0; ``-ENOENT``/``-EINVAL`` are swallowed
        into 0 as the kernel does (the caller copied a PTE it holds, so they cannot happen in
        valid use).
        """
        while True:
            err = self._swap_duplicate(entry, 1, 1)
            if err != -Errno.ENOMEM:
                return 0 if err in (0, -Errno.ENOENT, -Errno.EINVAL) else err
            si = self.devices.swap_type_to_swap_info(swp_type(entry))
            assert si is not None
            si.add_swap_count_continuation(swp_offset(entry))

    def swap_shmem_alloc(self, entry: SwpEntry, nr: int) -> None:
        """Mark ``nr`` slots owned by a shmem mapping. Models: v6.14 ``swap_shmem_alloc()``:
        ``__swap_duplicate(entry, SWAP_MAP_SHMEM, nr)``, the marker that freeing treats as a
        count of 1. Context: the slots hold only ``SWAP_HAS_CACHE`` (``shmem_writepage``).

        Raises:
            KernelError(ENOENT): a free or bad slot.
        """
        err = self._swap_duplicate(entry, SWAP_MAP_SHMEM, nr)
        if err:
            raise KernelError(Errno(-err), f"swap_shmem_alloc: entry {entry:#x} not in use")

    def swapcache_prepare(self, entry: SwpEntry, nr: int = 1) -> int:
        """Pin ``nr`` entries for a swap-in: set ``SWAP_HAS_CACHE`` on all or none.

        Models: ``swapcache_prepare()``. Returns 0, ``-EEXIST`` (someone else holds a pin: the
        swap-in race) or ``-ENOENT`` (an entry was freed).
        """
        return self._swap_duplicate(entry, SWAP_HAS_CACHE, nr)

    def _swap_entry_free_locked(self, si: SwapInfo, offset: int, usage: int) -> int:
        """Models: ``__swap_entry_free_locked()``: drop one reference or the cache flag.

        Returns the new map value; 0 means the slot must now be freed (it holds
        ``SWAP_HAS_CACHE`` as a transit value until :meth:`_swap_entry_range_free`).
        """
        self.env.tracer.lock_step("swap_cluster", (si.type, offset // SWAPFILE_CLUSTER),
                                  Cost.SWAP_MAP_UPDATE)
        count = si.swap_map[offset]
        has_cache = count & SWAP_HAS_CACHE
        count &= ~SWAP_HAS_CACHE
        if usage == SWAP_HAS_CACHE:
            if not has_cache:
                raise KernelError(Errno.EINVAL, f"swapcache_clear on uncached slot "
                                                f"{si.type}:{offset}")
            has_cache = 0
        elif count == SWAP_MAP_SHMEM & ~SWAP_HAS_CACHE:
            count = 0
        elif count & ~COUNT_CONTINUED <= SWAP_MAP_MAX:
            if count == COUNT_CONTINUED:
                if si.swap_count_continued_dec(offset):
                    count = SWAP_MAP_MAX | COUNT_CONTINUED
                else:
                    count = SWAP_MAP_MAX
            elif count == 0:
                raise KernelError(Errno.EINVAL, f"swap_free: slot {si.type}:{offset} has no "
                                                "reference to drop")
            else:
                count -= 1
        value = count | has_cache
        si.swap_map[offset] = value if value else SWAP_HAS_CACHE
        return value

    def _swap_entry_range_free(self, si: SwapInfo, offset: int, nr: int) -> None:
        """Models: ``swap_entry_range_free()`` + ``swap_range_free()``.

        Context: every slot holds the transit value ``SWAP_HAS_CACHE``. Uncharges the memcg,
        returns the slots, clears their zeromap bits, invalidates their zswap entries and
        swap-cache shadows.
        """
        smap = si.swap_map
        for i in range(nr):
            if smap[offset + i] != SWAP_HAS_CACHE:
                raise AssertionError(f"freeing slot {si.type}:{offset + i} in state "
                                     f"{smap[offset + i]:#x}")
        type_ = si.type
        entry = swp_entry(type_, offset)
        self.mem_cgroup_uncharge_swap(entry, nr)
        self.devices.swap_range_free(si, offset, nr)
        zmap = self.zeromap[type_]
        for off in range(offset, offset + nr):
            zmap[off >> 3] &= ~(1 << (off & 7))
        zswap = self.zswap
        if zswap is not None:
            for i in range(nr):
                zswap.zswap_invalidate(SwpEntry(entry + i))
        self.swap_cache.clear_shadow(entry, nr)

    def _cluster_swap_free_nr(self, si: SwapInfo, offset: int, nr: int, usage: int) -> None:
        """Models: ``cluster_swap_free_nr()``: drop ``usage`` from ``nr`` slots of a cluster."""
        for off in range(offset, offset + nr):
            if not self._swap_entry_free_locked(si, off, usage):
                self._swap_entry_range_free(si, off, 1)

    def swap_free_nr(self, entry: SwpEntry, nr: int = 1) -> None:
        """Drop one mapping reference from each of ``nr`` entries.

        Models: ``swap_free_nr()``. Raises KernelError(EINVAL) for an unused entry.
        """
        si, offset = self._swap_info_get(entry)
        if nr == 1:
            if not self._swap_entry_free_locked(si, offset, 1):
                self._swap_entry_range_free(si, offset, 1)
            return
        while nr:
            chunk = min(SWAPFILE_CLUSTER - offset % SWAPFILE_CLUSTER, nr)
            self._cluster_swap_free_nr(si, offset, chunk, 1)
            offset += chunk
            nr -= chunk

    def swap_free(self, entry: SwpEntry) -> None:
        """Models: ``swap_free()``."""
        self.swap_free_nr(entry, 1)

    def hibernation_slot_free(self, si: SwapInfo, offset: int) -> None:
        """Models: ``free_all_swap_pages()``'s ``swap_free_nr()`` (v6.14): the slot's one
        count goes, and the slot with it unless readahead cached a folio there (then that
        folio is reclaimed like any cache-only one)."""
        self.swap_free_nr(swp_entry(si.type, offset), 1)

    def swapcache_clear(self, entry: SwpEntry, nr: int = 1) -> None:
        """Models: ``swapcache_clear()``: drop the cache pins taken by swapcache_prepare."""
        si, offset = self._swap_info_get(entry)
        self._cluster_swap_free_nr(si, offset, nr, SWAP_HAS_CACHE)

    def _swap_only_has_cache(self, si: SwapInfo, offset: int, nr: int) -> bool:
        """Models: ``swap_only_has_cache()``."""
        if nr == 1 and offset < len(si.swap_map):
            return bool(si.swap_map[offset] == SWAP_HAS_CACHE)
        # bytearray.count rather than a generator over the slice: mypyc (2.4) cannot compile
        # a loop over a bytearray, and the count is one C call.
        seg = si.swap_map[offset:offset + nr]
        return seg.count(SWAP_HAS_CACHE) == len(seg)

    def put_swap_folio(self, folio: Folio, entry: SwpEntry) -> None:
        """Drop the folio's cache flags; free slots nobody else references.

        Models: ``put_swap_folio()`` (``swap_slot_put_folio`` in the seed).
        """
        si, offset = self._swap_info_get(entry)
        nr = folio.nr_pages
        if self._swap_only_has_cache(si, offset, nr):
            self._swap_entry_range_free(si, offset, nr)
            return
        for off in range(offset, offset + nr):
            if not self._swap_entry_free_locked(si, off, SWAP_HAS_CACHE):
                self._swap_entry_range_free(si, off, 1)

    def _swap_entries_free(self, si: SwapInfo, offset: int, nr: int) -> bool:
        """Models: ``__swap_entries_free()``: drop one reference from each of ``nr`` slots.

        Returns True if any slot is now held only by the swap cache.
        """
        smap = si.swap_map
        if nr > 1 and smap[offset] & ~SWAP_HAS_CACHE == 1:
            window = smap[offset:offset + nr]
            has_cache = window[0] & SWAP_HAS_CACHE
            if window.count(1 | has_cache) == len(window):  # all(): see _swap_only_has_cache
                smap[offset:offset + nr] = bytes([SWAP_HAS_CACHE]) * nr
                if not has_cache:
                    self._swap_entry_range_free(si, offset, nr)
                return bool(has_cache)
        any_cache = False
        for off in range(offset, offset + nr):
            if not smap[off]:
                raise KernelError(Errno.EINVAL, f"free_swap_and_cache: unused slot "
                                                f"{si.type}:{off}")
            usage = self._swap_entry_free_locked(si, off, 1)
            if not usage:
                self._swap_entry_range_free(si, off, 1)
            elif usage == SWAP_HAS_CACHE:
                any_cache = True
        return any_cache

    def free_swap_and_cache_nr(self, entry: SwpEntry, nr: int = 1) -> None:
        """Drop one mapping reference from ``nr`` entries; reclaim what only the cache holds.

        Models: ``free_swap_and_cache_nr()`` (zap, exit, munmap): the swap cache folio of a
        slot left cache-only is freed if it is unmapped or the cgroup's swap is over half full
        (``TTRS_UNMAPPED | TTRS_FULL``), stepping a folio at a time.
        """
        si = self.get_swap_device(entry)
        if si is None:
            raise KernelError(Errno.EINVAL, f"Bad swap file entry {entry:#x}")
        try:
            start = swp_offset(entry)
            if start + nr > si.max:
                raise KernelError(Errno.EINVAL, "free_swap_and_cache_nr past device end")
            if not self._swap_entries_free(si, start, nr):
                return
            offset = start
            end = start + nr
            while offset < end:
                step = 1
                if si.swap_map[offset] == SWAP_HAS_CACHE:
                    got = self.try_to_reclaim_swap(si, offset, TTRS_UNMAPPED | TTRS_FULL)
                    if got == 0:
                        step = 1
                    else:
                        size = abs(got)
                        step = ((offset + 1 + size - 1) // size) * size - offset
                offset += step
        finally:
            self.put_swap_device(si)

    def swap_cache_only(self, si: SwapInfo, offset: int) -> bool:
        """Models: the ``swap_map[offset] == SWAP_HAS_CACHE`` test of the reclaim scans."""
        return si.swap_map[offset] == SWAP_HAS_CACHE

    def cache_only_slots_possible(self, si: SwapInfo) -> bool:
        """Always: a slot can be cache-only with its folio still to be inserted."""
        return True

    def try_to_reclaim_swap(self, si: SwapInfo, offset: int, flags: int) -> int:
        """Free a swap-cache folio whose slots nobody else references.

        Models: ``__try_to_reclaim_swap()``. Returns the folio's page count if it was freed,
        its negative if it was found but kept (locked, mapped, under writeback, referenced),
        0 if no folio was cached there.
        """
        folio = self.swap_cache_get_folio(swp_entry(si.type, offset))
        if folio is None:
            return 0
        nr = folio.nr_pages
        if not folio.folio_trylock():
            return -nr
        try:
            need = bool(flags & TTRS_ANYWAY
                        or (flags & TTRS_UNMAPPED and not self.hooks.folio_mapped(folio))
                        or (flags & TTRS_FULL and self.memcg_swap_full(folio)))
            if not need or not self.folio_swapcache_freeable(folio):
                return -nr
            first = swp_offset(folio.swap)
            if not self._swap_only_has_cache(si, first, nr):
                return -nr
            self.delete_from_swap_cache(folio)
            folio.dirty = True
            return nr
        finally:
            folio.folio_unlock()

    # -- counts ---------------------------------------------------------------------------
    def swp_swapcount(self, entry: SwpEntry) -> int:
        """Models: ``swp_swapcount()``: the full count, continuation pages included."""
        type_ = entry >> SWP_TYPE_SHIFT
        infos = self.devices.swap_info
        si = infos[type_] if type_ < len(infos) else None
        offset = entry & SWP_OFFSET_MASK
        if si is None or not 0 < offset < si.max:
            return 0
        v = si.swap_map[offset] & ~SWAP_HAS_CACHE
        if v and v < SWAP_MAP_MAX:
            return v  # a plain count (full_count's first case, inlined)
        return si.full_count(offset)

    def folio_swapped(self, folio: Folio) -> bool:
        """Models: ``folio_swapped()``: does any page table still reference the folio's slots?"""
        si = self.devices.swap_type_to_swap_info(swp_type(folio.swap))
        if si is None:
            return False
        off = swp_offset(folio.swap)
        if not folio.order and off < len(si.swap_map):
            return bool(si.swap_map[off] & ~SWAP_HAS_CACHE)
        # any(v & ~SWAP_HAS_CACHE): a slot other than free or cache-only (see
        # _swap_only_has_cache for why no generator).
        seg = si.swap_map[off:off + folio.nr_pages]
        return seg.count(0) + seg.count(SWAP_HAS_CACHE) != len(seg)

    # -- zeromap ----------------------------------------------------------------------------
    def _zeromap_test(self, type_: int, off: int) -> bool:
        return bool(self.zeromap[type_][off >> 3] >> (off & 7) & 1)

    def swap_zeromap_folio_set(self, folio: Folio) -> None:
        """Models: ``swap_zeromap_folio_set()``: mark the slots zero, count ``swpout_zero``."""
        type_, off = swp_type(folio.swap), swp_offset(folio.swap)
        zmap = self.zeromap[type_]
        for o in range(off, off + folio.nr_pages):
            zmap[o >> 3] |= 1 << (o & 7)
        self.count_event("swpout_zero", folio.nr_pages, folio.memcg_id)

    def swap_zeromap_folio_clear(self, folio: Folio) -> None:
        """Models: ``swap_zeromap_folio_clear()``."""
        entry = folio.swap
        off = entry & SWP_OFFSET_MASK
        zmap = self.zeromap[entry >> SWP_TYPE_SHIFT]
        for o in range(off, off + folio.nr_pages):
            zmap[o >> 3] &= ~(1 << (o & 7))

    def swap_zeromap_batch(self, entry: SwpEntry, max_nr: int) -> tuple[int, bool]:
        """Models: ``swap_zeromap_batch()``: length of the prefix sharing the first slot's
        zero status, and that status."""
        off = entry & SWP_OFFSET_MASK
        zmap = self.zeromap[entry >> SWP_TYPE_SHIFT]
        first = bool(zmap[off >> 3] >> (off & 7) & 1)
        n = 1
        while n < max_nr and bool(zmap[(off + n) >> 3] >> ((off + n) & 7) & 1) == first:
            n += 1
        return n, first

    # -- I/O ----------------------------------------------------------------------------------
    def swapped_page_locations(self) -> tuple[int, int]:
        """Zero pages are the zeromap's set bits; device pages are the used slots that hold
        neither a zero page nor a zswap page (both of which also occupy a slot here)."""
        zero = sum(int.from_bytes(zmap, "little").bit_count() for zmap in self.zeromap.values())
        zswapped = self.zswap.statistics().stored_pages if self.zswap is not None else 0
        inuse = sum(si.inuse_pages for si in self.devices.devices())
        return zero, max(inuse - zero - zswapped, 0)

    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]:
        """Every used slot but hibernation's: (entry, full swap count, ``SWAP_HAS_CACHE``
        set)."""
        for si in self.devices.devices():
            smap = si.swap_map
            hib = si.hibernation_slots
            for off in range(1, si.max):
                b = smap[off]
                if b and b != si.map_bad and off not in hib:
                    yield (swp_entry(si.type, off), si.full_count(off),
                           bool(b & SWAP_HAS_CACHE))

    def swap_peek_entry(self, entry: SwpEntry) -> bytes | None:
        """The stored page of ``entry``: zeromap, then zswap, then the slot on the device."""
        type_, off = swp_type(entry), swp_offset(entry)
        si = self.devices.swap_type_to_swap_info(type_)
        if si is None or not 0 < off < si.max or not si.swap_map[off]:
            return None
        if self._zeromap_test(type_, off):
            return bytes(PAGE_SIZE)
        if self.zswap is not None:
            info = self.zswap.lookup(entry)
            if info is not None:
                return self.zswap.zswap_decompress(info.id)
        return bytes(si.storage.read_page(off))

    def swap_writepage_fallback(self, folio: Folio) -> int:
        """Write the folio to the slots reserved at ``folio_alloc_swap`` (always possible)."""
        self.swap_writepage_device(folio)
        return 0

    def swap_writepage_device(self, folio: Folio) -> None:
        """Models: ``__swap_writepage()``: the folio goes to its slots (synchronously here)."""
        si, offset = self._swap_info_get(folio.swap)
        folio.writeback = True
        self.device_write(si, offset, folio)
        folio.writeback = False

    def swap_read_folio(self, folio: Folio) -> bool:
        """Fill a locked swap-cache folio from wherever its data is.

        Models: ``swap_read_folio()``: the zeromap (``swpin_zero``, no I/O), then zswap
        (``zswpin``), then the device (``pswpin``). Returns True with the folio uptodate, or
        False for a read error (a large folio only partly zero, or in zswap), which the fault
        turns into SIGBUS.
        """
        entry = folio.swap
        nr = folio.nr_pages
        n, is_zero = self.swap_zeromap_batch(entry, nr)
        if n != nr:
            return False
        if is_zero:
            folio.data[:] = bytes(len(folio.data))
            folio.uptodate = True
            self.count_event("swpin_zero", nr, folio.memcg_id)
            return True
        if self.zswap is not None:
            found = self.zswap.zswap_load(folio)
            if found:
                return bool(folio.uptodate)
        si, offset = self._swap_info_get(entry)
        if not self.device_read(si, offset, folio):
            return False
        folio.uptodate = True
        return True

    # -- accounting ---------------------------------------------------------------------------
    def entry_leftovers(self) -> list[str]:
        """Nothing beyond the used slots: the slot *is* the entry."""
        return []

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel would spend on this design's swap metadata, by structure."""
        out = self.device_metadata_bytes()
        nr_slots = sum(si.max for si in self.devices.devices())
        out["swap_cgroup"] = nr_slots * sizes.SWAP_CGROUP_BYTES_PER_SLOT
        out["zeromap"] = sum(sizes.bitmap_bytes(si.max) for si in self.devices.devices())
        out["swap_cache_address_spaces"] = sum(
            -(-si.max // (1 << SWAP_ADDRESS_SPACE_SHIFT)) for si in self.devices.devices()
        ) * sizes.ADDRESS_SPACE_BYTES
        out["swap_cache_xarray"] = self.swap_cache.metadata_bytes()
        if self.zswap is not None:
            for k, v in self.zswap.metadata_bytes().items():
                out[f"zswap_{k}"] = v
        return out

    def check_invariants(self) -> None:
        """Raise AssertionError unless the design's invariants hold.

        Beyond each device's own invariants: every folio in the swap cache has
        ``SWAP_HAS_CACHE`` on all its slots, and every slot with ``SWAP_HAS_CACHE`` and no count
        is either in the cache or pinned by a swap-in in progress (not checked: transient).
        """
        for dev in self.devices.devices():
            dev.check_invariants()
        self.swap_cache.check_invariants()
        for folio in self.swap_cache.folios():
            si = self.devices.swap_type_to_swap_info(swp_type(folio.swap))
            assert si is not None, f"{folio!r} cached for a device that is gone"
            off = swp_offset(folio.swap)
            for o in range(off, off + folio.nr_pages):
                assert si.swap_map[o] & SWAP_HAS_CACHE, (
                    f"cached slot {si.type}:{o} lacks the cache flag")


if TYPE_CHECKING:
    def _implements(d: ClassicSwap) -> tuple[SwapDesign, ZswapHost, SlotOwner]:
        """Static check (mypy): the class satisfies the swap API, zswap's host protocol and
        the devices' owner protocol."""
        return d, d, d
