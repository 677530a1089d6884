"""The zram device model: slots, same-filled and huge pages, statistics, free notifications,
writeback to a backing device (plain and compressed, in batches), and zram under a run."""

from __future__ import annotations

import pytest

from vswap.errors import ConfigError
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.run import RunConfig, parse_device_spec, run_workload
from vswap.swap.zram import ZramFlag, ZramStorage
from vswap.workloads.content import page_content


def _dev(**kw: object) -> ZramStorage:
    return ZramStorage(4 << 20, **kw)  # type: ignore[arg-type]


def test_same_filled_pages_take_no_memory() -> None:
    z = _dev()
    z.write_page(5, b"\xab" * PAGE_SIZE)
    assert z.flags[5] == ZramFlag.SAME and z.same_pages == 1 and z.pool.zs_get_total_pages() == 0
    assert z.read_page(5) == b"\xab" * PAGE_SIZE
    mm = z.mm_stat()
    assert mm.same_pages == 1 and mm.orig_data_size == 0 and mm.compr_data_size == 0
    z.check_invariants()


def test_compressed_and_huge_pages() -> None:
    z = _dev(comp="lz4")
    text, rnd = page_content("text", 1), page_content("random", 1)
    z.write_page(1, text)
    z.write_page(2, rnd)
    assert z.read_page(1) == text and z.read_page(2) == rnd
    assert z.flags[2] & ZramFlag.HUGE and z.huge_pages == 1 and z.huge_pages_since == 1
    assert z.size[2] == PAGE_SIZE and z.size[1] < PAGE_SIZE // 1.5
    mm = z.mm_stat()
    assert mm.orig_data_size == 2 * PAGE_SIZE
    assert mm.compr_data_size == z.size[1] + PAGE_SIZE
    assert mm.mem_used_total == z.pool.zs_get_total_pages() * PAGE_SIZE >= mm.compr_data_size
    assert mm.mem_used_max >= mm.mem_used_total
    # Overwriting frees the old object first.
    z.write_page(2, text)
    assert z.huge_pages == 0 and z.huge_pages_since == 1
    z.check_invariants()
    assert mm.format().count(" ") >= 8


def test_slot_free_notify_releases_memory() -> None:
    z = _dev()
    for i in range(1, 9):
        z.write_page(i, page_content("text", i))
    z.swap_slot_free_notify(1, 8)
    assert z.pages_stored == 0 and z.compr_data_size == 0 and z.notify_free == 8
    assert z.io_stat() == {"failed_reads": 0, "failed_writes": 0, "invalid_io": 0,
                           "notify_free": 8}
    assert z.read_page(3) == bytes(PAGE_SIZE)
    z.check_invariants()


def test_header_and_bad_io() -> None:
    z = _dev()
    assert z.read_page(0)[-10:] == b"SWAPSPACE2"
    with pytest.raises(KernelError) as exc:
        z.read_page(z.nr_pages)
    assert exc.value.errno == Errno.EINVAL and z.invalid_io == 1
    with pytest.raises(ConfigError):
        ZramStorage(4 << 20, comp="lzo-rle")
    with pytest.raises(ConfigError):
        ZramStorage(4 << 20, writeback_batch_size=0)


def test_mem_limit_fails_writes() -> None:
    z = ZramStorage(8 << 20, comp="lz4", mem_limit=64 << 10)
    with pytest.raises(KernelError) as exc:
        for i in range(1, 200):
            z.write_page(i, page_content("random", i))
    assert exc.value.errno == Errno.ENOMEM and z.failed_writes == 1
    z.check_invariants()


@pytest.mark.parametrize("compressed", [False, True])
def test_writeback_idle_and_huge(compressed: bool) -> None:
    z = ZramStorage(4 << 20, comp="lz4", backing_dev=1 << 20,
                    writeback_compressed=compressed, writeback_batch_size=3)
    for i in range(1, 11):
        z.write_page(i, page_content("mixed" if i % 2 else "text", i))
    with pytest.raises(KernelError):
        z.writeback("sometimes")
    huge = [i for i in range(1, 11) if z.flags[i] & ZramFlag.HUGE]
    assert huge and z.writeback("huge") == len(huge)
    assert all(z.flags[i] & ZramFlag.WB for i in huge)
    assert all(bool(z.flags[i] & ZramFlag.HUGE) == compressed for i in huge)
    same = [i for i in range(1, 11) if z.flags[i] & ZramFlag.SAME]
    assert same == [3, 9]  # mixed pages 3 and 9 are zero-filled
    z.mark_idle()
    z.read_page(4)  # accessed: no longer idle
    n = z.writeback("idle")
    assert n == 10 - len(huge) - len(same) - 1 and not z.flags[4] & ZramFlag.WB
    for i in range(1, 11):
        assert z.read_page(i) == page_content("mixed" if i % 2 else "text", i)
    st = z.bd_stat()
    assert st["bd_count"] == st["bd_writes"] == sum(
        1 for i in range(1, 11) if z.flags[i] & ZramFlag.WB)
    assert st["bd_reads"] >= st["bd_count"]
    z.check_invariants()
    z.swap_slot_free_notify(1, 10)
    assert z.bd_count == 0
    z.check_invariants()
    no_bd = _dev()
    with pytest.raises(KernelError) as exc:
        no_bd.writeback("idle")
    assert exc.value.errno == Errno.ENODEV


def test_writeback_full_backing_device() -> None:
    z = ZramStorage(4 << 20, comp="lz4", backing_dev=2 * PAGE_SIZE)
    for i in range(1, 5):
        z.write_page(i, page_content("text", i))
    z.mark_idle()
    with pytest.raises(KernelError) as exc:
        z.writeback("idle")
    assert exc.value.errno == Errno.ENOSPC and z.bd_count == 2
    z.check_invariants()


def test_zram_run_bypasses_the_swap_cache() -> None:
    spec = parse_device_spec("zram:32M,comp=lz4")
    assert spec is not None
    r = run_workload(RunConfig(design="classic", workload="pattern --size 3M --content mixed",
                               memory_max=1 << 20, swap_devices=[spec], cpus=2, seed=1))
    vm = r.vmstat
    assert r.data_loss == 0
    assert vm["pswpout"] > 0 and vm["swpout_zero"] > 0
    # SWP_SYNCHRONOUS_IO: swap-ins of count-1 entries skip the swap cache and readahead.
    assert vm["swap_ra"] == 0 and vm["pgmajfault"] > 0
    zr = r.kernel_stats["zram0"]
    assert zr["comp_algorithm"] == "lz4"
    # Zero pages stop at the zeromap; random ones are huge, text ones compressed.
    assert zr["mm_stat"]["same_pages"] == 0 and zr["mm_stat"]["huge_pages_since"] > 0
    assert zr["io_stat"]["notify_free"] >= vm["pswpin"]
    assert zr["peak"]["orig_data_size"] > zr["peak"]["compr_data_size"] > 0
    assert r.devices[0]["type"] == "partition"


def test_an_incompressible_page_is_priced_as_poor_compression() -> None:
    """zram prices the compression of a page whose output is a page or more apart
    (CostTable.compress_poor_*; it is then stored huge)."""
    from vswap.kernel.tracing import KernelTracer

    class Seen(KernelTracer):
        def __init__(self) -> None:
            self.poor: list[bool] = []

        def compress(self, algo: str, nbytes: int, poor: bool = False) -> None:
            self.poor.append(poor)

    z = _dev(comp="lz4")
    z.tracer = seen = Seen()
    z.write_page(1, page_content("text", 1))
    z.write_page(2, page_content("random", 1))
    assert seen.poor == [False, True]
