"""The RFC v2 descriptor table, virtual slot allocator and partitions
(:mod:`vswap.swap.vswap_desc`): the allocator invariants of ``spec/part1-patches-01-11.md``
section 13 and ``spec/part2-patches-12-18.md`` section 18, the partitioned variants and bad
configuration."""

from __future__ import annotations

import random

import pytest
from vswaphelpers import (
    add_device,
    alloc,
    locked_folio,
    mk,
    random_page,
    small,
    swap_in,
    swap_out,
)

from vswap.kernel.folio import Folio
from vswap.kernel.types import SwpEntry, non_swap_entry
from vswap.swap.vswap import VirtualSwap
from vswap.swap.vswap_desc import MAX_VSWAP, SwapType, VswapDescTable

E = SwpEntry
SWAPFILE, ZERO, ZSWAP, FOLIO = (SwapType.VSWAP_SWAPFILE, SwapType.VSWAP_ZERO,
                                SwapType.VSWAP_ZSWAP, SwapType.VSWAP_FOLIO)


def test_part1_inv01_id_zero_never_allocated() -> None:
    d = small()
    ids = []
    while True:
        _, e = alloc(d)
        if not e:
            break
        ids.append(e)
    assert 0 not in ids and len(ids) == 63
    assert not d.table.is_live(0)


def test_part1_inv02_alloc_returns_consecutive_aligned_ids() -> None:
    d = small()
    alloc(d)
    _f, e = alloc(d, order=2)
    assert e % 4 == 0 and e >= 4
    assert all(d.table.is_live(e + i) for i in range(4))
    assert e >= 1 and e + 3 <= 63
    # the cluster of e had no live ids before: the next large folio skips partial clusters
    _, one = alloc(d)
    assert one == 2
    _, e2 = alloc(d, order=2)
    assert e2 == 8


def test_part1_inv03_order0_gets_lowest_free_id() -> None:
    d = small()
    got = [alloc(d)[1] for _ in range(10)]
    assert got == list(range(1, 11))
    for e in (7, 3, 9):
        d.put_swap_folio(Folio(0, memcg_id=0) if False else locked_folio(), E(e))
    assert alloc(d)[1] == 3
    assert alloc(d)[1] == 7


def test_part1_inv04_cluster_map_counts() -> None:
    d = small()
    alloc(d)
    alloc(d, order=2)
    alloc(d, order=1)
    d.put_swap_folio(locked_folio(), E(1))
    counts = d.table.cluster_count
    assert counts[0] == 1  # only the reserved id 0 remains
    assert counts[1] == 4 and counts[2] == 2
    assert all(counts[c] == 0 for c in range(3, len(counts)))
    assert d.table.cl_nonempty[0] == 1
    d.table.check_invariants()


def test_part1_inv05_used_and_alloc_reject() -> None:
    d = small()
    for _ in range(5):
        alloc(d)
    assert d.vswap_used == 5
    big = [alloc(d, order=2)[1] for _ in range(20)]
    assert 0 in big
    granted = sum(1 for e in big if e)
    assert d.vswap_used == 5 + 4 * granted
    assert d.vswap_alloc_reject == 4 * (20 - granted)
    assert d.debugfs() == {"used": d.vswap_used, "alloc_reject": d.vswap_alloc_reject}


def test_part1_inv26_live_ids_are_swap_entries() -> None:
    d = small()
    ids = [alloc(d)[1] for _ in range(63)]
    assert not any(non_swap_entry(e) for e in ids)
    assert not non_swap_entry(E(MAX_VSWAP))


def test_part1_inv35_id_reusable_at_once_descriptor_after_grace_period() -> None:
    d = small()
    f, e = alloc(d)
    d.put_swap_folio(f, e)
    assert d.table.rcu_pending == 1
    _, again = alloc(d)
    assert again == e and d.table.refs[e] == 1
    assert d.synchronize_rcu() == 1 and d.table.rcu_pending == 0


def test_part2_inv06_cluster_sum_is_live_plus_one() -> None:
    d = small()
    got = [alloc(d, order=o)[1] for o in (0, 2, 0, 1, 2, 0)]
    assert sum(d.table.cluster_count) == d.vswap_used + 1
    assert got[1] % 4 == 0 and got[4] % 4 == 0


def test_part2_inv07_entry_zero_never_allocated() -> None:
    d = small()
    seen = {alloc(d, order=o)[1] for o in (2, 1, 0) * 30}
    seen.discard(0)
    assert seen and 0 not in seen and all(d.table.is_live(e) for e in seen)


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_partitioned_variants_allocate_per_cpu(mode: str, rng: random.Random) -> None:
    d = mk(partition=mode, nr_cpus=4, max_vswap=(1 << 14) - 1, cluster_shift=4,
           nr_partitions=4, partition_clusters=8)
    add_device(d, 1)
    ents = {}
    for cpu in range(4):
        d.env.current_cpu = cpu
        ents[cpu] = [swap_out(d, Folio(0, random_page(rng)))[0] for _ in range(5)]
    parts = {cpu: {d.partitions.partition_of(e) for e in es} for cpu, es in ents.items()}
    assert all(len(p) == 1 for p in parts.values())
    assert len({next(iter(p)) for p in parts.values()}) == 4
    assert d.swap_cache.nr_pages == 0  # no folio left in the cache
    assert len(d.partitions.live_partitions()) == 4
    if mode == "dynamic":
        assert d.partitions.global_lock_count == 4
    for es in ents.values():
        for e in es:
            swap_in(d, e)
    assert d.vswap_used == 0
    d.check_invariants()


def test_dynamic_partition_overflows_to_a_new_partition() -> None:
    d = mk(partition="dynamic", max_vswap=255, cluster_shift=2, partition_clusters=2)
    got = []
    for _ in range(20):
        f = Folio(0)
        f.folio_lock()
        assert d.add_to_swap(f)
        got.append(f.swap)
    assert got == list(range(1, 21))
    assert d.partitions.global_lock_count == 3  # partitions of 8 ids: 0, 1, 2
    assert d.statistics().live_partitions == 3


def test_bad_configuration_is_rejected() -> None:
    from vswap.errors import ConfigError
    with pytest.raises(ConfigError):
        VirtualSwap(max_vswap=0)
    with pytest.raises(ConfigError):
        VirtualSwap(partition="hash")
    with pytest.raises(ConfigError):
        VirtualSwap(cluster_shift=12)


def test_check_backing_measures_the_prefix_backed_like_the_first_id() -> None:
    """vswap_check_backing(): the run of ids from e0 with e0's backing. Four ZSWAP ids: 4;
    the third made ZERO: 2; SWAPFILE needs consecutive slots; a dead id ends the run."""
    t = VswapDescTable()
    e0 = t.vswap_alloc(4)
    assert e0 and all(t.is_live(e0 + i) for i in range(4))
    for i in range(4):
        t.set_zswap(e0 + i, 100 + i)
    assert t.check_backing(e0, 4) == (4, ZSWAP)
    assert t.check_backing(e0 + 1, 3) == (3, ZSWAP)
    t.type[e0 + 2] = ZERO
    assert t.check_backing(e0, 4) == (2, ZSWAP)
    assert t.check_backing(e0 + 2, 2) == (1, ZERO)
    for i in range(4):
        t.type[e0 + i] = SWAPFILE
        t.slot[e0 + i] = 1000 + i
    assert t.check_backing(e0, 4) == (4, SWAPFILE)
    t.slot[e0 + 3] = 2000
    assert t.check_backing(e0, 4) == (3, SWAPFILE)
    t.release_vswap_slot(e0 + 1)
    assert t.check_backing(e0, 4) == (1, SWAPFILE)
    assert t.check_backing(e0 + 1, 3) == (0, SWAPFILE)
