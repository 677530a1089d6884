"""``vswap host run`` on this machine's real kernel, and its guaranteed cleanup.

Opt-in (``VSWAP_ROOT_TESTS=1``, as root): makes swap files, a zram device, cgroups and sets
zswap parameters, and checks that every one of them is undone after a run that succeeds,
one interrupted (Ctrl-C, SIGTERM) and one killed with SIGKILL (then ``vswap host cleanup``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.host import HostRunConfig, check_machine, run_host
from vswap.host.state import HostState, proc_swaps
from vswap.host.zswapctl import read_params
from vswap.run.context import parse_device_spec

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0
                            and os.environ.get("VSWAP_ROOT_TESTS") == "1"),
                       reason="needs root and VSWAP_ROOT_TESTS=1"),
]


def _machine() -> tuple[dict[str, str], dict[str, dict[str, object]], str]:
    init = Path("/sys/block/zram0/initstate")
    return read_params(), proc_swaps(), init.read_text() if init.exists() else ""


@pytest.fixture
def host_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private host directory; the machine must look the same afterwards."""
    d = tmp_path / "vswap-host"
    monkeypatch.setenv("VSWAP_HOST_DIR", str(d))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    found = _machine()
    yield d
    assert check_machine().clean, check_machine().problems
    assert _machine() == found
    assert not d.exists()


def _cfg(workload: str, device: str = "file:64M", **kw: object) -> HostRunConfig:
    spec = parse_device_spec(device)
    assert spec is not None
    return HostRunConfig(workload=workload, memory_max=16 << 20, swap_devices=[spec],
                         **kw)  # type: ignore[arg-type]


def test_usemem_on_a_swap_file(host_dir: Path) -> None:
    r = run_host(_cfg("usemem -n 1 -O 32M"))
    assert r.design == "host" and r.configuration["kernel"] == os.uname().release
    assert r.data_loss == 0
    vm = r.vmstat
    # 32 MiB written through a 16 MiB limit: at least the difference went to the device.
    assert vm["pswpout"] >= 4096 and vm["zswpout"] == 0
    assert vm["pgfault"] >= 8192
    assert 4096 <= r.devices[0]["peak_used_pages"] <= 8192 + 256
    assert r.metrics.sys_s > 0 and r.metrics.throughput_kbps > 0
    assert r.kernel_stats["host"]["cgroup_version"] in (1, 2)


def test_pattern_text_with_zswap(host_dir: Path) -> None:
    r = run_host(_cfg("pattern --size 32M --content text", zswap="lzo"))
    assert r.data_loss == 0 and r.verified_pages == 8192
    assert r.vmstat["zswpout"] >= 4096 and r.vmstat["zswpin"] > 0
    zs = r.kernel_stats["zswap"]
    assert zs["peak_stored_pages"] >= 4096 and zs["peak_pool_total_size"] > 0
    assert r.kernel_stats["host"]["zswap_params"]["enabled"] == "Y"


def test_pattern_mixed_on_zram(host_dir: Path) -> None:
    r = run_host(_cfg("pattern --size 24M --content mixed", device="zram:64M,comp=lz4"))
    assert r.data_loss == 0
    vm = r.vmstat
    # Zero pages never reach zram (swap_writepage stores them in the zeromap).
    assert vm["swpout_zero"] > 0 and vm["pswpout"] > 0
    zr = r.kernel_stats["zram0"]
    assert zr["comp_algorithm"] == "lz4" and zr["peak"]["orig_data_size"] > 0
    # SWP_SYNCHRONOUS_IO: swap-ins bypass the swap cache, so nothing is read ahead.
    assert vm.get("swap_ra", 0) == 0


def test_swapoff_with_the_tasks_alive(host_dir: Path) -> None:
    r = run_host(_cfg("swapoff --fill 0.5 --tasks 2 --unrelated 64M"))
    assert r.data_loss == 0 and r.verified_pages == 8192
    # Every page held a slot; those still in the swap cache after their write-out need no
    # read (MADV_PAGEOUT frees a folio only once its writeback is done and it is scanned
    # again), so swapoff reads fewer pages than it frees slots.
    assert r.swapoff["used_pages_before"] >= 8000
    assert r.swapoff["real_s"] > 0 and 0 < r.swapoff["pages_read"] <= 8192


@pytest.mark.parametrize("how", ["interrupt", "sigterm"])
def test_an_interrupted_run_cleans_up(host_dir: Path, how: str) -> None:
    def stop(state: HostState) -> None:
        assert {a["kind"] for a in state.actions} >= {"file", "swapon", "cgroup", "zswap"}
        assert not check_machine().clean
        if how == "interrupt":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(KeyboardInterrupt):
        run_host(_cfg("usemem -n 1 8M", zswap="lzo"), on_setup=stop)


def test_a_killed_run_is_cleaned_by_host_cleanup(host_dir: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = ("import os, signal\n"
            "from vswap.host import HostRunConfig, run_host\n"
            "from vswap.run.context import parse_device_spec\n"
            "cfg = HostRunConfig(workload='usemem -n 1 8M', memory_max=4 << 20, zswap='lzo',\n"
            "                    swap_devices=[parse_device_spec('zram:32M')])\n"
            "run_host(cfg, on_setup=lambda s: os.kill(os.getpid(), signal.SIGKILL))\n")
    p = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), check=False)
    assert p.returncode == -signal.SIGKILL
    state = json.loads((host_dir / "state.json").read_text())
    assert {a["kind"] for a in state["actions"]} >= {"zram", "swapon", "cgroup", "zswap"}
    assert main(["host", "check"]) == 1
    assert "NOT CLEAN" in capsys.readouterr().out
    assert main(["host", "cleanup"]) == 0
    out = capsys.readouterr().out
    assert "swapoff /dev/zram0" in out and "reset zram0" in out
    assert main(["host", "check"]) == 0
    assert capsys.readouterr().out.startswith("clean")


def test_host_run_cli_writes_a_result(host_dir: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "host.json"
    assert main(["host", "run", "--workload", "pageout --size 8M --content random",
                 "--swap-device", "file:32M", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    run = data["runs"][0]
    assert data["format"] == "vswap-result" and run["design"] == "host"
    # Without a limit nothing reclaims the written-out pages again: they stay in the swap
    # cache after their writeback, and touching them back is a minor fault, not a read.
    assert run["vmstat"]["pswpout"] >= 2048 and run["vmstat"]["pgmajfault"] < 64
    assert run["verified_pages"] == 2048
    assert "pageout: wrote 2048 pages" in capsys.readouterr().out
