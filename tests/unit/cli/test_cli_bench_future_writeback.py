"""``vswap bench future --table writeback``: per-page writeback vs batched and compressed
writeback at writeback time, small."""

from __future__ import annotations

from pathlib import Path

import pytest

from vswap.cli import main
from vswap.report.result import load_results
from vswap.run.future import FUTURE_TABLES, future_tables
from vswap.run.future_writeback import BATCH


def test_writeback_is_registered() -> None:
    assert "writeback" in FUTURE_TABLES


def test_rows_per_design() -> None:
    (t,) = future_tables(["writeback"], 1 / 128,
                         designs=("classic", "swap-table-p4", "vswap-ste", "vswap"))
    assert list(t.configs) == ["classic", "swap-table-p4", "vswap-ste", "vswap",
                               f"vswap-ste (batch {BATCH})", f"vswap (batch {BATCH})",
                               f"vswap (batch {BATCH}, compressed)"]
    assert t.configs["classic"].workloads == [("/wb", "zswap-wb --size 8M")]
    # A swap file on NVMe, not a memory device (SWP_SYNCHRONOUS_IO, where nothing reads
    # ahead): the read-back reads ahead as on a real NVMe swap file.
    for c in t.configs.values():
        assert [(d.type, d.kind) for d in c.config_file.devices] == [("file", "nvme")]


def test_writeback_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert main(["bench", "future", "--table", "writeback", "--design", "classic,vswap",
                 "--scale", "1/1024", "--jobs", "1", "--json", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    (t,) = future_tables(["writeback"], 1 / 1024, designs=("classic", "vswap"))
    by = dict(zip(t.configs, load_results(out), strict=True))
    pages = 256
    for r in by.values():
        assert r.data_loss == 0 and r.verified_pages >= 2 * pages
        assert r.vmstat["zswpwb"] == r.workload_metrics["written_back"] == pages
        # The read-back reads ahead (a swap file is not synchronous): fewer major faults
        # than pages, the rest found in the swap cache.
        assert r.vmstat["swap_ra_hit"] > 0 and r.vmstat["pgmajfault"] < pages
    c, v = by["classic"], by["vswap"]
    b, z = by[f"vswap (batch {BATCH})"], by[f"vswap (batch {BATCH}, compressed)"]
    # Per page: one request per page, under classic and vswap alike.
    assert c.devices[0]["writes"] == v.devices[0]["writes"] == pages
    # A batch is one request of BATCH pages: fewer requests, less writeback time.
    for r in (b, z):
        assert r.devices[0]["writes"] == pages // BATCH
        assert r.devices[0]["write_bytes"] == pages * 4096
        assert r.workload_metrics["writeback_s"] < v.workload_metrics["writeback_s"]
    # Compressed: no decompression at writeback (cheaper still), paid at swap-in.
    assert z.workload_metrics["writeback_s"] < b.workload_metrics["writeback_s"]
    assert 0 < z.kernel_stats["zswap"]["written_back_compressed_bytes"] < pages * 4096
    assert "zswap writeback at writeback time" in text
    assert f"vswap (batch {BATCH}) / classic" in text
    assert f"vswap (batch {BATCH}): writeback" in text and "fewer write requests" in text
