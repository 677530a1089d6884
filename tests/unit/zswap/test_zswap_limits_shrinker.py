"""Pool limit and hysteresis, memory.zswap.max, LRU second chance, shrinkers and writeback."""

from __future__ import annotations

from vswap.kernel.errors import Errno
from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.zswap.zswap import SHRINK_STOP, ZswapParams


def _fill(m, helpers, n, memcg=None, page=None):
    entries = []
    for i in range(n):
        ok, e = m.swapout(page or helpers.random_page(1000 + i), memcg)
        if ok:
            entries.append(e)
    return entries


def test_pool_limit_and_accept_threshold_hysteresis(helpers) -> None:
    # 100 pages of RAM, 20 % -> max 20 pool pages, accept below 18 (90 %)
    m = helpers.Machine(total_ram_pages=100)
    stored = _fill(m, helpers, 25)
    st = m.zswap.statistics()
    assert len(stored) == 20 and st.pool_limit_hit == 5
    assert m.zswap.pool_reached_full and m.zswap.shrink_work_pending
    # freeing one page is not enough (19 > 18): still refused
    m.swapin(stored.pop())
    assert not m.swapout(helpers.random_page(1))[0]
    # down to 18: accepted again
    m.swapin(stored.pop())
    assert m.zswap.zswap_total_pages() == 18
    assert m.swapout(helpers.random_page(2))[0]
    assert not m.zswap.pool_reached_full


def test_shrink_worker_writes_back_to_accept_threshold(helpers) -> None:
    m = helpers.Machine(total_ram_pages=100)
    a, b = m.memcgs.create("/a"), m.memcgs.create("/b")
    _fill(m, helpers, 10, a)
    _fill(m, helpers, 10, b)
    assert not m.swapout(helpers.random_page(5), a)[0]
    assert m.zswap.run_pending_work()
    assert not m.zswap.run_pending_work()
    # v6.14 shrink_memcg walks one item per call and fresh entries are referenced, so one
    # run of the worker (16 failures) only rotates; the work is re-queued by each refused
    # store, and later runs write back.
    assert m.vmstat["zswpwb"] == 0
    runs = 1
    while m.zswap.zswap_total_pages() > 18:
        assert not m.swapout(helpers.random_page(5), a)[0]
        assert m.zswap.run_pending_work()
        runs += 1
    assert runs == 2
    st = m.zswap.statistics()
    assert st.written_back_pages == m.vmstat["zswpwb"] == 20 - m.zswap.zswap_total_pages()
    assert a.stat["zswpwb"] > 0 and b.stat["zswpwb"] > 0  # round robin over the cgroups
    for _e, data in m.host.device.items():
        assert len(data) == PAGE_SIZE
    m.zswap.check_invariants()


def test_shrink_worker_gives_up_when_writeback_disabled(helpers) -> None:
    m = helpers.Machine(total_ram_pages=100)
    a = m.memcgs.create("/a")
    a.zswap_writeback = False
    _fill(m, helpers, 30, a, page=helpers.text_page(1))
    m.zswap.shrink_worker()  # every cgroup says -ENOENT: 16 empty passes, then stop
    assert m.vmstat["zswpwb"] == 0


def test_second_chance_rotation(machine, helpers) -> None:
    cg = machine.memcgs.create("/lru")
    es = _fill(machine, helpers, 3, cg, page=helpers.text_page(1))
    assert machine.zswap.lru_entries(cg) == es
    # first call only rotates the (referenced) head: -EAGAIN, nothing written
    assert machine.zswap.shrink_memcg(cg) == -Errno.EAGAIN
    assert machine.zswap.lru_entries(cg) == [es[1], es[2], es[0]]
    assert not machine.zswap.lookup(es[0]).referenced
    assert machine.zswap.shrink_memcg(cg) == -Errno.EAGAIN
    assert machine.zswap.shrink_memcg(cg) == -Errno.EAGAIN
    # now the head (es[0]) is unreferenced: written back
    assert machine.zswap.shrink_memcg(cg) == 0
    assert machine.zswap.lookup(es[0]) is None and es[0] in machine.host.device
    assert machine.host.device[es[0]] == helpers.text_page(1)
    assert machine.host.swap_cache[es[0]].uptodate
    assert machine.zswap.statistics().written_back_pages == 1
    assert machine.zswap.shrink_memcg(machine.memcgs.create("/empty")) == -Errno.ENOENT


def test_writeback_skips_folio_in_swapcache(machine, helpers) -> None:
    cg = machine.memcgs.create("/r")
    (e,) = _fill(machine, helpers, 1, cg, page=helpers.text_page(1))
    machine.zswap.shrink_memcg(cg)  # clear referenced
    racer = machine.host.swap_cache.setdefault(e, object())  # a swap-in raced in
    assert machine.zswap.shrink_memcg(cg) == -Errno.EAGAIN
    assert machine.host.swap_cache[e] is racer
    st = machine.zswap.statistics()
    assert st.reject_reclaim_fail == 1 and st.written_back_pages == 0
    assert machine.zswap.lookup(e) is not None
    del machine.host.swap_cache[e]
    assert machine.zswap.zswap_writeback_entry(e) == 0
    assert machine.zswap.zswap_writeback_entry(e) == -Errno.ENOENT


def test_writeback_aborts_when_entry_changed(any_machine, helpers) -> None:
    m = any_machine
    _ok, e = m.swapout(helpers.text_page(1))

    def invalidate_meanwhile(entry: SwpEntry) -> None:
        m.zswap.zswap_invalidate(entry)  # the entry is freed behind writeback's back

    m.host.on_prepare = invalidate_meanwhile
    assert m.zswap.zswap_writeback_entry(e) == -Errno.ENOMEM
    assert ("abort", e) in m.host.calls and e not in m.host.swap_cache
    assert e not in m.host.device
    m.zswap.check_invariants()


def test_vswap_writeback_needs_a_free_slot(helpers) -> None:
    m = helpers.Machine("vswap", free_slots=0)
    cg = m.memcgs.create("/v")
    m.zswap.set_param("shrinker_enabled", True)
    (e,) = _fill(m, helpers, 1, cg, page=helpers.text_page(1))
    assert m.host.backend[e][0] == "zswap"
    assert m.zswap.zswap_shrinker_count(cg) == 0  # patch 13: no free physical swap
    assert m.zswap.zswap_writeback_entry(e) == -Errno.ENOMEM
    assert m.host.backend[e][0] == "zswap" and m.zswap.lookup(e) is not None
    m.host.free_slots = 1
    assert m.zswap.zswap_writeback_entry(e) == 0
    assert m.host.backend[e][0] == "slot" and m.zswap.lookup(e) is None


def test_shrinker_count_and_scan(machine, helpers) -> None:
    cg = machine.memcgs.create("/s")
    _fill(machine, helpers, 10, cg, page=helpers.usemem_page(1))
    assert machine.zswap.zswap_shrinker_count(cg) == 0  # shrinker_enabled defaults off
    assert machine.zswap.zswap_shrinker_scan(cg, 10) == SHRINK_STOP
    machine.zswap.set_param("shrinker_enabled", True)
    nr_backing = cg.zswap.usage >> 12
    assert machine.zswap.zswap_shrinker_count(cg) == 10 * nr_backing // 10
    # disk swap-ins protect the LRU and are consumed by the count
    folio = machine.new_folio(helpers.text_page(1), cg)
    for _ in range(4):
        machine.zswap.zswap_folio_swapin(folio)
    assert machine.zswap.zswap_shrinker_count(cg) == 6 * nr_backing // 10
    assert machine.zswap.zswap_shrinker_count(cg) == 10 * nr_backing // 10
    # first scan only rotates referenced entries
    assert machine.zswap.zswap_shrinker_scan(cg, 10) == SHRINK_STOP
    assert machine.zswap.zswap_shrinker_scan(cg, 4) == 4
    assert cg.stat["zswpwb"] == 4
    cg.zswap_writeback = False
    assert machine.zswap.zswap_shrinker_count(cg) == 0
    assert machine.zswap.zswap_shrinker_scan(cg, 4) == SHRINK_STOP



def test_shrinker_count_consumes_disk_swapins(machine, helpers) -> None:
    """zswap_shrinker_count(): recent disk swap-ins (nr_disk_swapins) protect as many LRU
    entries and are consumed; an excess over the LRU's length carries to the next count.
    Incompressible pages, so that the count's scaling (nr_backing / nr_stored = 1) keeps
    every difference of one entry visible."""
    cg = machine.memcgs.create("/s")
    _fill(machine, helpers, 10, cg)
    machine.zswap.set_param("shrinker_enabled", True)
    assert cg.zswap.usage >> 12 >= 10
    scale = (cg.zswap.usage >> 12) / 10

    def count_is(n: int) -> None:
        assert machine.zswap.zswap_shrinker_count(cg) == int(n * scale), n

    count_is(10)
    count_is(10)  # a count without swap-ins consumes nothing
    folio = machine.new_folio(helpers.text_page(1), cg)
    for _ in range(4):
        machine.zswap.zswap_folio_swapin(folio)
    count_is(6)
    count_is(10)
    for _ in range(15):
        machine.zswap.zswap_folio_swapin(folio)
    count_is(0)
    count_is(5)
    count_is(10)
    for _ in range(10):
        machine.zswap.zswap_folio_swapin(folio)
    count_is(0)
    count_is(10)

def test_shrinker_scan_stops_on_swapcache_race(machine, helpers) -> None:
    machine.zswap.set_param("shrinker_enabled", True)
    cg = machine.memcgs.create("/s")
    es = _fill(machine, helpers, 3, cg, page=helpers.usemem_page(1))
    machine.zswap.zswap_shrinker_scan(cg, 3)  # clear referenced bits
    machine.host.swap_cache[es[0]] = object()
    assert machine.zswap.zswap_shrinker_scan(cg, 3) == SHRINK_STOP
    assert machine.zswap.statistics().written_back_pages == 0


def test_memcg_offline_reparents_lru(machine, helpers) -> None:
    parent = machine.memcgs.create("/p")
    child = machine.memcgs.create("/p/c")
    es = _fill(machine, helpers, 2, child, page=helpers.usemem_page(1))
    child.online = False
    assert machine.zswap.shrink_memcg(child) == -Errno.ENOENT
    machine.zswap.zswap_memcg_offline_cleanup(child)
    assert machine.zswap.lru_entries(parent) == es


def test_shrink_worker_without_memcg(helpers) -> None:
    m = helpers.Machine(total_ram_pages=100, with_memcg=False)
    _fill(m, helpers, 21)
    m.zswap.shrink_worker()
    m.zswap.shrink_worker()
    assert m.zswap.zswap_total_pages() <= 18 and m.vmstat["zswpwb"] >= 2


def test_params_default_names() -> None:
    p = ZswapParams()
    assert (p.enabled, p.compressor, p.max_pool_percent, p.accept_threshold_percent,
            p.shrinker_enabled) == (True, "lzo", 20, 90, False)
