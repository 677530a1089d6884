"""Batched and compressed zswap writeback (model only, docs/future.md): the shrinker gathers
``writeback_batch_size`` entries, the virtual designs give the batch its physical slots at
writeback time and write each contiguous run as one request; ``writeback_compressed`` writes
the objects as stored and decompresses them at swap-in. Every page is read back and checked."""

from __future__ import annotations

import pytest

from vswap.errors import ConfigError
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.faults import FaultInjector
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import MADV_PAGEOUT, Machine, MachineConfig
from vswap.swap.storage import MemSwapStorage
from vswap.zswap.host import WB_BATCH_DESIGNS, WB_COMPRESSED_DESIGNS

MiB = 1 << 20
PARAMS = "/sys/module/zswap/parameters/"
N = 40


def page(i: int) -> bytes:
    """A compressible page, distinct per ``i``."""
    return (i.to_bytes(4, "little") + b"wb" * 30) * (PAGE_SIZE // 64)


def stored(design: str, *, faults: FaultInjector | None = None,
           **params: object) -> tuple[Machine, object, int]:
    """``N`` pages paged out into zswap, then the shrinker switched on."""
    m = Machine(MachineConfig(ram=32 * MiB, design=design, zswap=True, faults=faults,
                              zswap_params={"compressor": "lz4", **params}))
    m.swapon(MemSwapStorage(8 * MiB), prio=10)
    t = m.spawn("wb")
    a = m.mmap(t, N * PAGE_SIZE)
    for i in range(N):
        m.write(t, a + i * PAGE_SIZE, page(i))
    m.madvise(t, a, N * PAGE_SIZE, MADV_PAGEOUT)
    assert m.zswap is not None and m.zswap.stored_pages == N
    m.sysfs_write(PARAMS + "shrinker_enabled", "Y")
    return m, t, a


def write_back(m: Machine, nr: int = 2 * N) -> int:
    """Scan the root LRU: the first pass rotates the referenced entries, the second writes."""
    assert m.zswap is not None
    done = 0
    for _ in range(4):
        got = m.zswap.zswap_shrinker_scan(None, nr)
        done += max(got, 0)
    m.try_to_free_pages(N)
    return done


def read_all(m: Machine, t: object, a: int) -> None:
    for i in range(N):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(i), f"page {i}"


@pytest.mark.parametrize("design", WB_BATCH_DESIGNS)
def test_batches_are_one_request_each(design: str) -> None:
    m, t, a = stored(design, writeback_batch_size=8)
    assert m.sysfs_read(PARAMS + "writeback_batch_size") == "8\n"
    assert write_back(m) == N
    assert m.zswap is not None
    sh = m.zswap.shrinker
    assert m.vmstat["zswpwb"] == N and sh.written_back_pages == N
    # 40 pages in batches of 8: at least 5 requests, at most 8 pages each.
    assert 5 <= sh.written_back_requests < N
    assert sh.written_back_max_request == 8
    read_all(m, t, a)
    assert m.vmstat["pswpin"] == N
    m.design.check_invariants()


def test_batch_size_one_is_the_kernel_path() -> None:
    m, t, a = stored("vswap")
    assert m.zswap is not None and not m.zswap.wb_batching
    assert write_back(m) == N
    assert m.zswap.shrinker.written_back_requests == 0  # counted only when batching
    read_all(m, t, a)


@pytest.mark.parametrize("design", WB_COMPRESSED_DESIGNS)
def test_compressed_writeback_round_trips(design: str) -> None:
    m, t, a = stored(design, writeback_batch_size=16, writeback_compressed=True)
    assert write_back(m) == N
    assert m.zswap is not None
    sh = m.zswap.shrinker
    assert sh.written_back_compressed_pages == N
    assert 0 < sh.written_back_compressed_bytes < N * PAGE_SIZE
    d = m.design
    assert len(d.wb_compressed) == N  # type: ignore[attr-defined]
    d.check_invariants()
    read_all(m, t, a)
    assert not d.wb_compressed  # type: ignore[attr-defined]


def test_failed_request_keeps_its_entries_in_zswap() -> None:
    faults = FaultInjector(seed=0)
    m, t, a = stored("vswap", faults=faults, writeback_batch_size=8)
    assert m.zswap is not None
    m.zswap.zswap_shrinker_scan(None, N)  # second chance: only rotates
    faults.schedule["device_write"] = {faults.calls["device_write"] + 2}
    done = m.zswap.zswap_shrinker_scan(None, N)
    assert done == N - 8 and m.zswap.stored_pages == 8
    assert m.design.io_write_errors == 8
    m.design.check_invariants()
    m.zswap.check_invariants()
    write_back(m)
    read_all(m, t, a)


def test_no_slot_for_part_of_a_batch() -> None:
    """A device that fills mid-batch: the pages without a slot stay in zswap."""
    m = Machine(MachineConfig(ram=32 * MiB, design="vswap", zswap=True,
                              zswap_params={"compressor": "lz4", "writeback_batch_size": 32}))
    m.swapon(MemSwapStorage(24 * PAGE_SIZE), prio=10)
    t = m.spawn("wb")
    a = m.mmap(t, N * PAGE_SIZE)
    for i in range(N):
        m.write(t, a + i * PAGE_SIZE, page(i))
    m.madvise(t, a, N * PAGE_SIZE, MADV_PAGEOUT)
    m.sysfs_write(PARAMS + "shrinker_enabled", "Y")
    done = write_back(m)
    assert m.zswap is not None
    assert 0 < done < N and m.zswap.stored_pages == N - done
    m.design.check_invariants()
    read_all(m, t, a)


@pytest.mark.parametrize(("design", "name", "value"), [
    *((d, n, v) for d in ("classic", "swap-table-p1", "swap-table-p4")
      for n, v in (("writeback_batch_size", "8"), ("writeback_compressed", "Y"))),
    ("vswap-ste", "writeback_compressed", "Y")])
def test_enotsup_where_writeback_keeps_its_slot(design: str, name: str, value: str) -> None:
    m = Machine(MachineConfig(ram=32 * MiB, design=design, zswap=True))
    assert m.sysfs_read(PARAMS + name) in ("1\n", "N\n")
    with pytest.raises(KernelError) as exc:
        m.sysfs_write(PARAMS + name, value)
    assert exc.value.errno == Errno.ENOTSUP
    assert f"{name}: not available under {design}" in str(exc.value)
    with pytest.raises(ConfigError, match=f"not available under {design}"):
        Machine(MachineConfig(ram=32 * MiB, design=design, zswap=True,
                              zswap_params={name: 8 if value == "8" else True}))


def test_batch_size_range() -> None:
    m = Machine(MachineConfig(ram=32 * MiB, design="vswap", zswap=True))
    for bad in ("0", "513", "x"):
        with pytest.raises(KernelError) as exc:
            m.sysfs_write(PARAMS + "writeback_batch_size", bad)
        assert exc.value.errno == Errno.EINVAL
    m.sysfs_write(PARAMS + "writeback_batch_size", "512")


def test_config_file_refuses_batching_where_it_cannot_exist() -> None:
    from vswap.config import build_machine, loads_config

    text = ('designs = ["classic", "vswap"]\n[machine]\nram = "64M"\n'
            '[[swap]]\ntype = "mem"\nsize = "16M"\n'
            '[zswap]\ncompressor = "lz4"\nwriteback_batch_size = 8\n')
    config = loads_config(text, source="wb.toml")
    assert config.zswap is not None and config.zswap.writeback_batch_size == 8
    m = build_machine(config, "vswap")
    assert m.sysfs_read(PARAMS + "writeback_batch_size") == "8\n"
    with pytest.raises(ConfigError, match=r"^wb.toml: zswap.writeback_batch_size: not "
                                          r"available under classic: a zswap entry keeps"):
        build_machine(config, "classic")


def test_compressed_slots_survive_compaction_and_swapoff() -> None:
    m, t, a = stored("vswap", writeback_batch_size=8, writeback_compressed=True)
    assert write_back(m) == N
    for i in range(0, N, 2):  # free every other page: sparse clusters to compact
        m.munmap(t, a + i * PAGE_SIZE, PAGE_SIZE)
    m.sysfs_write("/sys/kernel/mm/swap/compact", "1")
    assert sum(r.moved for r in m.swap_compactions) > 0
    d = m.design
    d.check_invariants()
    assert len(d.wb_compressed) == N // 2  # type: ignore[attr-defined]
    si = next(iter(d.devices.devices()))
    m.swapoff(si.type)  # reads every slot back through swap_read_folio
    assert not d.wb_compressed  # type: ignore[attr-defined]
    for i in range(1, N, 2):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(i), f"page {i}"


def test_failed_request_in_the_middle_of_a_batch() -> None:
    """A fragmented device gives an 8-entry batch scattered slots: several requests; the
    third fails, its page stays in zswap, the others are written; every page reads back."""
    faults = FaultInjector(seed=0)
    m = Machine(MachineConfig(ram=32 * MiB, design="vswap", zswap=True, faults=faults,
                              zswap_params={"compressor": "lz4", "writeback_batch_size": 8}))
    si = m.swapon(MemSwapStorage(64 * PAGE_SIZE), prio=10)
    t = m.spawn("frag")
    nf = si.pages - 2
    f = m.mmap(t, nf * PAGE_SIZE)
    for i in range(nf):
        m.write(t, f + i * PAGE_SIZE, page(1000 + i))
    m.sysfs_write(PARAMS + "enabled", "N")  # straight to the device
    m.madvise(t, f, nf * PAGE_SIZE, MADV_PAGEOUT)
    for i in range(0, nf, 2):
        m.munmap(t, f + i * PAGE_SIZE, PAGE_SIZE)
    m.sysfs_write(PARAMS + "enabled", "Y")
    a = m.mmap(t, 8 * PAGE_SIZE)
    for i in range(8):
        m.write(t, a + i * PAGE_SIZE, page(i))
    m.madvise(t, a, 8 * PAGE_SIZE, MADV_PAGEOUT)
    assert m.zswap is not None and m.zswap.stored_pages == 8
    m.sysfs_write(PARAMS + "shrinker_enabled", "Y")
    m.zswap.zswap_shrinker_scan(None, 8)  # second chance: only rotates
    faults.schedule["device_write"] = {faults.calls["device_write"] + 3}
    assert m.zswap.zswap_shrinker_scan(None, 8) == 7
    sh = m.zswap.shrinker
    assert sh.written_back_requests == 7 and sh.written_back_max_request == 2  # 1 pair
    assert m.zswap.stored_pages == 1 and m.design.io_write_errors == 1
    m.design.check_invariants()
    m.zswap.check_invariants()
    m.try_to_free_pages(16)
    for i in range(8):
        assert m.read(t, a + i * PAGE_SIZE, PAGE_SIZE) == page(i), f"page {i}"
    for i in range(1, nf, 2):
        assert m.read(t, f + i * PAGE_SIZE, PAGE_SIZE) == page(1000 + i), f"page {i}"


def test_shrink_worker_writes_back_in_batches() -> None:
    """``shrink_memcg`` (the shrink worker's step) walks a batch's worth of entries and
    writes them as one batch."""
    m, t, a = stored("vswap", writeback_batch_size=8)
    assert m.zswap is not None
    sh = m.zswap.shrinker
    for _ in range(N // 8):  # every entry referenced: each call rotates 8
        assert m.zswap.shrink_memcg(None) == -Errno.EAGAIN
    for _ in range(N // 8):
        assert m.zswap.shrink_memcg(None) == 0
    assert sh.written_back_pages == N and m.zswap.stored_pages == 0
    assert sh.written_back_requests == N // 8
    m.try_to_free_pages(N)
    read_all(m, t, a)
