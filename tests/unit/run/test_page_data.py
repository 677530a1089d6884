"""``--page-data compact`` gives the results of ``full``: same counters, same modelled times.

And compact verification still catches a lost, stale or swapped page (vswap.kernel.pagedata).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from vswap.kernel import pagedata
from vswap.kernel.errors import DataLossError
from vswap.kernel.folio import Folio
from vswap.mm.machine import Machine, MachineConfig
from vswap.mm.madvise import MADV_PAGEOUT
from vswap.run import DeviceSpec, RunConfig, run_workload
from vswap.swap.storage import MemSwapStorage
from vswap.workloads.content import content_run, page_content

#: Wall-clock fields, and the configuration keys that name the mode.
_SKIP = ("wall_s", "page_events_per_wall_s", "page_data", "page_data_sizes", "swap_devices")


def _strip(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _strip(v) for k, v in x.items() if k not in _SKIP and "path" not in k}
    if isinstance(x, list):
        return [_strip(v) for v in x]
    if isinstance(x, str):
        return re.sub(r"/tmp/\S+", "TMP", x)
    return x


def _both(**kw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    out = []
    for mode in ("full", "compact"):
        cfg = RunConfig(cpus=2, page_data=mode, **kw)
        r = run_workload(cfg)
        assert r.data_loss == 0
        out.append(r.to_dict())
    full, compact = out
    assert "page_data" not in full["configuration"]
    assert compact["configuration"]["page_data"] == "compact"
    return _strip(full), _strip(compact)


_FILE = [DeviceSpec("file", 16 << 20, "nvme")]
CASES = {
    "usemem-zswap": dict(design="classic", workload="usemem -n 2 -O 2M", memory_max=2 << 20,
                         swap_devices=_FILE, zswap="lz4"),
    "usemem-file": dict(design="vswap", workload="usemem -n 2 -O -r 2 -Z 2M", memory_max=2 << 20,
                        swap_devices=_FILE),
    "pattern-mixed": dict(design="swap-table-p4", workload="pattern --size 2M --content mixed",
                          memory_max=1 << 20, swap_devices=_FILE, zswap="zstd"),
    "kbuild": dict(design="vswap-ste", workload="kbuild -j 2 --jobs 4 --heap 256K:512K "
                   "--worker-heap 64K", memory_max=1 << 20, swap_devices=_FILE, zswap="lz4"),
    "swapoff-zswap": dict(design="vswap-v6", workload="swapoff --fill 0.5 --tasks 2 "
                          "--unrelated 4M", swap_devices=[DeviceSpec("file", 4 << 20, "nvme")],
                          zswap="lz4"),
    "swapoff-file": dict(design="classic", workload="swapoff --fill 0.5 --tasks 2 "
                         "--unrelated 4M", swap_devices=[DeviceSpec("file", 4 << 20, "nvme")]),
    "zswap-writeback": dict(design="vswap", workload="usemem -n 2 -O -r 2 4M",
                            memory_max=2 << 20, swap_devices=_FILE, zswap="lz4",
                            zswap_params={"max_pool_percent": 1, "writeback_batch_size": 4,
                                          "writeback_compressed": True}),
    "hibernate": dict(design="vswap", workload="hibernate --size 2M --image 1M --tasks 2",
                      swap_devices=_FILE),
    "uffd-move": dict(design="vswap-ste", workload="uffd-move --size 1M --swapped 0.75 "
                      "--chunk 8", swap_devices=_FILE),
    "zswap-wb": dict(design="vswap", workload="zswap-wb --size 512K --writeback 0.5",
                     swap_devices=[DeviceSpec("mem", 4 << 20, "nvme")], zswap="lz4",
                     zswap_params={"writeback_batch_size": 16}),
    "zram": dict(design="classic", workload="pattern --size 2M --content text",
                 memory_max=1 << 20, swap_devices=[DeviceSpec("zram", 8 << 20, "zram")]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_compact_results_equal_full(case: str) -> None:
    full, compact = _both(**CASES[case])
    assert full["vmstat"]["pswpout"] + full["vmstat"].get("zswpout", 0) > 0, "nothing swapped"
    if case == "zswap-writeback":
        assert full["kernel_stats"]["zswap"]["written_back_compressed_pages"] > 0
    assert compact == full
    # Pages are descriptors, no bytes kept; but swapoff --unrelated's one b"\x01" * 8 page.
    assert len(pagedata.LITERALS.pages) == (1 if case.startswith("swapoff") else 0)


@pytest.mark.parametrize("content", ["usemem", "zero", "random", "text"])
def test_each_content_equal(content: str) -> None:
    full, compact = _both(design="vswap", workload=f"pattern --size 1M --content {content}",
                          memory_max=512 << 10, swap_devices=_FILE, zswap="deflate")
    assert compact == full


def _machine(mode: str) -> tuple[Machine, Any, int]:
    m = Machine(MachineConfig(ram=32 << 20, design="classic", page_data=mode))
    m.swapon(MemSwapStorage(8 << 20))
    t = m.spawn("t")
    addr = m.mmap(t, 4 * 4096)
    for i in range(4):
        m.write(t, addr + i * 4096, content_run("usemem", i, 1)
                if mode == "compact" else page_content("usemem", i))
    return m, t, addr


def test_compact_folios_hold_tokens() -> None:
    m, t, addr = _machine("compact")
    assert m.compact and Folio().stride == pagedata.TOKEN_BYTES
    assert m.read(t, addr + 4096, 16) == page_content("usemem", 1)[:16]
    m.madvise(t, addr, 4 * 4096, MADV_PAGEOUT)
    assert m.read(t, addr + 2 * 4096, 4096) == page_content("usemem", 2)


def _swapped_slot(m: Machine, t: Any, addr: int, page: int) -> tuple[Any, int]:
    """The storage and slot page ``page`` was swapped to (classic: the PTE's entry)."""
    from vswap.kernel.types import swp_offset
    from vswap.mm.mm_types import PTE_TABLE_MASK, PTE_TABLE_SHIFT

    vpn = (addr >> 12) + page
    v = t.mm.tables[vpn >> PTE_TABLE_SHIFT][0][vpn & PTE_TABLE_MASK]
    entry = v >> 1
    si = next(iter(m.design.devices.devices()))
    return si.storage, swp_offset(entry)


@pytest.mark.parametrize("how", ["stale", "swapped"])
def test_compact_verification_catches_stale_and_swapped_pages(how: str) -> None:
    m, t, addr = _machine("compact")
    m.madvise(t, addr, 4 * 4096, MADV_PAGEOUT)
    storage, slot = _swapped_slot(m, t, addr, 1)
    tok = int(storage._tokens()[slot])
    if how == "stale":
        # The same content, an older write: a full-mode oracle sees equal bytes.
        older = ((tok & pagedata.VERSION_MASK) - (1 << pagedata.VERSION_SHIFT)) \
            & pagedata.VERSION_MASK
        storage._tokens()[slot] = tok & ~pagedata.VERSION_MASK | older
    else:
        _, other = _swapped_slot(m, t, addr, 2)
        storage._tokens()[slot] = storage._tokens()[other]
    with pytest.raises(DataLossError, match="differs from what was last written"):
        m.read(t, addr + 4096, 8)


def test_compact_keeps_no_page_bytes() -> None:
    m, t, addr = _machine("compact")
    m.madvise(t, addr, 4 * 4096, MADV_PAGEOUT)
    storage, _ = _swapped_slot(m, t, addr, 0)
    assert storage._tok is not None and storage._tok.nbytes == 8 * storage.nr_pages
    assert not pagedata.LITERALS.pages  # usemem pages are descriptors, not literals


@pytest.mark.parametrize("argv", [
    ["run", "--design", "classic", "--workload", "usemem -n 1 -O 64M", "--memory-max", "32M",
     "--swap-device", "file:256M", "--scale", "1/64"],
    ["compare", "--design", "classic,vswap", "--workload", "usemem -n 1 -O 64M",
     "--memory-max", "32M", "--swap-device", "mem:256M", "--scale", "1/64", "--jobs", "1"],
    ["bench", "rfc", "--table", "swapoff", "--design", "classic", "--scale", "1/8192",
     "--jobs", "1"],
])
def test_cli_page_data_and_fraction_scale(argv: list[str], tmp_path: Any,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from vswap.cli import main
    from vswap.report.result import load_results

    out = tmp_path / "r.json"
    assert main([*argv, "--page-data", "compact", "--json", str(out)]) == 0
    assert "scale 1/" in capsys.readouterr().out
    runs = load_results(out)
    assert runs and all(r.configuration["page_data"] == "compact" for r in runs)
    assert all(r.data_loss == 0 for r in runs)


def test_config_key_page_data(tmp_path: Any) -> None:
    from vswap.config import loads_config
    from vswap.errors import ConfigError

    assert loads_config('page_data = "compact"', source="t").page_data == "compact"
    with pytest.raises(ConfigError, match="page_data"):
        loads_config('page_data = "tiny"', source="t")


def test_config_file_page_data_reaches_the_machine(tmp_path: Any) -> None:
    from vswap.config import loads_config
    from vswap.run.fromconfig import run_configs_from_file

    cf = loads_config("""page_data = "compact"
designs = ["classic"]
[machine]
ram = "64M"
[[swap]]
type = "file"
size = "16M"
[cgroups."/w"]
"memory.max" = "1M"
[[workloads]]
cgroup = "/w"
command = "usemem -n 1 -O 2M"
""", source="t")
    (cfg,) = run_configs_from_file(cf)
    r = run_workload(cfg)
    assert r.configuration["page_data"] == "compact" and r.data_loss == 0
    assert r.vmstat["pswpout"] > 0


def test_a_new_machine_forgets_literal_sizes() -> None:
    """A literal's id names other bytes in the next machine: its cached size must go too."""
    from vswap.zswap.compressors import get_compressor

    lz4 = get_compressor("lz4")
    a, b = bytes(4095) + b"\x01", bytes(range(256)) * 16
    sizes = []
    for page in (a, b):
        Machine(MachineConfig(ram=32 << 20, page_data="compact"))
        tok = pagedata.bytes_token(page)
        assert tok == pagedata.token(pagedata.LITERAL, 0)
        sizes.append(pagedata.compressed_len("lz4", lz4.compress, tok))
    assert sizes == [len(lz4.compress(a)), len(lz4.compress(b))] and sizes[0] != sizes[1]


def test_the_collector_threshold_is_raised_for_full_page_data_only() -> None:
    """A full run raises the cyclic collector's first threshold (speed); a compact run keeps
    CPython's (its peak memory per swapped entry is issue 12's bar); both restore it."""
    import gc

    from vswap.run.context import GC_THRESHOLD, fewer_gc_passes

    before = gc.get_threshold()
    with fewer_gc_passes("full"):
        assert gc.get_threshold()[0] == max(before[0], GC_THRESHOLD)
    assert gc.get_threshold() == before
    with fewer_gc_passes("compact"):
        assert gc.get_threshold() == before
    assert gc.get_threshold() == before


def test_the_host_memory_check_prices_a_compact_page_as_a_descriptor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The RFC's usemem at full size (8 Mi pages) cannot fit in full mode on a 24 GiB host,
    but fits in compact mode, where a page costs hundreds of bytes, not 5 KiB; a size that
    does not fit even then is refused with the page count and the per-page price."""
    from vswap.errors import ConfigError
    from vswap.run import context
    from vswap.workloads import parse_workload

    monkeypatch.setattr(context, "host_mem_available", lambda: 23 << 30)
    usemem = parse_workload("usemem -n 16 2G")
    with pytest.raises(ConfigError, match=r"8388608 pages x ~5120 B.*--page-data compact"):
        context.check_fits(usemem, RunConfig(page_data="full"), parallel=2)
    est = context.check_fits(usemem, RunConfig(page_data="compact"), parallel=2)
    assert est == 8388608 * context.MODEL_BYTES_PER_PAGE_COMPACT + (64 << 20)
    with pytest.raises(ConfigError, match=r"x ~800 B x 2 runs") as e:
        context.check_fits(parse_workload("usemem -n 16 8G"), RunConfig(page_data="compact"),
                           parallel=2)
    assert "--page-data compact" not in str(e.value)
