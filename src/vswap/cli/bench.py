"""``vswap bench rfc|upstream``: published benchmark tables, modelled, beside their numbers.

``rfc`` runs the RFC cover letter's three tables: usemem 16 x 2G in memory.max=16G, a kernel
build with 52 workers in memory.max=3G with zswap, and swapoff of a 32 GB swapfile 50% full,
all scaled by ``--scale``, on ``classic``, ``vswap``, ``vswap-static`` (the partition hack)
and ``vswap-dynamic``. ``upstream`` runs the later comparisons (:mod:`vswap.run.upstream`:
Kairui Song's v3 review, the v6 cover letter, the Swap Table Edition v2 cover letter) on the
designs standing for the published kernels. Each table is printed with the published numbers
and the ratios to the table's baseline of both, how the costs were obtained, and the model's
speed.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from vswap.cli._bench_future import run_future
from vswap.cli._runopts import (
    add_costs_option,
    add_jobs_option,
    add_page_data_option,
    check_json_option,
    check_outcome,
    costs_from,
    designs_from,
    run_all,
)
from vswap.errors import ConfigError
from vswap.report.result import RunResult, save_results
from vswap.report.tables import format_number
from vswap.run.future import FUTURE_TABLES
from vswap.run.rfc import (
    DEFAULT_SCALE,
    KBUILD_FACTOR,
    RFC_DESIGNS,
    RFC_SOURCE,
    RfcTable,
    rfc_tables,
    table_value,
)
from vswap.run.scaling import kernel_constants_text
from vswap.run.upstream import (
    DEFAULT_UPSTREAM_SCALE,
    UPSTREAM_KBUILD_FACTOR,
    UPSTREAM_SETS,
    upstream_tables,
)
from vswap.units import SEED_RANGE, bounded_int, format_scale, parse_scale, seed_arg

LABELS = {"real_s": "real (s)", "user_s": "user (s)", "sys_s": "sys (s)",
          "throughput_kbps": "throughput (KB/s)", "free_time_s": "free (s)"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("bench", help="benchmarks: `vswap bench rfc` reproduces the RFC's tables, "
                                     "`vswap bench upstream` the later published comparisons, "
                                     "`vswap bench future` the seed's future use cases")
    p.add_argument("which", choices=["rfc", "upstream", "future"],
                   help="rfc: the cover letter's three tables; upstream: the v3 review, the "
                        "v6 cover and the Swap Table Edition v2 tables; future: one table "
                        "per future use case (docs/future.md)")
    p.add_argument("--scale", default=None, metavar="S",
                   help=f"size factor on the published setups, 0.01 or 1/64 (default rfc "
                        f"{format_scale(DEFAULT_SCALE)}, the kernel build at "
                        f"{format_scale(KBUILD_FACTOR)} of it; upstream "
                        f"{format_scale(DEFAULT_UPSTREAM_SCALE)}, the kernel builds at "
                        f"{format_scale(UPSTREAM_KBUILD_FACTOR)} of it)")
    p.add_argument("--design", default=None,
                   help=f"comma list of designs (default rfc {','.join(RFC_DESIGNS)}; "
                        "upstream: those each publication compared; others are added beside "
                        "the table's baseline)")
    p.add_argument("--table", default=None,
                   help="comma list of tables to run (rfc: usemem, kbuild, swapoff; "
                        f"upstream: {', '.join(UPSTREAM_SETS)} or one of their tables, "
                        f"e.g. {UPSTREAM_SETS['v6'][0]}; future: {', '.join(FUTURE_TABLES)})")
    p.add_argument("--kbuild-jobs", type=bounded_int(1, 4096), default=None,
                   help="compile jobs of the kernel-build tables (default two per worker: "
                        "104, the v3 review's 24)")
    p.add_argument("--seed", type=seed_arg, default=1,
                   help=f"random seed, {SEED_RANGE[0]}..{SEED_RANGE[1]} (default 1)")
    add_jobs_option(p)
    add_costs_option(p)
    p.add_argument("--no-verify", action="store_true", help="do not check pages read back")
    add_page_data_option(p)
    p.add_argument("--json", default=None, metavar="FILE", help="write a result file")
    p.set_defaults(func=run)


def _ratio(a: float, b: float) -> str:
    return format_number(a / b) if b else "-"


def _fmt(value: float) -> str:
    return format_number(value)


def _tables(args: argparse.Namespace, scale: float) -> list[RfcTable]:
    """The tables ``--table`` names (a set name of ``upstream`` stands for its tables)."""
    upstream = args.which == "upstream"
    default = ",".join(UPSTREAM_SETS) if upstream else "usemem,kbuild,swapoff"
    wanted = [t.strip() for t in (args.table or default).split(",") if t.strip()]
    if not wanted:
        raise ConfigError(f"--table: no table given in {args.table!r}")
    if upstream:
        wanted = [k for w in wanted for k in UPSTREAM_SETS.get(w, (w,))]
        designs = tuple(designs_from(args.design)) if args.design else None
        tables = upstream_tables(scale, seed=args.seed, designs=designs,
                                 verify=not args.no_verify, kbuild_jobs=args.kbuild_jobs)
        known = ", ".join([*UPSTREAM_SETS, *(k for ks in UPSTREAM_SETS.values() for k in ks)])
    else:
        tables = rfc_tables(scale, seed=args.seed,
                            designs=tuple(designs_from(args.design or ",".join(RFC_DESIGNS))),
                            verify=not args.no_verify, kbuild_jobs=args.kbuild_jobs)
        known = "usemem, kbuild, swapoff"
    unknown = [w for w in wanted if w not in {t.key for t in tables}]
    if unknown:
        raise ConfigError(f"--table: unknown table {unknown[0]!r} (known: {known})")
    return [t for t in tables if t.key in wanted]


def run(args: argparse.Namespace) -> int:
    if args.which == "future":
        return run_future(args)
    check_json_option(args)
    upstream = args.which == "upstream"
    scale = parse_scale(args.scale) if args.scale is not None else (
        DEFAULT_UPSTREAM_SCALE if upstream else DEFAULT_SCALE)
    if scale > 1:
        raise ConfigError(f"--scale {args.scale}: must be in (0, 1] (the published setups "
                          "are the full size)")
    tables = _tables(args, scale)
    costs, prov = costs_from(args.costs)
    configs = [c for t in tables for c in t.configs.values()]
    for c in configs:
        c.costs = costs
        c.cost_provenance = prov.as_json()
        c.page_data = args.page_data or "full"
    t0 = time.perf_counter()
    results = run_all(configs, jobs=args.jobs,
                      describe=lambda c: f"{c.labels.get('table')} {c.design}")
    wall = time.perf_counter() - t0
    console = Console()
    builds = format_scale(scale * (UPSTREAM_KBUILD_FACTOR if upstream else KBUILD_FACTOR))
    whose = "the published" if upstream else "the RFC's"
    console.print(f"scale {format_scale(scale)} of {whose} setups (the kernel build"
                  f"{'s' if upstream else ''} at {builds}; each table's own scale is in its "
                  "title): scaled RAM, memory.max, the swap "
                  "devices, the workloads' sizes and usemem's -s sleep; kept: process, "
                  f"worker and job counts, CPUs, {kernel_constants_text()}",
                  highlight=False)
    out: list[RunResult] = []
    i = 0
    for t in tables:
        rs = results[i:i + len(t.configs)]
        i += len(t.configs)
        by = dict(zip(t.configs, rs))
        for d, r in by.items():
            r.rfc = t.rfc(d)
            r.rfc_source = t.source if upstream else RFC_SOURCE
            out.append(r)
        _print_table(console, t, by, t.scale if t.scale is not None else scale, prov.line())
    events = sum(r.metrics.page_events for r in out)
    console.print(f"{len(out)} runs in {wall:.1f} s wall; the model simulated "
                  f"{events:,} page events ({events / max(wall, 1e-9):,.0f} per second of wall "
                  "time over all runs).", highlight=False)
    if args.json:
        save_results(args.json, out)
    check_outcome(out)
    return 0


def _print_table(console: Console, t: RfcTable, by: dict[str, RunResult], scale: float,
                 costs_line: str) -> None:
    """One table: model and published rows per design, then the ratios to the table's
    baseline, and the line saying how the costs were obtained."""
    source = "" if t.published is None else f"\n{t.source}"
    table = Table(title=f"{t.title}: model at scale {format_scale(scale)} beside the "
                        f"{t.label if t.published is None else 'published numbers'}",
                  caption=f"{t.setup}{source}\n{costs_line}")
    table.add_column("design", no_wrap=True)
    table.add_column("")
    for col in t.columns:
        table.add_column(LABELS[col], justify="right")

    def name(d: str) -> str:
        return f"{d} ({t.stands_for[d]})" if d in t.stands_for else d

    for d, r in by.items():
        table.add_row(name(d), "model", *[_fmt(table_value(t, r, col)) for col in t.columns])
        rfc = t.rfc(d)
        if rfc:
            table.add_row("", t.label, *[_fmt(rfc[col]) if col in rfc else "-"
                                         for col in t.columns], style="dim")
    base = by.get(t.baseline)
    if base is not None:
        rfc_base = t.rfc(t.baseline)
        table.add_section()
        for d, r in by.items():
            if d == t.baseline:
                continue
            table.add_row(f"{d} / {t.baseline}", "model", *[
                _ratio(table_value(t, r, col), table_value(t, base, col)) for col in t.columns],
                style="bold")
            rfc = t.rfc(d)
            if rfc:
                table.add_row("", t.label, *[
                    _ratio(rfc[col], rfc_base[col]) if col in rfc and col in rfc_base
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
                      f"spin {format_number(r.metrics.spin_s)} s", highlight=False)
