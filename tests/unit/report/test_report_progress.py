"""The progress display: shown on a terminal (or when forced), silent otherwise."""

from __future__ import annotations

import io

from rich.console import Console

from vswap.report.progress import run_progress


def test_progress_hidden_when_not_a_terminal() -> None:
    out = io.StringIO()
    with run_progress("usemem", console=Console(file=out)) as update:
        update(5, 10)
    assert out.getvalue() == ""


def test_progress_forced_draws_the_bar_with_counts() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with run_progress("usemem -n 2 4M", console=console, force=True) as update:
        update(3, 10)
        update(7, 10)
    text = out.getvalue()
    assert "usemem -n 2 4M" in text and "7/10" in text
