"""The swap-metadata calculator: metadata memory of each design at a given swap usage.

Models the arithmetic of the v6 Virtual Swap Space cover letter (section II, "32 GB swapfile
= 8,388,608 entries") and of Kairui Song's per-phase reply to vswap v3: every cell is the sum,
over a layout's structures (:mod:`vswap.metadata.layouts`), of units x unit size. Nothing here
knows a published number; tests/unit/metadata/test_metadata_calculator.py checks that the sums land
on them.

Scenario (the one both published tables describe): a device of ``swap_size`` bytes, i.e.
``swap_size // PAGE_SIZE`` slots, of which ``usage`` percent are in use, packed densely from
the start (so a used cluster is a full cluster except the last). Under the ``zswap`` backend
every used entry is a zswap entry; under ``disk`` every used entry holds a device slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction

from vswap.errors import ConfigError
from vswap.kernel import sizes
from vswap.kernel.types import PAGE_SIZE, SWAP_ADDRESS_SPACE_PAGES, SWAPFILE_CLUSTER
from vswap.metadata.layouts import LAYOUTS, Backend, Kind, Layout, Structure

# BUILD_BUG_ON-style layout facts the declarations rely on.
assert sizes.SWAP_TABLE_BYTES_PER_CLUSTER == sizes.SWAP_TABLE_ENTRY_BYTES * SWAPFILE_CLUSTER
assert sizes.XA_NODE_BYTES >= sizes.XA_SLOT_BYTES << sizes.XA_CHUNK_SHIFT

#: The cover letter's "MB" is MiB: 25.00 MB = 8 MiB swap_map + 16 MiB swap_cgroup + 1 MiB zeromap.
MIB = 1 << 20


@dataclass(frozen=True)
class Geometry:
    """A swap device of ``nr_slots`` slots with ``used_slots`` of them in use, packed densely.

    ``device_first`` / ``virtual_first``: the first slot the used ones start from on the
    physical device and in the virtual space (structures declare which one indexes them,
    ``Structure.space``). The published tables ignore the slots a kernel never hands out
    (a device's header slot 0, virtual id 0), so both default to 0; a running design's
    geometry sets them (1 for a header slot or a reserved id 0, 512 for a vswap device whose
    cluster 0 is never allocated), and the used clusters are the ones the range
    ``first .. first + used_slots - 1`` touches.
    """

    nr_slots: int
    used_slots: int
    device_first: int = 0
    virtual_first: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.used_slots <= self.nr_slots:
            raise ConfigError(f"used_slots {self.used_slots} outside 0..{self.nr_slots}")
        if self.device_first < 0 or self.virtual_first < 0:
            raise ConfigError("a negative first slot")

    @classmethod
    def at_usage(cls, swap_size: int, usage_percent: Fraction | int) -> Geometry:
        """The geometry of a ``swap_size``-byte device ``usage_percent`` full (floored to slots)."""
        nr_slots = swap_size // PAGE_SIZE
        return cls(nr_slots, int(nr_slots * Fraction(usage_percent) / 100))

    @property
    def nr_clusters(self) -> int:
        return -(-self.nr_slots // SWAPFILE_CLUSTER)

    @property
    def used_clusters(self) -> int:
        return self.clusters_touched("device")

    def first_slot(self, space: str) -> int:
        """Where the used slots start in ``space`` (``"device"`` or ``"virtual"``)."""
        return self.virtual_first if space == "virtual" else self.device_first

    def clusters_touched(self, space: str) -> int:
        """Clusters of ``space`` holding at least one of the used slots."""
        if not self.used_slots:
            return 0
        first = self.first_slot(space)
        return (-(-(first + self.used_slots) // SWAPFILE_CLUSTER)
                - first // SWAPFILE_CLUSTER)

    @property
    def nr_address_spaces(self) -> int:
        return -(-self.nr_slots // SWAP_ADDRESS_SPACE_PAGES)


def xarray_dense_node_count(nr_entries: int) -> int:
    """``xa_node``\\ s of one XArray holding indices ``0 .. nr_entries - 1``.

    Closed form of :func:`vswap.kernel.sizes.xarray_node_count` for a dense prefix (the
    two agree, see the tests): at level ``l`` the distinct prefixes are ``(top >> 6l) + 1``.
    Walking 8 million indices through the general helper would take seconds per cell.
    """
    if nr_entries <= 1:
        return 0
    top = nr_entries - 1
    levels = 1
    while top >> (sizes.XA_CHUNK_SHIFT * levels):
        levels += 1
    return sum((top >> (sizes.XA_CHUNK_SHIFT * level)) + 1 for level in range(1, levels + 1))


def _xarray_nodes(used: int, span: int | None) -> int:
    """Nodes of dense XArrays of ``span`` entries each (``None``: one tree) holding ``used``."""
    if span is None:
        return xarray_dense_node_count(used)
    full_trees, rest = divmod(used, span)
    return full_trees * xarray_dense_node_count(span) + xarray_dense_node_count(rest)


def structure_bytes(structure: Structure, geometry: Geometry, *, full: bool = False) -> int:
    """Bytes ``structure`` occupies on ``geometry``.

    ``full`` only changes XArrays: the published accounting prices them at ``bytes`` (8) per
    entry, full mode counts the whole ``xa_node``\\ s (576 B per 64 slots, plus upper levels).
    """
    g, s = geometry, structure
    match s.kind:
        case Kind.STATIC_PER_SLOT:
            # Bitmaps are allocated in unsigned longs (bitmap_zalloc); byte arrays exactly.
            return s.bytes * g.nr_slots + (sizes.bitmap_bytes(s.bits * g.nr_slots)
                                           if s.bits else 0)
        case Kind.DYNAMIC_PER_USED_SLOT:
            return s.bytes * g.used_slots
        case Kind.PER_CLUSTER:
            return s.bytes * g.nr_clusters
        case Kind.PER_USED_CLUSTER:
            return s.bytes * g.clusters_touched(s.space)
        case Kind.CLUSTER_SLACK:
            return s.bytes * (g.clusters_touched(s.space) * SWAPFILE_CLUSTER - g.used_slots)
        case Kind.PER_ADDRESS_SPACE:
            return s.bytes * g.nr_address_spaces
        case Kind.PER_DEVICE:
            return s.bytes
        case Kind.XARRAY:
            if full:
                return sizes.XA_NODE_BYTES * _xarray_nodes(g.used_slots, s.span)
            return s.bytes * g.used_slots
    raise AssertionError(f"unhandled kind {s.kind}")  # pragma: no cover


@dataclass(frozen=True)
class Cell:
    """One design at one usage: the total and its per-structure breakdown (in layout order)."""

    design: str
    backend: Backend
    usage: Fraction
    geometry: Geometry
    structures: tuple[tuple[str, int], ...]

    @property
    def total_bytes(self) -> int:
        return sum(nbytes for _, nbytes in self.structures)

    @property
    def mib(self) -> float:
        return self.total_bytes / MIB


def geometry_cell(layout: Layout, backend: Backend, geometry: Geometry, *,
                  full: bool = False) -> Cell:
    """Swap metadata of ``layout`` on an explicit ``geometry`` (what a running design has:
    see :class:`Geometry`); ``usage`` is the used fraction in percent."""
    parts = tuple((s.name, structure_bytes(s, geometry, full=full))
                  for s in layout.for_backend(backend, full=full))
    usage = Fraction(100 * geometry.used_slots, geometry.nr_slots) if geometry.nr_slots \
        else Fraction(0)
    return Cell(layout.name, backend, usage, geometry, parts)


def metadata_cell(layout: Layout, backend: Backend, swap_size: int,
                  usage_percent: Fraction | int, *, full: bool = False) -> Cell:
    """Swap metadata of ``layout`` on a ``swap_size`` device ``usage_percent`` full.

    Returns:
        A :class:`Cell`; with ``full`` it also counts the structures the published tables
        leave out (``Structure.counted`` False).

    Raises:
        ConfigError: ``usage_percent`` outside 0..100 or ``swap_size`` below one page.
    """
    usage = Fraction(usage_percent)
    if not 0 <= usage <= 100:
        raise ConfigError(f"usage {usage} outside 0..100")
    if swap_size < PAGE_SIZE:
        raise ConfigError(f"swap size {swap_size} is less than one page")
    geometry = Geometry.at_usage(swap_size, usage)
    parts = tuple((s.name, structure_bytes(s, geometry, full=full))
                  for s in layout.for_backend(backend, full=full))
    return Cell(layout.name, backend, usage, geometry, parts)


def metadata_table(designs: Iterable[str], backend: Backend, swap_size: int,
                   usages: Sequence[Fraction | int], *, full: bool = False
                   ) -> dict[str, list[Cell]]:
    """One row of cells (one per usage) per design name, in the order given.

    Raises:
        KeyError: a design name that is not in :data:`~vswap.metadata.layouts.LAYOUTS`.
    """
    return {name: [metadata_cell(LAYOUTS[name], backend, swap_size, u, full=full)
                   for u in usages]
            for name in designs}


def format_mib(nbytes: int) -> str:
    """Bytes as MiB with two decimals, the cover letter's "25.00 MB"."""
    return f"{nbytes / MIB:.2f}"
