"""Engine core: ordering, until, failures, fast path, conditions, instruments, determinism."""

from __future__ import annotations

import pytest

from vswap.sim.cpus import CpuSet
from vswap.sim.engine import URGENT, Engine, Event, SimError
from vswap.sim.instrument import Instrument, RecordingInstrument
from vswap.sim.ioqueue import IoQueue
from vswap.sim.locks import LockTable


def test_same_time_events_run_fifo_and_urgent_first() -> None:
    e = Engine()
    order: list[str] = []
    for name in ("a", "b", "c"):
        ev = e.event()
        ev.callbacks.append(lambda _ev, n=name: order.append(n))
        ev.succeed(delay=5)
    urgent = e.event()
    urgent._value = None
    urgent.callbacks.append(lambda _ev: order.append("urgent"))
    e.schedule(urgent, URGENT, 5)
    e.run()
    assert order == ["urgent", "a", "b", "c"]
    assert e.now == 5


def test_timeouts_advance_time_and_processes_return_values() -> None:
    e = Engine()
    seen: list[int] = []

    def proc(delay: int):
        yield e.timeout(delay)
        seen.append(e.now)
        return delay * 2

    p1, p2 = e.process(proc(30)), e.process(proc(10))
    e.run()
    assert seen == [10, 30]
    assert (p1.value, p2.value) == (60, 20)
    assert not p1.is_alive


def test_run_until_time_stops_before_events_at_that_time() -> None:
    e = Engine()
    fired: list[int] = []
    t = e.timeout(100)
    t.callbacks.append(lambda _ev: fired.append(e.now))
    e.run(until=100)
    assert e.now == 100 and fired == []
    e.run()
    assert fired == [100]
    with pytest.raises(ValueError):
        e.run(until=50)


def test_run_until_event_returns_its_value() -> None:
    e = Engine()

    def proc():
        yield e.timeout(7)
        return "ok"

    p = e.process(proc())
    e.timeout(1000)  # later work is left on the heap
    assert e.run(until=p) == "ok"
    assert e.now == 7
    assert e.peek() == 1000


def test_run_until_event_never_triggered_is_an_error() -> None:
    e = Engine()
    with pytest.raises(SimError):
        e.run(until=e.event())


def test_unhandled_failure_is_raised_out_of_run() -> None:
    e = Engine()
    e.event().fail(KeyError("lost"))
    with pytest.raises(KeyError, match="lost"):
        e.run()


def test_crashing_process_is_raised_unless_someone_waits_on_it() -> None:
    e = Engine()

    def bad():
        yield e.timeout(1)
        raise ValueError("boom")

    e.process(bad())
    with pytest.raises(ValueError, match="boom"):
        e.run()

    e2 = Engine()
    caught: list[str] = []

    def bad2():
        yield e2.timeout(1)
        raise ValueError("boom2")

    def waiter():
        try:
            yield e2.process(bad2())
        except ValueError as exc:
            caught.append(str(exc))

    e2.process(waiter())
    e2.run()
    assert caught == ["boom2"]


def test_double_trigger_and_pending_value_are_errors() -> None:
    e = Engine()
    ev = e.event()
    with pytest.raises(SimError):
        _ = ev.value
    ev.succeed(1)
    with pytest.raises(SimError):
        ev.succeed(2)
    with pytest.raises(SimError):
        ev.fail(RuntimeError())
    with pytest.raises(ValueError):
        e.timeout(1.5)  # type: ignore[arg-type]


def test_processed_event_continues_without_heap_trip() -> None:
    e = Engine()
    steps: list[int] = []

    def proc():
        for _ in range(3):
            yield e.done
        steps.append(e.now)

    e.process(proc())
    e.run()
    assert steps == [0]
    # Only the start event went through the heap.
    assert next(e._seq) == 2  # start event + process completion


def test_yield_from_an_event_is_yield_event() -> None:
    """``x = yield from ev`` gives the event's value, or raises its failure, as ``yield ev``
    does: pending or already processed."""
    e = Engine()
    seen: list[object] = []

    def proc():
        seen.append((yield from e.timeout(5, "late")))
        seen.append((yield from e.done))
        bad = e.event()
        bad.fail(KeyError("k"), delay=2)
        try:
            yield from bad
        except KeyError:
            seen.append(e.now)

    e.process(proc())
    e.run()
    assert seen == ["late", None, 7]


def test_yielding_a_non_event_throws_into_the_process() -> None:
    e = Engine()
    got: list[str] = []

    def proc():
        try:
            yield 42
        except SimError as exc:
            got.append(str(exc))

    e.process(proc())
    e.run()
    assert got and "non-event" in got[0]


def _delegating_run(sub: bool) -> tuple[list[object], object]:
    """A process whose generator delegates to nested generators, with ``yield gen`` (sub)
    or ``yield from gen``: the two must behave the same."""
    e = Engine()
    log: list[object] = []

    def leaf(n: int):
        yield e.timeout(n)
        failing = e.event()
        failing.fail(ValueError(f"leaf {n}"))
        try:
            yield failing  # an event's failure is thrown into the innermost generator
        except ValueError as exc:
            log.append((e.now, str(exc)))
        yield e.done  # already processed: continues at once
        if n == 3:
            raise KeyError("from the leaf")
        return n * 10

    def middle(n: int):
        got = (yield leaf(n)) if sub else (yield from leaf(n))
        log.append((e.now, "middle", got))
        return got + 1

    def top():
        for n in (1, 2, 3):
            try:
                got = (yield middle(n)) if sub else (yield from middle(n))
                log.append((e.now, "top", got))
            except KeyError as exc:
                log.append((e.now, "caught", str(exc)))
        return "end"

    p = e.process(top())
    e.run()
    return log, p.value


def test_yielding_a_generator_runs_it_as_yield_from() -> None:
    # Return values go up, event failures are thrown into the innermost generator, a
    # sub-generator's exception is raised in the generator that yielded it, at the same
    # virtual times.
    log, value = _delegating_run(sub=True)
    assert (log, value) == _delegating_run(sub=False)
    assert value == "end"
    assert log == [(1, "leaf 1"), (1, "middle", 10), (1, "top", 11),
                   (3, "leaf 2"), (3, "middle", 20), (3, "top", 21),
                   (6, "leaf 3"), (6, "caught", "'from the leaf'")]


def test_a_sub_generators_uncaught_exception_fails_the_process() -> None:
    e = Engine()

    def sub():
        yield e.timeout(2)
        raise RuntimeError("sub failed")

    def top():
        yield sub()

    p = e.process(top())
    with pytest.raises(RuntimeError, match="sub failed"):
        e.run()
    assert not p.ok and e.now == 2


def test_all_of_and_any_of() -> None:
    e = Engine()
    out: list[object] = []

    def proc():
        values = yield e.all_of([e.timeout(3, "a"), e.timeout(5, "b"), e.done])
        out.append((e.now, values))
        first = yield e.any_of([e.timeout(9, "slow"), e.timeout(2, "fast")])
        out.append((e.now, first.value))
        out.append((yield e.all_of([])))

    e.process(proc())
    e.run()
    assert out == [(5, ["a", "b", None]), (7, "fast"), []]


def test_all_of_fails_with_the_first_failure() -> None:
    e = Engine()
    bad = e.event()
    bad.fail(OSError("eio"), delay=2)
    caught: list[str] = []

    def proc():
        try:
            yield e.all_of([e.timeout(5), bad])
        except OSError as exc:
            caught.append(f"{e.now}:{exc}")

    e.process(proc())
    e.run()
    assert caught == ["2:eio"]


def test_instruments_only_called_for_overridden_hooks() -> None:
    class Counting(Instrument):
        def __init__(self) -> None:
            self.steps = 0

        def before_step(self, event: Event, time: int, priority: int, seq: int) -> None:
            self.steps += 1

    e = Engine()
    inst = Counting()
    e.instruments.add_instrument(inst)
    assert "before_step" in e.instruments
    assert "after_step" not in e.instruments
    e.timeout(1)
    e.timeout(2)
    e.run()
    assert inst.steps == 2
    e.instruments.remove_instrument(inst)
    assert not e.instruments.active
    with pytest.raises(KeyError):
        e.instruments.remove_instrument(inst)


def _scenario(seed: int, *, record: bool = True, log: list[tuple[str, int]] | None = None,
              engine: list[Engine] | None = None
              ) -> tuple[list[tuple[object, ...]], object, object]:
    e = Engine(seed=seed)
    rec = RecordingInstrument()
    if record:
        e.instruments.add_instrument(rec)
    if engine is not None:
        engine.append(e)
    cpus = CpuSet(e, 3, timeslice_ns=5_000)
    locks = LockTable(e)
    shared = locks.spinlock("tree:lock")
    parts = [locks.spinlock("cache:i_pages", i) for i in range(2)]
    sem = locks.mutex("dev:mutex")
    disk = IoQueue(e, "disk", depth=2, read_latency_ns=3_000, write_latency_ns=2_000,
                   read_bandwidth=1_000_000_000, write_bandwidth=1_000_000_000)

    def body(task, n):
        rng = e.rng
        for _ in range(n):
            yield task.work(rng.randrange(100, 2_000), "user")
            lock = shared if rng.random() < 0.5 else parts[rng.randrange(2)]
            yield lock.acquire(task)
            yield task.work(rng.randrange(50, 500))
            lock.release(task)
            if rng.random() < 0.3:
                yield sem.acquire(task)
                yield task.block(disk.write(4096))
                sem.release(task)
            if log is not None:
                log.append((task.name, e.now))

    for i in range(6):
        cpus.spawn(body, 40, name=f"w{i}")
    e.run()
    return rec.trace, cpus.statistics(), locks.statistics(by="instance")


def test_same_seed_gives_identical_trace_and_counters() -> None:
    trace1, cpu1, locks1 = _scenario(7)
    trace2, cpu2, locks2 = _scenario(7)
    assert len(trace1) > 1000
    assert trace1 == trace2
    assert cpu1 == cpu2
    assert locks1 == locks2
    trace3, _, _ = _scenario(8)
    assert trace3 != trace1


def test_work_fast_path_runs_the_same_events_at_the_same_times() -> None:
    """Without instruments, ``Task.work`` skips the heap when its Timeout would be the next
    event anyway (Engine._ff): every task sees the same times, and the CPU and lock
    statistics are the same as when every work goes through the heap (an instrument turns
    the fast path off)."""
    slow_log: list[tuple[str, int]] = []
    fast_log: list[tuple[str, int]] = []
    slow_e: list[Engine] = []
    fast_e: list[Engine] = []
    _, cpu_slow, locks_slow = _scenario(7, log=slow_log, engine=slow_e)
    _, cpu_fast, locks_fast = _scenario(7, record=False, log=fast_log, engine=fast_e)
    assert len(fast_log) == 240
    assert fast_log == slow_log
    assert cpu_fast == cpu_slow
    assert locks_fast == locks_slow
    assert fast_e[0].now == slow_e[0].now
    # The fast path was taken: fewer events went through the heap.
    assert next(fast_e[0]._seq) < next(slow_e[0]._seq)
