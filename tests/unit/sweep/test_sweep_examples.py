"""The sweep examples (examples/sweep-*.toml) and the README's sweep, run small: each a slice
of its grid (``--where``), with what docs/sweeps.md says it shows asserted."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.sweep import load_sweep, read_table, run_sweep

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
#: The README's sweep commands, as written there; the first runs a slice of the grid here.
README_SWEEP = (
    "bin/vswap sweep examples/sweep-zswap-swapfile.toml --out sweeps/swapfile --jobs 2",
    "bin/vswap sweep table sweeps/swapfile",
    "bin/vswap sweep plot sweeps/swapfile --x memory.max --y peak_used_pages --hue design")
SLICE = ["--where", "seed == 1 and memory.max in ['12M', '28M']"]


def test_the_examples_and_their_grids() -> None:
    grids = {p.stem: load_sweep(p) for p in sorted(EXAMPLES.glob("sweep-*.toml"))}
    assert {k: len(v.points()) for k, v in grids.items()} == {
        "sweep-zswap-swapfile": 20, "sweep-free-time-threads": 20,
        "sweep-zswap-compressor": 24}
    assert grids["sweep-free-time-threads"].param_names == ["design", "seed",
                                                            "workloads[0].-n"]
    assert grids["sweep-zswap-compressor"].param_names == [
        "design", "seed", "zswap.compressor", "zswap.max_pool_percent"]
    for name, spec in grids.items():
        assert f"vswap sweep examples/{name}.toml" in spec.text, "the header says how to run"


def test_readme_sweep_from_spec_to_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """The README's three commands in a directory laid out like a clone; the sweep on a
    slice of its grid (2 of 5 memory.max values, 1 of 2 seeds)."""
    readme = (ROOT / "README.md").read_text()
    assert all(f"\n{cmd}" in readme for cmd in README_SWEEP)
    (tmp_path / "examples").symlink_to(EXAMPLES)
    monkeypatch.chdir(tmp_path)
    run, table, plot = (shlex.split(c)[1:] for c in README_SWEEP)
    assert main(run + SLICE) == 0
    assert "4 points: 4 ran now, 0 done before, 0 failed (pool, 2 at a time" in \
        capsys.readouterr().out
    assert main(table) == 0
    out = capsys.readouterr().out
    assert "4 points" in out and "1,656" in out, "classic at 28M: 1,656 slots at the peak"
    assert main(plot) == 0
    png = Path(capsys.readouterr().out.strip())
    assert png == Path("sweeps/swapfile/peak_used_pages-vs-memory.max.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    rows = {(r["design"], r['cgroups."/app".memory.max']): r
            for r in read_table("sweeps/swapfile").rows}
    for mem in ("12M", "28M"):
        c, v = rows["classic", mem], rows["vswap", mem]
        assert c["tasks_killed"] == v["tasks_killed"] == 0
        # Classic: the swapfile holds zswap's pages too; vswap: only what went to disk.
        assert c["devices[0].peak_used_pages"] > v["devices[0].peak_used_pages"]
        assert v["devices[0].peak_used_pages"] == v["vmstat.pswpout"]
    assert rows["vswap", "28M"]["devices[0].peak_used_pages"] == 0
    assert rows["vswap", "12M"]["devices[0].peak_used_pages"] > 0, "the pool overflowed"
    assert rows["classic", "12M"]["devices[0].peak_used_pages"] > \
        rows["classic", "28M"]["devices[0].peak_used_pages"]


def test_free_time_regression_starts_when_the_processes_swap(tmp_path: Path) -> None:
    run_sweep(EXAMPLES / "sweep-free-time-threads.toml", tmp_path, jobs=2,
              where="seed == 1 and -n in [4, 8]")
    rows = {(r["design"], r["workloads[0].-n"]): r for r in read_table(tmp_path).rows}
    assert len(rows) == 4 and all(r["status"] == "ok" for r in rows.values())
    free = {k: r["metrics.free_time_s"] for k, r in rows.items()}
    assert rows["vswap", 4]["vmstat.pswpout"] == 0 and free["vswap", 4] == free["classic", 4]
    assert rows["vswap", 8]["vmstat.pswpout"] > 0
    assert free["vswap", 8] > 1.5 * free["classic", 8]


def test_compressor_and_pool_limit(tmp_path: Path) -> None:
    run_sweep(EXAMPLES / "sweep-zswap-compressor.toml", tmp_path, jobs=2,
              where="seed == 1 and max_pool_percent == 2")
    rows = {r["zswap.compressor"]: r for r in read_table(tmp_path).rows}
    assert sorted(rows) == ["lz4", "lzo", "zstd"]
    wb = {k: r["kernel_stats.zswap.written_back_pages"] for k, r in rows.items()}
    assert wb["zstd"] == 0 < wb["lz4"] and wb["lzo"] > 0, "zstd fits the small pool"
    assert rows["zstd"]["metrics.sys_s"] > rows["lz4"]["metrics.sys_s"], "zstd costs more CPU"
