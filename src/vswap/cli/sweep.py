"""``vswap sweep``: run a parameter sweep, then query and plot its table (docs/sweeps.md).

Three forms, one parser (the first word tells them apart)::

    vswap sweep SPEC.toml --out DIR [--jobs N] [--ray [ADDRESS]] [--where EXPR] [--dry-run]
    vswap sweep table DIR [--where EXPR] [--group-by K,...] [--metric M,...]
    vswap sweep plot DIR --x KEY --y METRIC [--hue KEY] [--where EXPR] [--out FILE]

A sweep exits 0 when every point is ok, 1 when some point failed (each is listed with its
error line; rerunning the command reruns them), 130 on Ctrl-C (the directory stays
consistent: rerun to finish).
"""

from __future__ import annotations

import argparse
import sys

from vswap.errors import ConfigError

#: Flags of each form (for the "belongs to" error).
_RUN_FLAGS = {"jobs": "--jobs", "ray": "--ray", "dry_run": "--dry-run"}
_TABLE_FLAGS = {"group_by": "--group-by", "metric": "--metric"}
_PLOT_FLAGS = {"x": "--x", "y": "--y", "hue": "--hue"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sweep", help="run a parameter sweep (process pool or Ray); query and plot its table",
        description="vswap sweep SPEC.toml --out DIR: run every point of the spec's [sweep] "
                    "grid. vswap sweep table DIR: median and spread over seeds. "
                    "vswap sweep plot DIR --x KEY --y METRIC: a figure.")
    p.add_argument("what", metavar="SPEC.toml|table|plot",
                   help="a sweep specification to run, or `table` / `plot` of a sweep")
    p.add_argument("directory", nargs="?", metavar="DIR", help="table, plot: the sweep's "
                                                               "directory")
    p.add_argument("--out", default=None, metavar="DIR|FILE",
                   help="run: the sweep's directory (made, or resumed); plot: the figure, "
                        ".png or .svg (default DIR/Y-vs-X.png)")
    p.add_argument("--jobs", type=int, default=None,
                   help="run: points at once (default: host CPUs, at most 4; 1: in this "
                        "process); with --ray, the local instance's CPUs")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run: on Ray: a local instance (no ADDRESS), or the cluster at "
                        "ADDRESS (auto, HOST:6379, ray://HOST:10001); needs vswap[ray]")
    p.add_argument("--dry-run", action="store_true",
                   help="run: list the points (and which are done) without running")
    p.add_argument("--where", default=None, metavar="EXPR",
                   help="only the points where EXPR holds (design == 'vswap' and "
                        "memory.max <= 16M; docs/sweeps.md)")
    p.add_argument("--group-by", default=None, metavar="K,...",
                   help="table: group by these parameters (default: every parameter but "
                        "seed that varies)")
    p.add_argument("--metric", default=None, metavar="M,...",
                   help="table: these metric columns (default: the spec's [sweep] metrics)")
    p.add_argument("--x", default=None, metavar="KEY", help="plot: the parameter on the x axis")
    p.add_argument("--y", default=None, metavar="METRIC", help="plot: the metric on the y axis")
    p.add_argument("--hue", default=None, metavar="KEY",
                   help="plot: one line per value of this parameter")
    p.set_defaults(func=run)


def _refuse(args: argparse.Namespace, flags: dict[str, str], form: str) -> None:
    for attr, flag in flags.items():
        if getattr(args, attr) not in (None, False):
            raise ConfigError(f"{flag} belongs to `vswap sweep {form}`")


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise ConfigError("an empty list")
    return items


def run(args: argparse.Namespace) -> int:
    if args.what == "table":
        return _table(args)
    if args.what == "plot":
        return _plot(args)
    return _run(args)


def _need_dir(args: argparse.Namespace, form: str) -> str:
    if args.directory is None:
        raise ConfigError(f"vswap sweep {form} DIR: give the sweep's directory")
    return str(args.directory)


def _run(args: argparse.Namespace) -> int:
    from vswap.sweep import load_sweep, run_sweep
    from vswap.sweep.store import SweepDir

    _refuse(args, {**_TABLE_FLAGS, **_PLOT_FLAGS}, "table|plot")
    if args.directory is not None:
        raise ConfigError(f"vswap sweep SPEC.toml --out DIR: unexpected {args.directory!r} "
                          f"(table and plot are `vswap sweep table DIR`, `vswap sweep plot "
                          f"DIR`)")
    if args.out is None:
        raise ConfigError("vswap sweep SPEC.toml: give --out DIR (where the points and the "
                          "table go)")
    if args.jobs is not None and args.jobs < 0:
        raise ConfigError(f"--jobs: {args.jobs} is negative (0 or absent: one per CPU)")
    spec = load_sweep(args.what)
    if args.dry_run:
        store = SweepDir(args.out)
        points = spec.points(args.where)
        has = (store.path / "points").is_dir()
        for p in points:
            state = (store.status(p.id) if has else None) or "to run"
            print(f"{p.index:4d} {p.id} {state:7s} {p.label()}")
        print(f"{len(points)} points")
        return 0
    try:
        summary = run_sweep(spec, args.out, jobs=args.jobs, ray=args.ray, where=args.where)
    except KeyboardInterrupt:
        sys.stderr.write(f"vswap: sweep {args.out}: stopped; every finished point is saved, "
                         f"run the same command again to finish\n")
        raise
    for line in summary.lines():
        print(line)
    return 1 if summary.failed else 0


def _table(args: argparse.Namespace) -> int:
    from rich.console import Console

    from vswap.sweep import read_table
    from vswap.sweep.aggregate import aggregate, aggregate_table

    _refuse(args, {**_RUN_FLAGS, **_PLOT_FLAGS, "out": "--out"}, "SPEC.toml|plot")
    directory = _need_dir(args, "table")
    table = read_table(directory)
    agg = aggregate(table, where=args.where, group_by=_split(args.group_by),
                    metrics=_split(args.metric))
    console = Console()
    title = (f"{directory}: {agg.rows} points"
             + (f" where {args.where}" if args.where else "")
             + "; median (min–max) over the points of each row")
    console.print(title, highlight=False, soft_wrap=True)
    console.print(aggregate_table(agg, title=None))
    failed = [r for g in agg.groups for r in g.rows if r.get("status") != "ok"]
    for r in failed[:10]:
        params = " ".join(f"{k}={r.get(k)}" for k in table.params)
        console.print(f"failed: point {r['point']} ({params}): {r.get('error')}",
                      highlight=False, soft_wrap=True)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vswap.sweep import read_table
    from vswap.sweep.plot import plot_sweep
    from vswap.sweep.table import slug

    _refuse(args, {**_RUN_FLAGS, **_TABLE_FLAGS}, "SPEC.toml|table")
    directory = _need_dir(args, "plot")
    if args.x is None or args.y is None:
        raise ConfigError("vswap sweep plot DIR: give --x KEY and --y METRIC")
    table = read_table(directory)
    out = args.out or Path(directory) / f"{slug(args.y)}-vs-{slug(args.x)}.png"
    print(plot_sweep(table, x=args.x, y=args.y, hue=args.hue, where=args.where, out=out))
    return 0
