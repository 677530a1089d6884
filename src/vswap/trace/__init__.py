"""Memory-access traces: readers, the compact vswap format, sampling and windowing.

Models: nothing in the kernel; the input side of a trace-driven run (docs/traces.md). A trace
is a stream of page events (``time``, ``page``, ``write``, optional content ``cls``) read in
chunks of at most :data:`~vswap.trace.formats.CHUNK` events, so a reader's memory is bounded
whatever the trace's length. Formats: valgrind lackey (``--tool=lackey --trace-mem=yes``),
libCacheSim's ``txt``, ``csv`` and binary ``oracleGeneral``, and vswap's own ``npz``.
"""

from __future__ import annotations

from vswap.trace.formats import (
    CHUNK,
    FORMATS,
    PAGE_SHIFT,
    TraceChunk,
    TraceHeader,
    detect_format,
    read_header,
    read_trace,
    sample_pages,
    stack_filter,
    window,
    write_npz,
    write_oracle_general,
)

__all__ = ["CHUNK", "FORMATS", "PAGE_SHIFT", "TraceChunk", "TraceHeader", "detect_format",
           "read_header", "read_trace", "sample_pages", "stack_filter",
           "window", "write_npz",
           "write_oracle_general"]
