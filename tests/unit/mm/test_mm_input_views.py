"""Bad input (clear error, no state changed) and the kernel-format views."""

from __future__ import annotations

import pytest

from conftest import MiB, check, fill, make_machine
from vswap.kernel.errors import KernelError
from vswap.kernel.memcontrol import MAX
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_PAGEOUT
from vswap.mm.mm_types import Signal, TaskKilled
from vswap.swap import design_class


def test_overlapping_mmap_is_einval_and_changes_nothing(design: str) -> None:
    m = make_machine(design)
    t = m.spawn("t")
    addr = m.mmap(t, 16 * PAGE_SIZE)
    before = [(v.start, v.end) for v in t.mm.vmas]
    for a, n in ((addr, 1), (addr + 15 * PAGE_SIZE, 2), (addr - PAGE_SIZE, 2),
                 (addr - PAGE_SIZE, 40)):
        with pytest.raises(KernelError) as exc:
            m.mmap(t, n * PAGE_SIZE, a)
        assert exc.value.errno.name == "EINVAL" and "overlaps" in str(exc.value)
    with pytest.raises(KernelError, match="EINVAL"):
        m.mmap(t, PAGE_SIZE, addr + 1)
    with pytest.raises(KernelError, match="EINVAL"):
        m.mmap(t, 0)
    assert [(v.start, v.end) for v in t.mm.vmas] == before
    assert m.mmap(t, PAGE_SIZE, addr + 16 * PAGE_SIZE) == addr + 16 * PAGE_SIZE


def test_access_outside_mapping_is_sigsegv_for_that_task_only(design: str) -> None:
    m = make_machine(design)
    bad = m.spawn("bad")
    good = m.spawn("good")
    gaddr = m.mmap(good, 8 * PAGE_SIZE)
    fill(m, good, gaddr, 8)
    baddr = m.mmap(bad, 8 * PAGE_SIZE)
    fill(m, bad, baddr, 8)
    with pytest.raises(TaskKilled) as exc:
        m.write(bad, baddr + 8 * PAGE_SIZE, b"x")
    assert exc.value.signal == Signal.SIGSEGV and not bad.alive
    with pytest.raises(TaskKilled):
        m.read(bad, baddr, 1)
    assert good.alive
    check(m, good, gaddr, 8)
    # The dead task's memory is gone.
    assert m.nr_used_pages == good.mm.rss_anon
    m.munmap(good, gaddr, 4 * PAGE_SIZE)
    with pytest.raises(TaskKilled) as exc:
        m.read(good, gaddr, 1)
    assert exc.value.signal == Signal.SIGSEGV
    m.check_invariants()


@pytest.mark.parametrize("bad", ["12Q", "-1", "1.5G", "", "max2", "0x100", "1 G", "maxx"])
def test_malformed_memory_max_is_einval(bad: str) -> None:
    m = make_machine("classic")
    m.create_cgroup("/c")
    m.cgroup_write("/c", "memory.max", "3M")
    with pytest.raises(KernelError) as exc:
        m.cgroup_write("/c", "memory.max", bad)
    assert exc.value.errno.name == "EINVAL"
    assert "\n" not in str(exc.value)
    assert m.cgroup_read("/c", "memory.max") == f"{3 * MiB}\n"


@pytest.mark.parametrize(("text", "want"), [
    ("max", "max"), ("1G", str(1 << 30)), ("64k", str(64 << 10)), ("4097", "4096"),
    (" 2M\n", str(2 << 20)), ("0", "0"),
])
def test_memory_max_parses_like_the_kernel(text: str, want: str) -> None:
    m = make_machine("classic")
    m.create_cgroup("/c")
    m.cgroup_write("/c", "memory.max", text)
    assert m.cgroup_read("/c", "memory.max") == want + "\n"


def test_other_knobs_reject_bad_values() -> None:
    m = make_machine("classic", zswap=True)
    m.create_cgroup("/c")
    for name, bad in (("memory.swap.max", "lots"), ("memory.zswap.writeback", "2"),
                      ("memory.high", "1T1"), ("memory.reclaim", "1M swappiness=201"),
                      ("memory.reclaim", "1M foo=1"), ("memory.reclaim", "")):
        with pytest.raises(KernelError, match="EINVAL"):
            m.cgroup_write("/c", name, bad)
    c = m.memcgs.lookup("/c")
    assert c.swap.max == MAX and c.zswap_writeback and c.memory_high == MAX
    with pytest.raises(KernelError, match="ENOENT"):
        m.cgroup_write("/c", "memory.bogus", "1")
    for path, bad in (("/proc/sys/vm/swappiness", "201"), ("/proc/sys/vm/page-cluster", "x"),
                      ("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", "often"),
                      ("/sys/module/zswap/parameters/max_pool_percent", "101")):
        with pytest.raises(KernelError, match="EINVAL"):
            m.sysfs_write(path, bad)
    assert m.sysfs_read("/proc/sys/vm/swappiness") == "60\n"
    assert "[never]" in m.sysfs_read(
        "/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled")


def test_memory_max_lowered_reclaims_then_ooms(design: str) -> None:
    m = make_machine(design)
    m.create_cgroup("/c")
    t = m.spawn("t", "/c")
    addr = m.mmap(t, 256 * PAGE_SIZE)
    fill(m, t, addr, 256)
    m.cgroup_write("/c", "memory.max", "256K")
    c = m.memcgs.lookup("/c")
    assert c.memory.usage <= 256 * 1024 and t.alive
    m.cgroup_write("/c", "memory.swap.max", "0")
    m.cgroup_write("/c", "memory.max", "64K")
    assert c.memory.usage <= 64 * 1024 or not t.alive


def test_views_print_in_kernel_format(design: str) -> None:
    m = make_machine(design, zswap=True)
    m.create_cgroup("/v")
    m.cgroup_write("/v", "memory.max", "512K")
    t = m.spawn("t", "/v")
    addr = m.mmap(t, 256 * PAGE_SIZE)
    fill(m, t, addr, 256)
    m.madvise(t, addr, 64 * PAGE_SIZE, MADV_PAGEOUT)
    text = m.proc_meminfo()
    for key in ("MemTotal", "MemFree", "AnonPages", "SwapTotal", "SwapFree", "SwapCached",
                "Zswap", "Zswapped"):
        assert any(line.startswith(key + ":") and line.endswith(" kB")
                   for line in text.splitlines()), key
    assert text.splitlines()[0] == f"MemTotal:{32 * 1024:>15} kB"
    info = m.meminfo()
    assert info["MemTotal"] == 32 * 1024 and info["Zswapped"] > 0
    assert info["SwapTotal"] == 16 * 1024 - 4
    vm = m.vmstat_dict()
    assert vm["zswpout"] > 0 and "swap_ra" in vm and "pswpin" in vm
    assert m.proc_swaps().startswith("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
    assert m.swaps()[0]["Size"] == 16 * 1024 - 4
    files = m.cgroup_files("/v")
    assert files["memory.max"] == 512 * 1024 and files["memory.swap.max"] == "max"
    stat = m.cgroup_read("/v", "memory.stat")
    assert stat.startswith("anon ") and "\nzswpout " in stat and "\npgmajfault " in stat
    assert m.cgroup_read("/v", "memory.events").splitlines()[:3] == [
        "low 0", f"high {m.memcgs.lookup('/v').events['high']}",
        f"max {m.memcgs.lookup('/v').events['max']}"]
    assert m.cgroup_read("/v", "memory.swap.events") == (
        "high 0\nmax 0\nfail 0\n") or design_class(design).entry_is_slot
    assert int(m.cgroup_read("/v", "memory.peak")) >= int(m.cgroup_read("/v", "memory.current"))
    m.cgroup_write("/v", "memory.peak", "reset")
    assert m.cgroup_read("/v", "memory.peak") == m.cgroup_read("/v", "memory.current")


def test_swap_cgroup_charge_differs_by_design(design: str) -> None:
    """Classic charges memory.swap for zswap and zero pages (they hold device slots); the
    virtual design charges only pages that reach a device."""
    m = make_machine(design, zswap=True)
    m.create_cgroup("/s")
    t = m.spawn("t", "/s")
    addr = m.mmap(t, 96 * PAGE_SIZE)
    fill(m, t, addr, 96)
    m.madvise(t, addr, 96 * PAGE_SIZE, MADV_PAGEOUT)
    s = m.memcgs.lookup("/s")
    assert m.vmstat["pswpout"] == 0
    if design_class(design).entry_is_slot:
        assert s.swap.usage == 96
    else:
        assert s.swap.usage == 0
