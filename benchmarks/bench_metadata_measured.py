"""Swap metadata measured from running designs, scaled to the published 32 GB device.

For every design that declares a metadata layout (``metadata_layout``), fill a device of
``--swap-size`` (default 32M = 1/1024 of 32 GB) through the swap API to 0, 25, 50, 75 and 100%
(``vswap.run.measured_metadata``), read the design's tables, and print per usage: the bytes
measured, bytes per swapped page and per device slot, the same state priced by the
calculator (which must agree), and the measured per-unit costs scaled to 8,388,608 slots,
the figure the published tables print. Writes ``results/bench_metadata_measured.json``.
Usage: ``python benchmarks/bench_metadata_measured.py [--swap-size 32M] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from _common import report
from vswap.metadata.calculator import geometry_cell
from vswap.metadata.layouts import LAYOUTS, Backend
from vswap.run.measured_metadata import measure_metadata, scaled_to
from vswap.swap import DESIGNS, design_class
from vswap.units import parse_size

SLOTS_32G = 8_388_608


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--swap-size", default="32M")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    size = parse_size(args.swap_size, what="--swap-size")
    rows: list[dict[str, Any]] = []
    for design in DESIGNS:
        if not getattr(design_class(design), "metadata_layout", None):
            continue
        for backend in Backend:
            for cell in measure_metadata(design, backend, swap_size=size):
                g = cell.geometry
                counted = cell.counted_bytes()
                calc = geometry_cell(LAYOUTS[cell.layout], backend, g).total_bytes
                rows.append({
                    "design": design, "backend": backend.value,
                    "usage": f"{int(cell.usage_percent)}%", "pages": g.used_slots,
                    "bytes": counted, "B/page": round(counted / g.used_slots, 2)
                    if g.used_slots else 0.0, "B/slot": round(counted / g.nr_slots, 3),
                    "32 GB (MB)": f"{scaled_to(cell, SLOTS_32G):.2f}",
                })
                if counted != calc:
                    print(f"{design} {backend.value} {cell.usage_percent}%: measured {counted} "
                          f"!= calculator {calc}", file=sys.stderr)
                    return 1
    report("bench_metadata_measured",
           f"swap metadata measured from the designs' tables ({args.swap_size} device), "
           "published accounting", rows, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
