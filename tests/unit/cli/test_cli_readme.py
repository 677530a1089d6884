"""The README's commands, run as a new user would run them from a fresh clone.

Every command in the README's ``sh`` blocks and every ``bin/vswap ...`` it names in its
prose is found here (:func:`readme_commands`) and run in a scratch directory laid out like
the repository (``examples/`` beside it), with an assertion on what the README says it does.
Commands run exactly as written, except the few in :data:`SHORTENED`, which get flags that
make them small (each with the reason), and ``bin/test``, which is this suite. A command
added to the README without a case here fails :func:`test_every_readme_command_is_covered`.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.report.result import load_results
from vswap.swap import DESIGNS

ROOT = Path(__file__).resolve().parents[3]
README = ROOT / "README.md"

#: Commands run with extra flags that make them small, and why.
SHORTENED: dict[str, tuple[list[str], str]] = {
    "bin/vswap bench rfc": (["--scale", "1/8192", "--jobs", "2"],
                            "the default scale (1/128) takes about a minute; at 1/8192 the "
                            "kernel build's workers do not fit its memory.max and some are "
                            "OOM-killed, so the command exits 4 (docs/cli.md)"),
    "bin/vswap bench rfc --json results/bench_rfc.json": (
        ["--scale", "1/8192", "--jobs", "2"], "as above"),
    "bin/vswap bench upstream": (
        ["--scale", "1/8192", "--jobs", "2", "--table", "v6", "--json",
         "results/bench_upstream.json"],
        "the default scale (1/1024) takes about two minutes; the v6 set alone, as the other "
        "sets run in tests/unit/run/test_run_upstream.py"),
    ".venv/bin/python benchmarks/bench_swapfile.py": (
        ["--quick", "--json", "results/bench_swapfile.json"],
        "--quick is the script's smoke size; --json keeps the repository's results/ as is"),
    ".venv/bin/python benchmarks/bench_zswap.py": (["--quick"], "the script's smoke size"),
    ".venv/bin/python benchmarks/bench_vswap.py": (["--quick"], "the script's smoke size"),
    ".venv/bin/python benchmarks/bench_mm.py": (["--mib", "2"], "64 MiB takes minutes"),
    ".venv/bin/python benchmarks/bench_scale.py": (
        ["--quick", "--json", "results/bench_scale.json"],
        "--quick is the script's smoke size; --json keeps the repository's results/ as is"),
}
#: The README's sweep, from spec to plot: run by tests/unit/sweep/test_sweep_examples.py.
SWEEP_README = (
    "bin/vswap sweep examples/sweep-zswap-swapfile.toml --out sweeps/swapfile --jobs 2",
    "bin/vswap sweep table sweeps/swapfile",
    "bin/vswap sweep plot sweeps/swapfile --x memory.max --y peak_used_pages --hue design")
#: Run by tests/unit/trace/test_trace_readme.py (the traces section).
TRACE_COMMANDS = {
    "bin/vswap trace record --out ls.npz --filter 16 -- ls -l /",
    'bin/vswap compare --workload "trace ls.npz" --memory-max 128K --json ls-128k.json',
    'bin/vswap compare --workload "trace ls.npz" --memory-max 384K --reclaim lru '
    '--json ls-384k.json',
    "VSWAP_EXTRAS=xcheck bin/vswap xcheck libcachesim ls.npz --memory 128K --memory 384K",
    ".venv/bin/python benchmarks/bench_trace.py"}
#: Not run: what they are.
NOT_RUN = {"bin/test": "this test suite itself",
           "bin/vswap ARGS": "a placeholder for any subcommand"}


def readme_commands() -> list[str]:
    """The README's commands: each line of its ``sh`` blocks (comments dropped) and each
    ``bin/...`` code span in its prose (table rows are synopses, checked by the docs test)."""
    commands: list[str] = []
    in_block = False
    for line in README.read_text().splitlines():
        if line.startswith("```"):
            in_block = line.strip() == "```sh"
            continue
        if in_block:
            cmd = line.split("#", 1)[0].strip()
            if cmd:
                commands.append(cmd)
        elif not line.startswith("|"):
            commands += re.findall(r"`((?:bin|\.venv/bin)/[^`]+)`", line)
    return list(dict.fromkeys(commands))


def test_every_readme_command_is_covered() -> None:
    cmds = set(readme_commands())
    covered = set(SHORTENED) | set(NOT_RUN) | {
        "bin/vswap demo",
        "bin/vswap compare --config examples/two-cgroups.toml --scale 0.01 --json two.json",
        "bin/vswap stat two.json --table", "bin/vswap stat two.json --view swaps --at peak",
        "bin/vswap plot two.json --out plots/"} | set(SWEEP_README) | TRACE_COMMANDS
    assert cmds == covered


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch directory that looks like the repository's root to a command."""
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    (tmp_path / "benchmarks").symlink_to(ROOT / "benchmarks")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _vswap(command: str) -> int:
    argv = shlex.split(command)
    assert argv[0] == "bin/vswap"
    extra = SHORTENED.get(command, ([], ""))[0]
    return main(argv[1:] + extra)


def test_readme_configuration_commands(clone: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    """compare two-cgroups.toml, then stat and plot its result, as the README writes them;
    the example's point: under classic, zswap pages hold a device slot and are charged to
    memory.swap, under vswap only device slots are."""
    assert _vswap("bin/vswap compare --config examples/two-cgroups.toml --scale 0.01 "
                  "--json two.json") == 0
    out = capsys.readouterr().out
    assert "scale 0.01 of examples/two-cgroups.toml:" in out
    assert "/services/web memory.max 1G -> 10484K" in out and "memhog SIZE 3G -> 31456K" in out
    assert "/services/web memory.swap.peak (MiB)" in out
    runs = {r.design: r for r in load_results(clone / "two.json")}
    for r in runs.values():
        assert r.data_loss == 0 and r.tasks_killed == 0
        assert {"/", "/services", "/services/web", "/services/db"} <= set(r.cgroups)
        assert r.configuration["config"] == "examples/two-cgroups.toml"
        assert [d["type"] for d in r.devices] == ["partition", "file"]
    for path in ("/services/web", "/services/db"):
        c, v = runs["classic"].cgroup_results[path], runs["vswap"].cgroup_results[path]
        assert c["zswpout"] > 0 and v["zswpout"] > 0
        assert c["swap_peak_bytes"] >= c["zswpout"] * 4096 // 2, "zswap pages charged"
        assert v["swap_peak_bytes"] == 0, "vswap charges device slots only (none used)"
    assert runs["classic"].cgroup_results["/services/web"]["throughput_kbps"] > 0

    assert _vswap("bin/vswap stat two.json --table") == 0
    table = capsys.readouterr().out
    assert "classic" in table and "vswap" in table and "/services/db memory.swap.peak" in table
    assert "calibrated on kernel 6.18" in " ".join(table.split())  # the default table

    assert _vswap("bin/vswap stat two.json --view swaps --at peak") == 0
    swaps = capsys.readouterr().out
    assert swaps.startswith("==> classic <==\nFilename\t\t\t\tType")
    classic_peak = swaps.split("==> vswap <==")[0]
    used = int(classic_peak.splitlines()[2].split()[3])
    assert used > 0, "at the peak the zram device holds classic's zswap slots"

    assert _vswap("bin/vswap plot two.json --out plots/") == 0
    printed = capsys.readouterr().out.splitlines()
    for name in ("usage", "locations", "locks"):
        png = Path(f"plots/two-{name}.png")
        assert str(png) in printed and png.read_bytes()[:4] == b"\x89PNG"
    assert "skipped rfc: no RFC reference numbers in the result" in printed


def test_readme_demo(clone: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    # A terminal wide enough for every design's column, so row labels are not cut.
    monkeypatch.setenv("COLUMNS", "240")
    assert _vswap("bin/vswap demo") == 0
    out = capsys.readouterr().out
    assert out.count("/proc/swaps with 2000 pages out") == len(DESIGNS), "every design"
    for design in DESIGNS:
        assert f"{design}: /proc/swaps with 2000 pages out" in out
    row = next(line for line in out.splitlines() if "pages verified" in line)
    assert row.count("2000") == len(DESIGNS), "every page checked on every design"


def test_readme_bench_rfc(clone: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``bin/vswap bench rfc`` and its ``--json`` form are one run here (shortened)."""
    plain = "bin/vswap bench rfc"
    with_json = "bin/vswap bench rfc --json results/bench_rfc.json"
    assert SHORTENED[plain][0] == SHORTENED[with_json][0] and with_json.startswith(plain)
    assert _vswap(with_json) == 4, "the shortened kernel build OOMs (SHORTENED says why)"
    captured = capsys.readouterr()
    assert captured.err.splitlines()[-1].startswith("vswap: OOM: classic: ")
    out = " ".join(captured.out.split())
    for title in ("usemem 16 x 2G", "kernel build, 52 workers", "swapoff, 32 GB swapfile"):
        assert f"{title}" in out
    assert out.count("entries calibrated on kernel 6.18") == 3  # the default table
    assert "vswap / classic" in out and "page events" in out
    runs = load_results(clone / "results" / "bench_rfc.json")
    assert len(runs) == 12 and all(r.data_loss == 0 for r in runs)
    assert all(r.tasks_killed == 0 for r in runs if not r.workload.startswith("kbuild"))
    # The RFC published numbers for classic and vswap in every table (and none for the
    # dynamic partitioning it did not measure).
    assert all(r.rfc for r in runs if r.design in ("classic", "vswap"))
    assert not any(r.rfc for r in runs if r.design == "vswap-dynamic")


def test_readme_bench_upstream(clone: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``bin/vswap bench upstream`` (shortened to the v6 cover letter's tables)."""
    monkeypatch.setenv("COLUMNS", "200")
    assert _vswap("bin/vswap bench upstream") == 0
    out = " ".join(capsys.readouterr().out.split())
    for title in ("memhog 48G on a 16 GB host", "usemem 1 thread 56G",
                  "usemem 52 threads x 300M random", "kernel build, 52 workers"):
        assert f"v6 cover: {title}" in out
    assert out.count("model at scale 1/8192 beside the published numbers") == 4
    assert out.count("vswap-v6 / swap-table-p1") == 4
    assert "swap-table-p1 (baseline 6.19)" in out and "vswap-v6 (VSS v6)" in out
    assert out.count("entries calibrated on kernel 6.18") == 4  # the default table
    runs = load_results(clone / "results" / "bench_upstream.json")
    assert len(runs) == 8 and all(r.data_loss == 0 for r in runs)
    assert {r.design for r in runs} == {"swap-table-p1", "vswap-v6"}
    assert all(r.rfc and "20260505153854" in r.rfc_source for r in runs)


@pytest.mark.parametrize("script", ["bench_swapfile", "bench_zswap", "bench_vswap", "bench_scale",
                                    "bench_mm"])
def test_readme_benchmarks(clone: Path, script: str) -> None:
    command = f".venv/bin/python benchmarks/{script}.py"
    extra = SHORTENED[command][0]
    done = subprocess.run([sys.executable, f"benchmarks/{script}.py", *extra],
                          capture_output=True, text=True, check=False, cwd=clone)
    assert done.returncode == 0, done.stderr
    saved = clone / "results" / f"{script}.json"
    data = json.loads(saved.read_text())
    assert data.get("rows") or data.get("swap_out_in_per_s"), "numbers were saved"
    assert f"results/{script}.json" in done.stdout, "the script says where it saved"
