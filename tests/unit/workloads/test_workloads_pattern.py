"""The pattern and pageout workloads: content classes, swap paths and read-back checks."""

from __future__ import annotations

import lz4.block
import pytest

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.run import DeviceSpec, RunConfig, run_workload
from vswap.workloads import parse_workload
from vswap.workloads.content import CONTENTS, page_class, page_content, write_sequence
from vswap.workloads.pattern import Pageout, Pattern


def test_content_classes() -> None:
    assert page_content("zero", 7) == bytes(PAGE_SIZE)
    assert [page_class("mixed", i) for i in range(6)] == ["zero", "random", "text"] * 2
    text = page_content("text", 3)
    assert len(text) == PAGE_SIZE and set(text) <= set(b"abcdefghijklmnopqrstuvwxyz ")
    ratio = PAGE_SIZE / len(lz4.block.compress(text, store_size=False))
    assert 1.7 < ratio < 3.0
    rnd = page_content("random", 3)
    assert len(lz4.block.compress(rnd, store_size=False)) >= PAGE_SIZE
    assert page_content("random", 3) != page_content("random", 4)
    # A zero page is written with data first, then zeroed.
    assert write_sequence("zero", 2) == (page_content("text", 2), bytes(PAGE_SIZE))
    assert write_sequence("text", 3) == (text,)
    with pytest.raises(ValueError):
        page_content("nope", 0)


@pytest.mark.parametrize("cmd", ["pattern --size 1M", "pattern --content zero",
                                 "pattern --size 1M --content blue",
                                 "pattern --size 1M --content zero --passes 0",
                                 "pageout --size 1M --content text --passes 2",
                                 "pageout --size 100 --content text"])
def test_bad_command_lines(cmd: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_workload(cmd)
    assert "\n" not in str(exc.value)


def test_parse() -> None:
    w = parse_workload("pattern --size 1M --content mixed --passes 3")
    assert isinstance(w, Pattern) and (w.size, w.content, w.passes) == (1 << 20, "mixed", 3)
    p = parse_workload("pageout --size 64K --content random")
    assert isinstance(p, Pageout) and p.npages == 16
    assert set(CONTENTS) == {"usemem", "zero", "random", "text", "mixed"}


def _run(workload: str, **kw: object):  # type: ignore[no-untyped-def]
    base = dict(design="classic", workload=workload, memory_max=1 << 20,
                swap_devices=[DeviceSpec("file", 16 << 20, "nvme")], cpus=2, seed=1)
    base.update(kw)
    return run_workload(RunConfig(**base))  # type: ignore[arg-type]


def test_pattern_zero_pages_go_to_the_zero_map() -> None:
    r = _run("pattern --size 2M --content zero")
    vm = r.vmstat
    assert r.data_loss == 0
    assert vm["swpout_zero"] > 0 and vm["pswpout"] == 0
    assert vm["swpin_zero"] > 0 and vm["pswpin"] == 0
    assert any(line.startswith("pattern pass 1: wrote 512 pages") for line in r.report)


def test_pattern_random_pages_go_to_the_device_and_back() -> None:
    r = _run("pattern --size 2M --content random --passes 2")
    vm = r.vmstat
    assert r.data_loss == 0 and vm["swpout_zero"] == 0
    assert vm["pswpout"] >= 256 and vm["pswpin"] >= 256
    assert sum(1 for line in r.report if line.startswith("pattern pass")) == 2


def test_pattern_mixed_with_zswap_splits_by_class() -> None:
    r = _run("pattern --size 3M --content mixed", zswap="lz4")
    vm = r.vmstat
    assert r.data_loss == 0
    # Zero pages never reach zswap; text compresses into zswap; random pages are rejected
    # by classic's v6.14 zswap (reject_compress_poor) and written to the device. Zero and
    # random pages are a third of the region each.
    poor = r.kernel_stats["zswap"]["reject_compress_poor"]
    assert vm["swpout_zero"] > 0 and vm["zswpout"] > 0 and vm["zswpin"] > 0
    assert poor == vm["pswpout"] > 0
    # Each random page is read back once, but under a 1 MiB limit a few pages read ahead
    # are reclaimed before their use and read again (readahead pages charged with reclaim).
    assert vm["pswpout"] <= vm["pswpin"] <= vm["pswpout"] + vm["swap_ra"] - vm["swap_ra_hit"]
    assert abs(vm["swpout_zero"] - poor) < 0.1 * poor


def test_pageout_pushes_the_whole_region_out_and_reads_it_back() -> None:
    # On a swap file with no limit the written folios stay in the swap cache (the writes
    # complete asynchronously, vswap.mm.vmscan): the read-back maps them without a read, as
    # on 6.18 (docs/fidelity.md).
    r = _run("pageout --size 1M --content text", memory_max=None)
    vm = r.vmstat
    assert r.data_loss == 0
    assert vm["pswpout"] == 256 and vm["pgrotated"] == 256
    assert vm["pgmajfault"] == 0 and vm["pswpin"] == 0
    assert any(line.startswith("pageout: wrote 256 pages") for line in r.report)
    # On a SWP_SYNCHRONOUS_IO memory device each page is freed at once and read back.
    r = _run("pageout --size 1M --content text", memory_max=None,
             swap_devices=[DeviceSpec("mem", 16 << 20, "nvme")])
    vm = r.vmstat
    assert r.data_loss == 0
    assert vm["pswpout"] == 256 and vm["pgrotated"] == 0
    assert vm["pgmajfault"] > 0
    assert vm["pswpin"] == 256
