"""Trace replay speed: the model's page events per wall second beside libCacheSim's requests
per second on the same trace.

For each shipped trace (``traces/*.npz``) and each reclaim policy (``lru``, ``fifo`` and the
kernel's ``linux``), the trace is replayed as ``vswap run --workload "trace FILE"`` would
(classic design, ``memory.max`` a third of the trace's pages, a memory swap device, no zswap,
timeline off) and timed; libCacheSim (the C simulator, through its Python bindings) runs the
same page numbers as an oracleGeneral trace with the same policy and capacity. The ratio is
an order-of-magnitude anchor, not a like-for-like race: the model moves real page bytes
through a design, checks them, and charges every kernel step in modelled time; libCacheSim
updates a hash table and a list. Page events are the result's ``page_events`` (faults,
swap-outs, swap-ins); trace events are the accesses replayed.

Usage: ``python benchmarks/bench_trace.py [--quick] [--json FILE]`` (``--quick``: the first
3,000 events of each trace). Writes ``results/bench_trace.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import report
from vswap.cli.xcheck import workload_command
from vswap.kernel.types import PAGE_SIZE
from vswap.run.context import DeviceSpec, RunConfig, run_workload
from vswap.trace import write_oracle_general
from vswap.workloads import parse_workload
from vswap.workloads.trace import TraceWorkload, _events

TRACES = Path(__file__).resolve().parent.parent / "traces"


def lcs_rate(oracle: str, policy: str, pages: int, repeat: int = 3) -> tuple[float, int]:
    """libCacheSim requests per second (best of ``repeat``) and its misses."""
    import libcachesim as lcs

    cls = {"lru": lcs.LRU, "fifo": lcs.FIFO}[policy]
    best = float("inf")
    misses = 0
    for _ in range(repeat):
        reader = lcs.TraceReader(oracle, lcs.TraceType.ORACLE_GENERAL_TRACE)
        n = reader.get_num_of_req()
        cache = cls(pages)
        t0 = time.perf_counter()
        ratio, _ = cache.process_trace(reader)
        best = min(best, time.perf_counter() - t0)
        misses = round(ratio * n)
    return n / best, misses


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="the first 3,000 events of each")
    ap.add_argument("--json", default=None, help="output file (default results/...)")
    args = ap.parse_args()
    window = "0:3000" if args.quick else None
    rows = []
    for trace in sorted(TRACES.glob("*.npz")):
        command = workload_command(str(trace), None, window, None)
        wl = parse_workload(command)
        assert isinstance(wl, TraceWorkload)
        pages = max(len(wl.layout.pages) // 3, 4)
        with tempfile.TemporaryDirectory() as tmp:
            oracle = str(Path(tmp) / "t.bin")
            events = write_oracle_general(
                oracle, _events(wl.path, wl.fmt, wl.start_event, wl.count, wl.rate))
            for policy in ("lru", "fifo", "linux"):
                cfg = RunConfig(design="classic", workload=command,
                                memory_max=pages * PAGE_SIZE, zswap=None,
                                swap_devices=[DeviceSpec("mem", 64 << 20, "zram")],
                                reclaim=policy, timeline_samples=0)
                t0 = time.perf_counter()
                r = run_workload(cfg)
                wall = time.perf_counter() - t0
                row = {"trace": trace.name, "policy": policy, "trace_events": events,
                       "trace_pages": len(wl.layout.pages), "memory_pages": pages,
                       "major_faults": int(r.vmstat.get("pgmajfault", 0)),
                       "page_events": r.metrics.page_events, "wall_s": round(wall, 3),
                       "model_page_events_per_s": r.metrics.page_events / wall,
                       "model_trace_events_per_s": events / wall}
                if policy != "linux":
                    rate, misses = lcs_rate(oracle, policy, pages)
                    row |= {"lcs_requests_per_s": rate, "lcs_misses": misses,
                            "lcs_over_model": rate / (events / wall)}
                else:
                    row |= {"lcs_requests_per_s": 0.0, "lcs_misses": 0,
                            "lcs_over_model": 0.0}
                rows.append(row)
    report("bench_trace", "Trace replay: the model vs libCacheSim (requests/s)", rows,
           args.json)


if __name__ == "__main__":
    main()
