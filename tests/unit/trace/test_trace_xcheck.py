"""The cross-check: for LRU and FIFO (and CLOCK) the model's major faults plus first touches
equal libCacheSim's misses exactly, on every shipped trace and on a libCacheSim sample trace,
at three memory sizes each; ``vswap xcheck`` exits 1 on a disagreement."""

from __future__ import annotations

from pathlib import Path

import libcachesim as lcs
import numpy as np
import pytest

from vswap.cli import main
from vswap.cli import xcheck as xcheck_mod
from vswap.cli.xcheck import xcheck
from vswap.kernel.types import PAGE_SIZE
from vswap.trace import read_trace

TRACES = Path(__file__).resolve().parents[3] / "traces"
SHIPPED = sorted(TRACES.glob("*.npz"))


def test_traces_are_shipped() -> None:
    assert len(SHIPPED) >= 3


def _sizes(path: Path, fmt: str | None = None) -> list[int]:
    """Three memory sizes: a tenth, a third and two thirds of the trace's pages."""
    pages = len(np.unique(np.concatenate([c.page for c in read_trace(path, fmt)])))
    return [max(pages * k // 30, 4) * PAGE_SIZE for k in (3, 10, 20)]


@pytest.mark.parametrize("trace", SHIPPED, ids=lambda p: p.name)
def test_lru_and_fifo_faults_equal_libcachesim_misses_on_shipped_traces(trace: Path) -> None:
    for memory in _sizes(trace):
        rows, _ = xcheck(str(trace), memory, policies=("lru", "fifo"), kernel=False, jobs=2)
        for row in rows:
            assert row.model_misses == row.libcachesim_misses, row
            assert row.model_major_faults > 0, row


@pytest.fixture(scope="module")
def lcs_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A libCacheSim sample trace: its own Zipf generator (4,000 requests over 800
    objects, alpha 0.9, seed 7), written as oracleGeneral by libCacheSim's converter."""
    d = tmp_path_factory.mktemp("lcs")
    reader = lcs.SyntheticReader(num_of_req=4000, obj_size=1, alpha=0.9, dist="zipf",
                                 num_objects=800, seed=7)
    txt = d / "zipf.txt"
    txt.write_text("".join(f"{req.obj_id}\n" for req in reader))
    out = d / "zipf.oracleGeneral.bin"
    lcs.Util.convert_to_oracleGeneral(
        lcs.TraceReader(str(txt), lcs.TraceType.PLAIN_TXT_TRACE)._reader, str(out))
    return out


def test_policies_equal_libcachesim_on_its_sample_trace(lcs_sample: Path) -> None:
    sizes = _sizes(lcs_sample)
    requests = sum(len(c) for c in read_trace(lcs_sample))
    assert requests > 3900  # libCacheSim's converter may drop a request at the edge
    for memory in sizes:
        kernel = memory == sizes[1]  # the kernel's LRU once, for the report's column
        rows, linux = xcheck(str(lcs_sample), memory, jobs=2, kernel=kernel)
        assert [r.policy for r in rows] == ["lru", "fifo", "clock"]
        for row in rows:
            assert row.requests == requests
            assert row.model_misses == row.libcachesim_misses, row
        assert (linux is not None and linux > 0) if kernel else linux is None


def test_xcheck_command_prints_both_and_exits_1_on_disagreement(
        lcs_sample: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    args = ["xcheck", "libcachesim", str(lcs_sample), "--memory", "1M", "--policy", "lru",
            "--no-kernel", "--window", "0:2000"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "agree" in out and "DISAGREE" not in out
    real = xcheck_mod.libcachesim_misses
    monkeypatch.setattr(xcheck_mod, "libcachesim_misses",
                        lambda *a: (lambda n, m: (n, m + 1))(*real(*a)))
    assert main(args) == 1
    assert "DISAGREE" in capsys.readouterr().out
