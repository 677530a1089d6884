"""CPUs and locks: serialisation, spin accounting, partitioning, sleeping, rwlock policy."""

from __future__ import annotations

import pytest

from vswap.sim.cpus import CpuSet
from vswap.sim.engine import Engine, Event, SimError
from vswap.sim.ioqueue import IoQueue
from vswap.sim.locks import LockStatistics, LockTable, Mutex, RWLock, SpinLock, assert_held

HOLD = 1_000


def _two_on_one_lock(partitioned: bool):
    e = Engine()
    cpus = CpuSet(e, 2)
    locks = LockTable(e)
    a_lock = locks.spinlock("cache:i_pages", 0)
    b_lock = locks.spinlock("cache:i_pages", 1) if partitioned else a_lock
    acquired: dict[str, int] = {}

    def body(task, lock):
        yield lock.acquire(task)
        acquired[task.name] = e.now
        assert_held(lock, task)
        yield task.work(HOLD)
        lock.release(task)

    ta = cpus.spawn(body, a_lock, name="A")
    tb = cpus.spawn(body, b_lock, name="B")
    e.run()
    return e, cpus, locks, ta, tb, acquired


def test_two_cpus_on_one_spinlock_serialize() -> None:
    e, cpus, locks, ta, tb, acquired = _two_on_one_lock(partitioned=False)
    assert acquired == {"A": 0, "B": HOLD}
    assert e.now == 2 * HOLD
    # B spun for exactly A's hold time, on its own CPU, and that counts as sys time.
    assert tb.spin_ns == HOLD
    assert tb.statistics().sys_ns == HOLD + HOLD
    assert ta.statistics().sys_ns == HOLD and ta.spin_ns == 0
    st = cpus.statistics()
    assert st.per_cpu_busy_ns == (HOLD, 2 * HOLD)
    assert (st.real_ns, st.user_ns, st.sys_ns, st.spin_ns, st.idle_ns) == (
        2 * HOLD, 0, 3 * HOLD, HOLD, HOLD)
    assert locks.statistics()["cache:i_pages"] == LockStatistics(
        "cache:i_pages", acquisitions=2, contentions=1, wait_total_ns=HOLD,
        wait_max_ns=HOLD, hold_total_ns=2 * HOLD, hold_max_ns=HOLD, instances=1)


def test_partitioned_locks_do_not_contend() -> None:
    e, _cpus, locks, _ta, tb, acquired = _two_on_one_lock(partitioned=True)
    assert acquired == {"A": 0, "B": 0}
    assert e.now == HOLD
    assert tb.spin_ns == 0
    cls = locks.statistics()["cache:i_pages"]
    assert (cls.acquisitions, cls.contentions, cls.wait_total_ns, cls.instances) == (2, 0, 0, 2)
    per = locks.statistics(by="instance")
    assert list(per) == ["cache:i_pages[0]", "cache:i_pages[1]"]
    assert all(s.acquisitions == 1 and s.hold_total_ns == HOLD for s in per.values())


def test_spinlock_waiters_are_fifo_and_handoff_delay_counts_as_wait() -> None:
    e = Engine()
    cpus = CpuSet(e, 4)
    locks = LockTable(e, handoff_ns=10)
    lock = locks.spinlock("l")
    order: list[tuple[str, int]] = []

    def body(task):
        yield lock.acquire(task)
        order.append((task.name, e.now))
        yield task.work(100)
        lock.release(task)

    for name in "ABCD":
        cpus.spawn(body, name=name)
    e.run()
    assert order == [("A", 0), ("B", 110), ("C", 220), ("D", 330)]
    st = lock.statistics()
    assert st.contentions == 3
    assert st.wait_total_ns == 110 + 220 + 330
    assert st.wait_max_ns == 330
    assert st.hold_total_ns == 400


def test_mutex_sleepers_release_their_cpu() -> None:
    e = Engine()
    cpus = CpuSet(e, 1)
    mutex = Mutex(e, "dev:mutex")
    disk = IoQueue(e, "disk", depth=1, read_latency_ns=10_000, write_latency_ns=10_000,
                   read_bandwidth=10**12, write_bandwidth=10**12)
    log: list[tuple[str, int]] = []

    def holder(task):
        yield mutex.acquire(task)
        yield task.block(disk.read(4096))  # sleeps holding the mutex: allowed
        log.append(("holder-io-done", e.now))
        mutex.release(task)

    def contender(task):
        yield mutex.acquire(task)
        log.append(("contender-acquired", e.now))
        mutex.release(task)

    def bystander(task):
        yield task.work(500, "user")
        log.append(("bystander-ran", e.now))

    cpus.spawn(holder, name="H")
    c = cpus.spawn(contender, name="C")
    cpus.spawn(bystander, name="B")
    e.run()
    # With one CPU the bystander can only run because the contender slept off-CPU.
    assert log[0] == ("bystander-ran", 500)
    assert [x[0] for x in log[1:]] == ["holder-io-done", "contender-acquired"]
    assert c.spin_ns == 0
    assert mutex.statistics().contentions == 1
    assert mutex.statistics().wait_total_ns == log[1][1]


def test_spinning_waiter_keeps_its_cpu() -> None:
    e = Engine()
    cpus = CpuSet(e, 2)
    lock = SpinLock(e, "l")
    ran: list[int] = []

    def holder(task):
        yield lock.acquire(task)
        yield task.work(1_000)
        lock.release(task)

    def spinner(task):
        yield lock.acquire(task)
        lock.release(task)

    def third(task):
        yield task.work(10, "user")
        ran.append(e.now)

    cpus.spawn(holder)
    cpus.spawn(spinner)
    cpus.spawn(third)
    e.run()
    # Both CPUs were busy (holding, spinning) until 1000: the third task waited.
    assert ran == [1_010]


def test_blocking_or_exiting_under_a_spinlock_is_a_bug() -> None:
    e = Engine()
    cpus = CpuSet(e, 1)
    lock = SpinLock(e, "l")

    def sleeper(task):
        yield lock.acquire(task)
        yield task.sleep(10)

    cpus.spawn(sleeper)
    with pytest.raises(SimError, match="atomic"):
        e.run()

    e2 = Engine()
    cpus2 = CpuSet(e2, 1)
    lock2 = SpinLock(e2, "l")

    def leaker(task):
        yield lock2.acquire(task)

    cpus2.spawn(leaker)
    with pytest.raises(SimError, match="holding a spinlock"):
        e2.run()


def test_lock_misuse_is_refused() -> None:
    e = Engine()
    cpus = CpuSet(e, 1)
    lock = SpinLock(e, "l")
    errors: list[str] = []

    def body(task):
        with pytest.raises(SimError):
            lock.release(task)
        yield lock.acquire(task)
        with pytest.raises(SimError, match="AA deadlock"):
            lock.acquire(task)
        assert not lock.try_acquire(task)
        lock.release(task)
        assert lock.try_acquire(task)
        lock.release(task)
        with pytest.raises(AssertionError, match="not held"):
            assert_held(lock)
        errors.append("checked")

    cpus.spawn(body)
    e.run()
    assert errors == ["checked"]
    assert lock.statistics().acquisitions == 2
    table = LockTable(e)
    table.spinlock("x", 1)
    with pytest.raises(SimError, match="duplicate"):
        table.spinlock("x", 1)
    with pytest.raises(ValueError):
        table.statistics(by="cpu")


def _rw_run(plan, nr_cpus=4):
    """Each plan entry: (name, start_delay, mode, hold). Returns acquisition times."""
    e = Engine()
    cpus = CpuSet(e, nr_cpus)
    lock = RWLock(e, "rw")
    got: dict[str, int] = {}

    def body(task, delay, mode, hold):
        if delay:
            yield task.work(delay, "user")
        if mode == "r":
            yield lock.acquire_read(task)
        else:
            yield lock.acquire_write(task)
        got[task.name] = e.now
        assert_held(lock, task)
        yield task.work(hold)
        if mode == "r":
            lock.release_read(task)
        else:
            lock.release_write(task)

    for name, delay, mode, hold in plan:
        cpus.spawn(body, delay, mode, hold, name=name)
    e.run()
    return got, lock


def test_rwlock_readers_share() -> None:
    got, lock = _rw_run([("r1", 0, "r", 100), ("r2", 10, "r", 100)])
    assert got == {"r1": 0, "r2": 10}
    assert lock.statistics().contentions == 0


def test_rwlock_writer_excludes_and_waits_for_readers() -> None:
    got, lock = _rw_run([("r1", 0, "r", 100), ("w", 10, "w", 50), ("r2", 20, "r", 10)])
    # w waits for r1; r2 arrives while w is queued and waits behind it (writer preference).
    assert got == {"r1": 0, "w": 100, "r2": 150}
    st = lock.statistics()
    assert st.contentions == 2
    assert st.wait_total_ns == (100 - 10) + (150 - 20)


def test_rwlock_grants_the_run_of_readers_at_the_head() -> None:
    got, _ = _rw_run([("w1", 0, "w", 100), ("r1", 10, "r", 10), ("r2", 20, "r", 10),
                      ("w2", 30, "w", 10)])
    assert got == {"w1": 0, "r1": 100, "r2": 100, "w2": 110}


def test_rwlock_release_errors() -> None:
    e = Engine()
    cpus = CpuSet(e, 1)
    lock = RWLock(e, "rw")

    def body(task):
        with pytest.raises(SimError):
            lock.release_read(task)
        with pytest.raises(SimError):
            lock.release_write(task)
        yield lock.acquire_read(task)
        with pytest.raises(SimError):
            lock.acquire_read(task)
        with pytest.raises(SimError):
            lock.acquire_write(task)
        lock.release_read(task)

    cpus.spawn(body)
    e.run()


def test_timeslice_round_robin_and_accounting_identity() -> None:
    e = Engine()
    cpus = CpuSet(e, 1, timeslice_ns=1_000)
    done: dict[str, int] = {}

    def body(task):
        for _ in range(4):
            yield task.work(500, "user")
        done[task.name] = e.now

    cpus.spawn(body, name="a")
    cpus.spawn(body, name="b")
    e.run()
    # a runs 2 chunks (1000 ns), then yields to b at its next work(), and so on.
    assert done == {"a": 3_000, "b": 4_000}
    st = cpus.statistics()
    assert st.nr_preemptions == 2
    assert st.user_ns + st.sys_ns + st.idle_ns == st.nr_cpus * st.real_ns
    assert (st.user_ns, st.sys_ns, st.idle_ns) == (4_000, 0, 0)


def test_switch_cost_is_sys_time_and_runqueue_is_fifo() -> None:
    e = Engine()
    cpus = CpuSet(e, 1, switch_ns=100)
    starts: list[tuple[str, int]] = []

    def body(task):
        starts.append((task.name, e.now))
        yield task.work(1_000, "user")

    for name in "xyz":
        cpus.spawn(body, name=name)
    e.run()
    assert starts == [("x", 100), ("y", 1_200), ("z", 2_300)]
    st = cpus.statistics()
    assert (st.user_ns, st.sys_ns, st.real_ns) == (3_000, 300, 3_300)
    with pytest.raises(ValueError):
        CpuSet(e, 0)


def test_sys_work_then_schedules_the_callers_timer_where_work_would() -> None:
    """``sys_work_then(ns, timer)``: on one CPU with a 1 us timeslice, two tasks doing 600
    ns chunks see the same times, preemptions and sys time whether the chunks are
    ``work(ns)`` events or one re-armed timer per task; the fast path (nothing else due
    before the chunk ends) reports True and schedules nothing."""
    def run(timer_based: bool) -> tuple[list[tuple[str, int]], object, int]:
        e = Engine()
        cpus = CpuSet(e, 1, timeslice_ns=1_000)
        log: list[tuple[str, int]] = []

        def body(task):
            timer = Event(e)
            timer._value = None
            for _ in range(4):
                if timer_based:
                    timer.callbacks = []
                    if not task.sys_work_then(600, timer):
                        yield timer
                else:
                    yield task.work(600)
                log.append((task.name, e.now))

        cpus.spawn(body, name="a")
        cpus.spawn(body, name="b")
        e.run()
        return log, cpus.statistics(), next(e._seq)

    log, stats, seqs = run(True)
    assert (log, stats, seqs) == run(False)
    assert stats.nr_preemptions == 2 and stats.sys_ns == 4_800 and len(log) == 8
    assert log[:3] == [("a", 600), ("a", 1_200), ("b", 1_800)]
    e = Engine()
    cpus = CpuSet(e, 1)
    fast: list[bool] = []

    def alone(task):
        timer = Event(e)
        fast.append(task.sys_work_then(700, timer))
        yield e.done

    cpus.spawn(alone, name="alone")
    e.run()
    # Started by the run loop as its only callback, with nothing else due: done at once.
    assert fast == [True] and e.now == 700

    def negative(task):
        task.sys_work_then(-1, Event(e))
        yield e.done

    cpus.spawn(negative, name="negative")
    with pytest.raises(ValueError, match="non-negative"):
        e.run()


def test_work_outside_the_task_body_is_refused() -> None:
    e = Engine()
    cpus = CpuSet(e, 1)

    def body(task):
        yield task.work(1)

    t1 = cpus.spawn(body)
    t2 = cpus.spawn(body)
    with pytest.raises(SimError, match="not on a CPU"):
        t2.work(5)
    with pytest.raises(ValueError):
        t1.work(5, "idle")
    e.run()


def test_quiet_exit_ends_a_task_as_if_its_body_returned() -> None:
    """An exception the spawner's filter accepts ends the task successfully (value None),
    after its body's frames unwound, at the instant it was raised; any other still fails."""
    class Killed(Exception):
        pass

    e = Engine()
    cpus = CpuSet(e, 1)
    seen: list[tuple[str, int]] = []

    def body(task, exc):
        try:
            yield task.work(100)
            raise exc
        finally:
            seen.append((task.name, e.now))

    quiet = cpus.spawn(body, Killed(), name="killed",
                       quiet_exit=lambda x: isinstance(x, Killed))
    loud = cpus.spawn(body, ValueError("bug"), name="bug",
                      quiet_exit=lambda x: isinstance(x, Killed))
    with pytest.raises(ValueError, match="bug"):
        e.run()
    assert quiet.ok and quiet.value is None and quiet.end_ns == 100
    assert seen == [("killed", 100), ("bug", 200)]
    assert not loud.is_alive and not loud.ok
