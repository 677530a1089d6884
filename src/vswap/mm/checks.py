"""Whole-machine consistency checks: page contents, swap references, leaks.

Not a kernel file: the model's equivalent of ``CONFIG_DEBUG_VM`` sweeps
(``swap_cluster_assert_empty``, ``check_mm`` at exit reporting "BUG: Bad rss-counter state")
for the reliability tests, the soak and the end of every run. Each check raises
:class:`AssertionError` naming what is wrong (or, for the leak check, :class:`LeakError`
listing everything left).

* :func:`peek_page` reads what a task would see at a page *without side effects*: no fault,
  no swap-in, no counter, no injected fault (the swap backends are read directly).
* :func:`check_invariants` (``Machine.check_invariants``): rmap, rss and swapents against
  the page tables, LRU counts, RAM and memcg accounting, the design's invariants.
* :func:`pte_swap_refs` walks every page table of every mm and counts the swap PTEs per entry.
* :func:`check_swap_references`: every entry's swap count equals its page-table references,
  its swap-cache pin is held exactly while a folio is cached at it, no slot or descriptor is
  held by nothing; every resident folio is mapped or in the swap cache.
* :func:`check_counters`: the swap-out counters add up, zswap's and the design's invariants
  hold.
* :func:`check_no_leaks`: with every task gone, after dropping what only the swap cache holds
  (as reclaim would), nothing is left: no used slot, live descriptor, zswap entry, pool byte,
  swap-cache page or shadow, resident folio, or memcg charge.
"""

from __future__ import annotations

from collections import Counter
from itertools import compress
from operator import not_
from typing import TYPE_CHECKING

from vswap.kernel import pagedata
from vswap.kernel.types import PAGE_SIZE, SwpEntry
from vswap.mm.mm_types import PTE_IDX_SHIFT, PTE_PRESENT, PTE_TABLE_SHIFT

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.mm.machine import Machine
    from vswap.mm.mm_types import Task

_ZERO = bytes(PAGE_SIZE)


class BadPageError(AssertionError):
    """A folio was freed in a state the kernel's free path rejects ("BUG: Bad page state")."""


def check_folio_free(folio: Folio) -> None:
    """A folio being freed holds no lock and no reference: not locked, not under
    writeback, unmapped, out of the swap cache, unpinned.

    Models: ``free_page_is_bad()`` / ``bad_page()`` (mm/page_alloc.c): a page freed with
    flags of ``PAGE_FLAGS_CHECK_AT_FREE`` (``PG_locked``, ``PG_writeback``, ...) set or a
    non-zero ``_mapcount`` is reported as "Bad page state". The model raises instead, so a
    path that forgets a ``folio_unlock`` (a read-error path, say) fails the run.

    Raises:
        BadPageError: naming every flag or reference still held.
    """
    if not (folio.locked or folio.writeback or folio.swapcache or folio.mapcount
            or folio.mm_pins):
        return  # a clean free (every free but a bug's): no message to build
    bad = [name for name, held in (("locked", folio.locked), ("writeback", folio.writeback),
                                   ("swapcache", folio.swapcache),
                                   (f"mapcount {folio.mapcount}", folio.mapcount),
                                   (f"pins {folio.mm_pins}", folio.mm_pins)) if held]
    if bad:
        raise BadPageError(f"BUG: Bad page state: folio {folio!r} freed with "
                           f"{', '.join(bad)}")


class LeakError(AssertionError):
    """Resources are still held after every task exited; the message lists them."""


def _backend_bytes(m: Machine, entry: SwpEntry) -> bytes | None:
    """The bytes stored for a swap entry with no swap-cache folio, read from its backend
    directly (zero map, zswap pool, device) without counters. None: no backend has it."""
    got = m.design.swap_peek_entry(entry)
    if got is not None and len(got) == pagedata.TOKEN_BYTES:
        return pagedata.materialize(pagedata.tok_of(got, 0))
    return got


def _folio_page(folio: Folio, idx: int) -> bytes:
    """The bytes of page ``idx`` of ``folio`` (rebuilt from its token in compact mode)."""
    s = len(folio.data) >> folio.order
    page = folio.data[idx * s:(idx + 1) * s]
    return bytes(page) if s == PAGE_SIZE else pagedata.materialize(pagedata.tok_of(page, 0))


def peek_page(m: Machine, task: Task, vpn: int) -> bytes | None:
    """What ``task`` would read at page ``vpn``, without faulting. None: not mapped."""
    mm = task.mm
    if mm.find_vma(vpn) is None:
        return None
    t = mm.tables.get(vpn >> PTE_TABLE_SHIFT)
    if t is None:
        return _ZERO
    i = vpn & ((1 << PTE_TABLE_SHIFT) - 1)
    v = t[0][i]
    if not v:
        return _ZERO
    if v & PTE_PRESENT:
        folio = t[1][i]
        if folio is None:
            return _ZERO
        idx = v >> PTE_IDX_SHIFT
        return _folio_page(folio, idx)
    entry = SwpEntry(v >> 1)
    folio = m.design.swap_cache_get_folio(entry)
    if folio is not None and folio.uptodate:
        idx = entry - folio.swap
        return _folio_page(folio, idx)
    with m.faults.suspend():
        return _backend_bytes(m, entry)


def check_invariants(m: Machine) -> None:
    """Raise AssertionError unless the model's invariants hold (``Machine.check_invariants``).

    * every present PTE's folio lists the PTE in its rmap, and ``mapcount == len(rmap)``;
    * ``rss_anon`` / ``swapents`` of each mm match its PTEs, and an mm with a swap PTE is
      on ``mmlist``;
    * LRU page counts match the lists; every charged folio is accounted in RAM;
    * each memcg's memory usage is its folios (and zswap bytes);
    * the deferred split queue holds only live, large, anonymous folios;
    * the swap design's own invariants.
    """
    folios: dict[int, Folio] = {}
    for mm in m.mms.values():
        rss = swp = 0
        for key, (ptes, fl) in mm.tables.items():
            # A clear PTE has no folio; then only the set PTEs are visited. compress() keeps
            # both passes in C: a Python loop over all 512 entries of every table, most of
            # them clear, was most of this check under the test suite's coverage tracer.
            assert list(compress(fl, map(not_, ptes))).count(None) == ptes.count(0), (
                f"mm {mm.id}: a clear PTE in table {key:#x} has a folio")
            for i in compress(range(len(ptes)), ptes):
                v = ptes[i]
                vpn = (key << PTE_TABLE_SHIFT) + i
                if v & PTE_PRESENT:
                    f = fl[i]
                    if f is None:
                        continue
                    rss += 1
                    assert (mm.id << 36 | vpn) in f.rmap, f"{f!r} lacks rmap for {vpn:#x}"
                    assert f.mm_charged, f"mapped folio {f!r} was freed"
                    folios[id(f)] = f
                else:
                    assert fl[i] is None
                    swp += 1
                    assert m.design.swp_swapcount(SwpEntry(v >> 1)) >= 1, (
                        f"swap PTE {v >> 1:#x} at {vpn:#x} has no swap count")
        assert rss == mm.rss_anon, f"mm {mm.id}: rss {mm.rss_anon} != {rss}"
        assert swp == mm.swapents, f"mm {mm.id}: swapents {mm.swapents} != {swp}"
        # Off init_mm.mmlist, swapoff would never visit its swap PTEs.
        assert not swp or mm.id in m.mmlist, f"mm {mm.id} holds swap PTEs off the mmlist"
    for f in folios.values():
        assert f.mapcount == len(f.rmap), f"{f!r} mapcount {f.mapcount} != rmap"
    used = 0
    per_memcg: dict[int, int] = {}
    for lv in m.lruvecs.values():
        ni = sum(f.nr_pages for f in lv.inactive)
        na = sum(f.nr_pages for f in lv.active)
        assert ni == lv.nr_inactive and na == lv.nr_active, "LRU counts"
        for f in list(lv.inactive) + list(lv.active):
            assert f.mm_charged, f"freed folio {f!r} on the LRU"
            used += f.nr_pages
            per_memcg[f.memcg_id] = per_memcg.get(f.memcg_id, 0) + f.mm_charged
    assert used == m.nr_used_pages, (
        f"RAM accounting: {m.nr_used_pages} pages used, {used} on LRUs")
    for memcg in m.memcgs:
        memcg.check_invariants()
        local = per_memcg.get(memcg.id, 0) + memcg.zswap.local
        assert memcg.memory.local == local, (
            f"{memcg.path}: memory charged {memcg.memory.local} != folios+zswap {local}")
    for f in m.deferred_split_queue:
        assert f.mm_charged and f.order and f.mapping is None, (
            f"deferred split queue holds {f!r} (freed, order 0 or tmpfs)")
    m.shmem_check_invariants()
    m.design.check_invariants()


def pte_swap_refs(m: Machine) -> Counter[int]:
    """Swap PTEs per swap entry over every page table of every mm."""
    refs: Counter[int] = Counter()
    for mm in m.mms.values():
        for ptes, _ in mm.tables.values():
            for v in compress(ptes, ptes):  # the set PTEs only, picked in C
                if not v & PTE_PRESENT:
                    refs[v >> 1] += 1
    return refs


def check_swap_references(m: Machine) -> None:
    """Swap counts equal page-table references plus swap-cache pins; nothing held by nothing.

    Raises AssertionError naming the first entry (or folio) that disagrees.
    """
    d = m.design
    refs = pte_swap_refs(m)
    refs.update(m.shmem_swap_refs())  # a tmpfs mapping slot holds a swap count too
    cached: dict[int, object] = {}
    for folio in d.swap_cache.folios():
        assert folio.mm_charged, f"{folio!r} in the swap cache was freed"
        for k in range(folio.nr_pages):
            cached[int(folio.swap) + k] = folio
    live: set[int] = set()
    for entry, count, pinned in d.live_swap_entries():
        e = int(entry)
        live.add(e)
        assert count == refs.get(e, 0), (
            f"entry {e:#x}: swap count {count}, page tables and shmem mappings hold "
            f"{refs.get(e, 0)}")
        assert pinned == (e in cached), (
            f"entry {e:#x}: swap-cache pin {pinned} but {'a' if e in cached else 'no'} "
            "folio is cached")
    for e in refs:
        assert e in live, f"swap PTE holds dead entry {e:#x}"
    for lv in m.lruvecs.values():
        for folio in (*lv.inactive, *lv.active):
            assert folio.mapcount or folio.swapcache or folio.mm_pins, (
                f"{folio!r} on the LRU is held by nothing (not mapped, not cached)")


def check_counters(m: Machine) -> None:
    """Counters that must agree: every swap-out went to exactly one of zero map, zswap or a
    device (``pswpout`` also counts zswap writeback); zswap's and the model's invariants."""
    vs = m.vmstat
    outs = vs["pswpout"] + vs["zswpout"] + vs["swpout_zero"]
    assert outs == m.nr_swapout_pages + vs["zswpwb"], (
        f"pswpout {vs['pswpout']} + zswpout {vs['zswpout']} + swpout_zero "
        f"{vs['swpout_zero']} != pages swapped out {m.nr_swapout_pages} + zswpwb "
        f"{vs['zswpwb']}")
    m.check_invariants()
    if m.zswap is not None:
        m.zswap.check_invariants()


def drain_swap_cache(m: Machine) -> int:
    """Drop every swap-cache folio nothing maps (``__try_to_reclaim_swap`` with
    ``TTRS_ANYWAY`` as reclaim would eventually); returns folios dropped."""
    d = m.design
    dropped = 0
    for folio in list(d.swap_cache.folios()):
        if folio.mapcount or folio.mm_pins or not folio.folio_trylock():
            continue
        try:
            if d.folio_free_swap(folio):
                dropped += 1
        finally:
            folio.folio_unlock()
    m.reap_folios()
    return dropped


def leftovers(m: Machine) -> list[str]:
    """What is still held; empty when nothing leaked."""
    out: list[str] = []
    d = m.design
    if m.tasks:
        out.append(f"{len(m.tasks)} tasks alive: " + ", ".join(
            f"{t.comm}[{t.pid}]" for t in m.tasks.values()))
    if m.mms:
        out.append(f"{len(m.mms)} mm_structs")
    if m.shmem_inodes:
        out.append(f"{len(m.shmem_inodes)} tmpfs files: " + ", ".join(
            repr(i) for i in m.shmem_inodes.values()))
    out += d.leftovers()
    z = m.zswap
    if z is not None:
        st = z.statistics()
        if st.stored_pages:
            out.append(f"{st.stored_pages} zswap entries")
        if st.pool_total_size:
            out.append(f"{st.pool_total_size} zswap pool bytes")
    if m.nr_used_pages:
        out.append(f"{m.nr_used_pages} resident pages")
    for memcg in m.memcgs:
        for name in ("memory", "swap", "zswap"):
            usage = getattr(memcg, name).usage
            if usage:
                out.append(f"{memcg.path}: {name} usage {usage}")
    return out


def check_no_leaks(m: Machine) -> None:
    """With every task exited: drop cache-only folios, then require that nothing is held.

    Raises:
        LeakError: listing every resource left (slots, descriptors, zswap entries and pool
            bytes, swap-cache pages and shadows, resident pages, memcg charges).
    """
    drain_swap_cache(m)
    left = leftovers(m)
    if left:
        raise LeakError("leak after all tasks exited: " + "; ".join(left))
