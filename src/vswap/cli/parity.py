"""``vswap parity``: the host kernel and the model on the same spec, side by side (root)."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from vswap.errors import ConfigError
from vswap.report.tables import format_number


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from vswap.cli._runopts import add_costs_option
    from vswap.cli.host import add_host_run_options

    p = sub.add_parser(
        "parity", help="run a spec on the host kernel and on the model, side by side (root)",
        description="Run one workload spec on this host's kernel (as `vswap host run`) and "
                    "on the model's classic design (and swap-table-p1, the design 6.18 "
                    "is, when the model has it), and print every counter, peak slots, "
                    "zswap and zram sizes and times with model/kernel ratios. "
                    "--from FILE formats a saved parity result without running.")
    add_host_run_options(p)
    p.add_argument("--design", default=None,
                   help="model designs to compare (default: classic, and swap-table-p1 "
                        "when the model has it)")
    add_costs_option(p)
    p.add_argument("--json", default=None, metavar="FILE",
                   help="write the host result and the model results to a result file")
    p.add_argument("--from", dest="from_file", default=None, metavar="FILE",
                   help="format a result file holding a host result and model results")
    p.set_defaults(func=_main)


def default_designs() -> list[str]:
    """classic, and swap-table-p1 (swap table phase I, what 6.18 runs) when registered."""
    from vswap.swap import DESIGNS

    return ["classic"] + [d for d in ("swap-table-p1",) if d in DESIGNS]


def format_parity(host: dict[str, Any], models: list[dict[str, Any]]) -> Table:
    """The side-by-side table of :func:`vswap.host.parity.parity_rows`."""
    from vswap.host.parity import parity_rows

    rows = parity_rows(host, models)
    cfg = host.get("configuration", {})
    title = (f"{host.get('workload')} | memory.max {cfg.get('memory_max')} | "
             f"{', '.join(cfg.get('swap_devices', []))} | zswap {cfg.get('zswap', 'off')} | "
             f"kernel {cfg.get('kernel', '?')}")
    t = Table(title=title)
    t.add_column("", justify="left")
    t.add_column("kernel", justify="right")
    for m in models:
        t.add_column(f"{m.get('design')}", justify="right")
        t.add_column("ratio", justify="right")
    group = None
    for row in rows:
        if row["group"] != group:
            if group is not None:
                t.add_section()
            group = row["group"]
        cells = [f"{row['group']}: {row['name']}", format_number(row["host"])]
        for m in models:
            cell = row["models"][m.get("design", "?")]
            cells += [format_number(cell["value"]),
                      "-" if cell["ratio"] is None else f"{cell['ratio']:.3f}"]
        t.add_row(*cells)
    return t


def _main(args: argparse.Namespace) -> int:
    from vswap.cli._runopts import costs_from
    from vswap.config.costs import provenance_line
    from vswap.report.result import load_results, save_results

    console = Console(width=120)
    if args.from_file:
        runs = load_results(args.from_file)
        hosts = [r for r in runs if r.design == "host"]
        if not hosts or len(runs) < 2:
            raise ConfigError(f"{args.from_file}: a parity file holds one host result and "
                              "at least one model result")
        host, models = hosts[0], [r for r in runs if r.design != "host"]
    else:
        from vswap.cli._runopts import designs_from
        from vswap.cli.host import host_config_from_args
        from vswap.host.parity import run_parity
        from vswap.host.runner import require_root

        require_root("vswap parity")
        designs = designs_from(args.design) if args.design else default_designs()
        config = host_config_from_args(args)
        costs, prov = costs_from(args.costs)
        host, models = run_parity(config, designs, costs=costs,
                                  cost_provenance=prov.as_json(),
                                  progress=lambda line: console.print(line, highlight=False))
        if args.json:
            save_results(args.json, [host, *models])
    console.print(format_parity(host.to_dict(), [m.to_dict() for m in models]))
    console.print(provenance_line(models[0].costs), highlight=False, soft_wrap=True)
    return 0
