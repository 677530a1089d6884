"""Swap metadata layouts: which kernel structures each swap design allocates, and how big.

A *layout* is a named list of :class:`Structure` declarations. Each structure says how it
scales (per slot of the device, per used entry, per cluster, per used cluster, per 64 MiB,
per device, or as XArray nodes), how many bytes (and bits) one unit costs, which backends pay
for it, and where the size comes from. The metadata calculator
(:mod:`vswap.metadata.calculator`, ``vswap metadata``) turns a layout into bytes at a given
usage; no result is stored anywhere, every number is derived from these declarations and the
constants of :mod:`vswap.kernel.sizes`.

``counted`` separates two accountings. The published tables (the v6 cover letter's 32 GB table
and Kairui Song's per-phase figures) leave some structures out: cluster headers of the
physical device, XArray node headers, the ``zswap_entry`` both designs share. A structure
with ``counted=False`` is declared (with the reason in ``note``) and only enters the total in
the calculator's ``full`` mode, so the default reproduces the published accounting and
``--full`` shows what it leaves out. docs/metadata.md has the arithmetic for every design.

Layouts (keys of :data:`LAYOUTS`):

=================  ===============================================================
``classic``        v6.14 (the seed's base): swap_map, swap_cgroup, zeromap, XArray swap cache
``vswap-rfc-v2``   the seed, "[RFC PATCH v2 00/18] Virtual Swap Space" (48 B swp_desc)
``6.19``           6.19 with swap table phase I: the v6 cover letter's "old design"
``vswap-v6``       "[PATCH v6 00/22] Virtual Swap Space" (24 B swp_desc, cluster allocator)
``swap-table-p1``  swap table phase I, Linux 6.18 (the ``swap-table-p1`` design)
``swap-table-p2``  swap table phase II (mm-stable in Feb 2026)
``swap-table-p3``  swap table phase III: swap_map removed, counts in the swap table
``swap-table-p4``  swap table phase IV: swap_cgroup removed, zeromap merged into the table
``swap-table-p4-v5``  phase IV as merged (P4 v5): 48-byte cluster headers (the
                   ``swap-table-p4`` design)
``vswap-ste``      virtual swap space, Swap Table Edition v5, on phase IV (the ``vswap-ste``
                   design)
=================  ===============================================================
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from vswap.errors import InvalidArgumentError
from vswap.kernel import sizes
from vswap.kernel.types import SWAP_ADDRESS_SPACE_PAGES, SWAPFILE_CLUSTER


class Kind(enum.Enum):
    """How a structure's size scales with the device and its usage.

    ===========================  ==========================================================
    ``static-per-slot``          allocated at swapon for every slot of the device
    ``dynamic-per-used-slot``    one unit per used swap entry (allocated on swap-out)
    ``per-cluster``              allocated at swapon for every ``SWAPFILE_CLUSTER`` of slots
    ``per-used-cluster``         allocated when a cluster gets its first entry, freed when
                                 it empties (swap table P1 "dynamic allocation")
    ``per-address-space``        allocated at swapon per 64 MiB of device
                                 (``SWAP_ADDRESS_SPACE_PAGES`` slots, v6.14)
    ``per-device``               one unit per swap device (or per design when no device)
    ``xarray``                   an XArray keyed by used entries: ``bytes`` per entry in the
                                 published accounting, whole ``xa_node``\\ s in full mode
    ``cluster-slack``            the rows of a per-cluster array (allocated whole with a
                                 used cluster) that no used entry occupies
    ===========================  ==========================================================
    """

    STATIC_PER_SLOT = "static-per-slot"
    DYNAMIC_PER_USED_SLOT = "dynamic-per-used-slot"
    PER_CLUSTER = "per-cluster"
    PER_USED_CLUSTER = "per-used-cluster"
    PER_ADDRESS_SPACE = "per-address-space"
    PER_DEVICE = "per-device"
    XARRAY = "xarray"
    CLUSTER_SLACK = "cluster-slack"

    @property
    def dynamic(self) -> bool:
        """True when the cost grows with usage (zero on an empty device)."""
        return self in (Kind.DYNAMIC_PER_USED_SLOT, Kind.PER_USED_CLUSTER, Kind.XARRAY,
                        Kind.CLUSTER_SLACK)


class Backend(enum.Enum):
    """Where swapped-out pages live in the calculator's scenario.

    ``zswap``: every used entry is a zswap entry (compressed in memory). Classic and the swap
    table phases still need a swapfile, whose slots back the entries; virtual swap designs
    need no physical device at all (the v6 cover letter's zswap column: 0.00 MB at 0%).
    ``disk``: every used entry sits in a slot on the swapfile.
    """

    ZSWAP = "zswap"
    DISK = "disk"


BOTH = frozenset({Backend.ZSWAP, Backend.DISK})
ZSWAP_ONLY = frozenset({Backend.ZSWAP})
DISK_ONLY = frozenset({Backend.DISK})


@dataclass(frozen=True, kw_only=True)
class Structure:
    """One kernel metadata structure of a layout.

    ``bytes`` and ``bits`` are the cost of one unit (see :class:`Kind`); a bitmap declares
    ``bytes=0, bits=1`` and is allocated in whole ``unsigned long`` words, as
    ``bitmap_zalloc`` does. ``span`` (``xarray`` only) is how many entries one tree covers
    (``SWAP_ADDRESS_SPACE_PAGES`` for the v6.14 per-64 MiB trees; ``None`` for one flat tree).
    ``counted`` is False when the published accounting leaves the structure out; ``note``
    then says why. ``space`` names the index space of a per-cluster structure: the physical
    ``"device"`` or the ``"virtual"`` swap space (see :class:`~vswap.metadata.calculator.
    Geometry`).
    """

    name: str
    kind: Kind
    bytes: int
    bits: int = 0
    backends: frozenset[Backend] = BOTH
    source: str
    counted: bool = True
    span: int | None = None
    note: str = ""
    space: str = "device"

    def __post_init__(self) -> None:
        # The layouts are data: reject a declaration that the calculator could not price.
        if self.bytes < 0 or self.bits < 0 or (self.bytes == 0 and self.bits == 0):
            raise InvalidArgumentError(f"{self.name}: a structure needs a positive size")
        if self.bits and self.kind is not Kind.STATIC_PER_SLOT:
            raise InvalidArgumentError(
                f"{self.name}: bit-sized units exist only for static bitmaps")
        if self.span is not None and self.kind is not Kind.XARRAY:
            raise InvalidArgumentError(f"{self.name}: span applies to xarray structures only")
        if not self.backends:
            raise InvalidArgumentError(f"{self.name}: applies to no backend")
        if self.space not in ("device", "virtual"):
            raise InvalidArgumentError(f"{self.name}: unknown index space {self.space!r}")


@dataclass(frozen=True, kw_only=True)
class Layout:
    """A swap design's metadata: its name, what it models, and its structures.

    ``virtual_first`` is the first slot of the virtual space a running design hands out (1:
    id 0 is never a swap entry; 0: no virtual space). The published tables ignore it; a
    measured run's geometry needs it.
    """

    name: str
    title: str
    source: str
    structures: tuple[Structure, ...]
    virtual_first: int = 0

    def for_backend(self, backend: Backend, *, full: bool = False) -> tuple[Structure, ...]:
        """The structures paid for with ``backend``; only the counted ones unless ``full``."""
        return tuple(s for s in self.structures
                     if backend in s.backends and (full or s.counted))


# --- shared declarations ----------------------------------------------------------------------

_ZSWAP_ENTRY = Structure(
    name="zswap_entry", kind=Kind.DYNAMIC_PER_USED_SLOT, bytes=sizes.ZSWAP_ENTRY_BYTES,
    backends=ZSWAP_ONLY, counted=False, source="mm/zswap.c struct zswap_entry (v6.14 pahole)",
    note="paid alike by every design (vswap points its descriptor at it); the v6 cover "
         "letter's table leaves it out")

_SWAP_MAP = Structure(
    name="swap_map", kind=Kind.STATIC_PER_SLOT, bytes=sizes.SWAP_MAP_BYTES_PER_SLOT,
    source="mm/swapfile.c si->swap_map, vzalloc(maxpages) at swapon")
_SWAP_CGROUP = Structure(
    name="swap_cgroup", kind=Kind.STATIC_PER_SLOT, bytes=sizes.SWAP_CGROUP_BYTES_PER_SLOT,
    source="mm/swap_cgroup.c swap_cgroup_swapon(): unsigned short id per slot")
_ZEROMAP = Structure(
    name="zeromap", kind=Kind.STATIC_PER_SLOT, bytes=0, bits=sizes.ZEROMAP_BITS_PER_SLOT,
    source="mm/swapfile.c si->zeromap, bitmap_zalloc(maxpages) at swapon")


def _swap_table() -> Structure:
    """Swap table P1+: one page of 8-byte entries per cluster in use (mm/swap_table.h)."""
    return Structure(name="swap_table", kind=Kind.PER_USED_CLUSTER,
                     bytes=sizes.SWAP_TABLE_BYTES_PER_CLUSTER,
                     source="mm/swap_table.h, mm/swapfile.c swap_cluster_alloc_table() "
                            "(swap table P1, 6.18): 8 B per slot of each used cluster")


def _cluster_info(nbytes: int, *, counted: bool, source: str, note: str = "",
                  backends: frozenset[Backend] = BOTH) -> Structure:
    return Structure(name="swap_cluster_info", kind=Kind.PER_CLUSTER, bytes=nbytes,
                     counted=counted, source=source, note=note, backends=backends)


_COVER_OMITS_CI = ("the v6 cover letter's table does not count the physical device's "
                   "cluster headers (its old design starts at 25.00 MB, not 25.50)")


# --- the layouts ------------------------------------------------------------------------------

CLASSIC = Layout(
    name="classic", title="v6.14 classic swap",
    source="v6.14 (seed base-commit 922ceb9d4bb4); include/linux/swap.h, mm/swapfile.c, "
           "mm/swap_state.c, mm/zswap.c, mm/swap_cgroup.c",
    structures=(
        _SWAP_MAP, _SWAP_CGROUP, _ZEROMAP,
        Structure(name="swap_cache", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  span=SWAP_ADDRESS_SPACE_PAGES,
                  source="mm/swap_state.c swapper_spaces[]: one XArray per 64 MiB; a "
                         "swapped-out entry keeps its workingset shadow there"),
        Structure(name="zswap_tree", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  span=SWAP_ADDRESS_SPACE_PAGES, backends=ZSWAP_ONLY,
                  source="mm/zswap.c zswap_trees[type][]: one XArray per 64 MiB"),
        _cluster_info(sizes.SWAP_CLUSTER_INFO_BYTES, counted=False,
                      source="mm/swap.h struct swap_cluster_info (v6.14: 24 B)",
                      note="cluster headers, left out as in the v6 cover letter's accounting"),
        Structure(name="swapper_spaces", kind=Kind.PER_ADDRESS_SPACE,
                  bytes=sizes.ADDRESS_SPACE_BYTES, counted=False,
                  source="mm/swap_state.c init_swap_address_space(): struct address_space "
                         "per 64 MiB",
                  note="fixed per-device overhead, not in any published table"),
        Structure(name="zswap_trees", kind=Kind.PER_ADDRESS_SPACE, bytes=sizes.XARRAY_BYTES,
                  backends=ZSWAP_ONLY, counted=False,
                  source="mm/zswap.c zswap_swapon(): struct xarray per 64 MiB",
                  note="fixed per-device overhead, not in any published table"),
        _ZSWAP_ENTRY,
    ))

VSWAP_RFC_V2 = Layout(
    name="vswap-rfc-v2", title="virtual swap space, RFC v2 (the seed)",
    source="[RFC PATCH v2 00/18] Virtual Swap Space (Nhat Pham, 2025-04-29), mm/vswap.c; "
           "spec part 1 §3, part 2 §1",
    structures=(
        Structure(name="swp_desc", kind=Kind.DYNAMIC_PER_USED_SLOT,
                  bytes=sizes.SWP_DESC_BYTES_RFC_V2,
                  source="RFC v2 cover letter: struct swp_desc, 48 bytes, kmem_cache per entry"),
        Structure(name="vswap_map", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  source="mm/vswap.c vswap_map: flat XArray virtual id -> swp_desc * (patch 08)"),
        Structure(name="vswap_cluster_map", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.XA_SLOT_BYTES,
                  source="mm/vswap.c vswap_cluster_map: one XArray value per used virtual "
                         "cluster (patch 08)"),
        Structure(name="swap_cache", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  source="mm/swap_state.c under CONFIG_VIRTUAL_SWAP: one flat swap cache keyed "
                         "by entry.val, holding the shadow of a swapped-out entry (patch 07)"),
        Structure(name="zswap_tree", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  backends=ZSWAP_ONLY,
                  source="mm/zswap.c under CONFIG_VIRTUAL_SWAP: one global zswap_tree (patch 07)"),
        Structure(name="vswap_rmap", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  backends=DISK_ONLY,
                  source="mm/vswap.c vswap_rmap: physical slot -> virtual id, only for "
                         "entries backed by a physical slot (patches 08, 12)"),
        Structure(name="swap_map", kind=Kind.STATIC_PER_SLOT,
                  bytes=sizes.SWAP_MAP_BYTES_PER_SLOT, backends=DISK_ONLY,
                  source="mm/swapfile.c si->swap_map, still a byte per physical slot holding "
                         "{0, ALLOCATED, BAD} (patch 10)"),
        _cluster_info(sizes.SWAP_CLUSTER_INFO_BYTES, counted=False, backends=DISK_ONLY,
                      source="mm/swap.h struct swap_cluster_info (v6.14: 24 B)",
                      note="cluster headers, left out as in the v6 cover letter's accounting"),
        _ZSWAP_ENTRY,
    ))

V6_19 = Layout(
    name="6.19", title="6.19 with swap table phase I (the v6 cover letter's old design)",
    source="v6.19; swap table P1 (lore 20250916160100.31545-1-ryncsn@gmail.com, merged 6.18); "
           "[PATCH v6 00/22] Virtual Swap Space cover letter, section II",
    structures=(
        _SWAP_MAP, _SWAP_CGROUP, _ZEROMAP,
        _swap_table(),
        Structure(name="zswap_tree", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  span=SWAP_ADDRESS_SPACE_PAGES, backends=ZSWAP_ONLY,
                  source="mm/zswap.c zswap_trees[type][] (per 64 MiB), 8 B per entry as the "
                         "v6 cover letter counts it"),
        _cluster_info(sizes.SWAP_CLUSTER_INFO_BYTES_ST, counted=False,
                      source="mm/swap.h struct swap_cluster_info (6.18+: 32 B)",
                      note=_COVER_OMITS_CI),
        _ZSWAP_ENTRY,
    ))


def _vswap_v6_structures() -> tuple[Structure, ...]:
    return (
        Structure(name="swp_desc", kind=Kind.DYNAMIC_PER_USED_SLOT,
                  bytes=sizes.SWP_DESC_BYTES_V6,
                  source="v6 cover letter: struct swp_desc, 24 bytes (pahole); also the "
                         "swap cache, shadow, zswap tree and memcg id of the entry"),
        Structure(name="swp_desc_unused", kind=Kind.CLUSTER_SLACK,
                  bytes=sizes.SWP_DESC_BYTES_V6, space="virtual", counted=False,
                  source="v6: cluster->descriptors = vzalloc(512 x sizeof(struct swp_desc)) "
                         "per virtual cluster (patch 22 context; \"decouple descriptor array "
                         "from cluster header\")",
                  note="the cover letter prices 24 B per used entry; the rows of a partly "
                       "used cluster's array are allocated too"),
        Structure(name="vswap_cluster", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.VSWAP_CLUSTER_BYTES_V6, space="virtual",
                  source="mm/vswap.c struct vswap_cluster: DECLARE_BITMAP(bitmap, 512) = 64 B "
                         "per live virtual cluster; the v6 cover letter's table has exactly "
                         "this 1 MiB at 100%"),
        Structure(name="vswap_cluster_header", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.VSWAP_CLUSTER_HEADER_BYTES_V6, space="virtual", counted=False,
                  source="mm/vswap.c struct vswap_cluster without its bitmap: lock, "
                         "rcu/list union, id, bitfields, refcnt, descriptors pointer",
                  note="the v6 cover letter's table has no term for it"),
        Structure(name="allocated_bitmap", kind=Kind.STATIC_PER_SLOT, bytes=0,
                  bits=sizes.VSWAP_ALLOCATED_BITS_PER_SLOT, backends=DISK_ONLY,
                  source="v3 changelog: swap_map replaced by 2 bitmaps (allocated)"),
        Structure(name="bad_bitmap", kind=Kind.STATIC_PER_SLOT, bytes=0,
                  bits=sizes.VSWAP_BAD_BITS_PER_SLOT, backends=DISK_ONLY,
                  source="v3 changelog: swap_map replaced by 2 bitmaps (bad)"),
        Structure(
            name="swap_table_rmap", kind=Kind.PER_USED_CLUSTER,
            bytes=sizes.SWAP_TABLE_BYTES_PER_CLUSTER, backends=DISK_ONLY,
            source="v3 changelog: \"Re-use swap table for the reverse mapping\": 8 B per "
                   "physical slot of each used physical cluster (vswap_rmap_set)"),
        _cluster_info(sizes.SWAP_CLUSTER_INFO_BYTES_ST, counted=False, backends=DISK_ONLY,
                      source="mm/swap.h struct swap_cluster_info of the physical device (32 B)",
                      note="the cover letter's disk column starts at 2.00 MB: the two "
                           "bitmaps only, no cluster headers"),
        _ZSWAP_ENTRY,
    )


VSWAP_V6 = Layout(
    name="vswap-v6", title="virtual swap space v6 (v3 memory layout)",
    source="[PATCH v6 00/22] Virtual Swap Space (lore 20260505153854.1612033-1-nphamcs@gmail.com),"
           " section II; v3 changelog (lore 20260208215839.87595-1-nphamcs@gmail.com)",
    structures=_vswap_v6_structures(), virtual_first=1)

_KAIRUI = "Kairui Song, reply to vswap v3 (2026-02-11): per-phase figures, 32 GB device"
_CI_KAIRUI = _cluster_info(
    sizes.SWAP_CLUSTER_INFO_BYTES_ST, counted=True,
    source="mm/swap.h struct swap_cluster_info, 32 B x 16,384 = the 0.50 MB static term of "
           + _KAIRUI)

SWAP_TABLE_P1 = Layout(
    name="swap-table-p1", title="swap table phase I (Linux 6.18, this host)",
    source="swap table P1 v4 (lore 20250916160100.31545-1-ryncsn@gmail.com, merged 6.18), "
           "torvalds/linux mm/swap_table.h @07adc4cf1ecd; the same structures as P2, so "
           + _KAIRUI + "'s mm-stable figure: 3 B static + 8 B dynamic per slot. zswap's "
           "trees (one XArray per 64 MiB, keyed by device offset) are zswap's, measured "
           "as zswap_tree_xarray: their nodes depend on where the allocator put the slots",
    structures=(
        _SWAP_MAP, _SWAP_CGROUP, _ZEROMAP, _CI_KAIRUI, _swap_table(), _ZSWAP_ENTRY,
    ))

SWAP_TABLE_P2 = Layout(
    name="swap-table-p2", title="swap table phase II (mm-stable, Feb 2026)",
    source="swap table P2 v5 (2025-12-20); " + _KAIRUI + ": 3 B static + 8 B dynamic per slot",
    structures=(
        _SWAP_MAP, _SWAP_CGROUP, _ZEROMAP, _CI_KAIRUI, _swap_table(),
        Structure(name="zswap_tree", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  span=SWAP_ADDRESS_SPACE_PAGES, backends=ZSWAP_ONLY,
                  source="mm/zswap.c zswap_trees[type][] (unchanged by P2); no published "
                         "zswap figure"),
        _ZSWAP_ENTRY,
    ))

SWAP_TABLE_P3 = Layout(
    name="swap-table-p3", title="swap table phase III (swap_map removed)",
    source="swap table P3 v3 (2026-02-18), commit \"mm, swap: use the swap table to track the "
           "swap count\"; " + _KAIRUI + ": 2 B static + 8 B dynamic per slot",
    structures=(
        _SWAP_CGROUP, _ZEROMAP, _CI_KAIRUI,
        _swap_table(),
        Structure(name="zswap_tree", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  span=SWAP_ADDRESS_SPACE_PAGES, backends=ZSWAP_ONLY,
                  source="mm/zswap.c zswap_trees[type][] (unchanged by P3); no published "
                         "zswap figure"),
        _ZSWAP_ENTRY,
    ))

SWAP_TABLE_P4 = Layout(
    name="swap-table-p4", title="swap table phase IV (swap_cgroup removed, zeromap merged)",
    source="swap table P4 RFC (2026-02-20) and v5 (2026-05-17, commit d9ceded1 \"mm, swap: "
           "merge zeromap into swap table\"); " + _KAIRUI + ": 8 B fully dynamic per slot",
    structures=(
        _CI_KAIRUI,
        _swap_table(),
        Structure(name="memcg_table", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER, counted=False,
                  source="swap table P4 v5: memcg id in a per-cluster table (size assumed: "
                         "unsigned short per slot)",
                  note="Kairui's P4 figure (8 B fully dynamic, 64.5 MB at 100%) has no memcg "
                       "term; STE RFC v2 quotes ~512 B per cluster for it"),
        Structure(name="zswap_tree", kind=Kind.XARRAY, bytes=sizes.XA_SLOT_BYTES,
                  span=SWAP_ADDRESS_SPACE_PAGES, backends=ZSWAP_ONLY,
                  source="mm/zswap.c zswap_trees[type][] (unchanged by P4); no published "
                         "zswap figure"),
        _ZSWAP_ENTRY,
    ))

SWAP_TABLE_P4_V5 = Layout(
    name="swap-table-p4-v5", title="swap table phase IV as merged (mainline)",
    source="swap table P4 v5 (lore 20260517-swap-table-p4-v5-0-88ae43e064c7@tencent.com): "
           "\"48 bytes ci info per cluster\", about 0.09 B static per slot; linux-mm/linux-mm "
           "mm/swap_table.h @0822e81d0463 (struct swap_memcg_table: unsigned short per slot); "
           + _KAIRUI + ": 8 B fully dynamic per slot",
    structures=(
        _cluster_info(sizes.SWAP_CLUSTER_INFO_BYTES_P4_V5, counted=True,
                      source="mm/swap.h struct swap_cluster_info (P4 v5): lock 4, "
                             "count/flags/order 4, table 8, memcg_table 8, extend_table 8, "
                             "list 16 = 48 B"),
        _swap_table(),
        Structure(name="memcg_table", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER, counted=False,
                  source="mm/swap_table.h struct swap_memcg_table: unsigned short "
                         "id[SWAPFILE_CLUSTER], allocated with the cluster's swap table",
                  note="Kairui's P4 figure (8 B fully dynamic) has no memcg term"),
        _ZSWAP_ENTRY,
    ))

_STE = "[PATCH v5 00/11] Virtual Swap Space (Swap Table Edition) (lore " \
       "20260918180241.3424851-1-nphamcs@gmail.com); linux-mm/linux-mm mm/vswap.h @0822e81d0463"

VSWAP_STE = Layout(
    name="vswap-ste", title="virtual swap space, Swap Table Edition (on swap table phase IV)",
    source=_STE + "; 8 B virtual table per virtual slot on top of phase IV's 8 B swap table",
    structures=(
        Structure(name="vswap_virtual_table", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.SWAP_TABLE_BYTES_PER_CLUSTER, space="virtual",
                  source="mm/vswap.h ci_dyn->virtual_table: kcalloc(SWAPFILE_CLUSTER, "
                         "sizeof(atomic_long_t)) per vswap cluster: 8 B per virtual slot"),
        Structure(name="vswap_swap_table", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.SWAP_TABLE_BYTES_PER_CLUSTER, space="virtual",
                  source="mm/swap_table.h: the vswap device's clusters have the phase IV "
                         "swap table (counts, zero flag, cached folio or shadow)"),
        Structure(name="vswap_memcg_table", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.MEMCG_TABLE_BYTES_PER_SLOT * SWAPFILE_CLUSTER, space="virtual",
                  counted=False,
                  source="mm/swap_table.h struct swap_memcg_table of each vswap cluster",
                  note="the memcg term, left out as in the phase IV figures"),
        Structure(name="vswap_cluster_info", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.SWAP_CLUSTER_INFO_BYTES_P4_V5 + 8, space="virtual",
                  counted=False,
                  source="struct swap_cluster_info_dynamic: the 48-byte header and the "
                         "virtual_table pointer (assumed layout)",
                  note="allocated on demand per vswap cluster; no published figure"),
        _cluster_info(sizes.SWAP_CLUSTER_INFO_BYTES_P4_V5, counted=True, backends=DISK_ONLY,
                      source="mm/swap.h struct swap_cluster_info of the physical device "
                             "(P4 v5: 48 B)"),
        Structure(name="swap_table", kind=Kind.PER_USED_CLUSTER,
                  bytes=sizes.SWAP_TABLE_BYTES_PER_CLUSTER, backends=DISK_ONLY,
                  source="mm/swap_table.h: the physical cluster's swap table holds the "
                         "reverse map (pointer words) of the slots backing vswap slots"),
        _ZSWAP_ENTRY,
    ), virtual_first=1)

#: Every layout by name, in the order the calculator prints them.
LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (CLASSIC, VSWAP_RFC_V2, V6_19, VSWAP_V6, SWAP_TABLE_P1,
                   SWAP_TABLE_P2, SWAP_TABLE_P3, SWAP_TABLE_P4, SWAP_TABLE_P4_V5,
                   VSWAP_STE)
}
