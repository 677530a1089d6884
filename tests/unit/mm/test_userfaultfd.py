"""UFFDIO_MOVE (vswap.mm.userfaultfd): swapped-out pages move as their swap PTEs, the entry
unchanged, and come back at the destination with their bytes; on every design."""

from __future__ import annotations

import random

import pytest

from vswap.kernel.errors import Errno
from vswap.kernel.faults import FaultInjector
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE
from vswap.mm.checks import check_no_leaks, check_swap_references
from vswap.mm.machine import MADV_HUGEPAGE, MADV_PAGEOUT, Machine, MachineConfig
from vswap.mm.mm_types import PTE_PRESENT, Task
from vswap.mm.userfaultfd import UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES
from vswap.swap import DESIGNS
from vswap.swap.storage import MemSwapStorage

N = 64


def _setup(design: str, rng: random.Random, *, zswap: bool = False,
           faults: FaultInjector | None = None, skip_swapcache: bool = True
           ) -> tuple[Machine, Task, int, int, list[bytes]]:
    m = Machine(MachineConfig(ram=8 << 20, design=design, zswap=zswap, faults=faults,
                              skip_swapcache=skip_swapcache,
                              zswap_params={"compressor": "lz4"} if zswap else {}))
    m.swapon(MemSwapStorage(16 << 20))
    t = m.spawn("t")
    src = m.mmap(t, N * PAGE_SIZE)
    dst = m.mmap(t, N * PAGE_SIZE)
    m.uffdio_register(t, dst, N * PAGE_SIZE)
    want = [rng.randbytes(PAGE_SIZE) if p % 4 else bytes(PAGE_SIZE) for p in range(N)]
    for p, data in enumerate(want):
        m.write(t, src + p * PAGE_SIZE, data)
    return m, t, src, dst, want


def _entries(t: Task, addr: int, n: int) -> list[int]:
    out = []
    for p in range(n):
        v = t.mm.get_pte((addr >> PAGE_SHIFT) + p)
        out.append(0 if not v or v & PTE_PRESENT else v >> 1)
    return out


@pytest.mark.parametrize("design", DESIGNS)
def test_move_swapped_region_keeps_entries_and_bytes(design: str, rng: random.Random) -> None:
    m, t, src, dst, want = _setup(design, rng, zswap=design in ("vswap", "swap-table-p4"))
    m.madvise(t, src, 48 * PAGE_SIZE, MADV_PAGEOUT)
    before = _entries(t, src, N)
    used = [si.inuse_pages for si in m.design.devices.devices()]
    charged = [c.swap.usage for c in m.memcgs]
    assert m.uffdio_move(t, dst, src, N * PAGE_SIZE) == N * PAGE_SIZE
    assert _entries(t, dst, N) == before, "each swap PTE moved with its entry unchanged"
    assert t.mm.swapents == 48 and not any(t.mm.get_pte((src >> PAGE_SHIFT) + p)
                                           for p in range(N))
    assert [si.inuse_pages for si in m.design.devices.devices()] == used
    assert [c.swap.usage for c in m.memcgs] == charged
    assert m.uffd_stats.swap == 48 and m.uffd_stats.present == 16
    m.check_invariants()
    check_swap_references(m)
    for p in range(N):
        assert m.read(t, dst + p * PAGE_SIZE, PAGE_SIZE) == want[p]
        assert m.read(t, src + p * PAGE_SIZE, PAGE_SIZE) == bytes(PAGE_SIZE), "not at src"
    m.exit(t)
    check_no_leaks(m)


@pytest.mark.parametrize("design", ["classic", "vswap", "vswap-ste"])
def test_swap_cache_folio_moves_locked_or_eagain(design: str, rng: random.Random) -> None:
    """Readahead leaves swap-cache folios behind swap PTEs: each is locked for its move
    (``-EAGAIN`` while another task holds its lock), and the page is found in the swap
    cache at the destination."""
    m, t, src, dst, want = _setup(design, rng, skip_swapcache=False)
    m.madvise(t, src, N * PAGE_SIZE, MADV_PAGEOUT)
    assert m.read(t, src, PAGE_SIZE) == want[0]  # readahead caches its neighbours
    e1 = _entries(t, src, 2)[1]
    f = m.design.swap_cache_get_folio(e1)  # type: ignore[arg-type]
    assert f is not None and not f.mapcount
    f.folio_lock()
    assert m.uffdio_move(t, dst + PAGE_SIZE, src + PAGE_SIZE, PAGE_SIZE) == -Errno.EAGAIN
    f.folio_unlock()
    assert m.uffdio_move(t, dst + PAGE_SIZE, src + PAGE_SIZE, (N - 1) * PAGE_SIZE) == \
        (N - 1) * PAGE_SIZE
    assert m.uffd_stats.swapcache >= 1
    m.check_invariants()
    check_swap_references(m)
    for p in range(1, N):
        assert m.read(t, dst + p * PAGE_SIZE, PAGE_SIZE) == want[p]


@pytest.mark.parametrize("design", DESIGNS)
def test_large_swap_cache_folio_is_ebusy(design: str, rng: random.Random) -> None:
    """A large folio whose write failed stays in the swap cache behind its swap PTEs: the
    kernel refuses the move with ``-EBUSY`` and does not split it (6.15 to 6.18 and the mm
    tree after: ``split_folio`` cannot split an unmapped swap-cache folio either), from its
    first page or any other; nothing moves, the folio stays whole in the swap cache. Once
    the folio is written and reclaimed the move succeeds."""
    faults = FaultInjector(seed=0)
    m, t, _src, dst, _want = _setup(design, rng, faults=faults)
    m.sysfs_write("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", "madvise")
    big = m.mmap(t, 16 * PAGE_SIZE)
    m.madvise(t, big, 16 * PAGE_SIZE, MADV_HUGEPAGE)
    data = rng.randbytes(16 * PAGE_SIZE)
    m.write(t, big, data)
    faults.set_rates({"device_write": 1.0})
    m.madvise(t, big, 16 * PAGE_SIZE, MADV_PAGEOUT)
    faults.set_rates({"device_write": 0.0})
    (e0, *_) = _entries(t, big, 16)
    f = m.design.swap_cache_get_folio(e0)  # type: ignore[arg-type]
    if f is None or not f.order:
        pytest.skip(f"{design}: no large folio left in the swap cache")
    entries = _entries(t, big, 16)
    assert m.uffdio_move(t, dst, big, 16 * PAGE_SIZE) == -Errno.EBUSY
    assert m.uffdio_move(t, dst + 5 * PAGE_SIZE, big + 5 * PAGE_SIZE, PAGE_SIZE) == \
        -Errno.EBUSY
    assert m.uffd_stats.ebusy == 2 and m.uffd_stats.splits == m.uffd_stats.swap == 0
    assert _entries(t, big, 16) == entries
    assert m.design.swap_cache_get_folio(e0) is f and f.order == 4  # type: ignore[arg-type]
    m.madvise(t, big, 16 * PAGE_SIZE, MADV_PAGEOUT)
    m.check_invariants()
    assert m.read(t, big, 16 * PAGE_SIZE) == data


@pytest.mark.parametrize("design", ["classic", "vswap", "swap-table-p4"])
def test_shared_pages_are_ebusy_and_errors(design: str, rng: random.Random) -> None:
    m, t, src, dst, want = _setup(design, rng)
    m.madvise(t, src, 8 * PAGE_SIZE, MADV_PAGEOUT)
    child = m.fork(t)
    assert m.uffdio_move(t, dst, src, PAGE_SIZE) == -Errno.EBUSY, "shared swap entry"
    assert m.uffdio_move(t, dst, src + 8 * PAGE_SIZE, PAGE_SIZE) == -Errno.EBUSY, "COW page"
    m.exit(child)
    assert m.uffdio_move(t, dst, src, PAGE_SIZE) == PAGE_SIZE
    assert m.uffdio_move(t, dst, src + PAGE_SIZE, PAGE_SIZE) == -Errno.EEXIST
    assert m.uffdio_move(t, dst + PAGE_SIZE, src, PAGE_SIZE) == -Errno.ENOENT, "src hole"
    assert m.uffdio_move(t, dst + PAGE_SIZE, src, 2 * PAGE_SIZE,
                         UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES) == 2 * PAGE_SIZE
    assert m.uffdio_move(t, src, dst, PAGE_SIZE) == -Errno.EINVAL, "src is not registered"
    assert m.uffdio_move(t, dst + 3, src, PAGE_SIZE) == -Errno.EINVAL
    assert m.uffdio_move(t, dst, src, (N + 1) * PAGE_SIZE) == -Errno.EINVAL
    m.check_invariants()
    check_swap_references(m)
    assert m.read(t, dst, PAGE_SIZE) == want[0]
    assert m.read(t, dst + PAGE_SIZE, PAGE_SIZE) == bytes(PAGE_SIZE), "a hole moved"
    assert m.read(t, dst + 2 * PAGE_SIZE, PAGE_SIZE) == want[1]


@pytest.mark.parametrize("design", ["classic", "vswap", "vswap-v6"])
def test_large_present_folio_is_split_then_moved(design: str, rng: random.Random) -> None:
    m = Machine(MachineConfig(ram=8 << 20, design=design))
    m.swapon(MemSwapStorage(16 << 20))
    m.sysfs_write("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", "always")
    t = m.spawn("t")
    src = m.mmap(t, 16 * PAGE_SIZE)
    dst = m.mmap(t, 16 * PAGE_SIZE)
    m.uffdio_register(t, dst, 16 * PAGE_SIZE)
    data = rng.randbytes(16 * PAGE_SIZE)
    m.write(t, src, data)
    assert m.uffdio_move(t, dst, src, 16 * PAGE_SIZE) == 16 * PAGE_SIZE
    assert m.uffd_stats.splits >= 1
    m.check_invariants()
    assert m.read(t, dst, 16 * PAGE_SIZE) == data


@pytest.mark.parametrize("design", ["classic", "vswap", "swap-table-p1", "vswap-ste"])
def test_swapoff_finds_moved_entries(design: str, rng: random.Random) -> None:
    """The destination VMA gets its anon_vma, so classic swapoff's walk finds the moved
    swap PTEs there; the virtual designs repoint them without a walk."""
    m, t, src, dst, want = _setup(design, rng)
    m.madvise(t, src, N * PAGE_SIZE, MADV_PAGEOUT)
    assert m.uffdio_move(t, dst, src, N * PAGE_SIZE) == N * PAGE_SIZE
    (si,) = m.design.devices.devices()
    assert m.swapoff(si.name).completed
    for p in range(N):
        assert m.read(t, dst + p * PAGE_SIZE, PAGE_SIZE) == want[p]
