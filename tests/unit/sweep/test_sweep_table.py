"""Table building and reading, aggregates and plots on made-up rows (no run here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vswap.errors import ConfigError
from vswap.sweep.aggregate import aggregate, aggregate_table, format_stat
from vswap.sweep.plot import _x_positions, plot_sweep
from vswap.sweep.table import SweepTable, _arrow_table, _column_type, flatten_result


def _table() -> SweepTable:
    rows = []
    for i, (design, mem, seed, real) in enumerate([
            ("classic", "8M", 1, 1.0), ("classic", "8M", 2, 3.0), ("classic", "8M", 3, 2.0),
            ("vswap", "8M", 1, 4.0), ("vswap", "8M", 2, 5.0), ("vswap", "8M", 3, None),
            ("classic", "16M", 1, 0.5), ("vswap", "16M", 1, 0.25)]):
        rows.append({"point": i, "id": f"p{i}", "design": design, "seed": seed,
                     'cgroups."/a".memory.max': mem, "status": "ok" if real else "failed",
                     "error": None if real else "ConfigError: x", "metrics.real_s": real,
                     "vmstat.pswpout": 10 * i, "workload": "usemem", "provenance.wall_s": 0.1})
    cols = list(rows[0])
    return SweepTable(rows, cols, ["design", "seed", 'cgroups."/a".memory.max'],
                      ["metrics.real_s"], "t")


def test_median_and_spread_over_seeds_count_ok_points_only() -> None:
    agg = aggregate(_table())
    assert agg.keys == ["design", 'cgroups."/a".memory.max']
    g = agg.groups[0]
    assert (g.key, g.ok, g.failed) == (("classic", "8M"), 3, 0)
    st = g.stats["metrics.real_s"]
    assert st is not None and (st.median, st.low, st.high, st.n) == (2, 1, 3, 3)
    assert format_stat(st) == "2 (1–3)"
    v = agg.groups[1]
    assert (v.ok, v.failed) == (2, 1)
    assert format_stat(v.stats["metrics.real_s"]) == "4.500 (4–5)"
    rendered = aggregate_table(agg, title=None)
    assert [c.header for c in rendered.columns] == ["design", "memory.max", "points",
                                                    "failed", "real_s"]


def test_group_by_and_where() -> None:
    agg = aggregate(_table(), group_by=["design"], where="memory.max == 16M",
                    metrics=["pswpout"])
    assert [(g.key, g.ok) for g in agg.groups] == [(("classic",), 1), (("vswap",), 1)]
    assert agg.metrics == ["vmstat.pswpout"] and agg.labels == {"vmstat.pswpout": "pswpout"}
    with pytest.raises(ConfigError, match="does not hold numbers"):
        aggregate(_table(), metrics=["workload"])
    with pytest.raises(ConfigError, match="'error' is not a column"):
        aggregate(_table(), metrics=["error"])


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_draws_lines_with_a_band(tmp_path: Path, suffix: str) -> None:
    out = plot_sweep(_table(), x="memory.max", y="real_s", hue="design",
                     out=tmp_path / f"f{suffix}")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG" if suffix == ".png" else b"<?xml")
    if suffix == ".svg":
        text = data.decode()
        assert "design=classic" in text and "design=vswap" in text
        # A band per line: at 8M each design's seeds disagree (classic 1..3, vswap 4..5).
        assert text.count('id="FillBetweenPolyCollection_') == 2


def test_plot_refuses_mixed_lines_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="design takes several values"):
        plot_sweep(_table(), x="memory.max", y="real_s", out=tmp_path / "f.png")
    with pytest.raises(ConfigError, match=r"give a \.png or \.svg file"):
        plot_sweep(_table(), x="memory.max", y="real_s", hue="design", out=tmp_path / "f.pdf")
    with pytest.raises(ConfigError, match="'nope' is not a column"):
        plot_sweep(_table(), x="nope", y="real_s", out=tmp_path / "f.png")


def test_x_axis_kinds() -> None:
    assert _x_positions([1, 2, 4, 16]) == ([1.0, 2.0, 4.0, 16.0], "", True)
    assert _x_positions(["8M", "16M"]) == ([8.0, 16.0], " (MiB)", False)
    assert _x_positions(["lz4", "zstd"]) == ([0.0, 1.0], "", False)


def test_flatten_and_column_types() -> None:
    cols, prov = flatten_result({
        "design": "vswap", "seed": 1, "workload": "usemem 1M", "timeline": [{"t_ns": 1}],
        "metrics": {"real_s": 1.5, "wall_s": 9.0, "page_events_per_wall_s": 3.0},
        "devices": [{"name": "a", "peak_used_pages": 4}],
        "cgroups": {"/a.slice": {"memory.stat": {"anon": 5}}},
        "workload_metrics": {"throughputs_kbps": [1, 2]},
        "costs": {"method": "default"}})
    assert cols == {"workload": "usemem 1M", "metrics.real_s": 1.5, "devices[0].name": "a",
                    "devices[0].peak_used_pages": 4,
                    'cgroups."/a.slice".memory.stat.anon': 5}
    assert prov == {"provenance.wall_s": 9.0, "provenance.page_events_per_wall_s": 3.0,
                    "provenance.costs.method": "default"}
    assert [_column_type(v) for v in ([1, None, 2], [1, 2.5], [True, False], ["8M", 1],
                                      [None])] == ["int64", "float64", "bool", "string",
                                                   "string"]
    table = _arrow_table([{"a": 1, "b": "x"}, {"a": 2.5, "c": True}], [], [])
    assert table.column_names == ["point", "id", "status", "error", "a", "b", "c"]
    assert table.column("a").to_pylist() == [1.0, 2.5]
    assert table.column("c").to_pylist() == [None, True]
