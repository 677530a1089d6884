"""I/O queue: latency + size/bandwidth, depth, shared channel, counters."""

from __future__ import annotations

import pytest

from vswap.sim.engine import Engine
from vswap.sim.ioqueue import READ, WRITE, IoQueue


def _queue(e: Engine, depth: int = 2) -> IoQueue:
    # 4096 B at 4.096 GB/s = 1000 ns of transfer.
    return IoQueue(e, "dev", depth=depth, read_latency_ns=10_000, write_latency_ns=5_000,
                   read_bandwidth=4_096_000_000, write_bandwidth=2_048_000_000)


def test_single_request_takes_latency_plus_transfer() -> None:
    e = Engine()
    q = _queue(e)
    r = q.read(4096)
    w = q.write(4096)
    e.run()
    assert r.complete_ns == 10_000 + 1_000
    assert w.complete_ns == 5_000 + 2_000
    assert q.service_ns(READ, 4096) == 11_000
    assert q.transfer_ns(WRITE, 1) == 1  # rounded up
    assert r.value is r


def test_depth_limits_requests_in_service() -> None:
    e = Engine()
    q = _queue(e, depth=2)
    reqs = [q.read(4096) for _ in range(3)]
    assert q.in_flight == 2 and q.nr_queued == 1
    e.run()
    # Two overlap their latency; the third starts when a slot frees.
    assert [r.complete_ns for r in reqs] == [11_000, 11_000, 22_000]
    assert [r.start_ns for r in reqs] == [0, 0, 11_000]
    st = q.statistics()
    assert (st.reads, st.read_bytes, st.writes, st.in_flight_max) == (3, 3 * 4096, 0, 2)
    assert st.busy_ns == 22_000
    assert st.queued_total_ns == 11_000
    assert st.latency_total_ns == 11_000 + 11_000 + 22_000
    assert st.latency_max_ns == 22_000


def test_bandwidth_caps_throughput_with_deep_queue() -> None:
    e = Engine()
    q = IoQueue(e, "fast", depth=1000, read_latency_ns=100, write_latency_ns=100,
                read_bandwidth=4_096_000_000, write_bandwidth=4_096_000_000)
    reqs = [q.read(4096) for _ in range(100)]
    e.run()
    # Completions are spaced by the transfer time once the channel is the bottleneck.
    assert reqs[0].complete_ns == 1_100
    assert reqs[1].complete_ns == 2_000
    assert reqs[-1].complete_ns == 100 * 1_000


def test_busy_time_excludes_idle_gaps_and_bad_input() -> None:
    e = Engine()
    q = _queue(e)

    def proc():
        yield q.read(4096)
        yield e.timeout(5_000)
        yield q.write(4096)

    e.process(proc())
    e.run()
    assert q.statistics().busy_ns == 11_000 + 7_000
    assert e.now == 11_000 + 5_000 + 7_000
    with pytest.raises(ValueError):
        q.submit("trim", 4096)
    with pytest.raises(ValueError):
        q.read(0)
    with pytest.raises(ValueError):
        IoQueue(e, "bad", depth=0, read_latency_ns=1, write_latency_ns=1,
                read_bandwidth=1, write_bandwidth=1)
