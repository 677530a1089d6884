"""``vswap trace record`` records a real program under valgrind lackey.

valgrind is a test tool outside PyPI: ``bin/test`` installs it on a fresh machine (as root
with apt, bin/_tools.sh) and otherwise says how; this test then fails with the same advice
rather than being skipped."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from vswap.cli import main
from vswap.errors import ConfigError
from vswap.trace import read_header, read_trace
from vswap.trace import record as record_mod


def test_record_a_real_program(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    true = shutil.which("true")
    assert true is not None
    out = tmp_path / "true.npz"
    assert main(["trace", "record", "--out", str(out), "--", true]) == 0
    assert "page events" in capsys.readouterr().out
    h = read_header(out)
    assert h.command == [true] and "lackey" in h.note
    pages = np.concatenate([c.page for c in read_trace(out)])
    writes = np.concatenate([c.write for c in read_trace(out)])
    # The dynamic loader and libc start-up alone touch dozens of pages, stack and data.
    assert h.events == len(pages) > 100 and h.pages == len(np.unique(pages)) > 10
    assert writes.any() and not writes.all()
    assert (np.diff(pages.astype(np.int64)) != 0).all()  # consecutive accesses merged


def test_record_refuses_a_failing_program(tmp_path: Path) -> None:
    false = shutil.which("false")
    assert false is not None
    with pytest.raises(ConfigError, match="exited with status 1"):
        record_mod.record([false], tmp_path / "f.npz")


def test_without_valgrind_the_command_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(record_mod.shutil, "which", lambda name: None)
    assert main(["trace", "record", "--out", "x.npz", "--", "true"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "apt-get install valgrind" in err
