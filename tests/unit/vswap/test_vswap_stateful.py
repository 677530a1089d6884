"""Stateful property test of the virtual swap design against an independent reference model.

Rules are the kernel entry points reclaim and the fault path use (``add_to_swap``,
``swap_duplicate``, ``swap_writepage``, ``__remove_mapping``, faults through
``read_swap_cache_async`` + ``swap_read_folio``, ``free_swap_and_cache_nr``, zswap writeback,
swapoff/swapon). The reference model is a plain dict of pages: their bytes, how many PTEs
hold their swap entry, and whether their folio is parked in the swap cache. After every
step ``check_invariants()`` of the design and of zswap must hold, every swap count must
equal the model's PTE count, and every page read back must equal what was written.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from vswaphelpers import add_device, attach_zswap, reclaim

from vswap.kernel.env import KernelEnv
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.swap import AOP_WRITEPAGE_ACTIVATE
from vswap.swap.vswap import VirtualSwap


@dataclass
class Page:
    """One anonymous folio as the reference model sees it."""

    data: bytes
    order: int
    memcg_id: int
    entry: int = 0          # 0: resident, not swapped
    ptes: int = 0           # swap PTEs holding the entry
    parked: Folio | None = None   # writepage kept it (FOLIO-backed) in the swap cache
    folio: Folio | None = field(default=None)  # the resident folio


class VswapMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.d = VirtualSwap(env=KernelEnv(debug_vm=True), max_vswap=255, cluster_shift=2)
        self.z = attach_zswap(self.d)
        add_device(self.d, pages=48)
        self.nowb = self.d.memcgs.create("/nowb")
        self.nowb.zswap_writeback = False
        self.limited = self.d.memcgs.create("/limited")
        self.limited.swap.max = 6
        self.pages: dict[int, Page] = {}
        self.next_id = 0

    # -- helpers ---------------------------------------------------------------------------
    def _swapped(self) -> list[int]:
        return sorted(k for k, p in self.pages.items() if p.entry)

    def _resident(self) -> list[int]:
        return sorted(k for k, p in self.pages.items() if not p.entry)

    # -- rules -----------------------------------------------------------------------------
    @rule(order=st.sampled_from([0, 0, 0, 1, 2]),
          kind=st.sampled_from(["zero", "compressible", "random"]),
          cg=st.sampled_from(["root", "nowb", "limited"]), seed=st.integers(0, 1 << 30))
    def new_page(self, order: int, kind: str, cg: str, seed: int) -> None:
        r = random.Random(seed)
        n = PAGE_SIZE << order
        data = (bytes(n) if kind == "zero" else
                (r.randbytes(64) * (n // 64)) if kind == "compressible" else r.randbytes(n))
        memcg_id = {"root": 0, "nowb": self.nowb.id, "limited": self.limited.id}[cg]
        self.pages[self.next_id] = Page(data, order, memcg_id,
                                        folio=Folio(order, data, memcg_id=memcg_id))
        self.next_id += 1

    @precondition(lambda self: self._resident())
    @rule(pick=st.integers(0, 1 << 20), ptes=st.integers(1, 3))
    def swap_out(self, pick: int, ptes: int) -> None:
        k = self._resident()[pick % len(self._resident())]
        p = self.pages[k]
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
            reclaim(self.d, f)
        p.folio = None

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def fork(self, pick: int) -> None:
        p = self.pages[self._swapped()[pick % len(self._swapped())]]
        for i in range(1 << p.order):
            self.d.swap_duplicate(SwpEntry(p.entry + i))
        p.ptes += 1

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def unmap(self, pick: int) -> None:
        k = self._swapped()[pick % len(self._swapped())]
        p = self.pages[k]
        self.d.free_swap_and_cache_nr(SwpEntry(p.entry), 1 << p.order)
        p.ptes -= 1
        if not p.ptes:
            if p.parked is not None:
                assert not p.parked.swapcache, "eager reclaim frees a cache-only folio"
            del self.pages[k]

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def fault_all(self, pick: int) -> None:
        """Every PTE of the page faults it in; the page becomes resident, order 0 pieces."""
        k = self._swapped()[pick % len(self._swapped())]
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
            if f.nr_pages == 1:
                assert bytes(f.data) == want, "data loss"
            else:
                assert bytes(f.data) == p.data, "data loss"
            for _ in range(p.ptes):  # do_swap_page of each PTE
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
        if p.parked is not None:
            assert self.d.swapcache_prepare(e, 1) < 0
            return
        assert self.d.swapcache_prepare(e, 1) == 0
        assert self.d.swapcache_prepare(e, 1) < 0
        self.d.swapcache_clear(e, 1)

    @precondition(lambda self: self._swapped())
    @rule(pick=st.integers(0, 1 << 20))
    def zswap_writeback(self, pick: int) -> None:
        p = self.pages[self._swapped()[pick % len(self._swapped())]]
        e = SwpEntry(p.entry)
        if self.z.zswap_writeback_entry(e) == 0:
            f = self.d.swap_cache_get_folio(e)
            assert f is not None and not f.dirty
            reclaim(self.d, f)

    @rule(flag=st.booleans())
    def toggle_zswap(self, flag: bool) -> None:
        self.z.set_param("enabled", flag)

    @rule()
    def swapoff_and_swapon(self) -> None:
        si = next(self.d.devices.devices(), None)
        if si is not None:
            res = self.d.swapoff(si.name)
            assert res.completed and res.ptes_visited == 0
            for p in self.pages.values():
                if p.entry:
                    f = self.d.swap_cache_get_folio(SwpEntry(p.entry))
                    if f is not None and self.d.table.type[p.entry] == 3:
                        p.parked = f
        add_device(self.d, pages=48)

    # -- invariants --------------------------------------------------------------------------
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
        assert self.d.vswap_used == total


VswapMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                          deadline=None)
TestVswapStateful = VswapMachine.TestCase
