"""``vswap stat RESULT.json``: print a run's kernel-format views, or the designs side by side.

``--view vmstat|meminfo|swaps|memory.stat|zswap|all`` (default ``all``), ``--at end|peak``
(the views at the end of the run, or when the most pages were swapped out), ``--design D``
(default: every run in the file), ``--cgroup PATH`` (``memory.stat`` of one cgroup; default
all). A single view of a single run prints exactly the kernel's text, nothing else, so it can
be diffed against a real ``/proc/vmstat``; more than one adds ``==> design <==`` and
``# /proc/...`` header lines. ``--table`` prints the comparison tables instead (one per group
of comparable runs), as ``vswap compare`` does.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from vswap.errors import ConfigError
from vswap.report.collect import run_zswap
from vswap.report.result import RunResult, load_results
from vswap.report.tables import print_comparison
from vswap.report.views import MOMENTS, VIEWS, at_peak, format_view

_TITLES = {"vmstat": "/proc/vmstat", "meminfo": "/proc/meminfo", "swaps": "/proc/swaps",
           "memory.stat": "memory.stat", "zswap": "/sys/kernel/debug/zswap"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``stat`` subcommand."""
    p = subparsers.add_parser(
        "stat", help="print a run's /proc/vmstat, /proc/meminfo, /proc/swaps, memory.stat",
        description="Print the kernel-format views recorded in a result file, exactly as "
                    "the kernel prints them, or (--table) the designs side by side.")
    p.add_argument("result", metavar="RESULT.json", help="a result file (vswap run --json)")
    p.add_argument("--design", help="only this design's run (default: every run)")
    p.add_argument("--view", default="all", choices=[*VIEWS, "all"],
                   help="which view (default all)")
    p.add_argument("--at", default="end", choices=MOMENTS,
                   help="the views at the end of the run (default) or at its peak (when the "
                        "most pages were swapped out)")
    p.add_argument("--cgroup", metavar="PATH",
                   help="memory.stat of this cgroup only (e.g. /bench; default: every cgroup)")
    p.add_argument("--table", action="store_true",
                   help="print the designs side by side, differences highlighted")
    p.set_defaults(func=run)


def select_runs(runs: list[RunResult], design: str | None, source: str) -> list[RunResult]:
    """The runs of ``design`` (all if None); ConfigError naming the file if there is none."""
    if design is None:
        return runs
    chosen = [r for r in runs if r.design == design]
    if not chosen:
        raise ConfigError(f"{source}: no run of design {design!r} "
                          f"(runs: {', '.join(r.design for r in runs)})")
    return chosen


def render(runs: list[RunResult], view: str, cgroup: str | None) -> str:
    """The text ``vswap stat`` prints for ``runs`` (see the module docstring)."""
    views = list(VIEWS) if view == "all" else [view]
    if cgroup is not None and "memory.stat" not in views:
        raise ConfigError("--cgroup: only meaningful with --view memory.stat or all")
    if view == "zswap" and not any(run_zswap(r) for r in runs):
        raise ConfigError("--view zswap: no run in the file had zswap")
    out = []
    for i, r in enumerate(runs):
        if len(runs) > 1:
            out.append(("\n" if i else "") + f"==> {r.design} <==\n")
        shown = [v for v in views if v != "zswap" or run_zswap(r) or view == "zswap"]
        for j, v in enumerate(shown):
            if len(shown) > 1:
                out.append(("\n" if j else "") + f"# {_TITLES[v]}\n")
            out.append(format_view(r, v, cgroup))
    return "".join(out)


def run(args: argparse.Namespace) -> int:
    """Handler of ``vswap stat``."""
    runs = select_runs(load_results(args.result), args.design, args.result)
    try:
        if args.table:
            if args.at != "end":
                raise ConfigError("--at: the kernel views only; --table shows the peak and "
                                  "the end side by side")
            print_comparison(runs, Console())
            return 0
        if args.at == "peak":
            runs = [at_peak(r, args.result) for r in runs]
        try:
            text = render(runs, args.view, args.cgroup)
        except ConfigError as exc:
            raise ConfigError(f"{args.result}: {exc}") from None
    except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError) as exc:
        if isinstance(exc, ConfigError):
            raise
        # load_results checks every typed field and the views' parts; this names the file
        # for what an untyped field (configuration, cgroup_results) holds.
        raise ConfigError(f"{args.result}: malformed result ({type(exc).__name__}: "
                          f"{exc})") from None
    sys.stdout.write(text)
    return 0
