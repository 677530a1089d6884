"""Host commands refuse cleanly without root; the journal and cleanup logic (no root
needed for files); flag parsing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.errors import ConfigError
from vswap.host.runner import _parse_output, host_argv, parse_cpu_set
from vswap.host.state import HostError, HostState, cleanup
from vswap.run.context import parse_device_spec
from vswap.workloads import parse_workload


@pytest.fixture
def host_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "vswap-host"
    monkeypatch.setenv("VSWAP_HOST_DIR", str(d))
    return d


@pytest.mark.parametrize("argv", [["host", "run", "--workload", "usemem 1M"],
                                  ["host", "cleanup"], ["host", "check"]])
def test_refused_without_root(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error: ") and err.count("\n") == 1 and "root" in err


def test_cpu_sets() -> None:
    allowed = sorted(os.sched_getaffinity(0))
    assert parse_cpu_set(None) == allowed
    assert parse_cpu_set(str(allowed[0])) == [allowed[0]]
    for bad in ("x", "0-", "9999", ""):
        with pytest.raises(ConfigError):
            parse_cpu_set(bad)


def test_zram_specs() -> None:
    spec = parse_device_spec("zram:1G,comp=lzo")
    assert spec is not None and spec.backing == "zram" and spec.size == 1 << 30
    assert spec.option("comp") == "lzo" and spec.text() == "zram:1G,comp=lzo"
    default = parse_device_spec("zram:512M")
    assert default is not None and default.option("comp") == "lz4"
    for bad in ("zram:1G,color=red", "zram:1G,comp", "zram:4K", "zram:xx"):
        with pytest.raises(ConfigError):
            parse_device_spec(bad)


def test_host_argv_maps_model_flags(tmp_path: Path) -> None:
    prog = tmp_path / "p"
    argv = host_argv(parse_workload("usemem -n 2 -t 3 -R -r 2 -Z -s 0.5 -O 1M"), prog)
    assert argv == [str(prog), "usemem", "-n", "2", "-r", "2", "-t", "3", "-R", "-Z",
                    "-s", "0.5", str(1 << 20)]
    assert host_argv(parse_workload("pattern --size 1M --content text --passes 2"),
                     prog)[1:] == ["pattern", "--size", str(1 << 20), "--content", "text",
                                   "--passes", "2"]
    with pytest.raises(ConfigError):
        host_argv(parse_workload("memhog 1M"), prog)


def test_output_parsing() -> None:
    m, ok, bad = _parse_output(["100 bytes / 10 usecs = 9 KB/s", "20 usecs to free memory",
                                "read again 8 bytes / 2 usecs = 3 KB/s",
                                "pattern pass 1: wrote 64 pages in 5 usecs, verified in 3 "
                                "usecs, 2 wrong", "verified 10 pages, 1 wrong"])
    assert m["throughput_kbps"] == 9 and m["free_time_s"] == 20e-6
    assert m["read_again_kbps"] == 3
    assert (ok, bad) == (62 + 9, 3)


def test_journal_and_cleanup_of_files(host_dir: Path) -> None:
    state = HostState.claim()
    f = host_dir / "swapfile0"
    state.record("file", path=str(f))
    f.write_bytes(b"x")
    data = json.loads((host_dir / "state.json").read_text())
    assert data["owner_pid"] == os.getpid() and data["actions"][0]["kind"] == "file"
    report = cleanup(state)
    assert report.errors == [] and report.undone == [f"removed {f}"]
    assert not host_dir.exists()


def test_a_dead_runs_state_is_cleaned_before_a_new_run(host_dir: Path) -> None:
    host_dir.mkdir()
    left = host_dir / "swapfile3"
    left.write_bytes(b"x")
    (host_dir / "state.json").write_text(json.dumps(
        {"owner_pid": 2**22 + 12345, "started": 0,
         "actions": [{"kind": "file", "path": str(left)}]}))
    state = HostState.claim()
    assert not left.exists() and state.actions == []
    assert cleanup(state).errors == []


def test_a_live_run_is_not_disturbed(host_dir: Path) -> None:
    host_dir.mkdir()
    (host_dir / "state.json").write_text(json.dumps(
        {"owner_pid": os.getppid(), "started": 0, "actions": []}))
    with pytest.raises(HostError, match="in progress"):
        HostState.claim()


def test_corrupt_state_is_reported(host_dir: Path) -> None:
    host_dir.mkdir()
    (host_dir / "state.json").write_text("{")
    with pytest.raises(HostError, match="unreadable"):
        HostState.load()
    assert cleanup().errors


def test_drop_swapcache_is_refused_before_the_machine_is_touched(
        host_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # As root, a model-only flag must fail before the program is built, the state file is
    # claimed or a device is set up: nothing is left to clean up.
    import vswap.host.runner as runner

    def touched(*args: object, **kwargs: object) -> None:
        raise AssertionError("the machine was touched")

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(runner, "build_program", touched)
    monkeypatch.setattr(HostState, "claim", touched)
    assert main(["host", "run", "--workload", "swapoff --fill 0.5 --drop-swapcache",
                 "--swap-device", "file:64M"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("vswap: error: host run: swapoff --drop-swapcache is modelled only (the "
                   "host run keeps the kernel's swap cache as it is)")
    assert not host_dir.exists() or not any(host_dir.iterdir())
