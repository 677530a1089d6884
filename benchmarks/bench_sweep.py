"""Sweep executors: speed-up of ``--jobs 2`` over ``--jobs 1``, and the per-point overhead
of the process pool and of Ray, measured in one run.

Two sweeps, each run on three executors (``serial``: ``--jobs 1``; ``pool-2``: the process
pool, ``--jobs 2``; ``ray-2``: a local Ray instance of 2 CPUs started once, before the
timing):

* **work**: points that each run for a while (usemem swapping through zswap); the
  speed-up is serial wall time / parallel wall time;
* **overhead**: many points that do almost nothing (a workload of a few pages); each point's
  overhead is the time from submitting it to having its outcome back, less its run
  (``provenance.overhead_s``): pickling the point, sending it to a worker, sending the result
  back. ``ms/point`` is the median over the points after the first on each CPU; ``first ms``
  the largest of those first ones, which also wait for their worker to start (the pool
  starts its processes with each sweep; Ray's instance is started before the timing and its
  start-up reported apart, its workers warmed by a first small sweep).

Columns: ``work s`` (wall time of the work sweep), ``speed-up`` (serial's work s / this one),
``ms/point``, ``first ms``, ``light s`` (wall time of the overhead sweep), ``same`` (its
tables equal serial's, less provenance), ``load`` (the host's 1-minute load average after
the row: other work on the host takes CPUs a parallel sweep would use).

Every run checks that the executors' tables are equal (less provenance). Prints a table and
saves JSON under results/ (``--json`` elsewhere). ``--quick``: a smoke size.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report
from vswap.sweep import read_table, run_sweep

WORK = """
designs = ["classic", "vswap"]
[machine]
ram = "64M"
cpus = 2
[[swap]]
type = "file"
size = "32M"
[zswap]
enabled = true
compressor = "lz4"
[cgroups."/app"]
memory.max = "4M"
[[workloads]]
cgroup = "/app"
command = "usemem -n 2 SIZE"
[sweep]
seed = SEEDS
"""

OVERHEAD = """
designs = ["classic"]
[machine]
ram = "16M"
cpus = 1
[[workloads]]
command = "usemem -n 1 64K"
[sweep]
seed = SEEDS
"""


def _spec(d: Path, name: str, text: str, seeds: int, size: str = "") -> Path:
    path = d / f"{name}.toml"
    path.write_text(text.replace("SEEDS", str(list(range(1, seeds + 1))))
                    .replace("SIZE", size))
    return path


def _run(spec: Path, out: Path, **executor: Any) -> tuple[float, list[float]]:
    """Wall time of the sweep, and each point's overhead (provenance.overhead_s: from
    submitting it to having its outcome back, less its run), in grid order."""
    t0 = time.perf_counter()
    summary = run_sweep(spec, out, progress_interval=3600, **executor)
    wall = time.perf_counter() - t0
    assert summary.failed == 0 and summary.ok == summary.points
    return wall, [r["provenance.overhead_s"] for r in read_table(out).rows]


def _same(a: Path, b: Path) -> bool:
    import pyarrow.parquet as pq

    ta, tb = pq.read_table(a / "results.parquet"), pq.read_table(b / "results.parquet")
    keep = [c for c in ta.column_names if not c.startswith("provenance.")]
    return bool(ta.select(keep).equals(tb.select(keep)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smoke size")
    ap.add_argument("--no-ray", action="store_true", help="skip Ray (not installed)")
    ap.add_argument("--json", default=None, help="where to save (default results/)")
    args = ap.parse_args()
    work_points, size, overhead_points = (4, "2M", 8) if args.quick else (8, "16M", 80)
    load_before = os.getloadavg()[0]
    executors: list[tuple[str, dict[str, Any], int]] = [
        ("serial", {"jobs": 1}, 1), ("pool-2", {"jobs": 2}, 2)]
    ray_start = None
    if not args.no_ray:
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR)
        ray_start = time.perf_counter() - t0
        executors.append(("ray-2", {"ray": "local"}, 2))
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        d = Path(tmp)
        work = _spec(d, "work", WORK, work_points // 2, size)
        light = _spec(d, "light", OVERHEAD, overhead_points, "")
        # Imports and first-run caches of this process, so the serial times are runs only.
        _run(_spec(d, "warm", OVERHEAD, 1, ""), d / "warm", jobs=1)
        serial_wall = None
        for name, kwargs, cpus in executors:
            key = name.split("-")[0]
            if key == "ray":  # Ray's workers start with its first tasks: not per point
                _run(_spec(d, "warm-ray", OVERHEAD, 2, ""), d / "warm-ray", **kwargs)
            l_wall, overheads = _run(light, d / f"light-{key}", **kwargs)
            # The first point on each CPU also waits for its worker to start (the pool
            # starts its processes with the sweep).
            first, rest = overheads[:cpus], overheads[cpus:]
            w_wall, _ = _run(work, d / f"work-{key}", **kwargs)
            serial_wall = serial_wall or w_wall
            same = all(_same(d / f"{s}-serial", d / f"{s}-{key}") for s in ("work", "light"))
            rows.append({
                "executor": name,
                "points": len(overheads),
                "work s": round(w_wall, 2),
                "speed-up": round(serial_wall / w_wall, 2),
                "ms/point": round(1000 * statistics.median(rest), 1),
                "first ms": round(1000 * max(first), 1),
                "light s": round(l_wall, 2),
                "same": "yes" if same else "NO",
                # Other work on the host (1-minute load average): a parallel speed-up needs
                # idle CPUs.
                "load": round(os.getloadavg()[0], 1),
            })
    if ray_start is not None:
        import ray

        ray.shutdown()
    load = f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after"
    title = f"vswap sweep executors ({os.cpu_count()}-CPU host, {load}" + (
        f"; Ray start-up {ray_start:.1f} s, not in the times)" if ray_start else ")")
    report("bench_sweep", title, rows, args.json)
    return 0 if all(r["same"] == "yes" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
