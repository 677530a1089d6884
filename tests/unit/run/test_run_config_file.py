"""``vswap run|compare --config FILE``: a TOML configuration drives timed runs, with the
command-line flags overriding it and ``scale`` shrinking the workloads' sizes too."""

from __future__ import annotations

from pathlib import Path

import pytest

from vswap.cli import main
from vswap.report.result import load_results
from vswap.run.fromconfig import scale_command

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_scale_command_scales_only_suffixed_sizes() -> None:
    assert scale_command("usemem --init-time -O -s 10 -n 16 2g", 1 / 128) == \
        "usemem --init-time -O -s 10 -n 16 16M"
    assert scale_command("swapoff --fill 0.5", 0.01) == "swapoff --fill 0.5"
    assert scale_command("memhog 64K", 0.001) == "memhog 64K", "at least 16 pages"
    assert scale_command("memhog 3G", 1) == "memhog 3G"


def test_compare_two_cgroups_from_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    out = tmp_path / "two.json"
    assert main(["compare", "--config", str(EXAMPLES / "two-cgroups.toml"), "--scale", "0.005",
                 "--jobs", "1", "--json", str(out)]) == 0
    runs = load_results(out)
    assert [r.design for r in runs] == ["classic", "vswap"]
    for r in runs:
        assert r.data_loss == 0 and r.tasks_killed == 0
        assert {"/", "/services/web", "/services/db"} <= set(r.cgroups)
        assert r.configuration["config"].endswith("two-cgroups.toml")
        assert [d["type"] for d in r.devices] == ["partition", "file"]
        assert r.vmstat["pgfault"] > 0
    assert "/services/web" in capsys.readouterr().out


def test_flags_override_the_config(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["run", "--config", str(EXAMPLES / "zswap-no-swapfile.toml"), "--scale", "0.01",
                 "--design", "vswap", "--cpus", "2", "--seed", "7", "--json", str(out)]) == 0
    (r,) = load_results(out)
    assert r.design == "vswap" and r.seed == 7 and r.configuration["cpus"] == 2
    assert r.devices == [], "no swap file: zswap only"
    assert r.vmstat["zswpout"] > 0 and r.data_loss == 0


@pytest.mark.parametrize("argv, message", [
    (["run", "--scale", "0.5"], "--scale: only with --config"),
    (["run", "--config", "/nonexistent/x.toml"], "no such file"),
    (["compare", "--config", str(EXAMPLES / "two-cgroups.toml"), "--scale", "0"],
     "--scale"),
    (["compare", "--config", str(EXAMPLES / "two-cgroups.toml"), "--design", "nope"],
     "unknown swap design"),
])
def test_config_bad_input_is_one_line(argv: list[str], message: str,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error:") and message in err and err.count("\n") == 1
