"""How wall time and host memory grow with the amount swapped, in both page-data modes.

One workload, ``usemem -n 1 -O SIZE`` in a cgroup of ``memory.max`` 4M (``--memory-max``)
with a swap file of twice SIZE (and zswap if asked), at four sizes, once per page-data mode
(``--page-data full`` and ``compact``, docs/performance.md); each run in a fresh Python
process, so its peak RSS is its own. Reported per run: wall time, page events per wall
second, the run's CPU seconds (user + system of its process, read around the run: on a
shared machine the figure to fit, since wall time also counts the other jobs), the peak
number of swapped pages, the peak RSS the run added to its process
(``ru_maxrss`` after the run minus before it: the interpreter and imports are not counted)
and that growth per swapped page. Per mode: the growth exponent of wall time, CPU time and memory
against the size (least squares on log-log; 1.0 is linear), and the model's bytes per
swapped entry (the slope of peak RSS against peak swapped pages) beside the kernel's own
metadata for an entry: 48 B for a vswap descriptor (``struct swp_desc``), about 3 B for a
classic slot (its ``swap_map`` byte and swap cgroup id; docs/metadata.md).

Usage: ``python benchmarks/bench_scale.py [--sizes 16M,32M,64M,128M] [--design classic]
[--zswap lz4|off] [--modes full,compact] [--memory-max 4M|3/4] [--quick] [--json FILE]``.
With zswap the pool is charged to the cgroup: lz4 halves usemem's pages, so ``3/4`` of each
size leaves room (at ``1/2`` the task is OOM-killed, as the kernel would kill it); the
resident pages then grow with the size too and are counted in the slope.
Writes ``results/bench_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from _common import report
from vswap.units import format_size, parse_size

#: The kernel's swap metadata per entry (docs/metadata.md): a vswap descriptor, a classic slot.
KERNEL_BYTES = {"vswap descriptor": 48, "classic slot": 3}

_CHILD = r"""
import json, resource, sys
from vswap.run import DeviceSpec, RunConfig, run_workload
a = json.loads(sys.argv[1])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
ru0 = resource.getrusage(resource.RUSAGE_SELF)
cfg = RunConfig(design=a["design"], workload=f"usemem -n 1 -O {a['size']}",
                memory_max=a["memory_max"],
                swap_devices=[DeviceSpec("file", 2 * a["size"], "nvme")], zswap=a["zswap"],
                cpus=2, page_data=a["mode"], timeline_samples=0)
r = run_workload(cfg)
ru1 = resource.getrusage(resource.RUSAGE_SELF)
after = ru1.ru_maxrss
cpu_s = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
print(json.dumps({"wall_s": r.metrics.wall_s, "cpu_s": cpu_s,
                  "page_events": r.metrics.page_events,
                  "swapped": int(r.peak.get("swapped_pages", 0)),
                  "rss_growth": (after - before) * 1024, "data_loss": r.data_loss,
                  "killed": r.tasks_killed}))
"""


def run_one(design: str, size: int, memory_max: int, zswap: str | None, mode: str
            ) -> dict[str, Any]:
    arg = json.dumps({"design": design, "size": size, "memory_max": memory_max,
                      "zswap": zswap, "mode": mode})
    out = subprocess.run([sys.executable, "-c", _CHILD, arg], capture_output=True, text=True,
                         check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["killed"] or result["data_loss"]:
        raise SystemExit(f"usemem {size} ({mode}): {result['killed']} tasks killed, "
                         f"{result['data_loss']} pages lost; give more --memory-max")
    return result


def fit_exponent(xs: list[float], ys: list[float]) -> float:
    """The least-squares slope of log(y) on log(x): y ~ x ** slope."""
    lx = [math.log(x) for x in xs]
    ly = [math.log(max(y, 1e-9)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((x - mx) ** 2 for x in lx)
    return sum((x - mx) * (y - my) for x, y in zip(lx, ly)) / den if den else float("nan")


def slope(xs: list[float], ys: list[float]) -> float:
    """The least-squares slope of y on x."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="16M,32M,64M,128M",
                    help="four (or more) usemem sizes, comma separated")
    ap.add_argument("--design", default="classic")
    ap.add_argument("--zswap", default="off", help="zswap compressor, or off")
    ap.add_argument("--memory-max", default="4M",
                    help="memory.max: a size, or a fraction of each size such as 3/4 (zswap's "
                         "pool is charged to the cgroup: give it room)")
    ap.add_argument("--modes", default="full,compact")
    ap.add_argument("--quick", action="store_true",
                    help="smoke size: 1M..4M in memory.max=512K (numbers too small to read)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.quick:
        args.sizes, args.memory_max = "1M,2M,3M,4M", "512K"
    sizes = [parse_size(s, what="--sizes") for s in args.sizes.split(",")]
    zswap = None if args.zswap == "off" else args.zswap

    def memory_max(size: int) -> int:
        if "/" in args.memory_max:
            num, den = args.memory_max.split("/")
            value = size * int(num) // int(den)
            return value - value % 4096
        return parse_size(args.memory_max, what="--memory-max")

    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    for mode in args.modes.split(","):
        runs = []
        for size in sizes:
            r = run_one(args.design, size, memory_max(size), zswap, mode)
            runs.append(r)
            rows.append({"mode": mode, "size": format_size(size), "swapped pages": r["swapped"],
                         "wall s": round(r["wall_s"], 2), "CPU s": round(r["cpu_s"], 2),
                         "page events/s": int(r["page_events"] / r["wall_s"]),
                         "RSS growth MiB": round(r["rss_growth"] / 2**20, 1),
                         "B per swapped page": int(r["rss_growth"] / max(r["swapped"], 1))})
        xs = [float(s) for s in sizes]
        summary.append({
            "mode": mode,
            "wall exponent": round(fit_exponent(xs, [r["wall_s"] for r in runs]), 3),
            "CPU exponent": round(fit_exponent(xs, [r["cpu_s"] for r in runs]), 3),
            "memory exponent": round(fit_exponent(xs, [max(r["rss_growth"], 1) for r in runs]),
                                     3),
            "model B/entry (slope)": round(slope([float(r["swapped"]) for r in runs],
                                                 [float(r["rss_growth"]) for r in runs]), 1),
            **{f"kernel B/entry ({k})": v for k, v in KERNEL_BYTES.items()},
        })
    title = (f"usemem -n 1 -O SIZE in memory.max={args.memory_max}, {args.design}, "
             f"zswap {args.zswap}: "
             "wall time and peak RSS per page-data mode")
    path = report("bench_scale", title, rows, args.json)
    table = Table(title="growth with size (exponent 1.0: linear) and model bytes per swapped "
                        "entry beside the kernel's")
    for key in summary[0]:
        table.add_column(key, justify="left" if key == "mode" else "right")
    for row in summary:
        table.add_row(*[str(v) for v in row.values()])
    Console().print(table)
    data = json.loads(path.read_text())
    data["summary"] = summary
    path.write_text(json.dumps(data, indent=2))

if __name__ == "__main__":
    main()
