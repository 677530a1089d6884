"""Swapoff of the virtual designs (:mod:`vswap.swap.vswap_swapoff`): the swapoff invariants of
``spec/part2-patches-12-18.md`` section 18 and the swapoff scenarios."""

from __future__ import annotations

import random

import pytest
from vswaphelpers import (
    VIRTUAL_DESIGNS,
    add_device,
    child,
    compressible,
    fault_in,
    mk,
    mk_virtual,
    random_page,
    swap_in,
    swap_out,
    zero_page,
)

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import SwpEntry
from vswap.swap import SwapHooks
from vswap.swap.vswap import VirtualSwap
from vswap.swap.vswap_desc import SwapType

E = SwpEntry
SWAPFILE, ZERO, ZSWAP, FOLIO = (SwapType.VSWAP_SWAPFILE, SwapType.VSWAP_ZERO,
                                SwapType.VSWAP_ZSWAP, SwapType.VSWAP_FOLIO)


def _swapoff_setup(rng: random.Random, n: int = 12
                   ) -> tuple[VirtualSwap, list[tuple[SwpEntry, bytes]], object]:
    d = mk(zswap=True)
    d.zswap.set_param("enabled", False)
    add_device(d, 1)
    m = child(d)
    pages = []
    for i in range(n):
        data = random_page(rng) if i % 3 else zero_page()
        e, _ = swap_out(d, Folio(0, data, memcg_id=m.id), nr_ptes=2)
        pages.append((e, data))
    d.zswap.set_param("enabled", True)
    zs, _ = swap_out(d, Folio(0, compressible(rng), memcg_id=m.id))
    pages.append((zs, None))
    return d, pages, m


def test_part2_inv29_swapoff_repoints_everything(rng: random.Random) -> None:
    d, pages, _ = _swapoff_setup(rng)
    si = next(d.devices.devices())
    disk = [e for e, _ in pages if d.table.type[e] == SWAPFILE]
    res = d.swapoff(si.name)
    assert res.completed and res.pages_unused == len(disk) and si.inuse_pages == 0
    assert si.type not in d.rmap.cols
    for e in disk:
        assert d.table.type[e] == FOLIO
        f = d.swap_cache_get_folio(e)
        assert f is not None and f.dirty
    d.check_invariants()


def test_part2_inv30_swapoff_touches_no_pte(rng: random.Random) -> None:
    d, pages, _ = _swapoff_setup(rng)

    def boom(type_: int) -> int:
        raise AssertionError("unuse_ptes called")

    d.hooks.unuse_ptes = boom
    counts = {e: d.swp_swapcount(e) for e, _ in pages}
    res = d.swapoff(next(d.devices.devices()).name)
    assert res.ptes_visited == 0
    assert {e: d.swp_swapcount(e) for e, _ in pages} == counts


def test_part2_inv31_swapoff_leaves_zero_and_zswap(rng: random.Random) -> None:
    d, pages, _ = _swapoff_setup(rng)
    kept = {e: d.table.type[e] for e, _ in pages if d.table.type[e] in (ZERO, ZSWAP)}
    zentries = dict(d.table.zswap)
    d.swapoff(next(d.devices.devices()).name)
    assert {e: d.table.type[e] for e in kept} == kept and dict(d.table.zswap) == zentries


def test_part2_inv32_swapoff_uncharges_exactly(rng: random.Random) -> None:
    d, pages, m = _swapoff_setup(rng)
    on_dev = sum(1 for e, _ in pages if d.table.type[e] == SWAPFILE)
    before = m.swap.usage
    assert before == on_dev
    d.swapoff(next(d.devices.devices()).name)
    assert m.swap.usage == before - on_dev == 0


def test_part2_inv33_swapoff_failure_is_consistent(rng: random.Random) -> None:
    d, pages, _m = _swapoff_setup(rng)
    si = next(d.devices.devices())
    budget = [3]

    def alloc_folio(entry: SwpEntry, order: int, memcg_id: int) -> Folio | None:
        budget[0] -= 1
        return Folio(order, memcg_id=memcg_id) if budget[0] >= 0 else None

    d.hooks = SwapHooks(alloc_swapin_folio=alloc_folio)
    res = d.swapoff(si.name)
    assert not res.completed and "ENOMEM" in res.error
    assert si in d.devices.avail or si.inuse_pages >= si.pages
    assert d.devices.swap_type_to_swap_info(si.type) is si
    d.check_invariants()
    d.hooks = SwapHooks()
    ticks = iter(range(100))
    res = d.swapoff(si.name, signal_pending=lambda: next(ticks) >= 2)
    assert not res.completed and "EINTR" in res.error
    d.check_invariants()
    res = d.swapoff(si.name)
    assert res.completed
    for e, data in pages:
        if data is not None:
            assert bytes(swap_in(d, e).data) == data


def test_swapoff_reads_back_every_page_and_keeps_ptes(rng: random.Random) -> None:
    d = mk()
    add_device(d, 8)
    pages = [(random_page(rng) if i % 4 else zero_page()) for i in range(40)]
    ents = [swap_out(d, Folio(0, data), nr_ptes=1 + i % 3)[0]
            for i, data in enumerate(pages)]
    big, ret = swap_out(d, Folio(2, random_page(rng, 4)))
    assert ret == 0
    ents.append(big)
    counts = [d.swp_swapcount(e) for e in ents]
    res = d.swapoff(next(d.devices.devices()).name)
    assert res.completed and res.ptes_visited == 0 and res.pages_read == 34
    assert [d.swp_swapcount(e) for e in ents] == counts
    for e, data in zip(ents, pages):
        assert bytes(fault_in(d, e).data) == data
    d.check_invariants()
    add_device(d, 1)
    d.check_invariants()


def test_swapoff_with_unreadable_slot_fails_cleanly(rng: random.Random) -> None:
    d = mk(device_mib=1)
    pages = [random_page(rng) for _ in range(8)]
    ents = [swap_out(d, Folio(0, data))[0] for data in pages]
    si = next(d.devices.devices())
    bad = d.swp_entry_to_swp_slot(ents[5]) & 0xFFFFF
    real = si.storage.read_page

    def read_page(offset: int) -> bytes:
        if offset == bad:
            raise KernelError(Errno.EIO, "medium error")
        return real(offset)

    si.storage.read_page = read_page
    res = d.swapoff(si.name)
    assert not res.completed and res.error.startswith("EIO")
    assert d.devices.swap_type_to_swap_info(si.type) is si and si.inuse_pages >= 1
    assert d.table.type[ents[5]] == SwapType.VSWAP_SWAPFILE
    assert d.swap_cache_get_folio(ents[5]) is None
    d.check_invariants()
    si.storage.read_page = real
    assert d.swapoff(si.name).completed
    for e, data in zip(ents, pages):
        assert bytes(swap_in(d, e).data) == data
    assert d.vswap_used == 0


@pytest.mark.parametrize("name", VIRTUAL_DESIGNS)
def test_swapoff_round_trip_every_virtual_design(name: str, rng: random.Random) -> None:
    """The shared try_to_unuse on each layout: disk pages come back as FOLIO, zero pages stay
    ZERO, the device goes away and every page reads back."""
    d = mk_virtual(name, device_mib=1)
    pages = []
    for i in range(10):
        data = zero_page() if i % 3 == 0 else random_page(rng)
        pages.append((swap_out(d, Folio(0, data))[0], data))
    si = next(d.devices.devices())
    res = d.swapoff(si.name)
    assert res.completed and res.ptes_visited == 0 and res.pages_unused == 6
    assert res.pages_read == 6 and not list(d.devices.devices())
    for e, data in pages:
        assert d.table.type[e] == (ZERO if data == zero_page() else FOLIO)
    d.check_invariants()
    for e, data in pages:
        assert bytes(swap_in(d, e).data) == data


@pytest.mark.parametrize("name", VIRTUAL_DESIGNS)
def test_swapoff_interrupted_in_round_one_keeps_the_device(name: str,
                                                           rng: random.Random) -> None:
    d = mk_virtual(name, device_mib=1)
    for _ in range(4):
        swap_out(d, Folio(0, random_page(rng)))
    si = next(d.devices.devices())
    res = d.swapoff(si.name, signal_pending=lambda: True)
    assert not res.completed and res.error.startswith("EINTR") and res.pages_unused == 0
    assert si.inuse_pages == 4 and not si.dying
    d.check_invariants()
    with pytest.raises(KernelError) as exc:
        d.swapoff("no-such-device")
    assert exc.value.errno == Errno.EINVAL
