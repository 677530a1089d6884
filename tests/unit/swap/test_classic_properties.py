"""Random sequences of duplicate / free / cache operations keep swap_map equal to an
independent count of references (Hypothesis rule-based state machine)."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.types import SwpEntry, swp_entry, swp_offset
from vswap.swap.classic import ClassicSwap
from vswap.swap.storage import MemSwapStorage


class ClassicSwapMapMachine(RuleBasedStateMachine):
    """Reference model: per entry, the number of PTE references and whether the cache pin
    (``SWAP_HAS_CACHE``) is held, and the folio in the cache if any."""

    entries = Bundle("entries")

    def __init__(self) -> None:
        super().__init__()
        self.d = ClassicSwap()
        self.si = self.d.swapon(MemSwapStorage(1 << 20))
        self.refs: dict[SwpEntry, int] = {}
        self.pinned: dict[SwpEntry, Folio | None] = {}  # entry -> cached folio (None: pin only)

    @rule(target=entries)
    def alloc(self) -> SwpEntry:
        folio = Folio(0)
        folio.folio_lock()
        if not self.d.add_to_swap(folio):
            return SwpEntry(0)
        folio.folio_unlock()
        self.refs[folio.swap] = 0
        self.pinned[folio.swap] = folio
        return folio.swap

    def _live(self, e: SwpEntry) -> bool:
        return e in self.refs

    @rule(e=entries, n=st.integers(1, 130))
    def duplicate(self, e: SwpEntry, n: int) -> None:
        if not self._live(e):
            return
        for _ in range(n):
            assert self.d.swap_duplicate(e) == 0
        self.refs[e] += n

    @rule(e=entries)
    def free(self, e: SwpEntry) -> None:
        if not self._live(e) or not self.refs[e]:
            return
        self.d.swap_free_nr(e, 1)
        self.refs[e] -= 1
        self._maybe_dead(e)

    @rule(e=entries)
    def uncache(self, e: SwpEntry) -> None:
        """Reclaim removes the folio from the cache (__remove_mapping + put_swap_folio)."""
        if not self._live(e):
            return
        folio = self.pinned.get(e)
        if folio is None:
            return
        folio.folio_lock()
        self.d.delete_from_swap_cache(folio)
        folio.folio_unlock()
        del self.pinned[e]
        self._maybe_dead(e)

    @rule(e=entries)
    def prepare_and_clear(self, e: SwpEntry) -> None:
        """A swap-in that pins the entry then gives up (swapcache_prepare / swapcache_clear)."""
        if not self._live(e):
            assert self.d.swapcache_prepare(e, 1) == -Errno.ENOENT
            return
        err = self.d.swapcache_prepare(e, 1)
        if e in self.pinned:
            assert err == -Errno.EEXIST
            return
        assert err == 0
        self.d.swapcache_clear(e, 1)
        self._maybe_dead(e)

    def _maybe_dead(self, e: SwpEntry) -> None:
        if not self.refs[e] and e not in self.pinned:
            del self.refs[e]

    @invariant()
    def swap_map_matches_reference(self) -> None:
        for e, refs in self.refs.items():
            assert self.d.swp_swapcount(e) == refs
            cached = bool(self.si.swap_map[swp_offset(e)] & 0x40)
            assert cached == (e in self.pinned)
        assert self.si.inuse_pages == len(self.refs)

    @invariant()
    def structures_consistent(self) -> None:
        self.d.check_invariants()


TestClassicSwapMap = ClassicSwapMapMachine.TestCase


def test_put_swap_folio_of_a_partly_mapped_large_folio_frees_only_unmapped_slots() -> None:
    """put_swap_folio() of an order-2 folio whose slots 1 and 3 are still mapped: the cache
    pin drops from all four, slots 0 and 2 are freed, 1 and 3 keep their one reference (the
    per-slot path; a mutant that skipped it left four cache pins)."""
    d = ClassicSwap()
    si = d.swapon(MemSwapStorage(8 << 20))  # whole clusters: an mTHP needs one
    folio = Folio(2)
    folio.folio_lock()
    assert d.add_to_swap(folio)
    first = folio.swap
    base = swp_offset(first)
    for i in (1, 3):
        assert d.swap_duplicate(swp_entry(si.type, base + i)) == 0
    d.delete_from_swap_cache(folio)
    folio.folio_unlock()
    assert [si.swap_map[base + i] for i in range(4)] == [0, 1, 0, 1]
    assert si.inuse_pages == 2
    d.swap_free_nr(swp_entry(si.type, base + 1), 1)
    d.swap_free_nr(swp_entry(si.type, base + 3), 1)
    assert si.inuse_pages == 0
    d.check_invariants()
