"""Swap table phase I: the swap design of Linux 6.18 (this host's kernel).

Models: Kairui Song's "mm, swap: introduce swap table as swap cache (phase I)" (v4, lore
``20250916160100.31545-1-ryncsn@gmail.com``, merged in 6.18): torvalds/linux
mm/swap_table.h @07adc4cf1ecd, mm/swapfile.c and mm/swap_state.c of 6.18. What changes from
v6.14 (:class:`~vswap.swap.classic.ClassicSwap`, which this design reuses for the rest):

* the swap cache is the per-cluster swap table (:class:`~vswap.swap.swap_table.SwapTableCache`):
  8-byte entries (folio, shadow or NULL), lookups lockless, updates under the *cluster* lock,
  the same lock instance as the swap count updates of those slots; no XArray, no
  ``address_space`` per 64 MiB (``swapper_spaces`` is gone);
* tables are allocated when a cluster gets its first allocated slot and freed when its last
  one is freed ("mm, swap: implement dynamic allocation of swap table", patch 14);
* zswap stores a page that does not compress as-is (6.18's zswap; commit dca4437a5861);
* swapoff's swap-cache lookups leave readahead alone: the lookup no longer takes the VMA
  ("mm, swap: tidy up swap device and cache lookup"), only ``do_swap_page`` calls
  ``swap_update_readahead``, so swapoff reads ahead about one page in three where v6.14
  reads whole windows.

Unchanged from v6.14 and inherited: ``swap_map`` (a byte per slot with ``SWAP_HAS_CACHE`` and
count continuation pages), ``swap_cgroup`` (2 bytes per slot), the ``zeromap`` bitmap, the
zswap trees (one XArray per 64 MiB), the ``SWP_SYNCHRONOUS_IO`` swap-cache bypass, swapoff by
page-table walk.

Invariants (:meth:`SwapTableP1.check_invariants`), beyond the classic ones and the table's: a
cluster has a table exactly when it has an allocated slot (``table_users`` > 0), and
``table_users`` counts the allocated (not bad) slots of each cluster.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING

from vswap.kernel import sizes
from vswap.kernel.env import KernelEnv
from vswap.kernel.folio import Folio
from vswap.kernel.types import SWAPFILE_CLUSTER, SwpEntry, swp_offset, swp_type
from vswap.swap._api import SwapHooks, SwapoffResult
from vswap.swap.classic import ClassicSwap
from vswap.swap.swap_table import SwapTableCache
from vswap.swap.swapfile import SWAP_HAS_CACHE, SlotOwner, SwapInfo

if TYPE_CHECKING:
    from vswap.swap._api import SwapDesign
    from vswap.swap.storage import SwapStorage
    from vswap.zswap.zswap import ZswapHost


class SwapTableP1(ClassicSwap):
    """Linux 6.18: v6.14's swap counts and memcg records, the swap cache in swap tables.

    ``swap_cache`` is a :class:`SwapTableCache`; ``table_users[type][cluster]`` counts the
    allocated slots of each cluster, which decide when its table exists.
    """

    name = "swap-table-p1"
    metadata_layout = "swap-table-p1"
    zswap_stores_incompressible = True
    unuse_updates_readahead = False

    def swap_shmem_alloc(self, entry: SwpEntry, nr: int) -> None:
        """Models: ``swap_duplicate_nr()`` in ``shmem_writeout`` (6.18: the ``SWAP_MAP_SHMEM``
        marker of v6.14 is gone, a shmem mapping holds an ordinary count)."""
        for i in range(nr):
            self.swap_duplicate(SwpEntry(entry + i))

    def __init__(self, *, nr_cpus: int = 1, env: KernelEnv | None = None,
                 hooks: SwapHooks | None = None, default_prio: str = "decreasing") -> None:
        env = env if env is not None else KernelEnv()
        super().__init__(nr_cpus=nr_cpus, env=env, hooks=hooks, default_prio=default_prio)
        # The v6.14 XArray cache the classic constructor built is replaced, before any use,
        # by the swap table; the cache's folio reference still goes to the hooks.
        cache = SwapTableCache(env=env)
        cache.folio_deleted = self.swap_cache.folio_deleted
        self.swap_cache = cache
        self.table_users: dict[int, array[int]] = {}

    @property
    def tables(self) -> SwapTableCache:
        """The swap cache, typed as the swap table it is."""
        cache = self.swap_cache
        assert isinstance(cache, SwapTableCache)
        return cache

    def swapon(self, storage: SwapStorage, *, prio: int | None = None,
               blkdev: bool | None = None, solidstate: bool = True) -> SwapInfo:
        """Models: ``sys_swapon()`` (6.18): the v6.14 per-slot tables, cluster headers with
        an empty table pointer (no table until a cluster is used)."""
        si = super().swapon(storage, prio=prio, blkdev=blkdev, solidstate=solidstate)
        self.table_users[si.type] = array("H", bytes(2 * si.nr_clusters))
        return si

    def swapoff(self, name_or_type: str | int, *,
                signal_pending: Callable[[], bool] | None = None) -> SwapoffResult:
        """Models: ``sys_swapoff()`` (6.18): as v6.14; every cluster is free at the end, so
        every table of the device was freed with its last slot."""
        result = super().swapoff(name_or_type, signal_pending=signal_pending)
        if result.completed:
            users = self.table_users.pop(result.type)
            assert not any(users), "swapoff completed with used clusters"
        return result

    # -- dynamic tables ------------------------------------------------------------------------
    def _clusters_used(self, si: SwapInfo, offset: int, nr: int) -> None:
        """Models: ``swap_cluster_alloc_table()`` on the allocation path: a cluster taking its
        first slot gets its table."""
        users = self.table_users[si.type]
        c = offset // SWAPFILE_CLUSTER
        if not users[c]:
            self.tables.alloc_table(si.type, c)
        users[c] += nr

    def hibernation_slot_taken(self, si: SwapInfo, offset: int) -> None:
        """Models: ``get_swap_page_of_type()`` (6.18): a cluster taking its first slot gets
        its table (``swap_cluster_populate``), as for any allocation."""
        self._clusters_used(si, offset, 1)

    def folio_alloc_swap(self, folio: Folio) -> SwpEntry:
        """Models: ``folio_alloc_swap()`` (6.18): slots as ``SWAP_HAS_CACHE`` from a cluster
        that has (or now gets) its table, then the memcg charge (``swap_cgroup``)."""
        slot = self.devices.swap_slot_alloc(folio.order, SWAP_HAS_CACHE, folio.memcg_id)
        entry = SwpEntry(slot)
        if entry:
            si = self.devices.swap_type_to_swap_info(swp_type(entry))
            assert si is not None
            self._clusters_used(si, swp_offset(entry), folio.nr_pages)
        if not self.mem_cgroup_try_charge_swap(folio, entry):
            if entry:
                self.put_swap_folio(folio, entry)
            return SwpEntry(0)
        return entry

    def _swap_entry_range_free(self, si: SwapInfo, offset: int, nr: int) -> None:
        """Models: ``swap_entries_free()`` (6.18): as v6.14 (memcg, zeromap, zswap, the
        shadows cleared from the table), then ``free_cluster()``'s
        ``swap_cluster_free_table()`` when the cluster has no allocated slot left."""
        super()._swap_entry_range_free(si, offset, nr)
        users = self.table_users[si.type]
        c = offset // SWAPFILE_CLUSTER
        users[c] -= nr
        if not users[c]:
            self.tables.free_table(si.type, c)

    # -- accounting -----------------------------------------------------------------------------
    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel spends on 6.18's swap metadata, by structure (the names of the
        ``swap-table-p1`` layout): per device ``swap_map``, continuation pages,
        ``swap_cgroup``, ``zeromap`` and the 32-byte cluster headers; the swap tables of the
        clusters in use; zswap's entries, its trees (``zswap_tree_xarray``: their nodes
        depend on where the slots sit, which no published figure prices) and zsmalloc's
        slabs. No ``swapper_spaces``: 6.18 has one ``swap_space`` for the whole system."""
        devs = list(self.devices.devices())
        nr_slots = sum(si.max for si in devs)
        out = {
            "swap_map": nr_slots * sizes.SWAP_MAP_BYTES_PER_SLOT,
            "swap_cont_pages": sum(sum(si.cont_pages.values()) for si in devs)
            * sizes.SWAP_CONT_PAGE_BYTES,
            "swap_cgroup": nr_slots * sizes.SWAP_CGROUP_BYTES_PER_SLOT,
            "zeromap": sum(sizes.bitmap_bytes(si.max) for si in devs),
            "swap_cluster_info": sum(si.nr_clusters for si in devs)
            * sizes.SWAP_CLUSTER_INFO_BYTES_ST,
            "swap_table": self.tables.metadata_bytes(),
        }
        if self.zswap is not None:
            z = self.zswap.metadata_bytes()
            out["zswap_tree_xarray"] = z["zswap_tree_xarray"]
            out["zswap_entry"] = z["zswap_entry"]
            out["zswap_zs_handle"] = z["zs_handle"]
            out["zswap_zspage"] = z["zspage"]
        return out

    def check_invariants(self) -> None:
        """The classic invariants, the table's, and: a cluster has a table exactly when it
        has allocated slots, which ``table_users`` counts."""
        super().check_invariants()
        tables = self.tables
        for si in self.devices.devices():
            users = self.table_users[si.type]
            smap = si.swap_map
            for c in range(si.nr_clusters):
                lo, hi = c * SWAPFILE_CLUSTER, min((c + 1) * SWAPFILE_CLUSTER, si.max)
                used = sum(1 for off in range(lo, hi) if smap[off] and smap[off] != si.map_bad)
                assert users[c] == used, f"cluster {si.type}:{c}: {users[c]} users, {used} used"
                assert ((si.type, c) in tables.tables) == bool(used), (
                    f"cluster {si.type}:{c} with {used} used slots "
                    f"{'lacks' if used else 'keeps'} its table")
        assert all(ty in self.table_users for ty, _c in tables.tables), "table of no device"


if TYPE_CHECKING:
    def _implements(d: SwapTableP1) -> tuple[SwapDesign, ZswapHost, SlotOwner]:
        """Static check (mypy): the class satisfies the swap API, zswap's host protocol and
        the devices' owner protocol."""
        return d, d, d
