"""The behaviours of tools/testing/selftests/cgroup/test_zswap.c, re-expressed on the model.

The selftest drives real processes over memory.max; here the "workload" is a loop of
swap-outs and swap-ins through zswap with a fake swap design, and the assertions are the
selftest's: counters and cgroup files move the way the kernel's do.
"""

from __future__ import annotations

from vswap.kernel.types import PAGE_SIZE


def _push(m, helpers, memcg, n, kind="usemem"):
    out = []
    for i in range(n):
        page = helpers.usemem_page(i * 512) if kind == "usemem" else helpers.random_page(i)
        ok, e = m.swapout(page, memcg)
        out.append((ok, e, page))
    return out


def test_zswap_usage(machine, helpers) -> None:
    """test_zswap_usage: zswpout grows and memory.zswap.current is charged."""
    cg = machine.memcgs.create("/no_shrink_test")
    before = cg.zswap_memory_stat()["zswpout"]
    _push(machine, helpers, cg, 64)
    st = cg.zswap_memory_stat()
    assert st["zswpout"] > before and st["zswap"] == cg.zswap.usage > 0
    assert st["zswapped"] == 64 * PAGE_SIZE
    assert machine.zswap.statistics().stored_pages == 64


def test_swapin_nozswap(machine, helpers) -> None:
    """test_swapin_nozswap: memory.zswap.max=0 sends everything to the device, zswap unused."""
    cg = machine.memcgs.create("/no_zswap_test")
    cg.zswap.max = 0
    results = _push(machine, helpers, cg, 16)
    assert not any(ok for ok, _, _ in results)
    assert cg.zswap.usage == 0 and cg.stat["zswpout"] == 0
    for _, e, _ in results:
        hit, _ = machine.swapin(e, cg)
        assert not hit
    assert cg.stat["zswpin"] == 0


def test_zswapin(machine, helpers) -> None:
    """test_zswapin: pages come back from zswap, zswpin counts them."""
    cg = machine.memcgs.create("/zswapin_test")
    results = _push(machine, helpers, cg, 32)
    for ok, e, page in results:
        hit, folio = machine.swapin(e, cg)
        assert ok and hit and bytes(folio.data) == page
    assert cg.zswap_memory_stat()["zswpin"] == 32 and cg.zswap.usage == 0


def _attempt_writeback(m, helpers, wb: bool) -> int:
    cg = m.memcgs.create("/zswap_writeback_test")
    cg.zswap_writeback = wb
    results = _push(m, helpers, cg, 32)
    # lower memory.zswap.max to half the usage: the next stores have to shrink first. Each
    # over-limit store walks one LRU item (v6.14), and fresh entries are referenced: the
    # first 32 stores only rotate (second chance), later ones write back.
    cg.zswap.max = cg.zswap.usage // 2
    _push(m, helpers, cg, 64)
    for ok, e, page in results:
        hit, folio = m.swapin(e, cg)
        data = bytes(folio.data) if hit else m.host.device.get(e)
        if ok:
            assert data == page
    return cg.zswap_memory_stat()["zswpwb"]


def test_zswap_writeback_enabled(machine, helpers) -> None:
    assert _attempt_writeback(machine, helpers, True) > 0


def test_zswap_writeback_disabled(machine, helpers) -> None:
    assert _attempt_writeback(machine, helpers, False) == 0
    assert machine.host.device == {}


def test_no_invasive_cgroup_shrink(machine, helpers) -> None:
    """Hitting memory.zswap.max writes back only the limited cgroup's entries."""
    wb_group = machine.memcgs.create("/per_memcg_wb_test1")
    control = machine.memcgs.create("/per_memcg_wb_test2")
    wb_group.zswap.max = 10 * 1024
    _push(machine, helpers, control, 32)
    assert control.zswap_memory_stat()["zswapped"] >= 1
    _push(machine, helpers, wb_group, 64)
    assert wb_group.zswap_memory_stat()["zswpwb"] > 0
    assert control.zswap_memory_stat()["zswpwb"] == 0


def test_zswap_incompressible(machine, helpers) -> None:
    """Random pages are stored as-is and show in zswap_incomp (writeback enabled)."""
    cg = machine.memcgs.create("/zswap_incompressible_test")
    _push(machine, helpers, cg, 8, kind="random")
    st = cg.zswap_memory_stat()
    assert st["zswap_incomp"] == 8 * PAGE_SIZE == st["zswapped"] == st["zswap"]
    assert machine.zswap.statistics().stored_incompressible_pages == 8


def test_zswap_max_below_usage_is_allowed(machine, helpers) -> None:
    cg = machine.memcgs.create("/lim")
    cg.zswap_writeback = False
    _push(machine, helpers, cg, 8)
    cg.zswap.max = PAGE_SIZE  # below the current usage
    results = _push(machine, helpers, cg, 4)
    assert not any(ok for ok, _, _ in results)
    machine.zswap.check_invariants()
