"""The step recorder's flat columns and their replay (run/charge.py)."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Generator, Sequence
from typing import Any

import pytest

from vswap.kernel.tracing import Cost
from vswap.run.charge import (
    BLK_MAX_REQUEST_COUNT,
    COSTS,
    HIGH,
    IO,
    LOCK,
    LOCK_ID_SHIFT,
    MAX_REQUEST_BYTES,
    WAIT,
    WORK,
    WRITEBACK_LIMIT,
    Charger,
    StepRecorder,
    TallyingRecorder,
)
from vswap.sim.costs import BUILTIN_COSTS
from vswap.sim.cpus import CpuSet
from vswap.sim.cpus import Task as CpuTask
from vswap.sim.device_kinds import get_device_kind
from vswap.sim.engine import Engine, Event
from vswap.sim.instrument import RecordingInstrument
from vswap.sim.locks import LockTable

C = BUILTIN_COSTS
NVME = get_device_kind("nvme")


def _recorder() -> StepRecorder:
    return StepRecorder(C, {"nvme0": NVME})


def _decode(rec: StepRecorder, ops: Sequence[int], vals: Sequence[int]
            ) -> list[tuple[Any, ...]]:
    """The steps as the tuples the recorder used to keep: the work before a lock or a wait
    was a step of its own, a lock step held its hold ns."""
    out: list[tuple[Any, ...]] = []
    steps = zip(ops, vals, strict=True)
    for op, val in steps:
        if op == HIGH:
            op, low = next(steps)
            val = val << 32 | low
        kind = op & 3
        if kind == WORK:
            out.append((WORK, val))
        elif kind == LOCK:
            if val:
                out.append((WORK, val))
            cost = COSTS[op >> 2 & ((1 << (LOCK_ID_SHIFT - 2)) - 1)]
            out.append((LOCK, *rec.keys.locks[op >> LOCK_ID_SHIFT], getattr(C, cost.value)))
        elif kind == IO:
            out.append((IO, *rec.keys.io[op >> 2], val))
        else:
            assert kind == WAIT
            if val:
                out.append((WORK, val))
            out.append((WAIT,))
    return out


def _record(rec: StepRecorder) -> None:
    rec.fault()
    rec.lock_step("swap_cache", (0, 3), Cost.SWAP_CACHE_INSERT)
    rec.lock_step("swap_cluster", (0, 17), Cost.SWAP_SLOT_ALLOC)
    rec.device_io("nvme0", "read", 4096)
    rec.io_wait()
    rec.lock_step("swap_cache", (0, 3), Cost.SWAP_CACHE_DELETE)
    rec.zero_check(1)


def test_steps_are_columns_with_interned_keys() -> None:
    rec = _recorder()
    _record(rec)
    ops, vals, tail = rec.take()
    spin = C.spin_lock_uncontended
    assert _decode(rec, ops, vals) == [
        (WORK, C.fault_entry_exit + C.pte_update + spin),
        (LOCK, "swap_cache", (0, 3), C.swap_cache_insert),
        (WORK, spin),
        (LOCK, "swap_cluster", (0, 17), C.swap_slot_alloc),
        (WORK, C.io_bio + C.io_submit + C.io_complete),
        (IO, "nvme0", "read", 4096),
        (WORK, C.context_switch),  # it sleeps on its own read
        (WAIT,),
        (WORK, spin),
        (LOCK, "swap_cache", (0, 3), C.swap_cache_delete),
    ]
    # A lock step carries the work before it: 6 steps, 8 bytes each.
    assert len(ops) == len(vals) == 6
    assert ops.itemsize + vals.itemsize == 8  # type: ignore[attr-defined]
    assert tail == C.zero_check
    # One id per lock instance, however many steps name it; counted per class.
    assert rec.keys.locks == [("swap_cache", (0, 3)), ("swap_cluster", (0, 17))]
    assert rec.counts["lock:swap_cache"] == 2 and rec.counts["lock:swap_cluster"] == 1
    # take() starts a new operation; the ids stay.
    rec.lock_step("swap_cluster", (0, 17), Cost.SWAP_SLOT_ALLOC)
    ops2, vals2, tail2 = rec.take()
    assert _decode(rec, ops2, vals2) == [
        (WORK, spin), (LOCK, "swap_cluster", (0, 17), C.swap_slot_alloc)]
    assert tail2 == 0 and len(rec.keys.locks) == 2


def test_an_operation_of_work_only_has_no_steps() -> None:
    rec = _recorder()
    rec.fault()
    rec.folio_alloc(1, True)
    ops, vals, tail = rec.take()
    assert len(ops) == 0 and len(vals) == 0
    assert tail == C.fault_entry_exit + C.pte_update + C.memcg_charge + C.lru_add + C.page_copy
    assert rec.take() == ((), (), 0)


def test_charge_replays_every_step() -> None:
    """Two tasks charge the same recorded operation on two CPUs: every lock step acquires
    its instance (one lock per instance), the work is charged in full, the read is waited
    for."""
    engine = Engine(seed=1)
    cpus = CpuSet(engine, 2)
    locks = LockTable(engine, handoff_ns=C.spin_handoff)
    rec = _recorder()
    charger = Charger(engine, locks, {"nvme0": NVME.make_queue(engine, "nvme0")}, rec.keys)

    def body(task: CpuTask) -> Generator[Event, Any, None]:
        _record(rec)
        yield from charger.charge(task, *rec.take())

    tasks = [cpus.spawn(body, name=f"t{i}") for i in range(2)]
    engine.run()
    stats = locks.statistics(by="instance")
    assert sorted((s.acquisitions, s.hold_total_ns) for s in stats.values()) == [
        (2, 2 * C.swap_slot_alloc), (4, 2 * (C.swap_cache_insert + C.swap_cache_delete))]
    spin = C.spin_lock_uncontended
    work = (C.fault_entry_exit + C.pte_update + 3 * spin + C.swap_cache_insert
            + C.swap_slot_alloc + C.io_submit + C.io_complete + C.swap_cache_delete
            + C.zero_check)
    for t in tasks:
        st = t.statistics()
        assert st.sys_ns - st.spin_ns >= work
        assert st.end_ns is not None and st.end_ns > NVME.read_latency_ns


def test_a_value_over_32_bits_is_split_and_charged_whole() -> None:
    """Work of 2**32 ns or more before a step (never seen in a run) takes a HIGH step with
    its upper half; the charge puts it back together."""
    big = (5 << 32) + 7
    rec = _recorder()
    rec.ns = big
    rec.lock_step("swap_cache", (0, 3), Cost.SWAP_CACHE_INSERT)
    rec.ns = big
    rec.device_io("nvme0", "write", 4096)
    ops, vals, _ = rec.take()
    assert list(ops).count(HIGH) == 2 and max(vals) < 1 << 32
    assert _decode(rec, ops, vals) == [
        (WORK, big + C.spin_lock_uncontended),
        (LOCK, "swap_cache", (0, 3), C.swap_cache_insert),
        (WORK, big + C.io_bio + C.io_submit + C.io_complete),
        (IO, "nvme0", "write", 4096)]
    engine = Engine(seed=1)
    cpus = CpuSet(engine, 1)
    charger = Charger(engine, LockTable(engine, handoff_ns=C.spin_handoff),
                      {"nvme0": NVME.make_queue(engine, "nvme0")}, rec.keys)

    def body(task: CpuTask) -> Generator[Event, Any, None]:
        yield from charger.charge(task, ops, vals, 0)

    t = cpus.spawn(body, name="t")
    engine.run()
    assert t.statistics().sys_ns >= 2 * big + C.swap_cache_insert


# -- the plug (blk_start_plug .. blk_finish_plug) ------------------------------------------


def _ios(rec: StepRecorder) -> list[tuple[str, str, int]]:
    """The requests of the operation so far: (device, op, bytes)."""
    ops, vals, _ = rec.take()
    return [(dev, op, nbytes) for kind, dev, op, nbytes, *_ in
            (s + (0,) * 3 for s in _decode(rec, ops, vals)) if kind == IO]


def test_a_plug_merges_contiguous_bios_into_one_request() -> None:
    """Cluster readahead's window read target first (offset 5), then 4, 6, 7 and 12: the
    target joins the run below it and the pages above it (back and front merges, and the
    two requests joined), 12 stays a request of its own. Each bio costs io_bio, each
    request io_submit + io_complete."""
    rec = _recorder()
    rec.blk_start_plug()
    for off in (5, 4, 6, 7, 12):
        rec.device_io("nvme0", "read", 4096, off)
    assert not any(op & 3 == IO for op in rec.ops)  # held until the plug is finished
    rec.blk_finish_plug()
    ops, vals, _ = rec.take()
    steps = _decode(rec, ops, vals)
    assert [s for s in steps if s[0] == IO] == [(IO, "nvme0", "read", 4 * 4096),
                                                (IO, "nvme0", "read", 4096)]
    assert steps[0] == (WORK, 5 * C.io_bio + C.io_submit + C.io_complete)
    assert rec.counts["io_read"] == 5 and rec.counts["io_request"] == 2
    # 5, then 3 (a request of its own), then 4: it merges at the back of 3's request, which
    # then ends where 5's starts, so the two become one request.
    rec.blk_start_plug()
    for off in (5, 3, 4):
        rec.device_io("nvme0", "read", 4096, off)
    assert len(rec._plugged) == 1
    rec.blk_finish_plug()
    assert _ios(rec) == [("nvme0", "read", 3 * 4096)]


def test_unplugged_bios_and_unknown_offsets_are_requests_of_their_own() -> None:
    rec = _recorder()
    rec.device_io("nvme0", "write", 4096, 1)
    rec.device_io("nvme0", "write", 4096, 2)
    rec.blk_start_plug()
    rec.device_io("nvme0", "write", 4096)  # no offset: never merged
    rec.device_io("nvme0", "write", 4096)
    rec.blk_finish_plug()
    assert _ios(rec) == [("nvme0", "write", 4096)] * 4


def test_reads_and_writes_and_devices_do_not_merge() -> None:
    rec = StepRecorder(C, {"nvme0": NVME, "nvme1": NVME})
    rec.blk_start_plug()
    rec.device_io("nvme0", "write", 4096, 1)
    rec.device_io("nvme0", "read", 4096, 2)
    rec.device_io("nvme1", "write", 4096, 2)
    rec.device_io("nvme0", "write", 4096, 2)
    rec.blk_finish_plug()
    assert _ios(rec) == [("nvme0", "write", 8192), ("nvme0", "read", 4096),
                         ("nvme1", "write", 4096)]


def test_nested_plugs_dispatch_at_the_outermost_finish() -> None:
    rec = _recorder()
    rec.blk_start_plug()
    rec.device_io("nvme0", "write", 4096, 10)
    rec.blk_start_plug()  # direct reclaim inside readahead: the same plug
    rec.device_io("nvme0", "write", 4096, 11)
    rec.blk_finish_plug()
    assert not any(op & 3 == IO for op in rec.ops)  # nothing dispatched yet
    rec.device_io("nvme0", "write", 4096, 12)
    rec.blk_finish_plug()
    assert _ios(rec) == [("nvme0", "write", 3 * 4096)]


def test_a_task_that_waits_dispatches_its_plug_first() -> None:
    rec = _recorder()
    rec.blk_start_plug()
    rec.device_io("nvme0", "read", 4096, 3)
    rec.io_wait()
    rec.device_io("nvme0", "read", 4096, 4)
    rec.blk_finish_plug()
    ops, vals, _ = rec.take()
    kinds = [s[0] for s in _decode(rec, ops, vals)]
    assert kinds == [WORK, IO, WORK, WAIT, WORK, IO]  # the WORK before WAIT: its sleep


def test_the_plug_dispatches_at_32_requests_and_after_a_128k_request() -> None:
    rec = _recorder()
    rec.blk_start_plug()
    for i in range(BLK_MAX_REQUEST_COUNT + 1):
        rec.device_io("nvme0", "write", 4096, 2 * i)  # never contiguous
        if i == BLK_MAX_REQUEST_COUNT - 1:
            assert not any(op & 3 == IO for op in rec.ops)
    # The 33rd request found 32 held: they went first.
    assert sum(op & 3 == IO for op in rec.ops) == BLK_MAX_REQUEST_COUNT
    rec.blk_finish_plug()
    assert len(_ios(rec)) == BLK_MAX_REQUEST_COUNT + 1
    rec.blk_start_plug()
    for off in range(1000, 1032):  # 128 KiB in one request
        rec.device_io("nvme0", "write", 4096, off)
    assert not any(op & 3 == IO for op in rec.ops)
    rec.device_io("nvme0", "write", 4096, 5000)  # a new request after a 128K one
    assert sum(op & 3 == IO for op in rec.ops) == 1
    rec.blk_finish_plug()
    assert _ios(rec) == [("nvme0", "write", 128 * 1024), ("nvme0", "write", 4096)]


def test_a_merge_never_makes_a_request_over_the_limit() -> None:
    rec = _recorder()
    rec.blk_start_plug()
    pages = MAX_REQUEST_BYTES // 4096
    for off in range(pages + 3):
        rec.device_io("nvme0", "write", 4096, off)
    rec.blk_finish_plug()
    assert _ios(rec) == [("nvme0", "write", MAX_REQUEST_BYTES), ("nvme0", "write", 3 * 4096)]


def test_a_synchronous_device_is_never_plugged() -> None:
    """zram (and pmem) serve a bio inside submit_bio: no request, no io_bio, no merge."""
    zram = get_device_kind("zram")
    rec = StepRecorder(C, {"zram0": zram})
    rec.blk_start_plug()
    rec.device_io("zram0", "read", 4096, 1)
    rec.device_io("zram0", "read", 4096, 2)
    rec.blk_finish_plug()
    assert _ios(rec) == [] and "io_request" not in rec.counts


def test_the_tally_counts_bios_and_requests() -> None:
    rec = TallyingRecorder(C, {"nvme0": NVME})
    rec.blk_start_plug()
    for off in (1, 2, 3, 9):
        rec.device_io("nvme0", "read", 4096, off)
    rec.blk_finish_plug()
    rec.take()
    assert rec.tally["io_bio"] == 4
    assert rec.tally["io_submit"] == rec.tally["io_complete"] == 2


def test_a_wait_on_a_read_the_operation_submitted_sleeps() -> None:
    """io_wait after an asynchronous read charges a context switch (io_schedule); a wait
    with no read of its own (zswap served the swap-in in place) does not."""
    rec = TallyingRecorder(C, {"nvme0": NVME})
    rec.io_wait()
    rec.device_io("nvme0", "write", 4096, 1)
    rec.io_wait()
    assert "context_switch" not in rec.tally
    rec.device_io("nvme0", "read", 4096, 2)
    rec.io_wait()
    rec.io_wait()  # nothing submitted since: already awake
    ops, vals, _ = rec.take()
    assert rec.tally["context_switch"] == 1 and rec.counts["io_sleep"] == 1
    waits = [s for s in _decode(rec, ops, vals) if s[0] != IO]
    assert (WORK, C.context_switch) in waits


def test_a_run_merges_readahead_and_reclaim_writes_into_requests() -> None:
    """End to end on the swap file: pattern writes 4 MiB in a 2 MiB cgroup and reads it
    back in order. Reclaim's writes (under shrink_lruvec's plug) and readahead's windows
    (under swapin_readahead's) become far fewer requests than bios; each read-back fault
    that submitted a read sleeps once."""
    from vswap.run.context import RunConfig, parse_device_spec, run_workload

    made: list[StepRecorder] = []

    class Rec(StepRecorder):
        def __init__(self, *a: Any) -> None:
            super().__init__(*a)
            made.append(self)

    dev = parse_device_spec("file:16M")
    assert dev is not None
    m = run_workload(RunConfig(design="classic", workload="pattern --size 4M --content random",
                               memory_max=2 << 20, swap_devices=[dev], cpus=1,
                               recorder_class=Rec))
    counts = made[-1].counts
    bios = counts["io_read"] + counts["io_write"]
    assert bios == m.vmstat["pswpin"] + m.vmstat["pswpout"] > 1000
    assert counts["io_request"] * 4 < bios
    # One sleep per fault that read (a major fault), none for a readahead hit.
    assert counts["io_sleep"] == m.vmstat["pgmajfault"] < m.vmstat["pswpin"]


# -- the replay as a state machine, against the generator it replaced ----------------------


def _generator_replay(charger: Charger, reads_of: dict[CpuTask, list[Event]],
                      writes_of: dict[CpuTask, deque[Event]], task: CpuTask,
                      ops: Sequence[int], vals: Sequence[int], tail_ns: int,
                      waits: list[str]) -> Generator[Event, Any, None]:
    """``Charger.charge`` as it was before the state machine (a generator yielding each
    work chunk's Timeout, each contended lock, each wait): the reference the replay must
    match event for event. ``waits`` gets what the task blocked on."""
    holds = charger.keys.holds
    steps = zip(ops, vals)
    for op, val in steps:
        if op == HIGH:
            op, low = next(steps)
            val = val << 32 | low
        kind = op & 3
        if kind == LOCK:
            if val:
                ev = task.work(val)
                if ev.callbacks is not None:
                    yield ev
            lk = charger._lock_of(op >> LOCK_ID_SHIFT)
            ev = lk.acquire(task)
            if ev.callbacks is not None:
                yield ev
            ev = task.work(holds[op >> 2 & ((1 << (LOCK_ID_SHIFT - 2)) - 1)])
            if ev.callbacks is not None:
                yield ev
            lk.release(task)
        elif kind == WORK:
            ev = task.work(val)
            if ev.callbacks is not None:
                yield ev
        elif kind == IO:
            device, rw = charger.keys.io[op >> 2]
            req = charger.queues[device].submit(rw, val)
            if rw == "read":
                reads_of.setdefault(task, []).append(req)
            else:
                writes_of.setdefault(task, deque()).append(req)
        else:
            if val:
                ev = task.work(val)
                if ev.callbacks is not None:
                    yield ev
            reads = reads_of.pop(task, None)
            if reads:
                pending = [r for r in reads if not r.processed]
                if pending:
                    waits.append("reads")
                    yield task.block(charger.engine.all_of(pending))
    if tail_ns:
        ev = task.work(tail_ns)
        if ev.callbacks is not None:
            yield ev
    reads = reads_of.get(task)
    if reads is not None and len(reads) > WRITEBACK_LIMIT:
        reads_of[task] = [r for r in reads if not r.processed]
    writes = writes_of.get(task)
    if writes:
        while writes and writes[0].processed:
            writes.popleft()
        while len(writes) > WRITEBACK_LIMIT:
            oldest = writes.popleft()
            if not oldest.processed:
                waits.append("writeback")
                yield task.block(oldest)


def _programs(seed: int, nr_tasks: int, nr_ops: int) -> tuple[StepRecorder, list[list[Any]]]:
    """Random operations recorded per task: work, critical sections on a few lock
    instances (so tasks contend), writes, reads (odd tasks) and waits, the odd 2**32 ns
    chunk."""
    rng = random.Random(seed)
    rec = _recorder()
    costs = list(Cost)
    programs: list[list[Any]] = []
    for t in range(nr_tasks):
        prog: list[Any] = []
        # Odd tasks read and wait; even ones only write, and outrun the disk.
        reads = 0.95 if t % 2 else 0.9
        for _ in range(nr_ops):
            for _ in range(rng.randrange(12)):
                r = rng.random()
                if r < 0.3:
                    rec.fault()
                elif r < 0.6:
                    rec.lock_step(rng.choice(("swap_cache", "zswap_tree")), rng.randrange(2),
                                  rng.choice(costs))
                elif r < 0.9:
                    rec.device_io("nvme0", "write", 4096 * rng.randrange(1, 4))
                elif r < reads:
                    rec.device_io("nvme0", "read", 4096, rng.randrange(64))
                elif r < 0.997:
                    rec.io_wait()
                else:
                    rec.ns += 1 << 32
            if rng.random() < 0.1:
                rec.ns = 0  # an operation without trailing work
            prog.append((*rec.take(), rng.randrange(3) * 700))
        programs.append(prog)
    return rec, programs


def _replay_run(programs: list[list[Any]], rec: StepRecorder, *, reference: bool,
                instrument: bool, waits: list[str] | None = None) -> list[Any]:
    """Run the programs, one task each, on 3 CPUs with a short timeslice (preemption), the
    device a disk (one request at a time, 13 ms: writes pile up) and the result of every
    operation checked; returns everything observable."""
    engine = Engine(seed=1)
    trace = RecordingInstrument()
    if instrument:
        engine.instruments.add_instrument(trace)
    cpus = CpuSet(engine, 3, timeslice_ns=20_000, switch_ns=C.context_switch)
    locks = LockTable(engine, handoff_ns=C.spin_handoff)
    queue = get_device_kind("hdd").make_queue(engine, "nvme0")
    charger = Charger(engine, locks, {"nvme0": queue}, rec.keys)
    reads_of: dict[CpuTask, list[Event]] = {}
    writes_of: dict[CpuTask, deque[Event]] = {}
    results: list[Any] = []

    def body(task: CpuTask, prog: list[Any]) -> Generator[Event, Any, None]:
        for n, (ops, vals, tail, user) in enumerate(prog):
            if reference:
                yield from _generator_replay(charger, reads_of, writes_of, task, ops, vals,
                                             tail, [] if waits is None else waits)
                got: Any = (task.name, n)
            elif n % 2:
                got = yield from charger.charge(task, ops, vals, tail, (task.name, n))
            else:
                got = yield charger.charge(task, ops, vals, tail, (task.name, n))
            results.append((engine.now, got))
            if user:
                yield task.work(user, "user")

    tasks = [cpus.spawn(body, prog, name=f"t{i}") for i, prog in enumerate(programs)]
    engine.run()
    labels = [tuple("Event" if x == "Timeout" else x for x in step) for step in trace.trace]
    return [engine.now, next(engine._seq), results, labels, cpus.statistics(),
            [t.statistics() for t in tasks], locks.statistics(by="instance"),
            queue.statistics()]


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("instrument", [False, True])
def test_the_replay_charges_what_a_generator_replay_charged(seed: int,
                                                            instrument: bool) -> None:
    """Five tasks on three CPUs charge random operations (contended spinlocks, reads
    waited for, more writes in flight than the writeback limit, preemption at a 20 us
    timeslice, 2**32 ns chunks): the state-machine replay and the generator replay it replaced give
    the same events at the same times in the same order (the instrumented trace, where a
    work chunk's Timeout is the replay's timer), the same number of heap sequence numbers
    (the fast path taken in the same places), the same task, CPU, lock and queue
    statistics and each operation's result at the same instant."""
    rec, programs = _programs(seed, 5, 60)
    waits: list[str] = []
    new = _replay_run(programs, rec, reference=False, instrument=instrument)
    old = _replay_run(programs, rec, reference=True, instrument=instrument, waits=waits)
    assert new == old
    # Contention, preemption, reads waited for and writeback throttling all happened.
    assert new[4].spin_ns > 0 and new[4].nr_preemptions > 0
    assert "reads" in waits and "writeback" in waits
    assert list(rec.keys.io) == [("nvme0", "write"), ("nvme0", "read")]


def test_an_operation_the_kernel_failed_is_charged_then_raised() -> None:
    """``charge(..., error=exc)`` charges the steps and then fails with ``exc`` in the
    task (a task the kernel killed); the result otherwise; an already-charged operation
    (nothing to wait for) is an already-processed event."""
    engine = Engine(seed=1)
    cpus = CpuSet(engine, 1)
    rec = _recorder()
    charger = Charger(engine, LockTable(engine), {"nvme0": NVME.make_queue(engine, "nvme0")},
                      rec.keys)
    seen: list[Any] = []

    def body(task: CpuTask) -> Generator[Event, Any, None]:
        ev = charger.charge(task, (), (), 0, "nothing to wait for")
        assert ev.processed
        seen.append((yield ev))
        rec.lock_step("swap_cache", 0, Cost.SWAP_CACHE_INSERT)
        try:
            yield charger.charge(task, *rec.take(), None, KeyError("killed"))
        except KeyError as exc:
            seen.append((engine.now, str(exc)))
        rec.fault()
        seen.append((yield from charger.charge(task, *rec.take(), 7)))

    cpus.spawn(body, name="t")
    engine.run()
    hold = C.spin_lock_uncontended + C.swap_cache_insert
    assert seen == ["nothing to wait for", (hold, "'killed'"), 7]
