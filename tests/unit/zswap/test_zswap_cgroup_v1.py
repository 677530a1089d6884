"""zswap under the cgroup v1 memory controller (``--cgroup-version 1``): the kernel's zswap
hooks in mm/memcontrol.c return at once when the memory controller is not on the default
hierarchy (``cgroup_subsys_on_dfl(memory_cgrp_subsys)`` false): ``obj_cgroup_may_zswap()``
allows every store and ``obj_cgroup_charge_zswap()`` / ``obj_cgroup_uncharge_zswap()`` charge
nothing, so zswap's pool is not in the cgroup's usage. Measured on this host's 6.18 (v1):
with 16,540 incompressible pages (68 MB) in the pool, ``memory.max_usage_in_bytes`` stayed at
the 64 MiB limit (docs/fidelity.md)."""

from __future__ import annotations

import pytest

from vswap.errors import ConfigError
from vswap.kernel.memcontrol import MemCgroupTree
from vswap.kernel.types import PAGE_SIZE
from vswap.run.context import DeviceSpec, RunConfig, run_workload


def test_the_v1_hooks_charge_nothing_and_allow_every_store() -> None:
    for version, charged in ((2, 1000), (1, 0)):
        cg = MemCgroupTree(version).create("/a")
        cg.zswap.max = 0
        assert cg.obj_cgroup_may_zswap() is (version == 1), "v1 has no memory.zswap.max"
        cg.obj_cgroup_charge_zswap(1000)
        cg.obj_cgroup_charge_zswap(PAGE_SIZE)
        assert cg.memory.usage == cg.zswap.usage == charged + (PAGE_SIZE if charged else 0)
        assert cg.zswap_memory_stat()["zswap_incomp"] == (PAGE_SIZE if charged else 0)
        cg.obj_cgroup_uncharge_zswap(1000)
        cg.obj_cgroup_uncharge_zswap(PAGE_SIZE)
        assert cg.memory.usage == cg.zswap.usage == 0
        cg.check_invariants()


def test_only_versions_1_and_2_exist() -> None:
    with pytest.raises(ConfigError, match="1 or 2"):
        MemCgroupTree(3)


def test_zswap_stores_on_v1_leave_the_cgroup_uncharged(helpers) -> None:  # type: ignore[no-untyped-def]
    m = helpers.Machine("classic", cgroup_version=1)
    cg = m.memcgs.create("/a")
    ok, entry = m.swapout(helpers.random_page(7), cg)
    assert ok and m.zswap.statistics().stored_incompressible_pages == 1
    assert cg.memory.usage == 0 and cg.zswap.usage == 0
    assert m.zswap.lru_entries(cg) == [int(entry)], "still on the cgroup's zswap LRU"
    m.zswap.check_invariants()
    m.zswap.zswap_invalidate(entry)
    assert cg.memory.usage == 0 and m.zswap.statistics().stored_pages == 0


def _random(cgroup_version: int):  # type: ignore[no-untyped-def]
    return run_workload(RunConfig(
        design="swap-table-p1", workload="pattern --size 2M --content random",
        memory_max=1 << 20, swap_devices=[DeviceSpec("file", 16 << 20, "nvme")],
        zswap="lzo", cpus=2, cgroup_version=cgroup_version))


def test_incompressible_pages_under_a_v1_limit_go_to_zswap_and_the_run_completes() -> None:
    """As 6.18 on v1: every page is stored as-is, nothing is written back or OOM-killed; on
    v2 each stored page is charged at its full size and reclaim frees nothing."""
    r = _random(1)
    zs = r.kernel_stats["zswap"]
    assert r.tasks_killed == 0 and r.data_loss == 0 and r.verified_pages >= 512
    assert r.vmstat["zswpout"] >= 512 and r.vmstat["pswpout"] == 0
    assert r.vmstat["zswpwb"] == 0 and zs["peak_stored_pages"] >= 256
    assert r.configuration["cgroup_version"] == 1
    v2 = _random(2)
    assert v2.tasks_killed > 0 and "cgroup_version" not in v2.configuration
