"""The host calibration's fit (synthetic host results -> known costs, residuals), its cost
file, the tallying recorder, and refusal without root (no root needed)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vswap.cli import main
from vswap.config.costs import load_cost_file
from vswap.errors import ConfigError
from vswap.host.calibration import (
    PARAMETERS,
    SpecSample,
    cost_file,
    fit,
    host_cgroup_version,
    model_sample,
    nnls,
    spec_named,
    swapped_pages,
)
from vswap.run.charge import StepRecorder, TallyingRecorder
from vswap.run.context import RunConfig, run_workload
from vswap.sim.costs import BUILTIN_COSTS, DEFAULT_COSTS

# Tallies of eight made-up specs (entries charged per run), each leaning on different
# parameters, as the real specs do: no swap, swap file, swap-out only, MADV_PAGEOUT, zram
# lzo, zero pages, zswap lzo, zram lz4.
_BASE = {"pte_update": 2e5, "memcg_charge": 1e5, "lru_add": 1e5, "page_copy": 1e5}
_TALLIES: dict[str, dict[str, float]] = {
    "noswap": {**_BASE, "fault_entry_exit": 1e5},
    "file": {**_BASE, "fault_entry_exit": 2e5, "rmap_walk": 3e5, "zero_check": 6e4,
             "io_submit": 1.2e5, "io_complete": 1.2e5, "swap_cache_lookup": 6e4},
    "file-out": {**_BASE, "fault_entry_exit": 1e5, "rmap_walk": 1.5e5, "zero_check": 6e4,
                 "io_submit": 6e4, "io_complete": 6e4},
    "pageout": {**_BASE, "fault_entry_exit": 2e5, "rmap_walk": 6e4, "zero_check": 6e4,
                "io_submit": 1.2e5, "io_complete": 1.2e5, "swap_cache_lookup": 6e4},
    "zram-lzo": {**_BASE, "fault_entry_exit": 2e5, "rmap_walk": 3e5, "zero_check": 6e4,
                 "io_submit_sync": 1.2e5, "compress_lzo": 6e4, "decompress_lzo": 6e4,
                 "swap_cache_lookup": 6e4},
    "zero": {**_BASE, "fault_entry_exit": 2e5, "rmap_walk": 2e5, "zero_check": 6e4,
             "swap_cache_lookup": 6e4},
    "zswap-lzo": {**_BASE, "fault_entry_exit": 2e5, "rmap_walk": 3e5, "zero_check": 6e4,
                  "compress_lzo": 6e4, "decompress_lzo": 6e4, "zsmalloc_alloc": 6e4,
                  "swap_cache_lookup": 6e4},
    "zram-lz4": {**_BASE, "fault_entry_exit": 2e5, "rmap_walk": 3e5, "zero_check": 6e4,
                 "io_submit_sync": 1.2e5, "compress_lz4": 6e4, "decompress_lz4": 6e4,
                 "swap_cache_lookup": 6e4},
}
# Two swapoff specs: the whole run, and the swapoff call alone, which decompresses without
# compressing (what tells each algorithm's decompression from its compression).
_SWAPOFF_TALLIES: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "swapoff-zswap": ({**_BASE, "fault_entry_exit": 1e5, "rmap_walk": 1e5, "zero_check": 3e4,
                       "compress_lzo": 3e4, "decompress_lzo": 3e4, "zsmalloc_alloc": 3e4,
                       "swap_cache_lookup": 3e4},
                      {"decompress_lzo": 3e4, "swap_cache_lookup": 3e4, "pte_update": 3e4}),
    "swapoff-zram": ({**_BASE, "fault_entry_exit": 1e5, "rmap_walk": 1e5, "zero_check": 3e4,
                      "io_submit_sync": 6e4, "compress_lz4": 3e4, "decompress_lz4": 3e4,
                      "swap_cache_lookup": 3e4},
                     {"decompress_lz4": 3e4, "io_submit_sync": 3e4, "swap_cache_lookup": 3e4,
                      "pte_update": 3e4}),
}
_TRUE_SCALES = {"fault": 3.0, "reclaim_scan": 0.5, "zero_check": 2.0, "swap_io": 1.5,
                "swapin": 20.0, "zram": 4.0, "lzo": 0.8, "lzo_decompress": 0.3, "lz4": 1.2,
                "lz4_decompress": 0.6}


def _true_sys(tally: dict[str, float]) -> float:
    ns = 0.0
    for name, n in tally.items():
        scale = next((s for p, s in _TRUE_SCALES.items() if name in PARAMETERS[p][0]), 1.0)
        ns += n * getattr(BUILTIN_COSTS, name) * scale
    return ns / 1e9


def _samples(noise: dict[str, float] | None = None) -> list[SpecSample]:
    out = []
    for name, tally in _TALLIES.items():
        t = _true_sys(tally) * (1 + (noise or {}).get(name, 0.0))
        out.append(SpecSample(name, [t * 0.98, t, t * 1.03], tally, 0.0,
                              {"pswpout": 1000}, {"pswpout": 900}, 65536))
    for name, (tally, off) in _SWAPOFF_TALLIES.items():
        t = _true_sys(tally)
        t_off = _true_sys(off)
        out.append(SpecSample(name, [t * 0.98, t, t * 1.03], tally, 0.0,
                              {"pswpin": 1000}, {"pswpin": 1000}, 65536,
                              host_swapoff=[{"real_s": 2 * t_off, "sys_s": t_off}],
                              swapoff_tally=off))
    return out


def test_fit_recovers_known_scales_with_zero_residuals() -> None:
    f = fit(_samples())
    for p, s in _TRUE_SCALES.items():
        assert f.identified[p]
        assert f.scales[p] == pytest.approx(s, rel=0.02), p
    for p in ("deflate",):
        assert not f.identified[p] and f.scales[p] == 1.0
    for row in f.rows:
        assert abs(row["residual"]) < 0.005, row
        assert row["spread"] == pytest.approx(0.05)
    # The swapoff calls are targets of their own, fitted as well as the runs.
    assert [r["spec"] for r in f.swapoff_rows] == list(_SWAPOFF_TALLIES)
    for row in f.swapoff_rows:
        assert abs(row["residual"]) < 0.005, row
        assert row["host_real_s"] == pytest.approx(2 * row["host_sys_s"])


def test_fit_leaves_each_spec_out_to_check_it_out_of_sample() -> None:
    f = fit(_samples())
    by = {r["spec"]: r for r in f.rows}
    # Exact data: the other specs identify every parameter the file spec uses, so the fit
    # without it still predicts it.
    assert abs(by["file"]["residual_left_out"]) < 0.005
    # Only swapoff-zswap's call prices lzo decompression apart from compression: without it
    # the runs still fix their sum (the whole run is predicted) but not the split, so the
    # prediction of the call alone misses, and the left-out column says so.
    assert abs(by["swapoff-zswap"]["residual_left_out"]) < 0.005
    off = {r["spec"]: r for r in f.swapoff_rows}
    assert abs(off["swapoff-zswap"]["residual_left_out"]) > 0.05
    assert abs(off["swapoff-zswap"]["residual"]) < 0.005
    assert all("residual_left_out" not in r for r in fit(_samples(), left_out=False).rows)
    # Fitted entries are the built-in ones times the scale; unfitted ones are kept.
    assert f.costs.fault_entry_exit == round(BUILTIN_COSTS.fault_entry_exit * f.scales["fault"])
    assert f.costs.compress_deflate == BUILTIN_COSTS.compress_deflate
    assert "compress_deflate" not in f.entries()


def test_fit_residuals_show_a_spec_the_table_cannot_explain() -> None:
    samples = _samples({"zero": 0.5})
    t = _true_sys(_TALLIES["zero"])
    samples.append(SpecSample("zero-again", [t], _TALLIES["zero"], 0.0))
    f = fit(samples)
    by = {r["spec"]: r for r in f.rows}
    # Two runs of one spec that disagree by 50%: no table explains both, and the residuals
    # say so (the fit lands between them) instead of hiding it.
    assert by["zero"]["residual"] < -0.1 and by["zero-again"]["residual"] > 0.1
    assert by["zero"]["model_sys_s_after"] == pytest.approx(
        by["zero-again"]["model_sys_s_after"])


def test_fit_refuses_empty_and_non_positive() -> None:
    with pytest.raises(ConfigError, match="no calibration samples"):
        fit([])
    with pytest.raises(ConfigError, match="not positive"):
        fit([SpecSample("x", [0.0], {"fault_entry_exit": 1.0}, 0.0)])


def test_nnls_matches_the_constrained_optimum() -> None:
    rng = np.random.default_rng(3)
    a = rng.random((8, 3))
    b = a @ np.array([1.0, -2.0, 0.5])
    x = nnls(a, b)
    assert (x >= 0).all() and x[1] == 0.0
    # Optimal over the nonnegative orthant: no better point on a fine grid of the others.
    best = np.linalg.norm(a @ x - b)
    for x0 in np.linspace(0, 2, 21):
        for x2 in np.linspace(0, 2, 21):
            assert np.linalg.norm(a @ np.array([x0, 0.0, x2]) - b) >= best - 1e-9
    unconstrained = np.array([0.3, 0.7, 1.1])
    assert nnls(a, a @ unconstrained) == pytest.approx(unconstrained)


def test_cost_file_loads_with_provenance(tmp_path: Path) -> None:
    f = fit(_samples())
    data = cost_file(f, kernel="6.18.44-test", host="box (2 x cpu)", note="synthetic",
                     date="2026-12-07")
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(data))
    table, prov = load_cost_file(path)
    assert prov.method == "calibrated" and prov.kernel == "6.18.44-test"
    assert prov.entries == f.entries()
    assert table.fault_entry_exit == f.costs.fault_entry_exit
    assert "parameter fault" in prov.sources["fault_entry_exit"]
    assert "calibrated on kernel 6.18.44-test" in prov.line()
    assert len(data["fit"]["specs"]) == len(_TALLIES) + len(_SWAPOFF_TALLIES)
    assert [r["spec"] for r in data["fit"]["swapoff_calls"]] == list(_SWAPOFF_TALLIES)


#: A recorder class for RunConfig.recorder_class and the recorders the runs made with it.
Tallying = tuple[type[TallyingRecorder], list[TallyingRecorder]]


@pytest.fixture
def tallying() -> Tallying:
    """A :class:`TallyingRecorder` subclass that keeps each instance a run makes (a run
    builds its recorder itself, from ``recorder_class``), and the list it keeps them in."""
    made: list[TallyingRecorder] = []

    class Rec(TallyingRecorder):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            made.append(self)

    return Rec, made


def test_swapped_pages_counts_every_backend() -> None:
    assert swapped_pages({"pswpout": 1, "zswpout": 2, "swpout_zero": 3, "pswpin": 4,
                          "zswpin": 5, "swpin_zero": 6, "pgfault": 100}) == 21


def test_tallying_recorder_prices_what_it_charges(tallying: Tallying) -> None:
    Rec, made = tallying
    base: dict[str, Any] = {"memory_max": 1 << 20, "cpus": 1}
    noswap = run_workload(RunConfig(workload="pattern --size 2M --content usemem", cpus=1,
                                    recorder_class=Rec))
    # One task, no contention, no device: every sys ns is a priced entry.
    assert made[-1].priced_ns() == pytest.approx(noswap.metrics.sys_s * 1e9, rel=1e-9)
    spec: dict[str, Any] = {**base, "workload": "pattern --size 2M --content mixed",
                            "zswap": "lzo"}
    plain = run_workload(RunConfig(**spec))
    tallied = run_workload(RunConfig(**spec, recorder_class=Rec))
    # The tally changes nothing the run reports.
    assert tallied.metrics.sys_s == plain.metrics.sys_s
    assert tallied.metrics.real_s == plain.metrics.real_s
    assert tallied.vmstat == plain.vmstat and tallied.kernel_steps == plain.kernel_steps
    rec = made[-1]
    # v6.14 (classic) rejects the random third: compressed, but priced as a page lzo could
    # not shrink (compress_poor_lzo), and not stored.
    assert rec.tally["compress_lzo"] == plain.vmstat["zswpout"]
    assert rec.tally["compress_poor_lzo"] == \
        plain.kernel_stats["zswap"]["reject_compress_poor"] > 0
    assert rec.tally["decompress_lzo"] == plain.vmstat["zswpin"]
    # Swapping, the tally holds a little more than the run charged (about 1%: steps
    # recorded after the task's last charge, at exit, are tallied but not charged).
    assert plain.metrics.sys_s * 1e9 <= rec.priced_ns() <= plain.metrics.sys_s * 1e9 * 1.02
    assert isinstance(rec, StepRecorder)


@pytest.mark.parametrize("argv", [["calibrate", "--host", "--size", "64M"],
                                  ["parity", "--workload", "pattern --size 1M --content zero"]])
def test_refused_without_root(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error: ") and err.count("\n") == 1 and "root" in err


def test_refit_from_saved_samples_needs_no_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    f = fit(_samples())
    data = cost_file(f, kernel="6.18.44-test", host="box", note="n", date="2026-12-07")
    data["fit"]["samples"] = [vars(s) for s in _samples()]
    src = tmp_path / "cal.json"
    src.write_text(json.dumps(data))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    out = tmp_path / "again.json"
    assert main(["calibrate", "--from-samples", str(src), "--json", str(out)]) == 0
    again = json.loads(out.read_text())
    assert again["costs"] == data["costs"] and again["provenance"] == data["provenance"]
    printed = capsys.readouterr().out
    assert "residual" in printed and "zram-lz4" in printed


def test_samples_of_several_files_are_pooled(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """--from-samples twice: a later file's sample of a spec replaces the earlier one's,
    the provenance says what was pooled; a file from another kernel is refused."""
    samples = _samples()
    data = cost_file(fit(samples), kernel="6.18.44-test", host="box", note="first",
                     date="2026-12-07")
    data["fit"]["samples"] = [vars(s) for s in samples]
    first = tmp_path / "first.json"
    first.write_text(json.dumps(data))
    redo = samples[0]
    redo.host_sys_s = [x * 2 for x in redo.host_sys_s]
    second = tmp_path / "second.json"
    second.write_text(json.dumps({"provenance": {"kernel": "6.18.44-test", "host": "box",
                                                 "date": "2026-12-08", "note": "again"},
                                  "fit": {"samples": [vars(redo)]}}))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    out = tmp_path / "pooled.json"
    assert main(["calibrate", "--from-samples", str(first), "--from-samples", str(second),
                 "--json", str(out)]) == 0
    pooled = json.loads(out.read_text())
    kept = {s["spec"]: s for s in pooled["fit"]["samples"]}
    assert len(kept) == len(samples)
    assert kept[redo.spec]["host_sys_s"] == redo.host_sys_s
    assert f"pooled with {redo.spec} from second.json" in pooled["provenance"]["note"]
    assert pooled["costs"] != data["costs"]  # the replaced sample moved the fit
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"provenance": {"kernel": "6.1", "host": "box"},
                                 "fit": {"samples": []}}))
    assert main(["calibrate", "--from-samples", str(first), "--from-samples",
                 str(other)]) == 2
    assert main(["calibrate", "--from-samples", str(tmp_path / "missing.json")]) == 2


def test_the_shipped_calibration_loads_with_its_provenance() -> None:
    from vswap.config.costs import (
        BUILTIN,
        DEFAULT_CALIBRATION,
        calibrated_files,
        default_costs,
        default_provenance,
    )

    (path,) = [p for p in calibrated_files() if p.name == DEFAULT_CALIBRATION]
    data = json.loads(path.read_text())
    table, prov = default_costs()
    assert prov.method == "calibrated" and str(prov.kernel).startswith("6.18")
    assert prov.file == f"vswap/sim/calibrated/{DEFAULT_CALIBRATION}"
    assert prov.entries == data["costs"]
    for name, ns in data["costs"].items():
        assert getattr(table, name) == ns
    # The file's fit explains its own samples: refitting them gives the same entries.
    samples = [SpecSample(**s) for s in data["fit"]["samples"]]
    assert fit(samples).entries() == data["costs"]
    builtin, bprov = load_cost_file(BUILTIN)
    assert builtin is BUILTIN_COSTS and bprov.method == "builtin"
    # It is the table runs use by default (issue 11), and results say so.
    assert table is DEFAULT_COSTS and default_provenance() == prov
    assert RunConfig(workload="usemem 1M").costs is DEFAULT_COSTS


def test_a_sample_without_its_model_side_is_refused() -> None:
    host_only = SpecSample("file", [1.0, 1.1], {}, 0.0, {"pswpout": 10}, {}, 4096)
    with pytest.raises(ConfigError, match=r"no model side.*--remodel"):
        fit([host_only])


def test_remodel_keeps_the_host_and_makes_the_model_side_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # Host-only samples (what --host --no-model keeps) of a 16 MiB zero-page run: the model
    # runs it again at 1/4 (4 MiB), and the fit prices it.
    host = SpecSample("zero", [0.05, 0.04, 0.06], {}, 0.0, {"swpout_zero": 2048}, {}, 4096)
    src = tmp_path / "samples.json"
    src.write_text(json.dumps({"provenance": {"method": "calibrated", "kernel": "6.18.44",
                                              "host": "box", "date": "2026-12-07",
                                              "note": "one spec"},
                               "fit": {"samples": [vars(host)]}}))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    out = tmp_path / "fit.json"
    assert main(["calibrate", "--from-samples", str(src), "--remodel", "--model-scale",
                 "1/4", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    (sample,) = data["fit"]["samples"]
    assert sample["host_sys_s"] == host.host_sys_s and sample["pages"] == 4096
    assert sample["tally"]["zero_check"] > 0
    # The model's counters are scaled back to the host's size (4x the 1/4 run).
    assert sample["model_vmstat"]["swpout_zero"] % 4 == 0
    assert sample["model_vmstat"]["swpout_zero"] >= 2000
    assert data["provenance"]["kernel"] == "6.18.44"
    # The model side is swap-table-p1 (what 6.18 runs) in the host's cgroup version.
    assert sample["model_design"] == "swap-table-p1"
    assert sample["model_cgroup_version"] == host_cgroup_version()
    assert (f"the model (swap-table-p1, cgroup v{host_cgroup_version()}) at 1/4"
            in data["provenance"]["note"])
    assert "model zero (swap-table-p1" in capsys.readouterr().out


def test_remodel_on_another_design(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = SpecSample("zero", [0.05], {}, 0.0, {"swpout_zero": 2048}, {}, 4096)
    src = tmp_path / "samples.json"
    src.write_text(json.dumps({"provenance": {"method": "calibrated", "kernel": "6.18.44",
                                              "host": "box", "note": "one spec"},
                               "fit": {"samples": [vars(host)]}}))
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    out = tmp_path / "fit.json"
    assert main(["calibrate", "--from-samples", str(src), "--remodel", "--design", "classic",
                 "--json", str(out)]) == 0
    (sample,) = json.loads(out.read_text())["fit"]["samples"]
    assert sample["model_design"] == "classic"


def test_new_specs_and_parameters() -> None:
    """The swapoff specs' device is as large as the data (half of it filled); the random
    specs fit compression of pages the compressor cannot shrink."""
    off = spec_named("swapoff-zram")
    assert off.device_spec(256 << 20) == "zram:262144K,comp=lz4"
    assert off.command(256 << 20) == "swapoff --fill 0.5 --tasks 4 --unrelated 262144K"
    assert spec_named("zswap-lzo-random").zswap == "lzo"
    assert PARAMETERS["lzo_poor"][0] == ("compress_poor_lzo",)
    assert PARAMETERS["swapoff_walk"][0] == ("pte_walk_per_pte",)
    tally = {"fault_entry_exit": 1e5, "compress_poor_lzo": 5e4, "pte_walk_per_pte": 1e6}
    t = (1e5 * BUILTIN_COSTS.fault_entry_exit + 5e4 * BUILTIN_COSTS.compress_poor_lzo * 0.3
         + 1e6 * BUILTIN_COSTS.pte_walk_per_pte * 4) / 1e9
    samples = [SpecSample("a", [t], tally, 0.0),
               SpecSample("b", [1e5 * BUILTIN_COSTS.fault_entry_exit / 1e9],
                          {"fault_entry_exit": 1e5}, 0.0),
               SpecSample("c", [(1e5 * BUILTIN_COSTS.fault_entry_exit
                                 + 1e6 * BUILTIN_COSTS.pte_walk_per_pte * 4) / 1e9],
                          {"fault_entry_exit": 1e5, "pte_walk_per_pte": 1e6}, 0.0)]
    f = fit(samples)
    assert f.scales["lzo_poor"] == pytest.approx(0.3, rel=1e-3)
    assert f.scales["swapoff_walk"] == pytest.approx(4.0, rel=1e-3)


def test_host_runs_wait_for_another_host_run(monkeypatch: pytest.MonkeyPatch) -> None:
    from vswap.host import calibration as cal
    from vswap.host.state import HostError

    calls: list[int] = []

    def run_host(cfg: object) -> str:
        calls.append(1)
        if len(calls) < 3:
            raise HostError("another vswap host run (pid 7) is in progress (/run/x)")
        return "done"

    monkeypatch.setattr(cal.time, "sleep", lambda s: None)
    said: list[str] = []
    assert cal._run_host_waiting(run_host, None, said.append) == "done"
    assert len(calls) == 3 and said[0].startswith("waiting: another vswap host run")

    def broken(cfg: object) -> str:
        raise HostError("swapon failed")

    with pytest.raises(HostError, match="swapon failed"):
        cal._run_host_waiting(broken, None, said.append)


def test_a_random_page_on_zswap_is_tallied_as_poor_compression(tallying: Tallying) -> None:
    Rec, made = tallying
    run_workload(RunConfig(design="swap-table-p1", workload="pattern --size 4M --content "
                           "random", memory_max=2 << 20, zswap="lzo", cgroup_version=1,
                           recorder_class=Rec))
    tally = made[-1].tally
    assert tally.get("compress_poor_lzo", 0) > 500 and not tally.get("compress_lzo")


@pytest.mark.parametrize("argv, problem", [
    (["calibrate", "--remodel"], "--remodel needs --from-samples"),
    (["calibrate", "--host", "--no-model"], "--no-model needs --host and --json"),
    (["calibrate", "--from-samples", "x.json", "--remodel", "--model-scale", "2"],
     "between 0 and 1"),
])
def test_bad_calibrate_options_are_one_line(argv: list[str], problem: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error: ") and err.count("\n") == 1 and problem in err


@pytest.mark.parametrize("rotational", [True, False])
def test_the_model_side_takes_the_hosts_rotational_flag(rotational: bool,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A swap file on a disk the host saw as rotational turns the kernel's VMA readahead
    off; the model's swap file gets the same flag (and the cluster readahead it implies)."""
    import vswap.run.context as context

    seen: list[Any] = []
    real = context.run_workload

    def spy(cfg: Any) -> Any:
        seen.append(cfg)
        return real(cfg)

    monkeypatch.setattr(context, "run_workload", spy)
    host = SpecSample("file", [0.05], {}, 0.0, {"pswpout": 2048}, {}, 4096,
                      device_rotational=rotational)
    sample = model_sample(host, 0.25, lambda line: None)
    (dev,) = seen[-1].swap_devices
    assert dev.backing == "file"
    assert (dev.option("rotational") == "1") is rotational
    assert sample.device_rotational is rotational
    # Cluster readahead on the rotational file reads ahead by slot, VMA readahead by address:
    # the sequential read-back reads ahead in both, by different windows.
    assert sample.model_vmstat["swap_ra"] > 0
