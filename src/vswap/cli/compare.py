"""``vswap compare``: one workload, several designs, the same seed, side by side."""

from __future__ import annotations

import argparse

from rich.console import Console

from vswap.cli._runopts import add_run_options, configs_from_args, run_all, side_by_side
from vswap.errors import DataLossError
from vswap.report.result import save_results
from vswap.swap import DESIGNS


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("compare", help="run one workload under several designs, side by side")
    add_run_options(p, default_design=",".join(DESIGNS))
    p.add_argument("--jobs", type=int, default=None,
                   help="runs in parallel processes (default: host CPUs, at most 4)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    configs = configs_from_args(args)
    results = run_all(configs, jobs=args.jobs)
    console = Console()
    c = configs[0]
    if c.config_file is not None:
        title = f"{c.workload} | {c.config_file.source} | {c.cpus} CPUs | seed {c.seed}"
    else:
        title = (f"{c.workload} | memory.max={c.memory_max or 'max'} | "
                 f"swap {','.join(d.text() for d in c.swap_devices) or 'none'} | "
                 f"zswap {c.zswap or 'off'} | {c.cpus} CPUs | seed {c.seed}")
    console.print(side_by_side(results, title))
    if args.json:
        save_results(args.json, results)
    lost = sum(r.data_loss for r in results)
    if lost:
        raise DataLossError(f"{lost} pages read back wrong")
    return 0
