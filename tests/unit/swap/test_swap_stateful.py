"""One design-level state machine, run on every registered design (``vswap.swap.DESIGNS``).

A design gets this stateful test the day it is registered: the machine drives it through the
swap API only (:class:`vswap.swap.SwapDesign`), the way reclaim and the fault path do:
``add_to_swap`` of folios of orders 0-2 (zero, compressible and random bytes, three cgroups:
writeback off, a ``swap.max`` limit), ``swap_duplicate`` (PTEs, fork), ``swap_writepage``
(zero check, zswap store, device write) and ``__remove_mapping``, faults through
``read_swap_cache_async`` + ``swap_read_folio`` (zswap load, device read), unmaps through
``free_swap_and_cache_nr``, swap-in races on ``swapcache_prepare``, zswap writeback, zswap
on/off, two devices (a small one that fills, a big one with whole clusters), swapoff of one
and swapon of a small or a big one (with the page-table walk of ``SwapHooks.unuse_ptes`` for
the designs that need one), two CPUs taking turns, a drain of every swapped page, and swap
tier moves of a page to the other device (``SwapHooks.move_swap_ptes`` for the slot
designs), also with the target full (``device_full``), swapfile compaction of every device
(also stopped by a full device), a hibernation image held in physical slots
(``swap_slot_alloc_of_type``) while the other rules run, read back and freed
(``swap_slot_free_nr``) at resume, batched (and compressed) zswap writeback with a write
request failing mid-walk (``device_write``), the migration and split of a parked swap-cache
folio (``swap_cache_replace_folio``), and ``UFFDIO_MOVE``'s swap side (``trylock_swapoff``,
the swap-cache folio lock or ``-EBUSY`` for a large one, ``unlock_swapoff``).

The oracle is a plain dict of pages: their bytes, how many PTEs hold their swap entries and
whether writepage parked their folio in the swap cache. After every step:
``check_invariants()`` of the design and of zswap hold; ``live_swap_entries()`` is exactly
the oracle's entries with the oracle's swap counts and cache pins (``swp_swapcount`` agrees);
every page read back equals what was written; and once no page is swapped, ``leftovers()``
is empty.

Design-specific rules and invariants are :data:`EXTRAS` (``vswap-v6``'s CPU hot-unplug and
its v3-like option set, the virtual designs' ``vswap_used``, and for them and ``vswap-ste``
discontiguous large-folio swap-out and mixed-backing large-folio reads; ``vswap-ste``'s
tier moves right after a zswap writeback, and its small vswap space that makes
direct-mapped entries); :data:`OPTIONS`
gives a design small tables so that clusters fill, are shared and are freed within a few
steps. A design absent from both runs with its defaults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from vswap.errors import ConfigError
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.folio import Folio
from vswap.kernel.types import (
    PAGE_SIZE,
    SWAPFILE_CLUSTER,
    SwpEntry,
    SwpSlot,
    swp_entry,
    swp_offset,
    swp_type,
)
from vswap.swap import (
    AOP_WRITEPAGE_ACTIVATE,
    DESIGNS,
    SwapDesign,
    SwapHooks,
    SwapoffResult,
    create_design,
)
from vswap.swap.compaction import swap_compact
from vswap.swap.storage import MemSwapStorage
from vswap.swap.tier_move import move_entries, tier_moves_unsupported
from vswap.zswap.host import WB_BATCH_DESIGNS, WB_COMPRESSED_DESIGNS
from vswap.zswap.zswap import Zswap

#: Slots of a small swap device: it fills within a few steps.
DEVICE_PAGES = 48
#: Slots of a big one: two whole clusters, so the classic allocator can give a large folio
#: contiguous slots (it takes them from a free cluster). The machine starts with one of each.
BIG_DEVICE_PAGES = 2 * SWAPFILE_CLUSTER + 1


@dataclass
class Page:
    """One anonymous folio as the oracle sees it."""

    data: bytes
    order: int
    memcg_id: int
    entry: int = 0                  # 0: resident, not swapped
    ptes: int = 0                   # swap PTEs holding each of its entries
    #: Page index -> the folio the swap cache keeps for that entry (writepage activated the
    #: folio, or swapoff brought the page back into memory).
    parked: dict[int, Folio] = field(default_factory=dict)
    folio: Folio | None = None      # the resident folio
    #: Swapped out by shmem_writepage: its one reference is a tmpfs mapping's
    #: (``swap_shmem_alloc``), which fork never duplicates.
    shmem: bool = False


class DesignMachine(RuleBasedStateMachine):
    """The machine for one design; :func:`machine_for` makes the subclass of each design."""

    design_name: str = ""
    #: Invariant checks run across every example (the test asserts some ran with swapped pages).
    checks_with_swapped_pages: int = 0
    options: dict[str, Any] = {}  # noqa: RUF012 (set per subclass, never mutated)

    def __init__(self) -> None:
        super().__init__()
        self.faults = FaultInjector(seed=0)
        env = KernelEnv(debug_vm=True, faults=self.faults)
        self.d: SwapDesign = create_design(
            self.design_name, env=env, nr_cpus=2,
            hooks=SwapHooks(unuse_ptes=self._unuse_ptes, remap_swap_ptes=self._remap_swap_ptes,
                            move_swap_ptes=self._move_ptes),
            **self.options)
        self.env = env
        self.z: Zswap = self.d.attach_zswap(total_ram_pages=1 << 16)
        self._swapons = 0
        self._swapon(DEVICE_PAGES)
        self._swapon(BIG_DEVICE_PAGES)
        self.nowb = env.memcgs.create("/nowb")
        self.nowb.zswap_writeback = False
        self.limited = env.memcgs.create("/limited")
        self.limited.swap.max = 6
        self.pages: dict[int, Page] = {}
        self.next_id = 0
        #: A hibernation image being written: (slot, bytes) per page, held until resume.
        self.image: list[tuple[int, bytes]] = []

    # -- helpers ---------------------------------------------------------------------------
    def _swapon(self, pages: int) -> None:
        # A memory device is named by its size: one more page each time keeps names apart.
        self._swapons += 1
        self.d.swapon(MemSwapStorage((pages + self._swapons) * PAGE_SIZE))

    def _swapped(self) -> list[int]:
        return sorted(k for k, p in self.pages.items() if p.entry)

    def _resident(self) -> list[int]:
        return sorted(k for k, p in self.pages.items() if not p.entry)

    def _pick_swapped(self, pick: int) -> int:
        swapped = self._swapped()
        return swapped[pick % len(swapped)]

    def _new_resident(self, data: bytes, order: int, memcg_id: int) -> None:
        self.pages[self.next_id] = Page(data, order, memcg_id,
                                        folio=Folio(order, data, memcg_id=memcg_id))
        self.next_id += 1

    def _reclaim(self, folio: Folio) -> None:
        """__remove_mapping of a clean swap-cache folio: out of the cache, pins dropped."""
        folio.folio_lock()
        self.d.delete_from_swap_cache(folio)
        folio.folio_unlock()

    def _fault_in(self, k: int) -> None:
        """Every PTE of page ``k`` faults it in (do_swap_page each), then the swap space is
        freed; the page is resident again, as order-0 pieces."""
        p = self.pages.pop(k)
        nr = 1 << p.order
        for i in range(nr):
            e = SwpEntry(p.entry + i)
            f, new = self.d.read_swap_cache_async(e)
            assert f is not None
            if new:
                assert self.d.swap_read_folio(f)
                f.folio_unlock()
            want = p.data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
            assert bytes(f.data) == (want if f.nr_pages == 1 else p.data), "data loss"
            for _ in range(p.ptes):
                self.d.swap_free_nr(e, 1)
        seen: set[int] = set()
        for i in range(nr):
            f = self.d.swap_cache_get_folio(SwpEntry(p.entry + i))
            if f is not None and id(f) not in seen:
                seen.add(id(f))
                if f.folio_trylock():
                    self.d.folio_free_swap(f)
                    f.folio_unlock()
        for i in range(nr):
            self._new_resident(p.data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE], 0, p.memcg_id)

    def _unuse_ptes(self, type_: int) -> int:
        """``SwapHooks.unuse_ptes`` over the oracle's page tables (try_to_unuse): fault in
        every page with data on device ``type_``; swapoff frees what the cache alone holds."""
        visited = 0
        for k in self._swapped():
            p = self.pages[k]
            slot = self.d.swp_entry_to_swp_slot(SwpEntry(p.entry))
            if slot and swp_type(SwpEntry(slot)) == type_:
                visited += p.ptes << p.order
                self._fault_in(k)
        return visited

    def _remap_swap_ptes(self, type_: int, moves: dict[int, tuple[int, int]]
                         ) -> tuple[int, set[int]]:
        """``SwapHooks.remap_swap_ptes`` over the oracle's page tables (classic compaction):
        an order-0 page whose PTEs number the expected count moves to its new slot; a large
        page's entries stay consecutive in the oracle, so its PTEs are left alone."""
        done: set[int] = set()
        for p in self.pages.values():
            if p.entry and not p.order and swp_type(SwpEntry(p.entry)) == type_:
                off = swp_offset(SwpEntry(p.entry))
                if off in moves and moves[off][1] == p.ptes:
                    p.entry = int(swp_entry(type_, moves[off][0]))
                    done.add(off)
        return sum(p.ptes << p.order for p in self.pages.values() if p.entry), done

    def _check_swapoff(self, res: SwapoffResult) -> None:
        """Design-specific checks of a completed swapoff (see :data:`EXTRAS`)."""

    def _move_ptes(self, moves: dict[int, int]) -> tuple[int, dict[int, int]]:
        """``SwapHooks.move_swap_ptes`` over the oracle's page tables: every PTE of a
        moved page now holds its new entry (a swap tier move of a slot design)."""
        found: dict[int, int] = {}
        visited = 0
        for p in self.pages.values():
            visited += p.ptes << p.order
            new = moves.get(p.entry) if p.entry and p.order == 0 else None
            if new is not None:
                found[p.entry] = p.ptes
                p.entry = new
        return visited, found

    def _unmap(self, k: int) -> None:
        p = self.pages[k]
        self.d.free_swap_and_cache_nr(SwpEntry(p.entry), 1 << p.order)
        p.ptes -= 1
        if not p.ptes:
            for f in p.parked.values():
                assert not f.swapcache, "eager reclaim frees a cache-only folio"
            del self.pages[k]

    # -- rules -----------------------------------------------------------------------------
    # A few resident pages at a time, so that steps go to swapping them.
    @precondition(lambda self: len(self._resident()) < 4)
    @rule(order=st.sampled_from([0, 0, 0, 1, 2]),
          kind=st.sampled_from(["zero", "compressible", "random"]),
          cg=st.sampled_from(["root", "nowb", "limited"]), seed=st.integers(0, 1 << 30))
    def new_page(self, order: int, kind: str, cg: str, seed: int) -> None:
        r = random.Random(seed)
        n = PAGE_SIZE << order
        data = (bytes(n) if kind == "zero" else
                (r.randbytes(64) * (n // 64)) if kind == "compressible" else r.randbytes(n))
        memcg_id = {"root": 0, "nowb": self.nowb.id, "limited": self.limited.id}[cg]
        self._new_resident(data, order, memcg_id)

    @precondition(lambda self: self._resident())
    @rule(pick=st.integers(0, 1 << 20), ptes=st.integers(1, 3))
    def swap_out(self, pick: int, ptes: int) -> None:
        """shrink_folio_list: add_to_swap, try_to_unmap, pageout, __remove_mapping."""
        resident = self._resident()
        p = self.pages[resident[pick % len(resident)]]
        f = p.folio
        assert f is not None
        f.folio_lock()
        if not self.d.add_to_swap(f):
            f.folio_unlock()
            return
        for i in range(f.nr_pages):
            for _ in range(ptes):
                assert self.d.swap_duplicate(SwpEntry(f.swap + i)) == 0
        p.entry, p.ptes = int(f.swap), ptes
        f.dirty = False
        ret = self.d.swap_writepage(f)
        if ret == AOP_WRITEPAGE_ACTIVATE:
            p.parked = dict.fromkeys(range(f.nr_pages), f)
        else:
            assert ret == 0
            self._reclaim(f)
        p.folio = None

    @precondition(lambda self: any(not self.pages[k].shmem for k in self._swapped()))
    @rule(pick=st.integers(0, 1 << 20))
    def fork(self, pick: int) -> None:
        anon = [k for k in self._swapped() if not self.pages[k].shmem]
        p = self.pages[anon[pick % len(anon)]]
        for i in range(1 << p.order):
            assert self.d.swap_duplicate(SwpEntry(p.entry + i)) == 0
        p.ptes += 1

    @precondition(lambda self: self._resident())
    @rule(pick=st.integers(0, 1 << 20))
    def shmem_writeout(self, pick: int) -> None:
        """shmem_writepage: add_to_swap, swap_shmem_alloc (the tmpfs mapping's reference on
        each entry instead of PTEs), swap_writepage, __remove_mapping. The page comes back
        through the same swap-in (shmem_swapin_folio: swap_free_nr of that reference) and
        goes through shmem_free_swap (free_swap_and_cache_nr) on truncation."""
        resident = self._resident()
        p = self.pages[resident[pick % len(resident)]]
        f = p.folio
        assert f is not None
        f.folio_lock()
        if not self.d.add_to_swap(f):
            f.folio_unlock()
            return
        self.d.swap_shmem_alloc(SwpEntry(f.swap), f.nr_pages)
        p.entry, p.ptes, p.shmem = int(f.swap), 1, True
        f.dirty = False
        ret = self.d.swap_writepage(f)
        if ret == AOP_WRITEPAGE_ACTIVATE:
            p.parked = dict.fromkeys(range(f.nr_pages), f)
        else:
            assert ret == 0
            self._reclaim(f)
        p.folio = None
        event("shmem page swapped out")

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def unmap(self, pick: int) -> None:
        self._unmap(self._pick_swapped(pick))

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def fault_all(self, pick: int) -> None:
        self._fault_in(self._pick_swapped(pick))

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def prepare_race(self, pick: int) -> None:
        """A swap-in that loses the race for the cache pin, and one that wins it."""
        p = self.pages[self._pick_swapped(pick)]
        e = SwpEntry(p.entry)
        if 0 in p.parked:
            assert self.d.swapcache_prepare(e, 1) < 0
            return
        assert self.d.swapcache_prepare(e, 1) == 0
        assert self.d.swapcache_prepare(e, 1) < 0
        self.d.swapcache_clear(e, 1)

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def zswap_writeback(self, pick: int) -> None:
        p = self.pages[self._pick_swapped(pick)]
        e = SwpEntry(p.entry)
        if self.z.zswap_writeback_entry(e) == 0:
            f = self.d.swap_cache_get_folio(e)
            assert f is not None and not f.dirty
            self._reclaim(f)

    @rule(flag=st.booleans())
    def toggle_zswap(self, flag: bool) -> None:
        self.z.set_param("enabled", flag)

    @rule()
    def other_cpu(self) -> None:
        """Later operations run on the other CPU (its own per-CPU clusters and caches)."""
        self.env.current_cpu ^= 1

    @precondition(lambda self: self._swapped() and not self.image)
    @rule(big=st.booleans())
    def swapoff_and_swapon(self, big: bool) -> None:
        si = next(self.d.devices.devices(), None)
        if si is not None:
            res = self.d.swapoff(si.name)
            assert res.completed, res.error
            self._check_swapoff(res)
            event("swapoff: PTEs visited" if res.ptes_visited else "swapoff: no PTE visited")
            # Pages whose data had to come back into memory stay in the swap cache.
            for p in self.pages.values():
                if p.entry:
                    cached = (self.d.swap_cache_get_folio(SwpEntry(p.entry + i))
                              for i in range(1 << p.order))
                    p.parked = {i: f for i, f in enumerate(cached) if f is not None}
        self._swapon(BIG_DEVICE_PAGES if big else DEVICE_PAGES)

    @precondition(lambda self: self._swapped())
    @rule()
    def drain(self) -> None:
        """Every process exits: each PTE of every swapped page is zapped."""
        for k in self._swapped():
            while k in self.pages:
                self._unmap(k)

    @precondition(lambda self: self._swapped())
    @rule(nth=st.sampled_from([0, 0, 1, 3]))
    def compact(self, nth: int) -> None:
        """Swapfile compaction of every device (``nth`` > 0: the nth destination claim finds
        the device full, which stops it); every swapped page still reads back the same."""
        faults = self.env.faults
        if nth:
            faults.schedule["device_full"] = {faults.calls["device_full"] + nth}
        try:
            for si in list(self.d.devices.devices()):
                try:
                    r = swap_compact(self.d, si)
                except KernelError as exc:
                    assert exc.errno == Errno.ENOTSUP
                    return
                event(f"compaction: moved {'some' if r.moved else 'none'}"
                      f"{', device full' if r.stopped else ''}")
        finally:
            faults.schedule.pop("device_full", None)
        for p in self.pages.values():
            for i in range(1 << p.order) if p.entry else ():
                if i not in p.parked:
                    got = self.d.swap_peek_entry(SwpEntry(p.entry + i))
                    assert got == p.data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE], "data loss"

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20), full=st.booleans())
    def tier_move(self, pick: int, full: bool) -> None:
        """A swap tier move (demotion or promotion) of an order-0 page to the other device;
        with ``full`` the target has no room (fault point ``device_full``) and the page
        must stay where it was. Designs without tier moves refuse with ConfigError. The page
        is picked among those on a device (not zero, not in zswap: under vswap-ste most
        pages have no physical slot)."""
        movable = [k for k in self._swapped() if not self.pages[k].order
                   and not self.pages[k].parked
                   and self.d.swp_entry_to_swp_slot(SwpEntry(self.pages[k].entry))]
        if not movable:
            return
        p = self.pages[movable[pick % len(movable)]]
        slot = self.d.swp_entry_to_swp_slot(SwpEntry(p.entry))
        si = self.d.devices.swap_type_to_swap_info(swp_type(SwpEntry(slot)))
        dst = frozenset(x.type for x in self.d.devices.devices() if si is not None
                        and x.type != si.type)
        if si is None or not dst:
            return
        if tier_moves_unsupported(self.design_name) is not None:
            with pytest.raises(ConfigError):
                move_entries(self.d, si, [p.entry], dst)  # type: ignore[arg-type]
            return
        before = p.entry
        reasons = dict(self.d.devices.tiers.totals.by_reason)
        self.faults.set_rates({"device_full": 1.0 if full else 0.0})
        try:
            moved = move_entries(self.d, si, [p.entry], dst)  # type: ignore[arg-type]
        finally:
            self.faults.set_rates({"device_full": 0.0})
        if not moved:
            why = [r for r, n in self.d.devices.tiers.totals.by_reason.items()
                   if n != reasons.get(r, 0)]
            event(f"tier move: not moved ({', '.join(why) or 'busy'})")
        if self.design_name == "vswap-ste" and not moved:
            # The Swap Table Edition releases nothing before the copy is written: the entry
            # keeps its slot (a direct-mapped one is never moved).
            assert self.d.swp_entry_to_swp_slot(SwpEntry(p.entry)) == slot
        if full:
            assert moved == 0 and p.entry == before
            if self.d.swp_entry_to_swp_slot(SwpEntry(p.entry)) != slot:
                # A virtual design released the old slot before it found no room
                # anywhere: the page is back in the swap cache, as after swapoff.
                f = self.d.swap_cache_get_folio(SwpEntry(p.entry))
                assert f is not None and f.dirty
                p.parked = {0: f}
                event("tier move: device full, page parked in the swap cache")
        if moved:
            event("tier move: moved")
            new_slot = self.d.swp_entry_to_swp_slot(SwpEntry(p.entry))
            assert swp_type(SwpEntry(new_slot)) in dst
        if not p.parked:
            assert self.d.swap_peek_entry(SwpEntry(p.entry)) in (None, p.data)

    @precondition(lambda self: not self.image)
    @rule(n=st.integers(1, 12), seed=st.integers(0, 255))
    def hibernate_image(self, n: int, seed: int) -> None:
        """``swsusp_write``: ``alloc_swapdev_block`` up to ``n`` times on the resume device
        (``find_first_swap``), each slot written with image bytes through the device; the
        image stays held while other rules run (swap-outs, faults, zswap writeback,
        compaction, tier moves must leave it alone). Slots are physical, counted in
        ``/proc/swaps`` Used and ``nr_swap_pages``, charged to no cgroup, no swap entry."""
        root = self.d.devices.swap_type_of(None, 0)
        si = self.d.devices.swap_type_to_swap_info(root) if root >= 0 else None
        if si is None:
            return
        rng = random.Random(seed)
        free0, used0 = self.d.devices.nr_swap_pages, si.inuse_pages
        charged0 = [m.swap.usage for m in self.d.memcgs]
        for _ in range(n):
            slot = self.d.swap_slot_alloc_of_type(root)
            if not slot:
                event("hibernation: device full")
                break
            data = rng.randbytes(PAGE_SIZE)
            si.storage.write_page(swp_offset(SwpEntry(slot)), data)
            self.image.append((int(slot), data))
            self._check_hibernation_slot(slot)
        assert si.inuse_pages == used0 + len(self.image)
        assert self.d.devices.nr_swap_pages == free0 - len(self.image)
        assert [m.swap.usage for m in self.d.memcgs] == charged0, "image slots are uncharged"

    @precondition(lambda self: self.image)
    @rule()
    def resume_image(self) -> None:
        """Resume: every image page reads back as written, then ``free_all_swap_pages``
        returns the slots by runs (``swap_slot_free_nr``)."""
        si = self.d.devices.swap_type_to_swap_info(swp_type(SwpEntry(self.image[0][0])))
        assert si is not None
        free0 = self.d.devices.nr_swap_pages
        for slot, data in self.image:
            assert si.storage.read_page(swp_offset(SwpEntry(slot))) == data, "image lost"
        offs = sorted(swp_offset(SwpEntry(slot)) for slot, _ in self.image)
        runs: list[list[int]] = []
        for off in offs:
            if runs and off == runs[-1][0] + runs[-1][1]:
                runs[-1][1] += 1
            else:
                runs.append([off, 1])
        for start, nr in runs:
            self.d.swap_slot_free_nr(si.slot(start), nr)
        assert self.d.devices.nr_swap_pages == free0 + len(self.image)
        event("hibernation: resumed")
        self.image = []

    def _check_hibernation_slot(self, slot: int) -> None:
        """Design-specific checks of a new hibernation slot (see :class:`VirtualDesign`)."""

    @precondition(lambda self: self._swapped())
    @rule(batch=st.sampled_from([2, 3, 8]), fail_at=st.sampled_from([0, 1, 2, 3]),
          compressed=st.booleans(), fill=st.booleans())
    def zswap_writeback_batch(self, batch: int, fail_at: int, compressed: bool,
                              fill: bool) -> None:
        """Batched (and compressed) zswap writeback of the root's and ``/limited``'s LRUs
        (model only, virtual designs; ConfigError elsewhere), the ``fail_at``-th write
        request failing (fault point ``device_write``): its pages stay in zswap. ``fill``:
        every resident page is swapped out first (bigger batches). The written folios are
        reclaimed from the swap cache; every swapped page reads back the same."""
        for _ in range(len(self._resident()) if fill else 0):
            self.swap_out(0, 1)
        try:
            self.z.set_param("writeback_batch_size", batch)
        except ConfigError:
            assert self.design_name not in WB_BATCH_DESIGNS
            return
        try:
            self.z.set_param("writeback_compressed", compressed)
        except ConfigError:
            assert self.design_name not in WB_COMPRESSED_DESIGNS
            compressed = False
        faults = self.env.faults
        if fail_at:
            faults.schedule["device_write"] = {faults.calls["device_write"] + fail_at}
        errors = self.d.io_write_errors
        self.z.set_param("shrinker_enabled", True)
        try:
            for memcg in (None, self.limited):
                self.z.zswap_shrinker_scan(memcg, 16)
        finally:
            faults.schedule.pop("device_write", None)
            self.z.set_param("shrinker_enabled", False)
            self.z.set_param("writeback_batch_size", 1)
            self.z.set_param("writeback_compressed", False)
        if self.d.io_write_errors > errors:
            event("zswap writeback batch: a request failed")
        for p in self.pages.values():
            for i in range(1 << p.order) if p.entry else ():
                if i in p.parked:
                    continue
                e = SwpEntry(p.entry + i)
                f = self.d.swap_cache_get_folio(e)
                if f is not None:
                    assert not f.dirty  # written (uncompressed: raw-stored pages too)
                    self._reclaim(f)
                got = self.d.swap_peek_entry(e)
                assert got == p.data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE], "data loss"

    def _parked_whole(self) -> list[int]:
        """Swapped pages whose every entry is held by the swap cache."""
        return [k for k in self._swapped()
                if len(self.pages[k].parked) == 1 << self.pages[k].order]

    @staticmethod
    def _replace(d: SwapDesign, old: Folio, new: Folio, entry: int) -> None:
        """The caller's half of ``__swap_cache_replace_folio``: ``new`` takes ``entry``
        onwards (its own size) from ``old``, both locked, flags and bytes copied."""
        new.dirty, new.uptodate = old.dirty, old.uptodate
        new.swap, new.swapcache = SwpEntry(entry), True
        new.locked = True
        d.swap_cache_replace_folio(old, new)
        new.locked = False

    @precondition(lambda self: self._parked_whole())
    @rule(pick=st.integers(0, 1 << 20))
    def migrate_parked(self, pick: int) -> None:
        """Migration of each swap-cache folio of a parked page (``folio_migrate_mapping``):
        a new folio with the same bytes takes its entries; RFC v2's FOLIO descriptors
        follow (``vswap_migrate``, spec part 2 T10, patch 12); the old folio leaves."""
        ks = self._parked_whole()
        p = self.pages[ks[pick % len(ks)]]
        for src in {id(f): f for f in p.parked.values()}.values():
            dst = Folio(src.order, bytes(src.data), memcg_id=src.memcg_id)
            src.locked = True
            self._replace(self.d, src, dst, int(src.swap))
            src.swap, src.swapcache, src.locked = SwpEntry(0), False, False
            for i, f in list(p.parked.items()):
                if f is src:
                    p.parked[i] = dst
            for i in range(dst.nr_pages):
                assert self.d.swap_cache_get_folio(SwpEntry(dst.swap + i)) is dst
        event("swap-cache folio migrated")

    @precondition(lambda self: any(self.pages[k].order for k in self._parked_whole()))
    @rule(pick=st.integers(0, 1 << 20))
    def split_parked(self, pick: int) -> None:
        """``split_huge_page`` of a parked large swap-cache folio: each page's new order-0
        folio takes its entry (``__split_huge_page``; RFC v2 ``vswap_split_huge_page``,
        spec part 2 T11, patch 12); counts and pins do not move (checked against the
        oracle after the step)."""
        ks = [k for k in self._parked_whole() if self.pages[k].order]
        p = self.pages[ks[pick % len(ks)]]
        head = p.parked[0]
        if head.nr_pages == 1:
            return
        head.locked = True
        for i in range(head.nr_pages):
            new = Folio(0, bytes(head.page(i)), memcg_id=head.memcg_id)
            self._replace(self.d, head, new, p.entry + i)
            p.parked[i] = new
        head.swap, head.swapcache, head.locked = SwpEntry(0), False, False
        event("swap-cache folio split")

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def uffd_move(self, pick: int) -> None:
        """``UFFDIO_MOVE`` of a swapped page's PTEs (``move_pages_pte`` ->
        ``move_swap_pte``): a shared entry (fork, shmem) is ``-EBUSY``; else per page the
        device is held with ``trylock_swapoff`` (never failing here: no swapoff runs), a
        large swap-cache folio is ``-EBUSY``, an order-0 one is locked for the move, and
        ``unlock_swapoff`` balances the pin. The entry is unchanged: counts, cache pins and
        bytes stay as the oracle has them (the invariants check it)."""
        p = self.pages[self._pick_swapped(pick)]
        if p.ptes != 1 or p.shmem:
            event("uffd move: entry not exclusive, -EBUSY")
            return
        for i in range(1 << p.order):
            e = SwpEntry(p.entry + i)
            folio = self.d.swap_cache_get_folio(e)
            locked, si = self.d.trylock_swapoff(e)
            assert locked, "trylock_swapoff failed with no swapoff running"
            assert si is not None or not self.d.entry_is_slot  # type: ignore[attr-defined]
            users = si.users if si is not None else 0
            try:
                if folio is not None and folio.order:
                    event("uffd move: large swap-cache folio, -EBUSY")
                    return
                if folio is not None:
                    assert folio.folio_trylock(), "swap-cache folio left locked"
                    assert folio.swapcache and folio.swap == e
                    folio.folio_unlock()
                    event("uffd move: with its swap-cache folio")
            finally:
                self.d.unlock_swapoff(e, si)
                if si is not None:
                    assert si.users == users - 1, "unlock_swapoff did not drop the pin"
            assert self.d.swp_swapcount(e) == 1
        event("uffd move: moved")

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def design_invariants(self) -> None:
        self.d.check_invariants()
        self.z.check_invariants()
        if self._swapped():
            type(self).checks_with_swapped_pages += 1

    @invariant()
    def entries_match_the_oracle(self) -> None:
        want: dict[int, tuple[int, bool]] = {}
        for p in self.pages.values():
            if p.entry:
                for i in range(1 << p.order):
                    want[p.entry + i] = (p.ptes, i in p.parked)
                    assert self.d.swp_swapcount(SwpEntry(p.entry + i)) == p.ptes
        got = {int(e): (count, cached) for e, count, cached in self.d.live_swap_entries()}
        assert got == want

    @invariant()
    def nothing_left_when_nothing_is_swapped(self) -> None:
        if not self._swapped() and not self.image:
            assert self.d.leftovers() == []


class PerCpuClusters(DesignMachine):
    """vswap-v6: a CPU going offline drops its cached clusters (``vswap_cpu_dead``)."""

    @rule()
    def cpu_dead(self) -> None:
        self.d.table.vswap_cpu_dead(self.env.current_cpu)  # type: ignore[attr-defined]


class LargeFolioKnobs(DesignMachine):
    """The virtual designs' large-folio use cases (docs/future.md): discontiguous swap-out
    and mixed-backing swap-in (compaction is the ``compact`` rule of every design)."""

    @rule(on=st.booleans())
    def discontig_swapout(self, on: bool) -> None:
        """Large folios that find no contiguous run go to scattered order-0 slots."""
        self.d.discontig_swapout = on  # type: ignore[attr-defined]

    def _large_swapped(self) -> list[int]:
        return [k for k in self._swapped() if self.pages[k].order and not self.pages[k].parked]

    @precondition(lambda self: self._large_swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def mixed_read(self, pick: int) -> None:
        """``mixed_swapin``: a swapped large folio read whole (pinned, as the fault path
        does), run by run from its backends, comes back with its data and leaves every
        entry as it was; a range that cannot be read whole is refused, not half read.

        Only the ranges the fault path (``swapin_mixed_thp``) reads this way: virtual
        entries passing ``can_swapin_thp`` (one swap count each, none in the swap cache).
        ``vswap-ste``'s direct-mapped entries (its vswap space full) go the kernel's way
        there, which never reads a large folio over zswap-held pages (``alloc_swap_folio``
        bails once zswap was enabled): such a read is no path of the model."""
        big = self._large_swapped()
        p = self.pages[big[pick % len(big)]]
        e, nr = SwpEntry(p.entry), 1 << p.order
        is_virtual = getattr(self.d, "is_vswap_entry", None)
        if (is_virtual is not None and not is_virtual(e)) or not self.d.can_swapin_thp(e, nr):
            event("mixed read: not a mixed-swapin range")
            return
        if self.d.swapcache_prepare(e, nr):
            return
        f = Folio(p.order, memcg_id=p.memcg_id)
        f.swap = e
        f.locked = True
        self.d.mixed_swapin = True  # type: ignore[attr-defined]
        try:
            ok = self.d.swap_read_folio(f)
        finally:
            self.d.mixed_swapin = False  # type: ignore[attr-defined]
            self.d.swapcache_clear(e, nr)
        if ok:
            assert f.uptodate and bytes(f.data) == p.data, "data loss"
        event(f"mixed read: {'whole' if ok else 'refused'}")


class SteTierMoves(DesignMachine):
    """vswap-ste: a page has a physical slot only once written out (zswap is on by default,
    so most swapped pages have none); a zswap writeback then a tier move, so that moves of
    a virtual entry's backing slot (its pointer word and virtual word) happen often."""

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20), full=st.booleans())
    def writeback_then_tier_move(self, pick: int, full: bool) -> None:
        self.zswap_writeback(pick)
        self.tier_move(pick, full)


class VirtualDesign(LargeFolioKnobs):
    """The virtual designs: ``vswap_used`` counts the live descriptors, and swapoff
    repoints descriptors without visiting a single PTE (RFC patch 16)."""

    def _check_swapoff(self, res: SwapoffResult) -> None:
        assert res.ptes_visited == 0

    def _check_hibernation_slot(self, slot: int) -> None:
        """Spec part 1 §3: hibernation never creates a virtual slot; the physical slot
        has no reverse-map owner (invariant 31)."""
        assert self.d.swp_slot_to_swp_entry(SwpSlot(slot)) == 0

    @invariant()
    def vswap_used_matches_the_oracle(self) -> None:
        total = sum(1 << p.order for p in self.pages.values() if p.entry)
        assert self.d.vswap_used == total  # type: ignore[attr-defined]


#: Small tables per design (clusters of 4 slots, a 255-entry virtual space).
OPTIONS: dict[str, dict[str, Any]] = {
    "vswap": {"max_vswap": 255, "cluster_shift": 2},
    "vswap-static": {"max_vswap": 255, "cluster_shift": 2},
    "vswap-dynamic": {"max_vswap": 255, "cluster_shift": 2},
    "vswap-v6": {"cluster_shift": 2},
    # A small vswap space (8 slots: it fills within a few swap-outs), so that its
    # direct-mapped fallback, and large folios direct-mapped over zswap, are exercised too.
    "vswap-ste": {"max_vswap_pages": 8},
}
#: Design-specific rule and invariant mixins.
EXTRAS: dict[str, tuple[type[DesignMachine], ...]] = {
    "vswap": (VirtualDesign,),
    "vswap-static": (VirtualDesign,),
    "vswap-dynamic": (VirtualDesign,),
    "vswap-v6": (VirtualDesign, PerCpuClusters),
    "vswap-ste": (LargeFolioKnobs, SteTierMoves),
}
#: Extra runs of a design with other options: id -> (design, options).
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    # v6 with v4's and v6's optimisations off: the v3 behaviour the later reviews measured.
    "vswap-v6-v3like": ("vswap-v6", {"cluster_shift": 2, "batch_free": False,
                                     "iter_cache": False, "rmap_cache_only": False}),
}
RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    **{name: (name, OPTIONS.get(name, {})) for name in DESIGNS}, **VARIANTS}


def machine_for(run: str) -> type[DesignMachine]:
    design, options = RUNS[run]
    bases = (*EXTRAS.get(design, ()), DesignMachine)
    cls = type(f"Machine_{run.replace('-', '_')}", bases,
               {"design_name": design, "options": options})
    return cls


def test_every_design_has_a_run() -> None:
    assert set(DESIGNS) <= set(RUNS)
    assert {design for design, _ in RUNS.values()} <= set(DESIGNS)


@pytest.mark.parametrize("run", list(RUNS))
def test_design_state_machine(run: str) -> None:
    cls = machine_for(run)
    run_state_machine_as_test(cls, settings=settings(settings.default, stateful_step_count=40))
    # The rules drove pages into swap and every invariant above held while they were there.
    assert cls.checks_with_swapped_pages > 0
