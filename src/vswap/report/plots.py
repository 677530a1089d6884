"""Figures of a result file (matplotlib, Agg canvas; no display needed).

* ``usage``: RAM in use, swap cache, zswap pool and swap-device usage over virtual time, one
  line per design (from ``timeline``).
* ``locations``: where the pages live over time (resident, zswap, zero, device), stacked,
  one panel per design (from ``timeline``).
* ``locks``: total lock wait per lock class, one bar per design (from ``locks``).
* ``rfc``: the RFC's published numbers beside the model's, per metric, each design relative
  to the baseline (the first run), because the model runs the RFC's workloads scaled down:
  ratios compare, absolute seconds do not (from ``rfc`` and ``metrics``).

A figure whose data is absent from every run (no timeline, no lock statistics, no RFC
numbers) is not made; :func:`make_figures` says which were skipped and why.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.report.result import RunResult
from vswap.report.tables import METRICS, comparison_groups, rfc_model_value

__all__ = ["FIGURES", "FORMATS", "locations_figure", "locks_figure", "make_figures",
           "rfc_figure", "save_figures", "usage_figure"]

MiB = 1 << 20
#: Figure names, in the order they are made.
FIGURES = ("usage", "locations", "locks", "rfc")
#: Output formats ``vswap plot --format`` accepts.
FORMATS = ("png", "svg")

#: ``locations`` layers: timeline key -> legend label, bottom to top.
LOCATION_LAYERS = {"resident_pages": "resident", "zswap_pages": "zswap",
                   "zero_pages": "zero", "device_pages": "device"}

#: ``usage`` panels: (title, timeline key, unit divisor to MiB).
USAGE_PANELS = (("memory in use", "resident_pages", MiB // PAGE_SIZE),
                ("swap cache", "swapcache_pages", MiB // PAGE_SIZE),
                ("zswap pool", "zswap_pool_bytes", MiB),
                ("swap device slots used", "device_slots", MiB // PAGE_SIZE))


_LINESTYLES = ("-", "--", ":", "-.")


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _label(run: RunResult, runs: Sequence[RunResult]) -> str:
    if sum(r.design == run.design for r in runs) > 1:
        return f"{run.design} ({run.workload})"
    return run.design


def _times_ms(run: RunResult) -> list[float]:
    return [s.get("t_ns", 0) / 1e6 for s in run.timeline]


def _sample(sample: dict[str, int], key: str) -> int:
    # Results written before device_slots existed only have device_pages.
    if key == "device_slots" and key not in sample:
        return sample.get("device_pages", 0)
    return sample.get(key, 0)


def usage_figure(runs: Sequence[RunResult]) -> Figure:
    """Four panels over virtual time (ms): memory in use, swap cache, zswap pool, swap device
    used (MiB); one line per design."""
    fig = _figure(10, 6.5)
    axes = fig.subplots(2, 2, sharex=True).flatten()
    for ax, (title, key, div) in zip(axes, USAGE_PANELS):
        for i, r in enumerate(runs):
            # Designs often agree for a while: distinct dashes keep overlapping lines visible.
            ax.plot(_times_ms(r), [_sample(s, key) / div for s in r.timeline],
                    label=_label(r, runs), drawstyle="steps-post",
                    linestyle=_LINESTYLES[i % len(_LINESTYLES)], linewidth=1.6)
        ax.set_title(title)
        ax.set_ylabel("MiB")
        ax.grid(True, alpha=0.3)
    for ax in axes[2:]:
        ax.set_xlabel("virtual time (ms)")
    axes[0].legend()
    fig.suptitle(f"Memory and swap over time: {runs[0].workload}")
    return fig


def locations_figure(runs: Sequence[RunResult]) -> Figure:
    """Where the pages live over time, stacked (MiB), one panel per design."""
    fig = _figure(5 * len(runs), 4)
    axes = fig.subplots(1, len(runs), sharey=True, squeeze=False)[0]
    div = MiB // PAGE_SIZE
    for ax, r in zip(axes, runs):
        ys = [[s.get(k, 0) / div for s in r.timeline] for k in LOCATION_LAYERS]
        ax.stackplot(_times_ms(r), *ys, labels=list(LOCATION_LAYERS.values()), step="post")
        ax.set_title(_label(r, runs))
        ax.set_xlabel("virtual time (ms)")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("MiB")
    axes[0].legend(loc="upper left")
    fig.suptitle(f"Where pages live: {runs[0].workload}")
    return fig


def _grouped_bars(ax: Axes, groups: Sequence[str], series: dict[str, list[float]]) -> None:
    n = max(len(series), 1)
    width = 0.8 / n
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width, label=name)
    ax.set_xticks(range(len(groups)), groups)


def locks_figure(runs: Sequence[RunResult]) -> Figure:
    """Total wait (ms) per lock class, one bar per design."""
    classes = sorted({c for r in runs for c in r.locks})
    fig = _figure(max(6.0, 1.6 * len(classes) + 2), 4)
    ax = fig.subplots()
    series = {_label(r, runs): [r.locks.get(c, {}).get("wait_ns", 0) / 1e6 for c in classes]
              for r in runs}
    _grouped_bars(ax, classes, series)
    ax.set_ylabel("total wait (ms)")
    ax.set_title(f"Lock wait per lock class: {runs[0].workload}")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    return fig


def rfc_figure(runs: Sequence[RunResult]) -> Figure:
    """The RFC's numbers beside the model's, one row of panels per comparable group (a bench
    result's tables), one panel per metric the RFC reports: each design relative to the
    group's baseline (its first run), bars "RFC" and "model" per design. The model's number
    is :func:`vswap.report.tables.rfc_model_value` (the swapoff command's own times in the
    swapoff table)."""
    def shown(group: Sequence[RunResult]) -> list[str]:
        # A metric the RFC gives as 0 for the baseline (swapoff's user time) has no ratio.
        return [k for k in METRICS if group[0].rfc.get(k) and any(k in r.rfc for r in group)]

    groups = [g for g in comparison_groups(runs) if shown(g)]
    ncols = max(len(shown(g)) for g in groups)
    fig = _figure(max(3.0 * ncols, 6.0), 3.4 * len(groups) + 0.6)
    grid = fig.subplots(len(groups), ncols, squeeze=False)
    for row, group in zip(grid, groups):
        base = group[0]
        metrics = shown(group)
        labels = [_label(r, group) for r in group]
        for ax, key in zip(row, metrics):
            rfc_base = base.rfc.get(key) or 0.0
            model_base = rfc_model_value(base, key) or 0.0
            rfc_vals = [(r.rfc.get(key, 0.0) / rfc_base) if rfc_base else 0.0 for r in group]
            model_vals = [((rfc_model_value(r, key) or 0.0) / model_base) if model_base
                          else 0.0 for r in group]
            _grouped_bars(ax, labels, {"RFC": rfc_vals, "model": model_vals})
            ax.axhline(1.0, color="grey", linewidth=0.8)
            ax.set_title(METRICS[key], fontsize=10)
            ax.tick_params(axis="x", labelrotation=30, labelsize=8)
            for tick in ax.get_xticklabels():
                tick.set_horizontalalignment("right")
            ax.grid(True, axis="y", alpha=0.3)
        for ax in row[len(metrics):]:
            ax.set_visible(False)
        table = base.configuration.get("table")
        row[0].set_ylabel(f"{table + ': ' if table else ''}/ {base.design}", fontsize=9)
    handles, names = grid[0][0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper right", fontsize=8)
    fig.suptitle("The RFC's ratios beside the model's (each design / the first)")
    source = next((r.rfc_source for r in runs if r.rfc_source), "")
    from vswap.report.tables import costs_caption

    footer = "\n".join(textwrap.wrap(f"RFC numbers: {source}", 140)) if source else ""
    fig.text(0.01, 0.005, (footer + "\n" if footer else "") + costs_caption(runs),
             fontsize=7, va="bottom", ha="left")
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        # Room at the bottom for the footer lines (the constrained layout's rect).
        engine.set(rect=(0, 0.06, 1, 0.94))
    return fig


def make_figures(runs: Sequence[RunResult]) -> tuple[dict[str, Figure], dict[str, str]]:
    """Every figure the runs have data for.

    Returns:
        (figures by name in :data:`FIGURES` order, skipped figure name -> reason).
    """
    figures: dict[str, Figure] = {}
    skipped: dict[str, str] = {}
    if not runs:
        return figures, {name: "no runs" for name in FIGURES}
    if any(r.timeline for r in runs):
        figures["usage"] = usage_figure(runs)
        figures["locations"] = locations_figure(runs)
    else:
        skipped["usage"] = skipped["locations"] = "no timeline samples in the result"
    if any(r.locks for r in runs):
        figures["locks"] = locks_figure(runs)
    else:
        skipped["locks"] = "no lock statistics in the result"
    if any(r.rfc for r in runs):
        figures["rfc"] = rfc_figure(runs)
    else:
        skipped["rfc"] = "no RFC reference numbers in the result"
    return figures, skipped


def parse_formats(text: str | Iterable[str]) -> tuple[str, ...]:
    """``"png,svg"`` -> ("png", "svg"); ConfigError on an unknown or empty list."""
    items = text.split(",") if isinstance(text, str) else list(text)
    fmts = tuple(dict.fromkeys(f.strip().lower() for f in items if f.strip()))
    if not fmts:
        raise ConfigError(f"--format: no format given (formats: {', '.join(FORMATS)})")
    for f in fmts:
        if f not in FORMATS:
            raise ConfigError(f"--format: unknown format {f!r} (formats: {', '.join(FORMATS)})")
    return fmts


def save_figures(figures: dict[str, Figure], out_dir: str | Path, stem: str,
                 formats: Sequence[str] = ("png",)) -> list[Path]:
    """Write each figure as ``<out_dir>/<stem>-<name>.<format>``; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, fig in figures.items():
        for fmt in formats:
            p = out / f"{stem}-{name}.{fmt}"
            fig.savefig(p, format=fmt, dpi=100)
            paths.append(p)
    return paths
