"""zswap: a compressed cache for swap pages, shared by every swap design.

Models: mm/zswap.c at v6.14, plus v6.18's handling of incompressible pages for the designs
of later kernels (``store_incompressible``; commit dca4437a5861 "mm/zswap: store <PAGE_SIZE
compression failed page as-is": such pages are stored raw unless ``memory.zswap.writeback`` is
0, counted in ``stored_incompressible_pages`` and, per memcg, in ``zswap_incomp``; v6.14
rejects them, ``reject_compress_poor``), and the hooks the virtual swap space adds
([RFC PATCH v2 12/18] and 13/18: ``vswap_assoc_zswap``, ``vswap_store_folio``,
``vswap_alloc_swap_slot`` at writeback, no shrinking without free physical swap).

mm/zswap.c's sections, and where the model keeps them:

==================== ======================================================================
section              module
==================== ======================================================================
statistics, tunables this module (:class:`ZswapStats`, :class:`ZswapParams`)
data structures      :mod:`vswap.zswap.entry_table` (``struct zswap_entry`` as columns),
                     :mod:`vswap.zswap.tree` (the trees), :mod:`vswap.zswap.host` (what the
                     swap design provides)
LRU                  :mod:`vswap.zswap.list_lru` (mm/list_lru.c)
pool functions       :mod:`vswap.zswap.pool`
compressed storage   :mod:`vswap.zswap.zsmalloc`, :mod:`vswap.zswap.compressors`
writeback, shrinker  :mod:`vswap.zswap.shrinker`
helpers, entry
functions, main API  this module (:class:`Zswap`: store, load, invalidate, swapon/off)
==================== ======================================================================

Design notes (why the model looks like this):

* zswap owns its trees (:class:`~vswap.zswap.tree.ZswapTrees`); the swap design says which
  tree and which index an entry goes to through :class:`ZswapHost`.
* A ``struct zswap_entry`` is a row of compact columns
  (:class:`~vswap.zswap.entry_table.ZswapEntryTable`), not a Python object.
* The compressed bytes live inside the zsmalloc pool's zspages (:mod:`vswap.zswap.zsmalloc`),
  so ``pool_total_size`` is the kernel's number, fragmentation included; one pool per
  compressor (:class:`~vswap.zswap.pool.ZswapPools`).
* The per-memcg zswap LRU (``list_lru``, one node) is an insertion-ordered dict per memcg
  (:class:`~vswap.zswap.list_lru.ListLru`).
* The global shrink worker is queued, not run: a store that fails while the pool is full sets
  :attr:`Zswap.shrink_work_pending` (``queue_work``); the owner runs :meth:`Zswap.shrink_worker`
  when its clock says the work item would run.
* One deliberate deviation: ``zswap_load`` and writeback decompress *before* erasing the tree
  entry, so a decompression failure (``-EIO``) leaves the entry in place, as current kernels
  do; v6.14 erased first and then hit ``BUG_ON``.
"""

from __future__ import annotations

import dataclasses
import zlib
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from vswap.errors import ConfigError
from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MemCgroup, MemCgroupTree
from vswap.kernel.pagedata import TOKEN_BYTES, compressed_len, tok_of
from vswap.kernel.sizes import ZSWAP_ENTRY_BYTES
from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import (
    PAGE_SHIFT,
    PAGE_SIZE,
    SWAPFILE_CLUSTER,
    SwpEntry,
    swp_offset,
    swp_type,
)
from vswap.kernel.vmstat import VmStat
from vswap.zswap.compressors import (
    CONFIG_ZSWAP_COMPRESSOR_DEFAULT,
    DecompressError,
    get_compressor,
)
from vswap.zswap.entry_table import ZswapEntryTable
from vswap.zswap.host import (
    WB_BATCH_DESIGNS,
    ZswapBatchHost,
    ZswapHost,
    classic_zswap_tree_index,
    classic_zswap_tree_key,
    wb_batch_unsupported,
)
from vswap.zswap.list_lru import ListLru, LruStatus
from vswap.zswap.pool import ZswapPools
from vswap.zswap.shrinker import MAX_RECLAIM_RETRIES, SHRINK_STOP, ZswapShrinker
from vswap.zswap.tree import ZswapTrees
from vswap.zswap.zsmalloc import ZsPool

__all__ = [
    "MAX_RECLAIM_RETRIES",
    "SHRINK_STOP",
    "WB_BATCH_DESIGNS",
    "LruStatus",
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
ZSWAP_DEBUGFS: Final[dict[str, str]] = {
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

    Model only (docs/future.md, "zswap writeback at writeback time"; the designs whose
    zswap entries hold no slot, :data:`WB_BATCH_DESIGNS`, and for compressed writeback
    :data:`~vswap.zswap.host.WB_COMPRESSED_DESIGNS`), named after zram's attributes of the
    same purpose:

    * ``writeback_batch_size`` = 1 (1..``SWAPFILE_CLUSTER``): the shrinkers gather this many
      entries, allocate contiguous physical slots for them at writeback time and submit one
      I/O request per contiguous run (1: one entry per request, as the kernel does).
    * ``writeback_compressed`` = N: write the compressed object to the slot without
      decompressing it (decompressed at swap-in), as zram's ``writeback_compressed``.

    Raises:
        ConfigError: a percentage outside 0..100, a batch size outside
            1..``SWAPFILE_CLUSTER`` or a compressor that is not available, naming the
            parameter.
    """

    enabled: bool = True
    compressor: str = CONFIG_ZSWAP_COMPRESSOR_DEFAULT
    max_pool_percent: int = 20
    accept_threshold_percent: int = 90
    shrinker_enabled: bool = False
    writeback_batch_size: int = 1
    writeback_compressed: bool = False

    def __post_init__(self) -> None:
        for name in ("max_pool_percent", "accept_threshold_percent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise ConfigError(f"zswap.{name}: {value!r} is not a percentage in 0..100")
        for name in ("enabled", "shrinker_enabled", "writeback_compressed"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"zswap.{name}: {getattr(self, name)!r} is not a boolean")
        batch = self.writeback_batch_size
        if isinstance(batch, bool) or not isinstance(batch, int) or \
                not 1 <= batch <= SWAPFILE_CLUSTER:
            raise ConfigError(f"zswap.writeback_batch_size: {batch!r} is not in "
                              f"1..{SWAPFILE_CLUSTER}")
        get_compressor(self.compressor)  # raises ConfigError naming the compressor


# =========================================================================================
# data structures
# =========================================================================================


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

    The parts: :attr:`entries` (the ``zswap_entry`` columns), :attr:`trees` (the tree index),
    :attr:`lru` (the per-memcg list_lru), :attr:`zpools` (one zsmalloc pool per compressor),
    :attr:`shrinker` (writeback and the shrinkers); this class holds the limits, counters and
    the store/load/invalidate API.

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
        store_incompressible: v6.18's handling (commit dca4437a5861): a page that does not
            compress below PAGE_SIZE is stored as-is; False is v6.14's: it is rejected and
            goes to the device.
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
        for name in ("writeback_batch_size", "writeback_compressed"):
            self._check_wb_param(name, getattr(self._params, name))
        memcgs: MemCgroupTree | None = None if memcg_disabled else self.env.memcgs
        self.memcgs = memcgs
        self.vmstat: VmStat = self.env.vmstat
        self.check_crc = check_crc
        self.pool_max_pages = pool_max_pages
        self.store_incompressible = store_incompressible
        #: The list_lru key of entries without a cgroup (the root's id).
        self.root_lru_key = memcgs.root.id if memcgs is not None else 0
        self.zpools = ZswapPools(self._params.compressor, pool_max_pages)
        self._ever_enabled = self._params.enabled
        self._pool_reached_full = False
        self.shrink_work_pending = False
        # Statistics (debugfs); the shrinkers keep written_back_pages, reject_reclaim_fail.
        self.stored_pages = 0
        self._stored_incompressible = 0
        self._pool_limit_hit = 0
        self._reject_compress_fail = 0
        self._reject_compress_poor = 0
        self._reject_alloc_fail = 0
        self._decompress_fail = 0
        self.entries = ZswapEntryTable()
        self.trees = ZswapTrees(host, self.env.tracer)
        self.lru = ListLru()
        self.shrinker = ZswapShrinker(self)

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
        self._check_wb_param(name, value)
        change: dict[str, Any] = {name: value}
        new = dataclasses.replace(self._params, **change)
        if name == "compressor" and value != self._params.compressor:
            self.zpools.cur = self.zpools.zswap_pool_find_create(str(value))
        self._params = new
        if new.enabled:
            self._ever_enabled = True

    def _check_wb_param(self, name: str, value: object) -> None:
        """ConfigError (one line) for a batched or compressed writeback setting other than
        the default on a host that has no batched writeback."""
        default = {"writeback_batch_size": 1, "writeback_compressed": False}.get(name)
        if default is None or (value == default and type(value) is type(default)):
            return
        host = self.host
        design = str(getattr(host, "name", type(host).__name__))
        why = wb_batch_unsupported(design, name)
        if why is None and isinstance(host, ZswapBatchHost):
            return
        raise ConfigError(why or f"{name}: not available under {design}")

    @property
    def wb_batching(self) -> bool:
        """Batched (or compressed) writeback is on: the shrinkers gather entries."""
        p = self._params
        return p.writeback_batch_size > 1 or p.writeback_compressed

    def zswap_is_enabled(self) -> bool:
        """Models: ``zswap_is_enabled()``."""
        return self._params.enabled

    def zswap_never_enabled(self) -> bool:
        """Models: ``zswap_never_enabled()``: zswap was never turned on since boot."""
        return not self._ever_enabled

    # -- helpers ---------------------------------------------------------------------------
    def zswap_max_pages(self) -> int:
        """Models: ``zswap_max_pages()``: ``totalram * max_pool_percent / 100``."""
        return self.total_ram_pages * self._params.max_pool_percent // 100

    def zswap_accept_thr_pages(self) -> int:
        """Models: ``zswap_accept_thr_pages()``."""
        return self.zswap_max_pages() * self._params.accept_threshold_percent // 100

    def zswap_total_pages(self) -> int:
        """Models: ``zswap_total_pages()``: pages of every pool."""
        return self.zpools.zswap_total_pages()

    @property
    def pool_total_size(self) -> int:
        """debugfs ``pool_total_size``: bytes of the compressed pools."""
        return self.zswap_total_pages() << PAGE_SHIFT

    def _check_limits(self) -> bool:
        """Models: ``zswap_check_limits()``: the pool is (still) considered full.

        Hysteresis: once the pool reaches ``max_pool_percent`` every store is refused until it
        drops to ``accept_threshold_percent`` of the maximum.
        """
        cur = self.zpools.zswap_total_pages()
        params = self._params
        if cur >= self.total_ram_pages * params.max_pool_percent // 100:
            self._pool_limit_hit += 1
            self._pool_reached_full = True
        elif self._pool_reached_full and cur <= self.zswap_accept_thr_pages():
            self._pool_reached_full = False
        return self._pool_reached_full

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

    def lru_key(self, memcg: MemCgroup | None) -> int:
        """The list_lru list of ``memcg`` (None: the root's)."""
        return memcg.id if memcg is not None else self.root_lru_key

    # -- lru functions -------------------------------------------------------------------
    def zswap_folio_swapin(self, folio: Folio) -> None:
        """A folio was read from a swap *device*: protect the zswap LRU a bit more.

        Models: ``zswap_folio_swapin()`` (see :meth:`ZswapShrinker.zswap_folio_swapin`).
        """
        self.shrinker.zswap_folio_swapin(folio)

    def zswap_memcg_offline_cleanup(self, memcg: MemCgroup) -> None:
        """A cgroup goes offline: move its zswap LRU to the parent, advance the cursor.

        Models: ``zswap_memcg_offline_cleanup()`` and the list_lru reparenting of
        ``memcg_reparent_list_lrus()``. Charges stay where they are (objcg reparenting is
        not modelled).
        """
        self.shrinker.memcg_offline(memcg)
        if memcg.parent is None:
            self.lru.reparent(memcg.id, None)
            return
        parent = memcg.parent.id
        lru_col = self.entries.lru
        for eid in self.lru.reparent(memcg.id, parent):
            lru_col[eid] = parent

    # -- entry functions -----------------------------------------------------------------
    def zswap_entry_free(self, eid: int) -> None:
        """Models: ``zswap_entry_free()``: off the LRU, object freed, memcg uncharged."""
        entries = self.entries
        self.lru.list_lru_del(entries.lru[eid], eid)
        self.zpools.obj_free(entries.pool[eid], entries.handle[eid])
        self.tracer.zpool_free()
        length = entries.length[eid]
        memcg_id = entries.memcg[eid]
        if memcg_id and self.memcgs is not None:
            memcg = self.memcgs.mem_cgroup_from_id(memcg_id)
            if memcg is not None:
                memcg.obj_cgroup_uncharge_zswap(length)
        if length == PAGE_SIZE:
            self._stored_incompressible -= 1
        self.stored_pages -= 1
        entries.free(eid)

    # -- compressed storage --------------------------------------------------------------
    def zswap_decompress(self, eid: int) -> bytes:
        """Models: ``zswap_decompress()``: the page's bytes, or KernelError(EIO).

        An entry stored as-is (``store_incompressible``, length ``PAGE_SIZE``) is copied back
        without running the decompressor, as 6.18's ``zswap_decompress()`` does since commit
        dca4437a5861: its cost is a page copy, not a decompression.

        Raises:
            KernelError(EIO): the stored bytes do not decompress to exactly one page (or do
                not match the page's CRC); names the swap entry, the compressor and sizes.
        """
        entries = self.entries
        comp, zs = self.zpools.get(entries.pool[eid])
        length = entries.length[eid]
        src = zs.zs_obj_read(entries.handle[eid], length)
        if length == PAGE_SIZE and self.store_incompressible:
            self.tracer.page_copy(1)
        else:
            self.tracer.decompress(comp.name, PAGE_SIZE)
        faults = self.faults
        try:
            if (faults.rates or faults.schedule) and faults.fail("zswap_decompress"):
                raise DecompressError("injected decompression failure")
            out = bytes(src) if length == PAGE_SIZE or zs.compact else comp.decompress(src)
            if self.check_crc and zlib.crc32(out) != entries.crc[eid]:
                raise DecompressError("checksum mismatch: bytes decoded but not the page stored")
        except DecompressError as exc:
            self._decompress_fail += 1
            swp = SwpEntry(entries.swpentry[eid])
            raise KernelError(
                Errno.EIO,
                f"zswap: decompression error for swap entry {swp:#x} (type {swp_type(swp)}, "
                f"offset {swp_offset(swp)}; {comp.name}, {length} bytes stored): {exc}"
            ) from exc
        return out

    def _decompress(self, eid: int) -> bytes:
        """:meth:`zswap_decompress` under the name the designs' ``swap_peek_entry`` call (a
        method, not a class-level alias: mypyc's native class fails to build one, KeyError
        'zswap_decompress' at the first ``Zswap()``)."""
        return self.zswap_decompress(eid)

    # -- writeback and shrinkers (vswap.zswap.shrinker) -----------------------------------
    def zswap_writeback_entry(self, entry: SwpEntry) -> int:
        """Write back whatever zswap holds for ``entry`` (tests, tiering policies).

        Returns:
            As :meth:`ZswapShrinker.zswap_writeback_entry`, or ``-ENOENT`` if zswap holds
            nothing for it. Does not count ``written_back_pages`` (only the shrinkers do).
        """
        tid, index = self.trees.lookup(entry)
        eid = self.trees.trees[tid].get(index, 0)
        if not eid:
            return -Errno.ENOENT
        return self.shrinker.zswap_writeback_entry(eid, entry)

    def shrink_memcg(self, memcg: MemCgroup | None) -> int:
        """Models: ``shrink_memcg()`` (see :meth:`ZswapShrinker.shrink_memcg`)."""
        return self.shrinker.shrink_memcg(memcg)

    def shrink_worker(self) -> None:
        """Models: ``shrink_worker()`` (see :meth:`ZswapShrinker.shrink_worker`)."""
        self.shrinker.shrink_worker()

    def run_pending_work(self) -> bool:
        """Run the queued shrink work if any (the workqueue firing); True if it ran."""
        if not self.shrink_work_pending:
            return False
        self.shrinker.shrink_worker()
        return True

    def zswap_shrinker_count(self, memcg: MemCgroup | None) -> int:
        """Models: ``zswap_shrinker_count()`` (see
        :meth:`ZswapShrinker.zswap_shrinker_count`)."""
        return self.shrinker.zswap_shrinker_count(memcg)

    def zswap_shrinker_scan(self, memcg: MemCgroup | None, nr_to_scan: int) -> int:
        """Models: ``zswap_shrinker_scan()`` (see :meth:`ZswapShrinker.zswap_shrinker_scan`):
        entries written back, or ``SHRINK_STOP``."""
        return self.shrinker.zswap_shrinker_scan(memcg, nr_to_scan)

    # -- main API ------------------------------------------------------------------------
    def _store_page(self, folio: Folio, i: int, objcg: MemCgroup | None) -> bool:
        """Models: ``zswap_store_page()`` with ``zswap_compress()``: one page of the folio.

        Context: folio locked, in the swap cache. On failure nothing of this page is stored
        (the rejection is counted); an older entry at the same index stays (the caller
        erases it).
        """
        # An order-0 folio's bytes are the page: no view to build.
        data = folio.data
        compact = len(data) != PAGE_SIZE << folio.order  # a token per page (pagedata)
        page: bytearray | memoryview = (
            data if not i and len(data) == PAGE_SIZE
            else memoryview(data)[i * PAGE_SIZE:(i + 1) * PAGE_SIZE] if not compact
            else memoryview(data)[i * TOKEN_BYTES:(i + 1) * TOKEN_BYTES])
        zpools = self.zpools
        cur_pool = zpools.cur
        comp, zs = zpools.get(cur_pool)
        faults = self.faults
        # FaultInjector.fail() is False, and counts nothing, for a point with no rate or
        # schedule: test for any first, so runs without faults skip the call.
        inject = bool(faults.rates or faults.schedule)
        try:
            if inject and faults.fail("zswap_compress"):
                raise DecompressError("injected compressor failure")
            if compact:
                # The token is stored; its length is the real compressor's on the page.
                dst: bytes | bytearray | memoryview = page
                dlen = compressed_len(comp.name, comp.compress, tok_of(page, 0))
            else:
                dst = comp.compress(page)
                dlen = len(dst)
            failed = False
        except Exception:  # a library failure is the crypto layer returning an error
            dst, failed = page, True
            dlen = PAGE_SIZE if compact else len(dst)
        # Priced after the fact: the compressor's time depends on whether the page
        # compressed at all (CostTable.compress_poor_*).
        self.tracer.compress(comp.name, PAGE_SIZE, failed or dlen >= PAGE_SIZE)
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
        tid, index = self.trees.lookup(entry)
        memcg_id = objcg.id if objcg is not None else 0
        lru_key = memcg_id or self.root_lru_key
        crc = zlib.crc32(page) if self.check_crc else 0
        eid = self.entries.alloc(entry, dlen, handle, cur_pool, memcg_id, lru_key, tid, crc)
        tree = self.trees.trees[tid]
        old = tree.get(index, 0)
        tree[index] = eid
        # A stale entry of a re-dirtied folio at the same slot is dropped after the new one
        # is published, as the xa_store + free of zswap_store_page.
        if old:
            self.zswap_entry_free(old)
        zpools.nr[cur_pool] += 1
        if objcg is not None:
            objcg.obj_cgroup_charge_zswap(dlen)
        self.stored_pages += 1
        if dlen == PAGE_SIZE:
            self._stored_incompressible += 1
        self.lru.list_lru_add(lru_key, eid)
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
            self.env.warn("zswap_store: folio not locked or not in the swap cache")
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
                eid = self.trees.erase(SwpEntry(swp + i))
                if eid:
                    self.zswap_entry_free(eid)
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
            self.env.warn("zswap_load: large folio")
            return True
        swp = folio.swap
        # ZswapTrees.lookup() inlined: this runs once per swap-in.
        host = self.host
        trees = self.trees
        key = host.zswap_tree_key(swp)
        self.tracer.lock_step("zswap_tree", key, Cost.ZSWAP_TREE_UPDATE)
        tid = trees.ids.get(key)
        if tid is None:
            tid = trees.add(key)
        index = host.zswap_tree_index(swp)
        tree = trees.trees[tid]
        eid = tree.get(index, 0)
        if not eid:
            return False
        data = self.zswap_decompress(eid)
        folio.data[:] = data
        self.vmstat.count_vm_event("zswpin")
        memcg_id = self.entries.memcg[eid]
        memcgs = self.memcgs
        if memcg_id and memcgs is not None:
            memcg = memcgs.mem_cgroup_from_id(memcg_id)
            if memcg is not None:
                memcg.count_memcg_events("zswpin", 1)
        if folio.swapcache:
            del tree[index]
            self.host.zswap_loaded_exclusive(folio)
            self.zswap_entry_free(eid)
            folio.dirty = True
        folio.uptodate = True
        return True

    def zswap_invalidate(self, entry: SwpEntry) -> None:
        """Drop zswap's copy of ``entry`` if it has one (the slot is being freed).

        Models: ``zswap_invalidate()``: classic calls it from ``swap_range_free``, the virtual
        design from ``release_backing``.
        """
        tid, index = self.trees.lookup(entry)
        eid = self.trees.trees[tid].pop(index, 0)
        if eid:
            self.zswap_entry_free(eid)

    def zswap_swapon(self, type_: int, nr_pages: int) -> None:
        """Create the trees of a classic device: one per 64 MiB (``zswap_swapon``; see
        :meth:`ZswapTrees.zswap_swapon`)."""
        self.trees.zswap_swapon(type_, nr_pages)

    def zswap_swapoff(self, type_: int) -> None:
        """Drop the trees of a classic device (``zswap_swapoff``; see
        :meth:`ZswapTrees.zswap_swapoff`)."""
        self.trees.zswap_swapoff(type_)

    # -- statistics, introspection, accounting -------------------------------------------
    def statistics(self) -> ZswapStats:
        """A frozen snapshot of the debugfs counters."""
        return ZswapStats(
            stored_pages=self.stored_pages,
            pool_total_size=self.pool_total_size,
            written_back_pages=self.shrinker.written_back_pages,
            pool_limit_hit=self._pool_limit_hit,
            reject_compress_poor=self._reject_compress_poor,
            reject_compress_fail=self._reject_compress_fail,
            reject_alloc_fail=self._reject_alloc_fail,
            reject_kmemcache_fail=0,
            reject_reclaim_fail=self.shrinker.reject_reclaim_fail,
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
        return self.trees.tree_keys()

    def tree_entry_counts(self) -> dict[Hashable, int]:
        """Entries per tree."""
        return self.trees.tree_entry_counts()

    def lookup(self, entry: SwpEntry) -> ZswapEntryInfo | None:
        """What zswap holds for ``entry`` (None: nothing)."""
        tid, index = self.trees.lookup(entry)
        eid = self.trees.trees[tid].get(index, 0)
        if not eid:
            return None
        e = self.entries
        comp, _ = self.zpools.get(e.pool[eid])
        # The key comes from the host: the trees' key list is compacted by zswap_swapoff
        # and is not indexed by tree id.
        return ZswapEntryInfo(eid, e.swpentry[eid], e.length[eid], e.handle[eid],
                              e.memcg[eid], bool(e.referenced[eid]), comp.name,
                              self.host.zswap_tree_key(entry), index)

    def lru_entries(self, memcg: MemCgroup | None) -> list[int]:
        """The swap entries on ``memcg``'s zswap LRU, head (coldest) first."""
        swpentry = self.entries.swpentry
        return [swpentry[e] for e in self.lru.items(self.lru_key(memcg))]

    def corrupt(self, entry: SwpEntry, offset: int = 0, xor: int = 0xFF) -> None:
        """Fault injection: flip bits of one stored byte of ``entry``'s object."""
        tid, index = self.trees.lookup(entry)
        eid = self.trees.trees[tid][index]
        _, zs = self.zpools.get(self.entries.pool[eid])
        zs.zs_obj_corrupt(self.entries.handle[eid], offset, xor)

    def pools(self) -> list[ZsPool]:
        """The live zsmalloc pools (the current one last created)."""
        return self.zpools.live()

    def metadata_bytes(self) -> dict[str, int]:
        """Kernel memory zswap spends besides the compressed pages themselves.

        ``zswap_entry``: the slab objects (``ZSWAP_ENTRY_BYTES`` each); ``zswap_tree_xarray``:
        XArray nodes of every tree; ``zs_handle`` and ``zspage``: zsmalloc's own slabs.
        """
        out = {"zswap_entry": self.stored_pages * ZSWAP_ENTRY_BYTES,
               "zswap_tree_xarray": self.trees.metadata_bytes(),
               "zs_handle": 0, "zspage": 0}
        for zs in self.pools():
            for k, v in zs.metadata_bytes().items():
                out[k] += v
        return out

    def check_invariants(self) -> None:
        """Raise AssertionError if trees, LRUs, pools, counters and charges disagree."""
        e = self.entries
        live = self.trees.check_invariants(e.tree, e.swpentry)
        assert len(live) == self.stored_pages, "stored_pages != tree entries"
        self.lru.check_invariants(live, e.lru)
        assert sum(1 for eid in live if e.length[eid] == PAGE_SIZE) == \
            self._stored_incompressible, "stored_incompressible_pages"
        self.zpools.check_invariants([e.pool[eid] for eid in live])
        if self.memcgs is not None:
            charged: dict[int, int] = {}
            for eid in live:
                if e.memcg[eid]:
                    charged[e.memcg[eid]] = charged.get(e.memcg[eid], 0) + e.length[eid]
            for memcg in self.memcgs:
                if not memcg.on_dfl:  # cgroup v1: obj_cgroup_charge_zswap charges nothing
                    charged[memcg.id] = 0
                assert memcg.zswap.local == charged.get(memcg.id, 0), (
                    f"{memcg.path}: zswap charge {memcg.zswap.local} != "
                    f"{charged.get(memcg.id, 0)}")


def entries_of(folio: Folio) -> Iterable[SwpEntry]:
    """The swap entries of every page of a swap-cache folio (``swap_nth``)."""
    return (SwpEntry(folio.swap + i) for i in range(folio.nr_pages))
