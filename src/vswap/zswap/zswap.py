"""zswap: a compressed cache for swap pages, shared by every swap design.

Models: mm/zswap.c at v6.14, plus v6.18's handling of incompressible pages for the designs
of later kernels (``store_incompressible``; commit dca4437a5861 "mm/zswap: store <PAGE_SIZE
compression failed page as-is": such pages are stored raw unless ``memory.zswap.writeback`` is
0, counted in ``stored_incompressible_pages`` and, per memcg, in ``zswap_incomp``; v6.14
rejects them, ``reject_compress_poor``), and the hooks the virtual swap space adds
([RFC PATCH v2 12/18] and 13/18: ``vswap_assoc_zswap``, ``vswap_store_folio``,
``vswap_alloc_swap_slot`` at writeback, no shrinking without free physical swap).

The module keeps mm/zswap.c's section order: statistics, tunables, data structures, helpers,
LRU, entry functions, compressed storage, writeback, shrinker, main API.

Design notes (why the model looks like this):

* zswap owns its trees. A tree is a plain ``dict`` index -> entry id, and the swap design says
  which tree and which index an entry goes to through :class:`ZswapHost`. Classic: one tree per
  64 MiB of a device, keyed ``(type, offset >> 14)``, indexed by offset; the virtual design: one
  tree for the whole space, indexed by the virtual slot. Each tree is its own lock identity for
  the contention model (:meth:`Zswap.tree_keys`).
* A ``struct zswap_entry`` is a row of compact columns (``array``), not a Python object: swap
  entry, compressed length, zsmalloc handle, pool, memcg id, referenced bit, tree and a CRC32
  of the page (the model's own integrity check; the kernel keeps none).
* The compressed bytes live inside the zsmalloc pool's zspages (:mod:`vswap.zswap.zsmalloc`),
  so ``pool_total_size`` is the kernel's number, fragmentation included.
* The per-memcg zswap LRU (``list_lru``, one node) is an insertion-ordered dict per memcg:
  the first key is the LRU head (oldest), rotation is delete + re-insert.
* The global shrink worker is queued, not run: a store that fails while the pool is full sets
  :attr:`Zswap.shrink_work_pending` (``queue_work``); the owner runs :meth:`Zswap.shrink_worker`
  when its clock says the work item would run.
* One deliberate deviation: ``zswap_load`` and writeback decompress *before* erasing the tree
  entry, so a decompression failure (``-EIO``) leaves the entry in place, as current kernels
  do; v6.14 erased first and then hit ``BUG_ON``.
"""

from __future__ import annotations

import dataclasses
import enum
import warnings
import zlib
from array import array
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from vswap.errors import ConfigError
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MemCgroup, MemCgroupTree
from vswap.kernel.sizes import ZSWAP_ENTRY_BYTES, xarray_bytes
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import (
    PAGE_SHIFT,
    PAGE_SIZE,
    SWAP_ADDRESS_SPACE_PAGES,
    SWAP_ADDRESS_SPACE_SHIFT,
    SWP_OFFSET_MASK,
    SWP_TYPE_SHIFT,
    SwpEntry,
    swp_offset,
    swp_type,
)
from vswap.kernel.vmstat import VmStat
from vswap.zswap.compressors import (
    CONFIG_ZSWAP_COMPRESSOR_DEFAULT,
    Compressor,
    DecompressError,
    get_compressor,
)
from vswap.zswap.zsmalloc import ZsPool

__all__ = [
    "MAX_RECLAIM_RETRIES",
    "SHRINK_STOP",
    "Zswap",
    "ZswapEntryInfo",
    "ZswapHost",
    "ZswapParams",
    "ZswapStats",
    "classic_zswap_tree_index",
    "classic_zswap_tree_key",
]

# =========================================================================================
# statistics
# =========================================================================================

#: The debugfs counters (/sys/kernel/debug/zswap/), in the kernel's order, with their meaning.
ZSWAP_DEBUGFS: dict[str, str] = {
    "stored_pages": "pages currently stored in zswap",
    "pool_total_size": "bytes of the compressed pool (zs_get_total_pages * PAGE_SIZE)",
    "written_back_pages": "pages written back to a swap device by the shrinkers",
    "pool_limit_hit": "stores that found the pool at max_pool_percent",
    "reject_compress_poor": "stores rejected: compressed size >= PAGE_SIZE, writeback off",
    "reject_compress_fail": "stores rejected: the compressor failed, writeback off",
    "reject_alloc_fail": "stores rejected: zsmalloc could not allocate",
    "reject_kmemcache_fail": "stores rejected: no memory for the zswap_entry (never here)",
    "reject_reclaim_fail": "writeback attempts by a shrinker that failed",
    "stored_incompressible_pages": "pages stored as-is because they did not compress",
    "decompress_fail": "loads or writebacks whose decompression failed (-EIO)",
}


@dataclass(frozen=True, slots=True)
class ZswapStats:
    """A frozen snapshot of the debugfs counters (see ``ZSWAP_DEBUGFS``)."""

    stored_pages: int
    pool_total_size: int
    written_back_pages: int
    pool_limit_hit: int
    reject_compress_poor: int
    reject_compress_fail: int
    reject_alloc_fail: int
    reject_kmemcache_fail: int
    reject_reclaim_fail: int
    stored_incompressible_pages: int
    decompress_fail: int

    def as_dict(self) -> dict[str, int]:
        """The counters by their debugfs file names."""
        return dataclasses.asdict(self)


# =========================================================================================
# tunables
# =========================================================================================


@dataclass(frozen=True, slots=True, kw_only=True)
class ZswapParams:
    """The zswap module parameters (/sys/module/zswap/parameters/), kernel names.

    Source: mm/zswap.c v6.14 and mm/Kconfig.

    * ``enabled`` (``CONFIG_ZSWAP_DEFAULT_ON``; the Kconfig default is off, the model's
      default is on because a zswap model with zswap off only ever says "disabled").
    * ``compressor`` (``CONFIG_ZSWAP_COMPRESSOR_DEFAULT`` = ``lzo``).
    * ``max_pool_percent`` = 20: the pool may use this share of total RAM.
    * ``accept_threshold_percent`` = 90: after the pool was full, stores resume only below
      this share of the maximum.
    * ``shrinker_enabled`` (``CONFIG_ZSWAP_SHRINKER_DEFAULT_ON``, default off).

    Raises:
        ConfigError: a percentage outside 0..100 or a compressor that is not available,
            naming the parameter.
    """

    enabled: bool = True
    compressor: str = CONFIG_ZSWAP_COMPRESSOR_DEFAULT
    max_pool_percent: int = 20
    accept_threshold_percent: int = 90
    shrinker_enabled: bool = False

    def __post_init__(self) -> None:
        for name in ("max_pool_percent", "accept_threshold_percent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise ConfigError(f"zswap.{name}: {value!r} is not a percentage in 0..100")
        for name in ("enabled", "shrinker_enabled"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"zswap.{name}: {getattr(self, name)!r} is not a boolean")
        get_compressor(self.compressor)  # raises ConfigError naming the compressor


# =========================================================================================
# data structures
# =========================================================================================

#: ``MAX_RECLAIM_RETRIES`` (mm/internal.h): the shrink worker's failure budget.
MAX_RECLAIM_RETRIES = 16
#: ``SHRINK_STOP`` (include/linux/shrinker.h, ~0UL): "stop scanning this shrinker".
SHRINK_STOP = -1


class LruStatus(enum.IntEnum):
    """What the LRU walk callback did with one item (``enum lru_status``).

    ROTATE: referenced, given a second chance; REMOVED_RETRY: written back (freed);
    RETRY: the writeback failed, the item stays (rotated); STOP: stop the walk (a folio raced
    into the swap cache while the dynamic shrinker runs).
    """

    REMOVED_RETRY = 1
    ROTATE = 2
    RETRY = 3
    STOP = 5


@runtime_checkable
class ZswapHost(Protocol):
    """What a swap design provides to zswap: tree placement, backend hooks and writeback.

    zswap calls these with the folio lock held where the kernel holds it. The classic design
    implements the four hooks marked *vswap-only* as no-ops.
    """

    def zswap_tree_key(self, entry: SwpEntry) -> Hashable:
        """Which tree (and tree lock) holds ``entry``.

        Classic: ``(swp_type(entry), swp_offset(entry) >> SWAP_ADDRESS_SPACE_SHIFT)``, one
        tree per 64 MiB per device (``swap_zswap_tree``; :func:`classic_zswap_tree_key`).
        Virtual: one constant key for the global tree (or a partition id when partitioned).
        """

    def zswap_tree_index(self, entry: SwpEntry) -> int:
        """The index of ``entry`` inside its tree.

        Classic: ``swp_offset(entry)``. Virtual: ``entry`` itself (``zswap_tree_index``).
        """

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        """*vswap-only.* Page ``entry`` is now in zswap as entry id ``zentry``.

        Models ``vswap_assoc_zswap()``: release the descriptor's previous backing and make it
        ``ZSWAP(zentry)``. Called with the folio locked, after the tree insert, per page.
        Classic: no-op.
        """

    def zswap_store_undone(self, folio: Folio) -> None:
        """*vswap-only.* ``zswap_store(folio)`` failed; its tree entries are already erased.

        Models ``vswap_store_folio(folio->swap, folio)``: every descriptor of the folio goes
        back to ``FOLIO(folio)`` (some may be ZSWAP after a partial large-folio store; their
        ``zswap_invalidate`` finds nothing). Called on every failed store, also when zswap is
        disabled. Classic: no-op.
        """

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        """*vswap-only.* ``zswap_load`` erased the entry: the swap-cache folio is the only copy.

        Models the ``vswap_store_folio()`` call of patch 12 in ``zswap_load``: the descriptor
        becomes ``FOLIO(folio)``. Called after the tree erase, before the entry is freed.
        Classic: no-op.
        """

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        """Give writeback a new locked order-0 folio in the swap cache for ``entry``.

        Models ``__read_swap_cache_async(entry, ..., skip_if_exists=true)``: allocate a folio,
        pin the entry (``swapcache_prepare``) and add the folio to the swap cache, locked, with
        ``folio.swap = entry``. Returns ``Errno.EEXIST`` if the entry already has a folio in the
        swap cache (raced with a swap-in or another shrinker: nothing changes) and
        ``Errno.ENOMEM`` if the entry is dead, or no folio can be allocated.

        Virtual design: after the folio is in the swap cache, also allocate the physical slot
        (``vswap_alloc_swap_slot``, descriptor ZSWAP -> SWAPFILE, memory.swap charged). If
        that fails, delete the folio from the swap cache, unlock it and return
        ``Errno.ENOMEM`` (the descriptor stays ZSWAP).
        """

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        """Undo :meth:`zswap_writeback_prepare`: the tree no longer holds the expected entry.

        ``zentry`` is the entry id the tree now holds at that index (0: none). Classic:
        ``delete_from_swap_cache(folio)`` and unlock. Virtual: also the ``fail`` path of patch
        12 (``vswap_assoc_zswap(entry, zentry)``: free the just-allocated slot, uncharge),
        taken only if the descriptor is still the one writeback converted (spec section 16.3).
        """

    def zswap_writeback_submit(self, folio: Folio) -> None:
        """Write the decompressed, uptodate folio to its slot.

        Models ``folio_set_reclaim`` + ``__swap_writepage()`` + ``folio_put``: classic writes
        to ``folio.swap``'s own (pre-reserved) slot, virtual to the slot allocated in prepare.
        The folio stays clean in the swap cache for reclaim to free; the host unlocks it when
        the write completes (``end_swap_bio_write``). zswap has already freed its entry.
        """

    def zswap_writeback_possible(self, memcg: MemCgroup | None) -> bool:
        """May the memory-pressure shrinker write back at all (``zswap_shrinker_count``)?

        Classic: always True. Virtual (patch 13): ``get_nr_swap_pages() > 0``, because no slot
        is reserved for a zswap entry and writeback without free physical swap can only fail.
        """


def classic_zswap_tree_key(entry: SwpEntry) -> tuple[int, int]:
    """The classic design's tree key: ``(type, offset >> SWAP_ADDRESS_SPACE_SHIFT)``."""
    return (entry >> SWP_TYPE_SHIFT, (entry & SWP_OFFSET_MASK) >> SWAP_ADDRESS_SPACE_SHIFT)


def classic_zswap_tree_index(entry: SwpEntry) -> int:
    """The classic design's tree index: the device offset."""
    return entry & SWP_OFFSET_MASK


@dataclass(frozen=True, slots=True)
class ZswapEntryInfo:
    """A read-only view of one stored entry (``struct zswap_entry``), for tests and reports."""

    id: int
    swpentry: int
    length: int
    handle: int
    memcg_id: int
    referenced: bool
    compressor: str
    tree_key: Hashable
    index: int


# =========================================================================================
# the zswap instance
# =========================================================================================


class Zswap:
    """zswap for one machine: pools, trees, per-memcg LRUs, limits, shrinkers and counters.

    Args:
        host: the swap design (:class:`ZswapHost`).
        total_ram_pages: ``totalram_pages()``, the base of ``max_pool_percent``.
        params: the module parameters.
        env: the machine's :class:`~vswap.kernel.env.KernelEnv` (cgroups, /proc/vmstat
            counters, tracer, fault injector); a private one if None.
        memcg_disabled: model ``mem_cgroup_disabled()`` (no per-cgroup charges, LRUs or
            limits; the env's cgroups are ignored).
        check_crc: keep a CRC32 per entry and verify every decompressed page (the model's
            own guard against returning wrong bytes; the kernel has none).
        pool_max_pages: page budget of the zsmalloc pool (``alloc_page`` failing past it).
    """

    def __init__(self, host: ZswapHost, *, total_ram_pages: int,
                 params: ZswapParams | None = None, env: KernelEnv | None = None,
                 memcg_disabled: bool = False, check_crc: bool = True,
                 pool_max_pages: int | None = None, store_incompressible: bool = True
                 ) -> None:
        if total_ram_pages <= 0:
            raise ConfigError(f"zswap: total_ram_pages must be positive, got {total_ram_pages}")
        self.host = host
        self.env = env if env is not None else KernelEnv()
        self.total_ram_pages = total_ram_pages
        self._params = params if params is not None else ZswapParams()
        memcgs: MemCgroupTree | None = None if memcg_disabled else self.env.memcgs
        self.memcgs = memcgs
        self.vmstat: VmStat = self.env.vmstat
        self.check_crc = check_crc
        self.pool_max_pages = pool_max_pages
        #: v6.18's handling (commit dca4437a5861): a page that does not compress below
        #: PAGE_SIZE is stored as-is; False is v6.14's: it is rejected and goes to the device.
        self.store_incompressible = store_incompressible
        self._root_lru_key = memcgs.root.id if memcgs is not None else 0
        # Pools: [(compressor, zsmalloc pool)]; the last live one is current.
        self._pools: list[tuple[Compressor, ZsPool] | None] = []
        self._pool_nr: list[int] = []
        self._cur_pool = self._new_pool(self._params.compressor)
        self._ever_enabled = self._params.enabled
        self._pool_reached_full = False
        self.shrink_work_pending = False
        self._next_shrink: int | None = None
        self._nr_disk_swapins: dict[int, int] = {}
        # Statistics (debugfs).
        self._stored_pages = 0
        self._stored_incompressible = 0
        self._pool_limit_hit = 0
        self._written_back_pages = 0
        self._reject_reclaim_fail = 0
        self._reject_compress_fail = 0
        self._reject_compress_poor = 0
        self._reject_alloc_fail = 0
        self._decompress_fail = 0
        # Trees: key -> tree id; tree id -> {index: entry id}.
        self._tree_ids: dict[Hashable, int] = {}
        self._tree_keys: list[Hashable] = []
        self._trees: list[dict[int, int]] = []
        self._swapon_types: dict[int, int] = {}
        # zswap_entry columns; id 0 is never used.
        self._e_swp = array("q", [0])
        self._e_len = array("H", [0])
        self._e_handle = array("I", [0])
        self._e_pool = array("B", [0])
        self._e_memcg = array("I", [0])
        self._e_lru = array("I", [0])
        self._e_tree = array("I", [0])
        self._e_crc = array("I", [0])
        self._e_ref = bytearray(1)
        self._e_free: list[int] = []
        # list_lru: memcg id -> {entry id: None} in LRU order (first = head = coldest).
        self._lru: dict[int, dict[int, None]] = {}

    @property
    def tracer(self) -> KernelTracer:
        """The env's kernel-step hooks: tree operations name their tree's lock."""
        return self.env.tracer

    @property
    def faults(self) -> FaultInjector:
        """The env's fault injector (``zswap_compress``, ``zswap_alloc``,
        ``zswap_decompress``)."""
        return self.env.faults

    # -- tunables ------------------------------------------------------------------------
    @property
    def params(self) -> ZswapParams:
        """The current module parameters."""
        return self._params

    def set_param(self, name: str, value: object) -> None:
        """Write one parameter, as ``echo value > /sys/module/zswap/parameters/<name>``.

        Changing ``compressor`` creates a new current pool; entries stay in their old pool
        (which is destroyed when its last entry goes), as ``zswap_compressor_param_set`` does.

        Raises:
            ConfigError: unknown parameter or invalid value (the parameter is named).
        """
        if name not in {f.name for f in dataclasses.fields(ZswapParams)}:
            raise ConfigError(f"zswap: unknown parameter {name!r}")
        change: dict[str, Any] = {name: value}
        new = dataclasses.replace(self._params, **change)
        if name == "compressor" and value != self._params.compressor:
            self._cur_pool = self._new_pool(str(value))
        self._params = new
        if new.enabled:
            self._ever_enabled = True

    def zswap_is_enabled(self) -> bool:
        """Models: ``zswap_is_enabled()``."""
        return self._params.enabled

    def zswap_never_enabled(self) -> bool:
        """Models: ``zswap_never_enabled()``: zswap was never turned on since boot."""
        return not self._ever_enabled

    # -- helpers ---------------------------------------------------------------------------
    def _new_pool(self, name: str) -> int:
        comp = get_compressor(name)
        for i, p in enumerate(self._pools):
            if p is not None and p[0].name == name:
                return i
        self._pools.append((comp, ZsPool(f"zswap{len(self._pools) + 1:x}",
                                         max_pages=self.pool_max_pages)))
        self._pool_nr.append(0)
        return len(self._pools) - 1

    def zswap_max_pages(self) -> int:
        """Models: ``zswap_max_pages()``: ``totalram * max_pool_percent / 100``."""
        return self.total_ram_pages * self._params.max_pool_percent // 100

    def zswap_accept_thr_pages(self) -> int:
        """Models: ``zswap_accept_thr_pages()``."""
        return self.zswap_max_pages() * self._params.accept_threshold_percent // 100

    def zswap_total_pages(self) -> int:
        """Models: ``zswap_total_pages()``: pages of every pool."""
        total = 0
        for p in self._pools:
            if p is not None:
                total += p[1].pages_allocated
        return total

    @property
    def pool_total_size(self) -> int:
        """debugfs ``pool_total_size``: bytes of the compressed pools."""
        return self.zswap_total_pages() << PAGE_SHIFT

    def _check_limits(self) -> bool:
        """Models: ``zswap_check_limits()``: the pool is (still) considered full.

        Hysteresis: once the pool reaches ``max_pool_percent`` every store is refused until it
        drops to ``accept_threshold_percent`` of the maximum.
        """
        cur = 0
        for p in self._pools:
            if p is not None:
                cur += p[1].pages_allocated
        params = self._params
        if cur >= self.total_ram_pages * params.max_pool_percent // 100:
            self._pool_limit_hit += 1
            self._pool_reached_full = True
        elif self._pool_reached_full and cur <= self.zswap_accept_thr_pages():
            self._pool_reached_full = False
        return self._pool_reached_full

    def _tree(self, entry: SwpEntry) -> tuple[int, int]:
        """(tree id, index) of ``entry``; a tree is created on first use."""
        host = self.host
        key = host.zswap_tree_key(entry)
        self.tracer.lock_step("zswap_tree", key, Cost.ZSWAP_TREE_UPDATE)
        tid = self._tree_ids.get(key)
        if tid is None:
            tid = self._add_tree(key)
        return tid, host.zswap_tree_index(entry)

    def _add_tree(self, key: Hashable) -> int:
        tid = len(self._trees)
        self._tree_ids[key] = tid
        self._tree_keys.append(key)
        self._trees.append({})
        return tid

    def _objcg(self, folio: Folio) -> MemCgroup | None:
        """Models: ``get_obj_cgroup_from_folio()``: the folio's cgroup unless it is the root."""
        if self.memcgs is None or not folio.memcg_id:
            return None
        memcg = self.memcgs.mem_cgroup_from_id(folio.memcg_id)
        if memcg is None or memcg.parent is None:
            return None
        return memcg

    def _writeback_enabled(self, memcg_id: int) -> bool:
        """``mem_cgroup_zswap_writeback_enabled(folio_memcg(folio))``."""
        if self.memcgs is None:
            return True
        memcg = self.memcgs.mem_cgroup_from_id(memcg_id) if memcg_id else self.memcgs.root
        return memcg is None or memcg.mem_cgroup_zswap_writeback_enabled()

    # -- lru functions -------------------------------------------------------------------
    def zswap_folio_swapin(self, folio: Folio) -> None:
        """A folio was read from a swap *device*: protect the zswap LRU a bit more.

        Models: ``zswap_folio_swapin()``: ``nr_disk_swapins`` of the folio's lruvec + 1; the
        shrinker's count subtracts (and consumes) it.
        """
        key = folio.memcg_id or self._root_lru_key
        self._nr_disk_swapins[key] = self._nr_disk_swapins.get(key, 0) + 1

    def zswap_memcg_offline_cleanup(self, memcg: MemCgroup) -> None:
        """A cgroup goes offline: move its zswap LRU to the parent, advance the cursor.

        Models: ``zswap_memcg_offline_cleanup()`` and the list_lru reparenting of
        ``memcg_reparent_list_lrus()``. Charges stay where they are (objcg reparenting is
        not modelled).
        """
        if self._next_shrink == memcg.id:
            self._next_shrink = self._mem_cgroup_iter(memcg.id)
        lru = self._lru.pop(memcg.id, None)
        if lru and memcg.parent is not None:
            parent = self._lru.setdefault(memcg.parent.id, {})
            for eid in lru:
                parent[eid] = None
                self._e_lru[eid] = memcg.parent.id

    # -- entry functions -----------------------------------------------------------------
    def _entry_free(self, eid: int) -> None:
        """Models: ``zswap_entry_free()``: off the LRU, object freed, memcg uncharged."""
        del self._lru[self._e_lru[eid]][eid]
        pool_id = self._e_pool[eid]
        pool = self._pools[pool_id]
        assert pool is not None
        pool[1].zs_free(self._e_handle[eid])
        self.tracer.zpool_free()
        self._pool_nr[pool_id] -= 1
        if not self._pool_nr[pool_id] and pool_id != self._cur_pool:
            self._pools[pool_id] = None  # __zswap_pool_empty: the old pool is destroyed
        length = self._e_len[eid]
        memcg_id = self._e_memcg[eid]
        if memcg_id and self.memcgs is not None:
            memcg = self.memcgs.mem_cgroup_from_id(memcg_id)
            if memcg is not None:
                memcg.obj_cgroup_uncharge_zswap(length)
        if length == PAGE_SIZE:
            self._stored_incompressible -= 1
        self._stored_pages -= 1
        self._e_free.append(eid)

    def _erase(self, entry: SwpEntry) -> int:
        """Erase ``entry``'s tree slot; return the entry id that was there (0: none)."""
        tid, index = self._tree(entry)
        return self._trees[tid].pop(index, 0)

    # -- compressed storage --------------------------------------------------------------
    def _decompress(self, eid: int) -> bytes:
        """Models: ``zswap_decompress()``: the page's bytes, or KernelError(EIO).

        Raises:
            KernelError(EIO): the stored bytes do not decompress to exactly one page (or do
                not match the page's CRC); names the swap entry, the compressor and sizes.
        """
        pool = self._pools[self._e_pool[eid]]
        assert pool is not None
        comp, zs = pool
        length = self._e_len[eid]
        src = zs.zs_obj_read(self._e_handle[eid], length)
        self.tracer.decompress(comp.name, PAGE_SIZE)
        faults = self.faults
        try:
            if (faults.rates or faults.schedule) and faults.fail("zswap_decompress"):
                raise DecompressError("injected decompression failure")
            out = bytes(src) if length == PAGE_SIZE else comp.decompress(src)
            if self.check_crc and zlib.crc32(out) != self._e_crc[eid]:
                raise DecompressError("checksum mismatch: bytes decoded but not the page stored")
        except DecompressError as exc:
            self._decompress_fail += 1
            swp = SwpEntry(self._e_swp[eid])
            raise KernelError(
                Errno.EIO,
                f"zswap: decompression error for swap entry {swp:#x} (type {swp_type(swp)}, "
                f"offset {swp_offset(swp)}; {comp.name}, {length} bytes stored): {exc}"
            ) from exc
        return out

    # -- writeback code --------------------------------------------------------------------
    def _writeback_entry(self, eid: int, swpentry: SwpEntry) -> int:
        """Write one zswap entry back to swap; 0 or a negative errno.

        Models: ``zswap_writeback_entry()`` (mm/zswap.c).

        Context: no folio lock held; ``swpentry`` was copied from the entry before the LRU lock
        was dropped, so the entry may have been freed (and its id reused) meanwhile.

        Returns:
            0: written back; the entry is freed, ``zswpwb`` counted, the folio submitted.
            ``-EEXIST``: a folio for the entry is already in the swap cache (nothing changed).
            ``-ENOMEM``: no folio / no physical slot, or the tree no longer holds this entry
            (the host's folio was aborted).
            ``-EIO``: decompression failed; the entry stays, the folio is aborted.
        """
        r = self.host.zswap_writeback_prepare(swpentry)
        if isinstance(r, Errno):
            return -int(r)
        folio = r
        tid, index = self._tree(swpentry)
        tree = self._trees[tid]
        cur = tree.get(index, 0)
        if cur != eid:
            self.host.zswap_writeback_abort(folio, cur)
            return -Errno.ENOMEM
        try:
            data = self._decompress(eid)
        except KernelError:
            self.host.zswap_writeback_abort(folio, eid)
            return -Errno.EIO
        del tree[index]
        folio.data[0:PAGE_SIZE] = data
        self.vmstat.count_vm_event("zswpwb")
        memcg_id = self._e_memcg[eid]
        if memcg_id and self.memcgs is not None:
            memcg = self.memcgs.mem_cgroup_from_id(memcg_id)
            if memcg is not None:
                memcg.count_memcg_events("zswpwb", 1)
        self._entry_free(eid)
        folio.uptodate = True
        self.host.zswap_writeback_submit(folio)
        return 0

    def zswap_writeback_entry(self, entry: SwpEntry) -> int:
        """Write back whatever zswap holds for ``entry`` (tests, tiering policies).

        Returns:
            As :meth:`_writeback_entry`, or ``-ENOENT`` if zswap holds nothing for it. Does
            not count ``written_back_pages`` (only the shrinkers do).
        """
        tid, index = self._tree(entry)
        eid = self._trees[tid].get(index, 0)
        if not eid:
            return -Errno.ENOENT
        return self._writeback_entry(eid, entry)

    # -- shrinker functions --------------------------------------------------------------
    def _shrink_memcg_cb(self, lru: dict[int, None], eid: int, stop_on_eexist: bool
                         ) -> LruStatus:
        """Models: ``shrink_memcg_cb()``: second chance, else write back (rotated first)."""
        if self._e_ref[eid]:
            self._e_ref[eid] = 0
            del lru[eid]
            lru[eid] = None
            return LruStatus.ROTATE
        # Rotate before "dropping the lock": on failure the entry simply stays, rotated; on
        # success (or invalidation) the free path unlinks it.
        del lru[eid]
        lru[eid] = None
        swpentry = SwpEntry(self._e_swp[eid])
        ret = self._writeback_entry(eid, swpentry)
        if ret:
            self._reject_reclaim_fail += 1
            if ret == -Errno.EEXIST and stop_on_eexist:
                return LruStatus.STOP
            return LruStatus.RETRY
        self._written_back_pages += 1
        return LruStatus.REMOVED_RETRY

    def _list_lru_walk_one(self, lru_key: int, nr_to_walk: int, stop_on_eexist: bool = False
                           ) -> tuple[int, int, bool]:
        """Models: ``list_lru_walk_one()``: walk from the head; (isolated, walked, stopped)."""
        lru = self._lru.get(lru_key)
        isolated = walked = 0
        while lru and walked < nr_to_walk:
            eid = next(iter(lru))
            walked += 1
            status = self._shrink_memcg_cb(lru, eid, stop_on_eexist)
            if status is LruStatus.REMOVED_RETRY:
                isolated += 1
            elif status is LruStatus.STOP:
                return isolated, walked, True
        return isolated, walked, False

    def _lru_key(self, memcg: MemCgroup | None) -> int:
        return memcg.id if memcg is not None else self._root_lru_key

    def shrink_memcg(self, memcg: MemCgroup | None) -> int:
        """Try to write back one entry of ``memcg``'s own zswap LRU.

        Models: ``shrink_memcg()`` (v6.14: one item per node, one node here). Used by
        ``zswap_store`` when the cgroup is at ``memory.zswap.max`` and by the shrink worker.

        Returns:
            0 if an entry was written back; ``-EAGAIN`` if one was scanned (rotated, or its
            writeback failed); ``-ENOENT`` if writeback is disabled for ``memcg``, it is
            offline, or its LRU is empty.
        """
        if memcg is not None and not memcg.mem_cgroup_zswap_writeback_enabled():
            return -Errno.ENOENT
        if memcg is not None and not memcg.online:
            return -Errno.ENOENT
        shrunk, scanned, _ = self._list_lru_walk_one(self._lru_key(memcg), 1)
        if not scanned:
            return -Errno.ENOENT
        return 0 if shrunk else -Errno.EAGAIN

    def _mem_cgroup_iter(self, prev: int | None) -> int | None:
        """Models: ``mem_cgroup_iter(NULL, prev, NULL)``: next online cgroup id, pre-order;
        None ends a full pass."""
        assert self.memcgs is not None
        ids = [m.id for m in self.memcgs]
        start = 0 if prev is None else (ids.index(prev) + 1 if prev in ids else 0)
        for mid in ids[start:]:
            memcg = self.memcgs.mem_cgroup_from_id(mid)
            if memcg is not None and memcg.online:
                return mid
        return None

    def shrink_worker(self) -> None:
        """Write back round-robin over the cgroups until the pool is under the threshold.

        Models: ``shrink_worker()`` (v6.14): cgroups in ``mem_cgroup_iter`` order from a
        persistent cursor; a cgroup with nothing to write back (``-ENOENT``) is skipped for
        free; a failed attempt, or a full pass that found no candidate, counts a failure;
        ``MAX_RECLAIM_RETRIES`` failures end the work. Without memcg (``memcgs=None``) the
        root LRU is shrunk directly (the later kernels' fix of the memcg-disabled case).
        """
        self.shrink_work_pending = False
        thr = self.zswap_accept_thr_pages()
        failures = attempts = 0
        while True:
            if self.memcgs is None:
                # Every unsuccessful round counts here, -ENOENT included, so the loop is
                # bounded even when the root LRU is empty.
                if self.shrink_memcg(None):
                    failures += 1
                    if failures == MAX_RECLAIM_RETRIES:
                        break
            else:
                mid = self._mem_cgroup_iter(self._next_shrink)
                self._next_shrink = mid
                if mid is None:
                    if not attempts:
                        failures += 1
                        if failures == MAX_RECLAIM_RETRIES:
                            break
                    attempts = 0
                else:
                    ret = self.shrink_memcg(self.memcgs.mem_cgroup_from_id(mid))
                    if ret != -Errno.ENOENT:
                        attempts += 1
                        if ret:
                            failures += 1
                            if failures == MAX_RECLAIM_RETRIES:
                                break
            if self.zswap_total_pages() <= thr:
                break

    def run_pending_work(self) -> bool:
        """Run the queued shrink work if any (the workqueue firing); True if it ran."""
        if not self.shrink_work_pending:
            return False
        self.shrink_worker()
        return True

    def zswap_shrinker_count(self, memcg: MemCgroup | None) -> int:
        """How many entries the memory-pressure shrinker could free for ``memcg``.

        Models: ``zswap_shrinker_count()`` (v6.14, with patch 13's check through
        :meth:`ZswapHost.zswap_writeback_possible`): 0 if the shrinker is disabled, writeback
        is off for the cgroup or impossible; else the LRU length minus the recent disk
        swap-ins (which are consumed), scaled by the pool's compression (``nr_backing /
        nr_stored``) so well-compressed cgroups are shrunk less.
        """
        if not self._params.shrinker_enabled:
            return 0
        if memcg is not None and not memcg.mem_cgroup_zswap_writeback_enabled():
            return 0
        if not self.host.zswap_writeback_possible(memcg):
            return 0
        if self.memcgs is not None:
            m = memcg if memcg is not None else self.memcgs.root
            nr_backing = m.zswap.usage >> PAGE_SHIFT
            nr_stored = m.memory_stat_value("zswapped_pages")
        else:
            nr_backing = self.zswap_total_pages()
            nr_stored = self._stored_pages
        if not nr_stored:
            return 0
        key = self._lru_key(memcg)
        nr_freeable = len(self._lru.get(key, ()))
        if not nr_freeable:
            return 0
        swapins = self._nr_disk_swapins.get(key, 0)
        remain = swapins - nr_freeable if swapins > nr_freeable else 0
        self._nr_disk_swapins[key] = remain
        nr_freeable -= swapins - remain
        if not nr_freeable:
            return 0
        return nr_freeable * nr_backing // nr_stored

    def zswap_shrinker_scan(self, memcg: MemCgroup | None, nr_to_scan: int) -> int:
        """Write back up to ``nr_to_scan`` scanned entries of ``memcg``'s LRU.

        Models: ``zswap_shrinker_scan()``.

        Returns:
            The number of entries written back, or ``SHRINK_STOP`` (-1) if the shrinker is
            disabled, writeback is off for the cgroup, nothing was freed, or a folio was found
            already in the swap cache (a sign of shrinking into the warm part of the LRU).
        """
        if not self._params.shrinker_enabled or (
                memcg is not None and not memcg.mem_cgroup_zswap_writeback_enabled()):
            return SHRINK_STOP
        freed, _, stopped = self._list_lru_walk_one(self._lru_key(memcg), nr_to_scan, True)
        if stopped or not freed:
            return SHRINK_STOP
        return freed

    # -- main API ------------------------------------------------------------------------
    def _store_page(self, folio: Folio, i: int, objcg: MemCgroup | None) -> bool:
        """Models: ``zswap_store_page()`` with ``zswap_compress()``: one page of the folio.

        Context: folio locked, in the swap cache. On failure nothing of this page is stored
        (the rejection is counted); an older entry at the same index stays (the caller
        erases it).
        """
        # An order-0 folio's bytes are the page: no view to build.
        data = folio.data
        page: bytearray | memoryview = (
            data if not i and len(data) == PAGE_SIZE
            else memoryview(data)[i * PAGE_SIZE:(i + 1) * PAGE_SIZE])
        cur_pool = self._cur_pool
        comp, zs = self._pools[cur_pool]  # type: ignore[misc]
        faults = self.faults
        # FaultInjector.fail() is False, and counts nothing, for a point with no rate or
        # schedule: test for any first, so runs without faults skip the call.
        inject = bool(faults.rates or faults.schedule)
        try:
            if inject and faults.fail("zswap_compress"):
                raise DecompressError("injected compressor failure")
            dst: bytes | bytearray | memoryview = comp.compress(page)
            failed = False
        except Exception:  # a library failure is the crypto layer returning an error
            dst, failed = page, True
        dlen = len(dst)
        self.tracer.compress(comp.name, PAGE_SIZE)
        if (failed or not dlen) and not self.store_incompressible:
            self._reject_compress_fail += 1  # v6.14; a long output fails zs_malloc below
            return False
        if (failed or dlen >= PAGE_SIZE or not dlen) and self.store_incompressible:
            if not self._writeback_enabled(folio.memcg_id):
                if failed:
                    self._reject_compress_fail += 1
                else:
                    self._reject_compress_poor += 1
                return False
            dst, dlen = page, PAGE_SIZE
        handle = (zs.zs_malloc(dlen) if not (inject and faults.fail("zswap_alloc"))
                  else -Errno.ENOMEM)
        if handle < 0:
            if handle == -Errno.ENOSPC:
                self._reject_compress_poor += 1
            else:
                self._reject_alloc_fail += 1
            return False
        zs.zs_obj_write(handle, dst)
        entry = SwpEntry(folio.swap + i)
        tid, index = self._tree(entry)
        e_free = self._e_free
        eid = e_free.pop() if e_free else 0
        memcg_id = objcg.id if objcg is not None else 0
        lru_key = memcg_id or self._root_lru_key
        crc = zlib.crc32(page) if self.check_crc else 0
        if eid:
            self._e_swp[eid] = entry
            self._e_len[eid] = dlen
            self._e_handle[eid] = handle
            self._e_pool[eid] = cur_pool
            self._e_memcg[eid] = memcg_id
            self._e_lru[eid] = lru_key
            self._e_tree[eid] = tid
            self._e_crc[eid] = crc
            self._e_ref[eid] = 1
        else:
            eid = len(self._e_swp)
            self._e_swp.append(entry)
            self._e_len.append(dlen)
            self._e_handle.append(handle)
            self._e_pool.append(cur_pool)
            self._e_memcg.append(memcg_id)
            self._e_lru.append(lru_key)
            self._e_tree.append(tid)
            self._e_crc.append(crc)
            self._e_ref.append(1)
        tree = self._trees[tid]
        old = tree.get(index, 0)
        tree[index] = eid
        # A stale entry of a re-dirtied folio at the same slot is dropped after the new one
        # is published, as the xa_store + free of zswap_store_page.
        if old:
            self._entry_free(old)
        self._pool_nr[cur_pool] += 1
        if objcg is not None:
            objcg.obj_cgroup_charge_zswap(dlen)
        self._stored_pages += 1
        if dlen == PAGE_SIZE:
            self._stored_incompressible += 1
        lru = self._lru.get(lru_key)
        if lru is None:
            lru = self._lru[lru_key] = {}
        lru[eid] = None
        self.host.zswap_entry_stored(entry, eid)
        return True

    def zswap_store(self, folio: Folio) -> bool:
        """Store every page of a locked swap-cache folio in zswap.

        Models: ``zswap_store()`` (mm/zswap.c v6.14; the vswap hooks of patch 12).

        Context: ``folio`` locked, in the swap cache, ``folio.swap`` its first entry; large
        folios are stored page by page.

        Returns:
            True: every page is stored, ``zswpout`` counted (global and per memcg, nr pages),
            the folio may be freed clean by reclaim.
            False: nothing of the folio is left in zswap: zswap is disabled, the cgroup is at
            ``memory.zswap.max`` and ``shrink_memcg`` could not write anything back, the pool
            is full (or refilling, hysteresis), or a page failed (``reject_*`` counted). Any
            stale entry at the folio's slots is erased too (the ``check_old`` path), and
            :meth:`ZswapHost.zswap_store_undone` is called. A failure while the pool is full
            queues the shrink worker (:attr:`shrink_work_pending`).
        """
        if not folio.locked or not folio.swapcache:
            warnings.warn("zswap_store: folio not locked or not in the swap cache",
                          RuntimeWarning, stacklevel=2)
        nr = folio.nr_pages
        ret = False
        if self._params.enabled:
            objcg = self._objcg(folio)
            ok = True
            if objcg is not None and not objcg.obj_cgroup_may_zswap() and self.shrink_memcg(
                    objcg):
                ok = False
            if ok and not self._check_limits():
                for i in range(nr):
                    if not self._store_page(folio, i, objcg):
                        break
                else:
                    if objcg is not None:
                        objcg.count_memcg_events("zswpout", nr)
                    self.vmstat.count_vm_events("zswpout", nr)
                    ret = True
            if not ret and self._pool_reached_full:
                self.shrink_work_pending = True
        if not ret:
            swp = folio.swap
            for i in range(nr):
                eid = self._erase(SwpEntry(swp + i))
                if eid:
                    self._entry_free(eid)
            self.host.zswap_store_undone(folio)
        return ret

    def zswap_load(self, folio: Folio) -> bool:
        """Fill a locked folio from zswap if zswap holds its entry.

        Models: ``zswap_load()`` (mm/zswap.c v6.14).

        Context: ``folio`` locked; ``folio.swap`` set.

        Returns:
            False: zswap holds nothing for the entry (or was never enabled): read the device.
            True with the folio uptodate: loaded, ``zswpin`` counted. When the folio is in the
            swap cache the load is exclusive: the entry is erased and freed, the folio marked
            dirty, and :meth:`ZswapHost.zswap_loaded_exclusive` called.
            True *without* uptodate for any large folio once zswap was ever enabled: zswap
            cannot load large folios, and the caller must report an I/O error (SIGBUS).

        Raises:
            KernelError(EIO): the stored bytes failed to decompress (names the entry); the
                entry stays in zswap and the folio is not uptodate.
        """
        if not self._ever_enabled:
            return False
        if folio.order:
            warnings.warn("zswap_load: large folio", RuntimeWarning, stacklevel=2)
            return True
        swp = folio.swap
        # _tree() inlined
        host = self.host
        key = host.zswap_tree_key(swp)
        self.tracer.lock_step("zswap_tree", key, Cost.ZSWAP_TREE_UPDATE)
        tid = self._tree_ids.get(key)
        if tid is None:
            tid = self._add_tree(key)
        index = host.zswap_tree_index(swp)
        tree = self._trees[tid]
        eid = tree.get(index, 0)
        if not eid:
            return False
        data = self._decompress(eid)
        folio.data[0:PAGE_SIZE] = data
        self.vmstat.count_vm_event("zswpin")
        memcg_id = self._e_memcg[eid]
        memcgs = self.memcgs
        if memcg_id and memcgs is not None:
            memcg = memcgs.mem_cgroup_from_id(memcg_id)
            if memcg is not None:
                memcg.count_memcg_events("zswpin", 1)
        if folio.swapcache:
            del tree[index]
            self.host.zswap_loaded_exclusive(folio)
            self._entry_free(eid)
            folio.dirty = True
        folio.uptodate = True
        return True

    def zswap_invalidate(self, entry: SwpEntry) -> None:
        """Drop zswap's copy of ``entry`` if it has one (the slot is being freed).

        Models: ``zswap_invalidate()``: classic calls it from ``swap_range_free``, the virtual
        design from ``release_backing``.
        """
        tid, index = self._tree(entry)
        eid = self._trees[tid].pop(index, 0)
        if eid:
            self._entry_free(eid)

    def zswap_swapon(self, type_: int, nr_pages: int) -> None:
        """Create the trees of a classic device: one per 64 MiB (``zswap_swapon``).

        Keys are ``(type_, n)`` as :func:`classic_zswap_tree_key` builds them. The virtual
        design never calls this (its tree is static).
        """
        if type_ in self._swapon_types:
            raise KernelError(Errno.EBUSY, f"zswap_swapon: type {type_} already has trees")
        nr = -(-nr_pages // SWAP_ADDRESS_SPACE_PAGES)
        self._swapon_types[type_] = nr
        for n in range(nr):
            if (type_, n) not in self._tree_ids:
                self._add_tree((type_, n))

    def zswap_swapoff(self, type_: int) -> None:
        """Drop the trees of a classic device (``zswap_swapoff``).

        Raises:
            KernelError(EBUSY): a tree still holds entries (the kernel's WARN; swapoff must
                have invalidated every entry through ``try_to_unuse``).
        """
        keys = [k for k in self._tree_keys
                if isinstance(k, tuple) and len(k) == 2 and k[0] == type_]
        busy = sum(len(self._trees[self._tree_ids[k]]) for k in keys)
        if busy:
            raise KernelError(Errno.EBUSY, f"zswap_swapoff: {busy} entries of type {type_} left")
        for k in keys:
            self._trees[self._tree_ids.pop(k)] = {}
        self._tree_keys = [k for k in self._tree_keys if k not in keys]
        self._swapon_types.pop(type_, None)

    # -- statistics, introspection, accounting -------------------------------------------
    def statistics(self) -> ZswapStats:
        """A frozen snapshot of the debugfs counters."""
        return ZswapStats(
            stored_pages=self._stored_pages,
            pool_total_size=self.pool_total_size,
            written_back_pages=self._written_back_pages,
            pool_limit_hit=self._pool_limit_hit,
            reject_compress_poor=self._reject_compress_poor,
            reject_compress_fail=self._reject_compress_fail,
            reject_alloc_fail=self._reject_alloc_fail,
            reject_kmemcache_fail=0,
            reject_reclaim_fail=self._reject_reclaim_fail,
            stored_incompressible_pages=self._stored_incompressible,
            decompress_fail=self._decompress_fail,
        )

    def debugfs(self) -> dict[str, int]:
        """The debugfs files and their values."""
        return self.statistics().as_dict()

    @property
    def pool_reached_full(self) -> bool:
        """``zswap_pool_reached_full``: stores are refused until the accept threshold."""
        return self._pool_reached_full

    def tree_keys(self) -> list[Hashable]:
        """Every tree (lock identity) zswap has, in creation order."""
        return list(self._tree_keys)

    def tree_entry_counts(self) -> dict[Hashable, int]:
        """Entries per tree."""
        return {k: len(self._trees[self._tree_ids[k]]) for k in self._tree_keys}

    def lookup(self, entry: SwpEntry) -> ZswapEntryInfo | None:
        """What zswap holds for ``entry`` (None: nothing)."""
        tid, index = self._tree(entry)
        eid = self._trees[tid].get(index, 0)
        if not eid:
            return None
        pool = self._pools[self._e_pool[eid]]
        assert pool is not None
        # The key comes from the host: ``_tree_keys`` is compacted by zswap_swapoff and
        # is not indexed by tree id.
        return ZswapEntryInfo(eid, self._e_swp[eid], self._e_len[eid], self._e_handle[eid],
                              self._e_memcg[eid], bool(self._e_ref[eid]), pool[0].name,
                              self.host.zswap_tree_key(entry), index)

    def lru_entries(self, memcg: MemCgroup | None) -> list[int]:
        """The swap entries on ``memcg``'s zswap LRU, head (coldest) first."""
        return [self._e_swp[e] for e in self._lru.get(self._lru_key(memcg), ())]

    def corrupt(self, entry: SwpEntry, offset: int = 0, xor: int = 0xFF) -> None:
        """Fault injection: flip bits of one stored byte of ``entry``'s object."""
        tid, index = self._tree(entry)
        eid = self._trees[tid][index]
        pool = self._pools[self._e_pool[eid]]
        assert pool is not None
        pool[1].zs_obj_corrupt(self._e_handle[eid], offset, xor)

    def pools(self) -> list[ZsPool]:
        """The live zsmalloc pools (the current one last created)."""
        return [p[1] for p in self._pools if p is not None]

    def metadata_bytes(self) -> dict[str, int]:
        """Kernel memory zswap spends besides the compressed pages themselves.

        ``zswap_entry``: the slab objects (``ZSWAP_ENTRY_BYTES`` each); ``zswap_tree_xarray``:
        XArray nodes of every tree; ``zs_handle`` and ``zspage``: zsmalloc's own slabs.
        """
        out = {"zswap_entry": self._stored_pages * ZSWAP_ENTRY_BYTES,
               "zswap_tree_xarray": sum(xarray_bytes(t.keys()) for t in self._trees if t),
               "zs_handle": 0, "zspage": 0}
        for zs in self.pools():
            for k, v in zs.metadata_bytes().items():
                out[k] += v
        return out

    def check_invariants(self) -> None:
        """Raise AssertionError if trees, LRUs, pools, counters and charges disagree."""
        live = set()
        for tid, tree in enumerate(self._trees):
            for index, eid in tree.items():
                assert eid not in live, "entry in two tree slots"
                live.add(eid)
                assert self._e_tree[eid] == tid, "entry's tree"
                key = self._tree_keys[tid] if tid < len(self._tree_keys) else None
                if key is not None:
                    swp = SwpEntry(self._e_swp[eid])
                    assert self.host.zswap_tree_index(swp) == index, "entry's index"
        assert len(live) == self._stored_pages, "stored_pages != tree entries"
        on_lru = [e for lru in self._lru.values() for e in lru]
        assert sorted(on_lru) == sorted(live), "LRU membership != tree membership"
        for key, lru in self._lru.items():
            for e in lru:
                assert self._e_lru[e] == key, "entry on the wrong LRU"
        assert sum(1 for e in live if self._e_len[e] == PAGE_SIZE) == \
            self._stored_incompressible, "stored_incompressible_pages"
        for pid, p in enumerate(self._pools):
            if p is not None:
                p[1].check_invariants()
                assert p[1].nr_handles == self._pool_nr[pid] == sum(
                    1 for e in live if self._e_pool[e] == pid), "pool object count"
        if self.memcgs is not None:
            charged: dict[int, int] = {}
            for e in live:
                if self._e_memcg[e]:
                    charged[self._e_memcg[e]] = charged.get(self._e_memcg[e], 0) + \
                        self._e_len[e]
            for memcg in self.memcgs:
                assert memcg.zswap.local == charged.get(memcg.id, 0), (
                    f"{memcg.path}: zswap charge {memcg.zswap.local} != "
                    f"{charged.get(memcg.id, 0)}")


def entries_of(folio: Folio) -> Iterable[SwpEntry]:
    """The swap entries of every page of a swap-cache folio (``swap_nth``)."""
    return (SwpEntry(folio.swap + i) for i in range(folio.nr_pages))
