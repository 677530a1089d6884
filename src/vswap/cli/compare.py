"""``vswap compare``: one workload, several designs, the same seed, side by side.

Prints the same table as ``vswap stat --table`` (:func:`vswap.report.tables.print_comparison`),
after the lines saying what ``--scale`` scaled and kept.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from vswap.cli._runopts import (
    add_jobs_option,
    add_run_options,
    check_outcome,
    plan_from_args,
    run_all,
)
from vswap.report.result import save_results
from vswap.report.tables import print_comparison
from vswap.swap import DESIGNS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="run one workload under several designs, side by side")
    add_run_options(p, default_design=",".join(DESIGNS))
    add_jobs_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    results = run_all(plan.configs, jobs=args.jobs)
    console = Console()
    for line in plan.header_lines():
        console.print(line, highlight=False, soft_wrap=True)
    print_comparison(results, console, title=plan.title)
    if args.json:
        save_results(args.json, results)
    check_outcome(results)
    return 0
