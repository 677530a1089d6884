"""``vswap bench future``: the registry, a small tiers table, bad input."""

from __future__ import annotations

import pytest

from vswap.cli import main
from vswap.run.future import FUTURE_TABLES


def test_tiers_is_registered_first() -> None:
    assert next(iter(FUTURE_TABLES)) == "tiers"


@pytest.mark.parametrize("argv, needle", [
    (["--table", "nope"], "--table: unknown table 'nope' (known: tiers"),
    (["--design", "nope"], "unknown swap design 'nope'"),
    (["--kbuild-jobs", "4"], "--kbuild-jobs: only `bench rfc` and `bench upstream`"),
    (["--scale", "2"], "--scale 2: must be in (0, 1]"),
])
def test_bad_input_is_one_error_line(capsys: pytest.CaptureFixture[str], argv: list[str],
                                     needle: str) -> None:
    assert main(["bench", "future", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vswap: error: ") and needle in err[0]


def test_tiers_table_for_one_design(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "future", "--table", "tiers", "--design", "vswap",
                 "--scale", "1/4096", "--jobs", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "swap tiers: demotion and promotion, cold app relaunch (model, scale 1/4096)" in out
    assert "│ vswap " in out
    assert "classic" not in out  # only the designs given: no classic rows, no ratio rows
