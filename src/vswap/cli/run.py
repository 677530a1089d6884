"""``vswap run``: one workload under one design, in modelled time on N CPUs."""

from __future__ import annotations

import argparse

from rich.console import Console

from vswap.cli._runopts import add_run_options, check_outcome, plan_from_args, run_all
from vswap.errors import ConfigError
from vswap.report.result import save_results
from vswap.report.tables import print_comparison


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("run", help="run one workload under one swap design (modelled time)")
    add_run_options(p, default_design="classic")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    if len(plan.configs) != 1:
        raise ConfigError("run: give one --design (use `vswap compare` for several)")
    results = run_all(plan.configs, jobs=1)
    r = results[0]
    console = Console()
    for line in plan.header_lines():
        console.print(line, highlight=False, soft_wrap=True)
    for line in r.report:
        console.print(line, highlight=False)
    print_comparison(results, console, title=f"{plan.title} | {r.design}")
    if args.json:
        save_results(args.json, results)
    check_outcome(results)
    return 0
