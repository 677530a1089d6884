"""Every `vswap bench upstream` table on its designs at a tiny scale, pages verified."""

from __future__ import annotations

import pytest

from vswap.run import run_workload
from vswap.run.rfc import table_value
from vswap.run.upstream import UPSTREAM, UPSTREAM_SETS, upstream_tables

TABLES = {t.key: t for t in upstream_tables(1 / 8192)}


def test_every_set_has_its_tables() -> None:
    assert [k for ks in UPSTREAM_SETS.values() for k in ks] == list(TABLES) == list(UPSTREAM)
    for t in TABLES.values():
        # The published numbers name only designs the table runs, the baseline among them,
        # and every number is in a column the table prints.
        assert t.baseline in t.configs and set(t.rfc(t.baseline))
        assert set(UPSTREAM[t.key]) == set(t.configs)
        for d in t.configs:
            assert set(t.rfc(d)) <= set(t.columns)
        assert t.scale is not None and t.scale > 0


def test_designs_stand_for_the_published_kernels() -> None:
    assert set(TABLES["v3-usemem"].configs) == {"swap-table-p1", "swap-table-p4", "vswap-v6"}
    assert TABLES["v3-usemem"].baseline == "swap-table-p4"  # phase III's stand-in
    # vswap v3: the v4-v6 optimisations off, in the v3 set only.
    v3 = TABLES["v3-usemem"].configs["vswap-v6"].design_options
    assert v3 == {"batch_free": False, "iter_cache": False, "rmap_cache_only": False}
    assert TABLES["v6-usemem"].configs["vswap-v6"].design_options == {}
    assert set(TABLES["v6-memhog"].configs) == {"swap-table-p1", "vswap-v6"}
    assert set(TABLES["ste-usemem"].configs) == {"swap-table-p4", "vswap-ste"}
    assert all(c.zswap == "zstd" for t in TABLES.values() if t.key.startswith("ste")
               for c in t.configs.values())
    assert all(c.swap_devices[0].backing == "zram" for t in TABLES.values()
               if t.key.startswith("v6") for c in t.configs.values())


def test_designs_given_are_added_beside_the_baseline() -> None:
    ts = upstream_tables(1 / 8192, designs=("classic",))
    assert all(list(t.configs) == [t.baseline, "classic"] for t in ts)
    # classic has no published numbers: its ratio row is the model's alone.
    assert all(not t.rfc("classic") for t in ts)


@pytest.mark.parametrize("key", list(TABLES))
def test_upstream_table_tiny_scale(key: str) -> None:
    t = TABLES[key]
    results = {d: run_workload(c) for d, c in t.configs.items()}
    for d, r in results.items():
        assert r.verify and r.data_loss == 0, d
        assert r.tasks_killed == 0
        assert r.metrics.real_s > 0 and r.metrics.sys_s > 0
        swapped = r.vmstat["pswpout"] + r.vmstat["zswpout"]
        assert swapped > 0, f"{key} {d}: no swapping at this scale"
        if "throughput_kbps" in t.columns:
            assert r.metrics.throughput_kbps > 0
        if "free_time_s" in t.columns:
            assert r.metrics.free_time_s > 0
    # The ratio rows: every published column has a model ratio to the baseline.
    base = results[t.baseline]
    for d, r in results.items():
        for col in t.rfc(d):
            assert table_value(t, base, col) > 0
            assert table_value(t, r, col) / table_value(t, base, col) > 0
