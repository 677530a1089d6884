"""Wall-clock speed of the memory-manager model under a usemem-like workload.

A task in a cgroup whose ``memory.max`` is half its working set writes every page once
(each 8-byte word holds its own index, as usemem does), then reads every page back twice,
verifying the contents. Reported per design and backend (zswap with lz4, or a memory swap
device): page faults and reclaimed pages per second of wall time, swapped pages (out + in) per
second, and the Python bytes the model spends per resident and per swapped page (measured with
tracemalloc in separate runs).

Usage: ``python benchmarks/bench_mm.py [--mib 64] [--designs classic,vswap] [--no-verify]``.
Writes ``results/bench_mm.json``. If that file already holds a figure of the same setup (an
earlier run, typically of the previous commit), prints each row's speed ratio to it (new
(faults+reclaims)/s over old) and the commit each was measured at; ``--out`` elsewhere to
keep a baseline.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig
from vswap.swap import DESIGNS
from vswap.swap.storage import MemSwapStorage

MiB = 1 << 20
WORDS = PAGE_SIZE // 8


def page_of(i: int) -> bytes:
    return np.arange(i * WORDS, (i + 1) * WORDS, dtype="<u8").tobytes()


def build(design: str, backend: str, ws_pages: int, verify: bool) -> Machine:
    ram = max(4 * ws_pages * PAGE_SIZE, 64 * MiB)
    m = Machine(MachineConfig(ram=ram, design=design, zswap=backend == "zswap",
                              zswap_params={"compressor": "lz4", "max_pool_percent": 50,
                                            "shrinker_enabled": True}
                              if backend == "zswap" else {}, verify=verify))
    m.swapon(MemSwapStorage(2 * ws_pages * PAGE_SIZE + 64 * MiB))
    m.create_cgroup("/bench")
    m.cgroup_write("/bench", "memory.max", str(ws_pages * PAGE_SIZE // 2))
    return m


def run_speed(design: str, backend: str, ws_pages: int, verify: bool,
              pages: list[bytes]) -> dict[str, object]:
    m = build(design, backend, ws_pages, verify)
    t = m.spawn("usemem", "/bench")
    addr = m.mmap(t, ws_pages * PAGE_SIZE)
    gc.collect()
    t0 = time.perf_counter()
    write = m.write
    read = m.read
    for i in range(ws_pages):
        write(t, addr + i * PAGE_SIZE, pages[i])
    bad = 0
    for _ in range(2):
        for i in range(ws_pages):
            if read(t, addr + i * PAGE_SIZE, PAGE_SIZE) != pages[i]:
                bad += 1
    wall = time.perf_counter() - t0
    vs = m.vmstat
    faults = vs["pgfault"]
    reclaimed = vs["pgsteal_direct"] + vs["pgsteal_kswapd"]
    outs = vs["pswpout"] + vs["zswpout"] + vs["swpout_zero"]
    ins = vs["pswpin"] + vs["zswpin"] + vs["swpin_zero"]
    return {
        "design": design, "backend": backend, "working_set_pages": ws_pages,
        "verified": verify, "content_errors": bad, "wall_s": round(wall, 3),
        "pgfault": faults, "pgmajfault": vs["pgmajfault"], "reclaimed": reclaimed,
        "swapped_out": outs, "swapped_in": ins,
        "faults_plus_reclaims_per_s": round((faults + reclaimed) / wall),
        "swapped_pages_per_s": round((outs + ins) / wall),
        "oracle_checked": m.oracle.stats.checked,
        "counters": {k: vs[k] for k in ("pswpout", "pswpin", "zswpout", "zswpin",
                                        "swpout_zero", "swpin_zero", "swap_ra", "swap_ra_hit",
                                        "pgscan_direct", "pgsteal_direct")},
    }


def run_bytes(design: str, backend: str, n: int, pages: list[bytes]) -> dict[str, float]:
    """Python bytes per resident page and per swapped page (tracemalloc deltas)."""
    m = build(design, backend, 4 * n, verify=True)
    m.cgroup_write("/bench", "memory.max", "max")
    t = m.spawn("probe", "/bench")
    addr = m.mmap(t, n * PAGE_SIZE)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    for i in range(n):
        m.write(t, addr + i * PAGE_SIZE, pages[i])
    gc.collect()
    resident = tracemalloc.get_traced_memory()[0] - base
    m.madvise(t, addr, n * PAGE_SIZE, MADV_PAGEOUT)
    gc.collect()
    swapped = tracemalloc.get_traced_memory()[0] - base
    oracle_bytes = sys.getsizeof(m.oracle.by_entry) + 2 * 32 * len(m.oracle.by_entry)
    tracemalloc.stop()
    zpool = m.zswap.pool_total_size if m.zswap is not None else 0
    return {
        "bytes_per_resident_page": round(resident / n, 1),
        "bytes_per_resident_page_excl_data": round(resident / n - PAGE_SIZE, 1),
        "bytes_per_swapped_page": round(swapped / n, 1),
        "bytes_per_swapped_page_excl_zswap_pool_and_oracle":
            round((swapped - zpool - oracle_bytes) / n, 1),
    }


def git_commit() -> str:
    """The checkout's commit (short hash, ``+dirty`` with local changes), or ``unknown``."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def previous_rows(path: Path, mib: int, verify: bool) -> tuple[str, dict[tuple[str, str], int]]:
    """The commit and the (faults+reclaims)/s per (design, backend) of an earlier result file
    measured with the same working set and verification; empty if there is none."""
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return "", {}
    if old.get("mib") != mib:
        return "", {}
    rows = {(r["design"], r["backend"]): int(r["faults_plus_reclaims_per_s"])
            for r in old.get("rows", []) if r.get("verified") == verify}
    return str(old.get("commit", "unknown")), rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=64, help="working set in MiB (default 64)")
    ap.add_argument("--designs", default=",".join(d for d in DESIGNS if "-" not in d))
    ap.add_argument("--backends", default="zswap,device")
    ap.add_argument("--no-verify", action="store_true", help="turn the integrity oracle off")
    ap.add_argument("--out", default="results/bench_mm.json")
    args = ap.parse_args(argv)
    ws_pages = args.mib * MiB // PAGE_SIZE
    out = Path(args.out)
    prev_commit, prev = previous_rows(out, args.mib, not args.no_verify)
    commit = git_commit()
    pages = [page_of(i) for i in range(ws_pages)]
    rows = []
    console = Console()
    for design in args.designs.split(","):
        for backend in args.backends.split(","):
            row = run_speed(design, backend, ws_pages, not args.no_verify, pages)
            row.update(run_bytes(design, backend, min(2048, ws_pages), pages))
            old = prev.get((design, backend))
            speed = row["faults_plus_reclaims_per_s"]
            assert isinstance(speed, int)
            row["vs_previous"] = round(speed / old, 2) if old else None
            rows.append(row)
            console.print(f"{design}/{backend}: {row['wall_s']} s")
    table = Table(title=f"bench_mm: usemem {args.mib} MiB in a cgroup at half "
                        f"(verify={'off' if args.no_verify else 'on'})")
    cols = {"design": "design", "backend": "backend", "wall_s": "wall s",
            "faults_plus_reclaims_per_s": "(faults+reclaims)/s",
            "swapped_pages_per_s": "swapped pages/s", "swapped_out": "out", "swapped_in": "in",
            "bytes_per_resident_page": "B/resident pg",
            "bytes_per_swapped_page_excl_zswap_pool_and_oracle": "B/swapped pg",
            "content_errors": "errors", "vs_previous": f"x {prev_commit or 'previous'}"}
    for header in cols.values():
        table.add_column(header, justify="right")
    for row in rows:
        table.add_row(*(str(row[c]) if row[c] is not None else "-" for c in cols))
    console.print(table)
    if prev:
        console.print(f"speed ratio: (faults+reclaims)/s of {commit} over {prev_commit}'s "
                      f"figure in {out} (same --mib and verification; separate runs, so "
                      "machine load between them moves it)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"python": platform.python_version(),
                               "machine": platform.machine(), "commit": commit,
                               "mib": args.mib, "rows": rows}, indent=2) + "\n")
    console.print(f"wrote {out}")
    return 0 if all(r["content_errors"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
