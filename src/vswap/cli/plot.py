"""``vswap plot RESULT.json [--out DIR] [--format png,svg] [--design D,...]``: draw a run.

Writes ``DIR/<result stem>-<figure>.<format>`` for each figure the result has data for
(:mod:`vswap.report.plots`: usage, locations, locks, rfc), prints each path, and says which
figures were skipped and why.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vswap.errors import ConfigError
from vswap.fileio import check_output_path
from vswap.report.result import load_results


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``plot`` subcommand."""
    p = subparsers.add_parser(
        "plot", help="plot memory, swap usage, page locations, lock wait, RFC vs model",
        description="Draw the figures of a result file: memory/swap-cache/zswap/device "
                    "usage over virtual time, where pages live, lock wait per lock class, "
                    "and the RFC's numbers beside the model's.")
    p.add_argument("result", metavar="RESULT.json", help="a result file (vswap run --json)")
    p.add_argument("--out", default=".", metavar="DIR",
                   help="output directory (default: the current directory)")
    p.add_argument("--format", default="png", help="comma list of png, svg (default png)")
    p.add_argument("--design", help="comma list of designs to draw (default: every run)")
    p.set_defaults(func=run)


def _check_out_dir(out: str) -> None:
    """``--out`` must be a directory, or a path whose nearest existing ancestor is a
    writable directory (it is made); checked before any figure is drawn."""
    p = Path(out)
    if p.exists() and not p.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    probe = p
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"--out {out}: {probe} is not a directory")
    check_output_path(probe / ".vswap-plot", what="--out")


def run(args: argparse.Namespace) -> int:
    """Handler of ``vswap plot``."""
    # matplotlib is imported here, not at the top: every other command (and `vswap --help`)
    # must start without it (it costs most of a second and warns when HOME is read-only).
    from vswap.report.plots import make_figures, parse_formats, save_figures

    formats = parse_formats(args.format)
    _check_out_dir(args.out)
    runs = load_results(args.result)
    if args.design:
        wanted = [d.strip() for d in args.design.split(",") if d.strip()]
        missing = [d for d in wanted if d not in {r.design for r in runs}]
        if missing:
            raise ConfigError(f"{args.result}: no run of design {missing[0]!r} "
                              f"(runs: {', '.join(r.design for r in runs)})")
        runs = [r for r in runs if r.design in wanted]
    try:
        figures, skipped = make_figures(runs)
    except (TypeError, ValueError, KeyError, AttributeError, ZeroDivisionError) as exc:
        # load_results checks every typed field; this catches what the untyped ones (a
        # timeline sample, a lock record) hold, naming the file rather than a traceback.
        raise ConfigError(f"{args.result}: malformed result ({type(exc).__name__}: "
                          f"{exc})") from None
    if not figures:
        raise ConfigError(f"{args.result}: nothing to plot ("
                          f"{'; '.join(sorted(set(skipped.values())))})")
    for path in save_figures(figures, args.out, Path(args.result).stem, formats):
        print(path)
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    return 0
