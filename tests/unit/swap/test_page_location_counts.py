"""The swap-table designs' report counts (``swapped_page_locations``: zero pages and pages on a
device) against a plain count of every slot.

The counts feed every timeline sample and are taken with numpy over the tables (a Python
test per slot took seconds a sample at the RFC's full size); here a usemem-like task swaps
zero pages, compressible and random pages through zswap to a device, and after every few
pages the counts must equal the slot-by-slot definition.
"""

from __future__ import annotations

import random

import pytest

from vswap.config import build_machine, loads_config
from vswap.kernel.types import PAGE_SIZE, swp_entry
from vswap.swap.swap_table import SWP_TB_ZERO_FLAG
from vswap.swap.swap_table_p4 import SwapTableP4
from vswap.swap.swapfile import SWAP_MAP_ALLOCATED
from vswap.swap.vswap_ste import VswapSTE
from vswap.swap.vswap_ste_rmap import swp_tb_is_pointer

CONFIG = """
seed = 3

[machine]
ram = "32M"
cpus = 2

[[swap]]
type = "file"
size = "4M"

[zswap]
compressor = "lz4"
max_pool_percent = 1
shrinker_enabled = true

[cgroups."/bench"]
memory.max = "1M"

[[workloads]]
cgroup = "/bench"
command = "usemem -n 1 2M"
"""


def plain_counts(d: SwapTableP4) -> tuple[int, int]:
    """The definition, slot by slot (the counts as first written)."""
    words = [tb for table in d.tables.tables.values() for tb in table]
    if isinstance(d, VswapSTE):
        zero = sum(1 for tb in words if tb & SWP_TB_ZERO_FLAG and not swp_tb_is_pointer(tb))
        device = 0
        for si in d.devices.devices():
            for off in range(1, si.max):
                if si.swap_map[off] != SWAP_MAP_ALLOCATED:
                    continue
                tb = d.tables.swp_tb(swp_entry(si.type, off))
                if swp_tb_is_pointer(tb) or (not tb & SWP_TB_ZERO_FLAG and (
                        d.zswap is None or d.zswap.lookup(swp_entry(si.type, off)) is None)):
                    device += 1
        return zero, device
    zero = sum(1 for tb in words if tb & SWP_TB_ZERO_FLAG)
    zswapped = d.zswap.statistics().stored_pages if d.zswap is not None else 0
    inuse = sum(si.inuse_pages for si in d.devices.devices())
    return zero, max(inuse - zero - zswapped, 0)


@pytest.mark.parametrize("design", ["swap-table-p4", "vswap-ste"])
def test_counts_equal_the_slot_by_slot_definition(design: str) -> None:
    m = build_machine(loads_config(CONFIG, source="counts.toml"), design)
    d = m.design
    assert isinstance(d, SwapTableP4)
    rng = random.Random(5)
    task = m.spawn("usemem", "/bench")
    npages = 700
    addr = m.mmap(task, npages * PAGE_SIZE)
    seen_zero = seen_device = 0
    for i in range(npages):
        data = bytes(PAGE_SIZE) if i % 3 == 0 else (
            bytes([i % 251]) * PAGE_SIZE if i % 3 == 1 else rng.randbytes(PAGE_SIZE))
        m.write(task, addr + i * PAGE_SIZE, data)
        if i % 20 == 0:
            got = d.swapped_page_locations()
            assert got == plain_counts(d), f"after page {i}"
            seen_zero, seen_device = max(seen_zero, got[0]), max(seen_device, got[1])
    for i in range(0, npages, 3):
        m.read(task, addr + i * PAGE_SIZE, PAGE_SIZE)
    assert d.swapped_page_locations() == plain_counts(d)
    assert seen_zero and seen_device, "the run never swapped both zero and device pages"
