"""Running sweeps: the same table in this process and on the process pool, failed points
recorded and rerun, finished points skipped, the table, aggregates and plots of a real
sweep."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sweephelpers import TINY, model_columns, write_spec

from vswap.cli import main
from vswap.sweep import read_table, run_sweep
from vswap.sweep.aggregate import aggregate
from vswap.sweep.store import SweepDir


def test_pool_gives_the_same_table_as_serial(serial: Path, tmp_path: Path) -> None:
    summary = run_sweep(write_spec(tmp_path), tmp_path / "out", jobs=2)
    assert (summary.executor, summary.slots, summary.ok) == ("pool", 2, 8)
    assert model_columns(tmp_path / "out/results.parquet").equals(
        model_columns(serial / "results.parquet"))
    prov = read_table(tmp_path / "out").rows[0]
    assert prov["provenance.executor"] == "pool" and prov["provenance.wall_s"] > 0


def test_the_table_holds_params_metrics_counters_and_provenance(serial: Path) -> None:
    t = read_table(serial)
    assert t.params == ["design", "seed", 'cgroups."/app".memory.max']
    assert t.metrics == ["metrics.real_s", "devices[0].peak_used_pages"]
    assert [r["point"] for r in t.rows] == list(range(8))
    r = t.rows[0]
    assert (r["design"], r["seed"], r['cgroups."/app".memory.max']) == ("classic", 1, "1M")
    assert r["status"] == "ok" and r["error"] is None
    for col in ("metrics.real_s", "metrics.free_time_s", "vmstat.pswpout", "vmstat.zswpout",
                "meminfo.SwapTotal", "devices[0].peak_used_pages",
                'cgroups."/app".memory.stat.zswapped', "kernel_stats.zswap.peak_stored_pages",
                "locks.swap_cache.acquisitions", "peak.vmstat.zswpout", "data_loss",
                'cgroup_results."/app".free_time_s', "provenance.costs.method"):
        assert col in t.columns, col
    assert "metrics.wall_s" not in t.columns and "provenance.wall_s" in t.columns
    assert all(r["provenance.overhead_s"] >= 0 for r in t.rows)
    # memory.max 1M swaps into zswap; 2M holds the two 1M processes' pages (less a few).
    by = {(r["design"], r['cgroups."/app".memory.max'], r["seed"]): r for r in t.rows}
    assert by["classic", "1M", 1]["vmstat.zswpout"] > 200
    assert by["classic", "1M", 1]["devices[0].peak_used_pages"] > 200, "classic: a slot each"
    assert by["vswap", "1M", 1]["devices[0].peak_used_pages"] == 0, "vswap: virtual slots"


def test_aggregate_over_seeds(serial: Path) -> None:
    t = read_table(serial)
    agg = aggregate(t)
    assert agg.keys == ["design", 'cgroups."/app".memory.max']
    assert [g.key for g in agg.groups] == [("classic", "1M"), ("vswap", "1M"),
                                           ("classic", "2M"), ("vswap", "2M")]
    g = agg.groups[0]
    assert g.ok == 2 and g.failed == 0
    stat = g.stats["metrics.real_s"]
    assert stat is not None and stat.n == 2 and stat.low <= stat.median <= stat.high
    agg = aggregate(t, where="design == 'vswap'", group_by=["memory.max"],
                    metrics=["zswpout"])
    assert agg.rows == 4 and agg.metrics == ["vmstat.zswpout"]
    assert [g.key for g in agg.groups] == [("1M",), ("2M",)]


def test_cli_table_and_plot(serial: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "table", str(serial), "--metric", "real_s,zswpout"]) == 0
    out = capsys.readouterr().out
    assert "8 points" in out and "classic" in out and "zswpout" in out
    assert main(["sweep", "table", str(serial), "--where", "memory.max == 1M",
                 "--group-by", "design"]) == 0
    assert "4 points where memory.max == 1M" in capsys.readouterr().out
    for suffix, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml")):
        out_file = tmp_path / f"fig{suffix}"
        assert main(["sweep", "plot", str(serial), "--x", "memory.max", "--y",
                     "peak_used_pages", "--hue", "design", "--out", str(out_file)]) == 0
        assert capsys.readouterr().out.strip() == str(out_file)
        assert out_file.read_bytes().startswith(magic)
    # Without --hue the two designs would share a line: refused, naming the way out.
    assert main(["sweep", "plot", str(serial), "--x", "memory.max", "--y", "real_s",
                 "--out", str(tmp_path / "x.png")]) == 2
    assert "design takes several values" in capsys.readouterr().err


def test_failed_points_are_recorded_and_rerun_finished_ones_skipped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # RAM of 80K is refused when the run builds its machine (too small for its
    # watermarks), after the spec is read: those points fail and the others run.
    spec = write_spec(tmp_path, TINY.replace("[sweep]\nseed = [1, 2]",
                                             "[sweep]\nseed = [1]")
                      + '[sweep.machine]\nram = ["32M", "80K"]\n')
    out = tmp_path / "out"
    assert main(["sweep", str(spec), "--out", str(out), "--jobs", "1"]) == 1
    text = capsys.readouterr().out
    assert "8 points: 4 ran now, 0 done before, 4 failed" in text
    assert text.count("  failed: point ") == 4
    rows = read_table(out).rows
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["machine.ram"] for r in failed] == ["80K"] * 4
    assert all(r["error"] and "\n" not in r["error"] and r["metrics.real_s"] is None
               for r in failed)
    store = SweepDir(out)
    ok_before = {p.name: p.stat().st_mtime_ns for p in store.points_dir.glob("*.json")
                 if json.loads(p.read_text())["status"] == "ok"}
    # The rerun runs the failed points again (they fail again) and skips the ok ones.
    assert main(["sweep", str(spec), "--out", str(out), "--jobs", "1"]) == 1
    assert "8 points: 0 ran now, 4 done before, 4 failed" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in store.points_dir.glob("*.json")
            if p.name in ok_before} == ok_before
    assert main(["sweep", "table", str(out)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "80K" in line and "│" in line)
    cells = [c.strip() for c in row.split("│")]
    assert cells[1:8] == ["classic", "1M", "80K", "0", "1", "-", "-"], "0 ok, 1 failed"
    assert out.count("failed: point ") == 4 and "ConfigError: " in out


def test_a_directory_of_something_else_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other.txt").write_text("mine")
    assert main(["sweep", str(write_spec(tmp_path)), "--out", str(tmp_path)]) == 2
    assert (tmp_path / "other.txt").read_text() == "mine"
