"""``vswap calibrate --host`` and ``vswap parity`` on this machine's real kernel.

Opt-in (``VSWAP_ROOT_TESTS=1``, as root): a small calibration (two specs, one run each) and
one parity run, each leaving the machine as it found it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.config.costs import load_cost_file
from vswap.host import check_machine
from vswap.host.state import proc_swaps
from vswap.host.zswapctl import read_params
from vswap.report.result import load_results

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0
                            and os.environ.get("VSWAP_ROOT_TESTS") == "1"),
                       reason="needs root and VSWAP_ROOT_TESTS=1"),
]


@pytest.fixture
def host_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    d = tmp_path / "vswap-host"
    monkeypatch.setenv("VSWAP_HOST_DIR", str(d))
    found = (read_params(), proc_swaps())
    yield d
    assert check_machine().clean, check_machine().problems
    assert (read_params(), proc_swaps()) == found


def test_calibrate_host_writes_a_cost_file(host_dir: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "costs.json"
    assert main(["calibrate", "--host", "--size", "16M", "--runs", "1", "--specs",
                 "noswap,zero", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "residual" in printed and "zero" in printed
    table, prov = load_cost_file(out)
    assert prov.method == "calibrated" and prov.kernel == os.uname().release
    # The groups those two specs charge, and no compressor's.
    assert {"fault_entry_exit", "zero_check", "rmap_walk"} <= set(prov.entries)
    assert not any(k.startswith(("compress", "decompress", "io_")) for k in prov.entries)
    assert table.zero_check == prov.entries["zero_check"]
    data = json.loads(out.read_text())
    assert [s["spec"] for s in data["fit"]["samples"]] == ["noswap", "zero"]
    assert data["fit"]["samples"][1]["host_vmstat"]["swpout_zero"] > 0
    assert not Path(f"{out}.partial").exists()


def test_parity_runs_both_sides(host_dir: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "parity.json"
    assert main(["parity", "--workload", "pattern --size 16M --content zero", "--memory-max",
                 "8M", "--swap-device", "file:64M", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "counters: swpout_zero" in text and "classic" in text
    runs = load_results(out)
    assert runs[0].design == "host" and runs[1].design == "classic"
    assert runs[0].vmstat["swpout_zero"] > 0 and runs[1].vmstat["swpout_zero"] > 0
