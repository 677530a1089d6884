"""`vswap run` / `compare` / `bench rfc`: output, JSON, and one-line errors on bad input."""

from __future__ import annotations

import pytest

from vswap.cli import main
from vswap.report.result import load_results


@pytest.mark.parametrize("argv", [
    ["run", "--design", "nope"],
    ["run", "--cpus", "-1"],
    ["run", "--workload", "nope 1M"],
    ["run", "--workload", "usemem -q 1M"],
    ["run", "--memory-max", "12Q"],
    ["run", "--swap-device", "disk:1G"],
    ["run", "--swap-device", "file:1G:floppy"],
    ["run", "--zswap", "snappy"],
    ["run", "--design", "classic,vswap"],
    ["compare", "--design", "classic,nope"],
    ["compare", "--bogus"],
    ["bench", "rfc", "--scale", "0"],
    ["bench", "rfc", "--table", "nope"],
    ["run", "--workload", "usemem -n 64 1T"],
])
def test_bad_input_one_line_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        rc = main(argv)
        raise SystemExit(rc)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error: ") and err.count("\n") == 1


def test_run_and_compare_write_results(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["run", "--workload", "usemem -n 2 -O 1M", "--memory-max", "1M",
                 "--swap-device", "mem:8M", "--cpus", "2", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "usecs to free memory" in text and "KB/s" in text
    (r,) = load_results(out)
    assert r.design == "classic" and r.configuration["swap_devices"] == ["mem:8M:zram"]
    out2 = tmp_path / "c.json"
    assert main(["compare", "--design", "classic,vswap", "--workload", "memhog 2M",
                 "--memory-max", "1M", "--swap-device", "file:8M", "--zswap", "lz4",
                 "--jobs", "1", "--json", str(out2)]) == 0
    assert [x.design for x in load_results(out2)] == ["classic", "vswap"]


def test_bench_rfc_small(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "b.json"
    assert main(["bench", "rfc", "--scale", str(1 / 2048), "--table", "usemem,swapoff",
                 "--design", "classic,vswap", "--jobs", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "vswap / classic" in text and "RFC" in text and "page events" in text
    runs = load_results(out)
    assert {r.configuration["table"] for r in runs} == {"usemem", "swapoff"}
    assert all(r.rfc and r.rfc_source for r in runs)
