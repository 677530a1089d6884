"""`bench rfc` at three scales with one cost table: each ratio beside the RFC's, and its trend.

Runs ``vswap bench rfc`` at 1/128, 1/64 and 1/32 (``--scales``) with the default cost table
(the one calibrated on Linux 6.18; ``--costs FILE`` for another, ``builtin`` for the
built-in one), or reads the saved ``bench rfc --json`` results of each scale
(``--from-json A,B,C``, in the order of ``--scales``), then prints one row per ratio the RFC
published (vswap / classic and static / classic, per table and column): the model's ratio
at each scale, the RFC's, and the trend from the smallest to the largest scale (toward or
away from the RFC). Saves the ratios and every run to ``results/bench_rfc_scales.json``
(``--json``). Usage: ``python benchmarks/bench_rfc_scales.py [--costs FILE] [--scales
1/128,1/64,1/32] [--table usemem,kbuild,swapoff] [--from-json A,B,C]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import report
from vswap.run.rfc import RFC

#: (table, column) pairs whose ratios the RFC gives, and the designs compared to classic.
RATIOS = [(t, c, d) for t, cols in (("usemem", ("real_s", "user_s", "sys_s", "throughput_kbps",
                                                "free_time_s")),
                                    ("kbuild", ("real_s", "user_s", "sys_s")),
                                    ("swapoff", ("real_s", "sys_s")))
          for c in cols for d in ("vswap", "vswap-static") if d in RFC[t]]


def model_value(run: dict[str, Any], column: str) -> float:
    """The model's number for ``column`` (swapoff: the swapoff command's own times)."""
    if run["configuration"].get("table") == "swapoff":
        return float(run.get("swapoff", {}).get(column, 0.0))
    return float(run["metrics"][column])


def ratios_of(runs: list[dict[str, Any]]) -> dict[tuple[str, str, str], float | None]:
    by = {(r["configuration"].get("table"), r["design"]): r for r in runs}
    out: dict[tuple[str, str, str], float | None] = {}
    for table, column, design in RATIOS:
        base, other = by.get((table, "classic")), by.get((table, design))
        if base is None or other is None:
            continue
        b = model_value(base, column)
        out[(table, column, design)] = model_value(other, column) / b if b else None
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--costs", default="default",
                   help="a cost file, builtin, or default (the shipped calibration)")
    p.add_argument("--scales", default="1/128,1/64,1/32")
    p.add_argument("--table", default="usemem,kbuild,swapoff")
    p.add_argument("--design", default="classic,vswap,vswap-static")
    p.add_argument("--json", default=None)
    p.add_argument("--from-json", default=None, metavar="A,B,C",
                   help="saved `vswap bench rfc --json` results, one per scale (no runs)")
    args = p.parse_args(argv)
    scales = [s.strip() for s in args.scales.split(",")]
    per_scale: dict[str, dict[tuple[str, str, str], float | None]] = {}
    saved: dict[str, Any] = {}
    files = args.from_json.split(",") if args.from_json else []
    if files and len(files) != len(scales):
        p.error(f"--from-json: {len(files)} files for {len(scales)} scales")
    for i, scale in enumerate(scales):
        if files:
            runs = json.loads(Path(files[i]).read_text())["runs"]
            per_scale[scale] = ratios_of(runs)
            saved[scale] = {"file": files[i], "runs": runs}
            continue
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "rfc.json"
            cmd = [sys.executable, "-m", "vswap", "bench", "rfc", "--scale", scale,
                   "--table", args.table, "--design", args.design, "--json", str(out)]
            if args.costs != "default":
                cmd += ["--costs", args.costs]
            t0 = time.monotonic()
            subprocess.run(cmd, check=True)
            runs = json.loads(out.read_text())["runs"]
        per_scale[scale] = ratios_of(runs)
        saved[scale] = {"wall_s": round(time.monotonic() - t0, 1), "runs": runs}
    rows = []
    for key in RATIOS:
        table, column, design = key
        if not all(key in per_scale[s] for s in scales):
            continue
        rfc_base = RFC[table]["classic"][column]
        rfc = RFC[table][design][column] / rfc_base if rfc_base else None
        vals = [per_scale[s][key] for s in scales]
        row: dict[str, Any] = {"ratio": f"{table} {column} {design}/classic"}
        for s, v in zip(scales, vals, strict=True):
            row[s] = "-" if v is None else f"{v:.3f}"
        row["RFC"] = "-" if rfc is None else f"{rfc:.3f}"
        first, last = vals[0], vals[-1]
        if first is None or last is None or rfc is None:
            row["trend"] = "-"
        elif abs(abs(last - rfc) - abs(first - rfc)) < 0.005:
            row["trend"] = "flat"
        else:
            row["trend"] = "toward RFC" if abs(last - rfc) < abs(first - rfc) else "away"
        rows.append(row)
    path = report("bench_rfc_scales", f"bench rfc ratios by scale, costs: {args.costs}",
                  rows, args.json)
    data = json.loads(path.read_text())
    data["costs"] = args.costs
    data["scales"] = saved
    path.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
