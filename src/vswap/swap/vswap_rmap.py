"""The virtual designs' reverse map: which virtual slot owns each physical slot.

Models: ``vswap_rmap`` of "[RFC PATCH v2 10/18]" (an XArray keyed by physical slot value,
:class:`VswapRmap`) and v6's reverse map in the physical cluster's swap table (patch
"Re-use swap table for the reverse mapping", with the cache-only mark of "augment the
reverse map", :class:`SwapTableRmap`). ``swp_slot_to_swp_entry()`` is a lookup here;
swapoff and the cluster allocator's reclaim scans find a slot's owner here.

Representation: one column per swapped-on device, indexed by the physical offset, holding
the owner's virtual id (0: no owner; offset 0, the swap header, never has one).

Invariants (:meth:`VswapRmap.check_invariants`): a non-zero entry names a live SWAPFILE
descriptor whose slot is exactly that (device, offset); every allocated slot of a device has
an owner; v6: the per-cluster counts equal the entries in each physical cluster.
"""

from __future__ import annotations

from array import array
from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from vswap.kernel import sizes
from vswap.kernel.types import SWAPFILE_CLUSTER, swp_slot
from vswap.swap.vswap_desc import SwapType, xarray_bytes_np

if TYPE_CHECKING:
    from vswap.swap.swapfile import SwapDevices, SwapInfo
    from vswap.swap.vswap_table import VswapTable


class VswapRmap:
    """``vswap_rmap`` (RFC v2): per device, an ``array('I')`` of virtual ids by offset."""

    typecode = "I"
    #: The bits of an entry that are the owner's id.
    id_mask = (1 << 32) - 1

    def __init__(self) -> None:
        #: Per device type, the owner column.
        self.cols: dict[int, array[int]] = {}

    def swapon(self, si: SwapInfo) -> None:
        """A new device: an empty column of ``si.max`` offsets."""
        col = array(self.typecode)
        col.frombytes(bytes(col.itemsize * si.max))
        self.cols[si.type] = col

    def swapoff(self, type_: int) -> None:
        """The device is gone: its column too."""
        del self.cols[type_]

    def owner(self, type_: int, off: int) -> int:
        """Models: ``swp_slot_to_swp_entry()``: the id owning ``type_:off`` (0: none)."""
        col = self.cols.get(type_)
        if col is None or not 0 < off < len(col):
            return 0
        return col[off] & self.id_mask

    def set(self, type_: int, off: int, e: int) -> None:
        """Insert ``e`` as the owner of ``type_:off`` (``e`` 0 erases it)."""
        self.cols[type_][off] = e

    def metadata_bytes(self, devices: SwapDevices) -> dict[str, int]:
        """``vswap_rmap``: XArray nodes keyed by the physical slot values that have an owner."""
        # A view of each column and one int64 index per owner, shifted in place: the
        # snapshot is taken at the run's peak (a slot value, type << 58 | offset, fits).
        slots = []
        for type_, col in self.cols.items():
            offs = np.flatnonzero(np.frombuffer(col, dtype=np.uint32))
            if offs.size:
                offs += int(swp_slot(type_, 0))
                slots.append(offs)
        if not slots:
            return {"vswap_rmap": 0}
        return {"vswap_rmap": xarray_bytes_np(slots[0] if len(slots) == 1
                                              else np.concatenate(slots))}

    def check_invariants(self, devices: SwapDevices, table: VswapTable) -> None:
        """Raise AssertionError unless every entry names a live SWAPFILE owner of exactly
        that slot and each device's allocated slots all have one."""
        for type_, col in self.cols.items():
            si = devices.swap_type_to_swap_info(type_)
            assert si is not None
            owners = 0
            per_cluster: Counter[int] = Counter()
            words = np.frombuffer(col.tobytes(), dtype=np.dtype(f"u{col.itemsize}"))
            for o in np.flatnonzero(words).tolist():
                e = col[o] & self.id_mask
                assert table.is_live(e) and table.type[e] == SwapType.VSWAP_SWAPFILE and \
                    table.slot_of(e) == swp_slot(type_, o), f"rmap {type_}:{o} -> {e:#x}"
                owners += 1
                per_cluster[o // SWAPFILE_CLUSTER] += 1
            # Spec part 1 invariant 31 / part 2 §18 invariant 3: an allocated slot with no
            # reverse-map owner is a hibernation slot (the model has no slot cache).
            assert owners + len(si.hibernation_slots) == si.inuse_pages, (
                f"device {type_}: {si.inuse_pages} slots allocated, {owners} owned, "
                f"{len(si.hibernation_slots)} held by hibernation")
            for o in si.hibernation_slots:
                assert not col[o], f"hibernation slot {type_}:{o} has a reverse-map owner"
            self._check_clusters(si, per_cluster)

    def _check_clusters(self, si: SwapInfo, per_cluster: Counter[int]) -> None:
        """Per-cluster bookkeeping of the layout (none in RFC v2)."""


class SwapTableRmap(VswapRmap):
    """v6's reverse map in the physical clusters' swap tables.

    Each entry is the owner's id with bit 63 the cache-only mark (the owner has swap count
    0 and is held by the swap cache alone); ``counts`` holds, per physical cluster, the
    entries in it: the cluster's 4 KiB swap table is allocated while that is non-zero.
    """

    typecode = "Q"
    #: The cache-only mark (bit 63 of the swap table entry).
    CACHE_ONLY = 1 << 63
    id_mask = (1 << 63) - 1  # CACHE_ONLY - 1: mypyc's class body cannot read CACHE_ONLY

    def __init__(self) -> None:
        super().__init__()
        #: Per device type, reverse-map entries per physical cluster.
        self.counts: dict[int, array[int]] = {}

    def swapon(self, si: SwapInfo) -> None:
        """A new device: its column and a zero count per cluster."""
        super().swapon(si)
        self.counts[si.type] = array("H", bytes(2 * si.nr_clusters))

    def swapoff(self, type_: int) -> None:
        """The device is gone: its column and counts too."""
        super().swapoff(type_)
        del self.counts[type_]

    def set(self, type_: int, off: int, e: int) -> None:
        """Models: ``vswap_rmap_set()`` for one slot (``e`` 0 clears it)."""
        col = self.cols[type_]
        counts = self.counts[type_]
        c = off // SWAPFILE_CLUSTER
        if col[off] and not e:
            counts[c] -= 1
        elif e and not col[off]:
            counts[c] += 1
        col[off] = e

    def mark(self, type_: int, off: int, e: int, cache_only: bool) -> None:
        """Models: ``swap_rmap_mark_cache_only`` / ``swap_rmap_clear_cache_only``."""
        self.cols[type_][off] = e | self.CACHE_ONLY if cache_only else e

    def is_cache_only(self, type_: int, off: int) -> bool:
        """Is the mark set on ``type_:off``?"""
        return bool(self.cols[type_][off] & self.CACHE_ONLY)

    def metadata_bytes(self, devices: SwapDevices) -> dict[str, int]:
        """One swap table per physical cluster holding an entry."""
        tables = 0
        for si in devices.devices():
            tables += sum(1 for n in self.counts[si.type] if n)
        return {"swap_table_rmap": tables * sizes.SWAP_TABLE_BYTES_PER_CLUSTER}

    def _check_clusters(self, si: SwapInfo, per_cluster: Counter[int]) -> None:
        counts = self.counts[si.type]
        for c in range(si.nr_clusters):
            assert counts[c] == per_cluster.get(c, 0), f"rmap count of cluster {c}"
