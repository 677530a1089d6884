"""Swap tiers: the tier table, cgroup tier masks, and demotion/promotion on every design
that can move entries (vswap.swap.tiers, vswap.swap.tier_move, vswap.mm.swap_tier)."""

from __future__ import annotations

import pytest

from vswap.kernel.errors import KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.memcontrol import MemCgroupTree
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import Machine, MachineConfig
from vswap.mm.mm_types import Task
from vswap.mm.swap_tier import swap_tier_work
from vswap.swap import DESIGNS
from vswap.swap.storage import MemSwapStorage
from vswap.swap.tier_move import tier_moves_unsupported
from vswap.swap.tiers import SwapTiers

MiB = 1 << 20


def _page(i: int) -> bytes:
    """Page ``i``'s bytes (every fourth page zero)."""
    if i % 4 == 0:
        return bytes(PAGE_SIZE)
    return (i * 2654435761 % (1 << 64)).to_bytes(8, "little") * (PAGE_SIZE // 8)


def fill(m: Machine, task: Task, addr: int, n: int) -> None:
    for i in range(n):
        m.write(task, addr + i * PAGE_SIZE, _page(i))


def check(m: Machine, task: Task, addr: int, n: int) -> None:
    for i in range(n):
        assert m.read(task, addr + i * PAGE_SIZE, PAGE_SIZE) == _page(i), f"page {i}"

MOVERS = [d for d in DESIGNS if tier_moves_unsupported(d) is None]


def test_tier_table_follows_the_upstream_examples() -> None:
    t = SwapTiers()
    t.write("+HDD:50, +NET:-1")
    assert t.read().splitlines()[1:] == ["HDD              0     50          32767",
                                         "NET              1     -1          49"]
    t.write("HDD:80, +SSD:100")
    assert [(x.name, x.idx, x.start) for x in t.tiers] == [
        ("SSD", 2, 100), ("HDD", 0, 80), ("NET", 1, -1)]
    assert t.tier_of_prio(99).name == "HDD" and t.tier_of_prio(-5).name == "NET"
    t.write("-SSD,-HDD,-NET")
    assert not t.enabled


@pytest.mark.parametrize("text", ["+A:100", "+A:-2", "A:1", "+A:x", "+FAST:5",
                                  "+A:1 +B:2 +C:3", "", "-A", "SLOW:5", "+A:1 -A +A"])
def test_bad_tier_writes_change_nothing(text: str) -> None:
    t = SwapTiers()
    t.write("+FAST:100 +SLOW:-1")
    before = t.read()
    with pytest.raises(KernelError, match="EINVAL"):
        t.write(text)
    assert t.read() == before


def test_the_worker_skips_exactly_the_tiers_a_cgroup_or_its_parent_disables() -> None:
    """``allowed_rank`` (the tier worker's target filter) reads the tier's own bit of the
    effective mask: with MID disabled on the parent, the child may use FAST and SLOW only."""
    memcgs = MemCgroupTree()
    parent, kid = memcgs.create("/a"), memcgs.create("/a/b")
    t = SwapTiers(memcgs)
    t.write("+FAST:100, +MID:50, +SLOW:-1")
    t.memcg_write(parent.id, "MID 0")
    assert [x.name for x in t.tiers] == ["FAST", "MID", "SLOW"]
    assert [t.allowed_rank(r, kid.id) for r in range(3)] == [True, False, True]
    assert all(t.allowed_rank(r, memcgs.root.id) for r in range(3))
    t.memcg_write(kid.id, "FAST 0")
    assert [t.allowed_rank(r, kid.id) for r in range(3)] == [False, False, True]


def _machine(design: str, faults: FaultInjector | None = None) -> Machine:
    m = Machine(MachineConfig(ram=32 * MiB, design=design, faults=faults))
    m.swapon(MemSwapStorage(4 * MiB), prio=100)
    m.swapon(MemSwapStorage(8 * MiB), prio=10)
    m.sysfs_write("/sys/kernel/mm/swap/tiers", "+FAST:100, +SLOW:-1")
    return m


def test_cgroup_tier_mask_routes_swap_out_and_is_bounded_by_the_parent() -> None:
    m = _machine("classic")
    m.create_cgroup("/bg/child")
    m.cgroup_write("/bg", "memory.swap.tiers.max", "FAST 0")
    assert m.cgroup_read("/bg", "memory.swap.tiers.max") == "FAST 0\nSLOW max\n"
    # The child allows FAST itself, but its parent does not.
    assert m.cgroup_read("/bg/child", "memory.swap.tiers.max") == "FAST max\nSLOW max\n"
    m.cgroup_write("/bg/child", "memory.max", "256K")
    t = m.spawn("bg", "/bg/child")
    addr = m.mmap(t, 256 * PAGE_SIZE)
    fill(m, t, addr, 256)
    fast, slow = list(m.design.devices.devices())
    assert fast.inuse_pages == 0 and slow.inuse_pages > 0
    check(m, t, addr, 256)
    with pytest.raises(KernelError, match="EINVAL"):
        m.cgroup_write("/bg", "memory.swap.tiers.max", "MIDDLE 0")


@pytest.mark.parametrize("design", MOVERS)
def test_demotion_then_promotion_keeps_every_page(design: str) -> None:
    m = _machine(design)
    tiers = m.design.devices.tiers
    tiers.knobs.demote_age_ns = 1_000
    tiers.knobs.promote_refaults = 1
    tiers.knobs.rate_limit = 1 << 30
    m.create_cgroup("/a")
    m.cgroup_write("/a", "memory.max", "1M")
    m.cgroup_write("/a", "memory.max", "512K")
    t = m.spawn("app", "/a")
    n = 256
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    fast, slow = list(m.design.devices.devices())
    on_fast = fast.inuse_pages
    assert on_fast > 0 and slow.inuse_pages == 0
    swap_tier_work(m, 10)  # stamps the slots
    assert swap_tier_work(m, 10 + 500) == 0  # too young
    moved = swap_tier_work(m, 200_000_000)  # a whole period's rate budget
    assert moved > 0 and tiers.totals.demoted == moved
    assert slow.inuse_pages >= moved and fast.inuse_pages == on_fast - moved
    assert tiers.totals.verified == moved
    if design in ("classic", "swap-table-p1", "swap-table-p4"):
        assert tiers.totals.ptes_rewritten == moved and tiers.totals.ptes_visited >= n
    else:
        assert tiers.totals.ptes_visited == 0 and tiers.totals.ptes_rewritten == 0
    m.check_invariants()
    # One refault from the slow tier queues its cluster; the next pass promotes the rest.
    m.read(t, addr + PAGE_SIZE, PAGE_SIZE)
    assert tiers.promote_queue
    promoted = swap_tier_work(m, 400_000_000, demote=False)
    assert promoted > 0 and tiers.totals.promoted == promoted
    m.check_invariants()
    check(m, t, addr, n)
    m.exit(t)


@pytest.mark.parametrize("design", ["classic", "vswap", "vswap-ste"])
def test_a_full_slow_tier_fails_the_move_and_keeps_the_page(design: str) -> None:
    inj = FaultInjector()
    m = _machine(design, inj)
    tiers = m.design.devices.tiers
    tiers.knobs.demote_age_ns = 1
    m.create_cgroup("/a")
    m.cgroup_write("/a", "memory.max", "1M")
    t = m.spawn("app", "/a")
    addr = m.mmap(t, 512 * PAGE_SIZE)
    fill(m, t, addr, 512)
    inj.set_rates({"device_full": 1.0})
    swap_tier_work(m, 10)
    assert swap_tier_work(m, 100) == 0
    assert tiers.totals.by_reason["full"] > 0
    inj.set_rates({"device_full": 0.0})
    m.check_invariants()
    check(m, t, addr, 512)


def test_designs_without_tier_moves_are_named() -> None:
    assert set(MOVERS) == set(DESIGNS)
    why = tier_moves_unsupported("no-such-design")
    assert why is not None and "vswap-ste" in why


def test_vswap_ste_moves_virtual_entries_by_repointing_and_direct_ones_by_a_walk() -> None:
    """vswap-ste: a demotion repoints the virtual word (no PTE visited for it); a
    direct-mapped entry (the vswap space full) moves as phase IV's, by a page-table walk;
    the memory.swap charge is the same after; with the target full nothing is released;
    every page reads back."""
    inj = FaultInjector()
    m = Machine(MachineConfig(ram=32 * MiB, design="vswap-ste", faults=inj,
                              design_options={"max_vswap_pages": 160}))
    m.swapon(MemSwapStorage(4 * MiB), prio=100)
    m.swapon(MemSwapStorage(8 * MiB), prio=10)
    m.sysfs_write("/sys/kernel/mm/swap/tiers", "+FAST:100, +SLOW:-1")
    tiers = m.design.devices.tiers
    tiers.knobs.demote_age_ns = 1
    tiers.knobs.rate_limit = 1 << 30
    m.create_cgroup("/a")
    m.cgroup_write("/a", "memory.max", "512K")
    t = m.spawn("app", "/a")
    n = 320
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    d = m.design
    fast, slow = list(d.devices.devices())
    direct = d.direct_users  # type: ignore[attr-defined]
    assert direct and fast.inuse_pages > sum(direct.values())
    on_fast = fast.inuse_pages
    charged = m.cgroup_read("/a", "memory.swap.current")
    assert int(charged) == on_fast * PAGE_SIZE
    swap_tier_work(m, 10)  # stamps the slots
    inj.set_rates({"device_full": 1.0})
    assert swap_tier_work(m, 100) == 0
    assert tiers.totals.by_reason["full"] > 0 and fast.inuse_pages == on_fast
    inj.set_rates({"device_full": 0.0})
    m.check_invariants()
    n_direct = sum(direct.values())
    moved = swap_tier_work(m, 200_000_000)
    assert moved == on_fast == tiers.totals.verified
    assert fast.inuse_pages == 0 and slow.inuse_pages == moved
    assert sum(direct.values()) == n_direct  # direct-mapped on the slow tier now
    # One walk for the direct-mapped batch; it rewrote only their PTEs.
    assert tiers.totals.walks == 1 and tiers.totals.ptes_rewritten == n_direct
    assert tiers.totals.ptes_visited >= n
    assert m.cgroup_read("/a", "memory.swap.current") == charged
    m.check_invariants()
    check(m, t, addr, n)
    m.exit(t)


@pytest.mark.parametrize("design", ["classic", "vswap", "vswap-ste"])
@pytest.mark.parametrize("point", ["device_read", "device_write"])
def test_an_io_error_during_a_move_keeps_the_page(design: str, point: str) -> None:
    """A failed read or write of a move (fault points ``device_read``, ``device_write``)
    loses nothing (only classic's zero pages, read from the zeromap, move); the next pass
    moves the pages that kept their slot."""
    inj = FaultInjector()
    m = _machine(design, inj)
    tiers = m.design.devices.tiers
    tiers.knobs.demote_age_ns = 1
    tiers.knobs.rate_limit = 1 << 30
    m.create_cgroup("/a")
    m.cgroup_write("/a", "memory.max", "512K")
    t = m.spawn("app", "/a")
    n = 256
    addr = m.mmap(t, n * PAGE_SIZE)
    fill(m, t, addr, n)
    swap_tier_work(m, 10)
    inj.set_rates({point: 1.0})
    try:
        moved = swap_tier_work(m, 200_000_000)
    finally:
        inj.set_rates({point: 0.0})
    assert tiers.totals.by_reason[point.removeprefix("device_")] > 0
    assert moved == 0 or design == "classic"
    m.check_invariants()
    again = swap_tier_work(m, 400_000_000)
    # RFC v2 freed the old slot before the write: its pages stay in the swap cache, dirty,
    # for reclaim to write out again; the others still hold their old slot and move now.
    assert again > 0 or (design, point) == ("vswap", "device_write")
    m.check_invariants()
    check(m, t, addr, n)
    m.exit(t)
