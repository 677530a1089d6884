"""A sweep killed part-way (SIGKILL, or Ctrl-C's SIGINT) leaves a consistent directory, and
resumed it gives the same table as a sweep that was never interrupted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweephelpers import TINY, model_columns, write_spec

from vswap.sweep import run_sweep
from vswap.sweep.store import SweepDir

# ``serial`` (conftest.py): the same sweep run once, never interrupted.


def _default_sigint() -> None:
    # pytest-xdist's workers ignore SIGINT, and an ignored signal stays ignored across exec:
    # the sweep would never see its Ctrl-C (it ran to the end, and the test failed, in every
    # full run under xdist). The child starts with the default, as from a terminal.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(spec: Path, out: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "vswap", "sweep", str(spec), "--out",
                             str(out), *flags], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)


def _wait_for_points(proc: subprocess.Popen[str], store: SweepDir, n: int) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        done = list(store.points_dir.glob("*.json")) if store.points_dir.is_dir() else []
        if len(done) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the sweep made no progress")


def _consistent(store: SweepDir) -> int:
    """Every point file whole and ok; returns how many."""
    files = list(store.points_dir.glob("*.json"))
    for f in files:
        assert json.loads(f.read_text())["status"] == "ok"
    return len(files)


def test_killed_sweep_resumed_gives_the_same_table(serial: Path, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    out = tmp_path / "out"
    store = SweepDir(out)
    proc = _start(spec, out, "--jobs", "1")
    _wait_for_points(proc, store, 2)
    proc.kill()
    proc.wait()
    finished = _consistent(store)
    assert 2 <= finished < 8, "killed part-way"
    done = subprocess.run([sys.executable, "-m", "vswap", "sweep", str(spec), "--out",
                           str(out), "--jobs", "1"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert f"8 points: {8 - finished} ran now, {finished} done before, 0 failed" in done.stdout
    assert not list(out.rglob(".*.tmp")), "a killed write's temporary file is cleaned up"
    assert model_columns(out / "results.parquet").equals(model_columns(serial / "results.parquet"))


def test_ctrl_c_stops_the_pool_and_keeps_what_finished(tmp_path: Path) -> None:
    # 32 points, not the tiny sweep's 8, so that the interrupt finds the sweep running
    # even when this test is descheduled for a while after seeing the first point.
    spec = write_spec(tmp_path, TINY.replace("seed = [1, 2]", "seed = [1, 2, 3, 4, 5, 6, 7, 8]"))
    out = tmp_path / "out"
    store = SweepDir(out)
    proc = _start(spec, out, "--jobs", "2")
    _wait_for_points(proc, store, 1)
    # Ctrl-C reaches the driver (the pool's workers ignore it; the driver ends them).
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    finished = _consistent(store)
    if proc.returncode == 0:
        pytest.fail(f"the sweep finished before the interrupt ({finished} points)")
    assert proc.returncode == 130
    assert err.splitlines()[-2:] == [
        f"vswap: sweep {out}: stopped; every finished point is saved, run the same "
        f"command again to finish", "vswap: interrupted"]
    assert "Traceback" not in err
    import pyarrow.parquet as pq

    assert 1 <= finished < 32
    assert pq.read_table(out / "results.parquet").num_rows == finished
    resumed = run_sweep(spec, out, jobs=2)
    assert (resumed.skipped, resumed.ok, resumed.failed) == (finished, 32 - finished, 0)
    assert pq.read_table(out / "results.parquet").num_rows == 32
