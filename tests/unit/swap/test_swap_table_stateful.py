"""Stateful property test of the swap table designs (``swap-table-p1``, ``swap-table-p4``,
``vswap-ste``)
against a reference model of pages, swap counts and parked swap-cache folios.

Rules are the entry points reclaim and the fault path use: ``add_to_swap``,
``swap_duplicate`` (forks, and runs of them that push a phase IV count past the table's
4-bit field into the cluster's extend table), ``swap_writepage``, ``__remove_mapping``
(leaving a shadow in the table), faults through ``read_swap_cache_async`` +
``swap_read_folio``, ``free_swap_and_cache_nr``, the swap-in race (``swapcache_prepare``:
``SWAP_HAS_CACHE`` in phase I, the swap-cache claim in phase IV), zswap writeback, swapoff.
After every step the design's invariants (tables exist exactly for used clusters, phase IV's
words, memcg and extend tables agree with the slots) and zswap's must hold, every swap count
must equal the model's, the used slots must equal the swapped pages, and every page read
back must equal what was written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from vswap.kernel.env import KernelEnv
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.swap import AOP_WRITEPAGE_ACTIVATE, create_design
from vswap.swap._base import SwapDesignBase
from vswap.swap.storage import MemSwapStorage
from vswap.swap.swap_state import pack_shadow


@dataclass
class Page:
    data: bytes
    order: int
    memcg_id: int
    entry: int = 0
    ptes: int = 0
    parked: Folio | None = None
    folio: Folio | None = None


def _reclaim(d: SwapDesignBase, f: Folio) -> None:
    """``__remove_mapping``: a clean, unmapped swap-cache folio leaves a shadow."""
    f.folio_lock()
    d.delete_from_swap_cache(f, shadow=pack_shadow(f.memcg_id, 7, False))
    f.folio_unlock()


class SwapTableMachine(RuleBasedStateMachine):
    design = "swap-table-p4"

    def __init__(self) -> None:
        super().__init__()
        d = create_design(self.design, env=KernelEnv(debug_vm=True))
        assert isinstance(d, SwapDesignBase)
        self.d = d
        self.z = d.attach_zswap(total_ram_pages=1 << 16)
        # 3 clusters: tables are allocated and freed as clusters fill and empty.
        self.dev = 0
        self._swapon()
        self.limited = d.memcgs.create("/limited")
        self.limited.swap.max = 24
        self.pages: dict[int, Page] = {}
        self.next_id = 0

    def _swapon(self) -> None:
        self.d.swapon(MemSwapStorage(3 * 512 * PAGE_SIZE, label=f"st{self.dev}"))
        self.dev += 1

    def _swapped(self) -> list[int]:
        return sorted(k for k, p in self.pages.items() if p.entry)

    def _resident(self) -> list[int]:
        return sorted(k for k, p in self.pages.items() if not p.entry)

    @rule(order=st.sampled_from([0, 0, 0, 2, 4]),
          kind=st.sampled_from(["zero", "compressible", "random"]),
          cg=st.sampled_from(["root", "limited"]), seed=st.integers(0, 1 << 30))
    def new_page(self, order: int, kind: str, cg: str, seed: int) -> None:
        r = random.Random(seed)
        n = PAGE_SIZE << order
        data = (bytes(n) if kind == "zero" else
                (r.randbytes(64) * (n // 64)) if kind == "compressible" else r.randbytes(n))
        memcg_id = self.limited.id if cg == "limited" else 0
        self.pages[self.next_id] = Page(data, order, memcg_id,
                                        folio=Folio(order, data, memcg_id=memcg_id))
        self.next_id += 1

    @precondition(lambda self: self._resident())
    @rule(pick=st.integers(0, 1 << 20), ptes=st.integers(1, 3))
    def swap_out(self, pick: int, ptes: int) -> None:
        p = self.pages[self._resident()[pick % len(self._resident())]]
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
            p.parked = f
        else:
            assert ret == 0
            _reclaim(self.d, f)
        p.folio = None

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20), forks=st.sampled_from([1, 1, 16]))
    def fork(self, pick: int, forks: int) -> None:
        p = self.pages[self._swapped()[pick % len(self._swapped())]]
        for _ in range(forks):
            for i in range(1 << p.order):
                assert self.d.swap_duplicate(SwpEntry(p.entry + i)) == 0
        p.ptes += forks

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20), maps=st.sampled_from([1, 1, 16]))
    def unmap(self, pick: int, maps: int) -> None:
        k = self._swapped()[pick % len(self._swapped())]
        p = self.pages[k]
        for _ in range(min(maps, p.ptes)):
            self.d.free_swap_and_cache_nr(SwpEntry(p.entry), 1 << p.order)
            p.ptes -= 1
        if not p.ptes:
            if p.parked is not None:
                assert not p.parked.swapcache, "eager reclaim frees a cache-only folio"
            del self.pages[k]

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def fault_all(self, pick: int) -> None:
        """Every PTE faults the page in; it becomes resident as order-0 pieces."""
        p = self.pages.pop(self._swapped()[pick % len(self._swapped())])
        nr = 1 << p.order
        for i in range(nr):
            e = SwpEntry(p.entry + i)
            f, new = self.d.read_swap_cache_async(e)
            assert f is not None
            if new:
                assert self.d.swap_read_folio(f)
                f.folio_unlock()
            want = p.data if f.nr_pages > 1 else p.data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
            assert bytes(f.data) == want, "data loss"
            for _ in range(p.ptes):
                self.d.swap_free_nr(e, 1)
        seen: set[int] = set()
        for i in range(nr):
            f = self.d.swap_cache_get_folio(SwpEntry(p.entry + i))
            if f is not None and id(f) not in seen:
                seen.add(id(f))
                f.folio_lock()
                assert self.d.folio_free_swap(f)
                f.folio_unlock()
        for i in range(nr):
            piece = p.data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
            self.pages[self.next_id] = Page(piece, 0, p.memcg_id,
                                            folio=Folio(0, piece, memcg_id=p.memcg_id))
            self.next_id += 1

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def prepare_race(self, pick: int) -> None:
        p = self.pages[self._swapped()[pick % len(self._swapped())]]
        e = SwpEntry(p.entry)
        shadow = self.d.get_shadow_from_swap_cache(e)
        if p.parked is not None:
            assert self.d.swapcache_prepare(e, 1) < 0
            return
        assert self.d.swapcache_prepare(e, 1) == 0
        assert self.d.swapcache_prepare(e, 1) < 0
        self.d.swapcache_clear(e, 1)
        assert self.d.get_shadow_from_swap_cache(e) == shadow, "the claim lost the shadow"

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def zswap_writeback(self, pick: int) -> None:
        p = self.pages[self._swapped()[pick % len(self._swapped())]]
        e = SwpEntry(p.entry)
        if self.z.zswap_writeback_entry(e) == 0:
            f = self.d.swap_cache_get_folio(e)
            assert f is not None and not f.dirty
            _reclaim(self.d, f)

    @rule(flag=st.booleans())
    def toggle_zswap(self, flag: bool) -> None:
        self.z.set_param("enabled", flag)

    @rule()
    def swapoff(self) -> None:
        """With no page-table walk to bring pages back, swapoff completes only on an empty
        device (freeing the folios only the swap cache holds) and is undone otherwise."""
        si = next(self.d.devices.devices(), None)
        if si is None:
            self._swapon()
            return
        res = self.d.swapoff(si.name)
        if self._swapped():
            assert not res.completed and "still in use" in res.error
        else:
            assert res.completed, res.error
            self._swapon()

    @invariant()
    def design_invariants(self) -> None:
        self.d.check_invariants()
        self.z.check_invariants()

    @invariant()
    def counts_match_reference(self) -> None:
        total = 0
        for p in self.pages.values():
            if p.entry:
                for i in range(1 << p.order):
                    assert self.d.swp_swapcount(SwpEntry(p.entry + i)) == p.ptes
                total += 1 << p.order
        assert sum(si.inuse_pages for si in self.d.devices.devices()) == total


class SwapTableP1Machine(SwapTableMachine):
    design = "swap-table-p1"


class VswapSteMachine(SwapTableMachine):
    """The Swap Table Edition with a vswap space of 12 slots, so swap-outs also fall
    back to direct-mapped physical entries; swapoff then needs no page-table walk for the
    virtual entries but cannot complete while direct-mapped ones are swapped."""

    design = "vswap-ste"

    def __init__(self) -> None:
        RuleBasedStateMachine.__init__(self)
        d = create_design(self.design, env=KernelEnv(debug_vm=True), max_vswap_pages=12)
        assert isinstance(d, SwapDesignBase)
        self.d = d
        self.z = d.attach_zswap(total_ram_pages=1 << 16)
        self.dev = 0
        self._swapon()
        self.limited = d.memcgs.create("/limited")
        self.limited.swap.max = 24
        self.pages = {}
        self.next_id = 0

    @rule()
    def swapoff(self) -> None:
        si = next(self.d.devices.devices(), None)
        if si is None:
            self._swapon()
            return
        res = self.d.swapoff(si.name)
        direct = [p for p in self.pages.values() if p.entry and p.entry >> 58 != 23]
        if direct:
            assert not res.completed
        else:
            assert res.completed, res.error
            assert res.ptes_visited == 0
            for p in self.pages.values():
                if p.entry and p.parked is None:
                    f = self.d.swap_cache_get_folio(SwpEntry(p.entry))
                    if f is not None and f.dirty:
                        p.parked = f
            self._swapon()

    @invariant()
    def counts_match_reference(self) -> None:
        total = 0
        for p in self.pages.values():
            if p.entry:
                for i in range(1 << p.order):
                    assert self.d.swp_swapcount(SwpEntry(p.entry + i)) == p.ptes
                total += 1 << p.order
        live = sum(1 for _e, _c, _cached in self.d.live_swap_entries())
        assert live == total


for _m in (SwapTableMachine, SwapTableP1Machine, VswapSteMachine):
    _m.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None,
                                    derandomize=True)

TestSwapTableP4Stateful = SwapTableMachine.TestCase
TestSwapTableP1Stateful = SwapTableP1Machine.TestCase
TestVswapSteStateful = VswapSteMachine.TestCase
