"""Progress of long runs: a rich bar on a terminal, a plain line every few seconds otherwise
(runs done, modelled time, page events, time left), silence for short batches."""

from __future__ import annotations

import io

import pytest

from vswap.cli._runopts import run_all
from vswap.report.progress import (
    DEFAULT_INTERVAL_S,
    RunProgress,
    format_duration,
    progress_interval,
)
from vswap.run.context import DeviceSpec, RunConfig


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_every_interval_with_runs_time_events_and_eta() -> None:
    out, clock = io.StringIO(), FakeClock()
    p = RunProgress(4, stream=out, terminal=False, interval=5.0, clock=clock)
    p.update(0, 50, 100, 2_000_000, 1_000)
    p.tick()
    assert out.getvalue() == "", "nothing before the first interval"
    clock.t += 10
    p.finished(1, 3_000_000, 500)
    p.tick()
    lines = out.getvalue().splitlines()
    # 1.5 runs of 4 done in 10 s: 37.5%, so about 16.7 s left.
    assert lines == ["vswap: 1/4 runs done, 38% of the work; modelled 0.005 s, 1,500 page "
                     "events; 10 s elapsed, about 17 s left"]
    clock.t += 1
    p.tick()
    assert len(out.getvalue().splitlines()) == 1, "one line per interval, not per tick"
    for i in range(4):
        p.finished(i)
    clock.t += 2
    p.close()
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("vswap: 4/4 runs done, 100% of the work;") and "left" not in last


def test_a_short_batch_prints_nothing() -> None:
    out, clock = io.StringIO(), FakeClock()
    p = RunProgress(1, stream=out, terminal=False, interval=5.0, clock=clock)
    p.update(0, 1, 2, 10, 10)
    p.tick()
    p.finished(0)
    p.close()
    assert out.getvalue() == ""


def test_terminal_bar_shows_the_status_and_is_removed() -> None:
    out = io.StringIO()
    p = RunProgress(2, stream=out, terminal=True, label="2 runs")
    p.update(0, 1, 4, 1_000_000_000, 12_345)
    p.tick()
    p._bar.refresh()
    text = out.getvalue()
    assert "2 runs" in text and "12,345 page events" in text and "modelled 1 s" in text
    p.close()
    assert p._bar is None


def test_format_duration() -> None:
    assert format_duration(42.4) == "42 s"
    assert format_duration(185) == "3 min 05 s"
    assert format_duration(3720) == "1 h 02 min"


def _tiny(design: str) -> RunConfig:
    return RunConfig(design=design, workload="usemem -n 2 -O 2M", memory_max=1 << 20,
                     swap_devices=[DeviceSpec("mem", 8 << 20, "zram")], cpus=2)


def test_run_all_reports_progress_from_in_process_runs() -> None:
    out = io.StringIO()
    results = run_all([_tiny("classic"), _tiny("vswap")], jobs=1, progress_interval=0,
                      progress_stream=out)
    lines = out.getvalue().splitlines()
    assert [r.design for r in results] == ["classic", "vswap"]
    assert len(lines) > 2, "a line per update at interval 0"
    assert lines[-1].startswith("vswap: 2/2 runs done, 100% of the work; modelled ")
    events = sum(r.metrics.page_events for r in results)
    assert f"{events:,} page events" in lines[-1]


def test_run_all_reports_progress_from_worker_processes() -> None:
    out = io.StringIO()
    results = run_all([_tiny("classic"), _tiny("vswap")], jobs=2, progress_interval=0,
                      progress_stream=out)
    assert [r.design for r in results] == ["classic", "vswap"]
    lines = out.getvalue().splitlines()
    assert lines and lines[-1].startswith("vswap: 2/2 runs done, 100% of the work")


@pytest.mark.parametrize(("value", "expected"), [("2.5", 2.5), ("1e9", 1e9), ("0", 5.0),
                                                 ("-3", 5.0), ("nan", 5.0), ("soon", 5.0)])
def test_interval_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture, value: str,
                                       expected: float) -> None:
    """VSWAP_PROGRESS_INTERVAL sets the plain display's interval; a value that is not a
    positive number is said on the logger and the default (5 s) used."""
    monkeypatch.setenv("VSWAP_PROGRESS_INTERVAL", value)
    assert progress_interval() == expected
    assert RunProgress(1, stream=io.StringIO(), terminal=False).interval == expected
    warned = [r.getMessage() for r in caplog.records]
    assert bool(warned) == (expected == 5.0)
    monkeypatch.delenv("VSWAP_PROGRESS_INTERVAL")
    assert progress_interval() == DEFAULT_INTERVAL_S == 5.0
