"""zsmalloc: size classes, packing against an independent reference, frees, compaction."""

from __future__ import annotations

import random

import pytest

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.zswap.zsmalloc import (
    ZS_HANDLE_SIZE,
    ZS_MIN_ALLOC_SIZE,
    ZS_SIZE_CLASS_DELTA,
    ZS_SIZE_CLASSES,
    ZsPool,
    build_size_classes,
    calculate_zspage_chain_size,
    get_size_class_index,
    huge_class_size,
)


def test_class_constants() -> None:
    assert (ZS_MIN_ALLOC_SIZE, ZS_SIZE_CLASS_DELTA, ZS_SIZE_CLASSES) == (32, 16, 255)
    assert get_size_class_index(1) == 0
    assert get_size_class_index(32) == 0
    assert get_size_class_index(33) == 1
    assert get_size_class_index(48) == 1
    assert get_size_class_index(PAGE_SIZE) == 254
    assert get_size_class_index(PAGE_SIZE + 8) == 254


def test_chain_size_minimises_waste() -> None:
    assert calculate_zspage_chain_size(2048) == 1
    assert calculate_zspage_chain_size(32) == 1
    # 3/8 PAGE_SIZE objects fit exactly in 3 pages
    assert calculate_zspage_chain_size(1536) == 3
    for size in range(48, PAGE_SIZE, 16):
        best = calculate_zspage_chain_size(size)
        waste = (best * PAGE_SIZE) % size
        assert all((i * PAGE_SIZE) % size >= waste for i in range(1, 9)) or size & (size - 1) == 0


def _reference_classes():
    """Independent reference: a class per index, merged bottom-up by identical geometry."""
    geo = []
    for i in range(255):
        size = min(32 + 16 * i, PAGE_SIZE)
        best, waste = 1, None
        if size & (size - 1):
            for n in range(1, 9):
                w = n * PAGE_SIZE % size
                if waste is None or w < waste:
                    best, waste = n, w
        geo.append((size, best, best * PAGE_SIZE // size))
    serving = {}
    for i in range(254, -1, -1):
        j = i
        while j + 1 < 255 and geo[j + 1][1:] == geo[i][1:] and serving.get(j + 1) is not None:
            j = serving[j + 1]
            break
        serving[i] = j if geo[j][1:] == geo[i][1:] else i
    return geo, serving


def test_class_merging_matches_reference() -> None:
    classes, index_map = build_size_classes()
    geo, serving = _reference_classes()
    for i in range(255):
        served_by = classes[index_map[i]]
        assert served_by.size >= geo[i][0]
        assert (served_by.pages_per_zspage, served_by.objs_per_zspage) == geo[i][1:]
        assert index_map[i] == serving[i]
    assert len(classes) < 255  # merging happened
    assert classes[254].huge and classes[254].size == PAGE_SIZE
    assert huge_class_size() > 3000


def _reference_pages(sizes: list[int]) -> int:
    """Pages needed with every zspage but the last per class full (no frees)."""
    classes, index_map = build_size_classes()
    counts: dict[int, int] = {}
    for s in sizes:
        c = index_map[get_size_class_index(s + ZS_HANDLE_SIZE)]
        counts[c] = counts.get(c, 0) + 1
    return sum(-(-n // classes[c].objs_per_zspage) * classes[c].pages_per_zspage
               for c, n in counts.items())


def test_packing_against_reference() -> None:
    rng = random.Random(5)
    pool = ZsPool()
    sizes = [rng.choice([rng.randint(1, 600), rng.randint(600, 3000), PAGE_SIZE])
             for _ in range(3000)]
    handles = []
    for s in sizes:
        h = pool.zs_malloc(s)
        assert h > 0
        pool.zs_obj_write(h, bytes([s & 0xFF]) * s)
        handles.append(h)
    assert pool.zs_get_total_pages() == _reference_pages(sizes)
    pool.check_invariants()
    for h, s in zip(handles, sizes):
        assert bytes(pool.zs_obj_read(h, s)) == bytes([s & 0xFF]) * s
    st = pool.stats()
    assert st.objs_inuse == len(sizes)
    assert sum(r["pages_used"] for r in pool.class_stats()) == pool.zs_get_total_pages()


def test_free_releases_empty_zspages_and_compaction_packs() -> None:
    rng = random.Random(9)
    pool = ZsPool()
    items = {}
    for _i in range(2000):
        s = rng.randint(100, 1500)
        h = pool.zs_malloc(s)
        data = rng.randbytes(s)
        pool.zs_obj_write(h, data)
        items[h] = data
    before = pool.zs_get_total_pages()
    for h in rng.sample(sorted(items), 1500):
        pool.zs_free(h)
        del items[h]
    pool.check_invariants()
    after = pool.zs_get_total_pages()
    assert after < before
    freed = pool.zs_compact()
    pool.check_invariants()
    assert freed == after - pool.zs_get_total_pages() > 0
    # after compaction no class has a whole zspage of free objects
    assert all(r["freeable"] == 0 for r in pool.class_stats())
    for h, data in items.items():
        assert bytes(pool.zs_obj_read(h, len(data))) == data
    for h in list(items):
        pool.zs_free(h)
    assert pool.zs_get_total_pages() == 0 and pool.nr_handles == 0
    pool.check_invariants()


def test_malloc_errors_and_double_free() -> None:
    pool = ZsPool(max_pages=1)
    assert pool.zs_malloc(0) == -Errno.EINVAL
    assert pool.zs_malloc(PAGE_SIZE + 1) == -Errno.ENOSPC
    h = pool.zs_malloc(PAGE_SIZE)
    assert h > 0 and pool.class_of_handle(h).huge
    assert pool.zs_malloc(PAGE_SIZE) == -Errno.ENOMEM
    pool.zs_free(h)
    with pytest.raises(KernelError, match="EINVAL"):
        pool.zs_free(h)
    with pytest.raises(KernelError):
        ZsPool(chain_size=0)


def test_free_refuses_handles_outside_the_table() -> None:
    """Handle 0, a negative handle and one past the last are not live handles: EINVAL, and
    no object is freed (a negative index must not wrap around to the last handle)."""
    pool = ZsPool()
    hs = [pool.zs_malloc(100) for _ in range(3)]
    for bad in (0, -1, -len(hs), hs[-1] + 1):
        with pytest.raises(KernelError) as exc:
            pool.zs_free(bad)
        assert exc.value.errno == Errno.EINVAL
    assert pool.nr_handles == 3 and pool.stats().objs_inuse == 3
    pool.check_invariants()


def _two_zspages_short_of_one_free(pool: ZsPool) -> tuple[list[int], list[int]]:
    """One zspage with a free object and one holding two: fewer free objects than a
    zspage holds, so nothing can be compacted. Returns (first zspage's, second's)."""
    size = 1000
    probe = ZsPool()
    k = probe.class_of_handle(probe.zs_malloc(size)).objs_per_zspage
    assert k > 3
    hs = [pool.zs_malloc(size) for _ in range(k + 2)]
    pool.zs_free(hs[0])
    return hs[1:k], hs[k:]


def test_compaction_moves_nothing_short_of_a_whole_free_zspage() -> None:
    """``zs_can_compact`` counts the free objects (allocated - used): fewer than a zspage's
    worth and ``zs_compact`` moves no object, so freeing either object of the sparse zspage
    leaves both zspages allocated."""
    for victim in (0, 1):
        pool = ZsPool()
        _full, sparse = _two_zspages_short_of_one_free(pool)
        pages = pool.zs_get_total_pages()
        assert pool.zs_compact() == 0 and pool.stats().pages_compacted == 0
        pool.zs_free(sparse[victim])
        assert pool.zs_get_total_pages() == pages, f"victim {victim}"
        pool.check_invariants()


def test_fullest_zspage_is_filled_first() -> None:
    pool = ZsPool()
    size = 1000  # class with several objects per zspage
    spec = pool.class_of_handle(pool.zs_malloc(size))
    hs = [pool.zs_malloc(size) for _ in range(2 * spec.objs_per_zspage)]
    assert pool.zs_get_total_pages() == 3 * spec.pages_per_zspage
    # free one object in the first (full) zspage; the next malloc reuses its slot, no new page
    pool.zs_free(hs[0])
    pool.zs_malloc(size)
    assert pool.zs_get_total_pages() == 3 * spec.pages_per_zspage
    pool.check_invariants()
