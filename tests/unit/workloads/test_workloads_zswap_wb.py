"""The ``zswap-wb`` workload: zswap filled, written back by the shrinker, read back."""

from __future__ import annotations

from typing import Any

import pytest

from vswap.errors import ConfigError
from vswap.run import DeviceSpec, RunConfig, run_workload
from vswap.workloads import parse_workload
from vswap.workloads.zswap_wb import ZswapWb


def _run(design: str, workload: str, zswap: str | None = "lz4", **params: Any
         ) -> dict[str, Any]:
    r = run_workload(RunConfig(design=design, workload=workload, zswap=zswap,
                               zswap_params=params,
                               swap_devices=[DeviceSpec("mem", 4 << 20, "nvme")], cpus=1,
                               seed=1))
    assert r.data_loss == 0 and r.verified_pages > 0
    (res,) = r.cgroup_results.values()
    return dict(res["metrics"]) | {"writes": r.devices[0]["writes"]}


@pytest.mark.parametrize("cmd", ["zswap-wb --size 32K", "zswap-wb --writeback 2"])
def test_bad_command_lines(cmd: str) -> None:
    with pytest.raises(ConfigError):
        parse_workload(cmd)


def test_parse() -> None:
    w = parse_workload("zswap-wb --size 1M --writeback 0.25")
    assert isinstance(w, ZswapWb) and w.pages() == 256 and w.writeback == 0.25


@pytest.mark.parametrize("design", ["classic", "vswap"])
def test_half_written_back_page_by_page(design: str) -> None:
    met = _run(design, "zswap-wb --size 512K --writeback 0.5")
    assert met["zswap_stored"] == 128
    assert met["written_back"] == met["wb_pswpout"] == met["writes"] == 64
    assert met["readback_pswpin"] == 64 and met["writeback_s"] > 0 < met["swapin_s"]


def test_batched_writeback_is_fewer_requests() -> None:
    met = _run("vswap", "zswap-wb --size 512K", writeback_batch_size=16)
    assert met["written_back"] == 128 and met["writes"] == 8


def test_needs_zswap() -> None:
    with pytest.raises(ConfigError, match=r"^workload zswap-wb: needs zswap"):
        _run("vswap", "zswap-wb", zswap=None)
