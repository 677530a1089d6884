"""Scenario and bad-input tests of the RFC v2 design (:mod:`vswap.swap.vswap`)."""

from __future__ import annotations

import random

import pytest
from vswaphelpers import (
    add,
    add_device,
    compressible,
    fault_in,
    map_ptes,
    mk,
    random_page,
    swap_out,
    used_slots,
    zero_page,
)

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.sizes import SWP_DESC_BYTES_RFC_V2
from vswap.kernel.types import SwpEntry
from vswap.swap import AOP_WRITEPAGE_ACTIVATE, SwapDesign
from vswap.swap.storage import MemSwapStorage
from vswap.swap.vswap_desc import SWAP_REFS_MAX, SwapType

E = SwpEntry
SWAPFILE, ZERO, ZSWAP, FOLIO = (SwapType.VSWAP_SWAPFILE, SwapType.VSWAP_ZERO,
                                SwapType.VSWAP_ZSWAP, SwapType.VSWAP_FOLIO)


def test_zero_pages_never_take_a_slot(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    ents = [swap_out(d, Folio(o, zero_page(1 << o)))[0] for o in (0, 0, 2, 3, 0)]
    assert used_slots(d) == 0 and d.zswap.statistics().stored_pages == 0
    assert d.vmstat["swpout_zero"] == 1 + 1 + 4 + 8 + 1
    for e in ents:
        assert bytes(fault_in(d, e).data[:4096]) == zero_page()
    d.check_invariants()


def test_large_folio_on_swap_file_stays_folio(rng: random.Random) -> None:
    """A swap file takes no large allocation and vswap does not split (spec part 2 4.1)."""
    d = mk()
    d.swapon(MemSwapStorage(1 << 20, label="f"), blkdev=False)
    f = Folio(2, random_page(rng, 4))
    e, ret = swap_out(d, f)
    assert ret == AOP_WRITEPAGE_ACTIVATE
    assert all(d.table.type[e + i] == SwapType.VSWAP_FOLIO for i in range(4))
    d.check_invariants()


def test_device_full_parks_folio(rng: random.Random) -> None:
    d = mk()
    add_device(d, pages=12)
    results = [swap_out(d, Folio(0, random_page(rng)))[1] for _ in range(14)]
    assert results.count(0) == 11 and results.count(AOP_WRITEPAGE_ACTIVATE) == 3
    d.check_invariants()


def test_metadata_reports_48_bytes_per_descriptor(rng: random.Random) -> None:
    d = mk(device_mib=1)
    for _ in range(10):
        swap_out(d, Folio(0, random_page(rng)))
    meta = d.metadata_bytes()
    assert meta["swp_desc"] == 10 * SWP_DESC_BYTES_RFC_V2
    assert meta["vswap_map"] > 0 and meta["vswap_rmap"] > 0
    assert "swap_cgroup" not in meta and "zeromap" not in meta


def test_unpartitioned_has_one_lock_per_class(rng: random.Random) -> None:
    d = mk(device_mib=1, zswap=True)
    for i in range(6):
        f = Folio(0, compressible(rng) if i % 2 else random_page(rng))
        add(d, f)
    assert set(d.swap_cache.spaces) == {0}  # one swap-cache space (and lock)
    assert d.partitions.live_partitions() == {0} and d.vswap_used == 6


@pytest.mark.parametrize("op", ["swap_duplicate", "swap_free_nr", "swapcache_clear",
                                "free_swap_and_cache_nr"])
@pytest.mark.parametrize("which", ["dead", "never", "zero"])
def test_operations_on_dead_ids_raise_without_change(op: str, which: str,
                                                     rng: random.Random) -> None:
    d = mk(device_mib=1)
    live, _ = swap_out(d, Folio(0, random_page(rng)))
    dead, _ = swap_out(d, Folio(0, random_page(rng)))
    d.swap_free_nr(dead, 1)
    target = {"dead": dead, "never": E(5000), "zero": E(0)}[which]
    before = (d.table.refs[live], d.vswap_used, used_slots(d))
    fn = getattr(d, op)
    with pytest.raises(KernelError) as exc:
        fn(target) if op == "swap_duplicate" else fn(target, 1)
    assert exc.value.errno == Errno.ENOENT
    assert (d.table.refs[live], d.vswap_used, used_slots(d)) == before
    assert d.swapcache_prepare(target, 1) == -Errno.ENOENT
    assert d.swp_swapcount(target) == 0 and d.lookup_swap_cgroup_id(target) == 0
    d.check_invariants()


def test_range_with_a_dead_id_changes_nothing(rng: random.Random) -> None:
    d = mk(device_mib=1)
    ents = [swap_out(d, Folio(0, random_page(rng)))[0] for _ in range(3)]
    d.swap_free_nr(ents[1], 1)
    with pytest.raises(KernelError):
        d.swap_free_nr(ents[0], 3)
    assert d.swp_swapcount(ents[0]) == 1 and d.swp_swapcount(ents[2]) == 1


def test_dropping_unheld_reference_is_einval(rng: random.Random) -> None:
    d = mk()
    f = Folio(0)
    e = add(d, f)
    with pytest.raises(KernelError) as exc:
        d.swap_free_nr(e, 1)
    assert exc.value.errno == Errno.EINVAL
    map_ptes(d, e, 1)
    d.delete_from_swap_cache(f)
    with pytest.raises(KernelError) as exc:
        d.swapcache_clear(e, 1)
    assert exc.value.errno == Errno.EINVAL
    assert d.table.refs[e] == 2


def test_refcount_overflow_raises(rng: random.Random) -> None:
    d = mk()
    f = Folio(0)
    e = add(d, f)
    d.table.refs[e] = SWAP_REFS_MAX - 1
    with pytest.raises(KernelError) as exc:
        d.swap_duplicate(e)
    assert exc.value.errno == Errno.ERANGE
    assert d.table.refs[e] == SWAP_REFS_MAX - 1


def test_swap_refs_overflow_at_int_max() -> None:
    """``swap_refs`` is an ``atomic_t``: the limit is INT_MAX (2**31 - 1), not U32_MAX. The
    cache pin plus 2**30 - 1 mappings is INT_MAX; one more mapping is refused, one fewer
    takes it exactly to INT_MAX."""
    d = mk()
    e = add(d, Folio(0))
    d.table.refs[e] = 2**31 - 3
    d.swap_duplicate(e)
    assert d.table.refs[e] == 2**31 - 1 == SWAP_REFS_MAX
    d.table.refs[e] = 2**31 - 2
    with pytest.raises(KernelError) as exc:
        d.swap_duplicate(e)
    assert exc.value.errno == Errno.ERANGE and d.table.refs[e] == 2**31 - 2


def test_free_swap_and_cache_steps_to_folio_end(rng: random.Random) -> None:
    d = mk()
    f = Folio(2, random_page(rng, 4))
    e = add(d, f)
    map_ptes(d, e, 4)
    f.folio_unlock()
    d.free_swap_and_cache_nr(E(e + 1), 3)  # starts mid-folio (spec 16.5)
    assert f.swapcache  # page 0 is still mapped
    d.free_swap_and_cache_nr(e, 1)
    assert not f.swapcache and d.vswap_used == 0


def _take_over(d: SwapDesign, old: Folio, new: Folio, entry: int) -> None:
    new.swap, new.swapcache, new.locked = SwpEntry(entry), True, True
    d.swap_cache_replace_folio(old, new)
    new.locked = False


def test_T10_vswap_migrate_repoints_folio_descriptors(rng: random.Random) -> None:
    """Spec part 2 T10 (patch 12): FOLIO(src) -> FOLIO(dst) on the whole range; invariant
    1 (a FOLIO descriptor names the folio cached at its id) holds after."""
    d = mk()
    d.swapon(MemSwapStorage(1 << 20, label="f"), blkdev=False)
    src = Folio(2, random_page(rng, 4))
    e, ret = swap_out(d, src)
    assert ret == AOP_WRITEPAGE_ACTIVATE
    dst = Folio(2, bytes(src.data))
    src.locked = True
    _take_over(d, src, dst, e)
    src.swap, src.swapcache, src.locked = SwpEntry(0), False, False
    assert all(d.table.type[e + i] == FOLIO and d.table.folio_of(e + i) is dst
               for i in range(4))
    d.check_invariants()


def test_T10_vswap_migrate_warns_on_mixed_backing(rng: random.Random) -> None:
    """Spec part 2 10.4: ``vswap_migrate`` wants all or none FOLIO(src) (WARN, an
    AssertionError under debug_vm)."""
    d = mk()
    d.swapon(MemSwapStorage(1 << 20, label="f"), blkdev=False)
    src = Folio(1, random_page(rng, 2))
    e, _ = swap_out(d, src)
    d.table.type[e + 1] = ZERO
    d.table.folio.pop(e + 1)
    src.locked = True
    with pytest.raises(AssertionError, match="mixed backing"):
        _take_over(d, src, Folio(1, bytes(src.data)), e)


def test_T11_vswap_split_huge_page_moves_only_folio_descriptors(rng: random.Random) -> None:
    """Spec part 2 T11 (patch 12): a split hands each FOLIO(head) descriptor to its page's
    new folio; a descriptor backed elsewhere (SWAPFILE after a write-out, the folio still
    cached clean) keeps its backing."""
    d = mk(device_mib=8)
    head = Folio(2, random_page(rng, 4))
    head.folio_lock()
    assert d.add_to_swap(head)
    e = int(head.swap)
    for i in range(4):
        d.swap_duplicate(SwpEntry(e + i))
    head.dirty = False
    assert d.swap_writepage(head) == 0 and head.swapcache
    assert all(d.table.type[e + i] == SWAPFILE for i in range(4))
    head.folio_lock()
    d.vswap_store_folio(SwpEntry(e), head)           # a dirty re-swap: FOLIO again (T3)
    d.release_backing(SwpEntry(e + 3), 1)            # ... but for the last page
    news = [Folio(0, bytes(head.page(k))) for k in range(4)]
    for k, new in enumerate(news):
        _take_over(d, head, new, e + k)
    head.swap, head.swapcache = SwpEntry(0), False
    head.folio_unlock()
    assert [d.table.folio_of(e + k) for k in range(3)] == news[:3]
    assert d.table.type[e + 3] == SWAPFILE and d.table.folio_of(e + 3) is None
    assert [d.swap_cache_get_folio(SwpEntry(e + k)) for k in range(4)] == news
