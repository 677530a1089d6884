"""Sweep specifications: the grid, the filter, values written into the configuration, ids,
and one-line errors for bad specs (no run happens here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.errors import ConfigError
from vswap.sweep import loads_sweep
from vswap.sweep.spec import column_name, set_option

BASE = """
designs = ["classic", "vswap"]
seed = 1
[machine]
ram = "64M"
cpus = 2
[[swap]]
type = "file"
size = "16M"
[cgroups."/app"]
memory.max = "8M"
[[workloads]]
cgroup = "/app"
command = "usemem -n 1 4M"
"""


def test_grid_is_the_product_in_written_order_with_designs_fastest() -> None:
    spec = loads_sweep(BASE + """
[sweep]
seed = [1, 2]
[sweep.cgroups."/app"]
memory.max = ["4M", "8M", "max"]
""")
    pts = spec.points()
    assert spec.param_names == ["design", "seed", 'cgroups."/app".memory.max']
    assert len(pts) == 2 * 3 * 2
    assert [p.index for p in pts] == list(range(12))
    assert [tuple(p.params.values()) for p in pts[:4]] == [
        ("classic", 1, "4M"), ("vswap", 1, "4M"), ("classic", 1, "8M"), ("vswap", 1, "8M")]
    assert pts[-1].params == {"design": "vswap", "seed": 2, 'cgroups."/app".memory.max': "max"}
    # Each point is its own validated configuration, one design, its own seed.
    p = pts[5]
    assert p.config.designs == ("vswap",) and p.config.seed == 1
    assert p.config.cgroup("/app") is not None
    assert p.config.cgroup("/app").knobs["memory.max"] == "max"  # type: ignore[union-attr]
    assert len({q.id for q in pts}) == 12


def test_ids_depend_on_the_configuration_only() -> None:
    a = loads_sweep(BASE + "[sweep]\nseed = [1, 2]\n", source="a.toml").points()
    b = loads_sweep(BASE + "[sweep]\nseed = [2, 3]\n", source="b.toml").points()
    assert {p.id for p in a} & {p.id for p in b} == {p.id for p in a if p.params["seed"] == 2}
    changed = loads_sweep(BASE.replace('ram = "64M"', 'ram = "128M"')
                          + "[sweep]\nseed = [1, 2]\n").points()
    assert not {p.id for p in a} & {p.id for p in changed}


def test_design_axis_and_filter() -> None:
    spec = loads_sweep(BASE + """
[sweep]
designs = ["classic", "vswap", "vswap-v6"]
seed = [1, 2, 3]
where = "not (design == 'classic' and seed > 1)"
""")
    pts = spec.points()
    # Written order: designs first, so they vary slowest.
    assert [(p.params["design"], p.params["seed"]) for p in pts] == [
        ("classic", 1), ("vswap", 1), ("vswap", 2), ("vswap", 3), ("vswap-v6", 1),
        ("vswap-v6", 2), ("vswap-v6", 3)]
    assert [p.params["design"] for p in spec.points("seed == 3")] == ["vswap", "vswap-v6"]


def test_workload_options_swap_and_new_tables() -> None:
    spec = loads_sweep(BASE + """
[sweep]
[sweep.zswap]
compressor = ["lz4", "zstd"]
[[sweep.swap]]
size = ["16M", "32M"]
[[sweep.workloads]]
-n = [1, 4]
""")
    pts = spec.points()
    assert spec.param_names == ["design", "seed", "zswap.compressor", "swap[0].size",
                                "workloads[0].-n"]
    last = pts[-1]
    assert last.config.zswap is not None and last.config.zswap.compressor == "zstd"
    assert last.config.devices[0].size == 32 << 20
    assert last.config.workloads[0].command == "usemem -n 4 4M"


def test_set_option() -> None:
    assert set_option("usemem -n 1 4M", "-n", 8) == "usemem -n 8 4M"
    assert set_option("usemem 4M", "-n", 8) == "usemem -n 8 4M"
    assert set_option("usemem -O 4M", "-O", False) == "usemem 4M"
    assert set_option("usemem 4M", "-O", True) == "usemem -O 4M"
    assert set_option("kbuild --heap=1M -j 4", "--heap", "2M") == "kbuild --heap=2M -j 4"


def test_quoted_and_dotted_cgroup_keys_are_one_column() -> None:
    quoted = BASE.replace('memory.max = "8M"', '"memory.max" = "8M"')
    spec = loads_sweep(quoted + '[sweep.cgroups."/app"]\n"memory.max" = ["4M", "6M"]\n')
    assert spec.param_names[-1] == 'cgroups."/app".memory.max'
    assert [p.config.cgroups[0].knobs["memory.max"] for p in spec.points()][::2] == ["4M", "6M"]
    assert column_name(("cgroups", "/a.slice", "memory", "max")) == \
        'cgroups."/a.slice".memory.max'


@pytest.mark.parametrize(("extra", "message"), [
    ("", "no [sweep] table"),
    ("[sweep]\nseed = 3\n", "sweep.seed: expected a list of values to try"),
    ("[sweep]\nseed = []\n", "sweep.seed: an empty list"),
    ("[sweep]\nseed = [1, 1]\n", "sweep.seed: a value is listed twice"),
    ("[sweep]\ndesigns = ['classic', 'nope']\n", "designs[0]: unknown swap design 'nope'"),
    ('[sweep.cgroups."/app"]\nmemory.maxx = ["1M"]\n', "unknown cgroup knob"),
    ('[sweep.cgroups."/app"]\nmemory.max = ["1.5M"]\n', "memory.max=1.5M"),
    ("[[sweep.workloads]]\n[[sweep.workloads]]\n-n = [2]\n",
     "sweep.workloads[1].-n: the configuration has 1 workloads entry"),
    ("[sweep.zswap]\n", "sweep.zswap: an empty table sweeps nothing"),
    ("[[sweep.swap]]\nsize = ['1M']\n[[sweep.swap]]\nsize = ['2M']\n",
     "sweep.swap[1].size: the configuration has 1 swap entry"),
    ("[sweep]\nseed = [1]\nwhere = 'nope == 1'\n", "name 'nope' is not a column"),
    ("[sweep]\nseed = [1]\nwhere = 'seed > 5'\n", "the sweep has no points"),
    ("[sweep]\nseed = [1, 2]\nwhere = '__import__(\"os\")'\n", "sweep.where"),
])
def test_bad_specs_are_one_line_errors(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        loads_sweep(BASE + extra, source="s.toml").points()
    text = str(err.value)
    assert message in text and "\n" not in text and text.startswith("s.toml")


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(BASE + "[sweep]\nseed = [1, 2]\n")
    for argv, message in [
        (["sweep", str(spec)], "give --out DIR"),
        (["sweep", str(tmp_path / "none.toml"), "--out", "d"], "no such file"),
        (["sweep", str(spec), "--out", str(tmp_path / "d"), "--x", "seed"],
         "--x belongs to `vswap sweep table|plot`"),
        (["sweep", "table"], "give the sweep's directory"),
        (["sweep", "table", str(tmp_path)], "not a sweep directory"),
        (["sweep", "plot", str(tmp_path), "--x", "seed"], "give --x KEY and --y METRIC"),
        (["sweep", "table", str(tmp_path), "--jobs", "2"], "--jobs belongs to"),
        (["sweep", str(spec), "--out", str(tmp_path / "d"), "--jobs", "-1"], "negative"),
    ]:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("vswap: error: ") and message in err and err.count("\n") == 1


def test_dry_run_lists_the_points(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(BASE + "[sweep]\nseed = [1, 2]\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path / "d"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "4 points"
    assert "to run  design=vswap seed=2" in lines[3]
    assert not (tmp_path / "d").exists(), "a dry run writes nothing"


def test_the_docs_example_spec_loads() -> None:
    text = (Path(__file__).resolve().parents[3] / "docs" / "sweeps.md").read_text()
    block = re.search(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert block is not None
    spec = loads_sweep(block.group(1), source="docs/sweeps.md")
    assert spec.param_names == ["design", "seed", "scale", "machine.cpus", "zswap.compressor",
                                "zswap.max_pool_percent", 'cgroups."/app".memory.max',
                                "swap[0].size", "workloads[0].-n"]
    # 2 designs x 3 seeds x 2 x 2 x 2 x 2 x 3 x 2 x 3, less classic's seeds 2 and 3.
    assert len(spec.points()) == 2 * 3 * 288 - 2 * 288
