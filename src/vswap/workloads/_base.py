"""The workload protocol, command-line parsing helpers and the user-mode cost estimates.

A workload is built from its own command line (``usemem -n 4 -O 64M``), says how much memory
it will touch (so a run that cannot fit in host memory is refused up front) and spawns its
tasks on a :class:`~vswap.workloads.context.WorkloadContext` (libCacheSim's reader protocol
plays the same role there: one protocol, one module per workload).
"""

from __future__ import annotations

import abc
import argparse
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import numpy as np

from vswap.errors import ConfigError
from vswap.kernel.pagedata import PageRun
from vswap.kernel.types import PAGE_SIZE
from vswap.units import parse_size
from vswap.workloads._scale import Scaling
from vswap.workloads.content import content_run

if TYPE_CHECKING:
    from vswap.workloads.context import WorkloadContext

__all__ = ["USER_RANDOM_NS", "USER_WORD_NS", "Workload", "WorkloadParser", "device_requests",
           "usemem_bytes", "usemem_data"]

#: User time of one 8-byte access in usemem's loop (``vp[idx] = idx`` through a volatile
#: pointer, index arithmetic, loop test): estimate, ~3 cycles at 3 GHz for a store-bound loop
#: whose line is already being filled. 512 per page: ~0.5 µs per 4 KiB page.
USER_WORD_NS = 1
#: Extra user time of one random index (``lrand48_r`` + scaling): estimate, ~60 cycles.
USER_RANDOM_NS = 20
#: User time to memset one 4 KiB page: the cost table's memcpy rate (lzbench memcpy 8657 MB/s).
USER_MEMSET_PAGE_NS = round(PAGE_SIZE * 1000 / 8657)


class WorkloadParser(argparse.ArgumentParser):
    """argparse whose errors are one-line :class:`ConfigError` naming the workload."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog=prog, add_help=False, allow_abbrev=False)

    def error(self, message: str) -> NoReturn:
        raise ConfigError(f"workload {self.prog}: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise ConfigError(f"workload {self.prog}: {message or 'bad arguments'}")


def size_arg(what: str) -> Callable[[str], int]:
    """An argparse type parsing a size with K/M/G/T suffix (ConfigError naming ``what``)."""
    def parse(text: str) -> int:
        return parse_size(text, what=what)
    return parse


def positive_int(what: str) -> Callable[[str], int]:
    """An argparse type parsing an integer of at least 1 (ConfigError naming ``what``)."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise ConfigError(f"{what}: {text!r} is not an integer") from None
        if v < 1:
            raise ConfigError(f"{what}: must be at least 1, not {v}")
        return v
    return parse


def usemem_bytes(offset: int, nbytes: int) -> bytes:
    """usemem's content for ``[offset, offset + nbytes)`` of a region: every 8-byte word
    holds its index in the region (``vp[idx] = idx``), little endian."""
    first = offset // 8
    return np.arange(first, first + nbytes // 8, dtype="<u8").tobytes()


def read_back_usemem(ctx: WorkloadContext, task: Any, proc: Any, addr: int, size: int,
                     step: int) -> Generator[Any, Any, None]:
    """Read ``proc``'s usemem region ``[addr, addr + size)`` back ``step`` bytes at a time
    and count every page: verified when it holds usemem's content
    (:func:`usemem_bytes`), data loss otherwise; each page read advances the run."""
    m = ctx.machine
    for off in range(0, size, step):
        nb = min(step, size - off)
        got = yield ctx.op(task, m.read, proc, addr + off, nb)
        want = usemem_bytes(off, nb)
        for i in range(0, nb, PAGE_SIZE):
            if got[i:i + PAGE_SIZE] == want[i:i + PAGE_SIZE]:
                ctx.verified_pages += 1
            else:
                ctx.data_loss += 1
        ctx.advance(nb // PAGE_SIZE)


def device_requests(ctx: WorkloadContext) -> tuple[int, int]:
    """The read and write requests the run's swap devices completed so far (their I/O
    queues' ``/proc/diskstats`` counters, summed); (0, 0) for a context without queues."""
    reads = writes = 0
    for rec in ctx.device_records.values():
        q = rec.get("_queue")
        if q is not None:
            reads += int(q.reads)
            writes += int(q.writes)
    return reads, writes


def usemem_data(m: Any, offset: int, nbytes: int) -> bytes | PageRun:
    """:func:`usemem_bytes`, or in compact page-data mode (``m.compact``) the same whole pages
    as descriptors (:mod:`vswap.kernel.pagedata`); a partial page stays bytes."""
    if m.compact and not offset % PAGE_SIZE and not nbytes % PAGE_SIZE:
        return content_run("usemem", offset // PAGE_SIZE, nbytes // PAGE_SIZE)
    return usemem_bytes(offset, nbytes)


class Workload(abc.ABC):
    """One workload instance, built from its command line by :meth:`parse`."""

    #: The command name (first word of the command line).
    name: ClassVar[str]
    #: What ``--scale`` does to each option, by argparse dest (:mod:`vswap.workloads._scale`):
    #: sizes and sleeps scale, counts are kept.
    SCALING: ClassVar[dict[str, Scaling]] = {}

    def __init__(self, command: str) -> None:
        self.command = command

    @classmethod
    @abc.abstractmethod
    def parser(cls) -> WorkloadParser:
        """The workload's own option parser (what :meth:`parse` and ``--scale`` read)."""

    @classmethod
    @abc.abstractmethod
    def parse(cls, argv: list[str], command: str) -> Workload:
        """Build from the arguments after the name. Raises ConfigError (one line)."""

    @abc.abstractmethod
    def footprint_bytes(self) -> int:
        """Bytes of anonymous memory the workload touches in all (the fit estimate)."""

    def progress_total(self) -> int:
        """Work units ``ctx.advance()`` will count to (pages by default)."""
        return self.footprint_bytes() // PAGE_SIZE

    def expected_ns(self) -> int:
        """A rough virtual duration, only to space timeline samples (10 µs per page)."""
        return max(self.footprint_bytes() // PAGE_SIZE * 10_000, 1_000_000)

    @abc.abstractmethod
    def start(self, ctx: WorkloadContext) -> None:
        """Create cgroup state and tasks on ``ctx`` (the engine then runs them)."""

    def finish(self, ctx: WorkloadContext) -> None:  # noqa: B027 - optional hook
        """After the engine ran: summarise into ``ctx.metrics`` and ``ctx.report_lines``."""

    def needs_device(self) -> bool:
        """True if the workload cannot run without a swap device."""
        return False


def fail(msg: str) -> NoReturn:
    raise ConfigError(msg)
