"""Trace readers: every format's events, one-line errors with the line number, bounded chunks,
windowing and sampling, the npz round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vswap.errors import ConfigError
from vswap.trace import formats
from vswap.trace.formats import (
    TraceChunk,
    detect_format,
    read_header,
    read_trace,
    sample_pages,
    stack_filter,
    window,
    write_npz,
    write_oracle_general,
)

LACKEY = """==123== Lackey, an example Valgrind tool
==123== Command: ./prog
I  0401ab70,3
 S 1fff000748,8
 L 1fff000740,8
I  0401ab73,5
 M 00602000,4
 L 00602ffe,4
 L 00603010,8
 L 00603018,8
==123==
"""


def _all(path: Path, fmt: str | None = None) -> TraceChunk:
    chunks = list(read_trace(path, fmt))
    return TraceChunk(np.concatenate([c.page for c in chunks]),
                      np.concatenate([c.write for c in chunks]),
                      np.concatenate([c.time for c in chunks]))


def test_lackey_is_page_granular_merging_consecutive_accesses(tmp_path: Path) -> None:
    p = tmp_path / "prog.lackey"
    p.write_text(LACKEY)
    assert detect_format(p) == "lackey"
    t = _all(p)
    # S+L on page 0x1fff000 merge into one write event; M on 0x602 is a write; the L at
    # 0x602ffe+4 crosses into 0x603, where the two following loads merge with it.
    assert t.page.tolist() == [0x1FFF000, 0x602, 0x603]
    assert t.write.tolist() == [True, True, False]
    assert t.time.tolist() == [0, 2, 3]


def test_lackey_bad_line_names_its_number(tmp_path: Path) -> None:
    p = tmp_path / "bad.lackey"
    p.write_text(LACKEY.replace(" L 00603010,8", " X 00603010,8"))
    with pytest.raises(ConfigError, match=r"bad.lackey:9: not a valgrind lackey line"):
        list(read_trace(p))


def test_txt_reads_object_ids_and_names_a_bad_line(tmp_path: Path) -> None:
    p = tmp_path / "t.txt"
    p.write_text("5\n7\n\n5\n")
    t = _all(p)
    assert t.page.tolist() == [5, 7, 5] and not t.write.any()
    p.write_text("5\n7\nseven\n")
    with pytest.raises(ConfigError, match=r"t.txt:3: not an object id"):
        list(read_trace(p))


def test_csv_reads_header_columns_ops_and_names_a_bad_row(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("time,obj_id,size,op\n10,4,4096,read\n11,9,4096,write\n12,4,4096,get\n")
    t = _all(p)
    assert t.page.tolist() == [4, 9, 4]
    assert t.write.tolist() == [False, True, False]
    assert t.time.tolist() == [10, 11, 12]
    p.write_text("time,obj_id\n10,4\n11,x\n")
    with pytest.raises(ConfigError, match=r"t.csv:3: not a csv trace row"):
        list(read_trace(p))
    p.write_text("time,size\n10,4\n")
    with pytest.raises(ConfigError, match=r"t.csv:1: no object-id column"):
        list(read_trace(p))


def test_oracle_general_round_trip_and_truncation(tmp_path: Path) -> None:
    p = tmp_path / "t.oracleGeneral.bin"
    pages = np.array([3, 1, 3, 2**40], dtype=np.uint64)
    src = TraceChunk(pages, np.zeros(4, bool), np.arange(4, dtype=np.uint64))
    assert write_oracle_general(p, [src]) == 4
    assert p.stat().st_size == 4 * 24
    assert _all(p).page.tolist() == pages.tolist()
    with open(p, "ab") as f:
        f.write(b"\0" * 5)
    with pytest.raises(ConfigError, match=r"record 5 is truncated"):
        list(read_trace(p))


def test_npz_round_trip_with_header_and_classes(tmp_path: Path) -> None:
    p = tmp_path / "t.npz"
    c = TraceChunk(np.array([9, 8, 9], np.uint64), np.array([True, False, False]),
                   np.array([0, 5, 6], np.uint64), np.array([2, 3, 2], np.uint8))
    h = write_npz(p, [c], command=["prog", "arg"], note="made by a test")
    assert (h.events, h.pages) == (3, 2)
    got = list(read_trace(p))
    assert got[0].page.tolist() == [9, 8, 9] and got[0].write.tolist() == [True, False, False]
    assert got[0].cls is not None and got[0].cls.tolist() == [2, 3, 2]
    back = read_header(p)
    assert back.command == ["prog", "arg"] and back.note == "made by a test"
    bad = tmp_path / "other.npz"
    np.savez(bad, page=np.arange(3))
    with pytest.raises(ConfigError, match="not a vswap trace"):
        list(read_trace(bad))


def test_readers_stream_in_bounded_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setattr(formats, "CHUNK", 7)
    monkeypatch.setattr(formats, "BLOCK", 64)
    p = tmp_path / "t.txt"
    p.write_text("".join(f"{i % 13}\n" for i in range(100)))
    chunks = list(read_trace(p))
    assert max(len(c) for c in chunks) <= 7 and sum(len(c) for c in chunks) == 100
    lk = tmp_path / "t.lackey"
    lk.write_text("".join(f" L {(i % 5) << 12:08x},4\n" for i in range(100)))
    chunks = list(read_trace(lk))
    assert max(len(c) for c in chunks) <= 7
    assert np.concatenate([c.page for c in chunks]).tolist() == [i % 5 for i in range(100)]


def test_window_and_spatial_sampling(tmp_path: Path) -> None:
    c = TraceChunk(np.arange(100, dtype=np.uint64) % 10, np.zeros(100, bool),
                   np.arange(100, dtype=np.uint64))
    got = list(window([c.take(slice(0, 50)), c.take(slice(50, 100))], 45, 10))
    assert np.concatenate([g.time for g in got]).tolist() == list(range(45, 55))
    kept = np.concatenate([s.page for s in sample_pages([c], 0.5, seed=3)])
    pages = set(kept.tolist())
    assert 0 < len(pages) < 10
    # Every event of a kept page is kept (its whole reuse pattern).
    assert len(kept) == 10 * len(pages)
    with pytest.raises(ConfigError, match="sampling rate"):
        list(sample_pages([c], 0))


def _lru_misses(seq: list[int], capacity: int) -> int:
    from collections import OrderedDict

    cache: OrderedDict[int, None] = OrderedDict()
    misses = 0
    for p in seq:
        if p in cache:
            cache.move_to_end(p)
            continue
        misses += 1
        cache[p] = None
        if len(cache) > capacity:
            cache.popitem(last=False)
    return misses


def test_stack_filter_keeps_lru_misses_close_for_memories_at_least_its_depth() -> None:
    rng = np.random.default_rng(5)
    pages = (rng.zipf(1.2, 5000) % 200).astype(np.uint64)
    writes = rng.random(5000) < 0.2
    c = TraceChunk(pages, writes, np.arange(5000, dtype=np.uint64))
    kept = list(stack_filter([c.take(slice(0, 2000)), c.take(slice(2000, 5000))], 8))
    out = np.concatenate([k.page for k in kept]).tolist()
    assert len(out) < 5000 * 0.9
    for capacity in (8, 20, 64):
        full = _lru_misses(pages.tolist(), capacity)
        assert abs(_lru_misses(out, capacity) - full) <= 0.05 * full
    # A page written while in the stack keeps one write event.
    assert set(np.concatenate([k.page[k.write] for k in kept]).tolist()) == set(
        pages[writes].tolist())
