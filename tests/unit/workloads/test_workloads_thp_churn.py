"""The ``thp-churn`` workload: large folios parked in the swap cache, migrated and split
there, every page checked, on every design."""

from __future__ import annotations

from typing import Any

import pytest

from vswap.errors import ConfigError
from vswap.run import DeviceSpec, RunConfig, run_workload
from vswap.swap import DESIGNS
from vswap.workloads import parse_workload
from vswap.workloads.thp_churn import ThpChurn


def _run(design: str, workload: str, zswap: str | None = "lz4",
         kind: str = "mem") -> dict[str, Any]:
    r = run_workload(RunConfig(design=design, workload=workload, zswap=zswap,
                               swap_devices=[DeviceSpec(kind, 8 << 20, "nvme")], cpus=1,
                               seed=1))
    assert r.data_loss == 0 and r.verified_pages > 0
    (res,) = r.cgroup_results.values()
    return dict(res["metrics"])


@pytest.mark.parametrize("cmd", ["thp-churn --size 32K", "thp-churn --thp-size 8K",
                                 "thp-churn --rounds 0"])
def test_bad_command_lines(cmd: str) -> None:
    with pytest.raises(ConfigError):
        parse_workload(cmd)


def test_parse() -> None:
    w = parse_workload("thp-churn --size 1M --thp-size 32K --rounds 2")
    assert isinstance(w, ThpChurn) and w.pages() == 256
    assert (w.order, w.rounds) == (3, 2)


@pytest.mark.parametrize("design", DESIGNS)
def test_every_folio_is_migrated_and_split_in_the_swap_cache(design: str) -> None:
    """Half of the folios split by MADV_PAGEOUT of part of them, half by the deferred split
    shrinker (drop_caches), all migrated by compact_memory before and after: each through
    the design's swap_cache_replace_folio."""
    met = _run(design, "thp-churn --size 256K")
    assert met["thp_folios"] == 4 and met["thp_parked_swapcache_pages"] == 64
    assert met["mthp_split"] == met["split_in_swapcache"] == 4
    assert met["mthp_split_deferred"] == 2 and met["mthp_swpout_fallback"] == 0
    # Two compactions: the 64 parked pages whole, then the 56 left after the splits (8
    # dropped by MADV_DONTNEED); every one of them in the swap cache.
    assert met["pgmigrate_success"] == met["migrated_in_swapcache"] == 64 + 56
    assert met["pgmigrate_fail"] == 0 and met["compact_isolated"] == 2 * (64 + 56)


def test_a_swap_file_splits_at_add_to_swap_under_classic() -> None:
    met = _run("classic", "thp-churn --size 256K", kind="file")
    assert met["mthp_swpout_fallback"] == 4 and met["split_in_swapcache"] == 0


def test_needs_zswap() -> None:
    with pytest.raises(ConfigError, match=r"^workload thp-churn: needs zswap"):
        _run("vswap", "thp-churn", zswap=None)


def test_a_scaled_run_keeps_at_least_one_folio() -> None:
    met = _run("vswap", "thp-churn --size 64K")
    assert met["thp_folios"] == 1 and met["split_in_swapcache"] == 1
    assert met["mthp_split_deferred"] == 0
