"""The ``trace`` workload: the shipped traces run on every design with ``compare``, ``vswap
plot`` draws their working set and where their pages live, ``--tasks``, ``--content`` and
``--reclaim`` do what they say, and bad input is one line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from vswap.cli import main
from vswap.errors import ConfigError
from vswap.report.result import load_results
from vswap.run.context import DeviceSpec, RunConfig, run_workload
from vswap.swap import DESIGNS
from vswap.trace import TraceChunk, write_npz
from vswap.workloads import parse_workload

TRACES = Path(__file__).resolve().parents[3] / "traces"
SHIPPED = sorted(TRACES.glob("*.npz"))
WINDOW = 2500


@pytest.mark.parametrize("trace", SHIPPED, ids=lambda p: p.name)
def test_shipped_traces_run_on_every_design_with_compare(trace: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    out = tmp_path / "trace.json"
    wl = parse_workload(f"trace {trace} --window 0:{WINDOW}")
    pages = len(wl.layout.pages)
    limit = max(pages // 3, 16) * 4096
    assert main(["compare", "--workload", f"trace {trace} --window 0:{WINDOW}",
                 "--memory-max", str(limit), "--swap-device", "mem:16M", "--jobs", "2",
                 "--json", str(out)]) == 0
    results = load_results(out)
    assert [r.design for r in results] == list(DESIGNS)
    for r in results:
        assert r.workload_metrics["trace_events"] == WINDOW
        assert r.workload_metrics["trace_pages"] == pages
        assert r.vmstat["pgmajfault"] > 0 and r.data_loss == 0 and r.verified_pages > 0
        peak = max(s["resident_pages"] for s in r.timeline)
        assert peak <= limit // 4096 + 8  # memory.max holds the working set down
    plots = tmp_path / "plots"
    assert main(["plot", str(out), "--out", str(plots)]) == 0
    names = {p.name for p in plots.iterdir()}
    assert any("usage" in n for n in names) and any("locations" in n for n in names)
    capsys.readouterr()


def _small_trace(tmp_path: Path, cls: bool = False) -> Path:
    rng = np.random.default_rng(3)
    pages = (rng.zipf(1.3, 1500) % 120).astype(np.uint64) * 7
    c = TraceChunk(pages, rng.random(1500) < 0.3, np.arange(1500, dtype=np.uint64),
                   (pages % 4).astype(np.uint8) if cls else None)
    p = tmp_path / "small.npz"
    write_npz(p, [c], command=["test"])
    return p


def test_tasks_content_and_reclaim(tmp_path: Path) -> None:
    p = _small_trace(tmp_path, cls=True)
    dev = [DeviceSpec("mem", 8 << 20, "zram")]
    one = run_workload(RunConfig(workload=f"trace {p}", memory_max=40 * 4096,
                                 swap_devices=dev, zswap="lz4", timeline_samples=0))
    assert one.workload_metrics["trace_first_touches"] == one.workload_metrics["trace_pages"]
    assert "content trace" in one.report[-1]
    assert one.vmstat["swpout_zero"] > 0  # class 1 is zero pages
    two = run_workload(RunConfig(workload=f"trace {p} --tasks 2 --content random",
                                 memory_max=80 * 4096, swap_devices=dev, zswap="lz4",
                                 timeline_samples=0))
    assert two.workload_metrics["trace_events"] == 2 * 1500
    assert two.workload_metrics["trace_first_touches"] == 2 * one.workload_metrics[
        "trace_pages"]
    assert two.vmstat["swpout_zero"] == 0
    lru = run_workload(RunConfig(workload=f"trace {p}", memory_max=40 * 4096,
                                 swap_devices=dev, reclaim="lru", timeline_samples=0))
    assert lru.configuration["reclaim"] == "lru"
    assert lru.vmstat["pgmajfault"] != one.vmstat["pgmajfault"]


def test_bad_trace_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    p = _small_trace(tmp_path)
    for workload, msg in ((f"trace {p} --content trace", "no content classes"),
                          (f"trace {p} --format xml", "--format 'xml'"),
                          (f"trace {p} --window x:1", "START:COUNT"),
                          (f"trace {p} --sample 2", "must be in (0, 1]"),
                          (f"trace {tmp_path}/missing.npz", "No such file")):
        with pytest.raises(ConfigError, match=re.escape(msg)):
            parse_workload(workload)
    bad = tmp_path / "bad.txt"
    bad.write_text("1\n2\nthree\n")
    assert main(["run", "--workload", f"trace {bad}", "--memory-max", "1M"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.txt:3:" in err
    assert main(["run", "--workload", f"trace {p}", "--reclaim", "arc"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--reclaim" in err
