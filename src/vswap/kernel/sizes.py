"""Sizes of the kernel's swap metadata structures (x86-64, no debug options).

One declaration per structure, with its source. The running designs use these to report the
bytes the kernel would spend on their live state (``metadata_bytes()``), and the metadata
calculator (``vswap metadata``) uses the same numbers for its tables, so the two never drift.

Sources: pahole-style layouts of v6.14 structures (include/linux/swap.h, mm/swap_cgroup.c,
mm/zswap.c, lib/xarray.c) and of the seed (``struct swp_desc``, 48 bytes, RFC v2 cover letter).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np

from vswap.kernel.types import PAGE_SIZE

#: ``si->swap_map``: one byte per slot (vzalloc'ed at swapon).
SWAP_MAP_BYTES_PER_SLOT: Final = 1
#: ``swap_cgroup``: one ``unsigned short`` memcg id per slot (mm/swap_cgroup.c).
SWAP_CGROUP_BYTES_PER_SLOT: Final = 2
#: ``si->zeromap``: one bit per slot, allocated in whole ``unsigned long`` words.
ZEROMAP_BITS_PER_SLOT: Final = 1
#: ``struct swap_cluster_info``: spinlock (4) + count:16 + flags:8 + order:8 (4) + list_head (16).
SWAP_CLUSTER_INFO_BYTES: Final = 24
#: ``struct percpu_cluster``: ``unsigned int next[SWAP_NR_ORDERS]`` (10 x 4), per CPU per device.
PERCPU_CLUSTER_BYTES: Final = 40
#: A swap count continuation page (``add_swap_count_continuation``): one whole page.
SWAP_CONT_PAGE_BYTES: Final = PAGE_SIZE
#: ``struct address_space`` (one per 64 MiB of a classic device, include/linux/fs.h).
ADDRESS_SPACE_BYTES: Final = 200
#: ``struct xa_node``: 64 slots of 8 bytes plus header (lib/xarray.c, XA_CHUNK_SHIFT = 6).
XA_NODE_BYTES: Final = 576
XA_CHUNK_SHIFT: Final = 6
#: ``struct zswap_entry`` (v6.14): swpentry 8, length 4, referenced 1 (+3), pool 8, handle 8,
#: objcg 8, lru list_head 16.
ZSWAP_ENTRY_BYTES: Final = 56
#: ``struct swp_desc`` of the seed (RFC v2): union{slot, folio, zswap_entry} 8, rcu_head 16,
#: rwlock 8, type 4, memcgid 4, swap_refs 4, padded to 48 (cover letter: "48 bytes").
SWP_DESC_BYTES_RFC_V2: Final = 48


def bitmap_bytes(nbits: int) -> int:
    """Bytes of a kernel bitmap of ``nbits`` bits (``BITS_TO_LONGS(n) * sizeof(long)``)."""
    return ((nbits + 63) // 64) * 8


def xarray_node_count(indices: Iterable[int]) -> int:
    """XArray nodes needed to hold entries at ``indices`` (lib/xarray.c layout).

    Each node holds 64 slots; a leaf node covers 64 consecutive indices, and each level above
    covers 64 times more. An array holding only index 0 needs no node (the entry sits in the
    head). Counting distinct prefixes at every level gives the nodes of the tree.
    """
    idx = sorted(set(indices))
    if not idx or idx == [0]:
        return 0
    top = idx[-1]
    levels = 1
    while top >> (XA_CHUNK_SHIFT * levels):
        levels += 1
    nodes = 0
    for level in range(1, levels + 1):
        shift = XA_CHUNK_SHIFT * level
        nodes += len({i >> shift for i in idx})
    return nodes


def xarray_nodes_of(indices: np.ndarray, *, owned: bool = False) -> int:
    """:func:`xarray_node_count` on an array of indices (duplicates allowed), without a
    Python int per index (the count a metadata snapshot takes at a run's peak, over every
    swapped entry).

    ``owned``: ``indices`` is an int64 temporary the caller hands over; it is sorted and
    shifted in place, so the count costs one byte per index beyond it, not a sorted copy
    and a prefix array (16 more bytes per entry at the snapshot, the model's peak).
    """
    # Sorted, the distinct prefixes of a level are the changes between neighbours (no
    # np.unique: it imports numpy.ma, 200 KiB, on first use); duplicates change nothing.
    if owned and indices.dtype == np.int64:
        idx = indices
        idx.sort()
    else:
        idx = np.sort(indices.astype(np.int64, copy=False))
    # All indices 0 (or none): the entry sits in the head, no node.
    if not idx.size or idx[-1] == 0:
        return 0
    top = int(idx[-1])
    levels = 1
    while top >> (XA_CHUNK_SHIFT * levels):
        levels += 1
    nodes = 0
    for _ in range(levels):
        np.right_shift(idx, XA_CHUNK_SHIFT, out=idx)
        nodes += 1 + int(np.count_nonzero(idx[1:] != idx[:-1]))
    return nodes


def xarray_bytes(indices: Iterable[int]) -> int:
    """Bytes of XArray nodes for entries at ``indices``."""
    return xarray_node_count(indices) * XA_NODE_BYTES


# --- Later generations (6.19 swap table, swap table phases II-IV, vswap v3/v6) -------------
# Appended for the metadata calculator (``vswap metadata``, docs/metadata.md). Each size is
# either a pahole-style sum of the fields the cited source names, or, where no source gives a
# layout, the size the published tables imply; the comment says which.

#: One pointer-sized slot of an ``xa_node`` (lib/xarray.c). The v6 cover letter and Kairui
#: Song's reply both count an XArray or swap table at 8 bytes per entry, without node headers.
XA_SLOT_BYTES: Final = 8
#: ``struct xarray``: spinlock 4 + gfp_t 4 + xa_head 8 (include/linux/xarray.h); v6.14 keeps one
#: zswap tree per 64 MiB of a device (``zswap_trees[type][]``, mm/zswap.c).
XARRAY_BYTES: Final = 16
#: Swap table entry: one ``atomic_long_t`` per slot holding a folio, a shadow or (P3+) a count
#: (mm/swap_table.h, Documentation/mm/swap-table.rst, 6.18+).
SWAP_TABLE_ENTRY_BYTES: Final = 8
#: Swap table of one cluster: ``SWAPFILE_CLUSTER`` entries, one page, allocated while the
#: cluster is in use ("mm, swap: implement dynamic allocation of swap table", P1 patch 14).
SWAP_TABLE_BYTES_PER_CLUSTER: Final = SWAP_TABLE_ENTRY_BYTES * 512
#: ``struct swap_cluster_info`` from 6.18 (swap table P1) to P4 RFC: spinlock 4 +
#: count:16/flags:8/order:8 4 + ``table`` pointer 8 + list_head 16. Kairui Song's per-phase
#: figures (reply to vswap v3, 2026-02-11) count 16,384 of these as 0.50 MB, i.e. 32 bytes.
SWAP_CLUSTER_INFO_BYTES_ST: Final = 32
#: ``struct swap_cluster_info`` as swap table P4 v5 describes it ("48 bytes ci info per
#: cluster", cover letter 2026-05-17). Not used by the published per-phase figures.
SWAP_CLUSTER_INFO_BYTES_P4_V5: Final = 48
#: P4 per-cluster memcg id table: the model's assumption of one ``unsigned short`` per slot, the
#: width of the ``swap_cgroup`` record it replaces. Kairui's "8 B fully dynamic" leaves it out.
MEMCG_TABLE_BYTES_PER_SLOT: Final = 2
#: vswap v3/v6 ``struct swp_desc`` (pahole in the v6 cover letter, 24 bytes): union{slot,
#: zswap_entry} 8 + union{swap_cache, shadow} 8 + swap_count 4 + memcgid:16/in_swapcache:1/type:2 4.
SWP_DESC_BYTES_V6: Final = 24
#: vswap v3/v6 per-virtual-cluster allocation bitmap (``DECLARE_BITMAP(bitmap, 512)`` in
#: ``struct vswap_cluster``, mm/vswap.c as posted): 64 bytes. The v6 cover letter's table has
#: exactly 1 MiB more than 24 B x 8,388,608 at 100%, growing linearly with usage: 64 bytes per
#: used 512-slot cluster (16,384 clusters), i.e. this bitmap.
VSWAP_CLUSTER_BYTES_V6: Final = 64
#: The rest of ``struct vswap_cluster`` in v6 (the descriptor array moved out of it): lock 4
#: (+4 padding), union{rcu_head, list_head} 16, id 8, count/order/cached/full bitfields 4,
#: refcnt 4, descriptors pointer 8. A pahole-style sum of the posted fields.
VSWAP_CLUSTER_HEADER_BYTES_V6: Final = 48
#: vswap v3/v6 physical device: ``swap_map`` replaced by two bitmaps (allocated, bad), one bit
#: per slot each (v3 changelog).
VSWAP_ALLOCATED_BITS_PER_SLOT: Final = 1
VSWAP_BAD_BITS_PER_SLOT: Final = 1

