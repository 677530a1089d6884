"""Swap metadata measured from a running design's own tables, beside the calculator's.

Models: the scenario of the v6 cover letter's 32 GB table and of Kairui Song's per-phase
figures (docs/metadata.md), *run* instead of computed: a device of ``swap_size`` (or none,
where the design's zswap needs none) is filled to each usage with pages swapped out through
the design's swap API as reclaim does it (``add_to_swap``, one PTE reference, ``swap_writepage``,
``__remove_mapping`` leaving a shadow), and after each step the design's
``metadata_bytes()`` is read. Each result carries the geometry the run produced (the slots a
kernel never hands out: a device's header slot, a virtual space's reserved ids), so the
calculator can price the same state (:func:`vswap.metadata.calculator.geometry_cell`), and
extrapolates its per-unit costs to the published 32 GB device (:func:`scaled_to`).

A design takes part by naming its layout in the class attribute ``metadata_layout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from vswap.errors import ConfigError, InvalidArgumentError
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE
from vswap.metadata.calculator import MIB, Geometry, geometry_cell, structure_bytes
from vswap.metadata.layouts import LAYOUTS, Backend, Kind, Layout
from vswap.swap import SwpEntry, create_design, design_class
from vswap.swap.storage import MemSwapStorage
from vswap.swap.swap_state import pack_shadow

__all__ = ["MeasuredCell", "layout_of", "measure_metadata", "needs_device", "scaled_to"]

#: Slots a physical device never hands out: the swap header page (slot 0).
HEADER_SLOTS = 1


@dataclass
class MeasuredCell:
    """One design at one usage: what its tables hold, and the geometry that produced it."""

    design: str
    layout: str
    backend: Backend
    usage_percent: Fraction
    geometry: Geometry
    #: The design's ``metadata_bytes()``: structure name -> bytes.
    measured: dict[str, int] = field(default_factory=dict)

    def structure(self, name: str) -> int:
        return self.measured.get(name, 0)

    def counted_bytes(self) -> int:
        """The measured bytes of the structures the published accounting counts."""
        return sum(self.structure(s.name) for s in LAYOUTS[self.layout].for_backend(
            self.backend))

    def expected(self, *, full: bool) -> dict[str, int]:
        """What the calculator gives for this geometry, by structure."""
        cell = geometry_cell(LAYOUTS[self.layout], self.backend, self.geometry, full=full)
        return dict(cell.structures)


def layout_of(design: str) -> Layout:
    """The metadata layout a design declares (``metadata_layout``).

    Raises:
        ConfigError: the design declares none, or an unknown one.
    """
    name = getattr(design_class(design), "metadata_layout", None)
    if not isinstance(name, str) or name not in LAYOUTS:
        raise ConfigError(f"design {design!r} declares no metadata layout")
    return LAYOUTS[name]


def needs_device(layout: Layout, backend: Backend) -> bool:
    """Whether the design needs a physical device under ``backend``: some structure it pays
    for is indexed by the device (the disk backend always does)."""
    if backend is Backend.DISK:
        return True
    return any(s.kind in (Kind.STATIC_PER_SLOT, Kind.PER_CLUSTER, Kind.PER_ADDRESS_SPACE)
               or (s.kind in (Kind.PER_USED_CLUSTER, Kind.CLUSTER_SLACK)
                   and s.space == "device")
               for s in layout.for_backend(backend, full=True))


def _page(i: int) -> bytes:
    """A nonzero page that compresses well (the word index of a usemem page)."""
    return (i + 1).to_bytes(8, "little") * (PAGE_SIZE // 8)


def _swap_out(design: Any, i: int) -> SwpEntry:
    """Reclaim one page: add_to_swap, the PTE's reference, pageout, __remove_mapping."""
    folio = Folio(0, _page(i))
    folio.folio_lock()
    if not design.add_to_swap(folio):
        # folio_alloc_swap() fails with -ENOMEM when no slot is free.
        raise KernelError(Errno.ENOMEM, f"{design.name}: no swap entry for page {i}")
    entry = folio.swap
    design.swap_duplicate(entry)
    folio.dirty = False
    if design.swap_writepage(folio) != 0:
        raise KernelError(Errno.EAGAIN, f"{design.name}: swap_writepage kept page {i}")
    folio.folio_lock()
    design.swap_cache._delete_from_swap_cache(folio, entry, pack_shadow(0, i, False))
    design.put_swap_folio(folio, entry)
    folio.folio_unlock()
    return entry


def measure_metadata(design: str, backend: Backend, *, swap_size: int,
                     usages: Sequence[int | Fraction] = (0, 25, 50, 75, 100)
                     ) -> list[MeasuredCell]:
    """Fill ``design`` to each usage of a ``swap_size`` device and read its tables.

    Usages are percentages in increasing order; a device's header slot cannot be used, so
    on a device 100% is one slot short (the published tables ignore that slot).

    Raises:
        ConfigError: usages out of order or outside 0..100, a device under 16 pages, a
            design with no metadata layout.
    """
    layout = layout_of(design)
    nr_slots = swap_size // PAGE_SIZE
    if nr_slots < 16:
        raise ConfigError(f"swap size {swap_size}: fewer than 16 pages")
    us = [Fraction(u) for u in usages]
    if any(not 0 <= u <= 100 for u in us) or us != sorted(us):
        raise ConfigError(f"usages {list(usages)}: not increasing percentages in 0..100")
    device = needs_device(layout, backend)
    d: Any = create_design(design, nr_cpus=1)
    if device:
        d.swapon(MemSwapStorage(nr_slots * PAGE_SIZE))
    if backend is Backend.ZSWAP:
        from vswap.zswap.zswap import ZswapParams

        d.attach_zswap(total_ram_pages=1 << 40,
                       params=ZswapParams(compressor="lz4", max_pool_percent=100,
                                          accept_threshold_percent=100))
    cap = nr_slots - HEADER_SLOTS if device else nr_slots
    out: list[MeasuredCell] = []
    done = 0
    for u in us:
        target = min(int(nr_slots * u / 100), cap)
        while done < target:
            _swap_out(d, done)
            done += 1
        # The shared cluster allocator fills empty clusters before the header's cluster
        # (free list before nonfull, swapfile.py), so the used slots of the device touch
        # ceil(used / 512) clusters, as if they started at slot 0.
        geo = Geometry(nr_slots, done, device_first=0, virtual_first=layout.virtual_first)
        out.append(MeasuredCell(design, layout.name, backend, u, geo, dict(d.metadata_bytes())))
    d.check_invariants()
    return out


def scaled_to(cell: MeasuredCell, nr_slots: int, *, full: bool = False) -> float:
    """The cell's *measured* per-unit costs applied to a device of ``nr_slots`` at the same
    usage, with the published scenario's geometry (no reserved slots): each structure's
    measured bytes divided by the units the run had (used entries, used clusters, device
    slots...), times the units of the bigger device. Returns MiB, as the tables print.

    Raises:
        InvalidArgumentError: a structure measured non-zero where the run had none of its units.
    """
    layout = LAYOUTS[cell.layout]
    big = Geometry(nr_slots, int(nr_slots * cell.usage_percent / 100))
    total = Fraction(0)
    for s in layout.for_backend(cell.backend, full=full):
        measured = cell.structure(s.name)
        unit = structure_bytes(s, cell.geometry, full=full)
        if unit == 0:
            if measured:
                raise InvalidArgumentError(f"{cell.design}: {s.name} measured {measured} B with no "
                                 "units to scale")
            continue
        total += Fraction(measured, unit) * structure_bytes(s, big, full=full)
    return float(total / MIB)
