"""Memory-manager scenarios with content verification, on every swap design."""

from __future__ import annotations

import contextlib

import pytest

from conftest import MiB, check, fill, make_machine, pattern
from vswap.kernel.errors import KernelError
from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.mm.machine import MADV_PAGEOUT
from vswap.mm.mm_types import PTRS_PER_PTE, Signal, TaskKilled
from vswap.swap import design_class


def drain(m, path: str) -> None:  # type: ignore[no-untyped-def]
    """Reclaim what exited tasks left in the swap cache (the kernel keeps such folios,
    unmapped and holding their slots, until reclaim finds them), then expect nothing."""
    memcg = m.memcgs.lookup(path)
    assert memcg.memory.usage == m.nr_swapcached() * PAGE_SIZE
    if memcg.memory.usage:
        # Dirty cache-only folios are freed by pageout's folio_free_swap without counting
        # as reclaimed (as in the kernel), so the request may end in EAGAIN.
        with contextlib.suppress(KernelError):
            m.cgroup_write(path, "memory.reclaim", str(memcg.memory.usage))
    assert memcg.memory.usage == 0 and memcg.swap.usage == 0


def swap_out_counters_agree(m) -> None:  # type: ignore[no-untyped-def]
    vs = m.vmstat
    assert vs["zswpwb"] == 0
    assert m.nr_swapout_pages == vs["pswpout"] + vs["zswpout"] + vs["swpout_zero"]


@pytest.mark.parametrize("backend", ["device", "zswap"])
def test_write_more_than_memory_max_and_read_back(design: str, backend: str) -> None:
    m = make_machine(design, zswap=backend == "zswap", device=16 * MiB)
    m.create_cgroup("/a")
    m.cgroup_write("/a", "memory.max", "1M")
    t = m.spawn("usemem", "/a")
    n = 768  # 3 MiB: three times memory.max
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    check(m, t, addr, n)
    check(m, t, addr, n)
    a = m.memcgs.lookup("/a")
    assert a.memory.peak <= 1 * MiB
    vs = m.vmstat
    if backend == "zswap":
        assert vs["zswpout"] > 0 and vs["zswpin"] > 0
    else:
        assert vs["pswpout"] > 0 and vs["pswpin"] > 0
    assert vs["swpout_zero"] > 0 and vs["swpin_zero"] > 0
    assert vs["pgmajfault"] > 0
    assert m.oracle.stats.checked > 0
    swap_out_counters_agree(m)
    stat = m.cgroup_files("/a")["memory.stat"]
    assert isinstance(stat, dict)
    for key in ("pswpout", "pswpin", "zswpout", "zswpin", "swpout_zero", "swpin_zero",
                "pgmajfault"):
        assert stat[key] == vs[key], key
    assert m.cgroup_files("/a")["memory.events"]["max"] > 0  # type: ignore[index]
    m.check_invariants()
    m.exit(t)
    drain(m, "/a")
    assert m.nr_used_pages == 0
    m.check_invariants()


def test_counters_sum_over_cgroups(design: str) -> None:
    m = make_machine(design, zswap=True)
    tasks = []
    for name in ("/p/a", "/p/b"):
        m.create_cgroup(name)
        m.cgroup_write(name, "memory.max", "512K")
        t = m.spawn(name, name)
        addr = m.mmap(t, 256 * PAGE_SIZE)
        fill(m, t, addr, 256, tag=len(tasks))
        tasks.append((t, addr))
    for k, (t, addr) in enumerate(tasks):
        check(m, t, addr, 256, tag=k)
    p = m.memcgs.lookup("/p")
    for key in ("pswpout", "zswpout", "zswpin", "swpout_zero", "pgmajfault", "pgfault"):
        parts = sum(m.memcgs.lookup(c).memory_stat_value(key) for c in ("/p/a", "/p/b"))
        assert p.memory_stat_value(key) == parts == m.vmstat[key], key
    swap_out_counters_agree(m)
    m.check_invariants()


@pytest.mark.parametrize("exiting", ["parent", "child"])
def test_fork_then_exit_either_side(design: str, exiting: str) -> None:
    m = make_machine(design)
    m.create_cgroup("/f")
    parent = m.spawn("parent", "/f")
    n = 256
    addr = m.mmap(parent, n * PAGE_SIZE)
    fill(m, parent, addr, n)
    # Push half of it to swap, so the child inherits swap PTEs and present pages.
    m.madvise(parent, addr, n // 2 * PAGE_SIZE, MADV_PAGEOUT)
    child = m.fork(parent, "child")
    shared = [v >> 1 for _, v in child.mm.iter_ptes(addr >> 12, (addr >> 12) + n)
              if v and not v & 1]
    assert shared, "no swap PTE was copied"
    assert max(m.design.swp_swapcount(SwpEntry(e)) for e in shared) == 2
    # The child writes its own data over a few pages (COW), the parent must not see it.
    for i in range(0, n, 7):
        m.write(child, addr + i * PAGE_SIZE, pattern(9, i))
    m.check_invariants()
    if exiting == "parent":
        m.exit(parent)
        for i in range(n):
            want = pattern(9, i) if i % 7 == 0 else pattern(1, i)
            assert m.read(child, addr + i * PAGE_SIZE, PAGE_SIZE) == want
        m.exit(child)
    else:
        m.exit(child)
        check(m, parent, addr, n)
        m.exit(parent)
    drain(m, "/f")
    assert m.nr_used_pages == 0
    assert sum(si.inuse_pages for si in m.design.devices.devices()) == 0
    m.check_invariants()


def test_madv_pageout_then_fault(design: str) -> None:
    m = make_machine(design, zswap=True)
    t = m.spawn("t")
    n = 128
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    got = m.madvise(t, addr, n * PAGE_SIZE, MADV_PAGEOUT)
    assert got == n
    assert t.mm.rss_anon == 0 and t.mm.swapents == n
    majors = m.vmstat["pgmajfault"]
    check(m, t, addr, n)
    assert m.vmstat["pgmajfault"] > majors
    assert m.vmstat["zswpout"] + m.vmstat["swpout_zero"] == n
    m.check_invariants()


def test_madv_dontneed_frees_swap_and_memory(design: str) -> None:
    from vswap.mm.machine import MADV_DONTNEED

    m = make_machine(design)
    t = m.spawn("t")
    n = 64
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    m.madvise(t, addr, n // 2 * PAGE_SIZE, MADV_PAGEOUT)
    m.madvise(t, addr, n * PAGE_SIZE, MADV_DONTNEED)
    assert t.mm.rss_anon == 0 and t.mm.swapents == 0 and m.nr_used_pages == 0
    assert m.read(t, addr, PAGE_SIZE) == bytes(PAGE_SIZE)
    m.check_invariants()


def test_swapoff_with_live_tasks(design: str) -> None:
    m = make_machine(design, device=None)
    from vswap.swap.storage import MemSwapStorage

    si = m.swapon(MemSwapStorage(8 * MiB))
    tasks = []
    for k in range(3):
        t = m.spawn(f"t{k}")
        addr = m.mmap(t, 96 * PAGE_SIZE)
        fill(m, t, addr, 96, tag=k)
        m.madvise(t, addr, 96 * PAGE_SIZE, MADV_PAGEOUT)
        tasks.append((t, addr))
    child = m.fork(tasks[0][0])
    assert si.inuse_pages > 0
    result = m.swapoff(si.name)
    assert result.completed, result.error
    if design_class(design).entry_is_slot:
        assert result.ptes_visited > 0
    else:
        assert result.ptes_visited == 0
    assert list(m.design.devices.devices()) == []
    for k, (t, addr) in enumerate(tasks):
        check(m, t, addr, 96, tag=k)
    check(m, child, tasks[0][1], 96, tag=0)
    m.check_invariants()


def test_zswap_only_machine(design: str) -> None:
    m = make_machine(design, device=None, zswap=True)
    m.create_cgroup("/z")
    m.cgroup_write("/z", "memory.max", "1M")
    t = m.spawn("t", "/z")
    bystander = m.spawn("other")
    baddr = m.mmap(bystander, 16 * PAGE_SIZE)
    fill(m, bystander, baddr, 16, tag=7)
    n = 512
    addr = m.mmap(t, n * PAGE_SIZE)
    if design_class(design).entry_is_slot:
        # No swap device, no swap slots: zswap cannot be used; the cgroup OOMs.
        with pytest.raises(TaskKilled) as exc:
            fill(m, t, addr, n)
        assert exc.value.signal == Signal.SIGKILL
        assert m.vmstat["zswpout"] == 0
        assert m.memcgs.lookup("/z").events["oom_kill"] == 1
    else:
        fill(m, t, addr, n)
        check(m, t, addr, n)
        assert m.vmstat["zswpout"] > 0 and m.vmstat["pswpout"] == 0
    check(m, bystander, baddr, 16, tag=7)
    m.check_invariants()


def test_device_only_machine_global_pressure(design: str) -> None:
    """No cgroup limit: kswapd and direct reclaim under global memory pressure."""
    m = make_machine(design, ram=8 * MiB, device=16 * MiB)
    t = m.spawn("hog")
    n = 3000  # ~12 MiB on an 8 MiB machine
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    check(m, t, addr, n)
    vs = m.vmstat
    assert vs["pgscan_kswapd"] > 0 and vs["pswpout"] > 0
    assert m.nr_free_pages() >= 0
    swap_out_counters_agree(m)
    m.check_invariants()


def test_oom_kills_the_biggest_task_and_frees_its_swap(design: str) -> None:
    m = make_machine(design, device=16 * MiB)
    m.create_cgroup("/o")
    m.cgroup_write("/o", "memory.max", "512K")
    m.cgroup_write("/o", "memory.swap.max", "1M")
    small = m.spawn("small", "/o")
    saddr = m.mmap(small, 64 * PAGE_SIZE)
    fill(m, small, saddr, 64, tag=3)
    big = m.spawn("big", "/o")
    addr = m.mmap(big, 1024 * PAGE_SIZE)
    with pytest.raises(TaskKilled) as exc:
        fill(m, big, addr, 1024, tag=4)
    assert exc.value.task is big and not big.alive
    o = m.memcgs.lookup("/o")
    assert o.events["oom"] >= 1 and o.events["oom_kill"] == 1
    assert m.vmstat["oom_kill"] == 1
    assert small.alive
    check(m, small, saddr, 64, tag=3)
    # All of big's swap is gone: what remains charged is the small task's.
    assert o.swap.usage <= small.mm.swapents + m.nr_swapcached()
    assert m.oom_log and m.oom_log[0][1] == big.pid
    m.check_invariants()


def test_memory_reclaim_and_swappiness(design: str) -> None:
    from vswap.kernel.errors import KernelError

    m = make_machine(design)
    m.create_cgroup("/r")
    t = m.spawn("t", "/r")
    addr = m.mmap(t, 256 * PAGE_SIZE)
    fill(m, t, addr, 256)
    with pytest.raises(KernelError) as exc:
        m.cgroup_write("/r", "memory.reclaim", "256K swappiness=0")
    assert exc.value.errno.name == "EAGAIN"
    before = m.memcgs.lookup("/r").memory.usage
    m.cgroup_write("/r", "memory.reclaim", "256K swappiness=max")
    assert m.memcgs.lookup("/r").memory.usage <= before - 256 * 1024
    check(m, t, addr, 256)
    m.check_invariants()


def test_memory_high_throttles_by_reclaim(design: str) -> None:
    m = make_machine(design)
    m.create_cgroup("/h")
    m.cgroup_write("/h", "memory.high", "512K")
    t = m.spawn("t", "/h")
    addr = m.mmap(t, 256 * PAGE_SIZE)
    fill(m, t, addr, 256)
    h = m.memcgs.lookup("/h")
    assert h.events["high"] > 0
    assert h.memory.usage <= 512 * 1024
    check(m, t, addr, 256)


def test_mthp_swapout_whole_or_split(design: str) -> None:
    m = make_machine(design, ram=32 * MiB)
    m.sysfs_write("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", "always")
    m.create_cgroup("/t")
    m.cgroup_write("/t", "memory.max", "1M")
    t = m.spawn("t", "/t")
    n = 512
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    check(m, t, addr, n)
    stats = m.thp.stats[4]
    assert stats["anon_fault_alloc"] > 0
    assert stats["swpout"] + stats["swpout_fallback"] > 0
    m.check_invariants()


def test_threads_share_mm(design: str) -> None:
    m = make_machine(design)
    t = m.spawn("proc")
    th = m.clone_thread(t)
    addr = m.mmap(t, 8 * PAGE_SIZE)
    m.write(th, addr, b"hello")
    assert m.read(t, addr, 5) == b"hello"
    m.exit(t)
    assert m.read(th, addr, 5) == b"hello"
    m.exit(th)
    assert m.nr_used_pages == m.nr_swapcached()


def test_verify_switch_off_is_reported(design: str) -> None:
    m = make_machine(design, verify=False)
    t = m.spawn("t")
    addr = m.mmap(t, 16 * PAGE_SIZE)
    fill(m, t, addr, 16)
    m.madvise(t, addr, 16 * PAGE_SIZE, MADV_PAGEOUT)
    check(m, t, addr, 16)
    assert m.oracle.stats.enabled is False and m.oracle.stats.checked == 0


def test_corruption_is_detected(design: str) -> None:
    """A device that flips a bit is caught on read, naming task, address and path."""
    from vswap.kernel.errors import DataLossError

    m = make_machine(design, device=None)
    from vswap.swap.storage import MemSwapStorage

    storage = MemSwapStorage(8 * MiB)
    si = m.swapon(storage)
    t = m.spawn("victim")
    addr = m.mmap(t, 4 * PAGE_SIZE)
    fill(m, t, addr, 4)
    m.madvise(t, addr, 4 * PAGE_SIZE, MADV_PAGEOUT)
    assert m.vmstat["pswpout"] > 0
    for off in range(1, si.max):
        page = storage.read_page(off)
        if any(page):
            storage.write_page(off, bytes([page[0] ^ 1]) + page[1:])
    with pytest.raises(DataLossError, match=r"victim\[.*device"):
        check(m, t, addr, 4)


def test_swapoff_walks_only_the_mms_that_swapped() -> None:
    """``init_mm.mmlist``: try_to_unmap puts an mm on it with its first swap PTE, fork
    puts the child on it when it copies one, exit takes it off; classic swapoff walks only
    those mms, so a large address space that never swapped costs its walk nothing."""
    m = make_machine("classic", device=None)
    from vswap.swap.storage import MemSwapStorage

    si = m.swapon(MemSwapStorage(8 * MiB))
    big = m.spawn("big")  # 64 page tables, one page touched in each, never swapped
    base = m.mmap(big, 64 * 512 * PAGE_SIZE)
    for k in range(64):
        m.write(big, base + k * 512 * PAGE_SIZE, b"x")
    t = m.spawn("t")
    addr = m.mmap(t, 96 * PAGE_SIZE)
    fill(m, t, addr, 96)
    assert list(m.mmlist) == []
    m.madvise(t, addr, 96 * PAGE_SIZE, MADV_PAGEOUT)
    assert list(m.mmlist) == [t.mm.id]
    child = m.fork(t)
    plain = m.fork(big)  # copies no swap PTE: stays off the list
    assert list(m.mmlist) == [t.mm.id, child.mm.id]
    m.exit(plain)
    gone = m.fork(t)
    m.exit(gone)
    assert list(m.mmlist) == [t.mm.id, child.mm.id]
    result = m.swapoff(si.name)
    assert result.completed, result.error
    # The 96 PTEs of t's VMA and of the child's, not the 64 x 512 of big's tables.
    assert result.ptes_visited == 2 * 96 < 64 * PTRS_PER_PTE
    check(m, t, addr, 96)
    check(m, child, addr, 96)
    m.check_invariants()
