"""What every virtual swap design shares: page tables hold a virtual slot, a descriptor
says where the data is.

Models: the parts of mm/vswap.c, mm/page_io.c and mm/memcontrol.c that read the same in
"[RFC PATCH v2 00/18] Virtual Swap Space" (Nhat Pham, 2025-04-29) and "[PATCH v6 00/22]"
(2026-05-05): ``swapon`` without zeromap, swap_cgroup or zswap trees of slots;
``swp_entry_to_swp_slot()`` / ``swp_slot_to_swp_entry()``; the memcg split of RFC patch 14
(record the owner at virtual allocation, charge ``memory.swap`` only for physical slots);
``swap_slot_free_nr()``; ``swap_read_folio()`` by the descriptor's backend (zero ->
zswap -> lazily allocated physical slot, patch 12) and ``__swap_writepage()``;
``vswap_get_device()``. The pieces live where the kernel keeps them:

* the descriptors and the virtual slot allocator: a table behind
  :class:`~vswap.swap.vswap_table.VswapTable` (:mod:`vswap.swap.vswap_desc` for RFC v2,
  :mod:`vswap.swap.vswap_v6_table` for v6);
* the reverse map: :mod:`vswap.swap.vswap_rmap`;
* swapoff (mm/swapfile.c's ``try_to_unuse``): :mod:`vswap.swap.vswap_swapoff`;
* zswap's host: :class:`~vswap.swap.vswap_zswap.VswapZswapHost`, to which the
  :class:`~vswap.zswap.zswap.ZswapHost` methods forward;
* what differs by version (the lifetime counts, allocation, release of backing, the
  reclaim of cache-only slots): a short subclass, :class:`~vswap.swap.vswap.VirtualSwap`
  (RFC v2) or :class:`~vswap.swap.vswap_v6.VirtualSwapV6`.

Descriptor states and their transitions are :class:`~vswap.swap.vswap_desc.SwapType`.
Physical slots keep the shared allocator (:mod:`vswap.swap.swapfile`) with three states per
slot (free, ``SWAP_MAP_ALLOCATED``, ``SWAP_MAP_BAD`` = 2); the design is each device's
:class:`~vswap.swap.swapfile.SlotOwner`. Bad input raises
:class:`~vswap.kernel.errors.KernelError` before any state changes.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from typing import TYPE_CHECKING, Final, Generic, TypeVar

from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MAX, MemCgroup
from vswap.kernel.types import (
    PAGE_SIZE,
    SWAPFILE_CLUSTER,
    SwpEntry,
    SwpSlot,
    swp_slot_offset,
    swp_slot_type,
)
from vswap.swap._api import AOP_WRITEPAGE_ACTIVATE, SwapHooks, SwapoffResult
from vswap.swap._base import SwapDesignBase
from vswap.swap.folio_slots import folio_slots, mixed_read_folio, scatter_write, slot_runs
from vswap.swap.swap_state import SwapCache
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED, SwapDevices, SwapInfo
from vswap.swap.vswap_desc import SwapType
from vswap.swap.vswap_rmap import VswapRmap
from vswap.swap.vswap_swapoff import vswap_sys_swapoff
from vswap.swap.vswap_table import VswapTable
from vswap.swap.vswap_zswap import VswapZswapHost, wb_decompress, wb_decompress_page

if TYPE_CHECKING:
    from vswap.swap.storage import SwapStorage
    from vswap.zswap.host import WbPage

SWAPFILE: Final = SwapType.VSWAP_SWAPFILE
ZERO: Final = SwapType.VSWAP_ZERO
ZSWAP: Final = SwapType.VSWAP_ZSWAP
FOLIO: Final = SwapType.VSWAP_FOLIO

# The table and reverse map of a design, as type parameters rather than attributes a subclass
# re-declares with a narrower type: mypyc (vswap.compile) rejects a narrowed attribute.
TableT = TypeVar("TableT", bound=VswapTable)
RmapT = TypeVar("RmapT", bound=VswapRmap)


class VirtualSwapBase(SwapDesignBase, Generic[TableT, RmapT]):
    """The shared steps of the virtual swap designs.

    Args:
        env, devices, swap_cache, hooks: as for :class:`SwapDesignBase`.
        table: the descriptor table and allocator.
        rmap: the reverse map of physical slots.
        zswap_tree_key: ``swap_zswap_tree()`` of the design (see :class:`VswapZswapHost`).
    """

    table: TableT
    rmap: RmapT
    #: ``/sys/kernel/mm/swap/discontig_swapout`` (model only, :mod:`vswap.swap.folio_slots`)
    #: and the large folios written to scattered slots.
    discontig_swapout = False
    discontig_swpout = 0
    #: ``/sys/kernel/mm/swap/mixed_swapin`` (model only): a large folio is read from mixed
    #: backends (:func:`~vswap.swap.folio_slots.mixed_read_folio`); the folios read so,
    #: and their pages per backend.
    mixed_swapin = False
    mixed_swpin = 0
    mixed_runs: Counter[str]
    #: Slots holding a compressed object (``writeback_compressed``, model only): slot value
    #: -> (compressed length, compressor, CRC32 of the page or 0). Dropped when the slot is
    #: freed; read back through :func:`~vswap.swap.vswap_zswap.wb_decompress`.
    wb_compressed: dict[int, tuple[int, str, int]]

    def __init__(self, *, env: KernelEnv, devices: SwapDevices, swap_cache: SwapCache,
                 hooks: SwapHooks | None, table: TableT, rmap: RmapT,
                 zswap_tree_key: Callable[[SwpEntry], Hashable]) -> None:
        super().__init__(env=env, devices=devices, swap_cache=swap_cache, hooks=hooks)
        self.table = table
        self.rmap = rmap
        self.zswap_host = VswapZswapHost(self, zswap_tree_key)
        self.mixed_runs = Counter()
        self.wb_compressed = {}

    def _warn(self, msg: str) -> None:
        """``VM_WARN_ON``: the env's warning helper (an AssertionError under ``debug_vm``)."""
        self.env.warn(msg)

    # -- what the versions define --------------------------------------------------------
    @abc.abstractmethod
    def release_backing(self, entry: SwpEntry, nr: int) -> None:
        """Models: ``release_backing()``: drop whatever backs ``nr`` descriptors (zswap
        entry, or physical slot with its reverse map and charge); they end SWAPFILE(0)."""

    @abc.abstractmethod
    def vswap_store_folio(self, entry: SwpEntry, folio: Folio) -> None:
        """Models: ``vswap_store_folio()``: release the backing; the folio is the backend."""

    @abc.abstractmethod
    def vswap_assoc_zswap(self, entry: SwpEntry, zentry: int) -> None:
        """Models: ``vswap_assoc_zswap()``: one descriptor -> ZSWAP(zentry)."""

    @abc.abstractmethod
    def vswap_alloc_swap_slot(self, folio: Folio, preset: int = 0) -> SwpSlot:
        """Models: ``vswap_alloc_swap_slot()``: physical slots for a folio's descriptors
        (charged to the recorded owner); the first, or 0 with nothing changed. ``preset``:
        an order-0 folio's slot already taken (batched zswap writeback)."""


    @abc.abstractmethod
    def vswap_swapoff(self, entry: SwpEntry, folio: Folio, slot: SwpSlot) -> int:
        """Models: ``vswap_swapoff()``: repoint the descriptors of ``folio`` that are on
        ``slot``'s dying device to the folio (T9); returns how many. Context: folio locked,
        in the swap cache at ``entry``."""

    def hibernation_slot_free(self, si: SwapInfo, offset: int) -> None:
        """Models: ``swap_slot_free_nr()`` from ``free_all_swap_pages()`` (seed patch 05):
        the physical slot goes back to the device; no descriptor, reverse-map owner or memcg
        was ever involved."""
        if si.swap_map[offset] != SWAP_MAP_ALLOCATED:
            raise AssertionError(f"freeing hibernation slot {si.type}:{offset} in state "
                                 f"{si.swap_map[offset]:#x}")
        self._swap_range_free(si, offset, 1)

    def _swap_range_free(self, si: SwapInfo, off: int, n: int) -> None:
        """Free a contiguous run of one physical cluster (the design may add its reverse-map
        step); the slots' states are checked and their owners uncharged by the caller."""
        self.devices.swap_range_free(si, off, n)

    @abc.abstractmethod
    def _check_desc(self, e: int, ty: int) -> None:
        """The version's own invariants of live descriptor ``e`` (its references, FOLIO
        payload, reverse-map mark), for :meth:`check_invariants`."""

    @abc.abstractmethod
    def _cache_pinned(self, e: int) -> bool:
        """Does ``e`` hold its swap-cache pin?"""

    # -- devices -----------------------------------------------------------------------------
    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               blkdev: bool | None = None, solidstate: bool = True) -> SwapInfo:
        """Models: ``sys_swapon()`` under vswap: no swap_cgroup, no zeromap (RFC patch 18),
        no zswap trees of slots; a reverse-map column per device instead."""
        header = storage.header
        kind = storage.kind
        if blkdev is None:
            blkdev = kind != "file"
        si = self.devices.add_device(
            storage, nr_pages=header.last_page + 1, bad_pages=tuple(header.bad_pages),
            prio=prio, solidstate=solidstate, blkdev=blkdev,
            name=storage.name, kind="file" if kind == "file" else "partition", owner=self)
        self.rmap.swapon(si)
        return si

    def find_device(self, name_or_type: str | int) -> SwapInfo:
        """The swapped-on device of that name or type, or KernelError(EINVAL)."""
        for si in self.devices.devices():
            if si.type == name_or_type or si.name == name_or_type:
                return si
        raise KernelError(Errno.EINVAL, f"swapoff: {name_or_type} is not a swap device")

    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Swap a device off without touching a page table (:mod:`vswap.swap.vswap_swapoff`).

        Raises:
            KernelError(EINVAL): no such device.
        """
        return vswap_sys_swapoff(self, name_or_type, signal_pending)

    def entry_needs_device(self, entry: SwpEntry) -> bool:
        """Under vswap an entry without a device is simply not on disk."""
        return False

    def swp_entry_to_swp_slot(self, entry: SwpEntry) -> SwpSlot:
        """Models: ``swp_entry_to_swp_slot()`` (vswap): the slot of a live SWAPFILE
        descriptor; 0 for any other backend, an unbacked, dead or never-allocated id."""
        e = int(entry)
        t = self.table
        if not t.is_live(e) or t.type[e] != SWAPFILE:
            return SwpSlot(0)
        return SwpSlot(t.slot_of(e))

    def swp_slot_to_swp_entry(self, slot: SwpSlot) -> SwpEntry:
        """Models: ``swp_slot_to_swp_entry()`` (vswap): the reverse map; 0 if no owner."""
        return SwpEntry(self.rmap.owner(swp_slot_type(slot), swp_slot_offset(slot)))

    # -- memcg: the owner is recorded at allocation, only physical slots are charged ----------
    def lookup_swap_cgroup_id(self, entry: SwpEntry) -> int:
        """Models: ``lookup_swap_cgroup_id()`` (vswap): ``memcgid`` of a live id, else 0."""
        e = int(entry)
        return self.table.memcgid[e] if self.table.is_live(e) else 0

    def _mem_cgroup_try_charge_swap(self, memcg_id: int, nr: int) -> bool:
        """Models: ``__mem_cgroup_try_charge_swap()`` (RFC patch 14): charge the *recorded*
        owner (not the folio's memcg); the root is never charged. A limit hit raises
        ``memory.swap.events`` max and fail and charges nothing."""
        memcg = self.memcg_of(memcg_id)
        if memcg is None:
            return True
        if memcg.parent is not None and not memcg.try_charge_swap(nr):
            return False
        memcg.stat["swap"] += nr
        return True

    def _mem_cgroup_uncharge_swap(self, memcg_id: int, nr: int) -> None:
        """Models: ``__mem_cgroup_uncharge_swap()`` (RFC patch 14) of physical slots: the id
        is looked up, not cleared (clearing is ``mem_cgroup_unrecord_swap``)."""
        memcg = self.memcg_of(memcg_id)
        if memcg is not None:
            if memcg.parent is not None:
                memcg.uncharge_swap(nr)
            memcg.stat["swap"] -= nr

    def mem_cgroup_get_nr_swap_pages(self, memcg: MemCgroup | None) -> int:
        """Swap pages ``memcg`` may still use; memcg reclaim treats anon as reclaimable if > 0.

        Models: ``mem_cgroup_get_nr_swap_pages()`` after RFC patch 14: unlimited
        (``PAGE_COUNTER_MAX``) while zswap is enabled and the cgroup may zswap, because zswap
        is not charged to ``memory.swap``; otherwise free physical swap clamped by every
        non-root ancestor's ``swap.max`` headroom.
        """
        zswap = self.zswap
        if zswap is not None and zswap.zswap_is_enabled() and (
                memcg is None or memcg.obj_cgroup_may_zswap()):
            return MAX
        nr = self.devices.nr_swap_pages
        m = memcg
        while m is not None and m.parent is not None:
            nr = min(nr, m.swap.max - m.swap.usage)
            m = m.parent
        return nr

    # -- backing ----------------------------------------------------------------------------
    def _swap_slot_free(self, freed: list[tuple[int, int]]) -> None:
        """Return physical slots and uncharge their owners.

        Models: ``swap_slot_free_nr()`` (one physical cluster lock section per contiguous
        run) + the batched ``mem_cgroup_uncharge_swap()``. ``freed`` holds (slot value,
        memcg id).
        """
        freed.sort()
        if self.wb_compressed:
            for s, _ in freed:
                self.wb_compressed.pop(s, None)
        # A dict, not a Counter: Counter() runs Python code per call, even compiled.
        by_memcg: dict[int, int] = {}
        i = 0
        while i < len(freed):
            s, _ = freed[i]
            type_, off = swp_slot_type(SwpSlot(s)), swp_slot_offset(SwpSlot(s))
            si = self.devices.swap_type_to_swap_info(type_)
            if si is None:
                raise KernelError(Errno.EINVAL, f"freeing slot {s:#x} of no device")
            n = 1
            while (i + n < len(freed) and freed[i + n][0] == s + n
                   and (off + n) // SWAPFILE_CLUSTER == off // SWAPFILE_CLUSTER):
                n += 1
            for k in range(n):
                if si.swap_map[off + k] != SWAP_MAP_ALLOCATED:
                    raise AssertionError(f"freeing slot {type_}:{off + k} in state "
                                         f"{si.swap_map[off + k]:#x}")
                m = freed[i + k][1]
                by_memcg[m] = by_memcg.get(m, 0) + 1
            self._swap_range_free(si, off, n)
            i += n
        for memcg_id, n in by_memcg.items():
            self._mem_cgroup_uncharge_swap(memcg_id, n)

    def swap_zeromap_folio_clear(self, folio: Folio) -> None:
        """Models: ``swap_zeromap_folio_clear()`` (vswap) = ``vswap_store_folio``."""
        self.vswap_store_folio(folio.swap, folio)

    # -- lifetime steps that read the same in every version --------------------------------
    def swap_duplicate(self, entry: SwpEntry) -> int:
        """Models: ``swap_duplicate()`` (vswap): one more page-table reference; returns 0
        (D3).

        Raises:
            KernelError(ENOENT / ERANGE): as the design's ``swap_duplicate_nr``; a valid
            caller (fork copying a PTE it holds) never sees them.
        """
        self.swap_duplicate_nr(entry, 1)
        return 0

    @abc.abstractmethod
    def swap_duplicate_nr(self, entry: SwpEntry, nr: int) -> None:
        """Models: ``swap_duplicate_nr()``: one page-table reference more on ``nr`` entries,
        all or nothing."""

    def put_swap_folio(self, folio: Folio, entry: SwpEntry) -> None:
        """Models: ``put_swap_folio()`` (vswap): drop the cache pin of each page of the folio.

        Context: folio locked (``VM_WARN_ON`` otherwise).
        """
        if not folio.locked:
            self._warn("put_swap_folio: folio not locked")
        self.swapcache_clear(entry, folio.nr_pages)

    def swapin_pinned_ok(self, entry: SwpEntry) -> bool:
        """RFC patch 12's guard in ``__read_swap_cache_async()``: once pinned, a FOLIO-backed
        entry whose folio is not in the swap cache is transient (reading "storage" would be
        bogus): drop the pin; the caller retries."""
        n, ty = self.vswap_check_backing(entry, 1)
        if n == 1 and ty == FOLIO:
            self.swapcache_clear(entry, 1)
            return False
        return True

    def vswap_check_backing(self, entry: SwpEntry, nr: int) -> tuple[int, SwapType]:
        """Models: ``vswap_check_backing()``: the prefix of ``entry .. +nr`` backed like the
        first id, and that type; ``(0, SWAPFILE)`` when the first id is not live (the
        table's :meth:`~vswap.swap.vswap_table.VswapTable.check_backing`)."""
        return self.table.check_backing(int(entry), nr)

    def swp_swapcount(self, entry: SwpEntry) -> int:
        """Models: ``swp_swapcount()`` (vswap): the descriptor's count; 0 for a dead id."""
        e = int(entry)
        return self.table.swap_count_of(e) if self.table.is_live(e) else 0

    def folio_swapped(self, folio: Folio) -> bool:
        """Models: ``folio_swapped()`` (vswap): some id of the folio has a count > 0."""
        if not folio.swap:
            return False
        t = self.table
        e0 = int(folio.swap)
        return any(t.is_live(e) and t.swap_count_of(e) for e in range(e0, e0 + folio.nr_pages))

    def cache_only_slots_possible(self, si: SwapInfo) -> bool:
        """Only a folio in the swap cache can be reclaimed: with none, skip the scan."""
        return bool(self.swap_cache.nr_pages)

    # -- I/O (mm/page_io.c) -------------------------------------------------------------------
    def swap_writepage_fallback(self, folio: Folio) -> int:
        """Allocate physical slots on demand and write (RFC patches 12, 14).

        ``vswap_alloc_swap_slot`` charges ``memory.swap``; with no room on any device or
        ``memory.swap.max`` hit the descriptors stay FOLIO and the folio is kept
        (``AOP_WRITEPAGE_ACTIVATE``): it is then the only copy, in the swap cache.
        The zero, zswap and writeback-disabled steps before this are the shared
        :meth:`SwapDesignBase.swap_writepage`; a zero folio becomes ZERO and a stored one
        ZSWAP, with no slot.
        """
        slot = self.vswap_alloc_swap_slot(folio)
        if not slot:
            return AOP_WRITEPAGE_ACTIVATE
        self.swap_writepage_device(folio, slot)
        return 0

    def swap_writepage_device(self, folio: Folio, slot: SwpSlot) -> None:
        """Models: ``__swap_writepage()``: the folio goes to its slots (synchronously)."""
        si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
        assert si is not None
        folio.writeback = True
        slots = folio_slots(self, folio) if folio.order and self.discontig_swapout else []
        if slots and len(slot_runs(slots)) > 1:
            scatter_write(self, folio, slots)
        else:
            self.device_write(si, swp_slot_offset(slot), folio)
        folio.writeback = False

    def swap_read_folio(self, folio: Folio) -> bool:
        """Fill a locked swap-cache folio from its backend.

        Models: ``swap_read_folio()`` (RFC patch 12 order; v6): ZERO -> zero-fill,
        ``swpin_zero``, descriptor unchanged; ZSWAP -> ``zswap_load`` (exclusive in the swap
        cache: the descriptor becomes FOLIO, the folio dirty); SWAPFILE -> device read,
        ``pswpin``, descriptor unchanged. A range with mixed backing, a FOLIO entry (whose
        folio never misses the cache), an unbacked or dead entry is a read error.

        Returns:
            True with the folio uptodate, or False (an I/O error: the fault raises SIGBUS).

        Raises:
            KernelError(EIO): zswap's stored bytes failed to decompress.
        """
        if folio.order and self.mixed_swapin:
            return mixed_read_folio(self, folio)
        entry = folio.swap
        nr = folio.nr_pages
        n, ty = self.vswap_check_backing(entry, nr)
        if n != nr:
            return False
        if ty == ZERO:
            folio.data[:] = bytes(len(folio.data))
            folio.uptodate = True
            self.count_event("swpin_zero", nr, folio.memcg_id)
            return True
        if ty == ZSWAP:
            if self.zswap is None:
                self._warn("swap_read_folio: ZSWAP descriptor without zswap")
                return False
            if self.zswap.zswap_load(folio):
                return bool(folio.uptodate)
            self._warn("swap_read_folio: ZSWAP descriptor with no zswap entry")
            return False
        if ty == SWAPFILE:
            slot = self.table.slot_of(int(entry))
            if not slot:
                return False
            si = self.devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(slot)))
            if si is None:
                return False
            if self.zswap is not None:
                self.zswap.zswap_folio_swapin(folio)
            if not self.device_read(si, swp_slot_offset(SwpSlot(slot)), folio):
                return False
            if self.wb_compressed:
                wb_decompress(self, folio, 0, list(range(slot, slot + nr)))
            folio.uptodate = True
            return True
        return self.table.folio_of(int(entry)) is folio and folio.uptodate

    # -- checkers and reports ------------------------------------------------------------------
    def swapped_page_locations(self) -> tuple[int, int]:
        """Live ZERO descriptors, and live SWAPFILE descriptors with a slot."""
        return self.table.swapped_page_locations()

    def live_swap_entries(self) -> Iterator[tuple[SwpEntry, int, bool]]:
        """Every live virtual id: (entry, swap count, cache pin)."""
        for e, count, cached in self.table.live_entries():
            yield SwpEntry(e), count, cached

    def swap_peek_entry(self, entry: SwpEntry) -> bytes | None:
        """The stored page of ``entry`` by its descriptor's backend: ZERO, ZSWAP or a
        SWAPFILE slot (FOLIO and unbacked entries have no backend copy: None)."""
        e = int(entry)
        t = self.table
        if not t.is_live(e):
            return None
        ty = t.type[e]
        if ty == ZERO:
            return bytes(PAGE_SIZE)
        if ty == ZSWAP:
            return self.zswap._decompress(t.zswap_of(e)) if self.zswap is not None else None
        if ty == SWAPFILE and t.slot_of(e):
            slot = SwpSlot(t.slot_of(e))
            si = self.devices.swap_type_to_swap_info(swp_slot_type(slot))
            if si is None:
                return None
            page = bytes(si.storage.read_page(swp_slot_offset(slot)))
            if int(slot) in self.wb_compressed:
                return wb_decompress_page(self, int(slot), page)
            return page
        return None

    @property
    def vswap_used(self) -> int:
        """debugfs ``vswap/used``: live virtual slots."""
        return self.table.used

    @property
    def vswap_alloc_reject(self) -> int:
        """debugfs ``vswap/alloc_reject``: pages whose virtual allocation failed."""
        return self.table.alloc_reject

    def debugfs(self) -> dict[str, int]:
        """The ``/sys/kernel/debug/vswap/`` files."""
        return {"used": self.table.used, "alloc_reject": self.table.alloc_reject}

    def entry_leftovers(self) -> list[str]:
        """Live descriptors and zswap writebacks still in flight."""
        out = []
        if self.table.used:
            out.append(f"{self.table.used} live vswap descriptors")
        if self.zswap_host.wb_pending:
            out.append(f"{len(self.zswap_host.wb_pending)} pending zswap writebacks")
        return out

    def check_invariants(self) -> None:
        """Raise AssertionError unless the design's invariants hold (quiescent points).

        The table's, each device's, the swap cache's and the reverse map's; every live
        descriptor passes the version's checks (:meth:`_check_desc`: references, FOLIO
        payload) and has a valid backend (SWAPFILE(s): the slot ALLOCATED and the reverse
        map names the id; ZSWAP: zswap holds its entry at the id); a cached folio's ids are
        live and pinned; zswap holds one entry per ZSWAP descriptor and writeback in
        flight; a slot holding a compressed object has a live SWAPFILE owner; each
        non-root memcg's ``memory.swap`` equals its SWAPFILE-backed entries.
        """
        t = self.table
        t.check_invariants()
        for dev in self.devices.devices():
            dev.check_invariants()
        self.swap_cache.check_invariants()
        charged: Counter[int] = Counter()
        nr_zswap = 0
        for e in t.live_ids():
            ty = t.type[e]
            self._check_desc(e, ty)
            if ty == SWAPFILE:
                s = t.slot_of(e)
                assert s, f"live id {e:#x} unbacked at a quiescent point"
                type_, off = swp_slot_type(SwpSlot(s)), swp_slot_offset(SwpSlot(s))
                si = self.devices.swap_type_to_swap_info(type_)
                assert si is not None, f"{e:#x} on device {type_} that is gone"
                assert si.swap_map[off] == SWAP_MAP_ALLOCATED, f"{e:#x}: slot not ALLOCATED"
                assert self.rmap.owner(type_, off) == e, f"{e:#x}: rmap[{type_}:{off}] wrong"
                charged[t.memcgid[e]] += 1
            elif ty == ZSWAP:
                nr_zswap += 1
                assert t.zswap_of(e), f"ZSWAP id {e:#x} without an entry"
                if self.zswap is not None:
                    info = self.zswap.lookup(SwpEntry(e))
                    assert info is not None and info.id == t.zswap_of(e), (
                        f"ZSWAP id {e:#x}: zswap does not hold its entry")
            elif ty != FOLIO:
                assert ty == ZERO, f"id {e:#x}: bad type {ty}"
        self.rmap.check_invariants(self.devices, t)
        for s in self.wb_compressed:
            type_, off = swp_slot_type(SwpSlot(s)), swp_slot_offset(SwpSlot(s))
            e = self.rmap.owner(type_, off)
            assert e and t.is_live(e) and t.type[e] == SWAPFILE and t.slot_of(e) == s, (
                f"compressed slot {type_}:{off} without a SWAPFILE owner")
        for folio in self.swap_cache.folios():
            for e in range(int(folio.swap), int(folio.swap) + folio.nr_pages):
                assert t.is_live(e) and self._cache_pinned(e), (
                    f"cached id {e:#x} without a cache pin")
        if self.zswap is not None:
            total = sum(self.zswap.tree_entry_counts().values())
            pending = len(self.zswap_host.wb_pending)
            assert total == nr_zswap + pending, (
                f"zswap holds {total} entries, {nr_zswap} ZSWAP descriptors")
        for memcg in self.memcgs:
            if memcg.parent is None:
                continue
            assert memcg.swap.local == charged.get(memcg.id, 0), (
                f"{memcg.path}: memory.swap local {memcg.swap.local} != "
                f"{charged.get(memcg.id, 0)} SWAPFILE entries")

    # -- zswap host (ZswapHost), implemented by self.zswap_host ------------------------------
    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """See :meth:`VswapZswapHost.zswap_tree_key`."""
        return self.zswap_host.zswap_tree_key(entry)

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """See :meth:`VswapZswapHost.zswap_tree_index`."""
        return self.zswap_host.zswap_tree_index(entry)

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """See :meth:`VswapZswapHost.zswap_entry_stored`."""
        self.zswap_host.zswap_entry_stored(entry, zentry)

    def zswap_store_undone(self, folio: Folio) -> None:
        """See :meth:`VswapZswapHost.zswap_store_undone`."""
        self.zswap_host.zswap_store_undone(folio)

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """See :meth:`VswapZswapHost.zswap_loaded_exclusive`."""
        self.zswap_host.zswap_loaded_exclusive(folio)

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """See :meth:`VswapZswapHost.zswap_writeback_prepare`."""
        return self.zswap_host.zswap_writeback_prepare(entry)

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """See :meth:`VswapZswapHost.zswap_writeback_abort`."""
        self.zswap_host.zswap_writeback_abort(folio, zentry)

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """See :meth:`VswapZswapHost.zswap_writeback_submit`."""
        self.zswap_host.zswap_writeback_submit(folio)

    def zswap_writeback_prepare_batch(self, entry: SwpEntry) -> Folio | Errno:
        """See :meth:`VswapZswapHost.zswap_writeback_prepare_batch`."""
        return self.zswap_host.zswap_writeback_prepare_batch(entry)

    def zswap_writeback_batch(self, pages: list[WbPage]) -> tuple[list[int], list[int]]:
        """See :meth:`VswapZswapHost.zswap_writeback_batch`."""
        return self.zswap_host.zswap_writeback_batch(pages)

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """See :meth:`VswapZswapHost.zswap_writeback_possible`."""
        return self.zswap_host.zswap_writeback_possible(memcg)
