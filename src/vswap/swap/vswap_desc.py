"""The virtual swap descriptor table and the virtual slot allocator.

Models: ``struct swp_desc``, ``vswap_map``, ``vswap_cluster_map``, ``vswap_alloc()`` and
``release_vswap_slot()`` of mm/vswap.c in "[RFC PATCH v2 08/18] mm: swap: allocate a virtual
swap slot for each swapped out page" (allocator), 09/18 (``memcgid``), 10/18 (``swap_refs``)
and 12/18 (``type`` and the backend union), plus the cover letter's static range-partition
hack and the dynamic partitioning it proposes (:class:`VswapPartitions`).

Representation (struct of arrays, DESIGN.md "Compact metadata"): one row per virtual id,
columns indexed by the id, grown in chunks of whole clusters:

========== ============ ==========================================================
column     type         meaning
========== ============ ==========================================================
occupied   bytearray    0 free, 1 live (present in ``vswap_map``), 2 reserved
                        (id 0, and ids above ``MAX_VSWAP`` in the last cluster)
type       bytearray    :class:`SwapType` of a live id
refs       array('I')   ``swap_refs``: bit 0 cache pin, +2 per PTE/shmem reference
memcgid    array('H')   owning memcg id (0: none), replaces ``swap_cgroup``
slot       array('Q')   physical slot value for ``VSWAP_SWAPFILE`` (0: unbacked)
zswap      array('I')   zswap entry id for ``VSWAP_ZSWAP`` (0: none)
========== ============ ==========================================================

The union's folio member lives in a dict that only holds live FOLIO rows (id -> Folio; the
folio is resident anyway, so no entry costs a Python object of its own). The descriptor's
``rwlock_t`` is a lock *identity* ``("swp_desc", id)``; the ``rcu_head`` is the pending-free
count (:attr:`VswapDescTable.rcu_pending`).

Per cluster: ``cluster_count`` (``vswap_cluster_map``: live ids, cluster 0 pre-counted by one
for the reserved id 0), ``cl_nonempty`` and ``cl_full`` (1 when the cluster has no free id),
so that both searches the allocator needs are ``bytearray.find`` calls (C ``memchr``) over one
byte per cluster, then over one byte per id of a single cluster: the lowest free id costs
O(clusters / memchr speed + cluster size), never a Python loop over ids.
"""

from __future__ import annotations

import enum
from array import array
from collections.abc import Iterator
from itertools import compress
from typing import TYPE_CHECKING, Final

import numpy as np

from vswap.errors import ConfigError
from vswap.kernel import sizes
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import HPAGE_PMD_ORDER

#: ``MAX_VSWAP`` on 64-bit (``SWP_TYPE_SHIFT > 32``): ``U32_MAX``.
MAX_VSWAP: Final = (1 << 32) - 1
#: ``VSWAP_CLUSTER_SHIFT = HPAGE_PMD_ORDER``.
VSWAP_CLUSTER_SHIFT: Final = HPAGE_PMD_ORDER
#: ``swap_refs`` encoding (patch 10): bit 0 is the cache pin, each mapping adds 2.
SWAP_CACHE_INC: Final = 1
SWAP_COUNT_INC: Final = 2
#: ``atomic_t`` holds up to INT_MAX; an increment past it is a reference count overflow.
SWAP_REFS_MAX: Final = (1 << 31) - 1

_FREE, _LIVE, _RESERVED = 0, 1, 2
#: ``occupied[e]`` of a live id (present in ``vswap_map``): what the designs' hot paths test
#: in place of :meth:`VswapDescTable.is_live`.
OCCUPIED_LIVE = _LIVE


def xarray_bytes_np(indices: np.ndarray) -> int:
    """``sizes.xarray_bytes`` for a numpy array of indices (fast for millions); an int64
    array is sorted and shifted in place (``sizes.xarray_nodes_of(owned=True)``): pass a
    temporary."""
    return sizes.xarray_nodes_of(indices, owned=True) * sizes.XA_NODE_BYTES


class SwapType(enum.IntEnum):
    """``enum swap_type`` of ``struct swp_desc`` (patch 12): where a virtual slot's data is.

    ==================== ============ =======================================================
    state                payload      meaning
    ==================== ============ =======================================================
    VSWAP_SWAPFILE(0)    none         *unbacked*: fresh from ``vswap_alloc`` (T0) or after
                                      ``release_backing``; transient only
    VSWAP_SWAPFILE(s)    slot ``s``   data on a swap device; ``vswap_rmap[s] == id``; charged
                                      to ``memory.swap``
    VSWAP_ZERO           none         the page is all zeros: no data anywhere
    VSWAP_ZSWAP          zswap entry  compressed in zswap, tree index == id
    VSWAP_FOLIO          folio        the swap-cache folio is the only copy
    ==================== ============ =======================================================

    Legal transitions (spec part 2 section 7): T1 SWAPFILE(0)->FOLIO (``folio_alloc_swap``);
    T2 any->ZERO and T3 any->FOLIO (``swap_writepage``); T4 FOLIO->ZSWAP (``zswap_store``);
    T5 ZSWAP/FOLIO->FOLIO (store undone); T6 FOLIO->SWAPFILE(s) and T7 ZSWAP->SWAPFILE(s)
    (``vswap_alloc_swap_slot``); T7' SWAPFILE(s)->ZSWAP (writeback abort); T8 ZSWAP->FOLIO
    (exclusive ``zswap_load``); T9 SWAPFILE->FOLIO (swapoff); T10/T11 FOLIO->FOLIO (migrate,
    split); T12 any->freed (refs reach 0, ``vswap_free``).
    """

    VSWAP_SWAPFILE = 0
    VSWAP_ZERO = 1
    VSWAP_ZSWAP = 2
    VSWAP_FOLIO = 3


#: The members by value: ``SWAP_TYPE_OF[v] is SwapType(v)``, without the enum's
#: ``__call__``, which runs Python code even from a compiled caller.
SWAP_TYPE_OF: Final[tuple[SwapType, ...]] = tuple(SwapType)
assert all(t == v for v, t in enumerate(SWAP_TYPE_OF))


class HandleColumn:
    """The ``zswap_entry`` member of the descriptor union: an ``array('I')`` of zswap entry
    ids by virtual id (0: none), with the small mapping interface the design uses. zswap
    entry ids start at 1, so 0 is free to mean "no entry"."""

    __slots__ = ("col", "n")

    def __init__(self) -> None:
        self.col = array("I")
        self.n = 0

    def __getitem__(self, e: int) -> int:
        v = self.col[e] if 0 <= e < len(self.col) else 0
        if not v:
            raise KeyError(e)
        return v

    def __setitem__(self, e: int, v: int) -> None:
        if not v:
            raise KernelError(Errno.EINVAL, "zswap entry id 0")
        if not self.col[e]:
            self.n += 1
        self.col[e] = v

    def pop(self, e: int, default: int | None = None) -> int | None:
        v = self.col[e] if 0 <= e < len(self.col) else 0
        if not v:
            return default
        self.col[e] = 0
        self.n -= 1
        return v

    def __contains__(self, e: object) -> bool:
        return isinstance(e, int) and 0 <= e < len(self.col) and bool(self.col[e])

    def __len__(self) -> int:
        return self.n

    def keys(self) -> list[int]:
        # compress() skips the zeros in C: the column spans every id ever given out, and a
        # Python pass over it was most of check_invariants (run after every state-machine step).
        return list(compress(range(len(self.col)), self.col))

    def __iter__(self) -> Iterator[int]:
        return iter(self.keys())

    def items(self) -> list[tuple[int, int]]:
        col = self.col
        return [(i, col[i]) for i in compress(range(len(col)), col)]


class VswapDescTable:
    """``vswap_map`` + ``vswap_cluster_map`` + every ``struct swp_desc``, as columns.

    Args:
        max_vswap: the highest id (``MAX_VSWAP``); ids run 1..max_vswap.
        cluster_shift: ``VSWAP_CLUSTER_SHIFT`` (tests use small clusters, e.g. 2).
        chunk_clusters: how many clusters the columns grow by at least.

    Raises:
        ConfigError: ``max_vswap`` outside 1..2**32-1 or a cluster shift outside 1..9.
    """

    def __init__(self, *, max_vswap: int = MAX_VSWAP, cluster_shift: int = VSWAP_CLUSTER_SHIFT,
                 chunk_clusters: int = 8) -> None:
        if not 1 <= max_vswap <= MAX_VSWAP:
            raise ConfigError(f"max_vswap {max_vswap} outside 1..{MAX_VSWAP}")
        if not 1 <= cluster_shift <= HPAGE_PMD_ORDER:
            raise ConfigError(f"vswap cluster shift {cluster_shift} outside 1..{HPAGE_PMD_ORDER}")
        self.max_vswap = max_vswap
        self.cluster_shift = cluster_shift
        self.cluster_size = 1 << cluster_shift
        #: Clusters that hold any id in 0..max_vswap.
        self.nr_clusters = (max_vswap >> cluster_shift) + 1
        #: The last cluster a large allocation may take (mathematical integers, spec 4.1).
        self.max_large_cluster = (max_vswap + 1) // self.cluster_size - 1
        self.chunk_clusters = max(1, chunk_clusters)
        self.occupied = bytearray()
        self.type = bytearray()
        self.refs = array("I")
        self.memcgid = array("H")
        self.slot = array("Q")
        self.cluster_count = array("H")
        self.cl_nonempty = bytearray()
        self.cl_full = bytearray()
        self.folio: dict[int, Folio] = {}
        self.zswap = HandleColumn()
        #: debugfs ``vswap/used`` and ``vswap/alloc_reject``.
        self.used = 0
        self.alloc_reject = 0
        #: Descriptors freed with ``kfree_rcu`` whose grace period has not yet passed.
        self.rcu_pending = 0
        self.capacity_clusters = 0
        self._grow(1)
        # vswap_init(): the reserved id 0 makes cluster 0 count 1, forever.
        self.occupied[0] = _RESERVED
        self.cluster_count[0] = 1
        self.cl_nonempty[0] = 1

    # -- growth -------------------------------------------------------------------------
    def _grow(self, need_clusters: int) -> bool:
        """Extend every column to cover at least ``need_clusters`` clusters; False at the end."""
        cap = self.capacity_clusters
        if cap >= self.nr_clusters:
            return False
        new = min(self.nr_clusters,
                  max(need_clusters, cap + self.chunk_clusters, cap + cap // 4))
        add_c = new - cap
        add = add_c << self.cluster_shift
        self.occupied.extend(bytes(add))
        self.type.extend(bytes(add))
        self.refs.frombytes(bytes(4 * add))
        self.memcgid.frombytes(bytes(2 * add))
        self.slot.frombytes(bytes(8 * add))
        self.zswap.col.frombytes(bytes(4 * add))
        self.cluster_count.frombytes(bytes(2 * add_c))
        self.cl_nonempty.extend(bytes(add_c))
        self.cl_full.extend(bytes(add_c))
        if new == self.nr_clusters:
            # Ids past MAX_VSWAP in the last cluster do not exist.
            first_bad = self.max_vswap + 1
            end = new << self.cluster_shift
            if first_bad < end:
                self.occupied[first_bad:end] = bytes([_RESERVED]) * (end - first_bad)
                self._update_full(new - 1)
        self.capacity_clusters = new
        return True

    def _update_full(self, c: int) -> None:
        base = c << self.cluster_shift
        self.cl_full[c] = self.occupied.find(_FREE, base, base + self.cluster_size) < 0

    # -- queries --------------------------------------------------------------------------
    def is_live(self, e: int) -> bool:
        """Is ``e`` present in ``vswap_map`` (allocated and not yet released)?"""
        return 0 < e < len(self.occupied) and self.occupied[e] == _LIVE

    def live_ids(self) -> Iterator[int]:
        """Every live id, ascending."""
        occ = self.occupied
        i = occ.find(_LIVE)
        while i >= 0:
            yield i
            i = occ.find(_LIVE, i + 1)

    @property
    def capacity_ids(self) -> int:
        """Rows the columns hold now."""
        return len(self.occupied)

    # -- the VswapTable interface (vswap.swap.vswap_table) --------------------------------------
    def slot_of(self, e: int) -> int:
        """The ``slot`` member: physical slot value of a SWAPFILE descriptor (0: none)."""
        return self.slot[e]

    def zswap_of(self, e: int) -> int:
        """The ``zswap_entry`` member: zswap entry id of a ZSWAP descriptor (0: none)."""
        col = self.zswap.col
        return col[e] if 0 <= e < len(col) else 0

    def folio_of(self, e: int) -> Folio | None:
        """The ``folio`` member of a FOLIO descriptor."""
        return self.folio.get(e)

    def set_zswap(self, e: int, zentry: int) -> None:
        """Descriptor ``e`` becomes ZSWAP(``zentry``)."""
        self.type[e] = SwapType.VSWAP_ZSWAP
        self.zswap[e] = zentry

    def swap_count_of(self, e: int) -> int:
        """Page-table references of live id ``e``: ``swap_refs >> 1``."""
        return self.refs[e] >> 1

    def check_backing(self, e0: int, nr: int) -> tuple[int, SwapType]:
        """Length of the prefix of ``e0 .. +nr`` backed like ``e0``, and that type.

        Models: ``vswap_check_backing()``: ZERO/ZSWAP: same type; SWAPFILE: same device,
        consecutive offsets; FOLIO: same folio. A dead id ends the prefix (D5). Returns
        ``(0, SWAPFILE)`` when ``e0`` is not live.
        """
        if not self.is_live(e0):
            return 0, SwapType.VSWAP_SWAPFILE
        ty = SWAP_TYPE_OF[self.type[e0]]
        s0 = self.slot[e0]
        f0 = self.folio.get(e0)
        n = 1
        while n < nr:
            e = e0 + n
            if not self.is_live(e) or self.type[e] != ty:
                break
            if ty == SwapType.VSWAP_SWAPFILE and (not s0 or self.slot[e] != s0 + n):
                break
            if ty == SwapType.VSWAP_FOLIO and self.folio.get(e) is not f0:
                break
            n += 1
        return n, ty

    def live_entries(self) -> Iterator[tuple[int, int, bool]]:
        """Every live id: (id, ``swap_refs >> 1``, cache pin bit)."""
        refs_col = self.refs
        for e in self.live_ids():
            refs = refs_col[e]
            yield e, refs >> 1, bool(refs & SWAP_CACHE_INC)

    def swapped_page_locations(self) -> tuple[int, int]:
        """Live ZERO descriptors, and live SWAPFILE descriptors with a slot."""
        occ = np.frombuffer(self.occupied, dtype=np.uint8)
        ty = np.frombuffer(self.type, dtype=np.uint8)
        slot = np.frombuffer(self.slot, dtype=np.uint64) if len(self.slot) \
            else np.zeros(0, np.uint64)
        n = min(len(occ), len(ty), len(slot))
        live = occ[:n] == _LIVE
        zero = int(np.count_nonzero(live & (ty[:n] == SwapType.VSWAP_ZERO)))
        device = int(np.count_nonzero(live & (ty[:n] == SwapType.VSWAP_SWAPFILE)
                                      & (slot[:n] != 0)))
        return zero, device

    # -- allocation -----------------------------------------------------------------------
    def vswap_alloc(self, nr: int, c_lo: int = 0, c_hi: int | None = None) -> int:
        """Allocate ``nr`` contiguous ids inside clusters ``c_lo .. c_hi-1``; 0 on failure.

        Models: ``vswap_alloc()`` (patch 08, initial values of patches 09, 10, 12) as one
        critical section (spec part 1, 4.1: no lock drop, integer limits). Order 0 takes the
        lowest free id; ``nr > 1`` (a power of two up to the cluster size) takes the first
        ids of the lowest completely empty cluster >= 1 within ``max_large_cluster``. Every new
        descriptor is SWAPFILE(0), refs 1, memcgid 0; ``used += nr``. Failure counts nothing
        here (the caller counts ``alloc_reject`` once per request, over all partitions).

        Raises:
            KernelError(EINVAL): ``nr`` is not a power of two in 1..cluster size.
        """
        if nr < 1 or nr & (nr - 1) or nr > self.cluster_size:
            raise KernelError(Errno.EINVAL, f"vswap_alloc: bad nr {nr}")
        hi = self.nr_clusters if c_hi is None else min(c_hi, self.nr_clusters)
        shift = self.cluster_shift
        if nr == 1:
            while True:
                c = self.cl_full.find(0, c_lo, min(hi, self.capacity_clusters))
                if c >= 0:
                    break
                if self.capacity_clusters >= hi or not self._grow(c_lo + 1):
                    return 0
            base = c << shift
            i = self.occupied.find(_FREE, base, base + self.cluster_size)
            self.occupied[i] = _LIVE
            self.type[i] = 0
            self.refs[i] = SWAP_CACHE_INC
            self.memcgid[i] = 0
            self.slot[i] = 0
            self.cluster_count[c] += 1
            self.cl_nonempty[c] = 1
            self._update_full(c)
            self.used += 1
            return i
        hi = min(hi, self.max_large_cluster + 1)
        lo = max(c_lo, 1)
        if lo >= hi:
            return 0
        while True:
            c = self.cl_nonempty.find(0, lo, min(hi, self.capacity_clusters))
            if c >= 0:
                break
            if self.capacity_clusters >= hi or not self._grow(lo + 1):
                return 0
        base = c << shift
        end = base + nr
        self.occupied[base:end] = bytes([_LIVE]) * nr
        self.type[base:end] = bytes(nr)
        self.refs[base:end] = array("I", [SWAP_CACHE_INC]) * nr
        self.memcgid[base:end] = array("H", bytes(2 * nr))
        self.slot[base:end] = array("Q", bytes(8 * nr))
        self.cluster_count[c] = nr
        self.cl_nonempty[c] = 1
        self._update_full(c)
        self.used += nr
        return base

    def release_vswap_slot(self, e: int) -> None:
        """Erase ``e`` from ``vswap_map``; its cluster count drops (erased at 0).

        Models: ``release_vswap_slot()`` (patch 08). The id is reusable at once; the
        descriptor's memory waits for a grace period (``rcu_pending``).
        """
        c = e >> self.cluster_shift
        self.occupied[e] = _FREE
        self.type[e] = 0
        self.refs[e] = 0
        self.memcgid[e] = 0
        self.slot[e] = 0
        self.cluster_count[c] -= 1
        self.cl_full[c] = 0
        if not self.cluster_count[c]:
            self.cl_nonempty[c] = 0
        self.used -= 1
        self.rcu_pending += 1

    def metadata_bytes(self) -> dict[str, int]:
        """Bytes the kernel spends on the virtual layer: one 48-byte ``swp_desc`` per live
        id, the XArray nodes of ``vswap_map`` (by live id) and ``vswap_cluster_map`` (by
        non-empty cluster)."""
        # Views of the columns, not copies: the snapshot is taken at the run's peak.
        occ = np.frombuffer(self.occupied, dtype=np.uint8)
        counts = np.frombuffer(self.cluster_count, dtype=np.uint16)
        return {"swp_desc": self.used * sizes.SWP_DESC_BYTES_RFC_V2,
                "vswap_map": xarray_bytes_np(np.flatnonzero(occ == _LIVE)),
                "vswap_cluster_map": xarray_bytes_np(np.flatnonzero(counts))}

    def synchronize_rcu(self) -> int:
        """A grace period passed: ``kfree_rcu``'d descriptors are freed. Returns how many."""
        n, self.rcu_pending = self.rcu_pending, 0
        return n

    # -- invariants -----------------------------------------------------------------------
    def check_invariants(self) -> None:
        """Raise AssertionError unless the allocator's columns agree (spec part 1, 13.1-13.5)."""
        cs = self.cluster_size
        assert self.occupied[0] == _RESERVED, "id 0 must stay reserved"
        live = 0
        for c in range(self.capacity_clusters):
            base = c * cs
            window = self.occupied[base:base + cs]
            n = window.count(_LIVE)
            live += n
            expect = n + (1 if c == 0 else 0)
            assert self.cluster_count[c] == expect, (
                f"cluster {c}: count {self.cluster_count[c]} != live {n} (+1 for cluster 0)")
            assert self.cl_nonempty[c] == (expect > 0), f"cluster {c}: nonempty flag"
            assert self.cl_full[c] == (window.find(_FREE) < 0), f"cluster {c}: full flag"
        assert live == self.used, f"vswap_used {self.used} != live ids {live}"
        for e, _f in self.folio.items():
            assert self.is_live(e) and self.type[e] == SwapType.VSWAP_FOLIO, (
                f"folio payload on id {e:#x} that is not a live FOLIO descriptor")
        for e in self.zswap:
            assert self.is_live(e) and self.type[e] == SwapType.VSWAP_ZSWAP, (
                f"zswap payload on id {e:#x} that is not a live ZSWAP descriptor")


class VswapPartitions:
    """Which clusters an allocation on a CPU may use, and the partition of an id.

    * ``"none"`` (the RFC): one range, the whole space; one swap cache, one zswap tree, one
      ``vswap_map`` lock.
    * ``"static"`` (cover letter section V hack): the bounded space is split into
      ``nr_partitions`` equal cluster ranges; a CPU allocates in partition ``cpu % P`` first,
      then the next ones; the swap cache, zswap tree and allocator lock are per partition.
    * ``"dynamic"`` (proposed by Johannes Weiner, not in the RFC): partitions of
      ``partition_clusters`` clusters exist only while they hold ids; each CPU owns a current
      partition and allocates there under the partition's lock; only when it is full does the
      CPU take the *global* lock to adopt another one (the lowest not owned by another CPU
      that has room, creating it on demand). ``global_lock_count`` counts those.
    """

    def __init__(self, table: VswapDescTable, mode: str, *, nr_partitions: int | None,
                 partition_clusters: int, nr_cpus: int) -> None:
        if mode not in ("none", "static", "dynamic"):
            raise ConfigError(f"vswap partition mode {mode!r} (known: none, static, dynamic)")
        self.table = table
        self.mode = mode
        self.global_lock_count = 0
        if mode == "none":
            self.nr_partitions = 1
            self.per = table.nr_clusters
        elif mode == "static":
            p = nr_partitions if nr_partitions is not None else max(nr_cpus, 1)
            if p < 1 or p > table.nr_clusters:
                raise ConfigError(f"static vswap partitions: {p} for {table.nr_clusters} "
                                  "clusters")
            self.nr_partitions = p
            self.per = -(-table.nr_clusters // p)
        else:
            if partition_clusters < 1:
                raise ConfigError(f"dynamic vswap partition of {partition_clusters} clusters")
            self.per = partition_clusters
            self.nr_partitions = -(-table.nr_clusters // self.per)
        #: dynamic: CPU -> current partition.
        self.cpu_partition: dict[int, int] = {}

    def partition_of(self, e: int) -> int:
        """The partition (swap-cache space, zswap tree, allocator lock) of id ``e``."""
        if self.mode == "none":
            return 0
        return (e >> self.table.cluster_shift) // self.per

    def _range(self, p: int) -> tuple[int, int]:
        return p * self.per, min((p + 1) * self.per, self.table.nr_clusters)

    def live_partitions(self) -> set[int]:
        """Partitions that hold a live id (dynamic: the ones currently allocated)."""
        t = self.table
        out = set()
        for p in range(self.nr_partitions):
            lo, hi = self._range(p)
            hi = min(hi, t.capacity_clusters)
            if lo < hi and t.cl_nonempty.find(1, lo, hi) >= 0:
                out.add(p)
        return out

    def alloc(self, nr: int, cpu: int) -> tuple[int, int]:
        """Allocate ``nr`` ids for ``cpu``; returns (first id or 0, partition used)."""
        t = self.table
        if self.mode == "none":
            return t.vswap_alloc(nr), 0
        if self.mode == "static":
            first = cpu % self.nr_partitions
            for k in range(self.nr_partitions):
                p = (first + k) % self.nr_partitions
                e = t.vswap_alloc(nr, *self._range(p))
                if e:
                    return e, p
            return 0, 0
        cur = self.cpu_partition.get(cpu)
        if cur is not None:
            e = t.vswap_alloc(nr, *self._range(cur))
            if e:
                return e, cur
        # The CPU's partition is full (or it has none): adopt another under the global lock.
        self.global_lock_count += 1
        owned = {p for c, p in self.cpu_partition.items() if c != cpu}
        for p in range(self.nr_partitions):
            if p in owned or p == cur:
                continue
            e = t.vswap_alloc(nr, *self._range(p))
            if e:
                self.cpu_partition[cpu] = p
                return e, p
        for p in sorted(owned):  # every other partition is full: share a busy one
            e = t.vswap_alloc(nr, *self._range(p))
            if e:
                return e, p
        return 0, 0


if TYPE_CHECKING:
    from vswap.swap.vswap_table import VswapTable

    def _implements(t: VswapDescTable) -> VswapTable:
        """Static check (mypy): the table is what the virtual designs' shared steps use."""
        return t
