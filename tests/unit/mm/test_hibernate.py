"""Hibernation to swap (vswap.mm.hibernate): the image written to physical slots through the
device, read back and compared at resume, its slots freed; on every design."""

from __future__ import annotations

import random
import struct

import pytest

from vswap.kernel.types import PAGE_SIZE
from vswap.mm.checks import check_no_leaks, check_swap_references
from vswap.mm.hibernate import (
    HIBERNATE_SIG,
    MAP_PAGE_ENTRIES,
    PAGES_FOR_IO,
    SWAP_SIG,
    SwsuspExtents,
)
from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig
from vswap.swap import DESIGNS
from vswap.swap.storage import MemSwapStorage


def _filled(design: str, rng: random.Random, *, zswap: bool = False, pages: int = 256,
            swap: int = 16 << 20) -> tuple[Machine, MemSwapStorage, object, int, list[bytes]]:
    m = Machine(MachineConfig(ram=8 << 20, design=design, zswap=zswap,
                              zswap_params={"compressor": "lz4"} if zswap else {}))
    st = MemSwapStorage(swap)
    m.swapon(st)
    t = m.spawn("t")
    addr = m.mmap(t, pages * PAGE_SIZE)
    want = [rng.randbytes(PAGE_SIZE) if p % 4 else bytes(PAGE_SIZE) for p in range(pages)]
    for p, data in enumerate(want):
        m.write(t, addr + p * PAGE_SIZE, data)
    m.madvise(t, addr, pages // 3 * PAGE_SIZE, MADV_PAGEOUT)
    return m, st, t, addr, want


@pytest.mark.parametrize("design", DESIGNS)
def test_hibernate_writes_verifies_and_frees_the_image(design: str,
                                                       rng: random.Random) -> None:
    m, st, t, addr, want = _filled(design, rng, zswap=design.endswith("v6"))
    (si,) = m.design.devices.devices()
    used0, free0 = si.inuse_pages, m.design.devices.nr_swap_pages
    charged0 = [c.swap.usage for c in m.memcgs]
    r = m.hibernate(image_size=150 * PAGE_SIZE)
    assert r.completed, r.error
    assert r.preallocated_reclaimed > 0 and m.nr_used_pages <= 150
    assert r.image_pages == r.pages_verified == m.nr_used_pages
    assert r.map_pages == -(-r.image_pages // MAP_PAGE_ENTRIES)
    assert r.slots == 1 + r.image_pages + r.map_pages and r.extents >= 1
    # Freed at resume; the pages reclaimed to fit the image are the only new swap.
    assert not si.hibernation_slots
    assert [c.swap.usage for c in m.memcgs] >= charged0
    assert si.inuse_pages >= used0 and m.design.devices.nr_swap_pages <= free0
    # swsusp_check() put the swap signature back.
    assert st.read_block(0)[-10:] == SWAP_SIG
    m.check_invariants()
    check_swap_references(m)
    for p, data in enumerate(want):
        assert m.read(t, addr + p * PAGE_SIZE, PAGE_SIZE) == data
    m.exit(t)
    check_no_leaks(m)


def test_image_on_the_device_has_the_kernel_layout(rng: random.Random) -> None:
    """The image as resume finds it, read at the moment ``mark_swapfiles`` is done: the
    hibernation signature over the swap one, the first map page, whose entries lead to
    the header and data pages."""
    m, _st, _t, _addr, _want = _filled("vswap", rng)
    seen: dict[str, object] = {}
    real_resume = m._resume

    def spy(si, storage, image, res):  # type: ignore[no-untyped-def]
        page = storage.read_block(0)
        seen["sig"], seen["orig"] = page[-10:], page[-20:-10]
        first = struct.unpack_from("<Q", page, PAGE_SIZE - 32)[0]
        words = struct.unpack(f"<{MAP_PAGE_ENTRIES + 1}Q", storage.read_block(first))
        seen["data0"] = storage.read_block(words[1])
        seen["image0"] = image[0]
        seen["held"] = len(si.hibernation_slots)
        real_resume(si, storage, image, res)

    m._resume = spy  # type: ignore[method-assign]
    r = m.hibernate()
    assert r.completed
    assert seen["sig"] == HIBERNATE_SIG and seen["orig"] == SWAP_SIG
    assert seen["data0"] == seen["image0"] and seen["held"] == r.slots


def test_hibernate_errors(rng: random.Random) -> None:
    m = Machine(MachineConfig(ram=8 << 20, design="classic"))
    assert m.hibernate().error == "ENODEV", "no swap device"
    m.swapon(MemSwapStorage(2 << 20))
    t = m.spawn("t")
    addr = m.mmap(t, 64 * PAGE_SIZE)
    m.write(t, addr, rng.randbytes(64 * PAGE_SIZE))
    r = m.hibernate()
    assert r.error == "ENOSPC" and not r.completed, "enough_swap(): PAGES_FOR_IO + image"
    assert PAGES_FOR_IO > 512
    assert m.hibernate("/dev/nope").error == "ENODEV"
    (si,) = m.design.devices.devices()
    assert not si.hibernation_slots and si.inuse_pages == 0
    m.check_invariants()


def test_swsusp_extents_merge_touching_slots() -> None:
    ext = SwsuspExtents()
    for off in (5, 6, 4, 10, 8, 9):
        assert ext.insert(off) == 0
    assert ext.insert(6) < 0, "already in a run"
    # 9 touches both 8 and 10: it joins one run, the two stay apart (as in the kernel).
    assert ext.pop_all() == [(4, 3), (8, 1), (9, 2)] and len(ext) == 0


def test_no_image_on_zram() -> None:
    """A zram device has no block access for ``hib_submit_io`` (and keeps nothing across a
    power cycle): ``ENODEV``, no slot taken."""
    from vswap.swap.zram import ZramStorage

    m = Machine(MachineConfig(ram=8 << 20, design="vswap"))
    m.swapon(ZramStorage(4 << 20))
    r = m.hibernate()
    assert r.error == "ENODEV" and not r.completed
    (si,) = m.design.devices.devices()
    assert si.inuse_pages == 0 and not si.hibernation_slots
