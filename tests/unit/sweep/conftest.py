"""Fixtures of the sweep tests: the tiny sweep, run once point after point in this process."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweephelpers import write_spec

from vswap.sweep import run_sweep


@pytest.fixture(scope="session")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The directory of the tiny sweep (sweephelpers.TINY) run serially, never interrupted."""
    d = tmp_path_factory.mktemp("serial")
    summary = run_sweep(write_spec(d), d / "out", jobs=1)
    assert (summary.points, summary.ok, summary.failed, summary.executor) == (8, 8, 0, "serial")
    return d / "out"
