"""Cost table, device kinds and `vswap calibrate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.errors import ConfigError
from vswap.sim.costs import BUILTIN_COSTS, COMPRESSORS, DEFAULT_COSTS, PAGE_SIZE, CostTable
from vswap.sim.device_kinds import DEVICE_KINDS, get_device_kind
from vswap.sim.engine import Engine


def test_every_cost_entry_is_a_positive_int_with_a_source() -> None:
    names = CostTable.cost_names()
    assert len(names) >= 35
    for name, ns, source in DEFAULT_COSTS.entries():
        assert isinstance(ns, int) and ns > 0, name
        assert len(source) > 20, name
    for algo in COMPRESSORS:
        assert DEFAULT_COSTS.compress_ns(algo) > 0
        assert DEFAULT_COSTS.decompress_ns(algo) > 0
    with pytest.raises(KeyError):
        DEFAULT_COSTS.source("calibrated")


def test_the_default_table_is_the_shipped_calibration() -> None:
    """Issue 11: the table calibrated on a kernel is the default; its entries say where
    they come from, and the ones it does not set are the built-in ones."""
    c = DEFAULT_COSTS
    assert c.calibrated and c is not BUILTIN_COSTS
    for name in c.calibrated:
        assert "measured on the host" in c.source(name)
        assert "linux-6.18-epyc-vm.json" in c.source(name)
    assert c.pte_update == BUILTIN_COSTS.pte_update and "pte_update" not in c.calibrated


def test_cost_lookups() -> None:
    c = BUILTIN_COSTS
    assert c.compress_ns("lz4") == round(4096 * 1000 / 452)
    assert c.compress_ns("lzo-rle") == c.compress_lzo_rle
    assert c.compress_ns("lz4", PAGE_SIZE // 2) == -(-c.compress_lz4 // 2)
    assert c.decompress_ns("zstd", 2 * PAGE_SIZE) == 2 * c.decompress_zstd
    with pytest.raises(ConfigError, match="valid: lzo, lzo-rle"):
        c.compress_ns("snappy")
    assert c.io_submit_ns(True) == c.io_submit_sync
    assert c.io_submit_ns(False) == c.io_submit
    assert c.io_complete_ns(True) == 0
    # Equivalent steps share a value by construction (never tuned per design).
    assert c.vswap_slot_alloc == c.swap_slot_alloc
    assert c.swap_desc_lookup == c.swap_cache_lookup


def test_from_calibration_overrides_and_relabels(tmp_path: Path) -> None:
    f = tmp_path / "cal.json"
    f.write_text(json.dumps({"host": {"node": "box"}, "overrides": {"compress_lz4": 1234.4}}))
    c = CostTable.from_calibration(f)
    assert c.compress_lz4 == 1234
    assert "measured on the host" in c.source("compress_lz4")
    assert "lzbench" in c.source("decompress_lz4")
    assert DEFAULT_COSTS.compress_lz4 != 1234
    f.write_text(json.dumps({"overrides": {"no_such_step": 1}}))
    with pytest.raises(ConfigError, match="unknown cost entry"):
        CostTable.from_calibration(f)
    f.write_text(json.dumps({"overrides": {"page_copy": -5}}))
    with pytest.raises(ConfigError, match="positive"):
        CostTable.from_calibration(f)
    f.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="calibrate"):
        CostTable.from_calibration(f)
    f.write_text("{nope")
    with pytest.raises(ConfigError, match="not JSON"):
        CostTable.from_calibration(f)


def test_device_kinds_have_sources_and_make_queues() -> None:
    assert set(DEVICE_KINDS) == {"ssd", "nvme", "hdd", "pmem", "zram", "remote"}
    for kind in DEVICE_KINDS.values():
        for field in ("read_latency_ns", "write_latency_ns", "read_bandwidth",
                      "write_bandwidth", "queue_depth"):
            assert getattr(kind, field) > 0
            assert len(kind.source(field)) > 20
        q = kind.make_queue(Engine(), f"{kind.name}0")
        assert q.depth == kind.queue_depth
    assert get_device_kind("HDD").rotational and not get_device_kind("hdd").solidstate
    assert get_device_kind("nvme").solidstate
    assert get_device_kind("zram").synchronous_io and not get_device_kind("ssd").synchronous_io
    # Ordering that any sane data must respect.
    lat = {k: v.read_latency_ns for k, v in DEVICE_KINDS.items()}
    assert lat["pmem"] < lat["zram"] < lat["nvme"] < lat["ssd"] < lat["hdd"]
    with pytest.raises(ConfigError, match="valid: hdd, nvme, pmem, remote, ssd, zram"):
        get_device_kind("floppy")


def test_calibrate_prints_a_table_and_writes_loadable_json(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cal.json"
    rc = main(["calibrate", "--iterations", "20", "--repeats", "1", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "compress_lz4" in text and "zero_check" in text and "page_copy" in text
    data = json.loads(out.read_text())
    names = {m["name"] for m in data["measurements"]}
    assert {"compress_lz4", "decompress_zstd", "compress_deflate", "decompress_lzo"} <= names
    assert "compress_lzo" not in data["overrides"]  # lzokay is not the kernel's LZO1X-1
    c = CostTable.from_calibration(out)
    assert c.calibrated == frozenset(data["overrides"])
    assert main(["calibrate", "--iterations", "0"]) == 2
