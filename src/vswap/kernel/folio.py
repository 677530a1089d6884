"""Folios: the unit that is swapped out and in.

Models: ``struct folio`` (include/linux/mm_types.h) as far as the swap paths use it: the page
contents, the order (0..9: base pages, mTHP, PMD THP), the swap entry in ``folio->swap`` while
the folio is in the swap cache, the memcg owner, and the page flags the swap code tests.

Invariants (checked by :meth:`Folio.check_invariants`):

* ``len(data) == PAGE_SIZE << order``: a folio always holds real bytes; in compact page-data
  mode (:mod:`vswap.kernel.pagedata`) ``len(data) == 8 << order``, one token per page.
* ``swapcache`` is set iff ``swap != 0`` (``folio_test_swapcache`` / ``folio->swap``).
* ``writeback`` implies ``locked`` was held when it was set; it is cleared at I/O completion.
"""

from __future__ import annotations

from typing import Final

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.pagedata import PAGE_DATA, TOKEN_BYTES, is_zero_token, tok_of
from vswap.kernel.types import HPAGE_PMD_ORDER, NO_ENTRY, PAGE_SIZE, SwpEntry

_ZERO_PAGE: Final = bytes(PAGE_SIZE)


class Folio:
    """An anonymous folio of ``1 << order`` pages with real contents.

    The flags are plain booleans (``PG_locked``, ``PG_dirty``, ``PG_swapcache``,
    ``PG_writeback``, ``PG_uptodate``, ``PG_referenced``, ``PG_active``,
    ``PG_swapbacked``); ``swap`` is ``folio->swap`` and ``memcg_id`` the owning cgroup's id
    (0: none).
    """

    __slots__ = (
        "active",
        "data",
        "dirty",
        "index",
        "locked",
        "lru",
        "mapcount",
        "mapping",
        "memcg_id",
        "mm_charged",
        "mm_pins",
        "mm_written",
        "nr_pages",
        "order",
        "readahead",
        "referenced",
        "rmap",
        "swap",
        "swapbacked",
        "swapcache",
        "uptodate",
        "workingset",
        "writeback",
    )

    def __init__(self, order: int = 0, data: bytes | bytearray | None = None,
                 memcg_id: int = 0) -> None:
        if not 0 <= order <= HPAGE_PMD_ORDER:
            raise KernelError(Errno.EINVAL, f"folio order {order} outside 0..{HPAGE_PMD_ORDER}")
        size = PAGE_DATA.stride << order
        if data is None:
            self.data = bytearray(size)
        else:
            if len(data) != size and len(data) != PAGE_SIZE << order:
                raise KernelError(Errno.EINVAL,
                                  f"folio of order {order} needs {size} bytes, got {len(data)}")
            self.data = bytearray(data)
        self.order = order
        #: ``folio_nr_pages()``: ``1 << order``, a plain attribute (read several times per
        #: page on every swap path; the order never changes after allocation: a split makes
        #: new folios).
        self.nr_pages = 1 << order
        self.swap: SwpEntry = NO_ENTRY
        self.memcg_id = memcg_id
        self.locked = False
        self.dirty = False
        self.swapcache = False
        self.writeback = False
        self.uptodate = data is not None
        self.referenced = False
        self.active = False
        self.swapbacked = True
        self.lru = False
        self.workingset = False
        self.mapcount: int = 0
        # -- memory-manager model fields (vswap.mm) ------------------------------------
        #: Reverse map: one ``mm_id << 36 | vpn`` key per PTE mapping a page of this folio
        #: (``mapcount == len(rmap)``); see vswap.mm.rmap.
        self.rmap: list[int] = []
        #: Bytes charged to ``memory`` by the mm model (0: not mm-accounted / freed).
        self.mm_charged = 0
        #: References the mm model holds besides mappings and the swap cache: isolation from
        #: the LRU by reclaim, a fault in progress (``folio_get``/``folio_isolate_lru``).
        self.mm_pins = 0
        #: A task wrote to the folio since its contents were last recorded in the integrity
        #: oracle (the swap copy, if any, is stale).
        self.mm_written = False
        #: ``PG_readahead``: brought in by swap readahead and not used yet (``swap_ra_hit``).
        self.readahead = False
        #: ``folio->mapping`` / ``folio->index`` of a shmem (tmpfs) folio in its file's page
        #: cache (``vswap.mm.shmem``): the inode and the page offset of the folio's first page;
        #: None for anonymous folios and for a shmem folio moved to the swap cache.
        self.mapping: object | None = None
        self.index = 0

    def page(self, i: int) -> memoryview:
        """The bytes of page ``i`` of the folio (a writable view; its token in compact mode)."""
        s = len(self.data) >> self.order
        return memoryview(self.data)[i * s:(i + 1) * s]

    @property
    def stride(self) -> int:
        """Bytes the folio keeps per page: ``PAGE_SIZE``, or 8 in compact mode."""
        return len(self.data) >> self.order

    def page_is_zero(self, i: int) -> bool:
        """Models: ``is_folio_zero_filled()`` for one page (page_io.c)."""
        data = self.data
        if len(data) == TOKEN_BYTES << self.order:
            return is_zero_token(tok_of(data, i))
        return data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE] == _ZERO_PAGE

    def folio_lock(self) -> None:
        """Models: ``folio_lock()``; the model is single-threaded per step, so it must be free."""
        if self.locked:
            raise KernelError(Errno.EDEADLK, "folio_lock: folio already locked (would deadlock)")
        self.locked = True

    def folio_trylock(self) -> bool:
        """Models: ``folio_trylock()``."""
        if self.locked:
            return False
        self.locked = True
        return True

    def folio_unlock(self) -> None:
        """Models: ``folio_unlock()``."""
        if not self.locked:
            # pthread_mutex_unlock() of a mutex the caller does not hold is EPERM.
            raise KernelError(Errno.EPERM, "folio_unlock: folio not locked")
        self.locked = False

    def check_invariants(self) -> None:
        """Raise AssertionError if a folio invariant (module docstring) does not hold."""
        assert len(self.data) in (PAGE_SIZE << self.order, TOKEN_BYTES << self.order), \
            "folio data size"
        assert self.swapcache == (self.swap != 0), "PG_swapcache iff folio->swap"

    def __repr__(self) -> str:
        flags = [name for name in ("locked", "dirty", "swapcache", "writeback", "uptodate")
                 if getattr(self, name)]
        return f"Folio(order={self.order}, swap={self.swap:#x}, {'|'.join(flags) or '-'})"
