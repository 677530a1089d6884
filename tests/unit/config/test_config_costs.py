"""Cost files: ``--costs FILE`` on run, compare and bench and ``costs = "FILE"`` in a
configuration load a cost table from JSON (the documented, versioned ``vswap-costs`` format
or what ``vswap calibrate --json`` writes), validate it, use it, and keep its provenance in
the result."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.cli.calibrate import calibrate
from vswap.config import load_config
from vswap.config.costs import load_cost_file, provenance_line
from vswap.report.result import load_results
from vswap.sim.costs import BUILTIN_COSTS, DEFAULT_CALIBRATION_FILE, DEFAULT_COSTS

RUN = ["run", "--workload", "usemem -n 2 -O 2M", "--memory-max", "1M", "--swap-device",
       "mem:8M", "--cpus", "2"]


def _costs_file(tmp_path: Path, **changes: object) -> Path:
    data: dict[str, object] = {
        "format": "vswap-costs", "version": 1,
        "provenance": {"method": "calibrated", "kernel": "6.18.44-test", "host": "box",
                       "date": "2026-05-01", "tool": "vswap calibrate --host"},
        "costs": {"fault_entry_exit": 5000, "compress_lz4": 2100.4},
        "sources": {"fault_entry_exit": "fit over 12 host runs"}}
    data.update(changes)
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(data))
    return path


def test_a_vswap_costs_file_sets_entries_and_keeps_provenance(tmp_path: Path) -> None:
    path = _costs_file(tmp_path)
    table, prov = load_cost_file(path)
    assert (table.fault_entry_exit, table.compress_lz4) == (5000, 2100)
    assert table.pte_update == BUILTIN_COSTS.pte_update, "entries not named keep built-ins"
    # ... the built-in ones, not the shipped calibration's (a file describes itself).
    assert table.rmap_walk == BUILTIN_COSTS.rmap_walk != DEFAULT_COSTS.rmap_walk
    assert table.calibrated == {"fault_entry_exit", "compress_lz4"}
    assert prov.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (prov.method, prov.kernel, prov.format) == ("calibrated", "6.18.44-test",
                                                        "vswap-costs 1")
    assert prov.sources == {"fault_entry_exit": "fit over 12 host runs"}
    assert prov.line() == (f"costs: 2 entries calibrated on kernel 6.18.44-test (host box, "
                           f"2026-05-01), from {path}, sha256 {prov.sha256[:12]}; the rest "
                           "the built-in table")
    # A result from before cost files ran the built-in table.
    assert provenance_line(None).startswith("costs: the built-in table")
    assert provenance_line({"method": "default"}) == provenance_line(None)


def test_what_calibrate_writes_today_is_accepted(tmp_path: Path) -> None:
    data = calibrate(iterations=5, repeats=1)
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(data))
    table, prov = load_cost_file(path)
    assert prov.method == "measured" and prov.format == "vswap calibrate --json 1"
    assert prov.entries == {k: max(1, round(v)) for k, v in data["overrides"].items()}
    assert table.calibrated == frozenset(data["overrides"])
    assert prov.line().startswith(f"costs: {len(prov.entries)} entries measured by vswap "
                                  "calibrate")


@pytest.mark.parametrize("change, message", [
    ({"version": 2}, "costs.json: version: 2; this vswap reads vswap-costs version 1"),
    ({"format": "other"}, "not a cost file (format 'other'"),
    ({"extra": 1}, "costs.json: extra: unknown key (known: format, version, provenance, "
                   "costs, sources, fit)"),
    ({"fit": []}, "costs.json: fit: expected an object, got list ([])"),
    ({"costs": {"fault_entry": 700}}, "costs.json: costs.fault_entry: unknown cost entry; did "
                                      "you mean fault_entry_exit?"),
    ({"costs": {"pte_update": -3}}, "costs.pte_update: expected a positive number of ns, "
                                    "got int (-3)"),
    ({"costs": {"pte_update": True}}, "costs.pte_update: expected a positive number of ns, "
                                      "got a boolean (true)"),
    ({"costs": {}}, "costs.json: costs: no cost entry given"),
    ({"provenance": {"method": "calibrated"}},
     "provenance.kernel: a calibrated table names the kernel it was calibrated on"),
    ({"provenance": {"method": "guessed"}}, "provenance.method: 'guessed' is not one of "
                                            "calibrated, measured, manual"),
    ({"provenance": {"method": "manual", "by": "me"}}, "provenance.by: unknown key"),
    ({"sources": {"pte_update": "x"}}, "sources.pte_update: a source for an entry the file "
                                       "does not set"),
])
def test_bad_cost_files_are_one_line_errors(tmp_path: Path, change: dict[str, object],
                                            message: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = _costs_file(tmp_path, **change)
    assert main([*RUN, "--costs", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error: ") and err.count("\n") == 1
    assert message in err


def test_not_json_and_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                    ) -> None:
    bad = tmp_path / "c.json"
    bad.write_text("{nope")
    assert main([*RUN, "--costs", str(bad)]) == 2
    assert "not a cost file (not JSON" in capsys.readouterr().err
    assert main([*RUN, "--costs", str(tmp_path / "none.json")]) == 2
    assert "none.json: no such file" in capsys.readouterr().err


def test_run_uses_the_costs_and_records_them(tmp_path: Path) -> None:
    default_out, costly_out = tmp_path / "d.json", tmp_path / "c.json"
    builtin_out = tmp_path / "b.json"
    assert main([*RUN, "--json", str(default_out)]) == 0
    assert main([*RUN, "--costs", "builtin", "--json", str(builtin_out)]) == 0
    assert main([*RUN, "--costs", str(_costs_file(tmp_path)), "--json", str(costly_out)]) == 0
    (dflt,), (d,), (c,) = (load_results(default_out), load_results(builtin_out),
                           load_results(costly_out))
    # The default table is the shipped calibration, and the result says so.
    shipped = json.loads(DEFAULT_CALIBRATION_FILE.read_text())
    assert dflt.costs["method"] == "calibrated" and dflt.costs["entries"] == shipped["costs"]
    assert dflt.costs["file"] == f"vswap/sim/calibrated/{DEFAULT_CALIBRATION_FILE.name}"
    assert dflt.costs["kernel"] == shipped["provenance"]["kernel"]
    assert "calibrated on kernel 6.18" in provenance_line(dflt.costs)
    assert d.costs["method"] == "builtin" and d.costs["entries"] == {}
    assert c.costs["method"] == "calibrated" and c.costs["kernel"] == "6.18.44-test"
    assert c.costs["entries"] == {"fault_entry_exit": 5000, "compress_lz4": 2100}
    # 4,500 ns more per fault than the built-in table (a cost file's other entries are
    # the built-in ones): the run's sys time grows by about that per fault.
    faults = c.vmstat["pgfault"]
    assert faults == d.vmstat["pgfault"] > 0
    assert c.metrics.sys_s - d.metrics.sys_s == pytest.approx(faults * 4500e-9, rel=0.2)


def test_a_configuration_names_its_cost_file_relative_to_itself(tmp_path: Path) -> None:
    _costs_file(tmp_path)
    conf = tmp_path / "c.toml"
    conf.write_text('costs = "costs.json"\ndesigns = ["classic"]\n[[swap]]\ntype = "mem"\n'
                    'size = "8M"\n[cgroups."/w"]\nmemory.max = "1M"\n[[workloads]]\n'
                    'cgroup = "/w"\ncommand = "usemem -n 1 2M"\n')
    assert load_config(conf).costs == str(tmp_path / "costs.json")
    out = tmp_path / "r.json"
    assert main(["run", "--config", str(conf), "--json", str(out)]) == 0
    (r,) = load_results(out)
    assert r.costs["file"] == str(tmp_path / "costs.json")
    # --costs overrides the file's.
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"format": "vswap-costs", "version": 1,
                                 "provenance": {"method": "manual"},
                                 "costs": {"pte_update": 30}}))
    assert main(["run", "--config", str(conf), "--costs", str(other), "--json", str(out)]) == 0
    (r,) = load_results(out)
    assert r.costs["method"] == "manual" and r.costs["entries"] == {"pte_update": 30}


def test_bench_prints_how_the_costs_were_obtained_under_every_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _costs_file(tmp_path)
    out = tmp_path / "b.json"
    assert main(["bench", "rfc", "--scale", "1/4096", "--table", "usemem,swapoff",
                 "--design", "classic,vswap", "--jobs", "1", "--costs", str(path),
                 "--json", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.count("costs: 2 entries calibrated on kernel 6.18.44-test") == 2
    assert all(r.costs["sha256"] for r in load_results(out))
