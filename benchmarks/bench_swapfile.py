"""Physical slot allocation speed and the model's own memory per slot (issue 2).

Measures, in one run: order-0 and order-4 slot allocation + free per second through the
cluster allocator (``swap_slot_alloc`` / ``swap_range_free``) and through the classic
design's lifetime API (``folio_alloc_swap`` / ``put_swap_folio``); and the Python process's
bytes per slot of a device (tracemalloc) against the bytes the kernel spends per slot on the
same structures (swap_map, swap_cgroup, zeromap, cluster info).

Run: ``.venv/bin/python benchmarks/bench_swapfile.py [--quick] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

from _common import report
from vswap.kernel.folio import Folio
from vswap.kernel.types import swp_slot_offset, swp_slot_type
from vswap.swap.classic import ClassicSwap
from vswap.swap.storage import MemSwapStorage
from vswap.swap.swapfile import SWAP_HAS_CACHE, SwapDevices


def bench_allocator(order: int, rounds: int, nr_pages: int) -> float:
    devs = SwapDevices()
    si = devs.add_device(None, nr_pages=nr_pages, name="bench", kind="partition", blkdev=True)
    nr = 1 << order
    batch = (si.pages // nr) // 2
    ops = 0
    start = time.perf_counter()
    for _ in range(rounds):
        slots = [devs.swap_slot_alloc(order, SWAP_HAS_CACHE) for _ in range(batch)]
        for slot in slots:
            off = swp_slot_offset(slot)
            si.swap_map[off:off + nr] = bytes([SWAP_HAS_CACHE]) * nr
            devs.swap_range_free(si, off, nr)
        ops += batch
    return ops / (time.perf_counter() - start)


def bench_design(order: int, rounds: int, size: int) -> float:
    d = ClassicSwap()
    si = d.swapon(MemSwapStorage(size))
    batch = (si.pages >> order) // 2
    folios = [Folio(order) for _ in range(batch)]
    ops = 0
    start = time.perf_counter()
    for _ in range(rounds):
        entries = [d.folio_alloc_swap(f) for f in folios]
        for f, e in zip(folios, entries):
            d.put_swap_folio(f, e)
        ops += batch
    assert si.inuse_pages == 0 and swp_slot_type(entries[0]) == si.type
    return ops / (time.perf_counter() - start)


def bytes_per_slot(size: int) -> tuple[float, float]:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    d = ClassicSwap()
    si = d.swapon(MemSwapStorage(size))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    python_bytes = sum(s.size_diff for s in after.compare_to(before, "filename"))
    meta = d.metadata_bytes()
    kernel = sum(meta[k] for k in ("swap_map", "swap_cgroup", "zeromap", "cluster_info"))
    return python_bytes / si.max, kernel / si.max


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer rounds (CI smoke run)")
    ap.add_argument("--json", help="where to save the JSON (default results/bench_swapfile.json)")
    args = ap.parse_args()
    rounds = 2 if args.quick else 10
    size = 64 << 20
    rows = []
    for order in (0, 4):
        rows.append({"what": f"cluster allocator alloc+free, order {order}",
                     "ops_per_s": bench_allocator(order, rounds, size >> 12)})
        rows.append({"what": f"folio_alloc_swap+put_swap_folio, order {order}",
                     "ops_per_s": bench_design(order, rounds, size)})
    py, kern = bytes_per_slot(1 << 30)
    rows.append({"what": "python bytes per slot (1 GiB device)", "ops_per_s": py})
    rows.append({"what": "kernel bytes per slot (same structures)", "ops_per_s": kern})
    rows.append({"what": "ratio python / kernel (target <= 4)", "ops_per_s": py / kern})
    report("bench_swapfile", "Swap slot allocation (classic v6.14 physical layer)", rows,
           args.json)


if __name__ == "__main__":
    main()
