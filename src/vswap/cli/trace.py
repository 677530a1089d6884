"""``vswap trace record|convert|info``: make and inspect memory-access traces.

* ``vswap trace record --out FILE [--window S:N] [--sample R] -- CMD ARGS``: run ``CMD``
  under valgrind lackey and write its page-granular data accesses in vswap's npz format,
  with the command line in the header (:mod:`vswap.trace.record`).
* ``vswap trace convert IN OUT [--format F] [--window S:N] [--sample R]``: any readable
  format (lackey, libCacheSim txt/csv/oracleGeneral, npz) to npz, or to libCacheSim
  oracleGeneral when ``OUT`` ends in ``.bin``.
* ``vswap trace info FILE [--format F]``: events, distinct pages, writes, the header.

Replay a trace with ``vswap run|compare --workload "trace FILE"`` (docs/traces.md).
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vswap.errors import ConfigError
from vswap.trace import (
    FORMATS,
    TraceChunk,
    read_header,
    read_trace,
    sample_pages,
    stack_filter,
    window,
    write_npz,
    write_oracle_general,
)


def _window(text: str) -> tuple[int, int | None]:
    from vswap.workloads.trace import _window_arg

    return _window_arg(text)


def _rate(text: str) -> float:
    from vswap.workloads.trace import _rate_arg

    return _rate_arg(text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``trace`` subcommand group."""
    p = subparsers.add_parser("trace", help="record, convert and inspect memory traces",
                              description="Record a real program's memory accesses "
                                          "(valgrind lackey), convert traces, inspect them.")
    sub = p.add_subparsers(dest="trace_command", metavar="ACTION",
                           parser_class=type(p))
    r = sub.add_parser("record", help="record CMD's data accesses under valgrind lackey")
    r.add_argument("--out", required=True, metavar="FILE", help="the npz trace to write")
    r.add_argument("--window", type=_window, default=(0, None), metavar="START:COUNT",
                   help="keep page events START..START+COUNT")
    r.add_argument("--sample", type=_rate, default=None, metavar="RATE",
                   help="keep a RATE fraction of the pages (spatial sampling)")
    r.add_argument("--filter", type=int, default=None, metavar="PAGES",
                   help="LRU stack filter: drop accesses to the PAGES most recently used "
                        "pages (exact for LRU memories of at least PAGES pages)")
    r.add_argument("--note", default="", help="how the trace was made (kept in the header)")
    r.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD ARGS")
    r.set_defaults(func=_record)
    c = sub.add_parser("convert", help="convert a trace to npz (or oracleGeneral: OUT.bin)")
    c.add_argument("input", metavar="IN")
    c.add_argument("output", metavar="OUT")
    c.add_argument("--format", default=None, choices=FORMATS, dest="fmt")
    c.add_argument("--window", type=_window, default=(0, None), metavar="START:COUNT")
    c.add_argument("--sample", type=_rate, default=None, metavar="RATE")
    c.add_argument("--filter", type=int, default=None, metavar="PAGES")
    c.set_defaults(func=_convert)
    i = sub.add_parser("info", help="events, pages and header of a trace")
    i.add_argument("input", metavar="FILE")
    i.add_argument("--format", default=None, choices=FORMATS, dest="fmt")
    i.set_defaults(func=_info)
    def _usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=_usage)


def _filtered(chunks: Iterator[TraceChunk], args: argparse.Namespace) -> Iterator[TraceChunk]:
    if getattr(args, "filter", None) is not None:
        chunks = stack_filter(chunks, args.filter)
    start, count = args.window
    if start or count is not None:
        chunks = window(chunks, start, count)
    if args.sample is not None:
        chunks = sample_pages(chunks, args.sample)
    return chunks


def _record(args: argparse.Namespace) -> int:
    from vswap.trace.record import record

    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        raise ConfigError("trace record: give the program after --: "
                          "vswap trace record --out FILE -- CMD ARGS")
    start, count = args.window
    h = record(cmd, args.out, start=start, count=count, rate=args.sample, depth=args.filter,
               note=args.note)
    print(f"{args.out}: {h.events} page events, {h.pages} pages ({(h.pages or 0) * 4} KiB "
          f"touched) from {shlex.join(cmd)}")
    return 0


def _convert(args: argparse.Namespace) -> int:
    chunks = _filtered(read_trace(args.input, args.fmt), args)
    if args.output.endswith(".bin"):
        n = write_oracle_general(args.output, chunks)
        print(f"{args.output}: {n} oracleGeneral records")
        return 0
    src = read_header(args.input, args.fmt)
    start, count = args.window
    how = [src.note] if src.note else []
    how.append(f"converted from {Path(args.input).name}")
    if args.filter is not None:
        how.append(f"LRU stack filter of {args.filter} pages")
    if start or count is not None:
        how.append(f"events {start}..{'end' if count is None else start + count}")
    if args.sample is not None:
        how.append(f"pages sampled at {args.sample:g}")
    h = write_npz(args.output, chunks, command=src.command, note="; ".join(how))
    print(f"{args.output}: {h.events} page events, {h.pages} pages")
    return 0


def _info(args: argparse.Namespace) -> int:
    events = writes = 0
    uniq = np.zeros(0, dtype=np.uint64)
    for c in read_trace(args.input, args.fmt):
        events += len(c)
        writes += int(c.write.sum())
        uniq = np.union1d(uniq, c.page)
    h = read_header(args.input, args.fmt)
    print(f"file      {args.input}")
    print(f"format    {h.format}")
    print(f"events    {events} ({writes} writes)")
    print(f"pages     {len(uniq)} ({len(uniq) * 4} KiB touched)")
    if h.command:
        print(f"command   {shlex.join(h.command)}")
    if h.note:
        print(f"made      {h.note}")
    return 0
