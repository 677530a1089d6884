"""``vswap bench rfc``: the RFC cover letter's three tables, modelled, beside the RFC's numbers.

Runs usemem 16 x 2G in memory.max=16G, a kernel build with 52 workers in memory.max=3G with
zswap, and swapoff of a 32 GB swapfile 50% full, all scaled by ``--scale``, on ``classic``,
``vswap``, ``vswap-static`` (the partition hack) and ``vswap-dynamic``; prints each table
with the RFC's numbers and the vswap/classic ratios of both, and the model's speed.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from vswap.cli._runopts import designs_from, fmt, run_all
from vswap.errors import ConfigError, DataLossError
from vswap.report.result import RunResult, save_results
from vswap.run.rfc import DEFAULT_SCALE, RFC_DESIGNS, RFC_SOURCE, rfc_tables, table_value

LABELS = {"real_s": "real (s)", "user_s": "user (s)", "sys_s": "sys (s)",
          "throughput_kbps": "throughput (KB/s)", "free_time_s": "free (s)"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmarks: `vswap bench rfc` reproduces the RFC's tables")
    p.add_argument("which", choices=["rfc"], help="rfc: the cover letter's three tables")
    p.add_argument("--scale", type=float, default=DEFAULT_SCALE,
                   help=f"size factor on the RFC's setups (default 1/{round(1 / DEFAULT_SCALE)})")
    p.add_argument("--design", default=",".join(RFC_DESIGNS),
                   help=f"comma list of designs (default {','.join(RFC_DESIGNS)})")
    p.add_argument("--table", default="usemem,kbuild,swapoff",
                   help="comma list of tables to run (usemem, kbuild, swapoff)")
    p.add_argument("--kbuild-jobs", type=int, default=None,
                   help="compile jobs of the kernel-build table (default 104)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--jobs", type=int, default=None,
                   help="runs in parallel processes (default: host CPUs, at most 4)")
    p.add_argument("--no-verify", action="store_true", help="do not check pages read back")
    p.add_argument("--json", default=None, metavar="FILE", help="write a result file")
    p.set_defaults(func=run)


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.3f}" if b else "-"


def run(args: argparse.Namespace) -> int:
    if not 0 < args.scale <= 1:
        raise ConfigError(f"--scale {args.scale}: must be in (0, 1]")
    designs = tuple(designs_from(args.design))
    wanted = [t.strip() for t in args.table.split(",") if t.strip()]
    tables = [t for t in rfc_tables(args.scale, seed=args.seed, designs=designs,
                                    verify=not args.no_verify, kbuild_jobs=args.kbuild_jobs)
              if t.key in wanted]
    unknown = set(wanted) - {t.key for t in tables}
    if unknown:
        raise ConfigError(f"--table: unknown table {sorted(unknown)[0]!r} "
                          "(known: usemem, kbuild, swapoff)")
    configs = [c for t in tables for c in t.configs.values()]
    t0 = time.perf_counter()
    results = run_all(configs, jobs=args.jobs,
                      describe=lambda c: f"{c.labels.get('table')} {c.design}")
    wall = time.perf_counter() - t0
    console = Console()
    out: list[RunResult] = []
    i = 0
    for t in tables:
        rs = results[i:i + len(t.configs)]
        i += len(t.configs)
        by = dict(zip(t.configs, rs))
        for d, r in by.items():
            r.rfc = t.rfc(d)
            r.rfc_source = RFC_SOURCE
            out.append(r)
        _print_table(console, t, by, args.scale)
    events = sum(r.metrics.page_events for r in out)
    console.print(f"{len(out)} runs in {wall:.1f} s wall; the model simulated "
                  f"{events:,} page events ({events / max(wall, 1e-9):,.0f} per second of wall "
                  "time over all runs).", highlight=False)
    if args.json:
        save_results(args.json, out)
    lost = sum(r.data_loss for r in out)
    if lost:
        raise DataLossError(f"{lost} pages read back wrong")
    return 0


def _print_table(console: Console, t, by: dict[str, RunResult], scale: float) -> None:  # type: ignore[no-untyped-def]
    """One RFC table: model and RFC rows per design, then the ratios to classic."""
    table = Table(title=f"{t.title}: model at scale {scale:g} beside the RFC", caption=t.setup)
    table.add_column("design")
    table.add_column("")
    for col in t.columns:
        table.add_column(LABELS[col], justify="right")
    for d, r in by.items():
        table.add_row(d, "model", *[fmt(table_value(t, r, col), col) for col in t.columns])
        rfc = t.rfc(d)
        if rfc:
            table.add_row("", "RFC", *[fmt(rfc[col], col) if col in rfc else "-"
                                       for col in t.columns], style="dim")
    base = by.get("classic")
    if base is not None:
        rfc_base = t.rfc("classic")
        table.add_section()
        for d, r in by.items():
            if d == "classic":
                continue
            table.add_row(f"{d} / classic", "model", *[
                _ratio(table_value(t, r, col), table_value(t, base, col)) for col in t.columns],
                style="bold")
            rfc = t.rfc(d)
            if rfc:
                table.add_row("", "RFC", *[_ratio(rfc[col], rfc_base[col]) if col in rfc
                                           else "-" for col in t.columns], style="dim")
    speed = sum(r.metrics.page_events for r in by.values()) / max(
        sum(r.metrics.wall_s for r in by.values()), 1e-9)
    console.print(table)
    console.print(f"  model speed: {speed:,.0f} simulated page events per wall second",
                  highlight=False)
    for d, r in by.items():
        cont = ", ".join(f"{c} {v['contentions']:,}/{v['acquisitions']:,}"
                         for c, v in r.locks.items() if v["contentions"])
        console.print(f"  {d}: contended/total lock acquisitions: {cont or 'none'}; "
                      f"spin {r.metrics.spin_s:.6f} s", highlight=False)
