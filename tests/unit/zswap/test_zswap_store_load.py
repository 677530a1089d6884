"""zswap_store / zswap_load / zswap_invalidate semantics (v6.14), trees, stats, metadata."""

from __future__ import annotations

import pytest

from vswap.errors import ConfigError
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.sizes import ZSWAP_ENTRY_BYTES
from vswap.kernel.types import PAGE_SIZE, SwpEntry, swp_entry
from vswap.zswap.zswap import ZSWAP_DEBUGFS, ZswapHost, ZswapParams, ZswapStats


def test_fake_host_implements_protocol(machine) -> None:
    assert isinstance(machine.host, ZswapHost)


def test_store_then_exclusive_load(any_machine, helpers) -> None:
    m = any_machine
    cg = m.memcgs.create("/a")
    page = helpers.usemem_page(100)
    ok, entry = m.swapout(page, cg)
    assert ok
    info = m.zswap.lookup(entry)
    assert info is not None and 0 < info.length < PAGE_SIZE and info.referenced
    assert m.vmstat["zswpout"] == 1 and cg.stat["zswpout"] == 1
    assert cg.zswap.usage == info.length == cg.zswap_memory_stat()["zswap"]
    assert cg.zswap_memory_stat()["zswapped"] == PAGE_SIZE
    assert cg.memory.usage == info.length
    hit, folio = m.swapin(entry, cg)
    assert hit and folio.uptodate and folio.dirty and bytes(folio.data) == page
    assert m.zswap.lookup(entry) is None
    assert m.vmstat["zswpin"] == 1 and cg.stat["zswpin"] == 1
    assert cg.zswap.usage == 0 and cg.memory.usage == 0
    assert m.zswap.statistics().stored_pages == 0
    assert m.zswap.pool_total_size == 0
    m.zswap.check_invariants()
    if m.host.mode == "vswap":
        assert ("loaded", entry) in m.host.calls and m.host.backend[entry] == ("folio", 0)


def test_load_without_swapcache_keeps_entry(machine, helpers) -> None:
    _ok, entry = machine.swapout(helpers.text_page(1))
    hit, folio = machine.swapin(entry, swapcache=False)
    assert hit and folio.uptodate and not folio.dirty
    assert machine.zswap.lookup(entry) is not None
    assert machine.zswap.statistics().stored_pages == 1


def test_load_miss_and_never_enabled(helpers) -> None:
    m = helpers.Machine(params=ZswapParams(enabled=False))
    assert m.zswap.zswap_never_enabled()
    hit, folio = m.swapin(m.entry(5))
    assert not hit and not folio.uptodate
    ok, _ = m.swapout(helpers.text_page(2))
    assert not ok and m.zswap.statistics().stored_pages == 0
    m.zswap.set_param("enabled", True)
    assert not m.zswap.zswap_never_enabled()
    hit, _ = m.swapin(m.entry(99))
    assert not hit


def test_large_folio_store_and_load(any_machine, helpers) -> None:
    m = any_machine
    cg = m.memcgs.create("/big")
    data = b"".join(helpers.usemem_page(512 * i) for i in range(4))
    ok, entry = m.swapout(data, cg, order=2)
    assert ok and m.vmstat["zswpout"] == 4 and cg.stat["zswpout"] == 4
    assert m.zswap.statistics().stored_pages == 4
    big = Folio(2, None, cg.id)
    big.folio_lock()
    m.host.add_to_swap_cache(big, entry)
    # WARN_ON_ONCE(folio_test_large(folio)) in zswap_load: counted on the one warning path.
    assert m.zswap.zswap_load(big) is True
    assert m.env.warnings["zswap_load: large folio"] == 1
    assert not big.uptodate and m.zswap.statistics().stored_pages == 4
    m.host.delete_from_swap_cache(big)
    for i in range(4):
        hit, f = m.swapin(SwpEntry(entry + i), cg)
        assert hit and bytes(f.data) == data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
    m.zswap.check_invariants()


def test_partial_large_folio_failure_is_undone(any_machine, helpers) -> None:
    m = any_machine
    cg = m.memcgs.create("/nowb")
    cg.zswap_writeback = False  # incompressible pages are then rejected
    data = helpers.usemem_page(0) * 2 + helpers.random_page(3) + helpers.usemem_page(9)
    # a stale entry at the 4th slot from an earlier swap-out must be erased too
    ok, stale = m.swapout(helpers.text_page(4), cg, at=13)
    assert ok
    m.host.calls.clear()
    ok, entry = m.swapout(data, cg, order=2, at=10)
    assert not ok
    st = m.zswap.statistics()
    assert st.stored_pages == 0 and st.reject_compress_poor == 1
    assert m.zswap.lookup(stale) is None
    assert cg.zswap.usage == 0 and cg.stat["zswpout"] == 1
    assert ("undone", entry) in m.host.calls
    if m.host.mode == "vswap":
        assert [m.host.backend[entry + i] for i in range(4)] == [("folio", 0)] * 4
        assert sum(1 for c in m.host.calls if c[0] == "stored") == 2
    m.zswap.check_invariants()


def test_failure_when_disabled_erases_stale_entries(machine, helpers) -> None:
    ok, entry = machine.swapout(helpers.text_page(5), at=7)
    machine.zswap.set_param("enabled", False)
    ok, _ = machine.swapout(helpers.text_page(6), at=7)
    assert not ok and machine.zswap.lookup(entry) is None
    assert machine.zswap.statistics().stored_pages == 0


def test_restore_over_stale_entry_replaces_it(machine, helpers) -> None:
    machine.swapout(helpers.text_page(5), at=7)
    ok, entry = machine.swapout(helpers.text_page(6), at=7)
    assert ok and machine.zswap.statistics().stored_pages == 1
    _hit, folio = machine.swapin(entry)
    assert bytes(folio.data) == helpers.text_page(6)


def test_pool_alloc_failure_counts_reject_alloc_fail(helpers) -> None:
    m = helpers.Machine(pool_max_pages=1)
    assert m.swapout(helpers.random_page(1))[0]
    ok, _ = m.swapout(helpers.random_page(2))
    assert not ok and m.zswap.statistics().reject_alloc_fail == 1


def test_incompressible_stored_raw_when_writeback_enabled(machine, helpers) -> None:
    cg = machine.memcgs.create("/inc")
    page = helpers.random_page(11)
    ok, entry = machine.swapout(page, cg)
    assert ok
    info = machine.zswap.lookup(entry)
    assert info.length == PAGE_SIZE
    assert machine.zswap.statistics().stored_incompressible_pages == 1
    assert cg.zswap_memory_stat()["zswap_incomp"] == PAGE_SIZE
    hit, folio = machine.swapin(entry, cg)
    assert hit and bytes(folio.data) == page
    assert machine.zswap.statistics().stored_incompressible_pages == 0
    assert cg.zswap_memory_stat()["zswap_incomp"] == 0


def test_corrupted_entry_raises_eio_naming_it(any_machine, helpers) -> None:
    m = any_machine
    page = helpers.text_page(8)
    _ok, entry = m.swapout(page)
    m.zswap.corrupt(entry, offset=3)
    with pytest.raises(KernelError) as exc:
        m.swapin(entry)
    assert exc.value.errno == Errno.EIO and f"{entry:#x}" in str(exc.value)
    assert m.zswap.lookup(entry) is not None  # the entry stays
    assert m.zswap.statistics().decompress_fail == 1


def test_corruption_that_still_decodes_is_caught_by_crc(machine, helpers) -> None:
    page = helpers.random_page(12)  # stored raw: any flipped byte decodes "fine"
    _ok, entry = machine.swapout(page)
    machine.zswap.corrupt(entry, offset=100, xor=1)
    with pytest.raises(KernelError, match="checksum"):
        machine.swapin(entry)


def test_invalidate(any_machine, helpers) -> None:
    m = any_machine
    _ok, entry = m.swapout(helpers.text_page(1))
    m.zswap.zswap_invalidate(entry)
    m.zswap.zswap_invalidate(entry)  # nothing there: no-op
    assert m.zswap.lookup(entry) is None and m.zswap.statistics().stored_pages == 0
    m.zswap.check_invariants()


def test_classic_trees_per_64m_and_swapon_swapoff(helpers) -> None:
    m = helpers.Machine("classic")
    m.zswap.zswap_swapon(0, 3 * 16384 + 1)
    assert m.zswap.tree_keys() == [(0, 0), (0, 1), (0, 2), (0, 3)]
    m.swapout(helpers.text_page(1), at=5)
    m.swapout(helpers.text_page(2), at=16384 + 5)
    m.swapout(helpers.text_page(3), at=16384 + 6)
    assert m.zswap.tree_entry_counts() == {(0, 0): 1, (0, 1): 2, (0, 2): 0, (0, 3): 0}
    with pytest.raises(KernelError, match="EBUSY"):
        m.zswap.zswap_swapoff(0)
    for off in (5, 16389, 16390):
        m.zswap.zswap_invalidate(swp_entry(0, off))
    m.zswap.zswap_swapoff(0)
    assert m.zswap.tree_keys() == []
    with pytest.raises(KernelError):
        m.zswap.zswap_swapon(1, 10) or m.zswap.zswap_swapon(1, 10)


def test_vswap_single_tree(helpers) -> None:
    m = helpers.Machine("vswap")
    for i in range(3):
        m.swapout(helpers.text_page(i), at=1 + i * 100000)
    assert m.zswap.tree_entry_counts() == {"global": 3}


def test_stats_record_and_dict(machine, helpers) -> None:
    machine.swapout(helpers.text_page(1))
    st = machine.zswap.statistics()
    assert isinstance(st, ZswapStats)
    d = machine.zswap.debugfs()
    assert list(d) == list(ZSWAP_DEBUGFS)
    assert d["stored_pages"] == 1 and d["pool_total_size"] == st.pool_total_size > 0
    with pytest.raises(AttributeError):
        st.stored_pages = 5  # type: ignore[misc]


def test_metadata_bytes(machine, helpers) -> None:
    for i in range(100):
        machine.swapout(helpers.text_page(i))
    md = machine.zswap.metadata_bytes()
    assert md["zswap_entry"] == 100 * ZSWAP_ENTRY_BYTES
    assert md["zswap_tree_xarray"] == 3 * 576  # leaves for 1..63 and 64..100, plus a root
    assert md["zs_handle"] == 800 and md["zspage"] > 0


def test_params_validation_and_runtime_compressor_switch(machine, helpers) -> None:
    for bad in ({"max_pool_percent": 101}, {"accept_threshold_percent": -1},
                {"max_pool_percent": True}, {"enabled": 1}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            ZswapParams(**bad)
    with pytest.raises(ConfigError, match="compressor lzo-rle not available"):
        ZswapParams(compressor="lzo-rle")
    with pytest.raises(ConfigError, match="unknown parameter"):
        machine.zswap.set_param("zpool", "zsmalloc")
    _ok, old = machine.swapout(helpers.text_page(1))
    machine.zswap.set_param("compressor", "zstd")
    _ok, new = machine.swapout(helpers.text_page(2))
    assert machine.zswap.lookup(old).compressor == "lzo"
    assert machine.zswap.lookup(new).compressor == "zstd"
    assert len(machine.zswap.pools()) == 2
    _hit, folio = machine.swapin(old)
    assert bytes(folio.data) == helpers.text_page(1)
    assert len(machine.zswap.pools()) == 1  # the old pool died with its last entry
    machine.zswap.check_invariants()


def test_without_memcg(helpers) -> None:
    m = helpers.Machine(with_memcg=False)
    ok, entry = m.swapout(helpers.text_page(1))
    assert ok and m.zswap.lru_entries(None) == [entry]
    m.zswap.check_invariants()
