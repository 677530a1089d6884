"""Sizes of the kernel's swap metadata structures (x86-64, no debug options).

One declaration per structure, with its source. The running designs use these to report the
bytes the kernel would spend on their live state (``metadata_bytes()``), and the metadata
calculator (``vswap metadata``) uses the same numbers for its tables, so the two never drift.

Sources: pahole-style layouts of v6.14 structures (include/linux/swap.h, mm/swap_cgroup.c,
mm/zswap.c, lib/xarray.c) and of the seed (``struct swp_desc``, 48 bytes, RFC v2 cover letter).
"""

from __future__ import annotations

from collections.abc import Iterable

from vswap.swap.types import PAGE_SIZE

#: ``si->swap_map``: one byte per slot (vzalloc'ed at swapon).
SWAP_MAP_BYTES_PER_SLOT = 1
#: ``swap_cgroup``: one ``unsigned short`` memcg id per slot (mm/swap_cgroup.c).
SWAP_CGROUP_BYTES_PER_SLOT = 2
#: ``si->zeromap``: one bit per slot, allocated in whole ``unsigned long`` words.
ZEROMAP_BITS_PER_SLOT = 1
#: ``struct swap_cluster_info``: spinlock (4) + count:16 + flags:8 + order:8 (4) + list_head (16).
SWAP_CLUSTER_INFO_BYTES = 24
#: ``struct percpu_cluster``: ``unsigned int next[SWAP_NR_ORDERS]`` (10 x 4), per CPU per device.
PERCPU_CLUSTER_BYTES = 40
#: A swap count continuation page (``add_swap_count_continuation``): one whole page.
SWAP_CONT_PAGE_BYTES = PAGE_SIZE
#: ``struct address_space`` (one per 64 MiB of a classic device, include/linux/fs.h).
ADDRESS_SPACE_BYTES = 200
#: ``struct xa_node``: 64 slots of 8 bytes plus header (lib/xarray.c, XA_CHUNK_SHIFT = 6).
XA_NODE_BYTES = 576
XA_CHUNK_SHIFT = 6
#: ``struct zswap_entry`` (v6.14): swpentry 8, length 4, referenced 1 (+3), pool 8, handle 8,
#: objcg 8, lru list_head 16.
ZSWAP_ENTRY_BYTES = 56
#: ``struct swp_desc`` of the seed (RFC v2): union{slot, folio, zswap_entry} 8, rcu_head 16,
#: rwlock 8, type 4, memcgid 4, swap_refs 4, padded to 48 (cover letter: "48 bytes").
SWP_DESC_BYTES_RFC_V2 = 48


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


def xarray_bytes(indices: Iterable[int]) -> int:
    """Bytes of XArray nodes for entries at ``indices``."""
    return xarray_node_count(indices) * XA_NODE_BYTES
