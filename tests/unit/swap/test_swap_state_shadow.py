"""Shadow entries (``pack_shadow``/``unpack_shadow``, mm/workingset.c): the packed value keeps
the memcg id, the eviction age and the workingset bit apart. Added for a mutant that
survived the swap tests (bin/mutate: ``<<`` turned into ``>>`` in ``pack_shadow``). And the
swap cache's store of them (issue 12): one 8-byte word per index in chunks of a cluster, freed
with their last shadow, folios apart, the XArray node count of both as before."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from vswap.kernel import sizes
from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.types import SwpEntry, swp_entry, swp_slot
from vswap.swap.classic import _classic_index, _classic_space
from vswap.swap.swap_state import (
    SHADOW_CHUNK,
    SwapCache,
    pack_shadow,
    unpack_shadow,
    xarray_nodes_of,
)
from vswap.swap.vswap_desc import xarray_bytes_np


@given(memcg_id=st.integers(0, (1 << 16) - 1), eviction=st.integers(0, 1 << 40),
       workingset=st.booleans())
def test_shadow_round_trip(memcg_id: int, eviction: int, workingset: bool) -> None:
    assert unpack_shadow(pack_shadow(memcg_id, eviction, workingset)) == (
        memcg_id, eviction, workingset)


def test_shadow_layout() -> None:
    # eviction above the 16 memcg bits and the workingset bit, as the kernel packs it
    assert pack_shadow(3, 5, True) == (5 << 17) | (3 << 1) | 1


# -- the shadow store: 8-byte words in per-cluster chunks (issue 12) ---------------------------

def _cache() -> SwapCache:
    return SwapCache(_classic_space, _classic_index)


def _evict(cache: SwapCache, entry: SwpEntry, shadow: int | None, order: int = 0) -> Folio:
    folio = Folio(order)
    assert cache.add_to_swap_cache(folio, entry)[0] == 0
    cache._delete_from_swap_cache(folio, entry, shadow)
    return folio


def test_shadow_word_per_index_and_chunk_freed_with_its_last_shadow() -> None:
    cache = _cache()
    e = swp_entry(0, 3 * SHADOW_CHUNK + 5)
    _evict(cache, e, pack_shadow(2, 0, False))       # a packed shadow of 0 eviction age
    _evict(cache, SwpEntry(e + 1), pack_shadow(1, 1 << 40, True))
    assert cache.get_shadow_from_swap_cache(e) == pack_shadow(2, 0, False)
    assert cache.get_shadow_from_swap_cache(SwpEntry(e + 1)) == pack_shadow(1, 1 << 40, True)
    assert cache.get_shadow_from_swap_cache(SwpEntry(e + 2)) is None
    space = cache.spaces[_classic_space(e)]
    assert list(space.shadows) == [3] and space.used == {3: 2}
    assert cache.nr_shadows() == 2
    cache.check_invariants()
    assert cache.clear_shadow(e, 2) == 2
    assert cache.nr_shadows() == 0 and not cache.spaces     # chunk and space both freed


def test_folio_insert_takes_the_shadows_of_its_range() -> None:
    cache = _cache()
    e = swp_entry(1, 64)
    for k in range(4):
        _evict(cache, SwpEntry(e + k), pack_shadow(0, 10 + k, False))
    big = Folio(2)
    assert cache.add_to_swap_cache(big, e) == (0, pack_shadow(0, 10, False))
    assert cache.nr_shadows() == 0 and cache.swap_cache_get_folio(SwpEntry(e + 3)) is big
    assert cache.add_to_swap_cache(Folio(0), SwpEntry(e + 1)) == (-Errno.EEXIST, None)
    cache.check_invariants()
    cache._delete_from_swap_cache(big, e, pack_shadow(0, 99, True))
    assert [cache.get_shadow_from_swap_cache(SwpEntry(e + k)) for k in range(4)] == (
        [pack_shadow(0, 99, True)] * 4)
    cache.move_shadow(e, swp_entry(1, 5000))
    assert cache.get_shadow_from_swap_cache(e) is None
    assert cache.get_shadow_from_swap_cache(swp_entry(1, 5000)) == pack_shadow(0, 99, True)
    cache.check_invariants()


def test_metadata_bytes_count_the_nodes_of_folios_and_shadows() -> None:
    cache = _cache()
    offsets = [0, 1, 63, 64, 700, 4095, 16383, 16384 + 9]
    for off in offsets[:-2]:
        _evict(cache, swp_entry(0, off), pack_shadow(0, off, False))
    for off in offsets[-2:]:
        cache.add_to_swap_cache(Folio(0), swp_entry(0, off))
    expect = sizes.xarray_bytes(offsets[:-1]) + sizes.xarray_bytes([9])
    assert cache.metadata_bytes() == expect


@given(st.lists(st.integers(0, (1 << 32) - 1), max_size=200))
def test_xarray_nodes_of_matches_the_kernel_layout(indices: list[int]) -> None:
    arr = np.array(indices, dtype=np.int64)
    assert xarray_nodes_of(arr) == sizes.xarray_node_count(indices)
    assert arr.tolist() == indices, "not owned: the caller's array is left alone"
    # Owned (the snapshot's temporaries): counted in place, the same count.
    assert xarray_nodes_of(arr, owned=True) == sizes.xarray_node_count(indices)


@given(st.lists(st.integers(0, (1 << 20) - 1), max_size=200, unique=True))
def test_vswap_metadata_counts_as_the_kernel_layout(ids: list[int]) -> None:
    # vswap_map and vswap_rmap count from views of their columns (issue 12: no copies at
    # the snapshot, the model's peak); a slot value has the device type above bit 58.
    assert xarray_bytes_np(np.array(ids, dtype=np.int64)) == sizes.xarray_bytes(ids)
    slots = [swp_slot(1, i) for i in ids]
    assert xarray_bytes_np(np.array(slots, dtype=np.int64)) == sizes.xarray_bytes(slots)
