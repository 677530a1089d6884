"""``vswap parity``: the side-by-side table from saved host and model results (no root)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from vswap.cli import main
from vswap.cli.parity import default_designs, format_parity
from vswap.host.parity import COUNTERS, parity_rows
from vswap.report.result import RunMetrics, RunResult, save_results
from vswap.swap import DESIGNS


def _host() -> RunResult:
    return RunResult(
        design="host", workload="pattern --size 8M --content text", seed=0,
        configuration={"memory_max": 4 << 20, "swap_devices": ["file:1G"], "zswap": "lzo",
                       "kernel": "6.18.44"},
        metrics=RunMetrics(real_s=2.0, user_s=0.1, sys_s=0.5, free_time_s=0.01),
        vmstat={"pgfault": 4096, "pgmajfault": 300, "zswpout": 1000, "zswpin": 1000,
                "swap_ra": 0},
        devices=[{"peak_used_pages": 0, "used_pages": 0}],
        kernel_stats={"zswap": {"peak_stored_pages": 1000, "peak_pool_total_size": 2 << 20,
                                "written_back_pages": 0, "reject_compress_poor": 0}})


def _model(design: str = "classic") -> RunResult:
    return RunResult(
        design=design, workload="pattern --size 8M --content text", seed=1,
        metrics=RunMetrics(real_s=1.0, user_s=0.1, sys_s=0.4, free_time_s=0.02),
        vmstat={"pgfault": 4096, "pgmajfault": 330, "zswpout": 1100, "zswpin": 900,
                "swap_ra": 12},
        devices=[{"peak_used_pages": 0, "used_pages": 0}],
        kernel_stats={"zswap": {"peak_stored_pages": 1050, "peak_pool_total_size": 1 << 20,
                                "written_back_pages": 0, "reject_compress_poor": 0}},
        costs={"method": "default"})


def test_rows_pair_every_value_with_its_ratio() -> None:
    rows = parity_rows(_host().to_dict(), [_model().to_dict()])
    by = {(r["group"], r["name"]): r for r in rows}
    assert [n for g, n in by if g == "counters"] == list(COUNTERS)
    assert by[("counters", "zswpout")]["models"]["classic"]["ratio"] == pytest.approx(1.1)
    assert by[("counters", "zswpin")]["models"]["classic"]["ratio"] == pytest.approx(0.9)
    # A kernel value of 0 has no ratio; the model's value is still shown.
    ra = by[("counters", "swap_ra")]["models"]["classic"]
    assert ra == {"value": 12.0, "ratio": None}
    assert by[("zswap", "peak_pool_total_size")]["models"]["classic"]["ratio"] == 0.5
    assert by[("times", "sys_s")]["models"]["classic"]["ratio"] == pytest.approx(0.8)
    assert ("swapoff", "real_s") not in by and ("zram", "peak orig_data_size") not in by


def test_table_prints_both_sides() -> None:
    console = Console(width=200, record=True)
    console.print(format_parity(_host().to_dict(), [_model().to_dict(),
                                                    _model("vswap").to_dict()]))
    text = console.export_text()
    assert "6.18.44" in text and "classic" in text and "vswap" in text
    line = next(x for x in text.splitlines() if "counters: zswpout" in x)
    assert "1000" in line and "1100" in line and "1.100" in line


def test_parity_from_a_saved_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_results(tmp_path / "parity.json", [_host(), _model()])
    assert main(["parity", "--from", str(path)]) == 0
    out = capsys.readouterr().out
    assert "counters: pswpout" in out and "costs: the built-in table" in out
    only_model = save_results(tmp_path / "model.json", [_model()])
    assert main(["parity", "--from", str(only_model)]) == 2
    assert "a parity file holds one host result" in capsys.readouterr().err


def test_default_designs_follow_the_registry() -> None:
    assert default_designs()[0] == "classic"
    assert ("swap-table-p1" in default_designs()) == ("swap-table-p1" in DESIGNS)
