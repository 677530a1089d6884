"""``vswap run|compare --config FILE``: a TOML configuration drives timed runs, with the
command-line flags overriding it and ``scale`` shrinking the workloads' sizes too."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.cli._runopts import add_run_options, plan_from_args
from vswap.report.result import load_results
from vswap.run.fromconfig import scale_command
from vswap.workloads import parse_workload
from vswap.workloads._scale import scale_workload

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def test_scale_command_scales_sizes_and_sleeps_and_keeps_counts() -> None:
    # usemem's -s sleep is in seconds: it scales with the data (issue 19: every design
    # reported the full 10 s of real time at 1/128).
    assert scale_command("usemem --init-time -O -s 10 -n 16 2g", 1 / 128) == \
        "usemem --init-time -O -s 0.078125 -n 16 16M"
    assert scale_command("swapoff --fill 0.5", 0.01) == "swapoff --fill 0.5"
    assert scale_command("memhog 64K", 0.001) == "memhog 64K", "at least 16 pages"
    assert scale_command("memhog 3G", 1) == "memhog 3G"
    # kbuild's heap sizes are defaults: they scale too, and the command says so.
    assert scale_command("kbuild -j 52", 1 / 128) == \
        "kbuild -j 52 --heap 128K:512K --worker-heap 64K"
    assert scale_command("kbuild -j 8 --heap=32M:64M", 0.5) == \
        "kbuild -j 8 --heap=16M:32M --worker-heap 512K"
    assert scale_command("usemem -s10 -n 2 1G", 0.5) == "usemem -s5 -n 2 512M"


def test_scale_workload_says_what_it_scaled_and_kept() -> None:
    sc = scale_workload("usemem --init-time -w -O -s 10 -n 16 2g", 1 / 128)
    assert sc.scaled_text() == "usemem -s 10 -> 0.078125, SIZE 2g -> 16M"
    assert sc.kept_text() == "usemem -n 16 (processes)"
    kb = scale_workload("kbuild -j 52", 1 / 128)
    assert kb.scaled_text() == ("kbuild --heap 16M:64M -> 128K:512K (default), "
                                "--worker-heap 1M -> 64K (default)")
    assert kb.kept_text() == "kbuild -j 52 (make workers), --jobs 4 x -j (compile jobs)"
    assert scale_workload("stress-ng --pageswap 4", 0.1).scaled_text() == ""


def test_the_kernel_build_example_scales_its_workload_defaults(
        capsys: pytest.CaptureFixture[str]) -> None:
    """examples/rfc-kernel-build.toml at 0.002 ran 8.4 GiB of heaps in a 6 MiB limit
    (issue 19): the workload's default heap sizes were not scaled."""
    p = argparse.ArgumentParser()
    add_run_options(p, default_design="classic")
    plan = plan_from_args(p.parse_args(["--config", str(EXAMPLES / "rfc-kernel-build.toml"),
                                        "--scale", "0.002"]))
    (cmd,) = [c for _, c in plan.configs[0].workloads]
    assert cmd == "kbuild -j 52 --heap 64K:128K --worker-heap 64K"
    assert parse_workload(cmd).footprint_bytes() < 32 << 20
    lines = plan.header_lines()
    assert lines[0] == f"scale 0.002 of {EXAMPLES / 'rfc-kernel-build.toml'}:"
    assert "/kbuild memory.max 3G -> 6288K" in lines[1] and "--heap 16M:64M -> 64K:128K" \
        in lines[1]
    assert lines[2].startswith("  kept: 52 CPUs; kbuild -j 52 (make workers)")
    assert "kernel constants (swap-cache address spaces and zswap trees of 64M" in lines[2]


def test_scale_without_a_config_scales_the_flags(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["run", "--workload", "usemem -n 2 -O -s 1 8M", "--memory-max", "8M",
                 "--swap-device", "file:64M", "--scale", "1/4", "--cpus", "2",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "scale 0.25 of --scale:" in text
    assert "--memory-max 8M -> 2M" in text and "--swap-device file:64M -> 16M" in text
    assert "usemem -s 1 -> 0.25, SIZE 8M -> 2M" in text
    (r,) = load_results(out)
    assert r.workload == "usemem -n 2 -O -s 0.25 2M"
    assert r.configuration["memory_max"] == 2 << 20
    assert r.configuration["swap_devices"] == ["file:16M:nvme"]
    assert r.configuration["scaling"]["factor"] == 0.25
    # The sleep scaled: 0.25 s of it, not 1 s, in the run's real time.
    assert 0.25 <= r.metrics.real_s < 0.5


def test_flags_override_the_config(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert main(["run", "--config", str(EXAMPLES / "zswap-no-swapfile.toml"), "--scale", "0.01",
                 "--design", "vswap", "--cpus", "2", "--seed", "7", "--json", str(out)]) == 0
    (r,) = load_results(out)
    assert r.design == "vswap" and r.seed == 7 and r.configuration["cpus"] == 2
    assert r.devices == [], "no swap file: zswap only"
    assert r.vmstat["zswpout"] > 0 and r.data_loss == 0


@pytest.mark.parametrize("argv, message", [
    (["run", "--scale", "0"], "--scale: 0 is outside (0, 1024]"),
    (["run", "--scale", "1/0"], "--scale: '1/0' divides by zero"),
    (["run", "--scale", "half"], "--scale: 'half' is not a number or a fraction"),
    (["run", "--scale", "1/100000", "--swap-device", "file:1M"],
     "--swap-device file:1M at scale 1/100000 is 1 pages; a swap area needs at least 10"),
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
