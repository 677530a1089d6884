"""Simulated CPUs: tasks run on N CPUs and are charged user and system time.

Models: the part of the Linux scheduler and of CPU time accounting (``kernel/sched/``,
``utime``/``stime`` of ``/proc/<pid>/stat``, ``time(1)``'s real/user/sys) that the swap
paths' results depend on. It is not a model of CFS/EEVDF fairness.

How a task uses the CPUs::

    def body(task):
        yield task.work(2_000, "user")          # run 2 µs of user code on the CPU
        yield lock.acquire(task)                # spinlock: spins on the CPU if contended
        yield task.work(300)                    # 300 ns of kernel work (default "sys")
        lock.release(task)
        yield task.block(ioq.read(4096))        # sleep off-CPU until the I/O completes
        return "done"

    cpus = CpuSet(engine, nr_cpus=4)
    t = cpus.spawn(body, name="usemem-0")

Scheduling: one global FIFO run queue. A runnable task takes the lowest-numbered idle CPU;
when none is idle it waits at the tail of the run queue. A task keeps its CPU until it
blocks (:meth:`Task.block`, :meth:`Task.sleep`, a contended sleeping lock) or exits, with
one exception: at the start of :meth:`Task.work`, a task that has run for at least
``timeslice_ns`` since it was dispatched, while other tasks are runnable and it holds no
spinlock (``preempt_count == 0``), goes to the tail of the run queue first (round-robin, a
``cond_resched()``-style preemption point). Work chunks are therefore never split; callers
charge small chunks (per page, per step).

Accounting, as ``time(1)`` reports it:

- *user*: the ns of ``work(..., "user")``;
- *sys*: every other ns a task holds a CPU: ``work(..., "sys")``, **spinning on a contended
  spinlock** (the CPU stays busy while ``queued_spin_lock_slowpath`` spins, and that time is
  kernel time; this is why the RFC's sys time rises under swap-cache contention), and
  context-switch cost; so ``sys = on_cpu - user``;
- *idle*: CPU time with no task (``nr_cpus * real - busy``);
- *real*: the makespan, from the CpuSet's creation to the exit of its last task.

``work`` charges its time when issued, so statistics read while a chunk is in progress
already include the whole chunk; read them after the run.

Rejected alternatives: a per-CPU run queue with load balancing (it adds migration policy
with no bearing on the swap results and would need randomness); fair-share time slicing of
every work chunk (it splits events and slows the engine without changing totals).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import Any

from vswap.errors import ConfigError, InvalidArgumentError
from vswap.sim.engine import NORMAL, Engine, Event, Process, SimError, Timeout

__all__ = ["SYS", "USER", "Cpu", "CpuSet", "CpuStatistics", "Task", "TaskStatistics"]

#: Kind of :meth:`Task.work`: time in user mode.
USER = "user"
#: Kind of :meth:`Task.work`: time in kernel mode.
SYS = "sys"

#: Default timeslice: sysctl_sched_base_slice is 0.75 ms scaled by 1 + ilog2(min(ncpus, 8))
#: (kernel/sched/fair.c, v6.14), i.e. 3 ms on machines with 8 or more CPUs.
DEFAULT_TIMESLICE_NS = 3_000_000


class Cpu:
    """One simulated CPU."""

    __slots__ = ("busy_ns", "current", "id", "last_task", "nr_switches", "user_ns")

    def __init__(self, cpu_id: int) -> None:
        self.id = cpu_id
        #: The task running on this CPU, or None when idle.
        self.current: Task | None = None
        self.last_task: Task | None = None
        #: ns this CPU had a task (closed intervals only; see CpuSet.statistics).
        self.busy_ns = 0
        self.user_ns = 0
        self.nr_switches = 0

    def __repr__(self) -> str:
        running = self.current.name if self.current else "idle"
        return f"<Cpu {self.id} {running}>"


@dataclass(frozen=True, slots=True)
class TaskStatistics:
    """Times of one task, in ns (``getrusage``-like)."""

    name: str
    start_ns: int
    end_ns: int | None
    user_ns: int
    sys_ns: int
    spin_ns: int
    on_cpu_ns: int
    runnable_ns: int
    nr_switches: int
    nr_preemptions: int

    @property
    def real_ns(self) -> int | None:
        """Wall-clock (virtual) lifetime, or None while alive."""
        return None if self.end_ns is None else self.end_ns - self.start_ns


@dataclass(frozen=True, slots=True)
class CpuStatistics:
    """Machine-wide times in ns, as ``time(1)`` reports a whole run.

    ``sys_ns`` includes ``spin_ns`` (time spinning on contended spinlocks) and context
    switch cost; ``user_ns + sys_ns + idle_ns == nr_cpus * real_ns``.
    """

    nr_cpus: int
    real_ns: int
    user_ns: int
    sys_ns: int
    spin_ns: int
    idle_ns: int
    per_cpu_busy_ns: tuple[int, ...]
    nr_tasks: int
    nr_switches: int
    nr_preemptions: int


class Task(Process):
    """A process that runs on a :class:`CpuSet`'s CPUs.

    The generator only executes while the task holds a CPU. Its time is accounted in
    ``user_ns`` (explicit user work), ``spin_ns`` (spinning on contended spinlocks) and
    ``on_cpu_ns``; system time is ``on_cpu_ns - user_ns``.
    """

    __slots__ = (
        "_lock_mode", "_lock_since", "_lock_wait", "_oncpu_since", "_queued_at",
        "_slice_start", "_unblock_cb", "_wake", "_wake_delay", "_wake_pending", "cpu",
        "cpuset", "end_ns", "nr_preemptions", "nr_switches", "on_cpu_ns", "preempt_count",
        "runnable_ns", "spin_ns", "start_ns", "sys_work_ns", "user_ns",
    )

    def __init__(self, cpuset: CpuSet, name: str) -> None:
        # The generator is attached by CpuSet.spawn once the task object exists, because
        # the generator function receives the task as its first argument.
        Event.__init__(self, cpuset.engine)
        self.cpuset = cpuset
        self.cpu: Cpu | None = None
        #: > 0 while holding or spinning on a spinlock: no preemption, no blocking.
        self.preempt_count = 0
        self.user_ns = 0
        self.sys_work_ns = 0
        self.spin_ns = 0
        self.on_cpu_ns = 0
        self.runnable_ns = 0
        self.nr_switches = 0
        self.nr_preemptions = 0
        self.start_ns = cpuset.engine._now
        self.end_ns: int | None = None
        self._oncpu_since = 0
        self._slice_start = 0
        self._queued_at = 0
        self._wake: Event | None = None
        self._wake_delay = 0
        self._wake_pending: Event | None = None
        self._unblock_cb = self._unblock
        # Used by vswap.sim.locks while this task waits for a lock.
        self._lock_wait: Event | None = None
        self._lock_since = 0
        self._lock_mode = 0
        self.name = name

    def _attach(self, generator: Any) -> None:
        Process.__init__(self, self.cpuset.engine, generator, self.name, start=False)
        wake = Event(self.engine)
        wake._value = None
        wake.callbacks = [self._resume_cb]
        self._target = wake
        self.cpuset._enqueue(self, wake, 0)

    def __repr__(self) -> str:
        where = f"cpu{self.cpu.id}" if self.cpu else "off-cpu"
        return f"<Task {self.name!r} {where} {self._state()}>"

    # -- what a task body yields --------------------------------------------------------

    def work(self, ns: int, kind: str = SYS) -> Event:
        """Run ``ns`` of ``kind`` ("user" or "sys") on this task's CPU.

        Context: the task is on a CPU (it always is while its generator runs).
        Returns:
            The event to yield; it fires when the work is done (possibly after waiting in
            the run queue first, if the timeslice expired: see the module docstring).
        Raises:
            SimError: the task is not on a CPU (called from outside its own body).
            InvalidArgumentError: unknown ``kind`` or a negative or non-int ``ns``.
        """
        cpu = self.cpu
        if cpu is None:
            raise SimError(f"{self!r}: work() while not on a CPU")
        if kind == SYS:
            self.sys_work_ns += ns
        elif kind == USER:
            self.user_ns += ns
            cpu.user_ns += ns
        else:
            raise InvalidArgumentError(f"work kind must be 'user' or 'sys', not {kind!r}")
        cpuset = self.cpuset
        engine = self.engine
        if (cpuset._runqueue and not self.preempt_count
                and engine._now - self._slice_start >= cpuset.timeslice_ns):
            if ns.__class__ is not int or ns < 0:
                raise InvalidArgumentError(f"work ns must be a non-negative int, not {ns!r}")
            self.nr_preemptions += 1
            event = Event(engine)
            event._value = None
            cpuset._release(self)
            cpuset._enqueue(self, event, ns)
            return event
        if engine._ff and ns.__class__ is int and ns >= 0:
            # Fast path, exact: the engine is running this task's resume as the only
            # callback of the event it processes, and every event on the heap is due after
            # this work ends, so the Timeout would be the next event processed and this task
            # the only one to act until then. The clock moves to the work's end at once and
            # the already-processed ``engine.done`` resumes the task without a trip through
            # the heap (same order of events and times; only fewer heap sequence numbers
            # are drawn, which orders nothing differently).
            end = engine._now + ns
            queue = engine._queue
            if not queue or queue[0][0] > end:
                engine._now = end
                return engine._done
        return Timeout(engine, ns)

    def sys_work_then(self, ns: int, timer: Event) -> bool:
        """:meth:`work` of ``ns`` sys ns whose end is ``timer``, an event of the caller's that
        it re-arms for every chunk, instead of a new :class:`Timeout` (the step replay,
        ``vswap.run.charge``, is the caller).

        ``timer`` must be pending and on no heap, with its callbacks (the caller's resume)
        already set. Every case is :meth:`work`'s, with ``timer`` scheduled where the
        work's ``Timeout`` or the preempted task's wake-up event would be, at the same
        instant and with the same sequence number.

        Returns:
            True if the work is done already (the fast path: the clock moved to its end
            and ``timer`` is not scheduled), False if ``timer`` fires when it is done.
        Raises:
            SimError: the task is not on a CPU.
            InvalidArgumentError: a negative ``ns``.
        """
        cpu = self.cpu
        if cpu is None:
            raise SimError(f"{self!r}: work() while not on a CPU")
        if ns < 0:
            raise InvalidArgumentError(f"work ns must be a non-negative int, not {ns!r}")
        self.sys_work_ns += ns
        cpuset = self.cpuset
        engine = self.engine
        if (cpuset._runqueue and not self.preempt_count
                and engine._now - self._slice_start >= cpuset.timeslice_ns):
            self.nr_preemptions += 1
            cpuset._release(self)
            cpuset._enqueue(self, timer, ns)
            return False
        if engine._ff:
            # work()'s fast path, exact for the same reasons.
            end = engine._now + ns
            queue = engine._queue
            if not queue or queue[0][0] > end:
                engine._now = end
                return True
        engine.schedule(timer, NORMAL, ns)
        return False

    def block(self, event: Event) -> Event:
        """Leave the CPU until ``event`` is processed, then wait for a CPU again.

        The returned event (to yield) carries ``event``'s value, or throws its exception
        into the task; the task is back on a CPU when it resumes.

        Context: on a CPU; holding no spinlock.
        Raises:
            SimError: ``preempt_count > 0`` ("BUG: scheduling while atomic").
        """
        if self.preempt_count:
            raise SimError(f"{self!r}: scheduling while atomic (holding a spinlock)")
        wake = Event(self.engine)
        self.cpuset._release(self)
        if event.callbacks is None:
            self._copy_outcome(event, wake)
            self.cpuset._enqueue(self, wake, 0)
        else:
            self._wake_pending = wake
            event.callbacks.append(self._unblock_cb)
        return wake

    def sleep(self, ns: int) -> Event:
        """Sleep ``ns`` off-CPU (``schedule_timeout``), then wait for a CPU again."""
        return self.block(Timeout(self.engine, ns))

    # -- helpers for locks ----------------------------------------------------------------

    def _deschedule(self) -> None:
        """Give up the CPU to sleep; a later :meth:`_make_runnable` brings the task back."""
        if self.preempt_count:
            raise SimError(f"{self!r}: scheduling while atomic (holding a spinlock)")
        self.cpuset._release(self)

    def _make_runnable(self, wake: Event) -> None:
        """Queue the sleeping task; ``wake`` (already given its outcome) fires once it has
        a CPU."""
        self.cpuset._enqueue(self, wake, 0)

    @staticmethod
    def _copy_outcome(src: Event, dst: Event) -> None:
        dst._ok = src._ok
        dst._value = src._value
        if not src._ok:
            # The task receives the failure through dst; src's failure is handled.
            src._defused = True

    def _unblock(self, event: Event) -> None:
        wake = self._wake_pending
        # Set by block() together with this callback; cleared only here.
        assert wake is not None
        self._wake_pending = None
        self._copy_outcome(event, wake)
        self.cpuset._enqueue(self, wake, 0)

    def _finish(self, ok: bool, value: Any) -> None:
        if self.cpu is not None:
            self.cpuset._release(self)
        self.end_ns = self.engine._now
        self.cpuset._task_exited(self)
        if self.preempt_count and ok:
            ok, value = False, SimError(f"{self!r} exited holding a spinlock")
        super()._finish(ok, value)

    # -- statistics -------------------------------------------------------------------------

    @property
    def sys_ns(self) -> int:
        """Kernel time: on-CPU time that is not user work (includes spinning)."""
        return self._on_cpu_now() - self.user_ns

    def _on_cpu_now(self) -> int:
        if self.cpu is None:
            return self.on_cpu_ns
        return self.on_cpu_ns + self.engine._now - self._oncpu_since

    def statistics(self) -> TaskStatistics:
        """A frozen snapshot of this task's times."""
        return TaskStatistics(
            name=self.name, start_ns=self.start_ns, end_ns=self.end_ns,
            user_ns=self.user_ns, sys_ns=self.sys_ns, spin_ns=self.spin_ns,
            on_cpu_ns=self._on_cpu_now(), runnable_ns=self.runnable_ns,
            nr_switches=self.nr_switches, nr_preemptions=self.nr_preemptions)


class CpuSet:
    """``nr_cpus`` CPUs sharing one FIFO run queue.

    Args:
        engine: the engine whose clock the CPUs follow.
        nr_cpus: number of CPUs (>= 1).
        timeslice_ns: run time after which a task yields to runnable tasks at its next
            :meth:`Task.work` (see the module docstring).
        switch_ns: cost of switching a CPU to a different task, charged as sys time to the
            incoming task (0 by default; the cost table's ``context_switch`` is the
            documented value for callers that want it).
    Raises:
        ConfigError: ``nr_cpus < 1`` or a negative time.
    """

    __slots__ = ("_idle", "_nr_live", "_runqueue", "cpus", "engine", "last_exit_ns",
                 "start_ns", "switch_ns", "tasks", "timeslice_ns")

    def __init__(self, engine: Engine, nr_cpus: int, *,
                 timeslice_ns: int = DEFAULT_TIMESLICE_NS, switch_ns: int = 0) -> None:
        if nr_cpus.__class__ is not int or nr_cpus < 1:
            raise ConfigError(f"nr_cpus must be a positive int, not {nr_cpus!r}")
        if timeslice_ns < 1 or switch_ns < 0:
            raise ConfigError("timeslice_ns must be >= 1 and switch_ns >= 0")
        self.engine = engine
        self.cpus = [Cpu(i) for i in range(nr_cpus)]
        self._idle = list(range(nr_cpus))  # a heap: the lowest idle CPU id first
        self._runqueue: deque[Task] = deque()
        self.timeslice_ns = timeslice_ns
        self.switch_ns = switch_ns
        self.tasks: list[Task] = []
        self._nr_live = 0
        self.start_ns = engine._now
        self.last_exit_ns = engine._now

    @property
    def nr_cpus(self) -> int:
        return len(self.cpus)

    @property
    def nr_running(self) -> int:
        """Tasks on a CPU now."""
        return len(self.cpus) - len(self._idle)

    @property
    def nr_runnable(self) -> int:
        """Tasks waiting in the run queue now."""
        return len(self._runqueue)

    def spawn(self, func: Callable[..., Any], *args: Any, name: str | None = None,
              quiet_exit: Callable[[BaseException], bool] | None = None) -> Task:
        """Create a task running ``func(task, *args)`` (a generator function).

        The task becomes runnable now and starts when it gets a CPU. An exception of its
        body that ``quiet_exit`` accepts ends it successfully (:class:`Process`).
        """
        if name is None:
            name = f"{getattr(func, '__name__', 'task')}-{len(self.tasks)}"
        task = Task(self, name)
        generator = func(task, *args)
        self.tasks.append(task)
        self._nr_live += 1
        instruments = self.engine.instruments
        if instruments.active and "task_spawned" in instruments:
            instruments.call("task_spawned", task)
        task._attach(generator)
        task.quiet_exit = quiet_exit
        return task

    # -- the scheduler ------------------------------------------------------------------------

    def _enqueue(self, task: Task, wake: Event, delay: int) -> None:
        task._wake = wake
        task._wake_delay = delay
        task._queued_at = self.engine._now
        if self._idle:
            self._dispatch(task, self.cpus[heappop(self._idle)])
        else:
            self._runqueue.append(task)

    def _dispatch(self, task: Task, cpu: Cpu) -> None:
        engine = self.engine
        now = engine._now
        task.runnable_ns += now - task._queued_at
        cpu.current = task
        task.cpu = cpu
        task._oncpu_since = now
        task._slice_start = now
        task.nr_switches += 1
        delay = task._wake_delay
        if cpu.last_task is not task:
            cpu.nr_switches += 1
            cpu.last_task = task
            delay += self.switch_ns
        wake = task._wake
        # _enqueue() sets it before a task can be dispatched.
        assert wake is not None
        task._wake = None
        instruments = engine.instruments
        if instruments.active and "task_switch_in" in instruments:
            instruments.call("task_switch_in", task, cpu)
        engine.schedule(wake, NORMAL, delay)

    def _release(self, task: Task) -> None:
        cpu = task.cpu
        if cpu is None:
            raise SimError(f"{task!r} is not on a CPU")
        ran = self.engine._now - task._oncpu_since
        cpu.busy_ns += ran
        task.on_cpu_ns += ran
        cpu.current = None
        task.cpu = None
        instruments = self.engine.instruments
        if instruments.active and "task_switch_out" in instruments:
            instruments.call("task_switch_out", task, cpu)
        if self._runqueue:
            self._dispatch(self._runqueue.popleft(), cpu)
        else:
            heappush(self._idle, cpu.id)

    def _task_exited(self, task: Task) -> None:
        self._nr_live -= 1
        self.last_exit_ns = self.engine._now
        instruments = self.engine.instruments
        if instruments.active and "task_exited" in instruments:
            instruments.call("task_exited", task)

    # -- statistics ---------------------------------------------------------------------------

    def statistics(self) -> CpuStatistics:
        """Machine-wide real / user / sys / idle times.

        ``real_ns`` ends at the last task's exit once every task has exited, else now.
        """
        now = self.engine._now
        end = self.last_exit_ns if self._nr_live == 0 else now
        real = end - self.start_ns
        busy = []
        for cpu in self.cpus:
            b = cpu.busy_ns
            if cpu.current is not None:
                b += now - cpu.current._oncpu_since
            busy.append(b)
        user = sum(cpu.user_ns for cpu in self.cpus)
        total_busy = sum(busy)
        return CpuStatistics(
            nr_cpus=len(self.cpus), real_ns=real, user_ns=user, sys_ns=total_busy - user,
            spin_ns=sum(t.spin_ns for t in self.tasks),
            idle_ns=len(self.cpus) * real - total_busy, per_cpu_busy_ns=tuple(busy),
            nr_tasks=len(self.tasks), nr_switches=sum(c.nr_switches for c in self.cpus),
            nr_preemptions=sum(t.nr_preemptions for t in self.tasks))

