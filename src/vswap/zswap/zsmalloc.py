"""The zsmalloc allocator: size classes, zspages, fullness groups and handles, with real bytes.

Models: mm/zsmalloc.c (v6.14, ``CONFIG_ZSMALLOC_CHAIN_SIZE`` = 8). zswap stores each compressed
page as one zsmalloc object; ``pool_total_size`` is ``zs_get_total_pages() * PAGE_SIZE``, so the
packing below is what makes the pool's footprint (and its fragmentation) real.

Layout facts reproduced:

* Object sizes are rounded up to a *size class*: ``ZS_MIN_ALLOC_SIZE`` (32) plus multiples of
  ``ZS_SIZE_CLASS_DELTA`` (``PAGE_SIZE >> 8`` = 16) up to ``PAGE_SIZE``: 255 class indices.
  ``zs_malloc`` adds ``ZS_HANDLE_SIZE`` (8 bytes, the handle kept in the object's header)
  before looking the class up.
* A class packs its objects into *zspages* of 1..``ZS_MAX_PAGES_PER_ZSPAGE`` 0-order pages;
  the chain length minimises the tail waste (``calculate_zspage_chain_size``; a power-of-two
  size takes one page). Classes with the same pages-per-zspage and objects-per-zspage are
  merged into the larger one (``can_merge``), so several indices share one class.
* A class whose zspage is one page holding one object is *huge*: the object has no header.
* Each zspage sits in one of 12 *fullness groups* by the share of its objects in use (0, 1-10,
  ..., 91-99, 100 %). Allocation takes the first zspage of the fullest non-full group
  (``find_get_zspage``); a new zspage is allocated only when none has room. Lists insert at the
  head. Inside a zspage free objects form a LIFO list, initially in index order.
* Freeing the last object of a zspage frees the zspage immediately (``free_zspage``).
* ``zs_compact`` migrates objects from the emptiest zspages into the fullest (the zsmalloc
  shrinker's job), which is how the kernel wins back fragmentation.

State machine of a zspage (``zs_fullness`` below):

=============  ============================================  ===========================
group          meaning                                       transitions
=============  ============================================  ===========================
0              no object in use: only transient, freed        -> freed (``free_zspage``)
1 .. 10        1..99 % in use (``ratio // 10 + 1``)           <-> any group on malloc/free
11 (100 %)     full, never chosen for allocation             -> 10 or lower on free
=============  ============================================  ===========================

Representation (struct of arrays, STYLE point 6): per handle, the zspage id and object index
live in ``array`` columns; per zspage, its class, in-use count and fullness group in columns,
its free-object stack in a small ``array('H')`` and its bytes in one ``bytearray`` of
``pages_per_zspage * PAGE_SIZE``. The compressed bytes therefore live exactly where zsmalloc
would put them, and no Python object exists per stored object.

Errors follow ``zs_malloc``: it returns a handle (> 0) or a negative errno: ``-EINVAL`` for a
zero size, ``-ENOSPC`` above ``ZS_MAX_ALLOC_SIZE``, ``-ENOMEM`` when the page allocator (here:
the optional ``max_pages`` budget) refuses a new zspage.
"""

from __future__ import annotations

from array import array
from collections import Counter
from dataclasses import dataclass
from typing import Final

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.pagedata import PAGE_DATA
from vswap.kernel.types import PAGE_SIZE

# -- constants (mm/zsmalloc.c) ---------------------------------------------------------------
ZS_ALIGN: Final = 8
#: ``sizeof(unsigned long)``: the handle stored at the start of every non-huge object.
ZS_HANDLE_SIZE: Final = 8
#: ``CONFIG_ZSMALLOC_CHAIN_SIZE`` default (mm/Kconfig): up to 8 pages per zspage.
CONFIG_ZSMALLOC_CHAIN_SIZE: Final = 8
ZS_MAX_PAGES_PER_ZSPAGE: Final = CONFIG_ZSMALLOC_CHAIN_SIZE
#: ``MAX(32, ZS_MAX_PAGES_PER_ZSPAGE << PAGE_SHIFT >> OBJ_INDEX_BITS)`` = 32 on x86-64.
ZS_MIN_ALLOC_SIZE: Final = 32
ZS_MAX_ALLOC_SIZE: Final = PAGE_SIZE
CLASS_BITS: Final = 8
ZS_SIZE_CLASS_DELTA: Final = PAGE_SIZE >> CLASS_BITS
ZS_SIZE_CLASSES: Final = -(-(ZS_MAX_ALLOC_SIZE - ZS_MIN_ALLOC_SIZE) // ZS_SIZE_CLASS_DELTA) + 1
ZS_INUSE_RATIO_0: Final = 0
ZS_INUSE_RATIO_10: Final = 1
ZS_INUSE_RATIO_99: Final = 10
ZS_INUSE_RATIO_100: Final = 11
NR_FULLNESS_GROUPS: Final = 12
#: ``struct zspage`` by layout: bitfields 4, inuse 4, freeobj 4 (+4 pad), first_page 8,
#: list_head 16, pool 8, rwlock_t 8 = 56 bytes (inferred from the v6.14 definition).
ZSPAGE_STRUCT_BYTES: Final = 56

assert ZS_SIZE_CLASSES == 255
assert ZS_MIN_ALLOC_SIZE % ZS_ALIGN == 0 and ZS_SIZE_CLASS_DELTA % ZS_ALIGN == 0


def calculate_zspage_chain_size(class_size: int,
                                max_pages: int = ZS_MAX_PAGES_PER_ZSPAGE) -> int:
    """Pages per zspage for ``class_size``: the chain length with the least tail waste.

    Models: ``calculate_zspage_chain_size()`` (mm/zsmalloc.c). Ties keep the shorter chain;
    a power-of-two size wastes nothing in one page.
    """
    if class_size & (class_size - 1) == 0:
        return 1
    best, min_waste = 1, None
    for i in range(1, max_pages + 1):
        waste = (i * PAGE_SIZE) % class_size
        if min_waste is None or waste < min_waste:
            min_waste, best = waste, i
    return best


def get_size_class_index(size: int) -> int:
    """Models: ``get_size_class_index()``: the class index for an allocation of ``size``."""
    idx = 0
    if size > ZS_MIN_ALLOC_SIZE:
        idx = -(-(size - ZS_MIN_ALLOC_SIZE) // ZS_SIZE_CLASS_DELTA)
    return min(ZS_SIZE_CLASSES - 1, idx)


@dataclass(frozen=True, slots=True)
class SizeClassSpec:
    """One distinct size class (``struct size_class`` minus its lists and stats)."""

    index: int
    size: int
    pages_per_zspage: int
    objs_per_zspage: int

    @property
    def huge(self) -> bool:
        """One object in a one-page zspage: stored without the handle header (``ZsHugePage``)."""
        return self.pages_per_zspage == 1 and self.objs_per_zspage == 1


def build_size_classes(chain_size: int = CONFIG_ZSMALLOC_CHAIN_SIZE
                       ) -> tuple[dict[int, SizeClassSpec], list[int]]:
    """The pool's classes, as ``zs_create_pool`` builds them.

    Returns:
        ``(classes, index_map)``: the distinct classes by their own index, and for every
        class index 0..ZS_SIZE_CLASSES-1 the index of the class that serves it (merged
        indices point at the larger class above them).
    """
    classes: dict[int, SizeClassSpec] = {}
    index_map = [0] * ZS_SIZE_CLASSES
    prev: SizeClassSpec | None = None
    for i in range(ZS_SIZE_CLASSES - 1, -1, -1):
        size = min(ZS_MIN_ALLOC_SIZE + i * ZS_SIZE_CLASS_DELTA, ZS_MAX_ALLOC_SIZE)
        ppz = calculate_zspage_chain_size(size, chain_size)
        opz = ppz * PAGE_SIZE // size
        if prev is not None and prev.pages_per_zspage == ppz and prev.objs_per_zspage == opz:
            index_map[i] = prev.index
            continue
        prev = SizeClassSpec(i, size, ppz, opz)
        classes[i] = prev
        index_map[i] = i
    return classes, index_map


def huge_class_size(chain_size: int = CONFIG_ZSMALLOC_CHAIN_SIZE) -> int:
    """Models: ``zs_huge_class_size()``: objects this big or bigger get a page of their own."""
    classes, _ = build_size_classes(chain_size)
    for i in sorted(classes, reverse=True):
        c = classes[i]
        if c.pages_per_zspage != 1 and c.objs_per_zspage != 1:
            return c.size - (ZS_HANDLE_SIZE - 1)
    return ZS_MAX_ALLOC_SIZE  # pragma: no cover - every chain size has a non-huge class


class _SizeClass:
    """Live state of one distinct class: fullness lists and object statistics."""

    __slots__ = ("fullness", "hdr", "objs_allocated", "objs_inuse", "objs_per_zspage",
                 "size", "spec", "zspages")

    def __init__(self, spec: SizeClassSpec) -> None:
        self.spec = spec
        self.objs_per_zspage = spec.objs_per_zspage
        #: Object stride and where its payload starts (huge objects have no handle header).
        self.size = spec.size
        self.hdr = 0 if spec.huge else ZS_HANDLE_SIZE
        # One insertion-ordered dict per group; the *last* key is the list head (list_add).
        self.fullness: list[dict[int, None]] = [{} for _ in range(NR_FULLNESS_GROUPS)]
        self.objs_allocated = 0
        self.objs_inuse = 0
        self.zspages = 0


@dataclass(frozen=True, slots=True)
class ZsPoolStats:
    """A snapshot of one pool (``zs_pool_stats`` plus the debugfs ``classes`` totals)."""

    pages_allocated: int
    objs_allocated: int
    objs_inuse: int
    zspages: int
    pages_compacted: int


class ZsPool:
    """A zsmalloc pool holding real object bytes.

    ``max_pages`` (default: unlimited) is the number of 0-order pages the page allocator will
    hand to this pool; past it ``zs_malloc`` fails with ``-ENOMEM`` as ``alloc_page`` would.
    """

    def __init__(self, name: str = "zswap", *, chain_size: int = CONFIG_ZSMALLOC_CHAIN_SIZE,
                 max_pages: int | None = None) -> None:
        if not 1 <= chain_size <= 16:
            raise KernelError(Errno.EINVAL, f"zsmalloc chain size {chain_size} outside 1..16")
        self.name = name
        self.max_pages = max_pages
        specs, index_map = build_size_classes(chain_size)
        self._classes: dict[int, _SizeClass] = {i: _SizeClass(s) for i, s in specs.items()}
        # Allocation size (object + handle header) -> live class; sizes 0..PAGE_SIZE+HANDLE.
        self._class_for_size: list[_SizeClass] = [
            self._classes[index_map[get_size_class_index(n + ZS_HANDLE_SIZE)]]
            for n in range(ZS_MAX_ALLOC_SIZE + 1)]
        self.pages_allocated = 0
        self.pages_compacted = 0
        # Per zspage (id >= 1): class index, objects in use, fullness group, free stack, bytes.
        self._zs_class = array("H", [0])
        self._zs_inuse = array("H", [0])
        self._zs_fullness = array("B", [0])
        self._zs_free: list[array[int] | None] = [None]
        self._zs_buf: list[bytearray | None] = [None]
        self._zs_free_ids: list[int] = []
        # Per handle (id >= 1; 0 is never a valid handle): zspage id and object index.
        self._h_zspage = array("I", [0])
        self._h_obj = array("H", [0])
        self._h_free: list[int] = []
        self.nr_handles = 0
        #: Compact page data (vswap.kernel.pagedata): no zspage bytes; each object is the
        #: 8-byte token of its page, kept per handle.
        self.compact = PAGE_DATA.compact
        self._h_tok = array("Q", [0])

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _fullness_group(inuse: int, objs: int) -> int:
        """Models: ``get_fullness_group()``."""
        if inuse == 0:
            return ZS_INUSE_RATIO_0
        if inuse == objs:
            return ZS_INUSE_RATIO_100
        return (100 * inuse // objs) // 10 + 1

    def _alloc_zspage(self, cls: _SizeClass) -> int:
        """Models: ``alloc_zspage()``: 0 when the page budget is exhausted (``-ENOMEM``)."""
        spec = cls.spec
        if self.max_pages is not None and (
                self.pages_allocated + spec.pages_per_zspage > self.max_pages):
            return 0
        free = array("H", range(spec.objs_per_zspage - 1, -1, -1))  # pop() yields 0 first
        buf = None if self.compact else bytearray(spec.pages_per_zspage * PAGE_SIZE)
        if self._zs_free_ids:
            zid = self._zs_free_ids.pop()
            self._zs_class[zid] = spec.index
            self._zs_inuse[zid] = 0
            self._zs_fullness[zid] = ZS_INUSE_RATIO_0
            self._zs_free[zid] = free
            self._zs_buf[zid] = buf
        else:
            zid = len(self._zs_class)
            self._zs_class.append(spec.index)
            self._zs_inuse.append(0)
            self._zs_fullness.append(ZS_INUSE_RATIO_0)
            self._zs_free.append(free)
            self._zs_buf.append(buf)
        self.pages_allocated += spec.pages_per_zspage
        cls.objs_allocated += spec.objs_per_zspage
        cls.zspages += 1
        return zid

    def _free_zspage(self, cls: _SizeClass, zid: int) -> None:
        """Models: ``free_zspage()``: the zspage is empty and off every list."""
        spec = cls.spec
        self._zs_free[zid] = None
        self._zs_buf[zid] = None
        self._zs_free_ids.append(zid)
        self.pages_allocated -= spec.pages_per_zspage
        cls.objs_allocated -= spec.objs_per_zspage
        cls.zspages -= 1

    def _move(self, cls: _SizeClass, zid: int, newfg: int) -> None:
        """Models: ``fix_fullness_group()`` once the new group is known to differ."""
        del cls.fullness[self._zs_fullness[zid]][zid]
        cls.fullness[newfg][zid] = None
        self._zs_fullness[zid] = newfg

    def _offset(self, zid: int, obj: int) -> tuple[bytearray, int]:
        """The zspage's buffer and the byte offset of object ``obj`` in it."""
        cls = self._classes[self._zs_class[zid]]
        buf = self._zs_buf[zid]
        assert buf is not None
        return buf, obj * cls.size + cls.hdr

    # -- main API ------------------------------------------------------------------------
    def zs_malloc(self, size: int) -> int:
        """Allocate an object of ``size`` bytes.

        Models: ``zs_malloc()`` (mm/zsmalloc.c).

        Returns:
            A handle (> 0), or ``-EINVAL`` (size 0), ``-ENOSPC`` (size > ``PAGE_SIZE``),
            ``-ENOMEM`` (no page for a new zspage). Nothing changes on failure.
        """
        if size <= 0:
            return -Errno.EINVAL
        if size > ZS_MAX_ALLOC_SIZE:
            return -Errno.ENOSPC
        cls = self._class_for_size[size]
        zid = 0
        lists = cls.fullness
        # A class of one object per zspage has only full zspages (an emptied one is freed at
        # once): no group below 100 % can offer room, so the search is skipped.
        if cls.objs_per_zspage > 1:
            for fg in range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_0 - 1, -1):
                lst = lists[fg]
                if lst:
                    zid = next(reversed(lst))
                    break
        new = zid == 0
        if new:
            zid = self._alloc_zspage(cls)
            if not zid:
                return -Errno.ENOMEM
        free = self._zs_free[zid]
        assert free is not None
        obj = free.pop()
        inuse = self._zs_inuse[zid] + 1
        self._zs_inuse[zid] = inuse
        objs = cls.objs_per_zspage  # _fullness_group() inlined (inuse > 0 here)
        newfg = ZS_INUSE_RATIO_100 if inuse == objs else (100 * inuse // objs) // 10 + 1
        if new:
            lists[newfg][zid] = None
            self._zs_fullness[zid] = newfg
        elif newfg != self._zs_fullness[zid]:
            self._move(cls, zid, newfg)
        cls.objs_inuse += 1
        h_free = self._h_free
        if h_free:
            handle = h_free.pop()
            self._h_zspage[handle] = zid
            self._h_obj[handle] = obj
        else:
            handle = len(self._h_zspage)
            self._h_zspage.append(zid)
            self._h_obj.append(obj)
            if self.compact:
                self._h_tok.append(0)
        self.nr_handles += 1
        return handle

    def zs_free(self, handle: int) -> None:
        """Free the object behind ``handle``; an emptied zspage is freed at once.

        Models: ``zs_free()`` (mm/zsmalloc.c).

        Raises:
            KernelError(EINVAL): ``handle`` is not a live handle (a double free).
        """
        zid = self._h_zspage[handle] if 0 < handle < len(self._h_zspage) else 0
        if not zid:
            raise KernelError(Errno.EINVAL, f"zs_free: handle {handle} is not allocated")
        cls = self._classes[self._zs_class[zid]]
        free = self._zs_free[zid]
        assert free is not None
        free.append(self._h_obj[handle])
        inuse = self._zs_inuse[zid] - 1
        self._zs_inuse[zid] = inuse
        cls.objs_inuse -= 1
        newfg = self._fullness_group(inuse, cls.objs_per_zspage)
        if newfg != self._zs_fullness[zid]:
            self._move(cls, zid, newfg)
        if newfg == ZS_INUSE_RATIO_0:
            del cls.fullness[ZS_INUSE_RATIO_0][zid]
            self._free_zspage(cls, zid)
        self._h_zspage[handle] = 0
        self._h_free.append(handle)
        self.nr_handles -= 1

    def zs_obj_write(self, handle: int, data: bytes | bytearray | memoryview) -> None:
        """Copy ``data`` into the object (``zs_obj_write``; the header keeps the handle)."""
        if self.compact:
            self._h_tok[handle] = int.from_bytes(data, "little")
            return
        zid = self._h_zspage[handle]
        cls = self._classes[self._zs_class[zid]]
        buf = self._zs_buf[zid]
        assert buf is not None
        off = self._h_obj[handle] * cls.size + cls.hdr
        buf[off:off + len(data)] = data

    def zs_obj_read(self, handle: int, length: int) -> memoryview:
        """A read-only view of the object's first ``length`` bytes (``zs_obj_read_begin``);
        in compact mode the object's token, whatever ``length``."""
        if self.compact:
            return memoryview(self._h_tok[handle].to_bytes(8, "little"))
        zid = self._h_zspage[handle]
        cls = self._classes[self._zs_class[zid]]
        buf = self._zs_buf[zid]
        assert buf is not None
        off = self._h_obj[handle] * cls.size + cls.hdr
        return memoryview(buf)[off:off + length].toreadonly()

    def zs_obj_corrupt(self, handle: int, offset: int, xor: int = 0xFF) -> None:
        """Flip bits of one stored byte: fault injection for the tests of ``-EIO`` paths."""
        if self.compact:
            self._h_tok[handle] ^= (xor & 0xFF) << (8 * (offset % 8))
            return
        zid = self._h_zspage[handle]
        buf, off = self._offset(zid, self._h_obj[handle])
        buf[off + offset] ^= xor

    def zs_get_total_pages(self) -> int:
        """Models: ``zs_get_total_pages()``: pages held by all zspages of the pool."""
        return self.pages_allocated

    def zs_lookup_class_index(self, size: int) -> int:
        """Models: ``zs_lookup_class_index()``: the class an object of ``size`` goes to."""
        return self._class_for_size[size].spec.index

    def class_of_handle(self, handle: int) -> SizeClassSpec:
        """The size class an allocated handle lives in."""
        return self._classes[self._zs_class[self._h_zspage[handle]]].spec

    # -- compaction ----------------------------------------------------------------------
    def zs_compact(self) -> int:
        """Migrate objects out of sparse zspages into dense ones; return the pages freed.

        Models: ``zs_compact()`` / ``__zs_compact()``: per class, while whole zspages are
        wasted (``zs_can_compact``), take the source from the emptiest non-empty group and the
        destination from the fullest non-full group, move objects one by one (their handles
        stay valid) until the destination is full or the source empty; an emptied source is
        freed.
        """
        freed = 0
        for cls in self._classes.values():
            dst = 0
            while self._can_compact(cls):
                if not dst:
                    dst = self._first(cls, range(ZS_INUSE_RATIO_99, ZS_INUSE_RATIO_10 - 1, -1))
                    if not dst:
                        break
                    del cls.fullness[self._zs_fullness[dst]][dst]
                src = self._first(cls, range(ZS_INUSE_RATIO_10, ZS_INUSE_RATIO_99 + 1))
                if not src:
                    break
                del cls.fullness[self._zs_fullness[src]][src]
                self._migrate_zspage(cls, src, dst)
                fg = self._fullness_group(self._zs_inuse[src], cls.objs_per_zspage)
                if fg == ZS_INUSE_RATIO_0:
                    self._free_zspage(cls, src)
                    freed += cls.spec.pages_per_zspage
                else:
                    cls.fullness[fg][src] = None
                    self._zs_fullness[src] = fg
                dfg = self._fullness_group(self._zs_inuse[dst], cls.objs_per_zspage)
                if dfg == ZS_INUSE_RATIO_100:
                    cls.fullness[dfg][dst] = None
                    self._zs_fullness[dst] = dfg
                    dst = 0
            if dst:
                dfg = self._fullness_group(self._zs_inuse[dst], cls.objs_per_zspage)
                cls.fullness[dfg][dst] = None
                self._zs_fullness[dst] = dfg
        self.pages_compacted += freed
        return freed

    @staticmethod
    def _can_compact(cls: _SizeClass) -> bool:
        """Models: ``zs_can_compact()`` != 0: at least one whole zspage of free objects."""
        return (cls.objs_allocated - cls.objs_inuse) // cls.objs_per_zspage > 0

    @staticmethod
    def _first(cls: _SizeClass, groups: range) -> int:
        for fg in groups:
            lst = cls.fullness[fg]
            if lst:
                return next(reversed(lst))
        return 0

    def _migrate_zspage(self, cls: _SizeClass, src: int, dst: int) -> None:
        """Models: ``migrate_zspage()``: move live objects of ``src`` into ``dst``."""
        live = [h for h in range(1, len(self._h_zspage)) if self._h_zspage[h] == src]
        live.sort(key=lambda h: self._h_obj[h])
        size = cls.spec.size
        sbuf, dbuf = self._zs_buf[src], self._zs_buf[dst]
        sfree, dfree = self._zs_free[src], self._zs_free[dst]
        assert sfree is not None and dfree is not None
        assert self.compact or (sbuf is not None and dbuf is not None)
        for h in live:
            if self._zs_inuse[dst] == cls.objs_per_zspage or self._zs_inuse[src] == 0:
                break
            sobj = self._h_obj[h]
            dobj = dfree.pop()
            if sbuf is not None and dbuf is not None:  # compact: the token stays per handle
                dbuf[dobj * size:(dobj + 1) * size] = sbuf[sobj * size:(sobj + 1) * size]
            self._h_zspage[h] = dst
            self._h_obj[h] = dobj
            sfree.append(sobj)
            self._zs_inuse[dst] += 1
            self._zs_inuse[src] -= 1

    # -- statistics and checks -----------------------------------------------------------
    def stats(self) -> ZsPoolStats:
        """A frozen snapshot of the pool's totals."""
        cl = self._classes.values()
        return ZsPoolStats(self.pages_allocated, sum(c.objs_allocated for c in cl),
                           sum(c.objs_inuse for c in cl), sum(c.zspages for c in cl),
                           self.pages_compacted)

    def class_stats(self) -> list[dict[str, int]]:
        """Per class in use, as debugfs ``zsmalloc/<pool>/classes`` shows it."""
        rows = []
        for i in sorted(self._classes):
            c = self._classes[i]
            if not c.objs_allocated:
                continue
            rows.append({"class": i, "size": c.spec.size, "obj_allocated": c.objs_allocated,
                         "obj_used": c.objs_inuse,
                         "pages_used": c.objs_allocated // c.objs_per_zspage
                         * c.spec.pages_per_zspage,
                         "pages_per_zspage": c.spec.pages_per_zspage,
                         "freeable": (c.objs_allocated - c.objs_inuse) // c.objs_per_zspage
                         * c.spec.pages_per_zspage})
        return rows

    def metadata_bytes(self) -> dict[str, int]:
        """Kernel memory outside the zspages: the handle slab and the ``struct zspage`` slab."""
        return {"zs_handle": self.nr_handles * ZS_HANDLE_SIZE,
                "zspage": sum(c.zspages for c in self._classes.values()) * ZSPAGE_STRUCT_BYTES}

    def check_invariants(self) -> None:
        """Raise AssertionError if the pool's bookkeeping is inconsistent."""
        # Live handles per zspage, counted in C (the handle table is every handle ever
        # given out; a Python loop over it was most of this check under coverage's tracer).
        per_zspage = Counter(self._h_zspage[1:])
        del per_zspage[0]  # a free handle
        assert sum(per_zspage.values()) == self.nr_handles, "handle count"
        pages = 0
        for cls in self._classes.values():
            if not any(cls.fullness):
                # No zspage on any list (most of the ~120 classes): every count is zero. The
                # loops below would say the same, 12 lists and a sum later, per class.
                assert cls.zspages == 0, "zspage count"
                assert cls.objs_allocated == 0 and cls.objs_inuse == 0
                continue
            seen = objs_inuse = 0
            for fg, lst in enumerate(cls.fullness):
                for zid in lst:
                    seen += 1
                    inuse = self._zs_inuse[zid]
                    objs_inuse += inuse
                    assert self._zs_fullness[zid] == fg, "zspage in the wrong list"
                    assert self._fullness_group(inuse, cls.objs_per_zspage) == fg, "fullness"
                    assert per_zspage.get(zid, 0) == inuse, "inuse != live handles"
                    free = self._zs_free[zid]
                    assert free is not None and len(free) + inuse == cls.objs_per_zspage
                    assert fg != ZS_INUSE_RATIO_0, "empty zspage kept"
            assert seen == cls.zspages, "zspage count"
            assert cls.objs_allocated == cls.zspages * cls.objs_per_zspage
            assert cls.objs_inuse == objs_inuse
            pages += cls.zspages * cls.spec.pages_per_zspage
        assert pages == self.pages_allocated, "pages_allocated"
