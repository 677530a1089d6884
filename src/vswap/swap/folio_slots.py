"""Large folios on discontiguous physical slots under the virtual designs: allocation,
scatter writes and scatter reads.

Models: the future use case of the virtual swap cover letter (section III, "Swapping a folio
out with discontiguous physical swap slots", ref [10]; spec part 2 section 15.5). Every
descriptor of a virtual swap design stores its own physical slot, so a large folio's
contiguous *virtual* range may be backed by scattered physical slots: when no free run of
the folio's order exists (a fragmented device), ``nr`` order-0 slots back it instead of the
folio being kept in memory (RFC v2's ``AOP_WRITEPAGE_ACTIVATE``) or split (classic, whose
PTEs hold the physical slot: ``thp_swpout_fallback``). The write is one request per
contiguous run of slots (scatter I/O); a read of such a range is one request per run.
Freeing needs nothing new: ``release_backing`` already frees per descriptor.

Nothing here exists in any kernel; it is what the indirection permits. It is switched on by
the model-only knob ``/sys/kernel/mm/swap/discontig_swapout`` (off by default, so RFC v2
and v6 behave as written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

from vswap.kernel.tracing import Cost
from vswap.kernel.types import (
    HPAGE_PMD_ORDER,
    PAGE_SIZE,
    SwpSlot,
    swp_slot_offset,
    swp_slot_type,
)
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED, SWP_SYNCHRONOUS_IO

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.swap._base import SwapDesignBase
    from vswap.swap.swapfile import SwapDevices
    from vswap.swap.vswap_base import VirtualSwapBase

__all__ = [
    "alloc_discontig",
    "charge_and_claim",
    "folio_slots",
    "free_slots",
    "mixed_read_folio",
    "scatter_read",
    "scatter_write",
    "slot_runs",
    "virtual_design",
]


def alloc_discontig(devices: SwapDevices, nr: int) -> list[int]:
    """``nr`` order-0 physical slots (slot values), or ``[]`` with nothing held.

    Models: the allocation fallback of spec 15.5: ``swap_slot_alloc(0)`` ``nr`` times (each
    the ordinary order-0 path, which also fills holes in fragmented clusters). All or
    nothing: a shortfall frees what was taken.
    """
    got: list[int] = []
    for _ in range(nr):
        slot = devices.swap_slot_alloc(0, SWAP_MAP_ALLOCATED)
        if not slot:
            free_slots(devices, got)
            return []
        got.append(int(slot))
    return got


def free_slots(devices: SwapDevices, slots: list[int]) -> None:
    """Give back slots taken by :func:`alloc_discontig` (no owner was set yet)."""
    for s in slots:
        si = devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(s)))
        assert si is not None
        devices.swap_range_free(si, swp_slot_offset(SwpSlot(s)), 1)


def slot_runs(slots: list[int]) -> list[tuple[int, int, int]]:
    """The maximal runs of consecutive slot values: ``(first slot, first index, length)``.

    One run is one I/O request; a folio on contiguous slots is a single run.
    """
    runs: list[tuple[int, int, int]] = []
    i = 0
    while i < len(slots):
        n = 1
        while i + n < len(slots) and slots[i + n] == slots[i] + n:
            n += 1
        runs.append((slots[i], i, n))
        i += n
    return runs


def scatter_write(d: SwapDesignBase, folio: Folio, slots: list[int]) -> int:
    """Write ``folio`` page ``i`` to ``slots[i]``, one request per run; return the requests.

    Models: ``__swap_writepage()`` for a folio whose descriptors name scattered slots (the
    scatter I/O of spec 15.5). Counted as one write-out of the folio (``pswpout`` by pages,
    ``thp_swpout`` for a PMD-size folio). A write error (fault point ``device_write``) is
    decided once for the folio, as :meth:`~vswap.swap._base.SwapDesignBase.device_write`
    does: the folio is re-dirtied and keeps its slots.
    """
    runs = slot_runs(slots)
    nr = folio.nr_pages
    st = folio.stride  # PAGE_SIZE, or a token in compact mode
    failed = d.faults.fail("device_write")
    asynchronous = False
    for s, i, n in runs:
        si = d.devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(s)))
        assert si is not None
        if not failed:
            si.storage.write_pages(swp_slot_offset(SwpSlot(s)),
                                   folio.data[i * st:(i + n) * st])
        d.tracer.device_io(si.name, "write", n * PAGE_SIZE,
                           swp_slot_offset(SwpSlot(s)))
        asynchronous = asynchronous or not si.flags & SWP_SYNCHRONOUS_IO
    if failed:
        d.io_write_errors += nr
        folio.dirty = True
    d.io_writes += nr
    d.count_event("pswpout", nr, folio.memcg_id)
    if asynchronous:
        d.async_writeback = folio  # a bio still in flight (SwapDesignBase.async_writeback)
    if folio.order == HPAGE_PMD_ORDER:
        d.count_event("thp_swpout", 1, folio.memcg_id)
    return len(runs)


def scatter_read(d: SwapDesignBase, folio: Folio, first: int, slots: list[int]) -> bool:
    """Read pages ``first .. first + len(slots)`` of ``folio`` from ``slots``, one request
    per run; a slot holding a compressed object (zswap's ``writeback_compressed``) is
    decompressed. Returns False on a read error (fault point ``device_read``: the folio is
    left !uptodate, counted in ``io_read_errors``)."""
    nr = len(slots)
    if d.faults.fail("device_read"):
        d.io_read_errors += nr
        folio.uptodate = False
        return False
    st = folio.stride  # PAGE_SIZE, or a token in compact mode
    for s, i, n in slot_runs(slots):
        si = d.devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(s)))
        if si is None:
            return False
        at = (first + i) * st
        folio.data[at:at + n * st] = si.storage.read_pages(
            swp_slot_offset(SwpSlot(s)), n)
        d.tracer.device_io(si.name, "read", n * PAGE_SIZE,
                           swp_slot_offset(SwpSlot(s)))
    from vswap.swap.vswap_base import VirtualSwapBase

    if isinstance(d, VirtualSwapBase) and d.wb_compressed:
        from vswap.swap.vswap_zswap import wb_decompress

        wb_decompress(d, folio, first, slots)
    d.io_reads += nr
    d.count_event("pswpin", nr, folio.memcg_id)
    return True


def folio_slots(d: VirtualSwapBase[Any, Any], folio: Folio) -> list[int]:
    """The physical slot of each descriptor of ``folio`` (0 where it has none)."""
    t = d.table
    e0 = int(folio.swap)
    return [t.slot_of(e0 + i) for i in range(folio.nr_pages)]


def charge_and_claim(d: VirtualSwapBase[Any, Any], folio: Folio) -> list[int]:
    """Slots for a large folio with no contiguous run: :func:`alloc_discontig` charged to
    the recorded owner. ``[]`` (nothing held) when slots or ``memory.swap`` run out.

    The allocator's lock step is the one of the contiguous path, per slot taken.
    """
    t = d.table
    e0 = int(folio.swap)
    nr = folio.nr_pages
    slots = alloc_discontig(d.devices, nr)
    if not slots:
        return []
    if not d._mem_cgroup_try_charge_swap(t.memcgid[e0], nr):
        free_slots(d.devices, slots)
        return []
    d.tracer.lock_step("vswap_rmap", "vswap_rmap", Cost.VSWAP_RMAP_INSERT)
    d.discontig_swpout += 1
    return slots


#: Why a design has no discontiguous large-folio swap-out (the one-line error of the knob).
_NO_DISCONTIG: Final = {
    "classic": "a PTE holds the physical slot, so a large folio needs a contiguous run; "
               "the kernel splits it (thp_swpout_fallback)",
    "swap-table-p1": "a PTE holds the physical slot, so a large folio needs a contiguous "
                     "run; the kernel splits it (thp_swpout_fallback)",
    "swap-table-p4": "a PTE holds the physical slot, so a large folio needs a contiguous "
                     "run; the kernel splits it (thp_swpout_fallback)",
}


#: Why a design has no mixed-backing large-folio swap-in.
_NO_MIXED: Final = "zswap cannot load a large folio and a large swap-in reads one backend; the " \
            "kernel falls back to order 0"


class FolioKnobs(Protocol):
    """The model-only large-folio knobs of a virtual design (RFC v2, v6 and STE)."""

    discontig_swapout: bool
    mixed_swapin: bool


def virtual_design(design: object, feature: str) -> FolioKnobs:
    """``design`` as a virtual design that has ``feature`` (the RFC v2 / v6 designs and
    ``vswap-ste``); else KernelError(ENOTSUP) with one line saying why the design cannot
    have it."""
    from vswap.kernel.errors import Errno, KernelError
    from vswap.swap.vswap_base import VirtualSwapBase
    from vswap.swap.vswap_ste import VswapSTE

    if isinstance(design, VirtualSwapBase | VswapSTE):
        return design
    name = str(getattr(design, "name", type(design).__name__))
    why = _NO_MIXED if feature == "mixed_swapin" else \
        _NO_DISCONTIG.get(name, "it has no virtual swap layer")
    raise KernelError(Errno.ENOTSUP, f"{feature}: not available under {name}: {why}")


# -- mixed-backing large-folio swap-in (cover letter III, spec 15.4) ---------------------------
def mixed_read_folio(d: VirtualSwapBase[Any, Any], folio: Folio) -> bool:
    """Fill a large folio from the backends of its descriptors, run by run.

    Models: the mixed-backing THP swap-in of the cover letter (section III, ref [7]; spec
    15.4): the folio's range is pinned, so each descriptor's backend is known; the range is
    cut into maximal uniform runs (``vswap_check_backing``) and each run goes to its handler:
    ZERO -> zero-fill (``swpin_zero``), ZSWAP -> each page decompressed from zswap (a
    non-exclusive load: the descriptor stays ZSWAP until its reference is dropped), SWAPFILE
    -> one device read per contiguous run of slots (``pswpin``). The folio is uptodate only if
    every run succeeded (all or nothing); a FOLIO or unbacked descriptor fails the read, and
    the fault falls back to order 0. ``mixed_swpin`` counts the folios, ``mixed_runs`` the
    pages read per backend.

    Raises:
        KernelError(EIO): zswap's stored bytes failed to decompress.
    """
    from vswap.kernel.folio import Folio as _Folio
    from vswap.kernel.types import SwpEntry
    from vswap.swap.vswap_desc import SwapType

    t = d.table
    e0 = int(folio.swap)
    nr = folio.nr_pages
    st = folio.stride  # PAGE_SIZE, or a token in compact mode
    i = 0
    runs: list[tuple[SwapType, int]] = []
    while i < nr:
        n, ty = t.check_backing(e0 + i, nr - i)
        if not n:
            return False
        if ty == SwapType.VSWAP_ZERO:
            folio.data[i * st:(i + n) * st] = bytes(n * st)
            d.count_event("swpin_zero", n, folio.memcg_id)
        elif ty == SwapType.VSWAP_ZSWAP:
            if d.zswap is None:
                return False
            for k in range(i, i + n):
                tmp = _Folio(0, memcg_id=folio.memcg_id)
                tmp.swap = SwpEntry(e0 + k)
                tmp.locked = True
                if not d.zswap.zswap_load(tmp) or not tmp.uptodate:
                    return False
                folio.data[k * st:(k + 1) * st] = tmp.data
        elif ty == SwapType.VSWAP_SWAPFILE:
            slots = [t.slot_of(e0 + k) for k in range(i, i + n)]
            if not all(slots) or not scatter_read(d, folio, i, slots):
                return False
        else:
            return False
        runs.append((ty, n))
        i += n
    for ty, n in runs:
        d.mixed_runs[ty.name] += n
    d.mixed_swpin += 1
    folio.uptodate = True
    return True
