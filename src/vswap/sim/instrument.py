"""Observation hooks: a Trio-style ``Instrument`` protocol with no-op defaults.

Models: Trio's ``trio.abc.Instrument`` and ``_core/_instrumentation.py``. Tracing, trace
recording for replay and determinism tests, and report building are all instruments;
nothing observes the model by patching the engine (STYLE point 10).

An instrument is any object; it subclasses :class:`Instrument` and overrides the hooks it
wants. The engine only calls a hook on instruments that override it, and checks one bool
before doing any work, so an engine without instruments pays nothing per event.

Layers above ``sim/`` (the memory manager, swap designs, zswap) extend the protocol with
their own hooks (``fault``, ``swap_out``, ``zswap_reject``, ...) by subclassing
:class:`Instrument` and decorating the new no-op defaults with :func:`hook`; they fire them
with ``engine.instruments.call("fault", ...)`` guarded by ``"fault" in engine.instruments``.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from vswap.sim.engine import Event

__all__ = ["Instrument", "Instruments", "RecordingInstrument", "hook"]

_F = TypeVar("_F", bound=Callable[..., Any])


#: Every function decorated with :func:`hook` (the no-op defaults), in every layer.
_DEFAULT_HOOKS: set[Callable[..., Any]] = set()


def hook(func: _F) -> _F:
    """Mark ``func`` as a no-op default hook: instruments that do not override it are not
    called for it."""
    _DEFAULT_HOOKS.add(func)
    return func


class Instrument:
    """Base class of observers; every hook is a no-op until overridden.

    Times are virtual ns; objects passed are the live engine objects (read, never modify).
    """

    @hook
    def before_run(self) -> None:
        """:meth:`Engine.run` is starting."""

    @hook
    def after_run(self) -> None:
        """:meth:`Engine.run` is returning (normally or with an exception)."""

    @hook
    def event_scheduled(self, event: Event, time: int, priority: int, seq: int) -> None:
        """``event`` was put on the heap for ``time`` with tie-breakers ``priority``, ``seq``."""

    @hook
    def before_step(self, event: Event, time: int, priority: int, seq: int) -> None:
        """``event`` is about to be processed (its callbacks run)."""

    @hook
    def after_step(self, event: Event) -> None:
        """``event`` was processed."""

    @hook
    def task_spawned(self, task: Any) -> None:
        """A task was created on a :class:`~vswap.sim.cpus.CpuSet`."""

    @hook
    def task_switch_in(self, task: Any, cpu: Any) -> None:
        """``task`` was given ``cpu``."""

    @hook
    def task_switch_out(self, task: Any, cpu: Any) -> None:
        """``task`` left ``cpu`` (blocked, slept, was preempted or exited)."""

    @hook
    def task_exited(self, task: Any) -> None:
        """``task``'s generator returned or raised."""

    @hook
    def lock_contended(self, lock: Any, task: Any) -> None:
        """``task`` found ``lock`` busy and started waiting."""

    @hook
    def lock_acquired(self, lock: Any, task: Any, wait_ns: int) -> None:
        """``task`` acquired ``lock`` after waiting ``wait_ns`` (0 if uncontended)."""

    @hook
    def lock_released(self, lock: Any, task: Any, hold_ns: int) -> None:
        """``task`` released ``lock`` after holding it ``hold_ns``."""

    @hook
    def io_submit(self, queue: Any, request: Any) -> None:
        """``request`` was submitted to I/O ``queue``."""

    @hook
    def io_complete(self, queue: Any, request: Any) -> None:
        """``request`` completed on I/O ``queue``."""


def _is_default_hook(obj: object) -> bool:
    # Only plain functions are hooks; the test keeps unhashable attributes out of the set.
    return isinstance(obj, FunctionType) and obj in _DEFAULT_HOOKS


def _overridden_hooks(instrument: object) -> list[str]:
    names = []
    for name in dir(instrument):
        if name.startswith("_"):
            continue
        impl = getattr(instrument, name)
        if not callable(impl):
            continue
        func = getattr(impl, "__func__", impl)
        if _is_default_hook(func):
            continue
        # Only names that are hooks somewhere in the class hierarchy count.
        for klass in type(instrument).__mro__:
            base = klass.__dict__.get(name)
            if _is_default_hook(base):
                names.append(name)
                break
    return names


class Instruments:
    """The instruments of one engine, indexed by the hooks they implement.

    ``"name" in instruments`` is True when at least one registered instrument implements
    hook ``name``; ``active`` is True when any instrument is registered (the one bool the
    engine's hot path tests).
    """

    __slots__ = ("_all", "_hooks", "active")

    def __init__(self) -> None:
        self._hooks: dict[str, dict[Instrument, None]] = {}
        self._all: dict[Instrument, None] = {}
        self.active = False

    def __contains__(self, name: object) -> bool:
        return name in self._hooks

    def __len__(self) -> int:
        return len(self._all)

    def add_instrument(self, instrument: Instrument) -> None:
        """Register ``instrument`` (registering it twice is a no-op)."""
        if instrument in self._all:
            return
        self._all[instrument] = None
        for name in _overridden_hooks(instrument):
            self._hooks.setdefault(name, {})[instrument] = None
        self.active = True

    def remove_instrument(self, instrument: Instrument) -> None:
        """Unregister ``instrument``.

        Raises:
            KeyError: it was not registered.
        """
        if instrument not in self._all:
            raise KeyError(f"instrument {instrument!r} is not registered")
        del self._all[instrument]
        for name in list(self._hooks):
            self._hooks[name].pop(instrument, None)
            if not self._hooks[name]:
                del self._hooks[name]
        self.active = bool(self._all)

    def call(self, name: str, *args: Any) -> None:
        """Call hook ``name`` on every instrument implementing it, in registration order."""
        for instrument in list(self._hooks.get(name, ())):
            getattr(instrument, name)(*args)


def _event_label(event: Any) -> str:
    name = getattr(event, "name", None)
    kind = type(event).__name__
    return f"{kind}:{name}" if isinstance(name, str) else kind


def _named(obj: Any) -> str:
    name = getattr(obj, "name", None)
    return name if isinstance(name, str) else type(obj).__name__


class RecordingInstrument(Instrument):
    """Record every engine hook as a tuple of plain values (times, names, numbers).

    Objects are reduced to stable labels (class and ``name``), never ``id()`` or
    ``repr`` with addresses, so two runs with the same inputs give equal traces.
    """

    def __init__(self) -> None:
        self.trace: list[tuple[Any, ...]] = []

    def event_scheduled(self, event: Event, time: int, priority: int, seq: int) -> None:
        self.trace.append(("schedule", time, priority, seq, _event_label(event)))

    def before_step(self, event: Event, time: int, priority: int, seq: int) -> None:
        self.trace.append(("step", time, priority, seq, _event_label(event)))

    def task_spawned(self, task: Any) -> None:
        self.trace.append(("spawn", task.engine.now, _named(task)))

    def task_switch_in(self, task: Any, cpu: Any) -> None:
        self.trace.append(("switch_in", task.engine.now, _named(task), cpu.id))

    def task_switch_out(self, task: Any, cpu: Any) -> None:
        self.trace.append(("switch_out", task.engine.now, _named(task), cpu.id))

    def task_exited(self, task: Any) -> None:
        self.trace.append(("exit", task.engine.now, _named(task)))

    def lock_contended(self, lock: Any, task: Any) -> None:
        self.trace.append(("contended", lock.engine.now, lock.name, _named(task)))

    def lock_acquired(self, lock: Any, task: Any, wait_ns: int) -> None:
        self.trace.append(("acquired", lock.engine.now, lock.name, _named(task), wait_ns))

    def lock_released(self, lock: Any, task: Any, hold_ns: int) -> None:
        self.trace.append(("released", lock.engine.now, lock.name, _named(task), hold_ns))

    def io_submit(self, queue: Any, request: Any) -> None:
        self.trace.append(("io_submit", queue.engine.now, queue.name, request.op,
                           request.nbytes))

    def io_complete(self, queue: Any, request: Any) -> None:
        self.trace.append(("io_complete", queue.engine.now, queue.name, request.op,
                           request.nbytes))
