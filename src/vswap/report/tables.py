"""Terminal tables: several designs' runs of one workload side by side.

Only comparable runs are compared: :func:`comparison_groups` splits a result into groups of
runs of the same workload and configuration (a ``vswap bench rfc`` result holds one group per
RFC table), and each group gets its own table. In a group the first run is the baseline; a
cell that differs from the baseline's is highlighted and carries its ratio to it
(``373.0 ×1.094``), so "what changed between the designs" is what the eye lands on.

Numbers show four significant figures (whole numbers above 10,000 in full), never a fixed
count of decimals: a free time of 0.000429 s is not 0.00. Rows: the RFC's metrics (with the
RFC's own numbers beneath when the result has them), per-cgroup results when several cgroups
ran workloads, swap space used, the swap counters by kernel name, zswap's debugfs counters,
lock contention per lock class, swapoff cost, verification, and the model's own speed (not
compared: it is host time). Every table's caption says how the costs were obtained
(:func:`vswap.config.costs.provenance_line`).

:func:`comparison_rows` gives one group's table as data (what tests and scripts read);
:func:`comparison_table` renders it with rich, :func:`print_comparison` prints every group.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from vswap.kernel.types import PAGE_SIZE
from vswap.report.result import RunResult

__all__ = ["ComparisonRow", "comparison_groups", "comparison_rows", "comparison_table",
           "costs_caption", "format_number", "print_comparison", "rfc_model_value"]

MiB = 1 << 20
#: Significant figures of every number in a table.
SIG_FIGS = 4

#: Swap counters shown, by /proc/vmstat name.
COUNTERS = ("pswpout", "pswpin", "zswpout", "zswpin", "zswpwb", "swpout_zero", "swpin_zero",
            "pgmajfault", "swap_ra", "swap_ra_hit", "thp_swpout", "thp_swpout_fallback",
            "oom_kill")

#: zswap's debugfs counters shown (kernel names; the result's ``kernel_stats["zswap"]``, as
#: model and host runs record it): cumulative ones at the end, the gauges
#: (``stored_pages``, ``pool_total_size``) at their sampled peak.
ZSWAP_COUNTERS = ("pool_limit_hit", "reject_compress_poor", "reject_compress_fail",
                  "reject_alloc_fail", "reject_kmemcache_fail", "reject_reclaim_fail",
                  "written_back_pages", "stored_incompressible_pages", "decompress_fail")
ZSWAP_PEAK_GAUGES = ("stored_pages", "pool_total_size")

#: RFC metrics: result key -> label.
METRICS = {
    "real_s": "real (s)", "user_s": "user (s)", "sys_s": "sys (s)",
    "throughput_kbps": "throughput (KB/s)", "free_time_s": "free time (s)",
}


@dataclass(frozen=True)
class ComparisonRow:
    """One row: ``label``, one value per run (None: not measured), the cell texts, whether
    each cell differs from the baseline (the first run), its section, and whether the row
    is compared at all (host-time rows are not)."""

    label: str
    values: tuple[float | None, ...]
    texts: tuple[str, ...]
    differs: tuple[bool, ...]
    section: str = ""
    compared: bool = True


def format_number(value: float | None, *, sig: int = SIG_FIGS) -> str:
    """``value`` with ``sig`` significant figures in positional notation (``0.000429``,
    ``373.0``, ``1.094``); integers and values of 10,000 or more in full with thousands
    separators (``658,386``); ``-`` for None."""
    if value is None:
        return "-"
    if isinstance(value, int) or (math.isfinite(value) and value == int(value)
                                  and abs(value) >= 10 ** sig):
        return f"{int(value):,}"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 10 ** sig:
        return f"{round(value):,}"
    if value == 0:
        return "0"
    digits = sig - 1 - math.floor(math.log10(abs(value)))
    text = f"{value:.{max(digits, 0)}f}"
    return text


def _significant(value: float) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, SIG_FIGS - 1 - math.floor(math.log10(abs(value))))


def _row(label: str, runs: Sequence[RunResult], get: Callable[[RunResult], float | None],
         section: str = "", *, compared: bool = True) -> ComparisonRow:
    values = tuple(get(r) for r in runs)
    base = values[0]
    texts = []
    differs = []
    for i, v in enumerate(values):
        text = format_number(v)
        diff = compared and i > 0 and v is not None and base is not None and (
            _significant(v) != _significant(base))
        if diff and base and v:
            text += f" ×{format_number(v / base, sig=3)}"
        texts.append(text)
        differs.append(diff)
    return ComparisonRow(label, values, tuple(texts), tuple(differs), section, compared)


Getter = Callable[[RunResult], float | None]


def _metric(key: str) -> Getter:
    return lambda r: getattr(r.metrics, key)


def _rfc(key: str) -> Getter:
    return lambda r: r.rfc.get(key)


def _counter(name: str) -> Getter:
    return lambda r: r.vmstat.get(name)


def _swapoff(key: str) -> Getter:
    return lambda r: r.swapoff.get(key)


def _device_mib(key: str) -> Getter:
    return lambda r: sum(int(d.get(key, 0)) for d in r.devices) * PAGE_SIZE / MiB


def _zswap(name: str, *, at_peak: bool = False) -> Getter:
    def get(r: RunResult) -> float | None:
        zs: dict[str, int] = r.kernel_stats.get("zswap") or {}
        value = zs.get(f"peak_{name}") if at_peak else zs.get(name)
        if value is None:
            return None
        return value / MiB if name == "pool_total_size" else value
    return get


def _cgroup(path: str, key: str, div: float = 1) -> Getter:
    def get(r: RunResult) -> float | None:
        value = r.cgroup_results.get(path, {}).get(key)
        if not isinstance(value, int | float):
            return None
        return value / div if div != 1 else value
    return get


def _lock(lock_class: str, key: str, div: float) -> Getter:
    def get(r: RunResult) -> float | None:
        rec = r.locks.get(lock_class)
        if rec is None or key not in rec:
            return None
        value = rec[key]
        return value if div == 1 else value / div
    return get


#: Per-cgroup rows: (label, cgroup_results key, divisor).
CGROUP_ROWS = (("throughput (KB/s)", "throughput_kbps", 1), ("free time (s)", "free_time_s", 1),
               ("oom_kill", "oom_kill", 1), ("memory.peak (MiB)", "memory_peak_bytes", MiB),
               ("memory.swap.peak (MiB)", "swap_peak_bytes", MiB),
               ("memory.swap.current at peak (MiB)", "swap_current_at_peak_bytes", MiB),
               ("memory.zswap.current at peak (MiB)", "zswap_current_at_peak_bytes", MiB),
               ("pswpout", "pswpout", 1), ("zswpout", "zswpout", 1), ("zswpwb", "zswpwb", 1),
               ("swpout_zero", "swpout_zero", 1))


def rfc_model_value(run: RunResult, key: str) -> float | None:
    """The model's number that the RFC's ``key`` is compared with: the metric, except in
    the swapoff table, where the RFC timed the swapoff command alone (the result's
    ``swapoff`` times; swapoff has no user time)."""
    if run.configuration.get("table") == "swapoff":
        if key == "user_s":
            return 0.0
        value = run.swapoff.get(key)
        return None if value is None else float(value)
    value = getattr(run.metrics, key, None)
    return None if value is None else float(value)


def _rfc_on_swapoff(runs: Sequence[RunResult]) -> bool:
    return any(r.rfc for r in runs) and all(r.configuration.get("table") == "swapoff"
                                            for r in runs)


def _group_key(run: RunResult) -> tuple[str, str, str]:
    conf = run.configuration
    return (str(conf.get("table", "")), run.workload, str(conf.get("config", "")))


def comparison_groups(runs: Sequence[RunResult]) -> list[list[RunResult]]:
    """The runs split into comparable groups (same bench table, workload and configuration
    file), in first-seen order; each group's first run is its baseline."""
    groups: dict[tuple[str, str, str], list[RunResult]] = {}
    for r in runs:
        groups.setdefault(_group_key(r), []).append(r)
    return list(groups.values())


def comparison_rows(runs: Sequence[RunResult]) -> list[ComparisonRow]:
    """One group's comparison table as data; the first run is the baseline.

    Rows whose every value is missing or zero are left out (a counter no design touched),
    except the metrics and ``data_loss``, which always show.
    """
    if not runs:
        return []
    rows: list[ComparisonRow] = []
    rfc_on_swapoff = _rfc_on_swapoff(runs)
    paths = list(dict.fromkeys(p for r in runs for p in r.cgroup_results))
    for key, label in METRICS.items():
        if len(paths) > 1 and key in ("throughput_kbps", "free_time_s"):
            continue  # the first workload's only: each cgroup's row below says it
        rows.append(_row(label, runs, _metric(key), "metrics"))
        if not rfc_on_swapoff and any(key in r.rfc for r in runs):
            rows.append(_row(f"  RFC {label}", runs, _rfc(key), "metrics"))
    rows.append(_row("spin (s)", runs, _metric("spin_s"), "metrics"))
    if len(paths) > 1:
        for path in paths:
            for label, key, div in CGROUP_ROWS:
                rows.append(_row(f"{path} {label}", runs, _cgroup(path, key, div),
                                 f"cgroup {path}"))
    rows.append(_row("swap device used, peak (MiB)", runs, _device_mib("peak_used_pages"),
                     "swap space"))
    rows.append(_row("swap device used, end (MiB)", runs, _device_mib("used_pages"),
                     "swap space"))
    rows.append(_row("swap metadata (MiB)", runs,
                     lambda r: sum(r.metadata_bytes.values()) / MiB, "swap space"))
    for name in COUNTERS:
        rows.append(_row(name, runs, _counter(name), "counters"))
    for name in ZSWAP_COUNTERS:
        rows.append(_row(f"zswap {name}", runs, _zswap(name), "zswap"))
    for name in ZSWAP_PEAK_GAUGES:
        unit = " (MiB)" if name == "pool_total_size" else ""
        rows.append(_row(f"zswap {name} at peak{unit}", runs, _zswap(name, at_peak=True),
                         "zswap"))
    for c in sorted({c for r in runs for c in r.locks}):
        rows.append(_row(f"{c} acquisitions", runs, _lock(c, "acquisitions", 1), "locks"))
        rows.append(_row(f"{c} contentions", runs, _lock(c, "contentions", 1), "locks"))
        rows.append(_row(f"{c} wait (ms)", runs, _lock(c, "wait_ns", 1e6), "locks"))
    for key in ("ptes_visited", "pages_read", "real_s", "sys_s"):
        if any(key in r.swapoff for r in runs):
            label = f"swapoff {key.removesuffix('_s')} (s)" if key.endswith("_s") else \
                f"swapoff {key}"
            rows.append(_row(label, runs, _swapoff(key), "swapoff"))
            if rfc_on_swapoff and any(key in r.rfc for r in runs):
                rows.append(_row(f"  RFC {label}", runs, _rfc(key), "swapoff"))
    rows.append(_row("pages verified", runs, lambda r: r.verified_pages, "verification"))
    rows.append(_row("data_loss", runs, lambda r: r.data_loss, "verification"))
    rows.append(_row("page events", runs, _metric("page_events"), "model"))
    rows.append(_row("wall (s)", runs, _metric("wall_s"), "model", compared=False))
    rows.append(_row("page events per wall second", runs, _metric("page_events_per_wall_s"),
                     "model", compared=False))
    keep = {"metrics", "verification"}
    return [row for row in rows if row.section in keep or any(v for v in row.values)]


def _headers(runs: Sequence[RunResult]) -> list[str]:
    names = [r.design for r in runs]
    if len(set(names)) == len(names):
        return names
    return [f"{r.design} #{i + 1}" for i, r in enumerate(runs)]


def costs_caption(runs: Sequence[RunResult]) -> str:
    """The line saying how the costs were obtained (and a warning if the runs differ)."""
    from vswap.config.costs import provenance_line

    lines = {provenance_line(r.costs) for r in runs}
    if len(lines) > 1:
        return ("costs differ between these runs (ratios mix cost tables): "
                + " | ".join(sorted(lines)))
    return lines.pop() if lines else provenance_line(None)


def comparison_table(runs: Sequence[RunResult], *, title: str | None = None) -> Table:
    """A rich table of :func:`comparison_rows`: one column per run, differences in bold
    yellow with their ratio to the baseline, data loss in red; the caption says how the
    costs were obtained."""
    if title is None and runs:
        table_name = runs[0].configuration.get("table")
        what = f"{table_name}: " if table_name else ""
        title = f"{what}{runs[0].workload} (seed {runs[0].seed}); baseline {runs[0].design}"
    table = Table(title=title, caption=costs_caption(runs) if runs else None)
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
    """Print one :func:`comparison_table` per comparable group (to stdout unless ``console``
    is given); ``title`` names a single group's table."""
    con = console or Console()
    groups = comparison_groups(runs)
    for i, group in enumerate(groups):
        if i:
            con.print()
        con.print(comparison_table(group, title=title if len(groups) == 1 else None))
