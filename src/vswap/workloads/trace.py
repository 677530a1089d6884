"""``trace``: replay a recorded program's page accesses (docs/traces.md).

Models: the program the trace was recorded from, as far as its data pages go: each task is one
process replaying every event of the trace as a page access in its own address space
(``--tasks N`` runs N copies at once). The first touch of a page allocates it, written with
its content (the trace's content class when it has one, else ``--content``, default
``mixed``); a later write dirties it; a read only reads. The trace's distinct pages are laid
out in one anonymous mapping in page-number order, gaps longer than one page table (512
pages) shortened to one, so pages near each other in the program stay near each other (what
readahead sees) while a sparse 64-bit trace fits the address space.

``trace FILE [--format F] [--tasks N] [--content C] [--window START:COUNT] [--sample RATE]``:
``--window`` replays events ``START`` .. ``START+COUNT``; ``--sample`` keeps a ``RATE``
fraction of the pages (spatial sampling, :func:`vswap.trace.sample_pages`).

User time: one :data:`USER_ACCESS_NS` per data access the event stands for (an npz or lackey
trace's ``time`` is the access's ordinal, so the accesses merged into an event count too);
other formats count one access per event. Events move in kernel operations of
:data:`BATCH` events.
"""

from __future__ import annotations

import argparse
import functools
import os
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from vswap.errors import ConfigError
from vswap.kernel.pagedata import PageRun
from vswap.kernel.types import PAGE_SHIFT, PAGE_SIZE
from vswap.trace import (
    FORMATS,
    TraceChunk,
    detect_format,
    read_header,
    read_trace,
    sample_pages,
    window,
)
from vswap.workloads._base import Workload, WorkloadParser, positive_int
from vswap.workloads._scale import KEPT, Scaling
from vswap.workloads.content import CONTENTS, content_token, page_content

if TYPE_CHECKING:
    from vswap.mm.mm_types import Task as MmTask
    from vswap.sim.cpus import Task as CpuTask
    from vswap.sim.engine import Event
    from vswap.workloads.context import WorkloadContext

__all__ = ["BATCH", "USER_ACCESS_NS", "TraceLayout", "TraceWorkload"]

#: Events per kernel operation.
BATCH = 256
#: User time of one data access (a load or store hitting the cache, with the instructions
#: around it): estimate, ~3 cycles at 3 GHz.
USER_ACCESS_NS = 1
#: A gap in the page numbers longer than this is shortened to it in the replay's layout.
GAP_PAGES = 512
#: Formats whose ``time`` is the ordinal of the data access (lackey, and npz as recorded).
_ORDINAL_TIME = ("lackey", "npz")


@dataclass(frozen=True)
class TraceLayout:
    """A trace's distinct pages and where the replay maps them.

    Invariant: ``pages`` is sorted and unique; ``offset[i]`` is the page offset of
    ``pages[i]`` in the mapping, increasing, ``offset[-1] < span``; ``events`` counts the
    events the replay reads (after windowing and sampling); ``cls`` tells whether every chunk
    carries content classes.
    """

    pages: np.ndarray
    offset: np.ndarray
    span: int
    events: int
    cls: bool


@functools.lru_cache(maxsize=16)
def _layout(path: str, mtime: float, fmt: str, start: int, count: int | None,
            rate: float | None) -> TraceLayout:
    uniq = np.zeros(0, dtype=np.uint64)
    events = 0
    has_cls = True
    for c in _events(path, fmt, start, count, rate):
        events += len(c)
        uniq = np.union1d(uniq, c.page)
        has_cls = has_cls and c.cls is not None
    if not events:
        raise ConfigError(f"trace {path}: no events to replay")
    gaps = np.minimum(np.diff(uniq), np.uint64(GAP_PAGES)).astype(np.int64)
    offset = np.concatenate(([0], np.cumsum(gaps))).astype(np.int64)
    return TraceLayout(uniq, offset, int(offset[-1]) + 1, events, has_cls)


def _events(path: str, fmt: str, start: int, count: int | None,
            rate: float | None) -> Iterator[TraceChunk]:
    chunks: Iterator[TraceChunk] = read_trace(path, fmt)
    if start or count is not None:
        chunks = window(chunks, start, count)
    if rate is not None:
        chunks = sample_pages(chunks, rate)
    return chunks


def _window_arg(text: str) -> tuple[int, int | None]:
    first, sep, n = text.partition(":")
    try:
        start = int(first) if first else 0
        count = int(n) if sep and n else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: START:COUNT in events") from None
    if start < 0 or (count is not None and count < 1):
        raise argparse.ArgumentTypeError(f"{text!r}: START >= 0, COUNT >= 1")
    return start, count


def _rate_arg(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a fraction of the pages") from None
    if not 0 < rate <= 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be in (0, 1]")
    return rate


class TraceWorkload(Workload):
    """``trace FILE [--format F] [--tasks N] [--content C] [--window S:N] [--sample R]``."""

    name = "trace"
    SCALING: ClassVar[dict[str, Scaling]] = {
        "tasks": Scaling(KEPT, "processes", always=True),
        "file": Scaling(KEPT, "the recorded accesses"),
    }

    def __init__(self, command: str, *, path: str, fmt: str, tasks: int, content: str | None,
                 start: int = 0, count: int | None = None, rate: float | None = None) -> None:
        super().__init__(command)
        self.path = path
        self.fmt = fmt
        self.tasks = tasks
        self.start_event = start
        self.count = count
        self.rate = rate
        try:
            mtime = os.stat(path).st_mtime
        except OSError as exc:
            raise ConfigError(f"trace {path}: {exc.strerror or exc}") from None
        self.layout = _layout(path, mtime, fmt, start, count, rate)
        if content is None:
            content = "trace" if self.layout.cls else "mixed"
        if content == "trace" and not self.layout.cls:
            raise ConfigError(f"trace {path}: --content trace, but the trace has no content "
                              f"classes (give one of {', '.join(CONTENTS)})")
        self.content = content
        self.header = read_header(path, fmt)

    @classmethod
    def parser(cls) -> WorkloadParser:
        p = WorkloadParser("trace")
        p.add_argument("file")
        p.add_argument("--format", default=None, dest="fmt")
        p.add_argument("--tasks", type=positive_int("trace --tasks"), default=1)
        p.add_argument("--content", default=None)
        p.add_argument("--window", type=_window_arg, default=(0, None))
        p.add_argument("--sample", type=_rate_arg, default=None)
        return p

    @classmethod
    def parse(cls, argv: list[str], command: str) -> TraceWorkload:
        p = cls.parser()
        a = p.parse_args(argv)
        if a.fmt is not None and a.fmt not in FORMATS:
            p.error(f"--format {a.fmt!r}: one of {', '.join(FORMATS)}")
        if a.content is not None and a.content not in (*CONTENTS, "trace"):
            p.error(f"--content {a.content!r}: one of {', '.join(CONTENTS)}, trace")
        fmt = a.fmt or detect_format(a.file)
        start, count = a.window
        return cls(command, path=a.file, fmt=fmt, tasks=a.tasks, content=a.content,
                   start=start, count=count, rate=a.sample)

    def footprint_bytes(self) -> int:
        return len(self.layout.pages) * PAGE_SIZE * self.tasks

    def progress_total(self) -> int:
        return self.layout.events * self.tasks

    def expected_ns(self) -> int:
        return max(self.layout.events * 2_000, 1_000_000)

    def start(self, ctx: WorkloadContext) -> None:
        self.first_touches = 0
        self.events_done = 0
        for k in range(self.tasks):
            proc = ctx.machine.spawn(f"trace{k}", ctx.cgroup)
            ctx.spawn(self._body, ctx, proc, name=f"trace{k}")

    def finish(self, ctx: WorkloadContext) -> None:
        lay = self.layout
        ctx.metrics.update({"trace_events": self.events_done, "trace_pages": len(lay.pages),
                            "trace_first_touches": self.first_touches,
                            "trace_format": self.fmt})
        ctx.report_lines.append(
            f"trace {os.path.basename(self.path)}: {self.events_done} events, "
            f"{len(lay.pages)} pages x {self.tasks} task{'s' if self.tasks > 1 else ''}, "
            f"{self.first_touches} first touches, content {self.content}")

    def _content(self, index: int, cls: int | None, compact: bool) -> bytes | PageRun:
        name = self.content
        if name == "trace" and cls is not None:
            name = CONTENTS[cls] if cls < len(CONTENTS) else "random"
        if compact:
            return PageRun([content_token(name, index)])
        return page_content(name, index)

    def _replay(self, m: Any, th: MmTask, vpns: list[int], writes: list[bool],
                idx: list[int], touched: np.ndarray, cls: list[int] | None) -> None:
        """One kernel operation's worth of events: first touches write the page's content,
        the rest touch it (a write dirties it)."""
        for k, vpn in enumerate(vpns):
            i = idx[k]
            if not touched[i]:
                touched[i] = True
                self.first_touches += 1
                m.write(th, vpn << PAGE_SHIFT, self._content(i, None if cls is None else
                                                              cls[k], m.compact))
            else:
                m.touch(th, vpn << PAGE_SHIFT, writes[k])

    def _body(self, task: CpuTask, ctx: WorkloadContext, th: MmTask
              ) -> Generator[Event, Any, None]:
        m = ctx.machine
        lay = self.layout
        addr = yield ctx.op(task, m.mmap, th, lay.span * PAGE_SIZE)
        base = addr >> PAGE_SHIFT
        touched = np.zeros(len(lay.pages), dtype=bool)
        ordinal_time = self.fmt in _ORDINAL_TIME
        prev_time: int | None = None
        snapped = False
        for chunk in _events(self.path, self.fmt, self.start_event, self.count, self.rate):
            idx = np.searchsorted(lay.pages, chunk.page)
            vpn = (lay.offset[idx] + base).tolist()
            idx_l = idx.tolist()
            writes = chunk.write.tolist()
            cls = None if chunk.cls is None else chunk.cls.tolist()
            if ordinal_time and len(chunk):
                t = chunk.time.astype(np.int64)
                first = int(t[0]) - (prev_time if prev_time is not None else int(t[0]) - 1)
                steps = np.maximum(np.diff(t, prepend=t[0] - first), 1)
                prev_time = int(t[-1])
            else:
                steps = np.ones(len(chunk), dtype=np.int64)
            user = np.cumsum(steps)
            n = len(chunk)
            for lo in range(0, n, BATCH):
                hi = min(lo + BATCH, n)
                yield ctx.op(task, self._replay, m, th, vpn[lo:hi], writes[lo:hi],
                                  idx_l[lo:hi], touched,
                                  None if cls is None else cls[lo:hi])
                ns = int(user[hi - 1] - (user[lo - 1] if lo else 0)) * USER_ACCESS_NS
                yield ctx.user(task, ns)
                self.events_done += hi - lo
                ctx.advance(hi - lo)
                if not snapped and self.first_touches >= len(lay.pages):
                    ctx.snapshot_metadata()
                    snapped = True
        yield ctx.op(task, m.munmap, th, addr, lay.span * PAGE_SIZE)
        yield ctx.op(task, m.exit, th)
