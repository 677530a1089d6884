"""tmpfs and shmem: files whose pages are swap-backed and swap out into their own page cache.

Models: mm/shmem.c (v6.14) as far as swap is concerned, for file I/O (``read``/``write``/
``ftruncate``/``unlink`` on a tmpfs file and on a ``memfd_create`` file):

* ``shmem_get_folio_gfp()``: a page-cache lookup; a swap entry found there is brought back by
  ``shmem_swapin_folio()``; a hole is filled (``SGP_WRITE``) by
  ``shmem_alloc_and_add_folio()`` (a PMD-size folio when the mount's ``huge=`` and
  ``/sys/kernel/mm/transparent_hugepage/shmem_enabled`` allow it, else order 0), charged to
  the writer's memory cgroup and put on the *anonymous* inactive LRU (shmem folios are
  ``PG_swapbacked``); a read of a hole returns zeros without allocating.
* ``shmem_writepage()`` (reclaim's ``pageout()`` of a shmem folio, called from
  ``shrink_folio_list``): ``folio_alloc_swap`` + ``add_to_swap_cache`` (a large folio that gets
  no swap is split, ``try_split``; an order-0 one is redirtied and activated),
  ``swap_shmem_alloc`` (the mapping's reference on each entry: ``SWAP_MAP_SHMEM`` in classic
  v6.14, an ordinary count under vswap), ``shmem_delete_from_page_cache`` (the page-cache slot
  now holds the swap entry as an XArray value), ``swap_writepage``. Reclaim then frees the
  swap-cache folio as it does an anonymous one.
* ``shmem_swapin_folio()``: the swap cache (or a read through it, with cluster readahead as
  ``shmem_swapin_cluster``), ``shmem_add_to_page_cache``, ``delete_from_swap_cache``,
  ``folio_mark_dirty``, ``swap_free_nr`` (the mapping's reference).
* ``shmem_undo_range()`` (truncate, unlink): resident folios leave the cache and are freed,
  swap entries go through ``shmem_free_swap`` -> ``free_swap_and_cache_nr``.
* ``shmem_unuse()``: classic swapoff's walk of every inode with swapped pages
  (``shmem_swaplist``), ``shmem_find_swap_entries`` comparing the *physical* slot's type
  (patch 05; patch 12 skips entries with no slot), each found page swapped in. Virtual designs
  never call it (patch 16 compiles it out): their swapoff repoints the descriptor and the
  mapping keeps its virtual entry.

The page cache of a file is two parallel arrays indexed by page offset (no Python object per
page): ``pages`` (``array('Q')``) holds 0 for a hole, ``idx << 1 | 1`` for page ``idx`` of the
resident folio in ``folios[i]``, or ``entry << 1`` (even, non-zero) for a swap entry, as
``swp_to_radix_entry`` stores an XArray value. A resident folio holds one page-cache reference
(``mm_pins``) and ``folio.mapping`` / ``folio.index`` name its file and first page.

Invariants (:meth:`ShmemMixin.shmem_check_invariants`): per inode ``alloced == resident +
swapped`` (``info->alloced``, ``info->swapped``), ``swapped`` is the number of swap values in
``pages``; every resident slot's folio names this inode and index and holds the page-cache
pin; the machine's ``NR_SHMEM`` and each memcg's ``shmem`` are the resident pages; a mount's
``used_blocks`` is the sum of its inodes' ``alloced``. Every swap value in a mapping holds one
swap count (checked with the page tables' in :func:`vswap.mm.checks.check_swap_references`).

Left out (docs/shmem.md): ``MAP_SHARED`` mappings of tmpfs files (file I/O only), large
swap entries (a large folio swaps out whole but comes back page by page, as after
``shmem_split_large_entry``), per-size shmem mTHP switches, the skip-swapcache swap-in of
``shmem_swap_alloc_folio``, ``fallocate``, quotas and xattrs, the ``noswap`` mount option.
"""

from __future__ import annotations

from array import array
from collections import Counter
from typing import TYPE_CHECKING, Final

from vswap._mypyc import trait
from vswap.kernel import pagedata
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import HPAGE_PMD_ORDER, PAGE_SHIFT, PAGE_SIZE, SwpEntry, swp_slot_type
from vswap.mm._base import MachineBase

if TYPE_CHECKING:
    from vswap.mm.mm_types import Task

#: ``huge=`` mount option values (``shmem_parse_huge``).
SHMEM_HUGE_MODES: Final = ("never", "always", "within_size", "advise")
#: ``/sys/kernel/mm/transparent_hugepage/shmem_enabled`` values; ``deny`` and ``force`` override
#: every mount (``SHMEM_HUGE_DENY`` / ``SHMEM_HUGE_FORCE``).
SHMEM_ENABLED_MODES: Final = ("always", "within_size", "advise", "never", "deny", "force")
#: The internal mount ``memfd_create`` files live on (``shm_mnt``).
SHM_MNT: Final = "shm_mnt"


class ShmemInode:
    """A tmpfs file: its size and page cache. Models: ``struct inode`` + ``struct
    shmem_inode_info`` (``alloced``, ``swapped``) + ``i_mapping->i_pages``.

    See the module docstring for the ``pages`` / ``folios`` encoding and the invariants.
    """

    __slots__ = ("alloced", "folios", "ino", "linked", "name", "pages", "sb", "size", "swapped")

    def __init__(self, ino: int, name: str, sb: Tmpfs) -> None:
        self.ino = ino
        self.name = name
        self.sb = sb
        #: ``i_size`` in bytes.
        self.size = 0
        self.pages: array[int] = array("Q")
        self.folios: list[Folio | None] = []
        self.alloced = 0
        self.swapped = 0
        #: Still has a name on its mount (memfd files never have one).
        self.linked = True

    def _grow(self, nr: int) -> None:
        if nr > len(self.pages):
            extra = nr - len(self.pages)
            self.pages.extend(array("Q", bytes(8 * extra)))
            self.folios.extend([None] * extra)

    def __repr__(self) -> str:
        return f"ShmemInode({self.sb.path}/{self.name}, {self.size} bytes)"


class Tmpfs:
    """A tmpfs mount. Models: ``struct shmem_sb_info`` (``max_blocks`` from ``size=``,
    ``used_blocks``, ``huge=``) and the directory of its files."""

    __slots__ = ("files", "huge", "max_blocks", "path", "used_blocks")

    def __init__(self, path: str, max_blocks: int, huge: str) -> None:
        self.path = path
        self.max_blocks = max_blocks
        self.used_blocks = 0
        self.huge = huge
        self.files: dict[str, ShmemInode] = {}


@trait
class ShmemMixin(MachineBase):
    """tmpfs files of :class:`~vswap.mm.machine.Machine` (see the module docstring)."""

    # State (assigned in Machine.__init__).
    tmpfs_mounts: dict[str, Tmpfs]
    shmem_inodes: dict[int, ShmemInode]
    shmem_enabled: str
    #: ``NR_SHMEM`` and ``NR_SHMEM_THPS`` in pages; ``shmem`` pages per memcg id.
    nr_shmem: int
    nr_shmem_hugepages: int
    shmem_by_memcg: Counter[int]
    shmem_thp_by_memcg: Counter[int]
    _next_ino: int

    def _shmem_init(self) -> None:
        self.tmpfs_mounts = {}
        self.shmem_inodes = {}
        self.shmem_enabled = "never"
        self.nr_shmem = 0
        self.nr_shmem_hugepages = 0
        self.shmem_by_memcg = Counter()
        self.shmem_thp_by_memcg = Counter()
        self._next_ino = 1
        # The internal mount has no size limit (``shmem_fill_super`` without ``size=``).
        self.tmpfs_mounts[SHM_MNT] = Tmpfs(SHM_MNT, 1 << 62, "never")

    # -- mounts and files ---------------------------------------------------------------------
    def tmpfs_mount(self, path: str, *, size: int | None = None, huge: str = "never") -> Tmpfs:
        """``mount -t tmpfs -o size=SIZE,huge=HUGE tmpfs PATH``; ``size`` None is half of RAM
        (``shmem_default_max_blocks``).

        Raises:
            KernelError(EINVAL): bad ``huge=`` or size; KernelError(EBUSY): already mounted.
        """
        if huge not in SHMEM_HUGE_MODES:
            raise KernelError(Errno.EINVAL, f"tmpfs: bad huge={huge!r} (one of "
                                            f"{', '.join(SHMEM_HUGE_MODES)})")
        path = path.rstrip("/") or "/"
        if path in self.tmpfs_mounts:
            raise KernelError(Errno.EBUSY, f"tmpfs: {path} is already mounted")
        blocks = self.nr_pages // 2 if size is None else size // PAGE_SIZE
        if blocks < 1:
            raise KernelError(Errno.EINVAL, f"tmpfs: size={size} is less than a page")
        sb = self.tmpfs_mounts[path] = Tmpfs(path, blocks, huge)
        return sb

    def _new_inode(self, sb: Tmpfs, name: str) -> ShmemInode:
        inode = ShmemInode(self._next_ino, name, sb)
        self._next_ino += 1
        self.shmem_inodes[inode.ino] = inode
        return inode

    def shmem_open(self, path: str) -> ShmemInode:
        """``open(path, O_RDWR | O_CREAT)`` on a tmpfs mount: the file, created if new.

        Raises:
            KernelError(ENOENT): no tmpfs is mounted above ``path``.
        """
        mnt, _, name = path.rpartition("/")
        sb = self.tmpfs_mounts.get(mnt or "/")
        if sb is None or not name or sb.path == SHM_MNT:
            raise KernelError(Errno.ENOENT, f"open: no tmpfs mounted for {path!r}")
        inode = sb.files.get(name)
        if inode is None:
            inode = sb.files[name] = self._new_inode(sb, name)
        return inode

    def memfd_create(self, name: str) -> ShmemInode:
        """Models: ``memfd_create()``: an unlinked file on the internal mount; it lives until
        :meth:`shmem_close`."""
        inode = self._new_inode(self.tmpfs_mounts[SHM_MNT], f"memfd:{name}")
        inode.linked = False
        return inode

    def shmem_unlink(self, path: str) -> None:
        """``unlink(path)`` with no file descriptor open: ``shmem_evict_inode`` frees the
        pages and swap entries.

        Raises:
            KernelError(ENOENT): no such file.
        """
        mnt, _, name = path.rpartition("/")
        sb = self.tmpfs_mounts.get(mnt or "/")
        inode = sb.files.get(name) if sb is not None else None
        if sb is None or inode is None:
            raise KernelError(Errno.ENOENT, f"unlink: {path!r} does not exist")
        del sb.files[name]
        inode.linked = False
        self.shmem_close(inode)

    def shmem_close(self, inode: ShmemInode) -> None:
        """The last reference to an unlinked file goes (``close`` of a memfd):
        ``shmem_evict_inode`` truncates it to nothing."""
        if inode.linked or inode.ino not in self.shmem_inodes:
            return
        self.op_begin(None)
        try:
            self.shmem_undo_range(inode, 0, len(inode.pages))
            inode.size = 0
            del self.shmem_inodes[inode.ino]
        finally:
            self.op_end()

    def shmem_truncate(self, inode: ShmemInode, size: int) -> None:
        """``ftruncate(fd, size)``. Models: ``shmem_setattr()``: growing sets ``i_size``;
        shrinking frees the pages and swap entries past it (``shmem_truncate_range``); a
        partial last page keeps its bytes up to ``size`` and zeroes the rest.

        Raises:
            KernelError(EINVAL): a negative size.
        """
        if size < 0:
            raise KernelError(Errno.EINVAL, f"ftruncate: negative size {size}")
        self.op_begin(None)
        try:
            if size < inode.size:
                first = (size + PAGE_SIZE - 1) >> PAGE_SHIFT
                self.shmem_undo_range(inode, first, len(inode.pages))
                if size & (PAGE_SIZE - 1):
                    got = self.shmem_get_folio(inode, size >> PAGE_SHIFT, None, False)
                    if got is not None:
                        folio, idx = got
                        keep = size & (PAGE_SIZE - 1)
                        if folio.stride != PAGE_SIZE:
                            pagedata.write_bytes(folio.data, idx, keep, bytes(PAGE_SIZE - keep))
                        else:
                            base = idx * PAGE_SIZE + keep
                            folio.data[base:(idx + 1) * PAGE_SIZE] = bytes(
                                (idx + 1) * PAGE_SIZE - base)
                        folio.dirty = True
                        folio.mm_written = True
            inode.size = size
        finally:
            self.op_end()

    # -- read and write -----------------------------------------------------------------------
    def shmem_write(self, task: Task | None, inode: ShmemInode, offset: int,
                    data: bytes | bytearray | memoryview) -> None:
        """``pwrite(fd, data, offset)``: ``shmem_write_begin`` (``SGP_WRITE``) per page, copy,
        ``shmem_write_end`` (dirty); ``i_size`` grows to the end of the write.

        Raises:
            KernelError: ENOSPC (the mount is full), ENOMEM, EIO (a swap read failed);
            TaskKilled: the OOM killer chose the writer.
        """
        if offset < 0:
            raise KernelError(Errno.EINVAL, f"pwrite: negative offset {offset}")
        self.op_begin(task)
        try:
            mv = memoryview(data).cast("B")
            n = len(mv)
            pos = 0
            while pos < n:
                a = offset + pos
                off = a & (PAGE_SIZE - 1)
                chunk = min(PAGE_SIZE - off, n - pos)
                got = self.shmem_get_folio(inode, a >> PAGE_SHIFT, task, True)
                assert got is not None
                folio, idx = got
                if folio.stride != PAGE_SIZE:
                    pagedata.write_bytes(folio.data, idx, off, mv[pos:pos + chunk])
                else:
                    base = idx * PAGE_SIZE + off
                    folio.data[base:base + chunk] = mv[pos:pos + chunk]
                folio.dirty = True
                folio.mm_written = True
                pos += chunk
                inode.size = max(inode.size, a + chunk)
        finally:
            self.op_end()

    def shmem_read(self, task: Task | None, inode: ShmemInode, offset: int,
                   length: int) -> bytes:
        """``pread(fd, length, offset)``. Models: ``shmem_file_read_iter()``: ``SGP_READ``
        lookups (a swapped page is swapped in; a hole reads as zeros without allocating),
        stopping at ``i_size``.

        Raises:
            KernelError: EIO (a swap read failed), ENOMEM.
        """
        self.op_begin(task)
        try:
            end = min(offset + length, inode.size)
            out = bytearray()
            a = offset
            while a < end:
                off = a & (PAGE_SIZE - 1)
                chunk = min(PAGE_SIZE - off, end - a)
                got = self.shmem_get_folio(inode, a >> PAGE_SHIFT, task, False)
                if got is None:
                    out += bytes(chunk)
                else:
                    folio, idx = got
                    if folio.stride != PAGE_SIZE:
                        out += pagedata.read_bytes(folio.data, idx, off, chunk)
                    else:
                        base = idx * PAGE_SIZE + off
                        out += folio.data[base:base + chunk]
                a += chunk
            return bytes(out)
        finally:
            self.op_end()

    def shmem_get_folio(self, inode: ShmemInode, index: int, task: Task | None,
                        write: bool) -> tuple[Folio, int] | None:
        """Models: ``shmem_get_folio_gfp()``: the folio and page index at ``index``, swapping
        in or (``write``) allocating; None for a hole on a read."""
        v = inode.pages[index] if index < len(inode.pages) else 0
        if v & 1:
            folio = inode.folios[index]
            assert folio is not None
            self.folio_mark_accessed(folio)
            return folio, v >> 1
        if v:
            folio = self.shmem_swapin_folio(inode, index, task)
            v = inode.pages[index]
            return folio, v >> 1
        if not write:
            return None
        folio = self.shmem_alloc_and_add_folio(inode, index, task)
        return folio, index - folio.index

    def folio_mark_accessed(self, folio: Folio) -> None:
        """Models: ``folio_mark_accessed()`` for a file read or write: the first access sets
        ``PG_referenced``, the second activates the folio (``pgactivate``)."""
        if self.exact_reclaim is not None:
            self.exact_reclaim.folio_accessed(folio)
            return
        if not folio.referenced:
            folio.referenced = True
        elif not folio.active and folio.lru:
            self.folio_del_lru(folio)
            folio.active = True
            folio.referenced = False
            self.folio_add_lru(folio)
            self.count_event("pgactivate", folio.nr_pages, folio.memcg_id)

    # -- allocation and the page cache ----------------------------------------------------------
    def shmem_huge_orders(self, inode: ShmemInode, index: int) -> list[int]:
        """Models: ``shmem_allowable_huge_orders()`` for file I/O: the PMD order when
        ``shmem_enabled`` is ``force``, or is not ``deny`` and the mount's ``huge=`` is
        ``always`` (or ``within_size`` with the aligned range inside ``i_size``); else none.
        ``advise`` applies to ``MADV_HUGEPAGE`` mappings only."""
        mode = self.shmem_enabled
        if mode == "deny":
            return []
        huge = "always" if mode == "force" else inode.sb.huge
        if inode.sb.path == SHM_MNT and mode != "force":
            huge = mode  # the internal mount follows shmem_enabled (shmem_huge)
        nr = 1 << HPAGE_PMD_ORDER
        start = index & ~(nr - 1)
        if huge == "always" or (huge == "within_size"
                                and (start + nr) << PAGE_SHIFT <= inode.size):
            return [HPAGE_PMD_ORDER]
        return []

    def shmem_alloc_and_add_folio(self, inode: ShmemInode, index: int,
                                  task: Task | None) -> Folio:
        """Models: ``shmem_alloc_and_add_folio()``: a huge folio if allowed and its aligned
        range is a hole (``thp_file_alloc``; ``thp_file_fallback`` and the per-size
        ``shmem_fallback`` when it cannot be had), else order 0; ``shmem_inode_acct_blocks``
        against the mount's size; charged to the writer's cgroup; added to the page cache and
        the inactive anonymous LRU.

        Raises:
            KernelError(ENOSPC): the mount is full; KernelError(ENOMEM): no memory.
        """
        memcg = task.memcg if task is not None else self.memcgs.root
        sb = inode.sb
        folio = None
        for order in self.shmem_huge_orders(inode, index):
            nr = 1 << order
            start = index & ~(nr - 1)
            inode._grow(start + nr)
            if any(inode.pages[start:start + nr]) or sb.used_blocks + nr > sb.max_blocks:
                continue
            folio = self.alloc_folio(order, memcg, task, may_reclaim=False)
            if folio is not None and any(inode.pages[start:start + nr]):
                self.free_folio(folio)
                folio = None
            if folio is None:
                self.count_event("thp_file_fallback", 1, memcg.id)
                self.count_mthp_stat(order, "shmem_fallback")
                continue
            self.count_event("thp_file_alloc", 1, memcg.id)
            self.count_mthp_stat(order, "shmem_alloc")
            break
        if folio is None:
            if sb.used_blocks + 1 > sb.max_blocks:
                raise KernelError(Errno.ENOSPC, f"tmpfs {sb.path}: no space left on device")
            folio = self.alloc_folio(0, memcg, task, may_reclaim=True)
            if folio is None:
                raise KernelError(Errno.ENOMEM, f"shmem: no memory for {inode!r} page {index}")
            inode._grow(index + 1)
            if inode.pages[index]:
                # Cannot happen without concurrency; keep the kernel's -EEXIST recheck.
                self.free_folio(folio)
                raise KernelError(Errno.EEXIST, f"shmem: {inode!r} page {index} raced")
            start = index
        else:
            start = index & ~(folio.nr_pages - 1)
        folio.dirty = True
        folio.mm_written = True
        self._shmem_add_to_page_cache(folio, inode, start)
        inode.alloced += folio.nr_pages
        sb.used_blocks += folio.nr_pages
        self.folio_add_lru(folio)
        return folio

    def _shmem_add_to_page_cache(self, folio: Folio, inode: ShmemInode, start: int) -> None:
        """Models: ``shmem_add_to_page_cache()``: the folio takes its slots and a page-cache
        reference; ``NR_SHMEM`` (and ``NR_SHMEM_THPS``) and the cgroup's ``shmem`` grow."""
        nr = folio.nr_pages
        for k in range(nr):
            inode.pages[start + k] = k << 1 | 1
            inode.folios[start + k] = folio
        folio.mapping = inode
        folio.index = start
        folio.mm_pins += 1
        self.nr_shmem += nr
        if folio.order == HPAGE_PMD_ORDER:
            self.nr_shmem_hugepages += nr
            self.shmem_thp_by_memcg[folio.memcg_id] += nr
        self.shmem_by_memcg[folio.memcg_id] += nr

    def _shmem_delete_from_page_cache(self, folio: Folio) -> ShmemInode:
        """Models: the accounting half of ``shmem_delete_from_page_cache()``: the folio leaves
        its file (the caller fills the slots) and drops the page-cache reference."""
        inode = folio.mapping
        assert isinstance(inode, ShmemInode)
        nr = folio.nr_pages
        folio.mapping = None
        folio.mm_pins -= 1
        self.nr_shmem -= nr
        if folio.order == HPAGE_PMD_ORDER:
            self.nr_shmem_hugepages -= nr
            self.shmem_thp_by_memcg[folio.memcg_id] -= nr
        self.shmem_by_memcg[folio.memcg_id] -= nr
        return inode

    # -- swap-out: pageout() of a shmem folio ---------------------------------------------------
    def shmem_writeout(self, folio: Folio, folios: list[Folio]) -> bool:
        """Reclaim's ``pageout()`` of an isolated, locked shmem folio: ``shmem_writepage()``.

        Returns True when the folio went to swap and is locked again, unmapped and clean,
        for ``__remove_mapping``; False when it was dealt with here (activated and put back:
        ``redirty`` / ``AOP_WRITEPAGE_ACTIVATE``; split into order-0 folios appended to
        ``folios``; or left under writeback).
        """
        if not self.add_to_swap(folio):
            if folio.order:
                # try_split: the pages are still dirty; each goes through reclaim on its own.
                order = folio.order
                if order == self.HPAGE_PMD_ORDER:
                    self.count_event("thp_swpout_fallback", 1, folio.memcg_id)
                self.count_mthp_stat(order, "swpout_fallback")
                folios.extend(self.shmem_split_folio(folio, isolated=True))
                return False
            self._activate_locked(folio)
            return False
        entry = folio.swap
        nr = folio.nr_pages
        self.design.swap_shmem_alloc(entry, nr)
        inode = self._shmem_delete_from_page_cache(folio)
        start = folio.index
        for k in range(nr):
            inode.pages[start + k] = (entry + k) << 1
            inode.folios[start + k] = None
        inode.swapped += nr
        folio.dirty = False
        ret = self.design.swap_writepage(folio)
        if ret:
            # AOP_WRITEPAGE_ACTIVATE: kept dirty in the swap cache; the mapping keeps the entry.
            if folio.folio_trylock():
                self._activate_locked(folio)
            else:
                folio.active = True
                self.folio_putback_lru(folio)
            return False
        if folio.order:
            self.count_mthp_stat(folio.order, "swpout")
        if folio.swapcache:
            self.nr_swapout_pages += nr
        if folio.writeback or folio.dirty or not folio.folio_trylock():
            self.folio_putback_lru(folio)
            return False
        return True

    def shmem_split_folio(self, folio: Folio, *, isolated: bool) -> list[Folio]:
        """Split a large, unmapped shmem folio into order-0 folios in the page cache.

        Models: ``split_huge_page_to_list_to_order(page, list, 0)`` of a shmem folio: each page
        keeps its bytes, flags, memcg charge and page-cache slot. ``isolated``: the folio is
        locked and isolated by reclaim; the new folios come back isolated (one pin each) for
        reclaim's list. Otherwise they replace it on the LRU. Counts ``split`` and
        ``thp_split_page``.
        """
        inode = self._shmem_delete_from_page_cache(folio)
        start = folio.index
        was_lru = folio.lru
        if was_lru:
            self.folio_del_lru(folio)
        news = []
        s = folio.stride  # PAGE_SIZE, or a token in compact mode
        for k in range(folio.nr_pages):
            new = Folio(0, folio.data[k * s:(k + 1) * s], folio.memcg_id)
            new.dirty = True
            new.active = folio.active
            new.workingset = folio.workingset
            new.mm_written = folio.mm_written
            new.mm_charged = PAGE_SIZE
            if isolated:
                new.mm_pins = 1
            self._shmem_add_to_page_cache(new, inode, start + k)
            if not isolated:
                self.folio_add_lru(new)
            news.append(new)
        self.count_mthp_stat(folio.order, "split")
        if folio.order == HPAGE_PMD_ORDER:
            self.count_event("thp_split_page", 1, folio.memcg_id)
        folio.mm_charged = 0
        folio.mm_pins = 0
        if folio.locked:
            folio.folio_unlock()
        return news

    # -- swap-in ------------------------------------------------------------------------------
    def shmem_swapin_folio(self, inode: ShmemInode, index: int, task: Task | None) -> Folio:
        """Bring the page at ``index`` back from swap into the page cache.

        Models: ``shmem_swapin_folio()``: the swap cache, or ``shmem_swapin_cluster`` (a read
        through the swap cache with cluster readahead); the folio replaces the entry in the
        mapping (``shmem_add_to_page_cache``), leaves the swap cache
        (``delete_from_swap_cache``), is dirtied, and the mapping's reference is dropped
        (``swap_free_nr``). A large swap-cache folio whose entries the mapping still holds
        in order comes back whole; otherwise the page is copied into an order-0 folio.

        Raises:
            KernelError(EIO): the read failed; KernelError(ENOMEM): no memory for the folio.
        """
        design = self.design
        entry = SwpEntry(inode.pages[index] >> 1)
        folio = design.swap_cache_get_folio(entry)
        if folio is not None:
            if folio.readahead:
                folio.readahead = False
                self.count_event("swap_ra_hit", 1, 0)
                self.swapin_readahead_hits += 1
            if folio.uptodate and not folio.mm_written:
                self.oracle_verify(folio, entry - folio.swap, entry, task, index, "swapcache")
        else:
            memcg_id = design.lookup_swap_cgroup_id(entry)
            memcg = self.memcgs.mem_cgroup_from_id(memcg_id) if memcg_id else None
            if memcg is None or memcg.id not in self.lruvecs:
                memcg = task.memcg if task is not None else self.memcgs.root
            self.charge_prepare(memcg, 1, task)
            folio = self.swapin_one(entry, task, index, None)
            if folio is not None and folio.uptodate and self.page_cluster:
                self.swap_cluster_readahead(entry, task, index)
        if folio is None:
            raise KernelError(Errno.ENOMEM, f"shmem: no memory to swap in {inode!r} page "
                                            f"{index}")
        if not folio.uptodate or not folio.swapcache:
            raise KernelError(Errno.EIO, f"shmem: swap read of {inode!r} page {index} "
                                         f"(entry {entry:#x}) failed")
        nr = folio.nr_pages
        start = index - (entry - folio.swap)
        whole = start >= 0 and start + nr <= len(inode.pages) and all(
            inode.pages[start + k] == (folio.swap + k) << 1 for k in range(nr))
        if not whole:
            return self._shmem_swapin_copy(inode, index, entry, folio, task)
        self._shmem_add_to_page_cache(folio, inode, start)
        # The kernel deletes from the swap cache, then drops the mapping's references; the
        # model drops the references first and frees the swap with folio_free_swap (the same
        # end state), so that a design never sees a referenced entry lose its cached folio.
        design.swap_free_nr(SwpEntry(folio.swap), nr)
        inode.swapped -= nr
        if not folio.folio_trylock():
            raise KernelError(Errno.EBUSY, f"shmem: swap-cache folio of {entry:#x} is locked")
        try:
            design.folio_free_swap(folio)
        finally:
            folio.folio_unlock()
        folio.dirty = True
        if not folio.lru and folio.mm_charged:
            self.folio_add_lru(folio)
        return folio

    def _shmem_swapin_copy(self, inode: ShmemInode, index: int, entry: SwpEntry,
                           cached: Folio, task: Task | None) -> Folio:
        """A page whose swap-cache folio cannot come back whole: copy it into a new order-0
        folio and drop the mapping's reference on its entry."""
        memcg = self.memcgs.mem_cgroup_from_id(cached.memcg_id) or self.memcgs.root
        cached.mm_pins += 1
        try:
            folio = self.alloc_folio(0, memcg, task, may_reclaim=True)
        finally:
            cached.mm_pins -= 1
        if folio is None or inode.pages[index] != entry << 1:
            if folio is not None:
                self.free_folio(folio)
            raise KernelError(Errno.ENOMEM, f"shmem: no memory to swap in {inode!r} page "
                                            f"{index}")
        k = entry - cached.swap
        s = len(folio.data)  # PAGE_SIZE, or a token in compact mode
        folio.data[:] = cached.data[k * s:(k + 1) * s]
        folio.dirty = True
        self._shmem_add_to_page_cache(folio, inode, index)
        self.design.swap_free_nr(entry, 1)
        inode.swapped -= 1
        self.folio_add_lru(folio)
        return folio

    # -- truncation ---------------------------------------------------------------------------
    def shmem_undo_range(self, inode: ShmemInode, start: int, end: int) -> None:
        """Models: ``shmem_undo_range()``: free the folios and swap entries of pages
        ``[start, end)`` (a large folio reaching outside the range is split first);
        ``shmem_free_swap`` drops each entry with ``free_swap_and_cache_nr``."""
        end = min(end, len(inode.pages))
        freed = 0
        i = start
        while i < end:
            v = inode.pages[i]
            if not v:
                i += 1
                continue
            if not v & 1:
                self.design.free_swap_and_cache_nr(SwpEntry(v >> 1), 1)
                inode.pages[i] = 0
                inode.swapped -= 1
                freed += 1
                i += 1
                continue
            folio = inode.folios[i]
            assert folio is not None
            if folio.index < start or folio.index + folio.nr_pages > end:
                self.shmem_split_folio(folio, isolated=False)
                continue
            self._shmem_delete_from_page_cache(folio)
            for k in range(folio.nr_pages):
                inode.pages[folio.index + k] = 0
                inode.folios[folio.index + k] = None
            freed += folio.nr_pages
            i = folio.index + folio.nr_pages
            self.maybe_free_folio(folio)
        inode.alloced -= freed
        inode.sb.used_blocks -= freed
        if start == 0 and end >= len(inode.pages):
            inode.pages = array("Q")
            inode.folios = []
        self.reap_folios()

    # -- swapoff ------------------------------------------------------------------------------
    def shmem_unuse(self, type_: int) -> int:
        """Swap in every page of device ``type_`` that a tmpfs file holds an entry for.

        Models: ``shmem_unuse()`` -> ``shmem_unuse_inode()`` -> ``shmem_find_swap_entries()``
        (the physical slot's type, patch 05; no slot, patch 12: skipped) and
        ``shmem_unuse_swap_entries()`` -> ``shmem_swapin_folio()`` over every inode with
        swapped pages, in the order they were created (``shmem_swaplist``). Stops on a
        pending signal or a failed swap-in (swapoff then finds slots still in use). Returns
        the mapping slots visited.
        """
        design = self.design
        visited = 0
        for inode in list(self.shmem_inodes.values()):
            if not inode.swapped:
                continue
            if self.signal_pending():
                break
            pages = inode.pages
            visited += len(pages)
            self.tracer.pte_walk(len(pages))
            for i in range(len(pages)):
                v = pages[i]
                if not v or v & 1:
                    continue
                slot = design.swp_entry_to_swp_slot(SwpEntry(v >> 1))
                if not slot or swp_slot_type(slot) != type_:
                    continue
                try:
                    self.shmem_swapin_folio(inode, i, None)
                except KernelError:
                    return visited
        return visited

    # -- views and checks ---------------------------------------------------------------------
    def shmem_memcg_pages(self, ids: set[int]) -> int:
        """Resident shmem pages charged to the cgroups ``ids`` (memory.stat ``shmem``)."""
        return sum(n for memcg_id, n in self.shmem_by_memcg.items() if memcg_id in ids)

    def shmem_memcg_thp_pages(self, ids: set[int]) -> int:
        """Pages of resident PMD-size shmem folios of the cgroups ``ids`` (``shmem_thp``)."""
        return sum(n for memcg_id, n in self.shmem_thp_by_memcg.items() if memcg_id in ids)

    def shmem_files(self) -> list[dict[str, object]]:
        """Every tmpfs file: mount, name, size, pages resident and swapped (``info->swapped``,
        what ``/proc/<pid>/smaps`` shows as ``Swap`` for a shmem mapping)."""
        return [{"mount": i.sb.path, "name": i.name, "size": i.size,
                 "resident": i.alloced - i.swapped, "swapped": i.swapped}
                for i in self.shmem_inodes.values()]

    def shmem_swap_refs(self) -> Counter[int]:
        """Swap entries held by tmpfs mappings (one reference each)."""
        refs: Counter[int] = Counter()
        for inode in self.shmem_inodes.values():
            if inode.swapped:
                for v in inode.pages:
                    if v and not v & 1:
                        refs[v >> 1] += 1
        return refs

    def shmem_check_invariants(self) -> None:
        """Raise AssertionError unless the invariants of the module docstring hold."""
        total = 0
        per_memcg: Counter[int] = Counter()
        used: Counter[str] = Counter()
        for inode in self.shmem_inodes.values():
            resident = swapped = 0
            for i, v in enumerate(inode.pages):
                f = inode.folios[i]
                if v & 1:
                    assert f is not None and f.mapping is inode, f"{inode!r} page {i}: folio"
                    assert f.index == i - (v >> 1), f"{inode!r} page {i}: folio index"
                    assert f.mm_pins >= 1 and f.mm_charged, f"{inode!r} page {i}: {f!r} freed"
                    resident += 1
                    if f.index == i:
                        per_memcg[f.memcg_id] += f.nr_pages
                else:
                    assert f is None, f"{inode!r} page {i}: folio in a non-resident slot"
                    swapped += v != 0
            assert swapped == inode.swapped, f"{inode!r}: swapped {inode.swapped} != {swapped}"
            assert resident + swapped == inode.alloced, (
                f"{inode!r}: alloced {inode.alloced} != {resident} + {swapped}")
            total += resident
            used[inode.sb.path] += inode.alloced
        assert total == self.nr_shmem, f"NR_SHMEM {self.nr_shmem} != {total} resident"
        for memcg_id, n in self.shmem_by_memcg.items():
            assert per_memcg[memcg_id] == n, f"memcg {memcg_id}: shmem {n} != {per_memcg[memcg_id]}"
        for sb in self.tmpfs_mounts.values():
            assert sb.used_blocks == used[sb.path], (
                f"tmpfs {sb.path}: used_blocks {sb.used_blocks} != {used[sb.path]}")
