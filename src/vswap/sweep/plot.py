"""``vswap sweep plot``: a metric against a parameter, one line per value of another, with the
spread over seeds (matplotlib, imported here only, Agg canvas; PNG or SVG by the file's
suffix).

Each line joins the medians of the ``ok`` points at each ``x`` (vswap.sweep.aggregate); a
band shows their spread (smallest to largest value). The x axis is numeric when every ``x``
is a number (log 2 when they span a factor of 8 or more, as thread counts do) or a size
(``"8M"``: bytes, drawn in MiB, ticks labelled as written); otherwise the values are
categories in grid order. Parameters other than ``x``, ``hue`` and ``seed`` must be the same
within a line (fix them with ``--where``), so a line never mixes configurations.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from vswap.errors import ConfigError
from vswap.sweep.aggregate import aggregate, resolve_metrics
from vswap.sweep.expr import resolve_name
from vswap.sweep.table import SweepTable
from vswap.units import parse_size

__all__ = ["FORMATS", "plot_sweep"]

FORMATS = (".png", ".svg")
MiB = 1 << 20


def _x_positions(values: list[Any]) -> tuple[list[float], str, bool]:
    """Positions of the x values, the unit suffix of the axis label, log scale or not."""
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        nums = [float(v) for v in values]
        log = min(nums) > 0 and max(nums) / min(nums) >= 8
        return nums, "", log
    if all(isinstance(v, str) for v in values):
        try:
            sizes = [parse_size(v) / MiB for v in values]
        except ConfigError:
            pass
        else:
            log = min(sizes) > 0 and max(sizes) / min(sizes) >= 8
            return sizes, " (MiB)", log
    return [float(i) for i in range(len(values))], "", False


def plot_sweep(table: SweepTable, *, x: str, y: str, hue: str | None = None,
               where: str | None = None, out: str | Path,
               title: str | None = None) -> Path:
    """Draw ``y`` against ``x`` (one line per ``hue`` value) into ``out`` and return it."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ConfigError(f"--out {out}: give a .png or .svg file")
    x_col = resolve_name(x, table.columns, prefer=table.params, what="--x")
    (y_col,) = resolve_metrics(table, [y], what="--y")
    hue_col = (resolve_name(hue, table.columns, prefer=table.params, what="--hue")
               if hue else None)
    keys = [hue_col, x_col] if hue_col else [x_col]
    agg = aggregate(table, where=where, group_by=keys, metrics=[y_col])
    if not agg.groups:
        raise ConfigError("--where: no point left to plot")
    others = [p for p in table.params if p not in (x_col, hue_col, "seed")]
    for g in agg.groups:
        for p in others:
            seen = sorted({repr(r.get(p)) for r in g.rows})
            if len(seen) > 1:
                raise ConfigError(f"{p} takes several values ({', '.join(seen[:4])}) at "
                                  f"{x_col}={g.key[-1]}; choose one with --where or make "
                                  f"it the --hue")
    xs_all = list(dict.fromkeys(g.key[-1] for g in agg.groups))
    pos, unit, log = _x_positions(xs_all)
    where_x = dict(zip(map(repr, xs_all), pos))

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    lines: dict[Any, list[tuple[float, float, float, float]]] = {}
    for g in agg.groups:
        stat = g.stats[y_col]
        if stat is None:
            continue
        line = g.key[0] if hue_col else None
        lines.setdefault(line, []).append(
            (where_x[repr(g.key[-1])], stat.median, stat.low, stat.high))
    if not lines:
        raise ConfigError(f"--y {y_col}: no ok point has a value")
    for label, pts in lines.items():
        pts.sort()
        xs = [p[0] for p in pts]
        (drawn,) = ax.plot(xs, [p[1] for p in pts], marker="o",
                           label=f"{_short(hue_col)}={label}" if hue_col else None)
        if any(p[2] != p[3] for p in pts):
            ax.fill_between(xs, [p[2] for p in pts], [p[3] for p in pts],
                            color=drawn.get_color(), alpha=0.2, linewidth=0)
    if log:
        ax.set_xscale("log", base=2)
    ax.set_xticks(pos, [str(v) for v in xs_all])
    ax.minorticks_off()
    ax.set_xlabel(_short(x_col) + unit)
    ax.set_ylabel(y_col)
    ax.grid(True, alpha=0.3)
    if hue_col:
        ax.legend()
    seeds = max((g.ok for g in agg.groups), default=0)
    ax.set_title(title or f"{y_col} vs {_short(x_col)}\n(median; band: min–max over "
                          f"{seeds} seed{'s' if seeds != 1 else ''})", fontsize=9)
    if not math.isfinite(sum(p[1] for pts in lines.values() for p in pts)):
        raise ConfigError(f"--y {y_col}: not finite")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def _short(name: str | None) -> str:
    if name is None:
        return ""
    return name.rsplit('".', 1)[-1] if '"' in name else name
