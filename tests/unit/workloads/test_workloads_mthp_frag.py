"""The ``mthp-frag`` workload: a fragmented device, an mTHP swap-out, compaction."""

from __future__ import annotations

from typing import Any

import pytest

from vswap.errors import ConfigError
from vswap.run import DeviceSpec, RunConfig, run_workload
from vswap.workloads import parse_workload
from vswap.workloads.mthp_frag import MthpFrag


def _run(design: str, workload: str) -> tuple[Any, dict[str, Any]]:
    r = run_workload(RunConfig(design=design, workload=workload,
                               swap_devices=[DeviceSpec("mem", 4 << 20, "nvme")], cpus=1,
                               seed=1))
    assert r.data_loss == 0 and r.verified_pages > 0
    (res,) = r.cgroup_results.values()
    return r, res["metrics"]


@pytest.mark.parametrize("cmd", ["mthp-frag --fill 0", "mthp-frag --fill 0.99",
                                 "mthp-frag --thp-size 12K", "mthp-frag --thp-size 4M",
                                 "mthp-frag --size lots"])
def test_bad_command_lines(cmd: str) -> None:
    with pytest.raises(ConfigError):
        parse_workload(cmd)


def test_parse() -> None:
    w = parse_workload("mthp-frag --fill 0.5 --size 1M --thp-size 32K --unrelated 8M "
                       "--compact")
    assert isinstance(w, MthpFrag)
    assert (w.fill, w.size, w.order, w.compact, w.discontig) == (0.5, 1 << 20, 3, True, False)
    assert w.unrelated == 8 << 20


def test_classic_splits_on_a_fragmented_device_and_not_after_compaction() -> None:
    _, met = _run("classic", "mthp-frag --fill 0.6")
    assert met["frag_free_clusters_before"] == 0
    assert met["mthp_swpout"] == 0 and met["mthp_swpout_fallback"] == met["mthp_folios"] > 0
    _, met = _run("classic", "mthp-frag --fill 0.6 --compact --unrelated 64M")
    # The walk visits the unrelated process's 32 page tables too.
    assert met["frag_free_clusters_after"] > 0 and met["compact_ptes_scanned"] > 32 * 512
    assert met["compact_ptes_rewritten"] == met["compact_moved"] > 0
    assert met["mthp_swpout"] == met["mthp_folios"] and met["mthp_swpout_fallback"] == 0


def test_vswap_keeps_writes_scattered_or_compacts() -> None:
    _, met = _run("vswap", "mthp-frag --fill 0.6")
    assert met["mthp_swpout"] == met["mthp_swpout_fallback"] == met["pageout_pswpout"] == 0
    _, met = _run("vswap", "mthp-frag --fill 0.6 --discontig")
    assert met["mthp_swpout"] == met["discontig_swpout"] == met["mthp_folios"] > 0
    _, met = _run("vswap", "mthp-frag --fill 0.6 --compact")
    assert met["compact_desc_updates"] == met["compact_moved"] > 0
    assert met["compact_ptes_scanned"] == 0 and met["compact_time_s"] > 0
    assert met["mthp_swpout"] == met["mthp_folios"] and met["discontig_swpout"] == 0


@pytest.mark.parametrize(("design", "flag"), [("classic", "--discontig"),
                                              ("swap-table-p4", "--compact")])
def test_unsupported_design_is_one_line(design: str, flag: str) -> None:
    with pytest.raises(ConfigError, match=rf"^mthp-frag {flag}: ENOTSUP: [^\n]+$"):
        _run(design, f"mthp-frag {flag}")
