"""Execute, then charge: record the kernel steps of one operation, replay them as time.

Models: nothing in the kernel; this is how the synchronous memory-manager model gets
modelled time (docs/run.md). A task's memory operation runs on the
:class:`~vswap.mm.machine.Machine` at once (deterministically, in engine order); meanwhile
:class:`StepRecorder`, the run's :class:`~vswap.kernel.tracing.KernelTracer`, turns each hook into a
step. The task then *charges* the steps on the engine (:meth:`Charger.charge`):

* plain kernel work (fault entry, PTE updates, clearing, compression, lookups) is summed
  into one ``task.work(ns, "sys")`` chunk between two lock or I/O steps;
* a critical section acquires the lock instance the design named (``swap_cache[(0, 3)]``,
  ``vswap_map[('vswap_map', 0)]``, ``zswap_tree[0]``, ``swap_cluster[(0, 17)]``), works for
  the cost of the step under it, and releases it; a waiter spins on its CPU (sys time);
* a device request goes to that device's :class:`~vswap.sim.ioqueue.IoQueue` (asynchronously;
  its submit and completion CPU costs are charged as work, and each bio's ``io_bio``); bios
  submitted under a plug (``blk_start_plug``: readahead, ``shrink_lruvec``) are held and
  merged into requests, dispatched when the plug finishes or the task waits; an ``io_wait``
  step blocks the task off-CPU until its outstanding reads are done, after a context switch
  when it submitted a read since its last wait; a synchronous device (zram, pmem) charges
  its service time as CPU work instead;
* writes are not waited for, but a task with more than :data:`WRITEBACK_LIMIT` writes in
  flight waits for the oldest at the end of its operation (writeback throttling), so a slow
  device does slow reclaim down.

Contention is not a constant anywhere: it emerges from several tasks charging critical
sections on the same lock instance at the same virtual time.

Simplifications (also in docs/run.md): the state change happens at the start of the
operation and the time is charged after it, so two tasks' operations are atomic with respect
to each other while their *time* interleaves; kswapd and ``memory.high`` reclaim (which the
model runs on return to user space) are charged to the task whose operation woke them; the
costs of a folio's lock, the LRU lock and RCU are folded into the steps' costs.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Final

from vswap.kernel.tracing import Cost, KernelTracer
from vswap.kernel.types import PAGE_SIZE
from vswap.sim.costs import CostTable
from vswap.sim.cpus import Task as CpuTask
from vswap.sim.device_kinds import DeviceKind
from vswap.sim.engine import Engine, Event, SimError
from vswap.sim.ioqueue import IoQueue
from vswap.sim.locks import LockTable, SpinLock

__all__ = ["COSTS", "HIGH", "IO", "LOCK", "LOCK_ID_SHIFT", "WAIT", "WORK", "WRITEBACK_LIMIT",
           "Charger", "StepKeys", "StepRecorder", "TallyingRecorder"]

#: Step kinds: the low two bits of a step's op word (StepRecorder).
WORK, LOCK, IO, WAIT = 0, 1, 2, 3
#: The op word of a prefix step: its value is the high 32 bits of the next step's value
#: (a value of 2**32 or more: over 4 s of work in one chunk, never seen in a run so far).
HIGH = WORK | 1 << 2
#: A lock step's op word is ``LOCK | cost << 2 | lock id << LOCK_ID_SHIFT``, ``cost`` the
#: index in :data:`COSTS` of the critical section's :class:`Cost`.
LOCK_ID_SHIFT = 6
_COST_MASK = (1 << (LOCK_ID_SHIFT - 2)) - 1
#: The critical-section costs in op-word order.
COSTS: tuple[Cost, ...] = tuple(Cost)
assert len(COSTS) <= _COST_MASK + 1, "Cost has outgrown the op word's cost bits"

#: ``BLK_MAX_REQUEST_COUNT``: a plug holding this many requests dispatches them before it
#: starts another.
BLK_MAX_REQUEST_COUNT = 32
#: ``BLK_PLUG_FLUSH_SIZE``: a plug whose last request has this many bytes dispatches before
#: it starts another request.
BLK_PLUG_FLUSH_SIZE = 128 * 1024
#: The largest request a merge may make: ``BLK_MAX_SEGMENTS`` (128, the block layer's
#: default ``max_segments``) single-page bios, 512 KiB (this machine's virtio disk allows 254
#: segments, its ``max_sectors_kb`` 4096).
MAX_REQUEST_BYTES = 128 * PAGE_SIZE

#: The steps of an operation that recorded only work (most faults): nothing to allocate.
_NO_STEPS: tuple[int, ...] = ()

#: Writes a task may have in flight before it waits at the end of an operation: the
#: ``SWAP_CLUSTER_MAX`` (32) batch of one shrink_folio_list pass, twice (an estimate of how
#: far reclaim runs ahead of writeback before ``reclaim_throttle`` stalls it).
WRITEBACK_LIMIT = 64


class StepKeys:
    """What the bits of a run's step op words name: the lock instances and device requests,
    interned (a step keeps a small id instead of a ``(class, instance)`` or ``(device, op)``
    tuple), and the hold ns of each critical-section cost. Ids are never reused or freed;
    there are as many as the run has lock instances (clusters, trees, partitions) and
    devices times two.
    """

    def __init__(self) -> None:
        #: The ns a critical section holds its lock, by cost index (:data:`COSTS`); set by
        #: the recorder from its cost table.
        self.holds: list[int] = [0] * len(COSTS)
        #: ``(lock_class, instance)`` by lock id.
        self.locks: list[tuple[str, Hashable]] = []
        #: ``"lock:" + lock_class`` by lock id (the step's key in ``StepRecorder.counts``).
        self.lock_counts: list[str] = []
        #: lock id by ``(lock_class, instance)``.
        self.lock_ids: dict[tuple[str, Hashable], int] = {}
        #: ``(device, op)`` by I/O id, and the reverse.
        self.io: list[tuple[str, str]] = []
        self.io_ids: dict[tuple[str, str], int] = {}

    def lock_id(self, lock_class: str, instance: Hashable) -> int:
        """The id of ``lock_class[instance]``, given on first use."""
        key = (lock_class, instance)
        lid = self.lock_ids.get(key)
        if lid is None:
            lid = self.lock_ids[key] = len(self.locks)
            self.locks.append(key)
            self.lock_counts.append("lock:" + lock_class)
        return lid

    def io_id(self, device: str, op: str) -> int:
        """The id of an ``op`` ("read" or "write") request to ``device``."""
        key = (device, op)
        iid = self.io_ids.get(key)
        if iid is None:
            iid = self.io_ids[key] = len(self.io)
            self.io.append(key)
        return iid


class StepRecorder(KernelTracer):
    """The timed run's tracer: each hook adds work or a step (see the module docstring).

    ``counts`` holds how many times each hook fired over the whole run (the report's
    "kernel steps"). The current operation's steps are two flat columns until
    :meth:`take`, 8 bytes a step: ``ops`` and ``vals`` (both ``array('I')``):

    ====== ========================================== ===================================
    kind   op word                                    value
    ====== ========================================== ===================================
    WORK   ``WORK``                                   ns of work
    LOCK   ``LOCK | cost << 2 | id << LOCK_ID_SHIFT`` ns of work before taking the lock
    IO     ``IO | id << 2``                           bytes of the request
    WAIT   ``WAIT``                                   ns of work before waiting
    ====== ========================================== ===================================

    (``id`` from :attr:`keys`; a lock step's hold is ``keys.holds[cost]``; a value of 2**32
    or more is split, its high half in a :data:`HIGH` step just before.) An operation
    that frees many entries (a task's exit) records several steps per entry and holds them
    until it is charged: as a list of tuples, a work tuple and a lock tuple per critical
    section, 80-90 B each, they were most of vswap's model memory per swapped entry
    (docs/performance.md). ``ns`` is the work since the last step.
    """

    def __init__(self, costs: CostTable, device_kinds: dict[str, DeviceKind]) -> None:
        c = costs
        self.costs = costs
        self.device_kinds = device_kinds
        self.keys = StepKeys()
        self.ops = array("I")
        self.vals = array("I")
        self.ns = 0
        self.counts: dict[str, int] = {}
        # Each Cost member names a CostTable entry: the ns its critical section holds the
        # lock; a lock step's op word carries the cost's index.
        self.keys.holds = [getattr(costs, cost.value) for cost in COSTS]
        self._lock_op: dict[Cost, int] = {cost: LOCK | i << 2 for i, cost in enumerate(COSTS)}
        self._lock_overhead = c.spin_lock_uncontended
        self._fault = c.fault_entry_exit + c.pte_update
        # clear_page has no entry of its own: a 4 KiB memset moves as many bytes as memcpy.
        self._alloc_zeroed = c.memcg_charge + c.lru_add + c.page_copy
        self._alloc = c.memcg_charge + c.lru_add
        self._free = c.memcg_uncharge + c.lru_move
        self._scan = c.lru_move + c.rmap_walk
        self._unmap = c.rmap_walk + c.tlb_flush_local
        self._comp: dict[str, int] = {}
        self._decomp: dict[str, int] = {}
        # The operation has submitted a read to an asynchronous device since its last
        # wait: its next io_wait sleeps (io_schedule) and pays a context switch.
        self._read_submitted = False
        # The current plug (blk_start_plug): its depth, and its requests in the order they
        # were started, each [io id, first page, end page, bytes]; merges find a request by
        # (io id, end page) for a back merge and (io id, first page) for a front merge.
        self._plug_depth = 0
        self._plugged: list[list[int]] = []
        self._plug_ends: dict[tuple[int, int], list[int]] = {}
        self._plug_starts: dict[tuple[int, int], list[int]] = {}

    def _count(self, name: str, n: int = 1) -> None:
        counts = self.counts
        counts[name] = counts.get(name, 0) + n

    def take(self) -> tuple[Sequence[int], Sequence[int], int]:
        """The steps recorded since the last call (``ops``, ``vals``: see the class
        docstring), and the trailing work in ns."""
        if self._plugged:
            self._flush_plug()
        self._read_submitted = False
        ops, vals, ns = self.ops, self.vals, self.ns
        self.ns = 0
        if not ops:
            return _NO_STEPS, _NO_STEPS, ns
        self.ops = array("I")
        self.vals = array("I")
        return ops, vals, ns

    def forget(self) -> None:
        """Drop every step and count recorded so far (set-up before the run starts)."""
        self._read_submitted = False
        self._plug_depth = 0
        self._plugged.clear()
        self._plug_ends.clear()
        self._plug_starts.clear()
        self.ops = array("I")
        self.vals = array("I")
        self.ns = 0
        self.counts.clear()

    def _flush(self) -> None:
        ns = self.ns
        if ns:
            self.ops.append(WORK)
            try:
                self.vals.append(ns)
            except OverflowError:
                self._high(ns)
            self.ns = 0

    def _high(self, value: int) -> None:
        """The last step's value does not fit its 32 bits: put a :data:`HIGH` step with
        the upper half before it (``array.append`` raised before appending)."""
        op = self.ops.pop()
        self.ops.append(HIGH)
        self.vals.append(value >> 32)
        self.ops.append(op)
        self.vals.append(value & 0xFFFF_FFFF)

    # -- mm ------------------------------------------------------------------------------------
    def fault(self) -> None:
        self.ns += self._fault
        counts = self.counts
        counts["fault"] = counts.get("fault", 0) + 1

    def folio_alloc(self, nr: int, zeroed: bool) -> None:
        self.ns += nr * (self._alloc_zeroed if zeroed else self._alloc)
        counts = self.counts
        counts["folio_alloc"] = counts.get("folio_alloc", 0) + nr

    def folio_free(self, nr: int) -> None:
        self.ns += nr * self._free
        counts = self.counts
        counts["folio_free"] = counts.get("folio_free", 0) + nr

    def page_copy(self, nr: int) -> None:
        self.ns += nr * self.costs.page_copy
        counts = self.counts
        counts["page_copy"] = counts.get("page_copy", 0) + nr

    def reclaim_scan(self, nr: int) -> None:
        self.ns += self._scan
        counts = self.counts
        counts["reclaim_scan"] = counts.get("reclaim_scan", 0) + nr

    def unmap(self, nr_ptes: int) -> None:
        self.ns += self._unmap + nr_ptes * self.costs.pte_update
        counts = self.counts
        counts["unmap_pte"] = counts.get("unmap_pte", 0) + nr_ptes

    def pte_zap(self, nr_ptes: int) -> None:
        self.ns += nr_ptes * self.costs.pte_update
        counts = self.counts
        counts["pte_zap"] = counts.get("pte_zap", 0) + nr_ptes

    def pte_walk(self, nr_ptes: int) -> None:
        self.ns += nr_ptes * self.costs.pte_walk_per_pte
        counts = self.counts
        counts["pte_walk"] = counts.get("pte_walk", 0) + nr_ptes

    def io_wait(self) -> None:
        # A task that sleeps dispatches its plug first (blk_flush_plug from schedule()).
        if self._plugged:
            self._flush_plug()
        if self._read_submitted:
            # It sleeps on a read it submitted (io_schedule): a switch out and, at the
            # completion's wake-up, back in. A swap-in zswap or zram served in place, or a
            # folio another operation read, is not charged one.
            self._read_submitted = False
            self._sleep()
        self.ops.append(WAIT)
        try:
            self.vals.append(self.ns)
        except OverflowError:
            self._high(self.ns)
        self.ns = 0
        counts = self.counts
        counts["io_wait"] = counts.get("io_wait", 0) + 1

    # -- swap ----------------------------------------------------------------------------------
    def lock_step(self, lock_class: str, instance: Hashable, cost: Cost) -> None:
        # One step: the work since the last step (with this lock's uncontended overhead),
        # then the critical section. StepKeys.lock_id() inlined: this runs for every
        # critical section.
        keys = self.keys
        lid = keys.lock_ids.get((lock_class, instance))
        if lid is None:
            lid = keys.lock_id(lock_class, instance)
        self.ops.append(self._lock_op[cost] | lid << LOCK_ID_SHIFT)
        ns = self.ns + self._lock_overhead
        try:
            self.vals.append(ns)
        except OverflowError:
            self._high(ns)
        self.ns = 0
        counts = self.counts
        key = keys.lock_counts[lid]
        counts[key] = counts.get(key, 0) + 1

    def swap_cache_lookup(self) -> None:
        self.ns += self.costs.swap_cache_lookup
        counts = self.counts
        counts["swap_cache_lookup"] = counts.get("swap_cache_lookup", 0) + 1

    def desc_lookup(self) -> None:
        self.ns += self.costs.swap_desc_lookup
        counts = self.counts
        counts["desc_lookup"] = counts.get("desc_lookup", 0) + 1

    def zero_check(self, nr: int) -> None:
        self.ns += nr * self.costs.zero_check
        counts = self.counts
        counts["zero_check"] = counts.get("zero_check", 0) + nr

    def device_io(self, device: str, op: str, nbytes: int, offset: int = -1) -> None:
        kind = self.device_kinds.get(device)
        sync = kind is not None and kind.synchronous_io
        counts = self.counts
        counts[f"io_{op}"] = counts.get(f"io_{op}", 0) + 1
        if sync:
            # A bio-based driver (zram, pmem) serves the bio inside submit_bio: no plug,
            # no request.
            assert kind is not None
            lat = kind.read_latency_ns if op == "read" else kind.write_latency_ns
            bw = kind.read_bandwidth if op == "read" else kind.write_bandwidth
            self.ns += self.costs.io_submit_sync + lat + -(-nbytes * 1_000_000_000 // bw)
            return
        self.ns += self.costs.io_bio
        if op == "read":
            self._read_submitted = True
        iid = self.keys.io_id(device, op)
        if self._plug_depth and offset >= 0:
            self._plug_add(iid, offset, nbytes)
        else:
            self._request(iid, nbytes)

    def _sleep(self) -> None:
        self.ns += self.costs.context_switch
        counts = self.counts
        counts["io_sleep"] = counts.get("io_sleep", 0) + 1

    def _request(self, iid: int, nbytes: int) -> None:
        """One request dispatched to the device (its submit and completion work, then the
        I/O step)."""
        self.ns += self.costs.io_submit + self.costs.io_complete
        counts = self.counts
        counts["io_request"] = counts.get("io_request", 0) + 1
        self._flush()
        self.ops.append(IO | iid << 2)
        try:
            self.vals.append(nbytes)
        except OverflowError:
            self._high(nbytes)

    def blk_start_plug(self) -> None:
        self._plug_depth += 1

    def blk_finish_plug(self) -> None:
        self._plug_depth -= 1
        if not self._plug_depth and self._plugged:
            self._flush_plug()

    def _plug_add(self, iid: int, offset: int, nbytes: int) -> None:
        """A bio into the plug: merged at the back of a held request that ends where it
        starts or at the front of one that starts where it ends (``blk_attempt_plug_merge``
        and the I/O scheduler's merges), two requests it joins become one; else a new
        request, after dispatching the held ones if the plug has
        :data:`BLK_MAX_REQUEST_COUNT` of them or its last is :data:`BLK_PLUG_FLUSH_SIZE`
        (``blk_add_rq_to_plug``). A merge never makes a request over
        :data:`MAX_REQUEST_BYTES`."""
        end = offset + nbytes // PAGE_SIZE
        ends, starts = self._plug_ends, self._plug_starts
        rq = ends.get((iid, offset))
        if rq is not None and rq[3] + nbytes <= MAX_REQUEST_BYTES:
            del ends[(iid, offset)]
            rq[2] = end
            rq[3] += nbytes
            nxt = starts.get((iid, end))
            if nxt is not None and nxt is not rq and rq[3] + nxt[3] <= MAX_REQUEST_BYTES:
                del starts[(iid, end)]
                del ends[(iid, nxt[2])]
                rq[2] = nxt[2]
                rq[3] += nxt[3]
                self._plugged.remove(nxt)  # no other held request has its start
            ends[(iid, rq[2])] = rq
            return
        rq = starts.get((iid, end))
        if rq is not None and rq[3] + nbytes <= MAX_REQUEST_BYTES:
            del starts[(iid, end)]
            rq[1] = offset
            rq[3] += nbytes
            starts[(iid, offset)] = rq
            return
        plugged = self._plugged
        if plugged and (len(plugged) >= BLK_MAX_REQUEST_COUNT
                        or plugged[-1][3] >= BLK_PLUG_FLUSH_SIZE):
            self._flush_plug()
        rq = [iid, offset, end, nbytes]
        self._plugged.append(rq)
        ends[(iid, end)] = rq
        starts[(iid, offset)] = rq

    def _flush_plug(self) -> None:
        """Dispatch the plug's requests in the order they were started
        (``blk_mq_flush_plug_list``)."""
        plugged = self._plugged
        self._plugged = []
        self._plug_ends.clear()
        self._plug_starts.clear()
        for iid, _, _, nbytes in plugged:
            self._request(iid, nbytes)

    # -- zswap ---------------------------------------------------------------------------------
    def compress(self, algo: str, nbytes: int, poor: bool = False) -> None:
        key = algo + "!" if poor else algo
        ns = self._comp.get(key)
        if ns is None:
            ns = self._comp[key] = (self.costs.compress_ns(algo, poor=poor)
                                    + self.costs.zsmalloc_alloc)
        self.ns += ns
        counts = self.counts
        counts["compress"] = counts.get("compress", 0) + 1

    def decompress(self, algo: str, nbytes: int) -> None:
        ns = self._decomp.get(algo)
        if ns is None:
            ns = self._decomp[algo] = self.costs.decompress_ns(algo)
        self.ns += ns
        counts = self.counts
        counts["decompress"] = counts.get("decompress", 0) + 1

    def zpool_free(self) -> None:
        self.ns += self.costs.zsmalloc_free
        counts = self.counts
        counts["zpool_free"] = counts.get("zpool_free", 0) + 1


class TallyingRecorder(StepRecorder):
    """A :class:`StepRecorder` that also counts how many times each cost-table entry was
    charged (``tally[name]``, in units of the entry: ``compress_lzo`` 2.5 is two and a half
    pages' worth).

    ``vswap calibrate --host`` fits the cost table to host runs with it: a run's modelled
    sys time is ``sum(tally[name] * costs.<name>)`` plus what no entry prices (spin,
    synchronous device service time), so the tally is the design matrix of the fit.
    Charges exactly what :class:`StepRecorder` charges; only slower (a dict update per
    entry), so ordinary runs do not use it.
    """

    def __init__(self, costs: CostTable, device_kinds: dict[str, DeviceKind]) -> None:
        super().__init__(costs, device_kinds)
        self.tally: dict[str, float] = {}

    def forget(self) -> None:
        super().forget()
        self.tally.clear()

    def _t(self, name: str, n: float = 1) -> None:
        self.tally[name] = self.tally.get(name, 0) + n

    def fault(self) -> None:
        super().fault()
        self._t("fault_entry_exit")
        self._t("pte_update")

    def folio_alloc(self, nr: int, zeroed: bool) -> None:
        super().folio_alloc(nr, zeroed)
        self._t("memcg_charge", nr)
        self._t("lru_add", nr)
        if zeroed:
            self._t("page_copy", nr)

    def folio_free(self, nr: int) -> None:
        super().folio_free(nr)
        self._t("memcg_uncharge", nr)
        self._t("lru_move", nr)

    def page_copy(self, nr: int) -> None:
        super().page_copy(nr)
        self._t("page_copy", nr)

    def reclaim_scan(self, nr: int) -> None:
        super().reclaim_scan(nr)
        self._t("lru_move")
        self._t("rmap_walk")

    def unmap(self, nr_ptes: int) -> None:
        super().unmap(nr_ptes)
        self._t("rmap_walk")
        self._t("tlb_flush_local")
        self._t("pte_update", nr_ptes)

    def pte_zap(self, nr_ptes: int) -> None:
        super().pte_zap(nr_ptes)
        self._t("pte_update", nr_ptes)

    def pte_walk(self, nr_ptes: int) -> None:
        super().pte_walk(nr_ptes)
        self._t("pte_walk_per_pte", nr_ptes)

    def lock_step(self, lock_class: str, instance: Hashable, cost: Cost) -> None:
        super().lock_step(lock_class, instance, cost)
        self._t("spin_lock_uncontended")
        self._t(cost.value)

    def swap_cache_lookup(self) -> None:
        super().swap_cache_lookup()
        self._t("swap_cache_lookup")

    def desc_lookup(self) -> None:
        super().desc_lookup()
        self._t("swap_desc_lookup")

    def zero_check(self, nr: int) -> None:
        super().zero_check(nr)
        self._t("zero_check", nr)

    def device_io(self, device: str, op: str, nbytes: int, offset: int = -1) -> None:
        super().device_io(device, op, nbytes, offset)
        kind = self.device_kinds.get(device)
        if kind is not None and kind.synchronous_io:
            self._t("io_submit_sync")
        else:
            self._t("io_bio")

    def _sleep(self) -> None:
        super()._sleep()
        self._t("context_switch")

    def _request(self, iid: int, nbytes: int) -> None:
        super()._request(iid, nbytes)
        self._t("io_submit")
        self._t("io_complete")

    def compress(self, algo: str, nbytes: int, poor: bool = False) -> None:
        super().compress(algo, nbytes, poor)
        self._t(("compress_poor_" if poor else "compress_") + algo.replace("-", "_"))
        self._t("zsmalloc_alloc")

    def decompress(self, algo: str, nbytes: int) -> None:
        super().decompress(algo, nbytes)
        self._t("decompress_" + algo.replace("-", "_"))

    def zpool_free(self) -> None:
        super().zpool_free()
        self._t("zsmalloc_free")

    def priced_ns(self, costs: CostTable | None = None) -> float:
        """What the tallied entries cost at ``costs`` (default: this recorder's table), ns."""
        table = self.costs if costs is None else costs
        return float(sum(n * getattr(table, name) for name, n in self.tally.items()))


class Charger:
    """Replays recorded steps on the engine: locks by (class, instance), I/O by device.

    ``keys`` is the recorder's :class:`StepKeys`: what the bits of a step's op word name.
    """

    def __init__(self, engine: Engine, locks: LockTable, queues: dict[str, IoQueue],
                 keys: StepKeys) -> None:
        self.engine = engine
        self.locks = locks
        self.queues = queues
        self.keys = keys
        self._locks: dict[tuple[str, Hashable], SpinLock] = {}
        #: The spinlock by lock id, filled on the id's first charge (None: not yet).
        self._by_id: list[SpinLock | None] = []
        #: Each task's step replay (made on its first charge; a task charges one operation
        #: at a time).
        self._replays: dict[CpuTask, _Replay] = {}

    def lock(self, lock_class: str, instance: Hashable) -> SpinLock:
        """The spinlock instance ``lock_class[instance]``, created on first use."""
        key = (lock_class, instance)
        lk = self._locks.get(key)
        if lk is None:
            lk = self._locks[key] = self.locks.spinlock(lock_class, instance)
        return lk

    def _lock_of(self, lid: int) -> SpinLock:
        """The spinlock lock id ``lid`` names (created on first use, as :meth:`lock`)."""
        by_id = self._by_id
        if lid >= len(by_id):
            by_id.extend([None] * (lid + 1 - len(by_id)))
        lock_class, instance = self.keys.locks[lid]
        lk = by_id[lid] = self.lock(lock_class, instance)
        return lk

    def charge(self, task: CpuTask, ops: Sequence[int], vals: Sequence[int], tail_ns: int,
               result: Any = None, error: BaseException | None = None) -> Event:
        """Charge ``task`` for one operation's steps (``recorder.take()``): the steps in
        order, then ``tail_ns`` of work, then writeback throttling; the returned event
        fires, with ``result`` as its value (or ``error`` as its failure), once they are
        done. The task yields it (``yield charger.charge(...)``; ``yield from`` works too).

        The replay starts at once, in the caller's instant, and runs as far as it can
        before it must wait (a chunk of work that other events are due within, a
        contended lock, a read); the event is already processed when nothing had to
        wait. Called at the point where the task would start a generator doing the same
        steps, it charges the same events at the same times in the same order
        (:class:`_Replay`).
        """
        rp = self._replays.get(task)
        if rp is None:
            rp = self._replays[task] = _Replay(self, task)
        return rp.start(ops, vals, tail_ns, result, error)


#: Where a :class:`_Replay` continues when the event it waits for fires.
_NEXT: Final = 0  # the next step
_ACQUIRE: Final = 1  # a lock step's work before the lock is done: take the lock
_HOLD: Final = 2  # the lock is taken: the critical section's work
_RELEASE: Final = 3  # the critical section's work is done: release the lock
_READS: Final = 4  # a wait step's work is done: wait for the task's reads
_TAIL: Final = 5  # the steps are done: the trailing work
_THROTTLE: Final = 6  # the trailing work is done: writeback throttling
_WRITEBACK: Final = 7  # throttled: waiting for the oldest write


class _Replay:
    """One task's step replay: an operation's recorded steps charged on the engine as an
    explicit state machine rather than a generator.

    Models: nothing in the kernel (see :meth:`Charger.charge`). Each chunk of work is
    :meth:`~vswap.sim.cpus.Task.sys_work_then` with this replay's ``timer``, one event
    re-armed for every chunk, whose callback (:meth:`_resume`) the engine calls when the
    chunk ends, where a generator replay made a ``Timeout`` per chunk, yielded it, and was
    resumed through the task's process; a contended lock, a read or writeback the task
    blocks on get the same callback appended. When the steps are done the operation's
    ``done`` event is processed in place (its callbacks, the task's process, run at once),
    as the task's generator continued at once when a charge generator returned: the same
    events happen at the same times, with the same heap sequence numbers, in the same
    order.

    Invariant: at most one operation is charged at a time (``done`` is not None while
    one is); ``state`` and ``i`` say where it continues.
    """

    __slots__ = ("_cbs", "_resume_cb", "charger", "done", "error", "hold", "i", "lock", "lock_op",
                 "n", "ops", "reads", "result", "state", "tail", "task", "timer", "vals",
                 "writes")

    def __init__(self, charger: Charger, task: CpuTask) -> None:
        self.charger = charger
        self.task = task
        timer = Event(charger.engine)
        timer._value = None
        self.timer = timer
        # One bound method, and the timer's one-callback list, reused for every wait.
        self._resume_cb: Callable[[Event], None] = self._resume
        self._cbs: list[Callable[[Event], None]] = [self._resume_cb]
        #: The event of the operation being charged (None: none is).
        self.done: Event | None = None
        self.ops: Sequence[int] = _NO_STEPS
        self.vals: Sequence[int] = _NO_STEPS
        self.n = 0
        self.i = 0
        self.state = _NEXT
        #: The op word of the lock step in progress, its lock and critical section's ns.
        self.lock_op = 0
        self.lock: SpinLock | None = None
        self.hold = 0
        self.tail = 0
        self.result: Any = None
        self.error: BaseException | None = None
        #: Reads submitted since the task's last wait step; writes in flight, oldest first.
        self.reads: list[Event] | None = None
        self.writes: deque[Event] | None = None

    def start(self, ops: Sequence[int], vals: Sequence[int], tail_ns: int, result: Any,
              error: BaseException | None) -> Event:
        """Charge one operation (:meth:`Charger.charge`)."""
        if self.done is not None:
            raise SimError(f"{self.task!r} charges an operation while one is charged")
        done = self.done = Event(self.charger.engine)
        self.ops = ops
        self.vals = vals
        self.n = len(ops)
        self.i = 0
        self.state = _NEXT
        self.tail = tail_ns
        self.result = result
        self.error = error
        self._step()
        return done

    def _resume(self, event: Event) -> None:
        """The event the replay waited for was processed: continue (the callback of
        ``timer`` and of every event the replay waits on)."""
        if not event._ok:
            # The failure goes to the task, as a generator's uncaught exception did.
            event._defused = True
            self._finish(False, event._value)
            return
        self._step()

    def _step(self) -> None:
        try:
            if not self._run():
                return
        except BaseException as exc:
            self._finish(False, exc)
            return
        error = self.error
        if error is None:
            self._finish(True, self.result)
        else:
            self._finish(False, error)

    def _finish(self, ok: bool, value: Any) -> None:
        """Process ``done`` in place: the task continues now, in this instant. Everything
        of this operation is cleared first: the task may charge its next one before this
        returns."""
        done = self.done
        assert done is not None
        self.done = None
        self.ops = self.vals = _NO_STEPS
        self.result = self.error = self.lock = None
        done._ok = ok
        done._value = value
        callbacks = done.callbacks
        assert callbacks is not None
        done.callbacks = None
        for callback in callbacks:
            callback(done)

    def _run(self) -> bool:
        """Replay from ``state``, step ``i``, until the operation is done (True) or the
        replay waits for an event whose callback resumes it (False)."""
        task = self.task
        charger = self.charger
        timer = self.timer
        cbs = self._cbs
        ops = self.ops
        vals = self.vals
        n = self.n
        i = self.i
        state = self.state
        while True:
            if state == _NEXT:
                if i == n:
                    state = _TAIL
                    continue
                op = ops[i]
                val = vals[i]
                i += 1
                if op == HIGH:
                    op = ops[i]
                    val = val << 32 | vals[i]
                    i += 1
                kind = op & 3
                if kind == WORK:
                    timer.callbacks = cbs
                    if task.sys_work_then(val, timer):
                        continue
                    break
                if kind == LOCK:
                    self.lock_op = op
                    state = _ACQUIRE
                    if val:
                        timer.callbacks = cbs
                        if not task.sys_work_then(val, timer):
                            break
                    continue
                if kind == IO:
                    device, rw = charger.keys.io[op >> 2]
                    req = charger.queues[device].submit(rw, val)
                    if rw == "read":
                        reads = self.reads
                        if reads is None:
                            self.reads = [req]
                        else:
                            reads.append(req)
                    else:
                        writes = self.writes
                        if writes is None:
                            self.writes = deque((req,))
                        else:
                            writes.append(req)
                    continue
                state = _READS
                if val:
                    timer.callbacks = cbs
                    if not task.sys_work_then(val, timer):
                        break
                continue
            if state == _ACQUIRE:
                op = self.lock_op
                lid = op >> LOCK_ID_SHIFT
                by_id = charger._by_id
                lk = by_id[lid] if lid < len(by_id) else None
                if lk is None:
                    lk = charger._lock_of(lid)
                self.hold = charger.keys.holds[op >> 2 & _COST_MASK]
                self.lock = lk
                state = _HOLD
                ev = lk.acquire(task)
                callbacks = ev.callbacks
                if callbacks is not None:
                    callbacks.append(self._resume_cb)
                    break
                continue
            if state == _HOLD:
                state = _RELEASE
                timer.callbacks = cbs
                if task.sys_work_then(self.hold, timer):
                    continue
                break
            if state == _RELEASE:
                lk = self.lock
                assert lk is not None
                lk.release(task)
                state = _NEXT
                continue
            if state == _READS:
                state = _NEXT
                reads = self.reads
                self.reads = None
                if reads:
                    pending = [r for r in reads if r.callbacks is not None]
                    if pending:
                        wake = task.block(charger.engine.all_of(pending))
                        callbacks = wake.callbacks
                        assert callbacks is not None
                        callbacks.append(self._resume_cb)
                        break
                continue
            if state == _TAIL:
                state = _THROTTLE
                tail = self.tail
                if tail:
                    timer.callbacks = cbs
                    if not task.sys_work_then(tail, timer):
                        break
                continue
            if state == _THROTTLE:
                # The end of the operation: at most WRITEBACK_LIMIT writes in flight.
                reads = self.reads
                if reads is not None and len(reads) > WRITEBACK_LIMIT:
                    self.reads = [r for r in reads if r.callbacks is not None]
                writes = self.writes
                if not writes:
                    return True
                while writes and writes[0].callbacks is None:
                    writes.popleft()
                state = _WRITEBACK
            writes = self.writes
            assert writes is not None
            while len(writes) > WRITEBACK_LIMIT:
                oldest = writes.popleft()
                if oldest.callbacks is not None:
                    wake = task.block(oldest)
                    callbacks = wake.callbacks
                    assert callbacks is not None
                    callbacks.append(self._resume_cb)
                    break
            else:
                return True
            break
        self.i = i
        self.state = state
        return False
