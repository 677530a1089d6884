"""``vswap bench upstream``: table selection, designs beside the baseline, bad input."""

from __future__ import annotations

import pytest

from vswap.cli import main


def test_unknown_table_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "upstream", "--table", "v7"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vswap: error: --table: unknown table 'v7'")
    assert "v6-memhog" in err[0]
    # The RFC's tables are not upstream's, nor upstream's the RFC's.
    assert main(["bench", "upstream", "--table", "swapoff"]) == 2
    assert main(["bench", "rfc", "--table", "v6"]) == 2


def test_design_is_added_beside_the_baseline(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["bench", "upstream", "--table", "ste-memhog", "--design", "classic",
                 "--scale", "1/8192", "--jobs", "1"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "STE v2: memhog 48G on a 16 GB host, zswap zstd: model at scale 1/8192" in out
    assert "classic / swap-table-p4" in out
    assert "vswap-ste" not in out  # only the baseline and the designs given
    assert "20260612193738" in out  # the source beneath the table
