"""Benchmark: zswap store + load through the model against a bare loop of the same library calls.

For each compressor and three page mixes (usemem pattern, text-like, random) it measures:

* pages per second stored and loaded through ``Zswap.zswap_store`` / ``Zswap.zswap_load``
  (exclusive loads, classic tree layout, a no-op host), with the default per-entry CRC check
  and without it;
* pages per second of a bare loop doing only the library's compress + decompress on the same
  pages, and the ratio zswap / bare (target: >= 0.5);
* the compression ratio (PAGE_SIZE / mean compressed length) and the pool's effective ratio
  (stored bytes / ``pool_total_size``, zsmalloc packing included);
* Python bytes per stored entry beyond the compressed bytes (tracemalloc, entries held).

Usage: ``python benchmarks/bench_zswap.py [--quick] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import struct
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import lz4.block
import lzallright
import zstandard
from rich.console import Console
from rich.table import Table

from vswap.kernel.env import KernelEnv
from vswap.kernel.errors import Errno
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE, SwpEntry, swp_entry
from vswap.zswap.compressors import available_compressors
from vswap.zswap.zswap import (
    Zswap,
    ZswapParams,
    classic_zswap_tree_index,
    classic_zswap_tree_key,
)


class NullHost:
    """A classic-layout host whose hooks do nothing (writeback is not exercised here)."""

    zswap_tree_key = staticmethod(classic_zswap_tree_key)
    zswap_tree_index = staticmethod(classic_zswap_tree_index)

    def zswap_entry_stored(self, entry: SwpEntry, zentry: int) -> None:
        pass

    def zswap_store_undone(self, folio: Folio) -> None:
        pass

    def zswap_loaded_exclusive(self, folio: Folio) -> None:
        pass

    def zswap_writeback_prepare(self, entry: SwpEntry) -> Folio | Errno:
        return Errno.ENOMEM

    def zswap_writeback_abort(self, folio: Folio, zentry: int) -> None:
        pass

    def zswap_writeback_submit(self, folio: Folio) -> None:
        pass

    def zswap_writeback_possible(self, memcg: object) -> bool:
        return False


def make_pages(mix: str, n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    if mix == "usemem":
        return [struct.pack("<512Q", *range(i * 512, i * 512 + 512)) for i in range(n)]
    if mix == "random":
        return [rng.randbytes(PAGE_SIZE) for _ in range(n)]
    words = ["swap", "zswap", "entry", "folio", "memcg", "the", "page", "slot", "cluster",
             "compress", "kernel", "reclaim", "writeback", "virtual", "a", "of", "to", "\n"]
    pages = []
    for _ in range(n):
        parts: list[str] = []
        size = 0
        while size < PAGE_SIZE:
            w = rng.choice(words) + " "
            parts.append(w)
            size += len(w)
        pages.append("".join(parts).encode()[:PAGE_SIZE])
    return pages


def bare_calls(name: str) -> tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]:
    """The library calls alone, parameterised as the kernel's algorithms are."""
    if name == "lz4":
        return (lambda p: lz4.block.compress(p, store_size=False),
                lambda c: lz4.block.decompress(c, uncompressed_size=PAGE_SIZE))
    if name == "lz4hc":
        return (lambda p: lz4.block.compress(p, mode="high_compression", compression=9,
                                             store_size=False),
                lambda c: lz4.block.decompress(c, uncompressed_size=PAGE_SIZE))
    if name == "zstd":
        cc, dc = zstandard.ZstdCompressor(level=3), zstandard.ZstdDecompressor()
        return cc.compress, lambda c: dc.decompress(c, max_output_size=PAGE_SIZE)
    if name == "deflate":
        def comp(p: bytes) -> bytes:
            c = zlib.compressobj(6, zlib.DEFLATED, -11, 9)
            return c.compress(p) + c.flush()
        return comp, lambda c: zlib.decompress(c, -11, PAGE_SIZE)
    lzo = lzallright.LZOCompressor()
    return lzo.compress, lambda c: lzo.decompress(c, PAGE_SIZE)


def bench_bare(name: str, pages: list[bytes]) -> tuple[float, list[int]]:
    comp, decomp = bare_calls(name)
    t0 = time.perf_counter()
    lens = []
    for p in pages:
        c = comp(p)
        if len(c) >= PAGE_SIZE:  # stored raw by zswap: nothing to decompress
            lens.append(PAGE_SIZE)
            continue
        decomp(c)
        lens.append(len(c))
    return time.perf_counter() - t0, lens


def new_zswap(name: str, n: int, check_crc: bool) -> tuple[Zswap, object]:
    env = KernelEnv()
    cg = env.memcgs.create("/bench")
    z = Zswap(NullHost(), total_ram_pages=max(1 << 20, 8 * n),
              params=ZswapParams(compressor=name, max_pool_percent=100),
              env=env, check_crc=check_crc)
    return z, cg


def prepare_folios(pages: list[bytes], memcg_id: int) -> tuple[list[Folio], list[Folio]]:
    out, back = [], []
    for i, p in enumerate(pages):
        f = Folio(0, p, memcg_id)
        f.swap = swp_entry(0, i + 1)
        f.swapcache = f.locked = True
        out.append(f)
        g = Folio(0, None, memcg_id)
        g.swap = swp_entry(0, i + 1)
        g.swapcache = g.locked = True
        back.append(g)
    return out, back


def bench_zswap(name: str, pages: list[bytes], check_crc: bool) -> dict[str, float]:
    z, cg = new_zswap(name, len(pages), check_crc)
    out, back = prepare_folios(pages, cg.id)  # type: ignore[attr-defined]
    store, load = z.zswap_store, z.zswap_load
    t0 = time.perf_counter()
    for f in out:
        store(f)
    t1 = time.perf_counter()
    stats = z.statistics()
    for g in back:
        load(g)
    t2 = time.perf_counter()
    for g, p in zip(back, pages):
        if g.data != p:
            raise SystemExit(f"{name}: data mismatch at {g.swap:#x}")
    return {"store_s": t1 - t0, "load_s": t2 - t1, "pool_bytes": stats.pool_total_size,
            "stored": stats.stored_pages}


def bytes_per_entry(name: str, pages: list[bytes]) -> dict[str, float]:
    """tracemalloc: Python bytes held per stored entry, beyond compressed bytes and pool."""
    z, cg = new_zswap(name, len(pages), True)
    out, _ = prepare_folios(pages, cg.id)  # type: ignore[attr-defined]
    # warm: create the trees and LRU dicts so their fixed cost is not charged to entries
    z.zswap_store(out[0])
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for f in out[1:]:
        z.zswap_store(f)
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    n = len(out) - 1
    info = [z.lookup(SwpEntry(f.swap)) for f in out[1:]]
    comp_bytes = sum(i.length for i in info if i is not None)
    pool = z.pool_total_size
    return {"py_bytes_per_entry_beyond_compressed": (used - comp_bytes) / n,
            "py_bytes_per_entry_beyond_pool": (used - pool) / n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few pages, one repetition")
    ap.add_argument("--json", type=Path, default=Path("results/bench_zswap.json"))
    ap.add_argument("--pages", type=int, default=None)
    args = ap.parse_args(argv)
    n = args.pages or (200 if args.quick else 2000)
    reps = 1 if args.quick else 3
    rows = []
    for name in available_compressors():
        for mix in ("usemem", "text", "random"):
            pages = make_pages(mix, n, seed=42)
            bare_t, lens = min((bench_bare(name, pages) for _ in range(reps)),
                               key=lambda r: r[0])
            runs = [bench_zswap(name, pages, True) for _ in range(reps)]
            best = min(runs, key=lambda r: r["store_s"] + r["load_s"])
            nocrc = min((bench_zswap(name, pages, False) for _ in range(reps)),
                        key=lambda r: r["store_s"] + r["load_s"])
            mem = bytes_per_entry(name, pages)
            z_t = best["store_s"] + best["load_s"]
            z_nocrc = nocrc["store_s"] + nocrc["load_s"]
            row = {
                "compressor": name, "mix": mix, "pages": n,
                "bare_pages_per_s": n / bare_t,
                "zswap_pages_per_s": n / z_t,
                "zswap_nocrc_pages_per_s": n / z_nocrc,
                "speed_ratio": bare_t / z_t,
                "speed_ratio_nocrc": bare_t / z_nocrc,
                "store_us": best["store_s"] / n * 1e6,
                "load_us": best["load_s"] / n * 1e6,
                "bare_us": bare_t / n * 1e6,
                "overhead_us": (z_t - bare_t) / n * 1e6,
                "compression_ratio": PAGE_SIZE * n / sum(lens),
                "mean_compressed": statistics.mean(lens),
                "pool_ratio": PAGE_SIZE * n / best["pool_bytes"],
                **mem,
            }
            rows.append(row)
    table = Table(title=f"zswap store+load vs bare library loop ({n} pages per cell)")
    for col in ("compressor", "mix", "bare p/s", "zswap p/s", "ratio", "ratio no-crc",
                "overhead us/page", "compr. ratio", "pool ratio", "py B/entry",
                "py B/entry beyond pool"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["compressor"], r["mix"], f"{r['bare_pages_per_s']:,.0f}",
                      f"{r['zswap_pages_per_s']:,.0f}", f"{r['speed_ratio']:.2f}",
                      f"{r['speed_ratio_nocrc']:.2f}", f"{r['overhead_us']:.1f}",
                      f"{r['compression_ratio']:.2f}", f"{r['pool_ratio']:.2f}",
                      f"{r['py_bytes_per_entry_beyond_compressed']:.0f}",
                      f"{r['py_bytes_per_entry_beyond_pool']:.0f}")
    Console(width=160).print(table)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"python": sys.version, "rows": rows}, indent=2))
    print(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
