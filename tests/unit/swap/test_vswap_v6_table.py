"""The v6 virtual slot allocator (``vswap_cluster``) and its descriptor swap cache."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from vswap.errors import ConfigError
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import SwpEntry
from vswap.swap.vswap_v6_table import (
    SWP_DESC_BYTES,
    VSWAP_CLUSTER_BITMAP_BYTES,
    VSWAP_CLUSTER_HEADER_BYTES,
    DescSwapCache,
    VswapClusterTable,
)


def test_order0_fills_cluster_0_from_id_1_then_the_next_cluster() -> None:
    t = VswapClusterTable()
    ids = [t.vswap_alloc(0, 0)[0] for _ in range(512)]
    assert ids == list(range(1, 513)), "id 0 is never a swap entry; clusters fill densely"
    assert t.live_clusters == 2 and t.used == 512
    st_ = t.statistics()
    assert (st_.alloc_new, st_.alloc_cached) == (2, 510)
    t.check_invariants()


def test_descriptor_starts_folio_backed_pinned_uncounted() -> None:
    t = VswapClusterTable()
    e, path = t.vswap_alloc(0, 0)
    assert path == "new"
    assert t.type[e] == 3 and t.in_cache[e] == 1 and t.swap_count[e] == 0
    assert t.memcgid[e] == 0 and t.backing[e] == 0


def test_each_cpu_allocates_from_its_own_cluster() -> None:
    t = VswapClusterTable(nr_cpus=2)
    a = t.vswap_alloc(0, 0)[0]
    b = t.vswap_alloc(0, 1)[0]
    assert t.cluster_of(a) != t.cluster_of(b)
    assert t.cluster_of(t.vswap_alloc(0, 0)[0]) == t.cluster_of(a)
    assert t.cluster_of(t.vswap_alloc(0, 1)[0]) == t.cluster_of(b)
    t.check_invariants()


def test_large_folios_get_aligned_ranges_and_pmd_never_cluster_0() -> None:
    t = VswapClusterTable()
    e4, _ = t.vswap_alloc(4, 0)
    assert e4 == 16 and e4 % 16 == 0, "cluster 0 skips its first aligned range"
    e9, _ = t.vswap_alloc(9, 0)
    assert e9 == 512, "a PMD folio takes a whole cluster, never cluster 0"
    assert t.cl_order[0] == 4 and t.cl_order[1] == 9
    t.check_invariants()


def test_a_large_allocation_released_in_part_is_not_handed_out_again() -> None:
    # Pages of a large folio that come back one at a time (an order-0 swap-in fallback)
    # release its slots one by one; a chunk whose first slot is free but whose others are
    # still allocated must not be taken by the next large allocation.
    t = VswapClusterTable()
    e, _ = t.vswap_alloc(4, 0)
    t.release_vswap_slot_nr(e, 1)
    t.check_invariants()
    again, _ = t.vswap_alloc(4, 0)
    assert again == e + 16, "the partly released chunk stays unavailable"
    assert t.used == 15 + 16
    t.check_invariants()
    t.release_vswap_slot_nr(e + 1, 15)
    assert t.vswap_alloc(4, 0)[0] == e, "the chunk is free again once wholly released"
    t.check_invariants()


def test_a_cluster_serves_one_order() -> None:
    t = VswapClusterTable()
    t.vswap_alloc(2, 0)
    e0, _ = t.vswap_alloc(0, 0)
    assert t.cluster_of(e0) == 1, "order 0 opens its own cluster"


def test_freed_cluster_id_is_reused_lowest_first() -> None:
    t = VswapClusterTable(nr_cpus=3)
    a = t.vswap_alloc(0, 0)[0]
    b = t.vswap_alloc(0, 1)[0]
    assert (t.cluster_of(a), t.cluster_of(b)) == (0, 1)
    t.release_vswap_slot_nr(b, 1)
    t.vswap_cpu_dead(1)
    assert not t.cl_live[1] and t.statistics().cluster_frees == 1
    c = t.vswap_alloc(0, 2)[0]
    assert t.cluster_of(c) == 1
    t.check_invariants()


def test_a_full_cluster_with_room_again_goes_on_the_partial_list() -> None:
    t = VswapClusterTable(cluster_shift=2)  # clusters of 4
    ids = [t.vswap_alloc(0, 0)[0] for _ in range(7)]  # cluster 0: 1..3, cluster 1: 4..7
    assert ids == list(range(1, 8))
    assert t.cl_full[0] and not t.cl_cached[0]
    t.release_vswap_slot_nr(2, 1)
    assert 0 in t.partial[0] and not t.cl_full[0]
    # The CPU's cached cluster 1 is full now too: the next allocation takes the partial one.
    assert t.vswap_alloc(0, 0) == (2, "partial")
    t.check_invariants()


def test_release_checks_its_range() -> None:
    t = VswapClusterTable(cluster_shift=2)
    e = t.vswap_alloc(1, 0)[0]
    with pytest.raises(KernelError) as exc:
        t.release_vswap_slot_nr(e + 1, 2)
    assert exc.value.errno == Errno.EINVAL
    t.release_vswap_slot_nr(e, 2)
    with pytest.raises(KernelError):
        t.release_vswap_slot_nr(e, 1)
    t.check_invariants()


def test_map_full_rejects_and_counts() -> None:
    t = VswapClusterTable(cluster_shift=1, max_clusters=2)  # ids 1, 2, 3
    assert [t.vswap_alloc(0, 0)[0] for _ in range(3)] == [1, 2, 3]
    assert t.vswap_alloc(0, 0) == (0, "")
    assert t.alloc_reject == 1
    t.check_invariants()


def test_lookup_cache_hits_the_same_cluster_and_lets_an_empty_one_go() -> None:
    t = VswapClusterTable()
    e = t.vswap_alloc(0, 0)[0]
    assert t.lookup(e, 0) is True, "first lookup walks the XArray"
    assert t.lookup(e, 0) is False, "then the per-CPU cache answers"
    assert t.cl_refcnt[0] == 1 + 1 + 1  # the slot, the allocation cache, the lookup cache
    t.vswap_cpu_dead(0)
    t.lookup(e, 0)
    t.release_vswap_slot_nr(e, 1)
    assert t.cl_live[0], "the lookup cache still holds the empty cluster"
    t.vswap_iter_break(e, 0)
    assert not t.cl_live[0] and t.live_clusters == 0
    t.check_invariants()


def test_lookup_cache_off_always_walks() -> None:
    t = VswapClusterTable(iter_cache=False)
    e = t.vswap_alloc(0, 0)[0]
    assert t.lookup(e, 0) and t.lookup(e, 0)
    assert t.statistics().xa_loads == 2 and t.statistics().iter_cache_hits == 0


def test_metadata_bytes() -> None:
    t = VswapClusterTable()
    for _ in range(600):
        t.vswap_alloc(0, 0)
    assert t.metadata_bytes() == {
        "swp_desc": 600 * SWP_DESC_BYTES,
        "swp_desc_unused": (1024 - 600) * SWP_DESC_BYTES,
        "vswap_cluster": 2 * VSWAP_CLUSTER_BITMAP_BYTES,
        "vswap_cluster_header": 2 * VSWAP_CLUSTER_HEADER_BYTES,
    }
    assert VSWAP_CLUSTER_BITMAP_BYTES == 64


@pytest.mark.parametrize("kw", [{"cluster_shift": 0}, {"cluster_shift": 10},
                                {"max_clusters": 1}, {"nr_cpus": 0}])
def test_bad_configuration(kw: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        VswapClusterTable(**kw)


def test_bad_order() -> None:
    with pytest.raises(KernelError) as exc:
        VswapClusterTable(cluster_shift=2).vswap_alloc(3, 0)
    assert exc.value.errno == Errno.EINVAL


# -- the swap cache folded into the descriptors --------------------------------------------

def test_desc_swap_cache_add_delete_shadow() -> None:
    t = VswapClusterTable()
    cache = DescSwapCache(t)
    e = SwpEntry(t.vswap_alloc(1, 0)[0])
    f = Folio(1)
    assert cache.add_to_swap_cache(f, e) == (0, None)
    assert f.swapcache and f.swap == e and cache.nr_pages == 2
    assert cache.swap_cache_get_folio(SwpEntry(e + 1)) is f
    assert cache.add_to_swap_cache(Folio(1), e) == (-Errno.EEXIST, None)
    cache.check_invariants()
    cache._delete_from_swap_cache(f, e, 0)  # a packed shadow may be 0
    assert not f.swapcache and cache.nr_pages == 0
    assert cache.get_shadow_from_swap_cache(e) == 0
    assert cache.nr_shadows() == 2
    g = Folio(1)
    assert cache.add_to_swap_cache(g, e) == (0, 0), "the insert returns the shadow"
    cache._delete_from_swap_cache(g, e, 77)
    assert cache.clear_shadow(e, 2) == 2 and cache.nr_shadows() == 0
    assert cache.get_shadow_from_swap_cache(e) is None
    assert cache.metadata_bytes() == 0
    assert cache.swap_address_space(e) == ("vswap_cluster", 0)
    cache.check_invariants()


def test_desc_swap_cache_needs_an_allocated_descriptor() -> None:
    cache = DescSwapCache(VswapClusterTable())
    with pytest.raises(KernelError) as exc:
        cache.add_to_swap_cache(Folio(0), SwpEntry(5))
    assert exc.value.errno == Errno.ENOENT


# -- state machine: the allocator against a set of live ids ----------------------------------

class AllocatorMachine(RuleBasedStateMachine):
    """Random allocations (orders 0-2), releases, lookups and CPU deaths on small clusters;
    every live range is disjoint, aligned and allocated; the invariants hold throughout."""

    def __init__(self) -> None:
        super().__init__()
        self.t = VswapClusterTable(nr_cpus=3, cluster_shift=3, max_clusters=6)
        self.live: dict[int, int] = {}  # first id -> nr

    @rule(order=st.integers(0, 2), cpu=st.integers(0, 2))
    def alloc(self, order: int, cpu: int) -> None:
        e, path = self.t.vswap_alloc(order, cpu)
        nr = 1 << order
        if not e:
            return
        assert path in ("cached", "partial", "new")
        assert e % nr == 0 and e > 0
        for first, n in self.live.items():
            assert e + nr <= first or first + n <= e, "overlapping allocation"
        self.live[e] = nr

    @rule(data=st.data(), cpu=st.integers(0, 2))
    def release(self, data: st.DataObject, cpu: int) -> None:
        if not self.live:
            return
        e = data.draw(st.sampled_from(sorted(self.live)))
        self.t.lookup(e, cpu)
        self.t.release_vswap_slot_nr(e, self.live.pop(e))
        self.t.vswap_iter_break(e, cpu)

    @rule(data=st.data(), cpu=st.integers(0, 2))
    def lookup(self, data: st.DataObject, cpu: int) -> None:
        if self.live:
            e = data.draw(st.sampled_from(sorted(self.live)))
            self.t.lookup(e, cpu)
            self.t.vswap_iter_break(e, cpu)

    @rule(cpu=st.integers(0, 2))
    def cpu_dead(self, cpu: int) -> None:
        self.t.vswap_cpu_dead(cpu)

    @invariant()
    def consistent(self) -> None:
        self.t.check_invariants()
        assert self.t.used == sum(self.live.values())
        for e, nr in self.live.items():
            assert all(self.t.is_live(i) for i in range(e, e + nr))


TestAllocatorMachine = AllocatorMachine.TestCase
TestAllocatorMachine.settings = settings(max_examples=60, stateful_step_count=60,
                                         deadline=None, derandomize=True)
