"""``vswap soak``: a short run prints its figures and exits 0; failures exit non-zero."""

from __future__ import annotations

import contextlib
import io
import os

import pytest

from vswap.cli import main
from vswap.reliability import soak


def test_short_soak_passes_and_prints_figures() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["soak", "--minutes", "0.04", "--seed", "2", "--design", "classic,vswap"])
    text = out.getvalue()
    assert rc == 0, text
    for word in ("pages verified", "faults injected", "survived", "ops/s",
                 "pages verified/s", "classic", "vswap"):
        assert word in text


def test_soak_reports_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from vswap import reliability

    def broken_check(self: reliability.Harness) -> None:
        raise reliability.HarnessError("injected checker failure")

    monkeypatch.setattr(reliability.Harness, "check", broken_check)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["soak", "--minutes", "0.01", "--design", "classic"])
    assert rc == 1 and "soak FAILED on classic" in err.getvalue()


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("VSWAP_SLOW") != "1", reason="set VSWAP_SLOW=1")
@pytest.mark.parametrize("design", ["classic", "vswap"])
def test_two_minute_soak(design: str) -> None:
    r = soak(design, seconds=120, seed=7)
    assert not r.failure, r.failure
    assert r.injected == r.survived and sum(r.injected.values()) > 0
