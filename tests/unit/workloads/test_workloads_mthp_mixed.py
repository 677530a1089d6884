"""The ``mthp-mixed`` workload: mTHPs partly zero, in zswap and on disk, read back."""

from __future__ import annotations

from typing import Any

import pytest

from vswap.errors import ConfigError
from vswap.run import DeviceSpec, RunConfig, run_workload
from vswap.workloads import parse_workload
from vswap.workloads.mthp_mixed import MthpMixed


def _run(design: str, workload: str, zswap: str | None = "lz4",
         device: int = 4 << 20) -> dict[str, Any]:
    r = run_workload(RunConfig(design=design, workload=workload, zswap=zswap,
                               swap_devices=[DeviceSpec("mem", device, "nvme")], cpus=1,
                               seed=1))
    assert r.data_loss == 0 and r.verified_pages > 0
    (res,) = r.cgroup_results.values()
    return dict(res["metrics"])


@pytest.mark.parametrize("cmd", ["mthp-mixed --size 32K", "mthp-mixed --zero-every 1",
                                 "mthp-mixed --writeback 2", "mthp-mixed --thp-size 8K"])
def test_bad_command_lines(cmd: str) -> None:
    with pytest.raises(ConfigError):
        parse_workload(cmd)


def test_parse() -> None:
    w = parse_workload("mthp-mixed --size 1M --thp-size 32K --zero-every 3 --writeback 0.25 "
                       "--mixed")
    assert isinstance(w, MthpMixed) and w.pages() == 256
    assert (w.order, w.zero_every, w.writeback, w.mixed) == (3, 3, 0.25, True)


def test_vswap_reads_each_folio_whole_from_three_backends() -> None:
    met = _run("vswap", "mthp-mixed --size 512K --mixed")
    assert met["mthp_swpin"] == met["mixed_swpin"] == met["mthp_folios"] == 8
    assert met["mixed_zero_pages"] == 32 and met["written_back"] > 0
    assert met["mixed_zswap_pages"] > 0 and met["mixed_swapfile_pages"] > 0
    assert met["readback_pgmajfault"] == 8


def test_classic_reads_order_0() -> None:
    met = _run("classic", "mthp-mixed --size 512K")
    assert met["mthp_swpin"] == met["mthp_swpin_fallback"] == 0
    assert met["readback_pgmajfault"] == 128


def test_refusals_are_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^mthp-mixed --mixed: ENOTSUP: [^\n]+$"):
        _run("classic", "mthp-mixed --mixed")
    with pytest.raises(ConfigError, match=r"^workload mthp-mixed: needs zswap"):
        _run("vswap", "mthp-mixed", zswap=None)


@pytest.mark.parametrize("design", ["classic", "vswap"])
def test_a_device_smaller_than_the_region_is_refused(design: str) -> None:
    # 4M of mTHPs on a 4M device: 1,023 slots for 1,024 pages. Classic would reserve a slot
    # per page at swap-out (zswap's pages too), fill the device and keep the rest in memory;
    # the workload refuses instead, naming the smallest device (the header page, a slot per
    # page, one free slot so reclaim still scans anonymous memory).
    with pytest.raises(ConfigError, match=r"^workload mthp-mixed: swap devices hold 1023 "
                       r"slots, fewer than the 1024 pages of --size 4M and one free slot: "
                       r"needs a swap device of at least 4104K \(--swap-device\)$"):
        _run(design, "mthp-mixed --size 4M")
    with pytest.raises(ConfigError, match=r"^workload mthp-mixed: no swap device, "):
        run_workload(RunConfig(design=design, workload="mthp-mixed --size 512K",
                               zswap="lz4", swap_devices=[], cpus=1, seed=1))


def test_the_smallest_device_gives_classic_its_whole_row() -> None:
    # 512K: 128 pages; the device named as the minimum (520K) holds them all: every page
    # swapped out, the written-back half reclaimed and read from the device (one fault per
    # page), as on a big device.
    small = _run("classic", "mthp-mixed --size 512K", device=520 << 10)
    assert small == _run("classic", "mthp-mixed --size 512K")
    assert small["readback_pgmajfault"] == 128 and small["readback_pswpin"] > 0
