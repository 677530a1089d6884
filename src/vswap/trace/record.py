"""Record a real program's data accesses under valgrind lackey into vswap's npz format.

Models: nothing in the kernel; ``valgrind --tool=lackey --trace-mem=yes`` runs the program on
valgrind's synthetic CPU and prints every load, store and modify with its address. The output
comes through a pipe (never a file: a few seconds of a program are gigabytes of text), is
made page-granular as it arrives (:func:`vswap.trace.formats.lackey_events`, consecutive
accesses to one page merged), and written as npz with the program's command line in the
header. Only the program itself is traced, not the children it starts
(``--trace-children=no``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from vswap.errors import ConfigError
from vswap.trace.formats import (
    BLOCK,
    TraceChunk,
    TraceHeader,
    _Collapser,
    lackey_events,
    sample_pages,
    stack_filter,
    window,
    write_npz,
)

__all__ = ["INSTALL_HINT", "find_valgrind", "record"]

INSTALL_HINT = ("install valgrind (Debian/Ubuntu: sudo apt-get install valgrind; Fedora: "
                "sudo dnf install valgrind)")


def find_valgrind() -> str:
    """The valgrind executable on PATH.

    Raises:
        ConfigError: valgrind is not installed (saying how to install it).
    """
    path = shutil.which("valgrind")
    if path is None:
        raise ConfigError(f"trace record needs valgrind, which is not on PATH: {INSTALL_HINT}")
    return path


def _lackey_chunks(fd: int) -> Iterator[TraceChunk]:
    """Page events from lackey output read from ``fd`` until EOF."""
    col = _Collapser()
    ordinal = 0
    rest = b""
    with os.fdopen(fd, "rb", buffering=0) as f:
        while True:
            data = f.read(BLOCK)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            block, rest = data[:cut], data[cut:]
            page, write, time, n = lackey_events(block, ordinal)
            ordinal += n
            col.add(page, write, time)
            if col.size >= 1 << 16:
                yield from col.take(final=False)
    if rest:
        page, write, time, n = lackey_events(rest + b"\n", ordinal)
        col.add(page, write, time)
    yield from col.take(final=True)


def record(command: list[str], out: str | Path, *, start: int = 0, count: int | None = None,
           rate: float | None = None, depth: int | None = None, note: str = "") -> TraceHeader:
    """Run ``command`` under valgrind lackey and write its page events to ``out`` (npz).

    ``depth`` applies :func:`~vswap.trace.formats.stack_filter` first (a real program makes
    tens of millions of page events; a filter of 64 pages keeps a few per cent), then
    ``rate`` keeps a sample of the pages and ``start``/``count`` a window of the events (all
    recorded in the header's note).

    Raises:
        ConfigError: no command, valgrind missing, or the program failed.
    """
    if not command:
        raise ConfigError("trace record: no command given (vswap trace record --out F -- CMD)")
    valgrind = find_valgrind()
    r, w = os.pipe()
    argv = [valgrind, "--tool=lackey", "--trace-mem=yes", f"--log-fd={w}", "--", *command]
    try:
        proc = subprocess.Popen(argv, pass_fds=(w,), stdin=subprocess.DEVNULL)
    except OSError as exc:
        os.close(r)
        os.close(w)
        raise ConfigError(f"trace record: cannot run valgrind: {exc}") from None
    os.close(w)
    raw = _lackey_chunks(r)
    chunks: Iterator[TraceChunk] = raw
    if depth is not None:
        chunks = stack_filter(chunks, depth)
    if rate is not None:
        chunks = sample_pages(chunks, rate)
    if start or count is not None:
        chunks = window(chunks, start, count)
    kept = list(chunks)
    for _ in raw:
        pass  # past the window: keep reading, or valgrind blocks on the full pipe
    status = proc.wait()
    if status != 0:
        raise ConfigError(f"trace record: {shlex.join(command)} exited with status {status}")
    how = ["valgrind --tool=lackey --trace-mem=yes, page-granular"]
    if depth is not None:
        how.append(f"LRU stack filter of {depth} pages")
    if rate is not None:
        how.append(f"pages sampled at {rate:g}")
    if start or count is not None:
        how.append(f"events {start}..{'end' if count is None else start + count}")
    if note:
        how.append(note)
    return write_npz(out, kept, command=list(command), note="; ".join(how))
