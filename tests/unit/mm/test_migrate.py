"""Page migration and compaction (``echo 1 > /proc/sys/vm/compact_memory``): anonymous
folios, resident or in the swap cache, moved to new folios; every page checked
(docs/folio-split-migration.md)."""

from __future__ import annotations

import pytest
from test_folio_split import parked

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_DONTNEED, Machine, MachineConfig
from vswap.swap import DESIGNS
from vswap.workloads.thp_churn import churn_page

MiB = 1 << 20
COMPACT = "/proc/sys/vm/compact_memory"


@pytest.mark.parametrize("design", DESIGNS)
def test_compaction_migrates_large_swap_cache_folios(design: str) -> None:
    """Each folio the swap cache holds moves whole: the cache (and RFC v2's FOLIO
    descriptors: ``vswap_migrate``, spec part 2 T10, patch 12) names the new folio at every
    entry, its PTEs map the new folio, and the bytes are the same."""
    m, t, a = parked(design, 64, 32)
    olds = list(m.design.swap_cache.folios())
    m.sysfs_write(COMPACT, "1")
    res = m.compactions[-1]
    assert res.migrated == res.swapcache_migrated == 32 and res.failed == 0
    assert m.vmstat["pgmigrate_success"] == 32 and m.vmstat["compact_isolated"] == 64
    assert m.vmstat["compact_migrate_scanned"] == 32
    news = list(m.design.swap_cache.folios())
    assert len(news) == 2 and not {id(f) for f in olds} & {id(f) for f in news}
    for f in news:
        assert f.order == 4 and f.mapcount == 16 and f.lru
        for k in range(16):
            assert m.design.swap_cache_get_folio(f.swap + k) is f
    m.check_invariants()
    for i in range(32):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == churn_page(0, i)
    m.exit(t)
    m.check_invariants()
    m.check_no_leaks()


def test_compaction_migrates_resident_folios_and_writes_land_in_the_new_ones() -> None:
    m = Machine(MachineConfig(ram=32 * MiB))
    t = m.spawn("a")
    a = m.mmap(t, 8 * PAGE_SIZE)
    for i in range(8):
        m.write(t, a + i * PAGE_SIZE, bytes([i + 1]) * PAGE_SIZE)
    used = m.nr_used_pages
    m.sysfs_write(COMPACT, "1")
    assert m.vmstat["pgmigrate_success"] == 8 and m.nr_used_pages == used
    assert m.compactions[-1].swapcache_migrated == 0
    m.write(t, a, b"\xff" * PAGE_SIZE)
    assert m.read(t, a, PAGE_SIZE) == b"\xff" * PAGE_SIZE
    for i in range(1, 8):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == bytes([i + 1]) * PAGE_SIZE
    m.check_invariants()
    m.exit(t)
    m.check_no_leaks()


def test_no_free_page_fails_the_migration_and_ends_the_pass(
        monkeypatch: pytest.MonkeyPatch) -> None:
    m, t, a = parked("vswap", 64, 32)
    monkeypatch.setattr(m, "nr_free_pages", lambda: 0)
    m.sysfs_write(COMPACT, "1")
    res = m.compactions[-1]
    assert res.migrated == 0 and res.failed == 16 and res.scanned == 16
    assert m.vmstat["pgmigrate_fail"] == 16 and m.vmstat["pgmigrate_success"] == 0
    monkeypatch.undo()
    m.check_invariants()
    for i in range(32):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == churn_page(0, i)
    m.exit(t)
    m.check_no_leaks()


def test_a_held_folio_is_scanned_not_isolated_and_a_queued_one_is_requeued() -> None:
    m, t, a = parked("vswap-v6", 64, 32)
    m.madvise(t, a + 20 * PAGE_SIZE, PAGE_SIZE, MADV_DONTNEED)
    (queued,) = m.deferred_split_queue
    held = next(f for f in m.design.swap_cache.folios() if f is not queued)
    held.mm_pins += 1
    m.sysfs_write(COMPACT, "1")
    res = m.compactions[-1]
    assert res.scanned == 32 and res.migrated == 16 and res.isolated == 32
    (requeued,) = m.deferred_split_queue
    assert requeued is not queued and requeued.swapcache and not queued.swapcache
    assert m.vmstat["thp_deferred_split_page"] == 0 and m.thp.stats[4]["split_deferred"] == 1
    held.mm_pins -= 1
    m.sysfs_write("/proc/sys/vm/drop_caches", "2")
    assert m.thp_split_swapcache == 1
    m.check_invariants()
    m.exit(t)
    m.check_no_leaks()


def test_compact_memory_is_write_only_and_takes_only_1() -> None:
    m = Machine(MachineConfig(ram=32 * MiB))
    for bad in ("0", "2", "x"):
        with pytest.raises(KernelError) as exc:
            m.sysfs_write(COMPACT, bad)
        assert exc.value.errno == Errno.EINVAL
    with pytest.raises(KernelError) as exc:
        m.sysfs_read(COMPACT)
    assert exc.value.errno == Errno.EACCES
    assert not m.compactions
