"""zswap writeback and its shrinkers: the LRU walk, the memcg shrinker, the shrink worker.

Models: the "writeback code" and "shrinker functions" sections of mm/zswap.c (v6.14):
``zswap_writeback_entry()``, ``shrink_memcg_cb()``, ``zswap_shrinker_scan()``,
``zswap_shrinker_count()``, ``shrink_memcg()``, ``shrink_worker()``, the ``nr_disk_swapins``
protection of ``zswap_folio_swapin()`` and the shrink cursor of
``zswap_memcg_offline_cleanup()``; with patch 13/18 of the virtual swap space RFC v2 (no
shrinking without free physical swap, through ``ZswapHost.zswap_writeback_possible``).

Batched and compressed writeback (model only; docs/future.md): with the module parameter
``writeback_batch_size`` > 1 or ``writeback_compressed`` on (virtual designs only), the LRU
walk does not write each entry at once: :meth:`ZswapShrinker.shrink_memcg_cb` isolates it
(a swap-cache folio, the page decompressed, or the compressed object as it is) onto the
walk's batch, and every ``writeback_batch_size`` entries (and at the end of the walk) the
batch goes to the host in one call that allocates its physical slots together and submits
one request per contiguous run (``ZswapBatchHost.zswap_writeback_batch``), as zram's
``writeback_store`` batches its requests. ``shrink_memcg`` then walks up to a batch of
entries instead of one.

The global shrink worker is queued, not run: a store that fails while the pool is full sets
``Zswap.shrink_work_pending`` (``queue_work``); the owner runs :meth:`ZswapShrinker.shrink_worker`
when its clock says the work item would run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.memcontrol import MemCgroup
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE, SwpEntry
from vswap.zswap.host import WbPage, ZswapBatchHost
from vswap.zswap.list_lru import LruStatus

if TYPE_CHECKING:
    from vswap.zswap.zswap import Zswap

__all__ = ["MAX_RECLAIM_RETRIES", "SHRINK_STOP", "ZswapShrinker"]

#: ``MAX_RECLAIM_RETRIES`` (mm/internal.h): the shrink worker's failure budget.
MAX_RECLAIM_RETRIES: Final = 16
#: ``SHRINK_STOP`` (include/linux/shrinker.h, ~0UL): "stop scanning this shrinker".
SHRINK_STOP: Final = -1


class ZswapShrinker:
    """Writeback and the shrinkers of one :class:`~vswap.zswap.zswap.Zswap` (its part).

    State: the shrink worker's cursor (``zswap_next_shrink``), the per-lruvec
    ``nr_disk_swapins`` and the debugfs counters ``written_back_pages`` and
    ``reject_reclaim_fail``, which only the shrinkers move; the model-only counters of
    batched writeback (:meth:`wb_stats`) and the batch being gathered (empty between
    walks).
    """

    def __init__(self, zswap: Zswap) -> None:
        self.zswap = zswap
        self.next_shrink: int | None = None
        self.nr_disk_swapins: dict[int, int] = {}
        self.written_back_pages = 0
        self.reject_reclaim_fail = 0
        #: Batched writeback: I/O requests, the largest request (pages), pages written
        #: compressed and their compressed bytes.
        self.written_back_requests = 0
        self.written_back_max_request = 0
        self.written_back_compressed_pages = 0
        self.written_back_compressed_bytes = 0
        #: The batch of the current walk: (zswap entry id, LRU list, page to write).
        self._batch: list[tuple[int, dict[int, None], WbPage]] = []
        self._batch_freed = 0
        self._batch_eexist = False

    # -- writeback -------------------------------------------------------------------------
    def zswap_writeback_entry(self, eid: int, swpentry: SwpEntry) -> int:
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
        zswap = self.zswap
        host = zswap.host
        r = host.zswap_writeback_prepare(swpentry)
        if isinstance(r, Errno):
            return -int(r)
        folio = r
        tid, index = zswap.trees.lookup(swpentry)
        tree = zswap.trees.trees[tid]
        cur = tree.get(index, 0)
        if cur != eid:
            host.zswap_writeback_abort(folio, cur)
            return -Errno.ENOMEM
        try:
            data = zswap.zswap_decompress(eid)
        except KernelError:
            host.zswap_writeback_abort(folio, eid)
            return -Errno.EIO
        del tree[index]
        folio.data[:] = data  # an order-0 folio (or its token, in compact mode)
        zswap.vmstat.count_vm_event("zswpwb")
        memcg_id = zswap.entries.memcg[eid]
        if memcg_id and zswap.memcgs is not None:
            memcg = zswap.memcgs.mem_cgroup_from_id(memcg_id)
            if memcg is not None:
                memcg.count_memcg_events("zswpwb", 1)
        zswap.zswap_entry_free(eid)
        folio.uptodate = True
        host.zswap_writeback_submit(folio)
        return 0

    # -- the LRU walk ------------------------------------------------------------------------
    def shrink_memcg_cb(self, lru: dict[int, None], eid: int, stop_on_eexist: bool
                        ) -> LruStatus:
        """Models: ``shrink_memcg_cb()``: second chance, else write back (rotated first)."""
        entries = self.zswap.entries
        if entries.referenced[eid]:
            entries.referenced[eid] = 0
            del lru[eid]
            lru[eid] = None
            return LruStatus.ROTATE
        # Rotate before "dropping the lock": on failure the entry simply stays, rotated; on
        # success (or invalidation) the free path unlinks it.
        del lru[eid]
        lru[eid] = None
        swpentry = SwpEntry(entries.swpentry[eid])
        if self.zswap.wb_batching:
            return self._gather(lru, eid, swpentry, stop_on_eexist)
        ret = self.zswap_writeback_entry(eid, swpentry)
        if ret:
            self.reject_reclaim_fail += 1
            if ret == -Errno.EEXIST and stop_on_eexist:
                return LruStatus.STOP
            return LruStatus.RETRY
        self.written_back_pages += 1
        return LruStatus.REMOVED_RETRY

    def _walk(self, lru_key: int, nr_to_walk: int, stop_on_eexist: bool
              ) -> tuple[int, int, bool]:
        if not self.zswap.wb_batching:
            return self.zswap.lru.list_lru_walk_one(
                lru_key, nr_to_walk,
                lambda lru, eid: self.shrink_memcg_cb(lru, eid, stop_on_eexist))
        self._batch_freed = 0
        self._batch_eexist = False
        try:
            _, walked, stopped = self.zswap.lru.list_lru_walk_one(
                lru_key, nr_to_walk,
                lambda lru, eid: self.shrink_memcg_cb(lru, eid, stop_on_eexist))
        finally:
            self._flush()
        return self._batch_freed, walked, stopped or (stop_on_eexist and self._batch_eexist)

    # -- batched and compressed writeback (model only) ---------------------------------------
    def _gather(self, lru: dict[int, None], eid: int, swpentry: SwpEntry,
                stop_on_eexist: bool) -> LruStatus:
        """Isolate one entry onto the walk's batch: a swap-cache folio without a slot (the
        host's ``zswap_writeback_prepare_batch``) and the bytes to write (the page
        decompressed, or with ``writeback_compressed`` the object as stored). A full batch
        is written at once (:meth:`_flush`).

        Context: the entry was just rotated to the tail of ``lru``; it leaves the list while
        it is in the batch (the dispose list of ``list_lru_walk_one`` callbacks), so the walk
        cannot meet it again; :meth:`_flush` puts it back or frees it.

        Returns:
            ``RETRY`` (gathered, or failed: counted in ``reject_reclaim_fail`` and left
            rotated); ``STOP`` when a folio raced into the swap cache and the caller asked
            to stop on ``-EEXIST``.
        """
        zswap = self.zswap
        host = zswap.host
        assert isinstance(host, ZswapBatchHost)
        r = host.zswap_writeback_prepare_batch(swpentry)
        if isinstance(r, Errno):
            self.reject_reclaim_fail += 1
            if r == Errno.EEXIST and stop_on_eexist:
                self._batch_eexist = True
                return LruStatus.STOP
            return LruStatus.RETRY
        folio = r
        tid, index = zswap.trees.lookup(swpentry)
        cur = zswap.trees.trees[tid].get(index, 0)
        if cur != eid:
            host.zswap_writeback_abort(folio, cur)
            self.reject_reclaim_fail += 1
            return LruStatus.RETRY
        e = zswap.entries
        length = e.length[eid]
        if zswap.params.writeback_compressed and length < PAGE_SIZE:
            comp, zs = zswap.zpools.get(e.pool[eid])
            obj = zs.zs_obj_read(e.handle[eid], length)
            # The slot holds the object and zeros; in compact page data, the object is the
            # page's token (vswap.kernel.pagedata), a slot's whole content.
            page = WbPage(folio, bytes(obj) + bytes(0 if zs.compact else PAGE_SIZE - length),
                          length, comp.name, e.crc[eid])
        else:
            try:
                data = zswap.zswap_decompress(eid)
            except KernelError:
                host.zswap_writeback_abort(folio, eid)
                self.reject_reclaim_fail += 1
                return LruStatus.RETRY
            folio.data[:] = data  # an order-0 folio (or its token, in compact mode)
            folio.uptodate = True
            page = WbPage(folio, folio.data)
        del lru[eid]
        self._batch.append((eid, lru, page))
        if len(self._batch) >= zswap.params.writeback_batch_size:
            self._flush()
        return LruStatus.RETRY

    def _flush(self) -> None:
        """Write the gathered batch: the host allocates its slots together and submits one
        request per contiguous run; each entry written is erased from its tree and freed
        (``zswpwb``, ``written_back_pages``), each that failed goes back on its LRU (at the
        tail) with its zswap entry kept, counted in ``reject_reclaim_fail``.

        A failed request leaves its entries in zswap: the batch waits for its requests before
        it frees anything, as zram's writeback keeps a slot whose write failed.
        """
        batch, self._batch = self._batch, []
        if not batch:
            return
        zswap = self.zswap
        host = zswap.host
        assert isinstance(host, ZswapBatchHost)
        statuses, requests = host.zswap_writeback_batch([p for _, _, p in batch])
        self.written_back_requests += len(requests)
        self.written_back_max_request = max(self.written_back_max_request, *requests, 0)
        entries = zswap.entries
        for (eid, lru, page), ret in zip(batch, statuses, strict=True):
            lru[eid] = None
            if ret:
                self.reject_reclaim_fail += 1
                continue
            swpentry = SwpEntry(entries.swpentry[eid])
            tid, index = zswap.trees.lookup(swpentry)
            del zswap.trees.trees[tid][index]
            zswap.vmstat.count_vm_event("zswpwb")
            memcg_id = entries.memcg[eid]
            if memcg_id and zswap.memcgs is not None:
                memcg = zswap.memcgs.mem_cgroup_from_id(memcg_id)
                if memcg is not None:
                    memcg.count_memcg_events("zswpwb", 1)
            if page.clen:
                self.written_back_compressed_pages += 1
                self.written_back_compressed_bytes += page.clen
            zswap.zswap_entry_free(eid)
            self.written_back_pages += 1
            self._batch_freed += 1

    def wb_stats(self) -> dict[str, int]:
        """The model-only counters of batched and compressed writeback (``vswap stat``'s
        zswap view shows them after the debugfs files when the feature was used)."""
        return {"written_back_requests": self.written_back_requests,
                "written_back_max_request": self.written_back_max_request,
                "written_back_compressed_pages": self.written_back_compressed_pages,
                "written_back_compressed_bytes": self.written_back_compressed_bytes}

    # -- the memcg shrinker and the shrink worker ---------------------------------------------
    def shrink_memcg(self, memcg: MemCgroup | None) -> int:
        """Try to write back one entry of ``memcg``'s own zswap LRU.

        Models: ``shrink_memcg()`` (v6.14: one item per node, one node here). Used by
        ``zswap_store`` when the cgroup is at ``memory.zswap.max`` and by the shrink worker.
        With batched writeback (model only) it walks up to ``writeback_batch_size`` items
        and writes them as one batch.

        Returns:
            0 if an entry was written back; ``-EAGAIN`` if one was scanned (rotated, or its
            writeback failed); ``-ENOENT`` if writeback is disabled for ``memcg``, it is
            offline, or its LRU is empty.
        """
        if memcg is not None and not memcg.mem_cgroup_zswap_writeback_enabled():
            return -Errno.ENOENT
        if memcg is not None and not memcg.online:
            return -Errno.ENOENT
        params = self.zswap.params
        nr = params.writeback_batch_size if self.zswap.wb_batching else 1
        shrunk, scanned, _ = self._walk(self.zswap.lru_key(memcg), nr, False)
        if not scanned:
            return -Errno.ENOENT
        return 0 if shrunk else -Errno.EAGAIN

    def mem_cgroup_iter(self, prev: int | None) -> int | None:
        """Models: ``mem_cgroup_iter(NULL, prev, NULL)``: next online cgroup id, pre-order;
        None ends a full pass."""
        memcgs = self.zswap.memcgs
        assert memcgs is not None
        ids = [m.id for m in memcgs]
        start = 0 if prev is None else (ids.index(prev) + 1 if prev in ids else 0)
        for mid in ids[start:]:
            memcg = memcgs.mem_cgroup_from_id(mid)
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
        zswap = self.zswap
        zswap.shrink_work_pending = False
        thr = zswap.zswap_accept_thr_pages()
        memcgs = zswap.memcgs
        failures = attempts = 0
        while True:
            if memcgs is None:
                # Every unsuccessful round counts here, -ENOENT included, so the loop is
                # bounded even when the root LRU is empty.
                if self.shrink_memcg(None):
                    failures += 1
                    if failures == MAX_RECLAIM_RETRIES:
                        break
            else:
                mid = self.mem_cgroup_iter(self.next_shrink)
                self.next_shrink = mid
                if mid is None:
                    if not attempts:
                        failures += 1
                        if failures == MAX_RECLAIM_RETRIES:
                            break
                    attempts = 0
                else:
                    ret = self.shrink_memcg(memcgs.mem_cgroup_from_id(mid))
                    if ret != -Errno.ENOENT:
                        attempts += 1
                        if ret:
                            failures += 1
                            if failures == MAX_RECLAIM_RETRIES:
                                break
            if zswap.zswap_total_pages() <= thr:
                break

    def zswap_shrinker_count(self, memcg: MemCgroup | None) -> int:
        """How many entries the memory-pressure shrinker could free for ``memcg``.

        Models: ``zswap_shrinker_count()`` (v6.14, with patch 13's check through
        ``ZswapHost.zswap_writeback_possible``): 0 if the shrinker is disabled, writeback
        is off for the cgroup or impossible; else the LRU length minus the recent disk
        swap-ins (which are consumed), scaled by the pool's compression (``nr_backing /
        nr_stored``) so well-compressed cgroups are shrunk less.
        """
        zswap = self.zswap
        if not zswap.params.shrinker_enabled:
            return 0
        if memcg is not None and not memcg.mem_cgroup_zswap_writeback_enabled():
            return 0
        if not zswap.host.zswap_writeback_possible(memcg):
            return 0
        if zswap.memcgs is not None:
            m = memcg if memcg is not None else zswap.memcgs.root
            nr_backing = m.zswap.usage >> PAGE_SHIFT
            nr_stored = m.memory_stat_value("zswapped_pages")
        else:
            nr_backing = zswap.zswap_total_pages()
            nr_stored = zswap.stored_pages
        if not nr_stored:
            return 0
        key = zswap.lru_key(memcg)
        nr_freeable = zswap.lru.list_lru_count_one(key)
        if not nr_freeable:
            return 0
        swapins = self.nr_disk_swapins.get(key, 0)
        remain = swapins - nr_freeable if swapins > nr_freeable else 0
        self.nr_disk_swapins[key] = remain
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
        if not self.zswap.params.shrinker_enabled or (
                memcg is not None and not memcg.mem_cgroup_zswap_writeback_enabled()):
            return SHRINK_STOP
        freed, _, stopped = self._walk(self.zswap.lru_key(memcg), nr_to_scan, True)
        if stopped or not freed:
            return SHRINK_STOP
        return freed

    # -- LRU protection and cgroup offlining ------------------------------------------------
    def zswap_folio_swapin(self, folio: Folio) -> None:
        """Models: ``zswap_folio_swapin()``: ``nr_disk_swapins`` of the folio's lruvec + 1;
        the shrinker's count subtracts (and consumes) it."""
        key = folio.memcg_id or self.zswap.root_lru_key
        self.nr_disk_swapins[key] = self.nr_disk_swapins.get(key, 0) + 1

    def memcg_offline(self, memcg: MemCgroup) -> None:
        """Models: the cursor step of ``zswap_memcg_offline_cleanup()``: the shrink worker
        must not stop at an offline cgroup."""
        if self.next_shrink == memcg.id:
            self.next_shrink = self.mem_cgroup_iter(memcg.id)
