"""Terminal tables: several designs' runs of one workload side by side.

The first run is the baseline; a cell that differs from the baseline's is highlighted and
carries its ratio to it (``373.01 ×1.09``), so "what changed between the designs" is what the
eye lands on. Rows: the RFC's metrics (real, user, sys, throughput, free time; with the RFC's
own numbers beneath when the result has them), disk swap used, swap metadata, the swap
counters by kernel name, lock contention per lock class, swapoff cost, and verification.

:func:`comparison_rows` gives the table as data (what tests and scripts read);
:func:`comparison_table` renders it with rich, :func:`print_comparison` prints it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vswap.report.result import RunResult
from vswap.swap.types import PAGE_SIZE

__all__ = ["ComparisonRow", "comparison_rows", "comparison_table", "print_comparison"]

MiB = 1 << 20

#: Swap counters shown, by /proc/vmstat name.
COUNTERS = ("pswpout", "pswpin", "zswpout", "zswpin", "zswpwb", "swpout_zero", "swpin_zero",
            "pgmajfault", "swap_ra", "swap_ra_hit", "thp_swpout", "thp_swpout_fallback")

#: RFC metrics: result key -> (label, decimals).
METRICS = {
    "real_s": ("real (s)", 2), "user_s": ("user (s)", 2), "sys_s": ("sys (s)", 2),
    "throughput_kbps": ("throughput (KB/s)", 2), "free_time_s": ("free time (s)", 2),
}


@dataclass(frozen=True)
class ComparisonRow:
    """One row: ``label``, one value per run (None: not measured), the cell texts, and
    whether each cell differs from the baseline (the first run)."""

    label: str
    values: tuple[float | None, ...]
    texts: tuple[str, ...]
    differs: tuple[bool, ...]
    section: str = ""


def _fmt(value: float | None, decimals: int) -> str:
    if value is None:
        return "-"
    if decimals == 0:
        return f"{int(value):,}"
    return f"{value:,.{decimals}f}"


def _row(label: str, runs: Sequence[RunResult], get: Callable[[RunResult], float | None],
         decimals: int = 0, section: str = "") -> ComparisonRow:
    values = tuple(get(r) for r in runs)
    base = values[0]
    texts = []
    differs = []
    for i, v in enumerate(values):
        text = _fmt(v, decimals)
        diff = i > 0 and v is not None and base is not None and (
            round(v, decimals) != round(base, decimals))
        if diff and base and v is not None:
            text += f" ×{v / base:.2f}"
        texts.append(text)
        differs.append(diff)
    return ComparisonRow(label, values, tuple(texts), tuple(differs), section)


Getter = Callable[[RunResult], float | None]


def _metric(key: str) -> Getter:
    return lambda r: float(getattr(r.metrics, key))


def _rfc(key: str) -> Getter:
    return lambda r: r.rfc.get(key)


def _counter(name: str) -> Getter:
    return lambda r: r.vmstat.get(name)


def _swapoff(key: str) -> Getter:
    return lambda r: r.swapoff.get(key)


def _device_mib(key: str) -> Getter:
    return lambda r: sum(int(d.get(key, 0)) for d in r.devices) * PAGE_SIZE / MiB


def _lock(lock_class: str, key: str, div: float) -> Getter:
    def get(r: RunResult) -> float | None:
        rec = r.locks.get(lock_class)
        if rec is None or key not in rec:
            return None
        value = rec[key]
        return value if div == 1 else value / div
    return get


def comparison_rows(runs: Sequence[RunResult]) -> list[ComparisonRow]:
    """The comparison table as data; the first run is the baseline.

    Rows whose every value is missing or zero are left out (a counter no design touched),
    except the metrics and ``data_loss``, which always show.
    """
    if not runs:
        return []
    rows: list[ComparisonRow] = []
    for key, (label, dec) in METRICS.items():
        rows.append(_row(label, runs, _metric(key), dec, "metrics"))
        if any(key in r.rfc for r in runs):
            rows.append(_row(f"  RFC {label}", runs, _rfc(key), dec, "metrics"))
    rows.append(_row("swap device used, peak (MiB)", runs, _device_mib("peak_used_pages"), 2,
                     "swap space"))
    rows.append(_row("swap device used, end (MiB)", runs, _device_mib("used_pages"), 2,
                     "swap space"))
    rows.append(_row("swap metadata (MiB)", runs,
                     lambda r: sum(r.metadata_bytes.values()) / MiB, 2, "swap space"))
    for name in COUNTERS:
        rows.append(_row(name, runs, _counter(name), 0, "counters"))
    for c in sorted({c for r in runs for c in r.locks}):
        rows.append(_row(f"{c} contentions", runs, _lock(c, "contentions", 1), 0, "locks"))
        rows.append(_row(f"{c} wait (ms)", runs, _lock(c, "wait_ns", 1e6), 3, "locks"))
    for key in ("ptes_visited", "pages_read", "real_s", "sys_s"):
        if any(key in r.swapoff for r in runs):
            rows.append(_row(f"swapoff {key}", runs, _swapoff(key),
                             0 if key in ("ptes_visited", "pages_read") else 2, "swapoff"))
    rows.append(_row("pages verified", runs, lambda r: r.verified_pages, 0, "verification"))
    rows.append(_row("data_loss", runs, lambda r: r.data_loss, 0, "verification"))
    keep = {"metrics", "verification"}
    return [row for row in rows if row.section in keep or any(v for v in row.values)]


def _headers(runs: Sequence[RunResult]) -> list[str]:
    names = [r.design for r in runs]
    if len(set(names)) == len(names):
        return names
    return [f"{r.design} ({r.workload})" for r in runs]


def comparison_table(runs: Sequence[RunResult], *, title: str | None = None) -> Table:
    """A rich table of :func:`comparison_rows`: one column per run, differences in bold
    yellow with their ratio to the baseline, data loss in red."""
    if title is None and runs:
        title = f"{runs[0].workload} (seed {runs[0].seed}); baseline {runs[0].design}"
    table = Table(title=title)
    table.add_column("")
    for h in _headers(runs):
        table.add_column(h, justify="right")
    section = ""
    for row in comparison_rows(runs):
        if row.section != section and section:
            table.add_section()
        section = row.section
        cells = []
        for text, diff, value in zip(row.texts, row.differs, row.values):
            style = "bold yellow" if diff else ""
            if row.label == "data_loss" and value:
                style = "bold red"
            cells.append(Text(text, style=style))
        table.add_row(row.label, *cells)
    return table


def print_comparison(runs: Sequence[RunResult], console: Console | None = None, *,
                     title: str | None = None) -> None:
    """Print :func:`comparison_table` (to stdout unless ``console`` is given)."""
    (console or Console()).print(comparison_table(runs, title=title))
