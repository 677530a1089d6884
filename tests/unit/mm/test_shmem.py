"""tmpfs / shmem swap (vswap.mm.shmem) on every design: pages swap out into their file's page
cache and come back on read, with every byte checked, the counters, swapoff, truncation and the
spec's invariants for shmem."""

from __future__ import annotations

import pytest

from conftest import MiB, make_machine
from vswap.kernel.errors import KernelError
from vswap.kernel.types import HPAGE_PMD_ORDER, PAGE_SIZE, SwpEntry, swp_offset, swp_type
from vswap.mm.checks import check_counters, check_swap_references
from vswap.mm.machine import Machine
from vswap.swap.swapfile import SWAP_HAS_CACHE, SWAP_MAP_SHMEM

PAGES = 192  # 768 KiB of file data against a 512 KiB cgroup: a third of it must swap


def page(tag: int, i: int) -> bytes:
    """A distinct, compressible page (every fourth page zero)."""
    if i % 4 == 0:
        return bytes(PAGE_SIZE)
    return ((tag << 32) | i).to_bytes(8, "little") * (PAGE_SIZE // 8)


def setup(design: str, *, zswap: bool = False, device: int | None = 16 * MiB,
          limit: str = "512K") -> tuple[Machine, object]:
    m = make_machine(design, zswap=zswap, device=device)
    m.create_cgroup("/job")
    m.cgroup_write("/job", "memory.max", limit)
    m.tmpfs_mount("/tmp")
    return m, m.spawn("job", "/job")


def write_file(m: Machine, t: object, path: str, n: int, tag: int = 1):  # type: ignore[no-untyped-def]
    f = m.shmem_open(path)
    for i in range(n):
        m.shmem_write(t, f, i * PAGE_SIZE, page(tag, i))  # type: ignore[arg-type]
    return f


def check_file(m: Machine, t: object, f, n: int, tag: int = 1) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        assert m.shmem_read(t, f, i * PAGE_SIZE, PAGE_SIZE) == page(tag, i), f"page {i}"  # type: ignore[arg-type]


def test_shmem_swaps_out_and_back_on_every_design(design: str) -> None:
    m, t = setup(design)
    f = write_file(m, t, "/tmp/obj", PAGES)
    assert f.swapped > 0, "the cgroup limit made reclaim swap file pages"
    check_swap_references(m)
    check_counters(m)
    assert m.vmstat["pswpout"] + m.vmstat["swpout_zero"] >= f.swapped
    check_file(m, t, f, PAGES)
    assert m.oracle.stats.checked > 0, "pages read back from swap were verified"
    m.check_invariants()
    m.shmem_unlink("/tmp/obj")
    m.exit(t)  # type: ignore[arg-type]
    m.check_no_leaks()


def test_shmem_counters_meminfo_vmstat_memory_stat() -> None:
    m, t = setup("classic", limit="max")
    f = write_file(m, t, "/tmp/a", 64)
    assert m.meminfo()["Shmem"] == 64 * 4
    assert m.vmstat_dict()["nr_shmem"] == 64
    stat = m.memcg_stat(m.memcgs.lookup("/job"))
    assert stat["shmem"] == 64 * PAGE_SIZE and stat["anon"] == 0
    assert m.meminfo()["Inactive(anon)"] + m.meminfo()["Active(anon)"] == 64 * 4, (
        "shmem folios are on the anonymous LRU lists (swap-backed)")
    m.cgroup_write("/job", "memory.reclaim", "128K")
    n = f.swapped
    assert n >= 32
    assert m.meminfo()["Shmem"] == (64 - n) * 4
    assert m.memcg_stat(m.memcgs.lookup("/job"))["shmem"] == (64 - n) * PAGE_SIZE
    assert m.shmem_files()[0]["swapped"] == n
    assert "Shmem:" in m.proc_meminfo() and f"nr_shmem {64 - n}\n" in m.proc_vmstat()


def test_second_access_activates_a_shmem_folio() -> None:
    m, t = setup("classic", limit="max")
    f = write_file(m, t, "/tmp/a", 1)
    folio = f.folios[0]
    assert folio is not None and not folio.active
    m.shmem_read(t, f, 0, 1)  # type: ignore[arg-type]
    m.shmem_read(t, f, 0, 1)  # type: ignore[arg-type]
    assert folio.active and m.vmstat["pgactivate"] == 1


def test_invariant_5_swap_count_counts_shmem_mapping_references(design: str) -> None:
    """Spec part 2 §18 invariant 5: the swap count is the number of PTE *and shmem mapping*
    references; here each swapped tmpfs page holds exactly one (checked against every live
    entry by check_swap_references)."""
    m, t = setup(design)
    f = write_file(m, t, "/tmp/a", PAGES)
    entries = [SwpEntry(v >> 1) for v in f.pages if v and not v & 1]
    assert entries
    for e in entries:
        assert m.design.swp_swapcount(e) == 1
    check_swap_references(m)


def test_swap_shmem_alloc_classic_marks_slots_swap_map_shmem() -> None:
    """Spec part 1 §5.4: classic v6.14 marks a shmem-owned slot ``SWAP_MAP_SHMEM`` (0xbf),
    freed like a count of 1; swap_duplicate of it fails with EINVAL (swallowed)."""
    m, t = setup("classic")
    f = write_file(m, t, "/tmp/a", PAGES)
    e = next(SwpEntry(v >> 1) for v in f.pages if v and not v & 1)
    si = m.design.devices.swap_type_to_swap_info(swp_type(e))
    assert si is not None
    assert si.swap_map[swp_offset(e)] & ~SWAP_HAS_CACHE == SWAP_MAP_SHMEM & ~SWAP_HAS_CACHE
    assert m.design.swap_duplicate(e) == 0
    assert si.swap_map[swp_offset(e)] & ~SWAP_HAS_CACHE == SWAP_MAP_SHMEM & ~SWAP_HAS_CACHE


@pytest.mark.parametrize("design_name", ["vswap", "swap-table-p4"])
def test_swap_shmem_alloc_is_an_ordinary_count(design_name: str) -> None:
    """Spec part 2 §1.3: under vswap ``swap_shmem_alloc`` adds 2 to ``swap_refs`` like
    ``swap_duplicate`` (count 1); mainline (6.18) has no SWAP_MAP_SHMEM either."""
    m, t = setup(design_name)
    f = write_file(m, t, "/tmp/a", PAGES)
    e = next(SwpEntry(v >> 1) for v in f.pages if v and not v & 1)
    m.design.swap_duplicate(e)
    assert m.design.swp_swapcount(e) == 2
    m.design.swap_free_nr(e, 1)
    assert m.design.swp_swapcount(e) == 1


def test_classic_swapoff_walks_shmem_mappings_vswap_repoints() -> None:
    """Spec part 2 §11: classic try_to_unuse runs shmem_unuse (every mapping slot of every
    inode with swapped pages) and brings the pages back into the page cache; vswap visits no
    mapping (shmem_unuse is compiled out) and the file keeps its virtual entries."""
    results = {}
    for name in ("classic", "vswap"):
        m, t = setup(name)
        f = write_file(m, t, "/tmp/a", PAGES)
        swapped = f.swapped
        m.cgroup_write("/job", "memory.max", "max")
        r = m.swapoff(0)
        assert r.completed, r.error
        results[name] = (r, swapped, f.swapped)
        check_swap_references(m)
        m.check_invariants()
        check_file(m, t, f, PAGES)
    r, swapped, after = results["classic"]
    assert r.extra["shmem_visited"] == PAGES and after == 0
    r, swapped, after = results["vswap"]
    assert "shmem_visited" not in r.extra and r.ptes_visited == 0
    assert after == swapped, "the mapping still holds its (now folio-backed) virtual entries"


def test_truncate_and_unlink_free_swap_entries(design: str) -> None:
    m, t = setup(design)
    f = write_file(m, t, "/tmp/a", PAGES)
    m.shmem_truncate(f, 100 * PAGE_SIZE + 10)
    assert f.size == 100 * PAGE_SIZE + 10
    check_file(m, t, f, 100)
    assert m.shmem_read(t, f, 100 * PAGE_SIZE, PAGE_SIZE) == page(1, 100)[:10]  # type: ignore[arg-type]
    check_swap_references(m)
    m.check_invariants()
    m.shmem_unlink("/tmp/a")
    m.exit(t)  # type: ignore[arg-type]
    m.check_no_leaks()


def test_memfd_lives_until_close() -> None:
    m, t = setup("vswap")
    f = m.memfd_create("buf")
    for i in range(PAGES):
        m.shmem_write(t, f, i * PAGE_SIZE, page(3, i))  # type: ignore[arg-type]
    assert f.swapped
    check_file(m, t, f, PAGES, tag=3)
    m.exit(t)  # type: ignore[arg-type]
    with pytest.raises(AssertionError, match="tmpfs files"):
        m.check_no_leaks()
    m.shmem_close(f)
    m.check_no_leaks()


def test_vswap_with_zswap_swaps_shmem_without_a_device() -> None:
    """Patch 12/16: shmem_writepage no longer bails out on ``!total_swap_pages`` under vswap:
    with zswap and no swap device, tmpfs pages go to zswap; classic keeps them in memory."""
    m, t = setup("vswap", zswap=True, device=None)
    f = write_file(m, t, "/tmp/a", PAGES)
    assert f.swapped and m.vmstat["zswpout"] + m.vmstat["swpout_zero"] >= f.swapped
    check_file(m, t, f, PAGES)
    m2, t2 = setup("classic", zswap=True, device=None, limit="max")
    f2 = write_file(m2, t2, "/tmp/a", 16)
    with pytest.raises(KernelError, match="EAGAIN"):  # nothing to swap to: no progress
        m2.cgroup_write("/job", "memory.reclaim", "32K")
    assert f2.swapped == 0


def test_shmem_thp_allocation_split_at_swapout() -> None:
    m, t = setup("classic", limit="max")
    m.tmpfs_mount("/huge", huge="always")
    f = write_file(m, t, "/huge/a", 1 << HPAGE_PMD_ORDER)
    assert m.meminfo()["ShmemHugePages"] == 2048 and m.vmstat["thp_file_alloc"] == 1
    assert m.memcg_stat(m.memcgs.lookup("/job"))["shmem_thp"] == 2 * MiB
    m.cgroup_write("/job", "memory.reclaim", "1M")
    assert f.swapped, "the huge folio went to swap (whole, or split and then page by page)"
    check_file(m, t, f, 1 << HPAGE_PMD_ORDER)
    m.check_invariants()
    check_swap_references(m)


def test_shmem_enabled_knob_and_bad_input() -> None:
    m, _ = setup("classic")
    path = "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
    assert m.sysfs_read(path).startswith("always within_size advise [never]")
    m.sysfs_write(path, "deny")
    assert "[deny]" in m.sysfs_read(path)
    with pytest.raises(KernelError, match="EINVAL"):
        m.sysfs_write(path, "sometimes")
    with pytest.raises(KernelError, match="EINVAL"):
        m.tmpfs_mount("/x", huge="maybe")
    with pytest.raises(KernelError, match="ENOENT"):
        m.shmem_open("/nowhere/file")
    m.tmpfs_mount("/small", size=2 * PAGE_SIZE)
    f = m.shmem_open("/small/f")
    with pytest.raises(KernelError, match="ENOSPC"):
        m.shmem_write(None, f, 0, bytes(3 * PAGE_SIZE))
