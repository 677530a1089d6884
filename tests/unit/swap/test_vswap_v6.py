"""What only the v6 virtual design (:mod:`vswap.swap.vswap_v6`) does with its descriptors:
reference counts in the descriptor, one lock section per cluster a range touches, batched
frees (patch 21) and ``free_swap_and_cache_nr`` stepping a folio at a time."""

from __future__ import annotations

import pytest
from vswaphelpers import add, map_ptes, mk_virtual, swap_out

from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import SwpEntry
from vswap.swap.vswap_v6 import VirtualSwapV6


class Recorder(KernelTracer):
    """Counts swap-cache lookups and records the cluster lock sections (and stops a walk
    that would never end: more than 64 sections for a few entries is a runaway loop)."""

    def __init__(self) -> None:
        self.lookups = 0
        self.sections: list[tuple[object, Cost]] = []

    def swap_cache_lookup(self) -> None:
        self.lookups += 1

    def lock_step(self, lock_class: str, instance: object, cost: Cost) -> None:
        assert len(self.sections) < 64, "runaway walk over the clusters"
        self.sections.append((instance, cost))


def _v6(rec: Recorder | None = None, **options: bool) -> VirtualSwapV6:
    """v6 with clusters of 4 ids (``cluster_shift=2``), debug_vm on, optionally traced."""
    env = KernelEnv(debug_vm=True)
    if rec is not None:
        env.tracer = rec
    return VirtualSwapV6(env=env, cluster_shift=2, **options)


def test_swap_duplicate_needs_a_count_or_the_cache_bit_not_both() -> None:
    d = mk_virtual("vswap-v6", device_mib=1)
    assert isinstance(d, VirtualSwapV6)
    f = Folio(0)
    e = add(d, f)  # cache-only: no count yet
    d.swap_duplicate(e)
    assert d.table.swap_count[e] == 1
    f.folio_unlock()
    e2, ret = swap_out(d, Folio(0, bytes([7]) * 4096))  # counted, out of the cache
    assert ret == 0 and not d.table.in_cache[e2] and d.table.swap_count[e2] == 1
    d.swap_duplicate(e2)
    assert d.table.swap_count[e2] == 2
    d.check_invariants()


def test_a_range_across_clusters_takes_each_cluster_lock_once() -> None:
    rec = Recorder()
    d = _v6(rec)
    folios = [Folio(0) for _ in range(5)]
    ents = [add(d, f) for f in folios]
    assert [int(e) for e in ents] == [1, 2, 3, 4, 5], "ids 1..3 in cluster 0, 4..5 in 1"
    rec.sections.clear()
    d.swap_duplicate_nr(SwpEntry(1), 5)
    assert rec.sections == [(("vswap_cluster", 0), Cost.SWAP_MAP_UPDATE),
                            (("vswap_cluster", 1), Cost.SWAP_MAP_UPDATE)]
    assert all(d.table.swap_count[e] == 1 for e in range(1, 6))


@pytest.mark.parametrize(("batch_free", "batches"), [(True, 1), (False, 4)])
def test_a_folio_freed_at_once_is_one_batch(batch_free: bool, batches: int) -> None:
    """Patch 21: consecutive ids of one memcg go in one ``vswap_free_nr``; v3 frees each."""
    d = _v6(batch_free=batch_free)
    f = Folio(2)
    e = add(d, f)
    map_ptes(d, e, 4)
    d.delete_from_swap_cache(f)
    f.folio_unlock()
    assert d.free_batches == 0
    d.swap_free_nr(e, 4)
    assert (d.free_batches, d.freed_slots) == (batches, 4)
    assert d.table.used == 0


def test_free_swap_and_cache_steps_over_the_rest_of_a_kept_folio() -> None:
    """A cache-only page whose folio stays (page 0 is still mapped) is tried once for the
    whole folio: the walk steps to the folio's end, one swap-cache lookup, not three."""
    rec = Recorder()
    d = _v6(rec)
    f = Folio(2)
    e = add(d, f)
    map_ptes(d, e, 4)
    f.folio_unlock()
    rec.lookups = 0
    d.free_swap_and_cache_nr(SwpEntry(e + 1), 3)  # starts mid-folio
    assert f.swapcache and rec.lookups == 1
    d.free_swap_and_cache_nr(e, 1)
    assert not f.swapcache and rec.lookups == 3 and d.table.used == 0
    with pytest.raises(KernelError) as exc:
        d.free_swap_and_cache_nr(e, 1)
    assert exc.value.errno == Errno.ENOENT
