"""The swap API of the kernel paths beyond anonymous reclaim, run against every design.

Hibernation (kernel/power/swap.c through the seed's patch 05 API): ``swap_slot_alloc_of_type``
gives a *physical* slot that no swap entry owns, counted in ``/proc/swaps`` and
``nr_swap_pages`` but charged to no cgroup; ``swap_slot_free_nr`` gives it back;
``pm_suspended_storage`` keeps ``folio_free_swap`` from freeing while an image is written.

``UFFDIO_MOVE`` (mm/userfaultfd.c through the seed's patch 04): ``trylock_swapoff`` holds the
entry's device for ``move_swap_pte`` (never failing under the virtual designs, patch 10),
``unlock_swapoff`` drops it; the entry itself is not touched.
"""

from __future__ import annotations

import random

import pytest
from swaphelpers import make_design, random_page, swap_in, swap_out

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE, SwpSlot, swp_slot_offset
from vswap.swap import DESIGNS, SwapDesign

pytestmark = pytest.mark.parametrize("design_name", DESIGNS)

#: The designs whose physical slots are owned through a reverse map (RFC v2 and v6).
RMAP_DESIGNS = ("vswap", "vswap-static", "vswap-dynamic", "vswap-v6")


def _image(d: SwapDesign, n: int, rng: random.Random) -> list[tuple[SwpSlot, bytes]]:
    """``alloc_swapdev_block`` ``n`` times on device 0, each slot written with image bytes."""
    (si, *_) = d.devices.devices()
    out = []
    for _ in range(n):
        slot = d.swap_slot_alloc_of_type(si.type)
        assert slot
        data = random_page(rng)
        si.storage.write_page(swp_slot_offset(slot), data)
        out.append((slot, data))
    return out


def test_hibernation_slots_are_physical_counted_and_uncharged(design_name: str,
                                                              rng: random.Random) -> None:
    d = make_design(design_name)
    memcg = d.memcgs.create("/job")
    (si,) = d.devices.devices()
    free0 = d.devices.nr_swap_pages
    image = _image(d, 5, rng)
    assert si.inuse_pages == 5 and d.devices.nr_swap_pages == free0 - 5
    assert d.devices.device_infos()[0].used_kib == 5 * PAGE_SIZE // 1024  # /proc/swaps Used
    assert memcg.swap.usage == 0 and d.memcgs.root.swap.usage == 0
    assert list(d.live_swap_entries()) == [], "an image slot is no swap entry"
    d.check_invariants()
    for slot, data in image:
        assert si.storage.read_page(swp_slot_offset(slot)) == data
        d.swap_slot_free_nr(slot, 1)
    assert si.inuse_pages == 0 and d.devices.nr_swap_pages == free0
    assert d.leftovers() == []
    d.check_invariants()


def test_spec_invariant_31_hibernation_slot_has_no_virtual_owner(design_name: str,
                                                                  rng: random.Random) -> None:
    """Spec part 1 invariant 31 and part 2 §18 invariant 3: an allocated physical slot is
    owned by a live entry, or by hibernation with no reverse-map entry; part 1 §3:
    hibernation never creates a virtual slot."""
    d = make_design(design_name)
    used0 = getattr(d, "vswap_used", None)
    ((slot, _),) = _image(d, 1, rng)
    owner = d.swp_slot_to_swp_entry(slot)
    if design_name in RMAP_DESIGNS:
        assert owner == 0, "no virtual entry owns a hibernation slot"
        assert getattr(d, "vswap_used", None) == used0, "no descriptor was made"
    else:
        # classic and the swap tables: the entry is the slot; vswap-ste: a direct-mapped
        # physical slot (the vswap device is never a resume device).
        assert owner == slot
    d.check_invariants()
    d.swap_slot_free_nr(slot, 1)
    d.check_invariants()


def test_hibernation_slot_errors(design_name: str, rng: random.Random) -> None:
    d = make_design(design_name, swap_mib=1)
    (si,) = d.devices.devices()
    assert d.swap_slot_alloc_of_type(7) == 0, "no such device"
    image = [d.swap_slot_alloc_of_type(si.type) for _ in range(si.pages)]
    assert all(image) and d.swap_slot_alloc_of_type(si.type) == 0, "device full"
    assert len(set(image)) == si.pages
    folio = Folio(0, random_page(rng))
    folio.folio_lock()
    assert not d.add_to_swap(folio) or not d.entry_is_slot  # type: ignore[attr-defined]
    if folio.swapcache:
        d.delete_from_swap_cache(folio)
    folio.folio_unlock()
    with pytest.raises(KernelError) as exc:
        d.swapoff(si.name)
    assert exc.value.errno == Errno.EBUSY, "swapoff refuses while an image holds slots"
    for slot in image:
        d.swap_slot_free_nr(slot, 1)
    with pytest.raises(KernelError) as exc:
        d.swap_slot_free_nr(image[0], 1)
    assert exc.value.errno == Errno.EINVAL, "double free of an image slot"
    entry, _ = swap_out(d, Folio(0, random_page(rng)))
    slot = d.swp_entry_to_swp_slot(entry)
    if slot:
        with pytest.raises(KernelError):
            d.swap_slot_free_nr(slot, 1)
    d.free_swap_and_cache_nr(entry, 1)
    assert d.swapoff(si.name).completed
    assert d.swap_slot_alloc_of_type(si.type) == 0, "device gone"


def test_swap_coexists_with_an_image(design_name: str, rng: random.Random) -> None:
    """Swap-outs while an image is held never take or overwrite its slots, and both read
    back; the image's slots are returned with the swapped pages still in place."""
    d = make_design(design_name, swap_mib=1)
    image = _image(d, 40, rng)
    pages = [random_page(rng) if i % 3 else bytes(PAGE_SIZE) for i in range(60)]
    entries = [swap_out(d, Folio(0, p))[0] for p in pages]
    d.check_invariants()
    held = {swp_slot_offset(s) for s, _ in image}
    for e in entries:
        slot = d.swp_entry_to_swp_slot(e)
        assert not slot or swp_slot_offset(slot) not in held
    (si,) = d.devices.devices()
    for slot, data in image:
        assert si.storage.read_page(swp_slot_offset(slot)) == data
        d.swap_slot_free_nr(slot, 1)
    for e, data in zip(entries, pages, strict=True):
        assert bytes(swap_in(d, e).data) == data
    d.check_invariants()
    assert d.leftovers() == []


def test_pm_suspended_storage_keeps_swap_cache(design_name: str, rng: random.Random) -> None:
    """``folio_swapcache_freeable``'s hibernation guard: while the image is written no
    swap-cache folio gives its swap back (a slot recorded in the image must stay)."""
    d = make_design(design_name)
    folio = Folio(0, random_page(rng))
    folio.folio_lock()
    assert d.add_to_swap(folio)
    d.pm_suspended_storage = True
    assert not d.folio_free_swap(folio) and folio.swapcache
    d.pm_suspended_storage = False
    assert d.folio_free_swap(folio) and not folio.swapcache
    folio.folio_unlock()
    assert d.leftovers() == []


def test_trylock_swapoff_pins_the_device_and_unlock_drops_it(design_name: str,
                                                             rng: random.Random) -> None:
    """``move_pages_pte``'s swap branch: the device pin is balanced, the entry (count,
    cache pin, bytes) is untouched."""
    d = make_design(design_name)
    (si,) = d.devices.devices()
    data = random_page(rng)
    entry, ret = swap_out(d, Folio(0, data))
    assert ret == 0
    users = si.users
    locked, got = d.trylock_swapoff(entry)
    assert locked
    assert got is si or (got is None and not d.swp_entry_to_swp_slot(entry))
    assert si.users == users + (got is not None)
    assert d.swap_cache_get_folio(entry) is None
    d.unlock_swapoff(entry, got)
    assert si.users == users
    assert d.swp_swapcount(entry) == 1
    assert bytes(swap_in(d, entry).data) == data
    d.check_invariants()


def test_spec_d0_unlock_swapoff_puts_only_a_device(design_name: str,
                                                   rng: random.Random) -> None:
    """Spec D0 (patches 04-09 put a NULL device after a retry): from patch 10
    ``unlock_swapoff`` puts only a non-NULL device, so an unlock without a pin is a no-op."""
    d = make_design(design_name)
    (si,) = d.devices.devices()
    entry, _ = swap_out(d, Folio(0, random_page(rng)))
    users = si.users
    d.unlock_swapoff(entry, None)
    assert si.users == users
    d.free_swap_and_cache_nr(entry, 1)


def test_trylock_swapoff_with_no_device(design_name: str, rng: random.Random) -> None:
    """Patch 10: under the virtual designs ``trylock_swapoff`` never fails, even for an
    entry whose data is on no device (zswap); the classic family's entries always have
    one."""
    d = make_design(design_name)
    d.attach_zswap(total_ram_pages=1 << 14)
    entry, _ = swap_out(d, Folio(0, random_page(rng)))
    locked, si = d.trylock_swapoff(entry)
    assert locked
    if d.entry_is_slot:  # type: ignore[attr-defined]
        assert si is not None, "a classic entry is its slot"
    d.unlock_swapoff(entry, si)
    d.free_swap_and_cache_nr(entry, 1)
    assert d.leftovers() == []
