"""Trace readers and writers: valgrind lackey, libCacheSim txt/csv/oracleGeneral, vswap npz.

Models: nothing in the kernel; the formats the field already uses for memory and cache traces.
Every reader is a generator of :class:`TraceChunk` (at most :data:`CHUNK` events each): it
holds one chunk and one read block at a time, so memory stays bounded whatever the trace's
length. A malformed line ends the read with one :class:`~vswap.errors.ConfigError` naming the
file and line (``trace.txt:17: ...``; a binary format names the record).

Formats (``--format``):

==============  ===========================================================================
``lackey``      valgrind ``--tool=lackey --trace-mem=yes`` output: ``I  addr,size``
                (instruction fetch: skipped), `` L``/`` S``/`` M addr,size`` (load, store,
                modify), ``==pid==`` messages. Page-granular: an access is an event of the
                page(s) it covers, and consecutive accesses to one page are one event (a write
                if any of them wrote), which changes no policy's hits or misses.
                ``time`` is the access's ordinal among the program's data accesses.
``txt``         libCacheSim txt: one object id (the page number) per line; all reads.
``csv``         libCacheSim csv with a header row: the page is the first column named
                ``obj_id``, ``lbn``, ``key``, ``id``, ``page`` or ``addr``; ``time`` from
                ``time``/``timestamp``/``clock_time`` (else the line's ordinal); a write when
                the ``op`` column is ``w``/``write``/``set``/``put``/``update``.
``oracle``      libCacheSim's binary oracleGeneral: 24-byte little-endian records
                (``u32 time, u64 obj_id, u32 obj_size, i64 next_access_vtime``); all reads.
``npz``         vswap's compact format (numpy ``.npz``): arrays ``time`` (u8), ``page``
                (u8), ``write`` (bool), optional ``cls`` (u1: the index of the page's content
                class in :data:`vswap.workloads.content.CONTENTS`) and ``header`` (a JSON
                string: ``format``, ``version``, ``command``, ``events``, ``pages``,
                ``note``).
==============  ===========================================================================
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import numpy as np

from vswap.errors import ConfigError

__all__ = ["CHUNK", "FORMATS", "PAGE_SHIFT", "TraceChunk", "TraceHeader", "detect_format",
           "read_header", "read_trace", "sample_pages", "stack_filter", "window", "write_npz",
           "write_oracle_general"]

#: Events per chunk a reader yields (the bound on a reader's memory, with one read block).
CHUNK = 1 << 16
#: Traces are page-granular in 4 KiB pages (a lackey address is shifted by this).
PAGE_SHIFT = 12
#: Bytes read at a time from a text trace.
BLOCK = 1 << 22
FORMATS = ("lackey", "txt", "csv", "oracle", "npz")
#: The npz format's name and version in its header.
NPZ_FORMAT = "vswap-trace"
NPZ_VERSION = 1
#: oracleGeneral's record (libCacheSim ``oracleGeneral`` reader, 24 bytes, little endian).
ORACLE_DTYPE = np.dtype([("time", "<u4"), ("obj", "<u8"), ("size", "<u4"), ("next", "<i8")])
_WRITE_OPS = frozenset({"w", "write", "set", "put", "update"})
_PAGE_COLUMNS = ("obj_id", "lbn", "key", "id", "page", "addr")
_TIME_COLUMNS = ("time", "timestamp", "clock_time")


@dataclass
class TraceChunk:
    """Up to :data:`CHUNK` page events, as parallel arrays.

    Invariant: ``page``, ``write`` and ``time`` (and ``cls`` when not None) have one entry per
    event, in trace order; ``page`` is uint64, ``write`` bool, ``time`` uint64, ``cls`` uint8.
    """

    page: np.ndarray
    write: np.ndarray
    time: np.ndarray
    cls: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.page.shape[0])

    def take(self, index: Any) -> TraceChunk:
        """The events selected by ``index`` (a slice or mask), as a new chunk."""
        return TraceChunk(self.page[index], self.write[index], self.time[index],
                          None if self.cls is None else self.cls[index])


@dataclass
class TraceHeader:
    """What a trace says about itself: format, the recorded program's command line, event
    and distinct-page counts when known, a note (how it was made)."""

    format: str
    command: list[str] = field(default_factory=list)
    events: int | None = None
    pages: int | None = None
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"format": self.format, "command": list(self.command), "events": self.events,
                "pages": self.pages, "note": self.note}


def detect_format(path: str | Path) -> str:
    """The format a file's name or first bytes say (``--format`` overrides it).

    Raises:
        ConfigError: the file cannot be read.
    """
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".npz"):
        return "npz"
    if name.endswith((".bin", ".oraclegeneral")) or ".oraclegeneral." in name:
        return "oracle"
    if name.endswith(".csv"):
        return "csv"
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    for line in head.splitlines():
        if line.startswith((b"==", b"I  ", b" L ", b" S ", b" M ")):
            return "lackey"
        if line.strip():
            break
    return "txt"


def read_trace(path: str | Path, fmt: str | None = None) -> Iterator[TraceChunk]:
    """Stream the page events of a trace file in chunks.

    Raises:
        ConfigError: unknown format, unreadable file, or a malformed line (with its number).
    """
    fmt = fmt or detect_format(path)
    readers = {"lackey": _read_lackey, "txt": _read_txt, "csv": _read_csv,
               "oracle": _read_oracle, "npz": _read_npz}
    reader = readers.get(fmt)
    if reader is None:
        raise ConfigError(f"trace format {fmt!r}: one of {', '.join(FORMATS)}")
    try:
        yield from reader(Path(path))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None


def read_header(path: str | Path, fmt: str | None = None) -> TraceHeader:
    """The header of an npz trace; for other formats only the format's name.

    Raises:
        ConfigError: an npz file that is not a vswap trace.
    """
    fmt = fmt or detect_format(path)
    if fmt != "npz":
        return TraceHeader(format=fmt)
    try:
        with zipfile.ZipFile(path) as z:
            if "header.npy" not in z.namelist():
                raise ConfigError(f"{path}: not a vswap trace (no header array)")
            with z.open("header.npy") as fp:
                meta = json.loads(str(np.lib.format.read_array(fp, allow_pickle=False)[()]))
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable npz trace ({exc})") from None
    if meta.get("format") != NPZ_FORMAT:
        raise ConfigError(f"{path}: not a vswap trace (format {meta.get('format')!r})")
    return TraceHeader(format="npz", command=list(meta.get("command", [])),
                       events=meta.get("events"), pages=meta.get("pages"),
                       note=str(meta.get("note", "")))


# -- text formats --------------------------------------------------------------------------------

def _blocks(path: Path) -> Iterator[tuple[int, bytes]]:
    """(number of the block's first line, whole lines) in blocks of about :data:`BLOCK`."""
    line = 1
    rest = b""
    with open(path, "rb") as f:
        while True:
            data = f.read(BLOCK)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n") + 1
            if not cut:
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            yield line, block
            line += block.count(b"\n")
    if rest:
        yield line, rest + b"\n"


def _bad_line(path: Path, first: int, block: bytes, ok: re.Pattern[bytes], what: str
              ) -> NoReturn:
    """Raise the error for the first line of ``block`` that ``ok`` does not match."""
    for i, text in enumerate(block.split(b"\n")[:-1]):
        if not ok.fullmatch(text):
            shown = text[:60].decode("utf-8", "replace")
            raise ConfigError(f"{path}:{first + i}: not {what}: {shown!r}")
    last = first + block.count(b"\n") - 1
    raise ConfigError(f"{path}: lines {first}..{last}: not {what}")


_LK_DATA = re.compile(rb"^ ([LSM]) ([0-9a-fA-F]{1,16}),([0-9]{1,6})\r?$", re.M)
_LK_INSTR = re.compile(rb"^I  [0-9a-fA-F]{1,16},[0-9]{1,6}\r?$", re.M)
_LK_MSG = re.compile(rb"^(?:==[0-9]+==|--[0-9]+--).*$|^\r?$", re.M)
_LK_LINE = re.compile(rb"(?: [LSM] [0-9a-fA-F]{1,16},[0-9]{1,6}|I  [0-9a-fA-F]{1,16},"
                      rb"[0-9]{1,6}|==[0-9]+==.*|--[0-9]+--.*|)\r?")


class _Collapser:
    """Merges consecutive events of one page (across chunks) into one; accumulates chunks."""

    def __init__(self) -> None:
        self.last_page = -1
        self.pages: list[np.ndarray] = []
        self.writes: list[np.ndarray] = []
        self.times: list[np.ndarray] = []
        self.size = 0

    def add(self, page: np.ndarray, write: np.ndarray, time: np.ndarray) -> None:
        if not len(page):
            return
        start = np.empty(len(page), dtype=bool)
        start[0] = int(page[0]) != self.last_page
        np.not_equal(page[1:], page[:-1], out=start[1:])
        # A run's write flag is the OR of its accesses: reduceat over the run starts.
        run_starts = np.flatnonzero(np.concatenate(([True], start[1:])))
        run_write = np.logical_or.reduceat(write, run_starts)
        if not start[0]:
            # The first run continues the previous chunk's last event.
            # (take() keeps the last event back until the end, so it is still here.)
            if run_write[0]:
                self.writes[-1][-1] = True
            run_starts, run_write = run_starts[1:], run_write[1:]
        self.last_page = int(page[-1])
        if len(run_starts):
            self.pages.append(page[run_starts])
            self.writes.append(run_write.astype(bool))
            self.times.append(time[run_starts])
            self.size += len(run_starts)

    def take(self, final: bool) -> Iterator[TraceChunk]:
        if not self.pages:
            return
        page = np.concatenate(self.pages)
        write = np.concatenate(self.writes)
        time = np.concatenate(self.times)
        n = len(page)
        keep = n if final else n - 1  # the last event may still merge with what follows
        for lo in range(0, keep, CHUNK):
            hi = min(lo + CHUNK, keep)
            yield TraceChunk(page[lo:hi].copy(), write[lo:hi].copy(), time[lo:hi].copy())
        self.pages = [page[keep:]] if keep < n else []
        self.writes = [write[keep:]] if keep < n else []
        self.times = [time[keep:]] if keep < n else []
        self.size = n - keep


def lackey_events(block: bytes, ordinal: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Page, write and time arrays of the data accesses in a block of whole lackey lines,
    and the number of data lines, ``ordinal`` being the number of data accesses before the
    block. An access crossing a page boundary is an event on each page."""
    found = _LK_DATA.findall(block)
    n = len(found)
    if not n:
        empty = np.zeros(0, dtype=np.uint64)
        return empty, np.zeros(0, dtype=bool), empty, 0
    kinds, addrs, sizes = zip(*found, strict=True)
    addr = np.array([int(a, 16) for a in addrs], dtype=np.uint64)
    size = np.array(sizes, dtype=np.uint64)
    write = np.frombuffer(b"".join(kinds), dtype=np.uint8) != ord("L")
    first = addr >> np.uint64(PAGE_SHIFT)
    last = (addr + np.maximum(size, np.uint64(1)) - np.uint64(1)) >> np.uint64(PAGE_SHIFT)
    time = np.arange(ordinal, ordinal + n, dtype=np.uint64)
    cross = first != last
    if not cross.any():
        return first, write, time, n
    reps = 1 + cross.astype(np.int64)
    page = np.repeat(first, reps)
    # The second event of a crossing access is the next page.
    second = np.cumsum(reps) - 1
    page[second[cross]] += np.uint64(1)
    return page, np.repeat(write, reps), np.repeat(time, reps), n


def _read_lackey(path: Path) -> Iterator[TraceChunk]:
    col = _Collapser()
    ordinal = 0
    for first, block in _blocks(path):
        n_lines = block.count(b"\n")
        page, write, time, n_data = lackey_events(block, ordinal)
        body = block[:-1]  # the last line's newline: no empty line after it
        n_ok = n_data + len(_LK_INSTR.findall(body)) + len(_LK_MSG.findall(body))
        if n_ok != n_lines:
            _bad_line(path, first, block, _LK_LINE, "a valgrind lackey line")
        ordinal += n_data
        col.add(page, write, time)
        if col.size >= CHUNK:
            yield from col.take(final=False)
    yield from col.take(final=True)


_TXT_LINE = re.compile(rb"\s*(?:[0-9]{1,19})?\s*")


def _read_txt(path: Path) -> Iterator[TraceChunk]:
    ordinal = 0
    for first, block in _blocks(path):
        lines = block.split(b"\n")[:-1]
        try:
            ids = [int(x) for x in lines if x.strip()]
            page = np.array(ids, dtype=np.uint64)
        except (ValueError, OverflowError):
            _bad_line(path, first, block, _TXT_LINE, "an object id (libCacheSim txt)")
            raise
        for lo in range(0, len(page), CHUNK):
            part = page[lo:lo + CHUNK]
            n = len(part)
            yield TraceChunk(part, np.zeros(n, dtype=bool),
                             np.arange(ordinal, ordinal + n, dtype=np.uint64))
            ordinal += n


def _read_csv(path: Path) -> Iterator[TraceChunk]:
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        rows = csv.reader(f)
        head = next(rows, None)
        if head is None:
            raise ConfigError(f"{path}:1: empty csv trace (a header row names the columns)")
        names = [h.strip().lower() for h in head]
        col_page = next((names.index(c) for c in _PAGE_COLUMNS if c in names), None)
        if col_page is None:
            raise ConfigError(f"{path}:1: no object-id column in the header (one of "
                              f"{', '.join(_PAGE_COLUMNS)})")
        col_time = next((names.index(c) for c in _TIME_COLUMNS if c in names), None)
        col_op = names.index("op") if "op" in names else None
        pages: list[int] = []
        writes: list[bool] = []
        times: list[int] = []
        ordinal = 0
        for row in rows:
            line = rows.line_num
            if not row or not any(c.strip() for c in row):
                continue
            try:
                pages.append(int(row[col_page]))
                times.append(int(float(row[col_time])) if col_time is not None else ordinal)
            except (ValueError, IndexError):
                shown = ",".join(row)[:60]
                raise ConfigError(f"{path}:{line}: not a csv trace row ({len(names)} columns, "
                                  f"{names[col_page]} an integer): {shown!r}") from None
            writes.append(col_op is not None and len(row) > col_op
                          and row[col_op].strip().lower() in _WRITE_OPS)
            ordinal += 1
            if len(pages) >= CHUNK:
                yield _chunk(pages, writes, times, path, line)
                pages, writes, times = [], [], []
        if pages:
            yield _chunk(pages, writes, times, path, rows.line_num)


def _chunk(pages: list[int], writes: list[bool], times: list[int], path: Path,
           line: int) -> TraceChunk:
    try:
        page = np.array(pages, dtype=np.uint64)
        time = np.array(times, dtype=np.uint64)
    except OverflowError:
        raise ConfigError(f"{path}: near line {line}: a negative or too large value") from None
    return TraceChunk(page, np.array(writes, dtype=bool), time)


# -- binary formats ------------------------------------------------------------------------------

def _read_oracle(path: Path) -> Iterator[TraceChunk]:
    rec = ORACLE_DTYPE.itemsize
    done = 0
    with open(path, "rb") as f:
        while True:
            data = f.read(rec * CHUNK)
            if not data:
                break
            if len(data) % rec:
                raise ConfigError(f"{path}: record {done + len(data) // rec + 1} is truncated "
                                  f"(oracleGeneral records are {rec} bytes)")
            arr = np.frombuffer(data, dtype=ORACLE_DTYPE)
            n = len(arr)
            done += n
            yield TraceChunk(arr["obj"].astype(np.uint64), np.zeros(n, dtype=bool),
                             arr["time"].astype(np.uint64))


def write_oracle_general(path: str | Path, chunks: Iterable[TraceChunk]) -> int:
    """Write page events as libCacheSim oracleGeneral records (object id = page, size 1,
    next access unknown: -1). Returns the number of records."""
    n = 0
    with open(path, "wb") as f:
        for c in chunks:
            arr = np.zeros(len(c), dtype=ORACLE_DTYPE)
            arr["time"] = (c.time & np.uint64(0xFFFFFFFF)).astype(np.uint32)
            arr["obj"] = c.page
            arr["size"] = 1
            arr["next"] = -1
            f.write(arr.tobytes())
            n += len(c)
    return n


_NPZ_ARRAYS = {"time": np.uint64, "page": np.uint64, "write": np.bool_, "cls": np.uint8}


def _npy_stream(z: zipfile.ZipFile, name: str, path: Path) -> tuple[IO[bytes], np.dtype[Any],
                                                                      int]:
    fp = z.open(name)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    except ValueError as exc:
        fp.close()
        raise ConfigError(f"{path}: {name} is not a numpy array ({exc})") from None
    if len(shape) != 1 or dtype.hasobject:
        fp.close()
        raise ConfigError(f"{path}: {name} is not a one-dimensional array")
    return fp, dtype, int(shape[0])


def _read_npz(path: Path) -> Iterator[TraceChunk]:
    read_header(path, "npz")
    try:
        z = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ConfigError(f"{path}: not a readable npz trace ({exc})") from None
    with z:
        names = set(z.namelist())
        for need in ("time.npy", "page.npy", "write.npy"):
            if need not in names:
                raise ConfigError(f"{path}: not a vswap trace (no {need[:-4]} array)")
        streams = {}
        try:
            for key in ("time", "page", "write", "cls"):
                if f"{key}.npy" in names:
                    streams[key] = _npy_stream(z, f"{key}.npy", path)
            lengths = {k: s[2] for k, s in streams.items()}
            if len(set(lengths.values())) != 1:
                raise ConfigError(f"{path}: arrays of different lengths {lengths}")
            total = lengths["page"]
            done = 0
            while done < total:
                n = min(CHUNK, total - done)
                got: dict[str, np.ndarray] = {}
                for key, (fp, dtype, _) in streams.items():
                    data = fp.read(n * dtype.itemsize)
                    if len(data) != n * dtype.itemsize:
                        raise ConfigError(f"{path}: {key} array is truncated at event {done}")
                    got[key] = np.frombuffer(data, dtype=dtype).astype(_NPZ_ARRAYS[key])
                done += n
                yield TraceChunk(got["page"], got["write"], got["time"], got.get("cls"))
        finally:
            for fp, _, _ in streams.values():
                fp.close()


def write_npz(path: str | Path, chunks: Iterable[TraceChunk], *, command: list[str],
              note: str = "") -> TraceHeader:
    """Write vswap's compact format (compressed). Returns the header written."""
    parts = list(chunks)
    page = np.concatenate([c.page for c in parts]) if parts else np.zeros(0, np.uint64)
    write = np.concatenate([c.write for c in parts]) if parts else np.zeros(0, bool)
    time = np.concatenate([c.time for c in parts]) if parts else np.zeros(0, np.uint64)
    arrays: dict[str, np.ndarray] = {"time": time.astype(np.uint64),
                                     "page": page.astype(np.uint64),
                                     "write": write.astype(bool)}
    if parts and all(c.cls is not None for c in parts):
        arrays["cls"] = np.concatenate([c.cls for c in parts if c.cls is not None])
    header = TraceHeader(format="npz", command=list(command), events=len(page),
                         pages=int(np.unique(page).size), note=note)
    meta = header.as_json() | {"format": NPZ_FORMAT, "version": NPZ_VERSION}
    buf = io.BytesIO()
    arrays["header"] = np.array(json.dumps(meta))
    np.savez_compressed(buf, allow_pickle=False, **arrays)
    Path(path).write_bytes(buf.getvalue())
    return header


# -- sampling and windowing ----------------------------------------------------------------------

def window(chunks: Iterable[TraceChunk], start: int, count: int | None) -> Iterator[TraceChunk]:
    """Events ``start`` .. ``start + count`` (all after ``start`` when ``count`` is None)."""
    pos = 0
    end = None if count is None else start + count
    for c in chunks:
        n = len(c)
        lo = max(start - pos, 0)
        hi = n if end is None else min(end - pos, n)
        pos += n
        if hi > lo:
            yield c.take(slice(lo, hi)) if (lo, hi) != (0, n) else c
        if end is not None and pos >= end:
            return


def stack_filter(chunks: Iterable[TraceChunk], depth: int) -> Iterator[TraceChunk]:
    """LRU stack deletion (A. J. Smith, 1977): drop an event whose page is among the
    ``depth`` most recently used distinct pages, unless it is the first write to that page
    since the page entered them. The filtered trace has the same pages and the same
    long-range reuse; an LRU memory of ``depth`` pages or more misses about as often on it
    as on the original (within a few per cent in the tests; exact reductions need more state,
    Kaplan et al. 2003). A replay's cross-check is exact either way: it compares the same
    trace on both sides."""
    if depth < 1:
        raise ConfigError(f"trace stack filter depth {depth}: must be at least 1")
    recent: OrderedDict[int, bool] = OrderedDict()  # page -> written while in the stack
    for c in chunks:
        keep = np.zeros(len(c), dtype=bool)
        pages = c.page.tolist()
        writes = c.write.tolist()
        for k, page in enumerate(pages):
            dirty = recent.get(page)
            if dirty is None:
                keep[k] = True
                recent[page] = writes[k]
                if len(recent) > depth:
                    recent.popitem(last=False)
                continue
            recent.move_to_end(page)
            if writes[k] and not dirty:
                keep[k] = True
                recent[page] = True
        if keep.any():
            yield c.take(keep)


def sample_pages(chunks: Iterable[TraceChunk], rate: float, seed: int = 0
                 ) -> Iterator[TraceChunk]:
    """Spatial sampling: keep every event of a ``rate`` fraction of the pages, chosen by a
    hash of the page number (libCacheSim's spatial sampler does the same), so each kept page
    keeps its whole reuse pattern."""
    if not 0 < rate <= 1:
        raise ConfigError(f"trace sampling rate {rate}: must be in (0, 1]")
    limit = np.uint64(min(int(rate * 2.0**32), 2**32))
    salt = np.uint64((seed * 0x9E3779B97F4A7C15 + 1) & 0xFFFFFFFFFFFFFFFF)
    for c in chunks:
        with np.errstate(over="ignore"):
            z = (c.page + salt) * np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z ^= z >> np.uint64(31)
        keep = (z >> np.uint64(32)) < limit
        if keep.any():
            yield c.take(keep)
