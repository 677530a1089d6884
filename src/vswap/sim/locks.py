"""Locks with queued waiters and ``/proc/lock_stat``-style statistics.

Models: ``spinlock_t`` (qspinlock, kernel/locking/qspinlock.c), ``rwlock_t`` (qrwlock,
kernel/locking/qrwlock.c), ``struct mutex`` (kernel/locking/mutex.c) and
``struct rw_semaphore`` (kernel/locking/rwsem.c), with the statistics of
``CONFIG_LOCK_STAT`` (Documentation/locking/lockstat.rst). Built only from engine events,
the way SimPy builds resources on ``Event`` and Trio builds locks on ``ParkingLot``; no swap
knowledge lives here: the swap designs decide which lock instances exist (one global
lock, one per 64 MiB swap-cache space, one per cluster, ...).

Waiting:

============ ================================ ==========================================
lock         a contended waiter               counted as
============ ================================ ==========================================
SpinLock     spins: keeps its CPU busy        sys time (``Task.spin_ns``), preemption off
RWLock       spins (rwlock_t)                 sys time, preemption off
Mutex        sleeps: releases its CPU         off-CPU; back through the run queue
RWSemaphore  sleeps                           off-CPU
============ ================================ ==========================================

All waiters queue FIFO and the lock is handed to the head of the queue on release (qspinlock
is FIFO-fair through its MCS queue). Sleeping locks also hand off strictly: no optimistic
spinning, no lock stealing; a woken waiter owns the lock while it waits for a CPU (this
is ``MUTEX_FLAG_HANDOFF`` behaviour, applied always, so results do not depend on wake-up
races).

Reader-writer policy (``RWLock``, ``RWSemaphore``), as qrwlock for process context: a reader
gets the lock at once only if no writer holds it *and nobody is queued*; otherwise it
queues. A queued writer therefore stops newcomers (writer preference over later readers,
no writer starvation), while readers already holding the lock keep it. On release the head
of the queue is granted: a writer alone, or the whole run of consecutive readers at the
head. Recursive read acquisition is refused (lockdep also complains about it where a
writer may be queued).

Statistics per lock instance and aggregated per class (``LockTable.statistics``), as
lock_stat columns: ``acquisitions``, ``contentions`` (acquisitions that had to wait),
``wait_total_ns`` / ``wait_max_ns`` (request to grant) and ``hold_total_ns`` /
``hold_max_ns`` (grant to release). A lock's class name is the kernel's lock name (for
example ``"swap_cache:i_pages"``); its ``name`` adds the instance (``"swap_cache:i_pages[3]"``).

A spinning waiter's wait is charged to its task as spin time, which the CPU accounting
counts as sys time: that is how contention shows up as the RFC's extra sys seconds.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from vswap.errors import ConfigError, InvalidArgumentError
from vswap.sim.cpus import SYS, Task
from vswap.sim.engine import NORMAL, Engine, Event, SimError

__all__ = [
    "LockStatistics",
    "LockTable",
    "Mutex",
    "RWLock",
    "RWSemaphore",
    "SpinLock",
    "assert_held",
]

_EXCL = 0
_READ = 1
_WRITE = 2


@dataclass(frozen=True, slots=True)
class LockStatistics:
    """Frozen lock_stat record of one lock instance or one lock class (all times in ns)."""

    name: str
    acquisitions: int
    contentions: int
    wait_total_ns: int
    wait_max_ns: int
    hold_total_ns: int
    hold_max_ns: int
    instances: int = 1

    @property
    def wait_avg_ns(self) -> float:
        """Mean wait of a contended acquisition (lock_stat's waittime-avg)."""
        return self.wait_total_ns / self.contentions if self.contentions else 0.0

    @property
    def hold_avg_ns(self) -> float:
        """Mean hold time per acquisition."""
        return self.hold_total_ns / self.acquisitions if self.acquisitions else 0.0

    @property
    def contention_ratio(self) -> float:
        """Fraction of acquisitions that had to wait."""
        return self.contentions / self.acquisitions if self.acquisitions else 0.0


class _Lock:
    """Common waiting, hand-off and statistics machinery."""

    __slots__ = ("_waiters", "acquisitions", "contentions", "engine", "handoff_ns",
                 "hold_max_ns", "hold_total_ns", "instance", "lock_class", "name",
                 "wait_max_ns", "wait_total_ns")

    #: True: waiters spin on their CPU; False: waiters sleep off-CPU.
    spinning: ClassVar[bool] = True

    def __init__(self, engine: Engine, lock_class: str, instance: Any = None, *,
                 table: LockTable | None = None, handoff_ns: int = 0) -> None:
        if handoff_ns < 0:
            raise ConfigError("handoff_ns must be >= 0")
        self.engine = engine
        self.lock_class = lock_class
        self.instance = instance
        self.name = lock_class if instance is None else f"{lock_class}[{instance}]"
        #: Delay between a release and the next waiter owning the lock (the cache-line
        #: transfer to the next spinner); 0 unless the caller wires the cost table in.
        self.handoff_ns = handoff_ns
        self._waiters: deque[Task] = deque()
        self.acquisitions = 0
        self.contentions = 0
        self.wait_total_ns = 0
        self.wait_max_ns = 0
        self.hold_total_ns = 0
        self.hold_max_ns = 0
        if table is not None:
            table.register(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def nr_waiters(self) -> int:
        """Tasks queued on this lock now."""
        return len(self._waiters)

    def statistics(self) -> LockStatistics:
        """A frozen lock_stat snapshot of this instance."""
        return LockStatistics(self.name, self.acquisitions, self.contentions,
                              self.wait_total_ns, self.wait_max_ns, self.hold_total_ns,
                              self.hold_max_ns)

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _check_task(task: Task) -> None:
        if task.cpu is None:
            raise SimError(f"{task!r} takes a lock while not on a CPU")

    def _acquired_now(self, task: Task) -> Event:
        """Bookkeeping of an uncontended acquisition; returns the processed event."""
        self.acquisitions += 1
        if self.spinning:
            task.preempt_count += 1
        instruments = self.engine.instruments
        if instruments.active and "lock_acquired" in instruments:
            instruments.call("lock_acquired", self, task, 0)
        return self.engine._done

    def _wait(self, task: Task, mode: int) -> Event:
        """Queue ``task`` (contended path). The returned event fires once it owns the lock
        (for sleeping locks: once it owns the lock *and* is back on a CPU)."""
        engine = self.engine
        self.contentions += 1
        instruments = engine.instruments
        if instruments.active and "lock_contended" in instruments:
            instruments.call("lock_contended", self, task)
        event = Event(engine)
        task._lock_wait = event
        task._lock_since = engine._now
        task._lock_mode = mode
        self._waiters.append(task)
        if self.spinning:
            # spin_lock() disables preemption before it spins; it stays off while held.
            task.preempt_count += 1
        else:
            task._deschedule()
        return event

    def _grant(self, task: Task) -> int:
        """Hand the lock to the queued ``task``; returns the instant its hold starts."""
        engine = self.engine
        event = task._lock_wait
        # _wait() set it when it queued the task; only a grant clears it.
        assert event is not None
        task._lock_wait = None
        start = engine._now + self.handoff_ns if self.spinning else engine._now
        wait = start - task._lock_since
        self.acquisitions += 1
        self.wait_total_ns += wait
        if wait > self.wait_max_ns:
            self.wait_max_ns = wait
        event._value = None
        if self.spinning:
            # The waiter's CPU was busy spinning the whole time: kernel (sys) time.
            task.spin_ns += wait
            engine.schedule(event, NORMAL, self.handoff_ns)
        else:
            task._make_runnable(event)
        instruments = engine.instruments
        if instruments.active and "lock_acquired" in instruments:
            instruments.call("lock_acquired", self, task, wait)
        return start

    def _released(self, task: Task, since: int) -> None:
        hold = self.engine._now - since
        self.hold_total_ns += hold
        if hold > self.hold_max_ns:
            self.hold_max_ns = hold
        if self.spinning:
            task.preempt_count -= 1
        instruments = self.engine.instruments
        if instruments.active and "lock_released" in instruments:
            instruments.call("lock_released", self, task, hold)


class _ExclusiveLock(_Lock):
    __slots__ = ("_acquired_at", "holder")

    def __init__(self, engine: Engine, lock_class: str, instance: Any = None, *,
                 table: LockTable | None = None, handoff_ns: int = 0) -> None:
        super().__init__(engine, lock_class, instance, table=table, handoff_ns=handoff_ns)
        #: The owning task, or None.
        self.holder: Task | None = None
        self._acquired_at = 0

    def locked(self) -> bool:
        """True while some task owns the lock."""
        return self.holder is not None

    def acquire(self, task: Task) -> Event:
        """Take the lock for ``task``; yield the returned event.

        Models: ``spin_lock()`` / ``mutex_lock()``.
        Context: ``task`` is on a CPU. Released by :meth:`release`.
        Raises:
            SimError: the task is off-CPU, or already owns the lock (AA deadlock).
        """
        self._check_task(task)
        if self.holder is None:
            self.holder = task
            self._acquired_at = self.engine._now
            return self._acquired_now(task)
        if self.holder is task:
            raise SimError(f"{task!r} re-acquires {self!r}: AA deadlock")
        return self._wait(task, _EXCL)

    def try_acquire(self, task: Task) -> bool:
        """Take the lock if it is free, never waiting. Models: ``spin_trylock()``."""
        self._check_task(task)
        if self.holder is not None:
            return False
        self.holder = task
        self._acquired_at = self.engine._now
        self._acquired_now(task)
        return True

    def release(self, task: Task) -> None:
        """Release the lock; the first queued waiter becomes the owner.

        Models: ``spin_unlock()`` / ``mutex_unlock()``.
        Raises:
            SimError: ``task`` does not own the lock.
        """
        if self.holder is not task:
            raise SimError(f"{task!r} releases {self!r} owned by {self.holder!r}")
        self._released(task, self._acquired_at)
        if self._waiters:
            nxt = self._waiters.popleft()
            self.holder = nxt
            self._acquired_at = self._grant(nxt)
        else:
            self.holder = None

    def critical_section(self, task: Task, ns: int,
                         kind: str = SYS) -> Generator[Event, Any, None]:
        """``yield from lock.critical_section(task, ns)``: acquire, work ``ns``, release."""
        yield self.acquire(task)
        yield task.work(ns, kind)
        self.release(task)


class SpinLock(_ExclusiveLock):
    """``spinlock_t``: a contended waiter spins on its CPU (sys time), FIFO."""

    __slots__ = ()
    spinning = True


class Mutex(_ExclusiveLock):
    """``struct mutex``: a contended waiter sleeps and releases its CPU, FIFO hand-off."""

    __slots__ = ()
    spinning = False


class RWLock(_Lock):
    """``rwlock_t`` (qrwlock): readers share, writers exclusive, waiters spin, FIFO queue
    with writer preference over later readers (see the module docstring)."""

    __slots__ = ("_writer_since", "readers", "writer")
    spinning = True

    def __init__(self, engine: Engine, lock_class: str, instance: Any = None, *,
                 table: LockTable | None = None, handoff_ns: int = 0) -> None:
        super().__init__(engine, lock_class, instance, table=table, handoff_ns=handoff_ns)
        #: The writer owning the lock, or None.
        self.writer: Task | None = None
        self._writer_since = 0
        #: Readers owning the lock, each with the instant its hold started.
        self.readers: dict[Task, int] = {}

    def locked(self) -> bool:
        """True while a writer or at least one reader owns the lock."""
        return self.writer is not None or bool(self.readers)

    def acquire_read(self, task: Task) -> Event:
        """Take the lock shared. Models: ``read_lock()`` / ``down_read()``.

        Context: on a CPU. Released by :meth:`release_read`.
        Raises:
            SimError: off-CPU, or the task already holds the lock.
        """
        self._check_task(task)
        if task in self.readers or self.writer is task:
            raise SimError(f"{task!r} re-acquires {self!r}")
        if self.writer is None and not self._waiters:
            self.readers[task] = self.engine._now
            return self._acquired_now(task)
        return self._wait(task, _READ)

    def acquire_write(self, task: Task) -> Event:
        """Take the lock exclusive. Models: ``write_lock()`` / ``down_write()``.

        Context: on a CPU. Released by :meth:`release_write`.
        Raises:
            SimError: off-CPU, or the task already holds the lock.
        """
        self._check_task(task)
        if task in self.readers or self.writer is task:
            raise SimError(f"{task!r} re-acquires {self!r}")
        if self.writer is None and not self.readers and not self._waiters:
            self.writer = task
            self._writer_since = self.engine._now
            return self._acquired_now(task)
        return self._wait(task, _WRITE)

    def release_read(self, task: Task) -> None:
        """Drop a shared hold; the last reader out grants the queue's head.

        Raises:
            SimError: ``task`` holds no read lock.
        """
        since = self.readers.pop(task, None)
        if since is None:
            raise SimError(f"{task!r} read-releases {self!r} it does not hold")
        self._released(task, since)
        if not self.readers and self._waiters:
            self._grant_head()

    def release_write(self, task: Task) -> None:
        """Drop the exclusive hold and grant the queue's head.

        Raises:
            SimError: ``task`` is not the writer.
        """
        if self.writer is not task:
            raise SimError(f"{task!r} write-releases {self!r} owned by {self.writer!r}")
        self._released(task, self._writer_since)
        self.writer = None
        if self._waiters:
            self._grant_head()

    def _grant_head(self) -> None:
        waiters = self._waiters
        if waiters[0]._lock_mode == _WRITE:
            task = waiters.popleft()
            self.writer = task
            self._writer_since = self._grant(task)
            return
        while waiters and waiters[0]._lock_mode == _READ:
            task = waiters.popleft()
            self.readers[task] = self._grant(task)


class RWSemaphore(RWLock):
    """``struct rw_semaphore``: as :class:`RWLock` but waiters sleep off-CPU."""

    __slots__ = ()
    spinning = False


def assert_held(lock: _Lock, task: Task | None = None) -> None:
    """Assert that ``lock`` is held (by ``task``, if given). Models: ``lockdep_assert_held()``.

    Raises:
        AssertionError: the lock is not held (by that task).
    """
    if isinstance(lock, _ExclusiveLock):
        ok = lock.holder is not None if task is None else lock.holder is task
    elif isinstance(lock, RWLock):
        if task is None:
            ok = lock.locked()
        else:
            ok = lock.writer is task or task in lock.readers
    else:
        raise TypeError(f"{lock!r} is not a lock")
    if not ok:
        who = "" if task is None else f" by {task.name!r}"
        raise AssertionError(f"lockdep: {lock.name} not held{who}")


class LockTable:
    """The locks of one run, for per-class and per-instance statistics (lockdep's class
    table plus lock_stat).

    Args:
        engine: the run's engine.
        handoff_ns: default hand-off delay of spinning locks created through the table.
    """

    __slots__ = ("_by_name", "engine", "handoff_ns", "locks")

    def __init__(self, engine: Engine, *, handoff_ns: int = 0) -> None:
        self.engine = engine
        self.handoff_ns = handoff_ns
        self.locks: list[_Lock] = []
        self._by_name: dict[str, _Lock] = {}

    def register(self, lock: _Lock) -> None:
        """Add ``lock``. Raises SimError if another lock already has its name."""
        if lock.name in self._by_name:
            raise SimError(f"duplicate lock instance name {lock.name!r}")
        self._by_name[lock.name] = lock
        self.locks.append(lock)

    def spinlock(self, lock_class: str, instance: Any = None) -> SpinLock:
        """A new registered :class:`SpinLock`."""
        return SpinLock(self.engine, lock_class, instance, table=self,
                        handoff_ns=self.handoff_ns)

    def rwlock(self, lock_class: str, instance: Any = None) -> RWLock:
        """A new registered :class:`RWLock`."""
        return RWLock(self.engine, lock_class, instance, table=self,
                      handoff_ns=self.handoff_ns)

    def mutex(self, lock_class: str, instance: Any = None) -> Mutex:
        """A new registered :class:`Mutex`."""
        return Mutex(self.engine, lock_class, instance, table=self)

    def rwsem(self, lock_class: str, instance: Any = None) -> RWSemaphore:
        """A new registered :class:`RWSemaphore`."""
        return RWSemaphore(self.engine, lock_class, instance, table=self)

    def __getitem__(self, name: str) -> _Lock:
        return self._by_name[name]

    def statistics(self, *, by: str = "class") -> dict[str, LockStatistics]:
        """lock_stat records keyed by class name (``by="class"``, instances summed, maxima
        taken) or by instance name (``by="instance"``), in sorted key order.

        Raises:
            InvalidArgumentError: ``by`` is neither "class" nor "instance".
        """
        if by == "instance":
            return {name: self._by_name[name].statistics() for name in sorted(self._by_name)}
        if by != "class":
            raise InvalidArgumentError(f"by must be 'class' or 'instance', not {by!r}")
        groups: dict[str, list[_Lock]] = {}
        for lock in self.locks:
            groups.setdefault(lock.lock_class, []).append(lock)
        out = {}
        for cls in sorted(groups):
            ls = groups[cls]
            out[cls] = LockStatistics(
                cls, sum(x.acquisitions for x in ls), sum(x.contentions for x in ls),
                sum(x.wait_total_ns for x in ls), max(x.wait_max_ns for x in ls),
                sum(x.hold_total_ns for x in ls), max(x.hold_max_ns for x in ls),
                instances=len(ls))
        return out
