"""Each workload's command line, page content and access pattern."""

from __future__ import annotations

import random
import struct

import pytest

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.run import DeviceSpec, RunConfig, run_workload
from vswap.workloads import parse_workload
from vswap.workloads._base import usemem_bytes
from vswap.workloads.kbuild import Kbuild, kbuild_page
from vswap.workloads.memhog import FILL_BYTE, Memhog
from vswap.workloads.stress_ng import StressNgPageswap
from vswap.workloads.swapoff import SwapoffWorkload
from vswap.workloads.usemem import Usemem


def test_usemem_words_hold_their_index() -> None:
    page = usemem_bytes(3 * PAGE_SIZE, PAGE_SIZE)
    words = struct.unpack("<512Q", page)
    assert words == tuple(range(3 * 512, 4 * 512))


def test_usemem_options() -> None:
    w = parse_workload("usemem --init-time -w -O -y -x -R -r 2 -Z -s 1.5 -n 3 -t 2 64m")
    assert isinstance(w, Usemem)
    assert (w.nproc, w.nthread, w.size, w.repeat, w.sleep_s) == (3, 2, 64 << 20, 2, 1.5)
    assert w.random and w.sync_rw and w.sync_free and w.read_again
    assert w.footprint_bytes() == 6 * (64 << 20)


@pytest.mark.parametrize("cmd", ["usemem", "usemem -n 0 1M", "usemem -q 1M", "usemem 1Q",
                                 "usemem -t -1 1M", "memhog", "memhog 12x",
                                 "stress-ng --pageswap 0", "stress-ng --cpu 4",
                                 "kbuild --jobs 3", "kbuild -j 2 --heap 8M:1M",
                                 "kbuild -j 2 --mix 1:2", "swapoff --fill 2", "nope 1M",
                                 "usemem '1M"])
def test_bad_command_lines_are_one_line_errors(cmd: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_workload(cmd)
    assert "\n" not in str(exc.value)


def _cfg(workload: str, **kw: object) -> RunConfig:
    base = dict(design="classic", workload=workload, memory_max=2 << 20,
                swap_devices=[DeviceSpec("file", 32 << 20, "nvme")], cpus=2, seed=1)
    base.update(kw)
    return RunConfig(**base)  # type: ignore[arg-type]


def test_usemem_run_repeats_and_reads_back_verified() -> None:
    r = run_workload(_cfg("usemem -n 2 -O -r 2 -Z 3M"))
    assert r.data_loss == 0
    # Repeat 2 checks every page once, -Z reads every page again: 2 x 2 x 768 pages.
    assert r.verified_pages >= 2 * 2 * 768
    lines = [x for x in r.report if "bytes /" in x and not x.startswith("read again")]
    assert len(lines) == 2 and all(x.endswith("KB/s") for x in lines)
    # usemem counts bytes/8 for the allocation plus bytes per walk.
    assert lines[0].startswith(f"{(3 << 20) // 8 + 2 * (3 << 20)} bytes")
    assert any(x.startswith("read again") for x in r.report)
    assert r.vmstat["pswpin"] > 0


def test_usemem_random_touches_pages_out_of_order() -> None:
    r = run_workload(_cfg("usemem -O -R 2M", memory_max=None))
    assert r.data_loss == 0 and r.vmstat["pgfault"] <= 512


def test_memhog_fills_with_ff() -> None:
    w = parse_workload("memhog -r 2 3M")
    assert isinstance(w, Memhog) and w.repeat == 2
    r = run_workload(_cfg("memhog -r 2 3M"))
    assert r.data_loss == 0 and r.vmstat["pswpout"] > 0 and r.vmstat["swpout_zero"] == 0
    assert FILL_BYTE == 0xFF


def test_stress_ng_pageswap_records_and_pageout() -> None:
    w = parse_workload("stress-ng --pageswap 2 --pageswap-ops 300")
    assert isinstance(w, StressNgPageswap)
    r = run_workload(_cfg("stress-ng --pageswap 2 --pageswap-ops 300", memory_max=None))
    assert r.workload_metrics["bogo_ops"] == 300
    assert r.verified_pages >= 300 and r.data_loss == 0
    # Every page was paged out with MADV_PAGEOUT to the swap file, whose writes complete
    # asynchronously: the written folios stay in the swap cache (no limit reclaims them),
    # so the walk back maps them without a read, as on the kernel.
    assert r.vmstat["pswpout"] >= 300 and r.vmstat["pswpin"] == 0
    assert r.vmstat["pgrotated"] >= 300
    assert r.vmstat["swpout_zero"] == 0  # small records: not zero pages
    # On zram (SWP_SYNCHRONOUS_IO) the write completes at once, the folio is freed, and the
    # walk swaps every page back in.
    r = run_workload(_cfg("stress-ng --pageswap 2 --pageswap-ops 300", memory_max=None,
                          swap_devices=[DeviceSpec("zram", 32 << 20, "zram")]))
    assert r.verified_pages >= 300 and r.data_loss == 0
    assert r.vmstat["pswpout"] >= 300 and r.vmstat["pswpin"] >= 300
    assert r.vmstat["pgrotated"] == 0


def test_kbuild_page_kinds_and_skew() -> None:
    rng = random.Random(1)
    assert kbuild_page(1, 2, 0, rng) == bytes(PAGE_SIZE)
    text = kbuild_page(1, 2, 1, rng)
    rnd = kbuild_page(1, 3, 2, rng)
    assert text[:8] == (1 << 32 | 2).to_bytes(8, "little") and len(text) == PAGE_SIZE
    assert rnd[:8] == (1 << 32 | 3).to_bytes(8, "little") and rnd != text
    import zlib
    assert len(zlib.compress(text)) < PAGE_SIZE // 2 < len(zlib.compress(rnd))
    # The skewed access pattern: the first 10% of a heap gets ~46% of the touches.
    hits = sum(1 for _ in range(20000) if int(100 * rng.random() ** 3) < 10)
    assert 0.40 < hits / 20000 < 0.52


def test_kbuild_run_forks_jobs() -> None:
    w = parse_workload("kbuild -j 3 --jobs 6 --heap 64K:128K --worker-heap 64K")
    assert isinstance(w, Kbuild)
    r = run_workload(_cfg("kbuild -j 3 --jobs 6 --heap 64K:128K --worker-heap 64K",
                          memory_max=512 << 10, zswap="lz4"))
    assert r.workload_metrics["jobs"] == 6 and r.data_loss == 0 and r.tasks_killed == 0
    assert r.vmstat["swpout_zero"] > 0 and r.vmstat["zswpout"] > 0


def test_swapoff_workload_needs_a_device() -> None:
    w = parse_workload("swapoff --fill 0.25")
    assert isinstance(w, SwapoffWorkload) and w.needs_device()
    with pytest.raises(ConfigError):
        run_workload(_cfg("swapoff", swap_devices=[]))


@pytest.mark.parametrize("backing", ["file", "mem"])
@pytest.mark.parametrize("design", ["classic", "vswap"])
def test_swapoff_run(design: str, backing: str) -> None:
    r = run_workload(_cfg("swapoff --fill 0.25 --tasks 2 --unrelated 8M", design=design,
                          memory_max=None, swap_devices=[DeviceSpec(backing, 8 << 20, "nvme")]))
    assert r.swapoff["completed"] and r.data_loss == 0
    # With no limit, what MADV_PAGEOUT wrote to the swap file is still in the swap cache
    # (its writes complete asynchronously, vswap.mm.vmscan): swapoff reads none of it. A
    # SWP_SYNCHRONOUS_IO memory device frees each page at once, so all 512 are read.
    assert r.swapoff["pages_read"] == (0 if backing == "file" else 512)
    assert r.verified_pages >= 512
    assert (r.swapoff["ptes_visited"] > 0) == (design == "classic")


def test_tmpfs_build_swaps_file_pages_and_reads_them_back() -> None:
    """The tmpfs workload: objects written to tmpfs under a memory limit swap out as shmem
    pages and the link step reads every byte back (vswap.mm.shmem)."""
    r = run_workload(_cfg("tmpfs -j 2 --objects 2 --object-size 64K --links 1",
                          memory_max=128 << 10))
    assert r.data_loss == 0 and r.tasks_killed == 0
    assert r.workload_metrics["shmem_swapped_peak"] > 0
    assert r.workload_metrics["shmem_pages"] == 2 * 2 * 16
    assert r.verified_pages >= 2 * 2 * 16


def test_tmpfs_memfd_on_vswap_without_a_device() -> None:
    r = run_workload(_cfg("tmpfs -j 1 --objects 2 --object-size 64K --memfd",
                          design="vswap", swap_devices=[], zswap="lz4",
                          memory_max=64 << 10))
    assert r.data_loss == 0 and r.workload_metrics["shmem_swapped_peak"] > 0


@pytest.mark.parametrize("cmd", ["tmpfs --object-size 100", "tmpfs --huge sometimes",
                                 "tmpfs -j 0", "tmpfs --size 1"])
def test_tmpfs_bad_options(cmd: str) -> None:
    with pytest.raises(ConfigError, match="workload tmpfs"):
        parse_workload(cmd)


@pytest.mark.parametrize("design", ["classic", "vswap", "swap-table-p4"])
def test_hibernate_run_writes_and_verifies_the_image(design: str) -> None:
    """The hibernate workload: some pages swapped, some resident; the image of the resident
    pages goes to physical slots, is verified at resume and freed; every page reads back."""
    r = run_workload(_cfg("hibernate --size 2M --image 1M --tasks 2", design=design,
                          memory_max=None))
    w = r.workload_metrics
    assert w["hibernate_completed"] == 1 and r.data_loss == 0
    assert 0 < w["hibernate_image_pages"] <= 256
    assert w["hibernate_verified"] == w["hibernate_image_pages"]
    assert w["hibernate_slots"] == w["hibernate_image_pages"] + 2
    assert w["hibernate_swapped_kept"] >= 256
    assert r.verified_pages >= 512


@pytest.mark.parametrize("cmd", ["hibernate --size 100", "hibernate --swapped 2",
                                 "hibernate --tasks 0", "hibernate --image x"])
def test_hibernate_bad_options(cmd: str) -> None:
    with pytest.raises(ConfigError, match="hibernate"):
        parse_workload(cmd)


@pytest.mark.parametrize("design", ["classic", "vswap", "vswap-ste"])
def test_uffd_move_run_moves_swapped_pages(design: str) -> None:
    """The uffd-move workload: a swapped-out region moves as swap PTEs (entries unchanged)
    and reads back at the destination, zeros at the source."""
    r = run_workload(_cfg("uffd-move --size 1M --swapped 0.75 --chunk 8", design=design,
                          memory_max=None))
    w = r.workload_metrics
    assert r.data_loss == 0 and w["uffd_errors"] == 0
    assert w["uffd_moved_pages"] == 256
    assert w["uffd_moved_swap"] == 192 and w["uffd_moved_present"] == 64
    assert r.verified_pages >= 256


@pytest.mark.parametrize("cmd", ["uffd-move --size 100", "uffd-move --swapped -1",
                                 "uffd-move --chunk 0"])
def test_uffd_move_bad_options(cmd: str) -> None:
    with pytest.raises(ConfigError, match="uffd-move"):
        parse_workload(cmd)


def test_uffd_move_reports_a_killed_process() -> None:
    """Under a limit the zswap pool cannot fit in, the process is OOM-killed before the
    move: the workload says so instead of reporting an empty move."""
    r = run_workload(_cfg("uffd-move --size 2M --swapped 0.75", design="vswap",
                          zswap="lz4", memory_max=1 << 20))
    assert r.tasks_killed == 1
    assert r.report[0] == "uffd-move: the process died before the move (killed)"
