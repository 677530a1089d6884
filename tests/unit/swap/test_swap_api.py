"""The swap API's external behaviour, run against every registered design.

Where the designs must agree (lifetime, counts, the swap cache, bytes read back, errors),
the same test runs for each name in ``vswap.swap.DESIGNS``; a new design joins the matrix by
registering itself.
"""

from __future__ import annotations

import random

import pytest
from swaphelpers import make_design, random_page, swap_in, swap_out

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.sizes import PERCPU_CLUSTER_BYTES
from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.swap import DESIGNS, create_design
from vswap.swap.storage import MemSwapStorage

pytestmark = pytest.mark.parametrize("design_name", DESIGNS)


def _used_slots(design) -> int:
    return sum(si.inuse_pages for si in design.devices.devices())


def test_add_to_swap_puts_folio_in_swap_cache(design_name: str, rng: random.Random) -> None:
    d = make_design(design_name)
    folio = Folio(0, random_page(rng))
    folio.folio_lock()
    assert d.add_to_swap(folio)
    assert folio.swapcache and folio.swap and folio.dirty
    assert d.swap_cache_get_folio(folio.swap) is folio
    assert d.swp_swapcount(folio.swap) == 0
    assert not d.folio_swapped(folio)
    d.check_invariants()


def test_add_to_swap_requires_locked_folio(design_name: str) -> None:
    d = make_design(design_name)
    with pytest.raises(KernelError) as exc:
        d.add_to_swap(Folio(0))
    assert exc.value.errno == Errno.EINVAL


def test_swap_duplicate_and_free_move_count_by_one(design_name: str,
                                                   rng: random.Random) -> None:
    d = make_design(design_name)
    folio = Folio(0, random_page(rng))
    folio.folio_lock()
    assert d.add_to_swap(folio)
    e = folio.swap
    for n in range(1, 5):
        assert d.swap_duplicate(e) == 0
        assert d.swp_swapcount(e) == n
    for n in range(3, -1, -1):
        d.swap_free_nr(e, 1)
        assert d.swp_swapcount(e) == n
    assert folio.swapcache, "the cache pin keeps the entry alive"
    d.check_invariants()


def test_swapcache_prepare_eexist_then_enoent(design_name: str, rng: random.Random) -> None:
    d = make_design(design_name)
    folio = Folio(0, random_page(rng))
    entry, ret = swap_out(d, folio)
    assert ret == 0
    assert d.swapcache_prepare(entry, 1) == 0
    assert d.swapcache_prepare(entry, 1) == -Errno.EEXIST
    assert d.swp_swapcount(entry) == 1
    d.swapcache_clear(entry, 1)
    d.swap_free_nr(entry, 1)
    assert d.swapcache_prepare(entry, 1) == -Errno.ENOENT
    assert _used_slots(d) == 0
    d.check_invariants()


def test_round_trip_random_and_zero_pages(design_name: str, rng: random.Random) -> None:
    d = make_design(design_name)
    pages = [random_page(rng) if i % 3 else bytes(PAGE_SIZE) for i in range(60)]
    entries = []
    for data in pages:
        entry, ret = swap_out(d, Folio(0, data))
        assert ret == 0
        entries.append(entry)
    d.check_invariants()
    for entry, data in zip(entries, pages):
        folio = swap_in(d, entry)
        assert bytes(folio.data) == data
        assert not folio.swapcache
    assert _used_slots(d) == 0
    assert d.swap_cache.nr_pages == 0
    assert d.vmstat["swpout_zero"] == 20 and d.vmstat["swpin_zero"] == 20
    assert d.vmstat["pswpout"] == 40 and d.vmstat["pswpin"] == 40
    d.check_invariants()


def test_folio_free_swap_refuses_while_mapped(design_name: str, rng: random.Random) -> None:
    d = make_design(design_name)
    folio = Folio(0, random_page(rng))
    folio.folio_lock()
    assert d.add_to_swap(folio)
    d.swap_duplicate(folio.swap)
    assert d.folio_swapped(folio)
    assert not d.folio_free_swap(folio)
    assert folio.swapcache
    d.swap_free_nr(folio.swap, 1)
    assert d.folio_free_swap(folio)
    assert not folio.swapcache and folio.dirty
    assert _used_slots(d) == 0
    d.check_invariants()


def test_folio_free_swap_refuses_under_writeback(design_name: str) -> None:
    d = make_design(design_name)
    folio = Folio(0)
    folio.folio_lock()
    assert d.add_to_swap(folio)
    folio.writeback = True
    assert not d.folio_free_swap(folio)
    folio.writeback = False
    assert d.folio_free_swap(folio)


def test_free_swap_and_cache_nr_frees_unmapped_entry(design_name: str,
                                                     rng: random.Random) -> None:
    d = make_design(design_name)
    entry, _ = swap_out(d, Folio(0, random_page(rng)), nr_ptes=2)
    d.free_swap_and_cache_nr(entry, 1)
    assert d.swp_swapcount(entry) == 1
    d.free_swap_and_cache_nr(entry, 1)
    assert d.swp_swapcount(entry) == 0
    assert _used_slots(d) == 0
    d.check_invariants()


def test_free_swap_and_cache_reclaims_unmapped_cached_folio(design_name: str,
                                                            rng: random.Random) -> None:
    d = make_design(design_name)
    folio = Folio(0, random_page(rng))
    folio.folio_lock()
    assert d.add_to_swap(folio)
    d.swap_duplicate(folio.swap)
    folio.folio_unlock()
    entry = folio.swap
    d.free_swap_and_cache_nr(entry, 1)
    assert not folio.swapcache
    assert d.swap_cache_get_folio(entry) is None
    assert _used_slots(d) == 0
    d.check_invariants()


def test_double_free_is_an_error(design_name: str, rng: random.Random) -> None:
    d = make_design(design_name)
    entry, _ = swap_out(d, Folio(0, random_page(rng)))
    d.swap_free_nr(entry, 1)
    with pytest.raises(KernelError):
        d.swap_free_nr(entry, 1)
    d.check_invariants()


def test_fork_counts_and_exit_free_everything(design_name: str, rng: random.Random) -> None:
    d = make_design(design_name)
    entry, _ = swap_out(d, Folio(0, random_page(rng)))
    for _ in range(99):  # 100 processes share the page: counts above the swap_map byte range
        assert d.swap_duplicate(entry) == 0
    assert d.swp_swapcount(entry) == 100
    for n in range(99, -1, -1):
        d.free_swap_and_cache_nr(entry, 1)
        assert d.swp_swapcount(entry) == n
    assert _used_slots(d) == 0
    d.check_invariants()


def test_swapon_errors(design_name: str) -> None:
    d = create_design(design_name)
    storage = MemSwapStorage(1 << 20)
    d.swapon(storage)
    with pytest.raises(KernelError) as exc:
        d.swapon(storage)
    assert exc.value.errno == Errno.EBUSY
    with pytest.raises(KernelError) as exc:
        d.swapon(MemSwapStorage(1 << 20, label="x"), prio=40000)
    assert exc.value.errno == Errno.EINVAL
    with pytest.raises(KernelError) as exc:
        d.swapoff("no-such-device")
    assert exc.value.errno == Errno.EINVAL
    assert len(list(d.devices.devices())) == 1


def test_swapoff_of_unused_device(design_name: str) -> None:
    d = make_design(design_name)
    name = next(d.devices.devices()).name
    result = d.swapoff(name)
    assert result.completed and result.pages_unused == 0
    assert list(d.devices.devices()) == []
    assert d.devices.total_swap_pages == 0


def test_large_folio_round_trip_on_block_device(design_name: str,
                                                rng: random.Random) -> None:
    d = make_design(design_name)
    data = random_page(rng, 16)
    folio = Folio(4, data)
    entry, ret = swap_out(d, folio)
    assert ret == 0 and entry
    for i in range(16):
        assert d.swp_swapcount(type(entry)(entry + i)) == 1
    # swap in page by page, as a fault on each PTE would with order-0 swap-in
    for i in range(16):
        page = swap_in(d, type(entry)(entry + i))
        assert bytes(page.data) == data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
    assert _used_slots(d) == 0
    d.check_invariants()


def test_metadata_bytes_reports_structures(design_name: str) -> None:
    d = make_design(design_name, swap_mib=64)
    meta = d.metadata_bytes()
    assert all(isinstance(v, int) and v >= 0 for v in meta.values())
    assert sum(meta.values()) > 0


@pytest.mark.parametrize("zswap", [False, True])
def test_swapoff_completes_only_with_no_slot_in_use(design_name: str, zswap: bool,
                                                    rng: random.Random) -> None:
    """swapoff's completion guard (issue 17): a swapoff that reports completion leaves no
    slot of the device in use, and every page reads back as written; on every design, with
    and without zswap. A design that lets swapoff complete with a slot still held fails
    here."""
    from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig

    m = Machine(MachineConfig(ram=4 << 20, design=design_name, zswap=zswap,
                              zswap_params={"compressor": "lz4"} if zswap else {}))
    storage = MemSwapStorage(1 << 20)
    m.swapon(storage)
    (si,) = m.design.devices.devices()
    tasks = [m.spawn(f"t{i}") for i in range(2)]
    want: dict[tuple[int, int], bytes] = {}
    for t in tasks:
        addr = m.mmap(t, 32 * PAGE_SIZE)
        for p in range(32):
            data = random_page(rng) if p % 3 else bytes(PAGE_SIZE)
            m.write(t, addr + p * PAGE_SIZE, data)
            want[(t.pid, addr + p * PAGE_SIZE)] = data
        m.madvise(t, addr, 32 * PAGE_SIZE, MADV_PAGEOUT)
    child = m.fork(tasks[0])  # shared swap entries: counts above one
    assert si.inuse_pages > 0 or zswap
    result = m.swapoff(storage.name)
    assert result.completed, result.error
    assert si.inuse_pages == 0, f"{design_name}: swapoff completed with slots in use"
    for (pid, addr), data in want.items():
        for t in (tasks[0], child) if pid == tasks[0].pid else (tasks[1],):
            assert m.read(t, addr, PAGE_SIZE) == data


def test_swapoff_of_one_device_leaves_the_other_alone(design_name: str,
                                                      rng: random.Random) -> None:
    """Two devices of one priority (round robin spreads the pages over both): swapoff of the
    first brings in only its pages; the second keeps every slot it held, and every page
    reads back as written (a swapoff that filtered on the wrong device type fails here)."""
    from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig

    m = Machine(MachineConfig(ram=4 << 20, design=design_name))
    first, second = MemSwapStorage(1 << 20), MemSwapStorage(2 << 20)
    m.swapon(first, prio=5)
    m.swapon(second, prio=5)
    si_first, si_second = m.design.devices.devices()
    t = m.spawn("t")
    addr = m.mmap(t, 64 * PAGE_SIZE)
    want = [random_page(rng) for _ in range(64)]
    for p, data in enumerate(want):
        m.write(t, addr + p * PAGE_SIZE, data)
    m.madvise(t, addr, 64 * PAGE_SIZE, MADV_PAGEOUT)
    held = si_second.inuse_pages
    assert si_first.inuse_pages > 0 and held > 0
    result = m.swapoff(first.name)
    assert result.completed, result.error
    assert si_first.inuse_pages == 0
    assert si_second.inuse_pages == held
    for p, data in enumerate(want):
        assert m.read(t, addr + p * PAGE_SIZE, PAGE_SIZE) == data
    m.design.check_invariants()


def test_a_design_built_without_nr_cpus_models_one_cpu(design_name: str) -> None:
    """Every constructor defaults to one CPU: each device has one per-CPU cluster (its
    ``percpu_cluster`` bytes are one CPU's), as the machine's default ``nr_cpus = 1``."""
    d = make_design(design_name)
    (si, *_) = d.devices.devices()
    assert d.devices.nr_cpus == 1 and si.nr_cpus == 1
    assert si.metadata_bytes()["percpu_cluster"] == PERCPU_CLUSTER_BYTES


# -- migration and split of a swap-cache folio (swap_cache_replace_folio) ----------------------
def _take_over(d, old: Folio, new: Folio, entry: int) -> None:
    """The caller's half of ``__swap_cache_replace_folio``: flags, entry, both locked."""
    new.dirty = old.dirty
    new.swap, new.swapcache = SwpEntry(entry), True
    new.locked = True
    d.swap_cache_replace_folio(old, new)
    new.locked = False


def _write_out_and_read_back(d, folios: list[Folio], data: bytes) -> None:
    """pageout + __remove_mapping of each cached folio (one PTE on each entry), then a
    swap-in of every entry: the bytes come back from the new folios' write-outs."""
    e0 = int(folios[0].swap)
    for f in folios:
        for i in range(f.nr_pages):
            assert d.swap_duplicate(SwpEntry(f.swap + i)) == 0
        f.folio_lock()
        f.dirty = False
        assert d.swap_writepage(f) == 0
        if f.swapcache:
            f.folio_lock()
            d.delete_from_swap_cache(f)
            f.folio_unlock()
    d.check_invariants()
    for i in range(len(data) // PAGE_SIZE):
        got = swap_in(d, SwpEntry(e0 + i))
        assert bytes(got.data) == data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE], f"page {i}"
    assert _used_slots(d) == 0 and d.swap_cache.nr_pages == 0
    d.check_invariants()


def test_migrate_swapcache_folio_hands_every_entry_over(design_name: str,
                                                        rng: random.Random) -> None:
    """``folio_migrate_mapping`` of a swap-cache folio: the new folio is found at every
    entry, the old one at none; RFC v2's FOLIO descriptors follow it (spec part 2 T10,
    patch 12; invariant 1: a FOLIO descriptor names the folio cached at its id, checked by
    ``check_invariants``); counts and pins do not move, and the bytes written later are the
    new folio's."""
    d = make_design(design_name)
    data = random_page(rng, 4)
    src = Folio(2, data)
    src.folio_lock()
    assert d.add_to_swap(src)
    e = int(src.swap)
    dst = Folio(2, data)
    _take_over(d, src, dst, e)
    src.swap, src.swapcache = SwpEntry(0), False
    src.folio_unlock()
    for i in range(4):
        assert d.swap_cache_get_folio(SwpEntry(e + i)) is dst
        assert d.swp_swapcount(SwpEntry(e + i)) == 0
    assert d.swap_cache.nr_pages == 4
    assert {int(x) for x, _c, pinned in d.live_swap_entries() if pinned} == set(
        range(e, e + 4))
    d.check_invariants()
    _write_out_and_read_back(d, [dst], data)


def test_split_swapcache_folio_gives_each_page_its_entry(design_name: str,
                                                          rng: random.Random) -> None:
    """``__split_huge_page`` of a swap-cache folio: page ``k``'s new folio takes entry
    ``swap + k`` (RFC v2: ``vswap_split_huge_page``, spec part 2 T11, patch 12); each is
    then written out and read back on its own."""
    d = make_design(design_name)
    data = random_page(rng, 4)
    head = Folio(2, data)
    head.folio_lock()
    assert d.add_to_swap(head)
    e = int(head.swap)
    news = [Folio(0, data[k * PAGE_SIZE:(k + 1) * PAGE_SIZE]) for k in range(4)]
    for k, new in enumerate(news):
        _take_over(d, head, new, e + k)
    head.swap, head.swapcache = SwpEntry(0), False
    head.folio_unlock()
    for k, new in enumerate(news):
        assert d.swap_cache_get_folio(SwpEntry(e + k)) is new
    assert d.swap_cache.nr_pages == 4
    d.check_invariants()
    _write_out_and_read_back(d, news, data)


def test_replace_folio_refuses_entries_outside_the_old_folio(design_name: str) -> None:
    d = make_design(design_name)
    old = Folio(1)
    old.folio_lock()
    assert d.add_to_swap(old)
    new = Folio(0)
    new.swap, new.swapcache, new.locked = SwpEntry(old.swap + 2), True, True
    with pytest.raises(KernelError) as exc:
        d.swap_cache_replace_folio(old, new)
    assert exc.value.errno == Errno.EINVAL
    new.locked = False
    with pytest.raises(KernelError):
        d.swap_cache_replace_folio(old, new)
    assert d.swap_cache_get_folio(old.swap) is old
    d.check_invariants()


def test_two_pmd_size_folios_get_separate_slots(design_name: str,
                                                rng: random.Random) -> None:
    """Two order-9 (PMD-size) folios swapped out one after the other get disjoint entry
    ranges and read back intact. vswap-ste gave the first one offset 512 of cluster 0
    (slot 0 is never handed out, so cluster 0 cannot hold a whole-cluster run), in
    cluster 1's range: the second one crashed the allocator."""
    d = make_design(design_name, swap_mib=16)
    datas = [random_page(rng, 512) for _ in range(2)]
    entries = [swap_out(d, Folio(9, data))[0] for data in datas]
    a, b = sorted(int(e) for e in entries)
    assert a + 512 <= b, entries
    for entry, data in zip(entries, datas, strict=True):
        for i in range(0, 512, 37):  # a sample of each folio's pages
            page = swap_in(d, type(entry)(entry + i))
            assert bytes(page.data[:PAGE_SIZE]) == data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE]
    d.check_invariants()
