"""A rotational swap device turns VMA readahead off; a zap frees the swap cache it unmaps.

* ``swap_use_vma_readahead()`` is ``enable_vma_readahead && !nr_rotate_swap``: while a
  device that is not ``SWP_SOLIDSTATE`` is on (a disk, or a swap file on a disk that reports
  itself rotational, as this project's host VM's does), every swap-in reads ahead by
  cluster; the count drops when that device's swapoff has finished.
* ``free_swap_cache()`` (the zap's mmu_gather, ``free_pages_and_swap_cache``): a
  swap-cache folio whose last mapping the zap removed gives its slots back, so nothing a
  process had swapped in stays in the swap cache after its ``munmap`` or exit.
"""

from __future__ import annotations

import pytest

from conftest import MiB, check, fill
from vswap.errors import ConfigError
from vswap.host.runner import block_rotational, model_swap_devices
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import Machine, MachineConfig
from vswap.run.context import DeviceSpec, parse_device_spec
from vswap.swap.storage import MemSwapStorage

N = 256


def _limited(design: str, *, solidstate: bool = True) -> tuple[Machine, object, int]:
    m = Machine(MachineConfig(ram=32 * MiB, design=design, skip_swapcache=False))
    m.swapon(MemSwapStorage(16 * MiB), solidstate=solidstate)
    m.create_cgroup("/a")
    m.cgroup_write("/a", "memory.max", "512K")  # 128 pages
    t = m.spawn("t", "/a")
    addr = m.mmap(t, N * PAGE_SIZE)
    fill(m, t, addr, N)
    return m, t, addr


def test_a_rotational_device_reads_ahead_by_cluster(design: str) -> None:
    m, t, addr = _limited(design, solidstate=False)
    assert m.design.devices.nr_rotate_swap == 1
    assert m.vma_ra_enabled and not m.swap_use_vma_readahead()
    check(m, t, addr, N)
    vma = t.mm.vmas[0]
    assert vma.swap_readahead_info is None  # the VMA's state is never used
    assert m.vmstat["swap_ra"] > 0 and m.vmstat["swap_ra_hit"] > 0
    m.check_invariants()


def test_solid_state_reads_ahead_by_vma_and_swapoff_ends_the_rotation(design: str) -> None:
    m, t, addr = _limited(design)
    assert m.design.devices.nr_rotate_swap == 0 and m.swap_use_vma_readahead()
    check(m, t, addr, N)
    assert t.mm.vmas[0].swap_readahead_info is not None
    rot = MemSwapStorage(4 * MiB)
    m.swapon(rot, solidstate=False)
    assert not m.swap_use_vma_readahead()
    res = m.swapoff(rot.name)
    assert res.completed and m.design.devices.nr_rotate_swap == 0
    assert m.swap_use_vma_readahead()


def test_munmap_frees_the_swap_cache_of_what_it_unmaps(design: str) -> None:
    m, t, addr = _limited(design)
    check(m, t, addr, N)  # swapped-in folios keep their slots (swap is not half full)
    assert m.nr_swapcached() > 0
    m.munmap(t, addr, N * PAGE_SIZE)
    assert m.nr_swapcached() == 0
    assert all(si.inuse_pages == 0 for si in m.design.devices.devices())
    assert m.nr_used_pages == 0
    m.check_invariants()


def test_rotational_device_specs() -> None:
    spec = parse_device_spec("file:1G,rotational=1")
    assert spec is not None and spec.option("rotational") == "1"
    assert parse_device_spec(spec.text()) == spec
    with pytest.raises(ConfigError, match="rotational"):
        parse_device_spec("file:1G,comp=lz4")
    plain = DeviceSpec("file", 1 << 30, "nvme")
    zram = DeviceSpec("zram", 1 << 30, "zram")
    got = model_swap_devices([plain, zram], [{"rotational": True}, {"rotational": True}])
    assert got[0].option("rotational") == "1" and got[1] == zram
    assert model_swap_devices([plain], [{"rotational": False}]) == [plain]
    assert not block_rotational("no-such-disk")
