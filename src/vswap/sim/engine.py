"""A small deterministic discrete-event core: events, processes and one virtual clock.

Models: nothing in the kernel; this is the execution substrate every other layer charges
time on. It is SimPy-sized on purpose (``src/simpy/core.py``, ``events.py``): one heap of
``(time_ns, priority, seq, event)``, where ``seq`` comes from :func:`itertools.count`, so
events scheduled for the same instant with the same priority run in the order they were
scheduled (FIFO). Nothing here depends on hash order, wall-clock time or global random
state, so a run is a pure function of its inputs and seed, on any machine.

Virtual time is an ``int`` number of nanoseconds. Floats are refused at the few entry
points that take a delay, because float sums depend on evaluation order and would leak
non-determinism into long runs.

Event life cycle (``Event``)::

    state       meaning                                   -> next
    PENDING     created, nobody decided the outcome yet   -> TRIGGERED (succeed/fail/timeout)
    TRIGGERED   outcome (value or exception) fixed and    -> PROCESSED (popped from the heap,
                the event sits on the heap                   callbacks run)
    PROCESSED   callbacks ran; ``callbacks`` is None      (final)

A failed event whose exception nobody consumed (no process waited on it, nobody set
``defused``) is raised out of :meth:`Engine.run`: failures are never silently dropped.

Processes are generators that ``yield`` events; the process resumes with the event's value
(or the event's exception thrown in) once the event is processed. A process yielding an
event that is *already processed* continues at once, without a trip through the heap; that
is the fast path for uncontended lock acquisitions, and it is deterministic because it
depends only on the event's state.

Rejected alternatives: SimPy itself (it works, but its hot path allocates per event and it
cannot be instrumented without patching ``env.step``, which STYLE point 10 rules out);
threads or asyncio (real concurrency is non-deterministic).
"""

from __future__ import annotations

import abc
import itertools
import random
import sys
from collections.abc import Callable, Generator, Iterable
from heapq import heappop, heappush
from typing import Any

from vswap._mypyc import mypyc_attr
from vswap.errors import InvalidArgumentError
from vswap.sim.instrument import Instruments

__all__ = [
    "NORMAL",
    "PENDING",
    "URGENT",
    "AllOf",
    "AnyOf",
    "Engine",
    "Event",
    "Process",
    "ProcessGenerator",
    "SimError",
    "Timeout",
]

#: Sentinel value of an event whose outcome is not decided yet.
PENDING: Any = object()

#: Heap priority of events that must run before ordinary events of the same instant
#: (process start, the ``run(until=time)`` stop sentinel).
URGENT = 0
#: Heap priority of every other event.
NORMAL = 1

#: A process's generator: it yields events to wait for, or generators to run as
#: sub-generators (``x = yield gen`` is ``x = yield from gen``, resumed directly: Process).
ProcessGenerator = Generator["Event | ProcessGenerator", Any, Any]


# A plain Python class in a compiled engine: mypyc's native classes cannot subclass
# RuntimeError (vswap.compile).
@mypyc_attr(native_class=False)
class SimError(RuntimeError):
    """The model broke a rule of the execution engine (a programming error, not a kernel
    error): double trigger, release of an unheld lock, scheduling while atomic, ..."""


class _StopSimulation(Exception):
    """Raised by the ``until`` sentinel's callback to leave :meth:`Engine.run`."""


class Event:
    """Something that happens at one instant of virtual time.

    ``callbacks`` is a list of ``f(event)`` run when the event is processed; it becomes
    None once processed. ``value`` is the result (or the exception of a failed event).
    """

    __slots__ = ("_defused", "_ok", "_value", "callbacks", "engine")

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.callbacks: list[Callable[[Event], None]] | None = []
        self._value: Any = PENDING
        self._ok = True
        self._defused = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._state()}>"

    def __iter__(self) -> Generator[Event, Any, Any]:
        """``x = yield from event`` in a process is ``x = yield event``: the event's value,
        or its exception raised there (an operation's charge, ``vswap.run.charge``, is an
        event that its callers may still delegate to)."""
        return (yield self)

    def _state(self) -> str:
        if self.callbacks is None:
            return "processed"
        return "pending" if self._value is PENDING else "triggered"

    @property
    def triggered(self) -> bool:
        """True once the outcome is fixed (it may still wait on the heap)."""
        return self._value is not PENDING

    @property
    def processed(self) -> bool:
        """True once the callbacks have run."""
        return self.callbacks is None

    @property
    def ok(self) -> bool:
        """True if the event succeeded. Raises SimError while pending."""
        if self._value is PENDING:
            raise SimError(f"{self!r} has no outcome yet")
        return self._ok

    @property
    def value(self) -> Any:
        """The value (or exception) of a triggered event. Raises SimError while pending."""
        if self._value is PENDING:
            raise SimError(f"{self!r} has no value yet")
        return self._value

    @property
    def defused(self) -> bool:
        """True if a failure of this event was handled and must not stop the run."""
        return self._defused

    @defused.setter
    def defused(self, value: bool) -> None:
        self._defused = value

    def succeed(self, value: Any = None, delay: int = 0) -> Event:
        """Fix a successful outcome and schedule the event ``delay`` ns from now.

        Raises:
            SimError: the event was already triggered.
        """
        if self._value is not PENDING:
            raise SimError(f"{self!r} already triggered")
        self._ok = True
        self._value = value
        self.engine.schedule(self, NORMAL, delay)
        return self

    def fail(self, exc: BaseException, delay: int = 0) -> Event:
        """Fix a failed outcome carrying ``exc`` and schedule the event.

        Raises:
            SimError: the event was already triggered.
            TypeError: ``exc`` is not an exception instance.
        """
        if self._value is not PENDING:
            raise SimError(f"{self!r} already triggered")
        if not isinstance(exc, BaseException):
            raise TypeError(f"{exc!r} is not an exception")
        self._ok = False
        self._value = exc
        self.engine.schedule(self, NORMAL, delay)
        return self


# Compiled, one freed timeout is kept for the next (they are made and dropped per step).
@mypyc_attr(free_list_len=1)
class Timeout(Event):
    """An event that succeeds ``delay`` ns after its creation."""

    __slots__ = ("delay",)

    def __init__(self, engine: Engine, delay: int, value: Any = None) -> None:
        # Inlined Event.__init__ + schedule: timeouts are the most frequent event.
        if delay.__class__ is not int or delay < 0:
            raise InvalidArgumentError(
                f"timeout delay must be a non-negative int of ns, not {delay!r}")
        self.engine = engine
        self.callbacks = []
        self._value = value
        self._ok = True
        self._defused = False
        self.delay = delay
        # engine.schedule(), inlined for the same reason.
        at = engine._now + delay
        seq = next(engine._seq)
        heappush(engine._queue, (at, NORMAL, seq, self))
        instruments = engine.instruments
        if instruments.active and "event_scheduled" in instruments:
            instruments.call("event_scheduled", self, at, NORMAL, seq)


class Process(Event):
    """A generator driven by the events it yields; as an event, it fires when it ends.

    The process's own value is the generator's return value; if the generator raises,
    the process fails with that exception (and, unless some other process waits on it,
    the exception leaves :meth:`Engine.run`), unless ``quiet_exit`` (set by the creator)
    accepts the exception: then the process ends successfully with the value None, as if
    the generator had caught it and returned (a task the kernel killed ends that way,
    without a wrapper generator that every resume of the task would pass through).

    A generator may yield a generator instead of an event: ``x = yield gen`` runs ``gen``
    exactly as ``x = yield from gen`` would (its events are waited for, an event's failure
    is thrown into it, its return value or exception goes to the yielding generator), but
    the process resumes ``gen`` itself rather than through the frames of every generator
    that delegates to it, which a task body's loop over kernel operations
    (``yield ctx.op(...)``) would otherwise pay on every charged step.
    """

    __slots__ = ("_generator", "_parents", "_resume_cb", "_target", "name", "quiet_exit")

    def __init__(self, engine: Engine, generator: ProcessGenerator, name: str | None = None,
                 *, start: bool = True) -> None:
        if not hasattr(generator, "throw"):
            raise TypeError(f"{generator!r} is not a generator")
        super().__init__(engine)
        self._generator = generator
        #: The generators waiting on a sub-generator the process runs (innermost last), or
        #: None: a generator that yields a generator (``yield gen``) runs it as ``yield
        #: from gen`` would.
        self._parents: list[ProcessGenerator] | None = None
        self.name = name if name is not None else getattr(generator, "__name__", "process")
        # One bound method per process, reused for every wait: no per-event closure.
        self._resume_cb = self._resume
        self._target: Event | None = None
        #: Called with an exception the generator raised: True ends the process quietly.
        self.quiet_exit: Callable[[BaseException], bool] | None = None
        if start:
            init = Event(engine)
            init._value = None
            init.callbacks = [self._resume_cb]
            self._target = init
            engine.schedule(init, URGENT)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self._state()}>"

    @property
    def is_alive(self) -> bool:
        """True until the generator has returned or raised."""
        return self._value is PENDING

    @property
    def target(self) -> Event | None:
        """The event the process is waiting for, or None."""
        return self._target

    def _resume(self, event: Event) -> None:
        gen = self._generator
        # The outcome to resume the generator with: the event's, or, when a sub-generator
        # (below) returned or raised, its value or exception for its parent.
        ok = event._ok
        value = event._value
        if not ok:
            # The process receives the failure: it is handled, not dropped.
            event._defused = True
        # What the generator yielded: Any, not Event, so that a compiled engine (mypyc,
        # vswap.compile) reports a non-event as the SimError below rather than failing the
        # type check of the assignment.
        nxt: Any
        while True:
            try:
                nxt = gen.send(value) if ok else gen.throw(value)
            except StopIteration as stop:
                parents = self._parents
                if parents:
                    gen = self._generator = parents.pop()
                    ok, value = True, stop.value
                    continue
                self._finish(True, stop.value)
                return
            except BaseException as exc:
                parents = self._parents
                if parents:
                    gen = self._generator = parents.pop()
                    ok, value = False, exc
                    continue
                quiet = self.quiet_exit
                if quiet is not None and quiet(exc):
                    self._finish(True, None)
                else:
                    self._finish(False, exc)
                return
            if isinstance(nxt, Event):
                callbacks = nxt.callbacks
                if callbacks is not None:
                    callbacks.append(self._resume_cb)
                    self._target = nxt
                    return
                # Already processed: continue at once with its outcome (fast path).
                ok = nxt._ok
                value = nxt._value
                if not ok:
                    nxt._defused = True
                continue
            if hasattr(nxt, "throw"):
                # A sub-generator: run it as ``yield from`` would (its events are this
                # process's; its return value, or its exception, goes to the generator
                # that yielded it), but resumed from here directly rather than through
                # every generator frame between (docs/engine.md).
                parents = self._parents
                if parents is None:
                    parents = self._parents = []
                parents.append(gen)
                gen = self._generator = nxt
                ok, value = True, None
                continue
            ok = False
            value = SimError(f"process {self.name!r} yielded a non-event {nxt!r}")

    def _finish(self, ok: bool, value: Any) -> None:
        self._target = None
        self._ok = ok
        self._value = value
        self.engine.schedule(self, NORMAL, 0)


class _Condition(Event, metaclass=abc.ABCMeta):
    """Base of :class:`AllOf` / :class:`AnyOf`: waits on several events."""

    __slots__ = ("_events", "_remaining")

    def __init__(self, engine: Engine, events: Iterable[Event]) -> None:
        super().__init__(engine)
        self._events = list(events)
        self._remaining = len(self._events)
        if not self._events:
            self.succeed(self._result())
            return
        for ev in self._events:
            if ev.callbacks is None:
                self._check(ev)
            else:
                ev.callbacks.append(self._check)

    @abc.abstractmethod
    def _result(self) -> Any:
        """The condition's value once it holds (AllOf: all values; AnyOf: the first)."""

    @abc.abstractmethod
    def _check(self, event: Event) -> None:
        """Called as each watched event is processed: trigger or fail the condition."""


class AllOf(_Condition):
    """Succeeds with the list of values once all events succeeded; fails with the first
    failure."""

    __slots__ = ()

    def _result(self) -> list[Any]:
        return [ev._value for ev in self._events]

    def _check(self, event: Event) -> None:
        if self._value is not PENDING:
            if not event._ok:
                event._defused = True
            return
        if not event._ok:
            event._defused = True
            self.fail(event._value)
            return
        self._remaining -= 1
        if self._remaining == 0:
            self.succeed(self._result())


class AnyOf(_Condition):
    """Succeeds with the first event that is processed (failing if that one failed)."""

    __slots__ = ()

    def _result(self) -> None:
        return None

    def _check(self, event: Event) -> None:
        if self._value is not PENDING:
            if not event._ok:
                event._defused = True
            return
        if not event._ok:
            event._defused = True
            self.fail(event._value)
        else:
            self.succeed(event)


class Engine:
    """The virtual clock and the event heap.

    Args:
        seed: seed of :attr:`rng`, the run's only random generator. Every model layer
            draws from it (never from the ``random`` module's global generator); when
            Hypothesis is loaded it is registered with ``register_random``, so shrinking
            replays are deterministic.
        initial_time: the clock's starting value in ns.
    """

    __slots__ = ("_done", "_ff", "_now", "_queue", "_seq", "instruments", "rng", "seed")

    def __init__(self, *, seed: int = 0, initial_time: int = 0) -> None:
        if initial_time.__class__ is not int:
            raise TypeError("initial_time must be an int of ns")
        self._now = initial_time
        self._queue: list[tuple[int, int, int, Event]] = []
        self._seq = itertools.count()
        self.seed = seed
        self.rng = random.Random(seed)
        if "hypothesis" in sys.modules:
            sys.modules["hypothesis"].register_random(self.rng)
        #: Observers of this engine (see :mod:`vswap.sim.instrument`).
        self.instruments = Instruments()
        # A shared, already-processed success: yielding it continues the process at once.
        done = Event(self)
        done._value = None
        done.callbacks = None
        self._done = done
        #: True while :meth:`run` runs the only callback of an event (not instrumented):
        #: then nothing but that callback can act before the heap's head is due, which
        #: ``Task.work``'s fast path relies on.
        self._ff = False

    @property
    def now(self) -> int:
        """The current virtual time in ns."""
        return self._now

    @property
    def done(self) -> Event:
        """An already-processed successful event (value None): ``yield engine.done``
        costs no time and no heap operation."""
        return self._done

    # -- scheduling -------------------------------------------------------------------

    def schedule(self, event: Event, priority: int = NORMAL, delay: int = 0) -> None:
        """Put a triggered ``event`` on the heap, ``delay`` ns from now."""
        seq = next(self._seq)
        heappush(self._queue, (self._now + delay, priority, seq, event))
        if self.instruments.active and "event_scheduled" in self.instruments:
            self.instruments.call("event_scheduled", event, self._now + delay, priority, seq)

    def event(self) -> Event:
        """A new pending event, to be triggered by :meth:`Event.succeed` / ``fail``."""
        return Event(self)

    def timeout(self, delay: int, value: Any = None) -> Timeout:
        """An event that succeeds with ``value`` after ``delay`` ns."""
        return Timeout(self, delay, value)

    def process(self, generator: ProcessGenerator, name: str | None = None) -> Process:
        """Start ``generator`` as a process at the current instant."""
        return Process(self, generator, name)

    def all_of(self, events: Iterable[Event]) -> AllOf:
        """An event that succeeds when all ``events`` have succeeded."""
        return AllOf(self, events)

    def any_of(self, events: Iterable[Event]) -> AnyOf:
        """An event that succeeds when the first of ``events`` is processed."""
        return AnyOf(self, events)

    def peek(self) -> int | None:
        """The time of the next scheduled event, or None if the heap is empty."""
        return self._queue[0][0] if self._queue else None

    # -- execution --------------------------------------------------------------------

    def step(self) -> None:
        """Process the next event.

        Raises:
            SimError: the heap is empty.
            BaseException: the event failed and nobody handled the failure.
        """
        if not self._queue:
            raise SimError("no scheduled events")
        self._step_instrumented() if self.instruments.active else self._step()

    def _step(self) -> None:
        time, _, _, event = heappop(self._queue)
        self._now = time
        callbacks = event.callbacks
        # Only triggered events are on the heap, and a triggered event is not processed.
        assert callbacks is not None
        event.callbacks = None
        for callback in callbacks:
            callback(event)
        if not event._ok and not event._defused:
            raise event._value

    def _step_instrumented(self) -> None:
        instruments = self.instruments
        time, priority, seq, event = self._queue[0]
        if "before_step" in instruments:
            instruments.call("before_step", event, time, priority, seq)
        self._step()
        if "after_step" in instruments:
            instruments.call("after_step", event)

    def run(self, until: int | Event | None = None) -> Any:
        """Process events until the heap is empty, virtual time ``until`` is reached, or
        the event ``until`` is processed.

        With a time, events scheduled exactly at ``until`` are not processed (the stop
        sentinel is URGENT) and :attr:`now` equals ``until`` on return.

        Returns:
            The value of the ``until`` event, or None.
        Raises:
            InvalidArgumentError: ``until`` is a time in the past or not an int.
            SimError: the heap ran empty before the ``until`` event was triggered.
            BaseException: an unhandled failed event (including a crashed process), or
                the failure of the ``until`` event itself.
        """
        stop_event: Event | None = None
        if until is not None:
            if isinstance(until, Event):
                if until.callbacks is None:
                    return self._until_result(until)
                until.callbacks.append(_stop)
                stop_event = until
            else:
                if until.__class__ is not int or until < self._now:
                    raise InvalidArgumentError(
                        f"until={until!r} must be an int >= now ({self._now})")
                stop_event = Event(self)
                stop_event._value = None
                stop_event.callbacks = [_stop]
                self.schedule(stop_event, URGENT, until - self._now)
        instruments = self.instruments
        if "before_run" in instruments:
            instruments.call("before_run")
        queue = self._queue
        # A local: compiled, a call of the module's global looks it up in a dict each time.
        pop = heappop
        try:
            while queue:
                if instruments.active:
                    self._step_instrumented()
                    continue
                # Inlined _step(): this loop is the engine's hot path.
                time, _, _, event = pop(queue)
                self._now = time
                callbacks = event.callbacks
                assert callbacks is not None
                event.callbacks = None
                if len(callbacks) == 1:
                    self._ff = True
                    callbacks[0](event)
                    self._ff = False
                else:
                    for callback in callbacks:
                        callback(event)
                if not event._ok and not event._defused:
                    raise event._value
        except _StopSimulation:
            pass
        finally:
            self._ff = False
            if "after_run" in instruments:
                instruments.call("after_run")
        if stop_event is None:
            return None
        if stop_event.callbacks is not None:
            stop_event.callbacks.remove(_stop)
            raise SimError(f"no scheduled events left but until={stop_event!r} not processed")
        return self._until_result(stop_event)

    @staticmethod
    def _until_result(event: Event) -> Any:
        if not event._ok:
            event._defused = True
            raise event._value
        return event._value


def _stop(event: Event) -> None:
    # A failed until-event is handled by run() itself.
    event._defused = True
    raise _StopSimulation
