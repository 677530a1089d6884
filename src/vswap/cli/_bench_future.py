"""``vswap bench future``: the seed's future use cases, one table per use case (docs/future.md).

The flags are ``bench rfc``'s: ``--design`` (default: each table's own designs), ``--scale``
(default 1/128), ``--table`` (the use cases, :data:`vswap.run.future.FUTURE_TABLES`),
``--seed``, ``--jobs``, ``--costs``, ``--no-verify``, ``--json``.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from vswap.cli._runopts import check_json_option, check_outcome, costs_from, designs_from, run_all
from vswap.errors import ConfigError
from vswap.report.result import RunResult, save_results
from vswap.report.tables import format_number
from vswap.run.future import DEFAULT_FUTURE_SCALE, FUTURE_TABLES, FutureTable, future_tables
from vswap.units import format_scale, parse_scale

__all__ = ["run_future"]


def _cell(v: float | str) -> str:
    return v if isinstance(v, str) else format_number(v)


def run_future(args: argparse.Namespace) -> int:
    """Run and print the tables ``--table`` names (default all). Returns the exit status."""
    check_json_option(args)
    if args.kbuild_jobs is not None:
        raise ConfigError("--kbuild-jobs: only `bench rfc` and `bench upstream` build kernels")
    scale = parse_scale(args.scale) if args.scale is not None else DEFAULT_FUTURE_SCALE
    if scale > 1:
        raise ConfigError(f"--scale {args.scale}: must be in (0, 1] (the setups are the "
                          "full size)")
    names = [t.strip() for t in (args.table or ",".join(FUTURE_TABLES)).split(",")
             if t.strip()]
    if not names:
        raise ConfigError(f"--table: no table given in {args.table!r}")
    designs = tuple(designs_from(args.design)) if args.design else None
    tables = future_tables(names, scale, seed=args.seed, designs=designs,
                           verify=not args.no_verify)
    costs, prov = costs_from(args.costs)
    configs = [c for t in tables for c in t.configs.values()]
    for c in configs:
        c.costs = costs
        c.cost_provenance = prov.as_json()
        c.page_data = args.page_data or "full"
    t0 = time.perf_counter()
    results = run_all(configs, jobs=args.jobs,
                      describe=lambda c: f"{c.labels.get('table')} {c.labels.get('row')}")
    wall = time.perf_counter() - t0
    # The tables are wide: at least 150 columns, also when piped into a file.
    console = Console(width=max(Console().width, 150))
    console.print(f"scale {format_scale(scale)} of the use cases' setups (docs/future.md)",
                  highlight=False)
    out: list[RunResult] = []
    i = 0
    for t in tables:
        rs = results[i:i + len(t.configs)]
        i += len(t.configs)
        by = dict(zip(t.configs, rs))
        out.extend(rs)
        _print_table(console, t, by, scale, prov.line())
    console.print(f"{len(out)} runs in {wall:.1f} s wall", highlight=False)
    if args.json:
        save_results(args.json, out)
    check_outcome(out)
    return 0


def _print_table(console: Console, t: FutureTable, by: dict[str, RunResult], scale: float,
                 costs_line: str) -> None:
    table = Table(title=f"{t.title} (model, scale {format_scale(scale)})",
                  caption=f"{t.setup}\n{costs_line}")
    table.add_column("design", no_wrap=True)
    for col in t.columns:
        table.add_column(col.header, justify="right")
    for row, r in by.items():
        table.add_row(row, *[_cell(col.value(r)) for col in t.columns])
    base = by.get(t.baseline) if t.baseline is not None else None
    if base is not None and t.ratios:
        table.add_section()
        for row, r in by.items():
            if row == t.baseline:
                continue
            cells = []
            for col in t.columns:
                a, b = col.value(r), col.value(base)
                if col.header in t.ratios and isinstance(a, float | int) and \
                        isinstance(b, float | int) and b:
                    cells.append(format_number(a / b))
                else:
                    cells.append("")
            table.add_row(f"{row} / {t.baseline}", *cells, style="bold")
    # Never cut a cell: a table wider than the console gets its natural width.
    need = Measurement.get(console, console.options.update(width=1 << 12), table).maximum
    width = console.width
    console.width = max(width, need)
    console.print(table)
    console.width = width
    for line in t.summary(by):
        console.print(f"  {line}", highlight=False)
