"""What only the swap table designs do: tables that follow their clusters, phase IV's counts
in the table word (and the extend table past 15), its swap-cache claim in place of
``SWAP_HAS_CACHE``, its memcg table and zero flag, the cluster lock for swap-cache updates,
and phase IV's end of the swap-cache bypass."""

from __future__ import annotations

from typing import Any

import pytest

from vswap.kernel.env import KernelEnv
from vswap.kernel.folio import Folio
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import PAGE_SIZE, SWAPFILE_CLUSTER, SwpEntry, swp_offset, swp_type
from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig
from vswap.swap import create_design
from vswap.swap.storage import MemSwapStorage
from vswap.swap.swap_state import pack_shadow
from vswap.swap.swap_table import SWP_TB_COUNT_MAX
from vswap.swap.swap_table_p1 import SwapTableP1
from vswap.swap.swap_table_p4 import SwapTableP4
from vswap.swap.swapfile import SWAP_MAP_MAX, TTRS_ANYWAY
from vswap.swap.vswap_ste import SWP_RMAP_CACHE_ONLY, VSWAP_TYPE, VswapSTE


def _design(name: str, *, tracer: KernelTracer | None = None) -> SwapTableP1:
    env = KernelEnv(debug_vm=True)
    if tracer is not None:
        env.tracer = tracer
    d = create_design(name, env=env)
    assert isinstance(d, SwapTableP1)
    d.swapon(MemSwapStorage(4 * SWAPFILE_CLUSTER * PAGE_SIZE))
    return d


def _swap_out(d: SwapTableP1, data: bytes, memcg_id: int = 0) -> SwpEntry:
    f = Folio(0, data, memcg_id=memcg_id)
    f.folio_lock()
    assert d.add_to_swap(f)
    e = f.swap
    d.swap_duplicate(e)
    f.dirty = False
    assert d.swap_writepage(f) == 0
    f.folio_lock()
    d.delete_from_swap_cache(f, shadow=pack_shadow(memcg_id, 5, True))
    f.folio_unlock()
    return e


def test_tables_follow_the_clusters_in_use() -> None:
    for name in ("swap-table-p1", "swap-table-p4"):
        d = _design(name)
        assert not d.tables.tables
        e = _swap_out(d, b"\x01" * PAGE_SIZE)
        key = (swp_type(e), swp_offset(e) // SWAPFILE_CLUSTER)
        assert list(d.tables.tables) == [key]
        assert d.get_shadow_from_swap_cache(e) == pack_shadow(0, 5, True)
        d.free_swap_and_cache_nr(e, 1)
        assert not d.tables.tables and d.tables.tables_freed == 1, name
        assert d.leftovers() == []
        d.check_invariants()


@pytest.mark.parametrize("name", ["swap-table-p1", "swap-table-p4", "vswap-ste"])
def test_replace_folio_refuses_an_old_folio_not_cached_at_the_entry(name: str) -> None:
    """``__swap_cache_replace_folio`` checks every word of the new folio's range names the
    old folio: one that claims the entry but is not the cached folio changes nothing."""
    d = _design(name)
    cached = Folio(0)
    cached.folio_lock()
    assert d.add_to_swap(cached)
    impostor, new = Folio(0), Folio(0)
    for f in (impostor, new):
        f.swap, f.swapcache, f.locked = cached.swap, True, True
    with pytest.raises(AssertionError, match="__swap_cache_replace_folio"):
        d.swap_cache_replace_folio(impostor, new)
    assert d.swap_cache_get_folio(cached.swap) is cached
    d.check_invariants()


def test_p1_metadata_counts_the_continuation_pages() -> None:
    """Phase I keeps ``swap_map`` and its continuation pages: a count past SWAP_MAP_MAX
    takes a 4 KiB page, which stays until swapoff."""
    d = _design("swap-table-p1")
    e = _swap_out(d, b"\x03" * PAGE_SIZE)
    assert d.metadata_bytes()["swap_cont_pages"] == 0
    for _ in range(SWAP_MAP_MAX):
        d.swap_duplicate(e)
    assert d.swp_swapcount(e) == SWAP_MAP_MAX + 1
    assert d.metadata_bytes()["swap_cont_pages"] == PAGE_SIZE
    for _ in range(SWAP_MAP_MAX + 1):
        d.swap_free_nr(e, 1)
    assert not d.swp_swapcount(e)
    assert d.metadata_bytes()["swap_cont_pages"] == PAGE_SIZE
    d.check_invariants()


def test_swap_cache_updates_take_the_cluster_lock() -> None:
    class Recorder(KernelTracer):
        def __init__(self) -> None:
            self.locks: list[tuple[str, object, Cost]] = []

        def lock_step(self, lock_class: str, instance: object, cost: Cost) -> None:
            self.locks.append((lock_class, instance, cost))

    rec = Recorder()
    d = _design("swap-table-p1", tracer=rec)
    e = _swap_out(d, b"\x02" * PAGE_SIZE)
    cluster = (swp_type(e), swp_offset(e) // SWAPFILE_CLUSTER)
    inserts = [(c, i) for c, i, cost in rec.locks if cost is Cost.SWAP_CACHE_INSERT]
    assert inserts == [("swap_cluster", cluster)]
    assert {c for c, _i, _cost in rec.locks} == {"swap_cluster"}, "no address_space lock"


def test_p4_count_overflows_into_the_extend_table_and_back() -> None:
    d = _design("swap-table-p4")
    assert isinstance(d, SwapTableP4)
    e = _swap_out(d, b"\x03" * PAGE_SIZE)
    for _ in range(SWP_TB_COUNT_MAX + 4):
        d.swap_duplicate(e)
    assert d.swp_swapcount(e) == SWP_TB_COUNT_MAX + 5
    assert len(d.extend_tables) == 1
    d.check_invariants()
    for _ in range(6):
        d.swap_free_nr(e, 1)
    assert d.swp_swapcount(e) == SWP_TB_COUNT_MAX - 1 and not d.extend_tables
    assert d.metadata_bytes()["extend_table"] == 0
    d.check_invariants()


def test_p4_swapin_claim_replaces_swap_has_cache_and_keeps_the_shadow() -> None:
    d = _design("swap-table-p4")
    e = _swap_out(d, b"\x04" * PAGE_SIZE)
    assert d.swapcache_prepare(e, 1) == 0
    assert d.swapcache_prepare(e, 1) == -17  # EEXIST: the claim is a swap-cache entry
    f, new = d.read_swap_cache_async(e)
    assert f is None and not new, "a claimed entry is not read twice"
    d.swapcache_clear(e, 1)
    f, new = d.read_swap_cache_async(e)
    assert f is not None and new and d.swap_read_folio(f)
    assert bytes(f.data) == b"\x04" * PAGE_SIZE
    f.folio_unlock()
    assert d.swapcache_prepare(e, 1) == -17
    d.check_invariants()


def test_p4_memcg_id_and_zero_flag_live_in_the_cluster() -> None:
    d = _design("swap-table-p4")
    assert isinstance(d, SwapTableP4)
    memcg = d.memcgs.create("/a")
    e = _swap_out(d, bytes(PAGE_SIZE), memcg.id)
    assert d.lookup_swap_cgroup_id(e) == memcg.id and memcg.swap.usage == 1
    assert d.swapped_page_locations() == (1, 0)
    assert d.swap_peek_entry(e) == bytes(PAGE_SIZE)
    assert not hasattr(d, "swap_map_bytes") and not d.swap_cgroup and not d.zeromap
    d.free_swap_and_cache_nr(e, 1)
    assert memcg.swap.usage == 0 and not d.memcg_tables


def _read_faults_through_cache(design: str) -> tuple[int, int, int]:
    """Eight pages paged out to a memory device and read back: the swap-ins that went
    through the swap cache, the pages read ahead, the folios the cache still holds."""
    m = Machine(MachineConfig(ram=8 << 20, design=design))
    m.swapon(MemSwapStorage(4 << 20))  # a memory device: SWP_SYNCHRONOUS_IO
    t = m.spawn("t")
    addr = m.mmap(t, 8 * PAGE_SIZE)
    for i in range(8):
        m.write(t, addr + i * PAGE_SIZE, bytes([i + 1]) * PAGE_SIZE)
    m.madvise(t, addr, 8 * PAGE_SIZE, MADV_PAGEOUT)
    through = 0
    swapin_one = m.swapin_one

    def counting(*args: Any, **kw: Any) -> Any:
        nonlocal through
        through += 1
        return swapin_one(*args, **kw)

    m.swapin_one = counting  # type: ignore[method-assign]
    for i in range(8):
        assert m.read(t, addr + i * PAGE_SIZE, PAGE_SIZE) == bytes([i + 1]) * PAGE_SIZE
    m.check_invariants()
    return through, m.vmstat["swap_ra"], m.design.swap_cache.nr_pages


def test_p4_has_no_swap_cache_bypass() -> None:
    """Phase I reads a zram-like device straight into private folios; phase IV reads
    each through the swap cache (swapin_folio), still without readahead, and frees the
    cache at the fault (should_try_to_free_swap: always for SWP_SYNCHRONOUS_IO)."""
    assert _read_faults_through_cache("swap-table-p1") == (0, 0, 0)
    assert _read_faults_through_cache("swap-table-p4") == (8, 0, 0)


def test_ste_takes_a_physical_slot_only_at_writeout_with_its_reverse_map() -> None:
    d = _design("vswap-ste")
    assert isinstance(d, VswapSTE)
    memcg = d.memcgs.create("/a")
    f = Folio(0, b"\x05" * PAGE_SIZE, memcg_id=memcg.id)
    f.folio_lock()
    assert d.add_to_swap(f)
    e = f.swap
    assert swp_type(e) == VSWAP_TYPE and memcg.swap.usage == 0, "virtual slots: no charge"
    assert sum(si.inuse_pages for si in d.devices.devices()) == 0
    d.swap_duplicate(e)
    f.dirty = False
    assert d.swap_writepage(f) == 0
    slot = d.swp_entry_to_swp_slot(e)
    assert slot and memcg.swap.usage == 1, "charged with the physical slot"
    assert d.swp_slot_to_swp_entry(slot) == e
    si = next(d.devices.devices())
    assert not d.swap_cache_only(si, swp_offset(SwpEntry(slot)))
    d.swap_free_nr(e, 1)  # the PTE is gone, the folio still cached: cache-only
    assert d.tables.swp_tb(SwpEntry(slot)) & SWP_RMAP_CACHE_ONLY
    assert d.swap_cache_only(si, swp_offset(SwpEntry(slot)))
    assert not [k for k in d.memcg_tables if k[0] != VSWAP_TYPE], "no physical memcg table"
    d.check_invariants()
    assert d.try_to_reclaim_swap(si, swp_offset(SwpEntry(slot)), TTRS_ANYWAY) == 1
    assert memcg.swap.usage == 0 and d.leftovers() == []
    d.check_invariants()


def test_ste_swapoff_repoints_virtual_entries_without_a_page_table_walk() -> None:
    d = _design("vswap-ste")
    e = _swap_out(d, b"\x06" * PAGE_SIZE)
    name = next(d.devices.devices()).name
    res = d.swapoff(name)
    assert res.completed and res.ptes_visited == 0 and res.pages_read == 1
    f = d.swap_cache_get_folio(e)
    assert f is not None and f.dirty and bytes(f.data) == b"\x06" * PAGE_SIZE
    assert d.swp_entry_to_swp_slot(e) == 0 and d.swp_swapcount(e) == 1
    d.check_invariants()
