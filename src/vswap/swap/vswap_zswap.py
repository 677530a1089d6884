"""zswap's host under the virtual designs: descriptors instead of zswap trees of slots.

Models: the vswap side of mm/zswap.c in "[RFC PATCH v2 12/18]" and v6 ("move zswap entry
management to the virtual swap descriptor"): ``zswap_store_page`` associates the entry with
the descriptor (``vswap_assoc_zswap``), a failed store or an exclusive load makes the folio
the backend again (``vswap_store_folio``), and ``zswap_writeback_entry`` gets a swap-cache
folio and a physical slot from the virtual layer (``vswap_alloc_swap_slot``), undoing it on
failure. :class:`VswapZswapHost` implements :class:`~vswap.zswap.zswap.ZswapHost` for a
:class:`~vswap.swap.vswap_base.VirtualSwapBase`; the design forwards the protocol to it.

Invariant: ``wb_pending`` holds exactly the writebacks between ``zswap_writeback_prepare``
and its ``zswap_writeback_submit`` / ``zswap_writeback_abort``: entry -> (zswap entry id,
the physical slot prepare allocated). Writeback never touches a descriptor that left zswap
or that no longer holds that slot (spec part 2, 16.3).

Batched and compressed writeback (model only; the cover letter's section III, spec part 2
section 15.6; docs/future.md): :meth:`VswapZswapHost.zswap_writeback_prepare_batch` pins an
entry with a swap-cache folio but leaves it ZSWAP; :meth:`VswapZswapHost.zswap_writeback_batch`
then takes physical slots for the whole batch at once (:func:`alloc_batch_slots`: the largest
aligned runs the allocator has), flips each descriptor ZSWAP -> SWAPFILE (the T7 transition,
batched) and submits one write per contiguous run of slots. A slot written with a compressed
object is recorded in the design's ``wb_compressed`` and decompressed when it is read
(:func:`wb_decompress`); it holds one object, zero-padded, so slots and descriptors stay one
to one.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, Final

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.pagedata import PAGE_DATA, TOKEN_BYTES
from vswap.kernel.types import (
    HPAGE_PMD_ORDER,
    PAGE_SIZE,
    SwpEntry,
    SwpSlot,
    swp_slot_offset,
    swp_slot_type,
)
from vswap.swap.folio_slots import slot_runs
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED
from vswap.swap.vswap_desc import SwapType
from vswap.zswap.compressors import Compressor, get_compressor

if TYPE_CHECKING:
    from vswap.kernel.folio import Folio
    from vswap.kernel.memcontrol import MemCgroup
    from vswap.swap._base import SwapDesignBase
    from vswap.swap.swapfile import SwapDevices
    from vswap.swap.vswap_base import VirtualSwapBase
    from vswap.zswap.host import WbPage

SWAPFILE: Final = SwapType.VSWAP_SWAPFILE
ZSWAP: Final = SwapType.VSWAP_ZSWAP


class VswapZswapHost:
    """The :class:`~vswap.zswap.zswap.ZswapHost` of a virtual design.

    Args:
        design: the design whose descriptors hold the zswap entries.
        tree_key: ``swap_zswap_tree()`` of the design: which lock instance (tree) zswap's
            index operations on an entry take.
    """

    def __init__(self, design: VirtualSwapBase[Any, Any],
                 tree_key: Callable[[SwpEntry], Hashable]) -> None:
        self.design = design
        self.tree_key = tree_key
        #: Writebacks in flight: entry -> (zswap entry id, physical slot).
        self.wb_pending: dict[int, tuple[int, int]] = {}

    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """Models: ``swap_zswap_tree()`` (vswap): the design's tree or lock instance."""
        return self.tree_key(entry)

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """Models: ``zswap_tree_index()`` (vswap): ``entry.val``, the virtual id."""
        return int(entry)

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """``vswap_assoc_zswap()`` from ``zswap_store_page`` (T4)."""
        self.design.vswap_assoc_zswap(entry, zentry)

    def zswap_store_undone(self, folio: Folio) -> None:
        """``vswap_store_folio()`` after a failed store (T5)."""
        self.design.vswap_store_folio(folio.swap, folio)

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """``vswap_store_folio()`` in an exclusive ``zswap_load`` (T8): the folio is the
        backend."""
        self.design.vswap_store_folio(folio.swap, folio)

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """A swap-cache folio and a physical slot for zswap writeback (patch 12, spec 5).

        Models: ``zswap_writeback_entry()`` steps 1-2: ``__read_swap_cache_async`` with
        ``skip_if_exists``, then ``vswap_alloc_swap_slot`` (ZSWAP -> SWAPFILE, charged to the
        recorded owner). An entry that is no longer ZSWAP is a raced attempt (``EEXIST``),
        its backing is never touched (spec 16.3).

        Returns:
            The locked folio; ``Errno.EEXIST`` (cached, or no longer in zswap);
            ``Errno.ENOMEM`` (dead entry, no memory, no free slot or ``swap.max`` hit; the
            descriptor stays ZSWAP).
        """
        folio = self.zswap_writeback_prepare_batch(entry)
        if isinstance(folio, Errno):
            return folio
        d = self.design
        e = int(entry)
        zentry = d.table.zswap_of(e)
        slot = d.vswap_alloc_swap_slot(folio)
        if not slot:
            d.delete_from_swap_cache(folio)
            folio.folio_unlock()
            return Errno.ENOMEM
        self.wb_pending[e] = (zentry, int(slot))
        return folio

    def zswap_writeback_prepare_batch(self, entry: SwpEntry) -> Folio | Errno:
        """Step 1 of writeback: pin a ZSWAP entry with a new locked swap-cache folio
        (``__read_swap_cache_async`` with ``skip_if_exists``); the descriptor stays ZSWAP.

        Returns:
            The folio; ``Errno.EEXIST`` (cached, or no longer in zswap); ``Errno.ENOMEM``
            (dead entry, no memory).
        """
        d = self.design
        e = int(entry)
        t = d.table
        if not t.is_live(e):
            return Errno.ENOMEM
        if d.swap_cache_get_folio(entry) is not None or t.type[e] != ZSWAP:
            return Errno.EEXIST
        folio, new = d.read_swap_cache_async(entry, skip_if_exists=True)
        if folio is None:
            return Errno.ENOMEM
        if not new:
            return Errno.EEXIST
        return folio

    def zswap_writeback_batch(self, pages: list[WbPage]) -> tuple[list[int], list[int]]:
        """Slots for a whole batch at writeback time, and one write per contiguous run.

        Models: the batched writeback of the cover letter's section III (nothing in a
        kernel): :func:`alloc_batch_slots` takes the batch's slots, each page's descriptor
        gets its slot through ``vswap_alloc_swap_slot`` (charged to its owner; a page whose
        charge fails gives its slot back), then each maximal run of consecutive slots is one
        request (``__swap_writepage`` of the run, ``pswpout`` per page written). A request
        that fails (fault point ``device_write``, decided once per request: a bio fails
        whole) undoes its pages' writeback (:meth:`zswap_writeback_abort`), so their zswap
        entries stay. A written page's folio stays clean in the swap cache (uncompressed)
        or leaves it (compressed: it never held the page), unlocked.

        Returns:
            See :meth:`~vswap.zswap.host.ZswapBatchHost.zswap_writeback_batch`.
        """
        d = self.design
        t = d.table
        status = [-int(Errno.ENOMEM)] * len(pages)
        slots = alloc_batch_slots(d.devices, len(pages), pages[0].folio.memcg_id)
        assigned: list[tuple[int, int]] = []
        for i, p in enumerate(pages):
            e = int(p.folio.swap)
            if i >= len(slots) or not t.is_live(e) or t.type[e] != ZSWAP:
                if i < len(slots):
                    free_batch_slot(d.devices, slots[i])
                self.zswap_writeback_abort(p.folio, 0)
                continue
            zentry = t.zswap_of(e)
            slot = d.vswap_alloc_swap_slot(p.folio, preset=slots[i])
            if not slot:
                self.zswap_writeback_abort(p.folio, zentry)
                continue
            self.wb_pending[e] = (zentry, int(slot))
            assigned.append((i, int(slot)))
        def fail(p: WbPage) -> None:
            self.zswap_writeback_abort(p.folio, self.wb_pending[int(p.folio.swap)][0])

        def done(p: WbPage) -> None:
            e = int(p.folio.swap)
            self.wb_pending.pop(e)
            if p.clen:
                d.wb_compressed[t.slot_of(e)] = (p.clen, p.compressor, p.crc)

        return status, submit_batch(d, pages, assigned, status, fail, done)

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """Undo a prepared writeback: the tree holds ``zentry`` (0: nothing) at the index.

        Models: the ``fail`` path of ``zswap_writeback_entry`` (``vswap_assoc_zswap(entry,
        new)``), taken only while the descriptor is still the SWAPFILE(slot) writeback made
        (spec 16.3): the slot is freed and uncharged and the descriptor points at zswap's
        entry again. With no entry the page's data is gone; the descriptor is left unbacked
        so a later read fails loudly instead of returning stale bytes. The new folio leaves
        the swap cache.
        """
        d = self.design
        e = int(folio.swap)
        t = d.table
        pending = self.wb_pending.pop(e, None)
        if pending is not None and t.is_live(e) and t.type[e] == SWAPFILE \
                and t.slot_of(e) == pending[1]:
            d.release_backing(folio.swap, 1)
            if zentry:
                t.set_zswap(e, zentry)
            else:
                d.env.warn("zswap writeback: entry vanished under a ZSWAP descriptor")
        d.delete_from_swap_cache(folio)
        folio.folio_unlock()

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """Write the decompressed folio to the slot prepare allocated; it stays clean in the
        swap cache, unlocked when the (synchronous) write completes."""
        d = self.design
        e = int(folio.swap)
        self.wb_pending.pop(e, None)
        folio.uptodate = True
        folio.dirty = False
        d.swap_writepage_device(folio, SwpSlot(d.table.slot_of(e)))
        folio.folio_unlock()

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """Patch 13 (v6: "zswap: do not start zswap shrinker if there is no physical swap
        slots"): no shrinking without a free physical slot anywhere."""
        return self.design.devices.nr_swap_pages > 0


def submit_batch(d: SwapDesignBase, pages: list[WbPage], assigned: list[tuple[int, int]],
                 status: list[int], fail: Callable[[WbPage], None],
                 done: Callable[[WbPage], None]) -> list[int]:
    """Write the pages of a writeback batch that have slots: ``assigned`` holds (index in
    ``pages``, slot value) in slot order of assignment; each maximal run of consecutive slots
    is one request (fault point ``device_write``, decided per request). A page of a failed
    request is undone by ``fail`` (``status`` -EIO); a written one is counted (``pswpout``)
    and finished by ``done`` (``status`` 0): an uncompressed page's folio stays clean in the
    swap cache, a compressed one's leaves it; both are unlocked. Returns the pages of each
    request."""
    requests: list[int] = []
    for s0, j0, n in slot_runs([s for _, s in assigned]):
        si = d.devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(s0)))
        assert si is not None
        idx = [assigned[j][0] for j in range(j0, j0 + n)]
        failed = d.faults.fail("device_write")
        if not failed:
            si.storage.write_pages(swp_slot_offset(SwpSlot(s0)),
                                   b"".join(bytes(pages[i].data) for i in idx))
        d.tracer.device_io(si.name, "write", n * PAGE_SIZE,
                           swp_slot_offset(SwpSlot(s0)))
        d.io_writes += n
        requests.append(n)
        for i in idx:
            p = pages[i]
            f = p.folio
            if failed:
                d.io_write_errors += 1
                fail(p)
                status[i] = -int(Errno.EIO)
                continue
            d.count_event("pswpout", 1, f.memcg_id)
            status[i] = 0
            done(p)
            if p.clen:
                f.uptodate = False
                d.delete_from_swap_cache(f)
            else:
                f.uptodate = True
                f.dirty = False
            f.folio_unlock()
    return requests


def free_batch_slot(devices: SwapDevices, slot: int) -> None:
    """Give back a slot :func:`alloc_batch_slots` took that no page used."""
    si = devices.swap_type_to_swap_info(swp_slot_type(SwpSlot(slot)))
    assert si is not None
    devices.swap_range_free(si, swp_slot_offset(SwpSlot(slot)), 1)


def alloc_batch_slots(devices: SwapDevices, nr: int, memcg_id: int) -> list[int]:
    """Up to ``nr`` physical slots for a writeback batch, in as few runs as the allocator
    has: the largest aligned run that fits the rest (at most a PMD's worth), halved on each
    failure down to order 0 (a swap *file* has only order 0, whose slots the cluster
    allocator hands out consecutively). Fewer than ``nr`` when the devices fill up; the
    caller gives back what it does not use.
    """
    got: list[int] = []
    cap = HPAGE_PMD_ORDER
    while len(got) < nr:
        order = min((nr - len(got)).bit_length() - 1, cap)
        while True:
            slot = devices.swap_slot_alloc(order, SWAP_MAP_ALLOCATED, memcg_id)
            if slot or not order:
                break
            order -= 1
            cap = order
        if not slot:
            break
        got.extend(range(int(slot), int(slot) + (1 << order)))
    return got


_COMPRESSORS: dict[str, Compressor] = {}


def wb_decompress_page(d: VirtualSwapBase[Any, Any], slot: int, page: bytes | bytearray) -> bytes:
    """The page a compressed slot holds: its object (the first bytes of ``page``)
    decompressed with the compressor zswap stored it with, checked against its CRC.

    Raises:
        KernelError(EIO): the object does not decompress to the page stored (names the
            slot).
    """
    clen, name, crc = d.wb_compressed[slot]
    comp = _COMPRESSORS.get(name)
    if comp is None:
        comp = _COMPRESSORS[name] = get_compressor(name)
    d.tracer.decompress(name, PAGE_SIZE)
    if PAGE_DATA.compact:  # the slot holds the page's token (vswap.kernel.pagedata)
        out = bytes(page[:TOKEN_BYTES])
        if crc and zlib.crc32(out) != crc:
            raise KernelError(Errno.EIO, f"compressed writeback: slot {slot:#x} ({name}, "
                                         f"{clen} bytes) did not decompress to the page stored")
        return out
    try:
        out = bytes(comp.decompress(bytes(page[:clen])))
    except Exception as exc:  # the crypto layer returning an error
        raise KernelError(Errno.EIO, f"compressed writeback: slot {slot:#x} ({name}, "
                                     f"{clen} bytes) failed to decompress: {exc}") from None
    if len(out) != PAGE_SIZE or (crc and zlib.crc32(out) != crc):
        raise KernelError(Errno.EIO, f"compressed writeback: slot {slot:#x} ({name}, "
                                     f"{clen} bytes) did not decompress to the page stored")
    return out


def wb_decompress(d: VirtualSwapBase[Any, Any], folio: Folio, first: int, slots: list[int]) -> None:
    """After a device read of pages ``first ..`` of ``folio`` from ``slots``: decompress
    every page whose slot holds a compressed object, in place (decompress at swap-in).

    Raises:
        KernelError(EIO): as :func:`wb_decompress_page`.
    """
    comp = d.wb_compressed
    st = folio.stride  # PAGE_SIZE, or a token in compact mode
    for k, s in enumerate(slots):
        if s in comp:
            at = (first + k) * st
            folio.data[at:at + st] = wb_decompress_page(d, s, folio.data[at:at + st])
