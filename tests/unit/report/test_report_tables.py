"""The side-by-side comparison table: which rows, which cells differ, how they render."""

from __future__ import annotations

import io

from rich.console import Console
from rich.text import Text

from vswap.report.result import RunMetrics, RunResult
from vswap.report.tables import (
    comparison_groups,
    comparison_rows,
    comparison_table,
    format_number,
    print_comparison,
)


def _run(design: str, sys_s: float, *, pswpout: int = 0, loss: int = 0,
         workload: str = "usemem -n 16 2g", locks: dict | None = None) -> RunResult:  # type: ignore[type-arg]
    return RunResult(design=design, workload=workload, seed=1,
                     metrics=RunMetrics(real_s=10.0, user_s=1.0, sys_s=sys_s,
                                        throughput_kbps=1000.0, free_time_s=0.5),
                     vmstat={"pswpout": pswpout, "pswpin": 0, "zswpout": 7},
                     devices=[{"name": "/swapfile", "size_pages": 1024, "used_pages": 256,
                               "peak_used_pages": 512 if design == "classic" else 256}],
                     metadata_bytes={"swap_map": 1 << 20},
                     locks=locks or {}, data_loss=loss, verified_pages=100)


def _by_label(rows):  # type: ignore[no-untyped-def]
    return {r.label: r for r in rows}


def test_differences_are_flagged_with_their_ratio() -> None:
    rows = _by_label(comparison_rows([_run("classic", 341.09), _run("vswap", 373.01)]))
    sys_row = rows["sys (s)"]
    assert sys_row.values == (341.09, 373.01)
    assert sys_row.texts == ("341.1", "373.0 ×1.09")
    assert sys_row.differs == (False, True)
    real = rows["real (s)"]
    assert real.texts == ("10.00", "10.00") and real.differs == (False, False)
    peak = rows["swap device used, peak (MiB)"]
    assert peak.texts == ("2.000", "1.000 ×0.500") and peak.differs == (False, True)
    assert rows["swap metadata (MiB)"].texts == ("1.000", "1.000")


def test_significant_figures_keep_small_differences_visible() -> None:
    """Free times of 0.000429 s and 0.002775 s are not "0.00" and "0.00" (issue 19): every
    number shows four significant figures, and the 6.5x difference shows."""
    a, b = _run("classic", 1.0), _run("vswap", 1.0)
    a.metrics.free_time_s, b.metrics.free_time_s = 0.000429, 0.002775
    row = _by_label(comparison_rows([a, b]))["free time (s)"]
    assert row.texts == ("0.0004290", "0.002775 ×6.47") and row.differs == (False, True)
    assert format_number(658386.25) == "658,386"
    assert format_number(1.0936) == "1.094" and format_number(12) == "12"
    assert format_number(0) == "0" and format_number(None) == "-"
    assert format_number(1.0936, sig=3) == "1.09"


def test_a_zero_cell_carries_no_ratio() -> None:
    a, b = _run("classic", 1.0, pswpout=40), _run("vswap", 1.0, pswpout=0)
    row = _by_label(comparison_rows([a, b]))["pswpout"]
    assert row.texts == ("40", "0") and row.differs == (False, True)


def test_runs_of_different_bench_tables_are_not_compared() -> None:
    """A bench result holds one group per RFC table; each is compared with its own
    baseline, never swapoff's sys with usemem classic's."""
    import dataclasses

    runs = [dataclasses.replace(_run(d, s), configuration={"table": t}, workload=w)
            for d, s, t, w in (("classic", 341.0, "usemem", "usemem 2g"),
                               ("vswap", 373.0, "usemem", "usemem 2g"),
                               ("classic", 11.48, "swapoff", "swapoff --fill 0.5"),
                               ("vswap", 9.96, "swapoff", "swapoff --fill 0.5"))]
    groups = comparison_groups(runs)
    assert [[r.configuration["table"] for r in g] for g in groups] == [
        ["usemem", "usemem"], ["swapoff", "swapoff"]]
    out = io.StringIO()
    print_comparison(runs, Console(file=out, width=120))
    text = out.getvalue()
    assert "usemem: usemem 2g (seed 1); baseline classic" in text
    assert "swapoff: swapoff --fill 0.5 (seed 1); baseline classic" in text
    assert "9.960 ×0.868" in text and "×0.0292" not in text


def test_every_table_says_how_the_costs_were_obtained() -> None:
    runs = [_run("classic", 1.0), _run("vswap", 1.1)]
    assert comparison_table(runs).caption.startswith("costs: the built-in table")
    runs[1].costs = {"method": "calibrated", "kernel": "6.18.44", "file": "c.json",
                     "entries": {"fault_entry_exit": 700}}
    assert comparison_table(runs).caption.startswith("costs differ between these runs")


def test_rows_nobody_touched_are_left_out_but_metrics_stay() -> None:
    rows = _by_label(comparison_rows([_run("classic", 1.0), _run("vswap", 1.0)]))
    assert "pswpout" not in rows and "pswpin" not in rows and "zswpwb" not in rows
    assert rows["zswpout"].values == (7, 7)
    assert rows["data_loss"].values == (0, 0)
    assert "free time (s)" in rows
    assert not any(label.startswith("  RFC") for label in rows)
    assert not any("contentions" in label for label in rows)


def test_lock_rows_per_class_and_missing_cells() -> None:
    locks = {"swap_cache": {"contentions": 5, "wait_ns": 2_000_000}}
    rows = _by_label(comparison_rows([_run("classic", 1.0),
                                      _run("vswap", 1.0, locks=locks)]))
    assert rows["swap_cache contentions"].texts == ("-", "5")
    assert rows["swap_cache wait (ms)"].texts == ("-", "2.000")
    assert rows["swap_cache wait (ms)"].differs == (False, False)


def test_rfc_rows_appear_under_their_metric() -> None:
    a, b = _run("classic", 1.0), _run("vswap", 1.1)
    a.rfc, b.rfc = {"sys_s": 341.09}, {"sys_s": 373.01}
    labels = [r.label for r in comparison_rows([a, b])]
    assert labels[labels.index("sys (s)") + 1] == "  RFC sys (s)"
    assert "  RFC real (s)" not in labels


def test_rendered_table_styles_and_headers() -> None:
    runs = [_run("classic", 1.0), _run("vswap", 2.0, loss=3)]
    table = comparison_table(runs)
    assert [c.header for c in table.columns] == ["", "classic", "vswap"]
    cells = {str(table.columns[0]._cells[i]): i for i in range(len(table.columns[0]._cells))}
    sys_cell = table.columns[2]._cells[cells["sys (s)"]]
    assert isinstance(sys_cell, Text) and sys_cell.style == "bold yellow"
    assert table.columns[2]._cells[cells["data_loss"]].style == "bold red"
    assert table.columns[1]._cells[cells["sys (s)"]].style == ""
    assert table.title == "usemem -n 16 2g (seed 1); baseline classic"


def test_same_design_twice_gets_numbered_headers() -> None:
    runs = [_run("vswap", 1.0), _run("vswap", 1.0)]
    table = comparison_table(runs)
    assert [c.header for c in table.columns] == ["", "vswap #1", "vswap #2"]
