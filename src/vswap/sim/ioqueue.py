"""Per-device I/O queues: depth, latency, bandwidth, completion events and counters.

Models: a block device as blk-mq sees it from the submitter's side (``submit_bio`` to
``bio_endio``), with the counters of ``/proc/diskstats`` (reads and writes completed,
sectors, ``io_ticks`` busy time, in-flight). The CPU cost of submitting and completing is
*not* charged here: it belongs to the task that submits (the cost table's ``io_submit`` /
``io_complete``); this module only decides when the device finishes each request.

Service model, chosen to be explainable in one paragraph and to reduce to the textbook
formula for a single request:

- at most ``depth`` requests are in service at once; later ones wait FIFO in the queue;
- the device's bandwidth is a budget that admitted requests consume in admission order:
  a request admitted at ``t`` reserves ``xfer = ceil(nbytes / bandwidth)`` of channel time
  from ``channel_free = max(channel_free, t) + xfer`` and completes at
  ``max(t + latency + xfer, channel_free)``. The fixed latencies of in-flight requests
  overlap; the bytes never move faster than the bandwidth. One 4 KiB read on an idle
  device takes exactly ``read_latency + 4096 / read_bandwidth``; a deep queue of
  requests completes one ``xfer`` apart once the channel is the bottleneck;
- a fast request admitted after a slow one may complete first (a write behind a read on
  a device whose write latency is lower), as on real devices.

A rotational disk is modelled with ``depth=1`` (the head serves one request at a time; its
seek and rotation do not overlap), which is what makes it slow under random swap I/O.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from vswap.errors import ConfigError, InvalidArgumentError
from vswap.sim.engine import NORMAL, Engine, Event

__all__ = ["READ", "WRITE", "IoQueue", "IoRequest", "IoStatistics"]

READ = "read"
WRITE = "write"


class IoRequest(Event):
    """One request (a bio); as an event it succeeds with itself when the device completes
    it. ``tag`` is free for the submitter (a slot number, a folio)."""

    __slots__ = ("complete_ns", "nbytes", "op", "queue", "start_ns", "submit_ns", "tag")

    def __init__(self, queue: IoQueue, op: str, nbytes: int, tag: Any = None) -> None:
        super().__init__(queue.engine)
        self.queue = queue
        self.op = op
        self.nbytes = nbytes
        self.tag = tag
        self.submit_ns = queue.engine._now
        self.start_ns = -1
        self.complete_ns = -1

    def __repr__(self) -> str:
        return f"<IoRequest {self.queue.name} {self.op} {self.nbytes}B {self._state()}>"


@dataclass(frozen=True, slots=True)
class IoStatistics:
    """Frozen counters of one queue (``/proc/diskstats``-like; times in ns)."""

    name: str
    reads: int
    writes: int
    read_bytes: int
    write_bytes: int
    busy_ns: int
    queued_total_ns: int
    latency_total_ns: int
    latency_max_ns: int
    in_flight_max: int

    @property
    def completed(self) -> int:
        return self.reads + self.writes

    @property
    def latency_avg_ns(self) -> float:
        """Mean submit-to-completion time."""
        return self.latency_total_ns / self.completed if self.completed else 0.0


class IoQueue:
    """The request queue of one device.

    Args:
        engine: the run's engine.
        name: the device name (``"nvme0n1"``, ``"swapfile"``).
        depth: maximum requests in service at once (>= 1).
        read_latency_ns, write_latency_ns: fixed per-request device time.
        read_bandwidth, write_bandwidth: bytes per second of data transfer (> 0).
    Raises:
        ConfigError: a non-positive depth or bandwidth, or a negative latency.
    """

    __slots__ = ("_busy_since", "_channel_free", "_complete_cb", "_pending", "busy_ns",
                 "depth", "engine", "in_flight", "in_flight_max", "latency_max_ns",
                 "latency_total_ns", "name", "queued_total_ns", "read_bandwidth",
                 "read_bytes", "read_latency_ns", "reads", "write_bandwidth", "write_bytes",
                 "write_latency_ns", "writes")

    def __init__(self, engine: Engine, name: str, *, depth: int, read_latency_ns: int,
                 write_latency_ns: int, read_bandwidth: int, write_bandwidth: int) -> None:
        if depth < 1 or read_bandwidth <= 0 or write_bandwidth <= 0:
            raise ConfigError(f"{name}: depth and bandwidths must be positive")
        if read_latency_ns < 0 or write_latency_ns < 0:
            raise ConfigError(f"{name}: latencies must be >= 0")
        self.engine = engine
        self.name = name
        self.depth = depth
        self.read_latency_ns = int(read_latency_ns)
        self.write_latency_ns = int(write_latency_ns)
        self.read_bandwidth = int(read_bandwidth)
        self.write_bandwidth = int(write_bandwidth)
        self._pending: deque[IoRequest] = deque()
        self._channel_free = 0
        self._complete_cb = self._complete
        self.in_flight = 0
        self.in_flight_max = 0
        self.reads = 0
        self.writes = 0
        self.read_bytes = 0
        self.write_bytes = 0
        self.busy_ns = 0
        self._busy_since = 0
        self.queued_total_ns = 0
        self.latency_total_ns = 0
        self.latency_max_ns = 0

    def __repr__(self) -> str:
        return f"<IoQueue {self.name} in_flight={self.in_flight} queued={len(self._pending)}>"

    @property
    def nr_queued(self) -> int:
        """Requests waiting for a free slot of ``depth``."""
        return len(self._pending)

    def transfer_ns(self, op: str, nbytes: int) -> int:
        """ns to move ``nbytes`` at the bandwidth of ``op`` (rounded up)."""
        bw = self.read_bandwidth if op == READ else self.write_bandwidth
        return -(-nbytes * 1_000_000_000 // bw)

    def service_ns(self, op: str, nbytes: int) -> int:
        """Time of one request on an idle device: latency + transfer."""
        latency = self.read_latency_ns if op == READ else self.write_latency_ns
        return latency + self.transfer_ns(op, nbytes)

    def submit(self, op: str, nbytes: int, tag: Any = None) -> IoRequest:
        """Submit a request; yield it (usually through ``task.block(...)``) to wait.

        Models: ``submit_bio()`` as seen from the device.
        Returns:
            The request; it succeeds with itself at completion.
        Raises:
            InvalidArgumentError: ``op`` is not READ/WRITE or ``nbytes`` is not positive.
        """
        if op != READ and op != WRITE:
            raise InvalidArgumentError(f"op must be {READ!r} or {WRITE!r}, not {op!r}")
        if nbytes <= 0:
            raise InvalidArgumentError(f"nbytes must be positive, not {nbytes}")
        request = IoRequest(self, op, nbytes, tag)
        instruments = self.engine.instruments
        if instruments.active and "io_submit" in instruments:
            instruments.call("io_submit", self, request)
        if self.in_flight < self.depth:
            self._start(request)
        else:
            self._pending.append(request)
        return request

    def read(self, nbytes: int, tag: Any = None) -> IoRequest:
        """``submit(READ, nbytes, tag)``."""
        return self.submit(READ, nbytes, tag)

    def write(self, nbytes: int, tag: Any = None) -> IoRequest:
        """``submit(WRITE, nbytes, tag)``."""
        return self.submit(WRITE, nbytes, tag)

    def _start(self, request: IoRequest) -> None:
        now = self.engine._now
        if self.in_flight == 0:
            self._busy_since = now
        self.in_flight += 1
        if self.in_flight > self.in_flight_max:
            self.in_flight_max = self.in_flight
        request.start_ns = now
        self.queued_total_ns += now - request.submit_ns
        op = request.op
        latency = self.read_latency_ns if op == READ else self.write_latency_ns
        xfer = self.transfer_ns(op, request.nbytes)
        channel_free = max(self._channel_free, now) + xfer
        self._channel_free = channel_free
        done = max(now + latency + xfer, channel_free)
        request._value = request
        callbacks = request.callbacks
        # A request is pending until _start() schedules it, so it has its callback list.
        assert callbacks is not None
        # The queue's bookkeeping runs before any waiter's callback.
        callbacks.insert(0, self._complete_cb)
        self.engine.schedule(request, NORMAL, done - now)

    def _complete(self, request: Event) -> None:
        assert isinstance(request, IoRequest)
        now = self.engine._now
        request.complete_ns = now
        if request.op == READ:
            self.reads += 1
            self.read_bytes += request.nbytes
        else:
            self.writes += 1
            self.write_bytes += request.nbytes
        latency = now - request.submit_ns
        self.latency_total_ns += latency
        if latency > self.latency_max_ns:
            self.latency_max_ns = latency
        self.in_flight -= 1
        if self.in_flight == 0:
            self.busy_ns += now - self._busy_since
        instruments = self.engine.instruments
        if instruments.active and "io_complete" in instruments:
            instruments.call("io_complete", self, request)
        if self._pending:
            self._start(self._pending.popleft())

    def statistics(self) -> IoStatistics:
        """A frozen snapshot (busy time includes the current busy period)."""
        busy = self.busy_ns
        if self.in_flight:
            busy += self.engine._now - self._busy_since
        return IoStatistics(self.name, self.reads, self.writes, self.read_bytes,
                            self.write_bytes, busy, self.queued_total_ns,
                            self.latency_total_ns, self.latency_max_ns, self.in_flight_max)
