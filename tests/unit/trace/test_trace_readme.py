"""The README's traces section, run as written in a scratch directory: record ``ls -l /``
under valgrind, replay it on every design at two memory sizes (the second under exact LRU),
cross-check it against libCacheSim, and the trace benchmark at its smoke size."""

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


def _section() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Your own program: traces\n.*?```sh\n(.*?)```", text, re.DOTALL)
    assert block is not None
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()
            if line.split("#", 1)[0].strip()]


def _vswap(command: str) -> int:
    argv = shlex.split(command)
    while "=" in argv[0]:
        argv.pop(0)  # VSWAP_EXTRAS=xcheck: what bin/vswap installs; the suite has it
    assert argv[0] == "bin/vswap"
    return main(argv[1:])


def test_readme_trace_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    record, small, large, xcheck = _section()
    assert _vswap(record) == 0
    assert "ls.npz:" in capsys.readouterr().out
    assert _vswap(small) == 0 and _vswap(large) == 0
    capsys.readouterr()
    for name, reclaim in (("ls-128k.json", None), ("ls-384k.json", "lru")):
        runs = load_results(tmp_path / name)
        assert [r.design for r in runs] == list(DESIGNS)
        for r in runs:
            assert r.data_loss == 0 and r.workload_metrics["trace_events"] > 0
            assert r.configuration.get("reclaim") == reclaim
    faults = [sum(r.vmstat["pgmajfault"] for r in load_results(tmp_path / n))
              for n in ("ls-128k.json", "ls-384k.json")]
    assert faults[0] > faults[1]  # more memory, fewer major faults
    assert _vswap(xcheck) == 0
    out = capsys.readouterr().out
    assert out.count(" agree") == 6 and "DISAGREE" not in out and "linux" in out


def test_readme_trace_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "bench_trace.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_trace.py"),
                           "--quick", "--json", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    rows = json.loads(out.read_text())["rows"]
    assert {r["policy"] for r in rows} == {"lru", "fifo", "linux"}
    for r in rows:
        assert r["model_page_events_per_s"] > 0
        if r["policy"] != "linux":
            assert r["lcs_requests_per_s"] > r["model_trace_events_per_s"]
            assert r["lcs_misses"] == r["major_faults"] + r["trace_pages"]
