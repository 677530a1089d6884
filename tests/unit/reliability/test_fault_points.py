"""One scenario per fault point, with its precise expected outcome, on every swap design.

Each test builds a small machine with a :class:`~vswap.kernel.faults.FaultInjector` schedule ("fail
the Nth call") or rate, drives it through the public Machine API and checks the kernel's
documented behaviour at that point (docs/reliability.md), then that every page still reads
back, references and counters agree, and nothing leaks once the tasks exit.
"""

from __future__ import annotations

import pytest

from vswap.errors import ConfigError
from vswap.kernel.faults import FAULT_POINTS, FaultInjector
from vswap.kernel.types import PAGE_SIZE
from vswap.mm import checks
from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig
from vswap.mm.mm_types import Signal, TaskKilled
from vswap.reliability import page_bytes
from vswap.swap import DESIGNS, design_class
from vswap.swap.storage import MemSwapStorage

N = 16


@pytest.fixture(params=DESIGNS)
def design(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def machine(design: str, faults: FaultInjector, *, zswap: bool = False, **kw: object) -> Machine:
    m = Machine(MachineConfig(ram=8 << 20, design=design, zswap=zswap, faults=faults,
                              zswap_params={"compressor": "lz4"} if zswap else {}, **kw))
    m.swapon(MemSwapStorage(1 << 20))
    m.create_cgroup("/a")
    return m


def task_with_pages(m: Machine, tag: int, n: int = N, cg: str = "/a"):  # type: ignore[no-untyped-def]
    t = m.spawn("t", cg)
    addr = m.mmap(t, n * PAGE_SIZE)
    for i in range(n):
        m.write(t, addr + i * PAGE_SIZE, page_bytes(2 * (tag * 1000 + i) + (i & 1)))
    return t, addr


def check_pages(m: Machine, t, addr: int, tag: int, n: int = N) -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        assert m.read(t, addr + i * PAGE_SIZE, PAGE_SIZE) == \
            page_bytes(2 * (tag * 1000 + i) + (i & 1)), f"page {i}"


def all_consistent(m: Machine) -> None:
    checks.check_swap_references(m)
    checks.check_counters(m)


def finish(m: Machine, *tasks) -> None:  # type: ignore[no-untyped-def]
    for t in tasks:
        if t.alive:
            m.exit(t)
    m.check_no_leaks()


def test_injector_is_deterministic_and_validates() -> None:
    a = FaultInjector(seed=7, rates={"device_read": 0.3})
    b = FaultInjector(seed=7, rates={"device_read": 0.3})
    assert [a.fail("device_read") for _ in range(200)] == [b.fail("device_read") for _ in
                                                           range(200)]
    s = FaultInjector(schedule={"device_write": [2, 3]})
    assert [s.fail("device_write") for _ in range(4)] == [False, True, True, False]
    assert s.statistics().injected["device_write"] == 2
    with s.suspend():
        assert not s.fail("device_write")
    for bad in ({"nope": 0.1}, {"device_read": 1.5}):
        with pytest.raises(ConfigError):
            FaultInjector(rates=bad)
    with pytest.raises(ConfigError):
        FaultInjector(schedule={"device_read": [0]})
    assert len(FAULT_POINTS) == 8


def test_device_write_error_keeps_the_folio_dirty_in_memory(design: str) -> None:
    inj = FaultInjector(schedule={"device_write": [1]})
    m = machine(design, inj)
    t, addr = task_with_pages(m, 1)
    m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    assert inj.injected["device_write"] == 1 and m.design.io_write_errors == 1
    kept = [f for f in m.design.swap_cache.folios() if f.dirty]  # type: ignore[attr-defined]
    assert len(kept) == 1, "the failed folio stays dirty in the swap cache"
    assert kept[0].mm_charged and kept[0].lru
    all_consistent(m)
    m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)   # written again, this time it works
    all_consistent(m)
    check_pages(m, t, addr, 1)
    finish(m, t)


@pytest.mark.parametrize("skip_swapcache", [True, False])
def test_device_read_error_kills_only_the_faulting_task(design: str,
                                                       skip_swapcache: bool) -> None:
    inj = FaultInjector(schedule={"device_read": [1]})
    m = machine(design, inj, skip_swapcache=skip_swapcache, page_cluster=0)
    a, aaddr = task_with_pages(m, 1)
    b, baddr = task_with_pages(m, 2)
    for t, addr in ((a, aaddr), (b, baddr)):
        m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    with pytest.raises(TaskKilled) as exc:
        m.read(a, aaddr + PAGE_SIZE, PAGE_SIZE)   # page 1: non-zero, on the device
    assert exc.value.signal == Signal.SIGBUS and not a.alive
    assert m.design.io_read_errors == 1
    # The dead task's memory and swap are gone: only b's swapped pages hold slots.
    used = sum(si.inuse_pages for si in m.design.devices.devices())
    assert used == m.mms[b.mm.id].swapents or design.startswith("vswap")
    assert a.mm.id not in m.mms
    all_consistent(m)
    check_pages(m, b, baddr, 2)
    finish(m, b)


def test_device_read_error_spares_a_forked_sibling(design: str) -> None:
    """Regression (failed swap-in left a !uptodate folio in the swap cache): the parent's
    read error must not make the child, which shares the swap entry, fail or read garbage."""
    inj = FaultInjector(schedule={"device_read": [1]})
    m = machine(design, inj, page_cluster=0)
    a, addr = task_with_pages(m, 1)
    m.madvise(a, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    child = m.fork(a)
    with pytest.raises(TaskKilled):
        m.read(a, addr + PAGE_SIZE, PAGE_SIZE)
    assert not any(not f.uptodate for f in m.design.swap_cache.folios())  # type: ignore[attr-defined]
    check_pages(m, child, addr, 1)
    all_consistent(m)
    finish(m, child)


def test_device_full_keeps_pages_resident(design: str) -> None:
    inj = FaultInjector(rates={"device_full": 1.0})
    m = machine(design, inj)
    t, addr = task_with_pages(m, 1)
    m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    assert inj.injected["device_full"] > 0
    assert m.vmstat["pswpout"] == 0
    assert sum(si.inuse_pages for si in m.design.devices.devices()) == 0
    assert m.mms[t.mm.id].rss_anon + m.nr_swapcached() >= N - N // 3
    all_consistent(m)
    check_pages(m, t, addr, 1)
    finish(m, t)


def test_device_full_ooms_only_when_nothing_else_can_be_reclaimed(design: str) -> None:
    """Device full under memory.max: classic has nowhere to put a page (zswap needs a slot)
    and the task is OOM-killed; vswap still swaps to zswap (no slot needed): no OOM."""
    inj = FaultInjector(rates={"device_full": 1.0})
    m = machine(design, inj, zswap=True)
    m.cgroup_write("/a", "memory.max", "128K")
    t = m.spawn("t", "/a")
    addr = m.mmap(t, 64 * PAGE_SIZE)
    try:
        for i in range(64):
            m.write(t, addr + i * PAGE_SIZE, page_bytes(2 * (i + 1)))
    except TaskKilled as exc:
        assert exc.signal == Signal.SIGKILL
    if design_class(design).entry_is_slot:
        assert not t.alive and m.vmstat["oom_kill"] == 1 and m.vmstat["zswpout"] == 0
    else:
        assert t.alive and m.vmstat["zswpout"] > 0 and m.vmstat["oom_kill"] == 0
        for i in range(64):
            assert m.read(t, addr + i * PAGE_SIZE, PAGE_SIZE) == page_bytes(2 * (i + 1))
    all_consistent(m)
    finish(m, t)


@pytest.mark.parametrize("writeback", [True, False])
def test_zswap_compression_failure(design: str, writeback: bool) -> None:
    inj = FaultInjector(rates={"zswap_compress": 1.0})
    m = machine(design, inj, zswap=True)
    if not writeback:
        m.cgroup_write("/a", "memory.zswap.writeback", "0")
    t, addr = task_with_pages(m, 1)
    m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    st = m.zswap.statistics()
    nonzero = sum(1 for i in range(N) if page_bytes(2 * (1000 + i) + (i & 1)) != bytes(
        PAGE_SIZE))
    if writeback and design_class(design).zswap_stores_incompressible:
        # v6.18's zswap stores a page it cannot compress as-is.
        assert st.stored_incompressible_pages == nonzero and st.reject_compress_fail == 0
    elif writeback:
        # v6.14's rejects it, and the page goes to the device.
        assert st.reject_compress_fail == nonzero and st.stored_pages == 0
        assert m.vmstat["pswpout"] == nonzero
    else:
        assert st.reject_compress_fail == nonzero and st.stored_pages == 0
        assert m.vmstat["pswpout"] == 0   # writeback off: the page stays in memory
    all_consistent(m)
    check_pages(m, t, addr, 1)
    finish(m, t)


def test_zswap_pool_allocation_failure_falls_back_to_the_device(design: str) -> None:
    inj = FaultInjector(rates={"zswap_alloc": 1.0})
    m = machine(design, inj, zswap=True)
    t, addr = task_with_pages(m, 1)
    m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    st = m.zswap.statistics()
    assert st.reject_alloc_fail == N and st.stored_pages == 0
    assert m.vmstat["pswpout"] == N and m.vmstat["zswpout"] == 0
    all_consistent(m)
    check_pages(m, t, addr, 1)
    finish(m, t)


def test_zswap_decompress_error_kills_only_the_faulting_task(design: str) -> None:
    """Regression: zswap's EIO escaped the fault as a KernelError traceback with the folio
    left locked in the swap cache; it is a read error (SIGBUS) like a device's."""
    inj = FaultInjector(schedule={"zswap_decompress": [1]})
    m = machine(design, inj, zswap=True, page_cluster=0)
    a, aaddr = task_with_pages(m, 1)
    b, baddr = task_with_pages(m, 2)
    for t, addr in ((a, aaddr), (b, baddr)):
        m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    with pytest.raises(TaskKilled) as exc:
        # Page 0 compresses, so it is in zswap on every design (v6.14's zswap sends the
        # incompressible odd pages to the device).
        m.read(a, aaddr, PAGE_SIZE)
    assert exc.value.signal == Signal.SIGBUS
    assert m.zswap.statistics().decompress_fail == 1
    assert not any(f.locked for f in m.design.swap_cache.folios())  # type: ignore[attr-defined]
    all_consistent(m)
    check_pages(m, b, baddr, 2)
    finish(m, b)


def test_memcg_limits(design: str) -> None:
    """memory.zswap.max=0 sends pages to the device; memory.swap.max=0 stops device swap
    (vswap still zswaps: only physical slots are charged, patch 14); memory.max reclaims."""
    m = machine(design, FaultInjector(), zswap=True)
    m.cgroup_write("/a", "memory.zswap.max", "0")
    t, addr = task_with_pages(m, 1)
    m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    assert m.vmstat["zswpout"] == 0 and m.vmstat["pswpout"] > 0
    check_pages(m, t, addr, 1)
    m.cgroup_write("/a", "memory.zswap.max", "max")
    m.cgroup_write("/a", "memory.swap.max", "0")
    before = m.vmstat["pswpout"]
    u, uaddr = task_with_pages(m, 2)
    m.madvise(u, uaddr, N * PAGE_SIZE, MADV_PAGEOUT)
    assert m.vmstat["pswpout"] == before
    assert (m.vmstat["zswpout"] > 0) == (not design_class(design).entry_is_slot)
    m.create_cgroup("/b")
    m.cgroup_write("/b", "memory.max", "64K")
    w, waddr = task_with_pages(m, 3, cg="/b")
    assert m.memcgs.lookup("/b").memory.peak <= 64 << 10
    assert m.vmstat["pswpout"] + m.vmstat["zswpout"] > 0
    for tt, aa, tag in ((t, addr, 1), (u, uaddr, 2), (w, waddr, 3)):
        check_pages(m, tt, aa, tag)
    all_consistent(m)
    finish(m, t, u, w)


@pytest.mark.parametrize("point", ["swapoff_eintr", "swapoff_enomem"])
def test_interrupted_swapoff_then_a_second_one_completes(design: str, point: str) -> None:
    # ENOMEM: every allocation of the first swapoff fails (vswap's round 1 only submits
    # reads and tolerates failures; round 2 reports ENOMEM). EINTR: a signal at once.
    inj = FaultInjector(schedule={point: [1] if point == "swapoff_eintr" else range(1, 64)})
    m = machine(design, inj)
    t, addr = task_with_pages(m, 1)
    m.madvise(t, addr, N * PAGE_SIZE, MADV_PAGEOUT)
    name = next(iter(m.design.devices.devices())).name
    r1 = m.swapoff(name)
    assert not r1.completed and inj.injected[point] >= 1
    if point == "swapoff_eintr":
        assert r1.error.startswith("EINTR")
    elif not design_class(design).entry_is_slot:
        assert r1.error.startswith("ENOMEM")
    all_consistent(m)
    inj.schedule.clear()
    r2 = m.swapoff(name)
    assert r2.completed, r2.error
    assert not list(m.design.devices.devices())
    all_consistent(m)
    check_pages(m, t, addr, 1)
    finish(m, t)
