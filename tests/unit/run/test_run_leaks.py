"""Every timed run ends with issue 7's leak check once all its tasks have exited."""

from __future__ import annotations

import pytest

import vswap.mm.checks as checks
from vswap.mm.checks import LeakError
from vswap.run.context import DeviceSpec, RunConfig, run_workload


def _config(workload: str, zram: int = 32 << 20) -> RunConfig:
    return RunConfig(design="vswap", workload=workload, memory_max=4 << 20, cpus=2,
                     swap_devices=[DeviceSpec("mem", zram, "zram")])


def test_leak_check_runs_at_the_end_of_a_run(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []

    def fake(machine: object) -> None:
        seen.append(len(machine.tasks))  # type: ignore[attr-defined]
        raise LeakError("leak after all tasks exited: 1 swap slot")

    monkeypatch.setattr(checks, "check_no_leaks", fake)
    with pytest.raises(LeakError, match="1 swap slot"):
        run_workload(_config("usemem -n 2 8M"))
    assert seen == [0]


def test_killed_compile_jobs_do_not_strand_make_workers() -> None:
    """A cc1 child OOM-killed inside a job leaves its make worker alive to exit normally,
    so the run ends with no task and passes the (real) leak check."""
    # Heaps of 4-8 MiB (not kbuild's default 16-64 MiB) on a 4 MiB zram device: four jobs
    # at once outgrow memory.max and the device, so the OOM killer picks cc1 children
    # (7 of the 8 jobs at seed 1) without first swapping hundreds of MiB.
    r = run_workload(_config("kbuild -j 4 --jobs 8 --heap 4M:8M", zram=4 << 20))
    assert r.tasks_killed > 0 and r.workload_metrics["jobs_failed"] > 0
    assert r.data_loss == 0
    assert "killed" in r.report[-1]


def test_cli_reports_a_leak_in_one_line(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from vswap.cli import main

    def fake(machine: object) -> None:
        raise LeakError("leak after all tasks exited: 3 zswap entries")

    monkeypatch.setattr(checks, "check_no_leaks", fake)
    assert main(["run", "--design", "classic", "--workload", "usemem -n 1 4M",
                 "--memory-max", "2M", "--swap-device", "mem:16M", "--cpus", "1"]) == 3
    err = capsys.readouterr().err
    assert err == "vswap: LEAK: leak after all tasks exited: 3 zswap entries\n"
