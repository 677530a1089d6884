"""The sysctl/sysfs knob table (vswap.mm.knobs): every knob reads back what was written."""

from __future__ import annotations

import pytest

from conftest import make_machine
from vswap.kernel.errors import KernelError
from vswap.mm.knobs import KNOB_DIRS, KNOBS, thp_order_of

THP = "/sys/kernel/mm/transparent_hugepage/"
ZSWAP = "/sys/module/zswap/parameters/"


@pytest.mark.parametrize(("path", "value", "shown"), [
    ("/proc/sys/vm/swappiness", " 200\n", "200\n"),
    ("/proc/sys/vm/page-cluster", 0, "0\n"),
    ("/sys/kernel/mm/swap/vma_ra_enabled", "N", "false\n"),
    (THP + "hugepages-64kB/enabled", "always", None),
    (ZSWAP + "max_pool_percent", "33", "33\n"),
    (ZSWAP + "shrinker_enabled", "1", "Y\n"),
    (ZSWAP + "compressor", "zstd", "zstd\n"),
])
def test_each_knob_reads_back_what_was_written(path: str, value: str | int,
                                               shown: str | None) -> None:
    m = make_machine("classic", zswap=True, device=None)
    assert path in KNOBS or any(path.startswith(d) for d in KNOB_DIRS)
    m.sysfs_write(path, value)
    got = m.sysfs_read(path)
    if shown is None:
        assert "[always]" in got and m.thp_any_enabled
    else:
        assert got == shown


def test_bad_values_change_nothing_and_unknown_paths_are_enoent() -> None:
    m = make_machine("classic", device=None)
    with pytest.raises(KernelError, match="EINVAL"):
        m.sysfs_write("/sys/kernel/mm/swap/vma_ra_enabled", "maybe")
    assert m.sysfs_read("/sys/kernel/mm/swap/vma_ra_enabled") == "true\n"
    for path in ("/proc/sys/vm/dirty_ratio", THP + "hugepages-3kB/enabled",
                 THP + "hugepages-64kB/bogus", ZSWAP + "enabled"):
        with pytest.raises(KernelError, match="ENOENT"):
            m.sysfs_read(path)
    with pytest.raises(KernelError, match="ENOENT: zswap is not configured"):
        m.sysfs_write(ZSWAP + "enabled", "Y")


def test_thp_stats_and_orders() -> None:
    m = make_machine("classic", device=None)
    order = thp_order_of("hugepages-64kB/enabled")
    m.thp.stats[order]["swpin"] += 3
    assert m.sysfs_read(THP + "hugepages-64kB/stats/swpin") == "3\n"
    m.sysfs_write(THP + "enabled", "madvise")
    assert "[madvise]" in m.sysfs_read(THP + "enabled")
