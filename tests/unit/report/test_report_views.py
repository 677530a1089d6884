"""result_from_machine, the kernel-format views rebuilt from a result, and ``vswap stat``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from reporthelpers import NPAGES, STEP_NS, small_machine_run, small_run

from vswap.cli import main
from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.report.collect import TIMELINE_KEYS, lock_record, page_locations
from vswap.report.result import RESULT_VERSION, RunResult, load_results, save_results
from vswap.report.views import (
    format_meminfo,
    format_memory_stat,
    format_swaps,
    format_view,
    format_vmstat,
)
from vswap.sim.locks import LockStatistics


@pytest.fixture(scope="module", params=["classic", "vswap"])
def machine_run(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    return small_machine_run(str(request.param))


@pytest.fixture(scope="module")
def result_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("results") / "small.json"
    save_results(path, [small_run("classic"), small_run("vswap")])
    return path


def test_result_from_machine_reads_the_machine(machine_run) -> None:  # type: ignore[no-untyped-def]
    m, r = machine_run
    assert r.workload == "usemem -n 1 3M" and r.seed == 7
    assert r.vmstat == m.vmstat_dict()
    assert r.vmstat["zswpout"] > 0 and r.vmstat["swpout_zero"] > 0
    assert r.meminfo == m.meminfo()
    assert set(r.cgroups) == {"/", "/bench"}
    assert r.cgroups["/bench"]["memory.max"] == 2 << 20
    assert r.cgroups["/bench"]["memory.stat"] == m.memcg_stat(m.memcgs.lookup("/bench"))
    assert r.metadata_bytes == m.design.metadata_bytes() and sum(r.metadata_bytes.values()) > 0
    assert r.verified_pages == m.oracle.stats.checked > 0
    (dev,) = r.devices
    assert dev["name"] == "mem:16M" and dev["type"] == "partition" and dev["kind"] == "zram"
    assert dev["size_pages"] == 4095 and dev["prio"] == -1
    assert dev["peak_used_pages"] >= dev["used_pages"] > 0
    assert r.configuration["machine"]["cpus"] == 2
    assert r.configuration["cgroups"] == {"/bench": {"memory.max": "2M"}}
    assert r.rfc["sys_s"] in (341.09, 373.01)


def test_timeline_samples(machine_run) -> None:  # type: ignore[no-untyped-def]
    m, r = machine_run
    assert [s["t_ns"] for s in r.timeline] == [
        *(i * STEP_NS for i in range(0, NPAGES, 25)), NPAGES * STEP_NS]
    assert all(tuple(s) == TIMELINE_KEYS for s in r.timeline)
    last = r.timeline[-1]
    assert last["resident_pages"] == m.nr_used_pages
    assert last["swapcache_pages"] == m.nr_swapcached()
    assert last["zswap_pool_bytes"] == m.zswap.pool_total_size > 0
    assert last["zswap_pages"] * 4 == r.meminfo["Zswapped"]
    # Early on nothing is swapped; at the end every backend holds pages.
    assert r.timeline[1]["zswap_pages"] == r.timeline[1]["device_pages"] == 0
    assert last["zero_pages"] > 0 and last["device_pages"] > 0


def test_page_locations_classic_slots_hold_zswap_and_zero_pages() -> None:
    m, r = small_machine_run("classic")
    loc = page_locations(m)
    (dev,) = r.devices
    # Classic: every swapped page (zswap, zero or not) owns a device slot.
    assert dev["used_pages"] == loc["zero"] + loc["zswap"] + loc["device"]
    m2, r2 = small_machine_run("vswap")
    # vswap: only pages on the device own a slot.
    assert r2.devices[0]["used_pages"] == page_locations(m2)["device"]
    assert r2.devices[0]["used_pages"] < dev["used_pages"]


def test_views_are_byte_for_byte_the_machines(machine_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    m, r = machine_run
    save_results(tmp_path / "r.json", [r])
    (back,) = load_results(tmp_path / "r.json")
    assert format_vmstat(back) == m.proc_vmstat()
    assert format_meminfo(back) == m.proc_meminfo()
    assert format_swaps(back) == m.proc_swaps()
    assert format_memory_stat(back, "/bench") == m.cgroup_read("/bench", "memory.stat")


def test_meminfo_alignment_and_swaps_columns() -> None:
    r = RunResult(design="classic", workload="w", seed=1,
                  meminfo={"MemTotal": 16384, "SwapCached": 123456789},
                  devices=[{"name": "/swapfile", "type": "file", "size_pages": 8388608,
                            "used_pages": 4194304, "prio": -2}])
    assert format_meminfo(r) == ("MemTotal:          16384 kB\n"
                                 "SwapCached:     123456789 kB\n")
    lines = format_swaps(r).splitlines()
    assert lines[0] == "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority"
    # Sizes of 10000000 kB or more lose their extra tab, as swap_show() prints them.
    assert lines[1] == "/swapfile" + " " * 31 + "file\t33554432\t16777216\t-2"


def test_format_view_errors() -> None:
    r = RunResult(design="vswap", workload="w", seed=1, cgroups={"/": {"memory.stat": {}}})
    with pytest.raises(ConfigError, match=r"no cgroup '/x' in the vswap run \(it has: /\)"):
        format_view(r, "memory.stat", "/x")
    with pytest.raises(ConfigError, match="unknown view 'bogus'"):
        format_view(r, "bogus")
    assert format_view(r, "memory.stat") == "# /memory.stat\n"


def test_lock_record_from_lock_statistics() -> None:
    s = LockStatistics(name="swap_cache", acquisitions=10, contentions=3, wait_total_ns=900,
                       wait_max_ns=500, hold_total_ns=2000, hold_max_ns=300, instances=4)
    assert lock_record(s) == {"acquisitions": 10, "contentions": 3, "wait_ns": 900,
                              "max_wait_ns": 500, "hold_ns": 2000, "instances": 4}


# -- vswap stat ------------------------------------------------------------------------------
def test_stat_single_view_prints_only_the_kernel_text(result_file: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (classic, _vswap) = load_results(result_file)
    assert main(["stat", str(result_file), "--design", "classic", "--view", "vmstat"]) == 0
    assert capsys.readouterr().out == format_vmstat(classic)
    assert main(["stat", str(result_file), "--design", "classic", "--view", "memory.stat",
                 "--cgroup", "/bench"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("anon ") and "zswpout " in out and "#" not in out


def test_stat_all_views_all_designs_have_headers(result_file: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stat", str(result_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("==> classic <==\n# /proc/vmstat\n")
    assert "\n==> vswap <==\n" in out
    for title in ("# /proc/meminfo", "# /proc/swaps", "# /bench/memory.stat",
                  "# /memory.stat"):
        assert out.count(title + "\n") == 2, title
    assert "MemTotal:          32768 kB\n" in out


def test_stat_table_shows_both_designs(result_file: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stat", str(result_file), "--table"]) == 0
    out = capsys.readouterr().out
    assert "classic" in out and "vswap" in out and "RFC sys (s)" in out
    assert "373.0 ×1.09" in out


@pytest.mark.parametrize("content, message", [
    ("not json", "not a vswap result file (not JSON)"),
    ('{"format": "other"}', "not a vswap result file"),
    ('{"format": "vswap-result", "version": 99, "runs": []}',
     f"result version 99, this vswap reads version {RESULT_VERSION}"),
    ('{"format": "vswap-result", "version": 1, "runs": []}', "no runs in result file"),
])
def test_stat_refuses_other_files_in_one_line(tmp_path: Path, content: str, message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["stat", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"vswap: error: {path}: {message}\n"


def test_stat_errors_name_the_file(result_file: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stat", str(result_file), "--design", "nope"]) == 2
    assert capsys.readouterr().err == (f"vswap: error: {result_file}: no run of design 'nope' "
                                       f"(runs: classic, vswap)\n")
    assert main(["stat", str(result_file), "--view", "memory.stat", "--cgroup", "/x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vswap: error: {result_file}: no cgroup '/x' in the classic run")
    assert err.count("\n") == 1
    assert main(["stat", str(result_file.parent / "missing.json")]) == 2
    assert "missing.json: no such file" in capsys.readouterr().err


def test_result_rfc_fields_round_trip_and_old_files_load(tmp_path: Path) -> None:
    r = small_run("vswap")
    save_results(tmp_path / "r.json", [r])
    (back,) = load_results(tmp_path / "r.json")
    assert back == r and back.rfc_source == "RFC v2 cover letter, V.1"
    data = json.loads((tmp_path / "r.json").read_text())
    del data["runs"][0]["rfc"], data["runs"][0]["rfc_source"]
    (tmp_path / "old.json").write_text(json.dumps(data))
    (old,) = load_results(tmp_path / "old.json")
    assert old.rfc == {} and old.rfc_source == ""
    assert old.timeline[-1]["resident_pages"] * PAGE_SIZE > 0


@pytest.fixture(scope="module")
def zswap_result(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small run with zswap, a device and a limit, on both designs. The limit leaves
    room for zswap's pool, which cgroup v2 charges to it: in 2M the pool (2.1M at peak with
    the calibrated table) OOM-kills a task, which is another test's subject."""
    out = tmp_path_factory.mktemp("z") / "z.json"
    assert main(["compare", "--design", "classic,vswap", "--workload", "usemem -n 2 -O 2M",
                 "--memory-max", "3M", "--swap-device", "mem:16M", "--zswap", "lz4",
                 "--cpus", "2", "--jobs", "1", "--json", str(out)]) == 0
    return out


def test_stat_zswap_view_prints_the_debugfs_counters(zswap_result: Path,
                                                     capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    capsys.readouterr()
    assert main(["stat", str(zswap_result), "--design", "vswap", "--view", "zswap"]) == 0
    out = capsys.readouterr().out
    (run,) = [r for r in load_results(zswap_result) if r.design == "vswap"]
    zs = run.kernel_stats["zswap"]
    assert out == "".join(f"{k} {v}\n" for k, v in zs.items() if not k.startswith("peak_"))
    names = [line.split()[0] for line in out.splitlines()]
    for name in ("pool_limit_hit", "reject_compress_poor", "reject_compress_fail",
                 "reject_alloc_fail", "reject_reclaim_fail", "written_back_pages",
                 "stored_pages", "pool_total_size"):
        assert name in names
    assert zs["stored_pages"] == 0, "every task exited"
    assert zs["peak_pool_total_size"] >= run.peak["zswap"]["pool_total_size"] > 0
    assert main(["stat", str(zswap_result), "--design", "vswap", "--view", "zswap",
                 "--at", "peak"]) == 0
    peak = dict(line.split() for line in capsys.readouterr().out.splitlines())
    assert int(peak["stored_pages"]) == run.peak["zswap"]["stored_pages"] > 0
    assert int(peak["pool_total_size"]) > 0


def test_stat_at_peak_shows_the_swap_in_use(zswap_result: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["stat", str(zswap_result), "--design", "classic", "--view", "swaps"]) == 0
    end = capsys.readouterr().out.splitlines()[1].split()
    assert main(["stat", str(zswap_result), "--design", "classic", "--view", "swaps",
                 "--at", "peak"]) == 0
    peak = capsys.readouterr().out.splitlines()[1].split()
    assert int(end[3]) == 0 and int(peak[3]) > 0, "classic's zswap pages hold device slots"
    assert main(["stat", str(zswap_result), "--design", "classic", "--view", "memory.stat",
                 "--cgroup", "/bench", "--at", "peak"]) == 0
    stat = dict(line.split() for line in capsys.readouterr().out.splitlines())
    assert int(stat["zswap"]) > 0 and int(stat["zswapped"]) > 0


@pytest.mark.parametrize("argv, message", [
    (["--table", "--at", "peak"], "--at: the kernel views only"),
    (["--view", "zswap"], "--view zswap: no run in the file had zswap"),
    (["--at", "peak"], "the classic run has no views at the peak (an older result file)"),
])
def test_stat_at_and_zswap_errors(result_file: Path, argv: list[str], message: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stat", str(result_file), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error: ") and message in err and err.count("\n") == 1
