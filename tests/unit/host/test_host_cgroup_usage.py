"""The host cgroup's usage counters (sampled for ``kernel_stats.host.cgroup_peaks``) and
``vswap parity`` giving the model the host's cgroup version (no root: a fake cgroup
directory, and a host run replaced by a saved result)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vswap.host import parity as host_parity
from vswap.host import runner
from vswap.host.cgroup import HostCgroup
from vswap.report.result import RunMetrics, RunResult
from vswap.run.context import DeviceSpec


def _v1_dir(tmp_path: Path) -> Path:
    for name, value in {"memory.usage_in_bytes": 4096, "memory.max_usage_in_bytes": 8192,
                        "memory.limit_in_bytes": 1 << 20, "memory.memsw.usage_in_bytes": 4096,
                        "memory.kmem.usage_in_bytes": 512,
                        "memory.kmem.max_usage_in_bytes": 1024,
                        "memory.failcnt": 3}.items():
        (tmp_path / name).write_text(f"{value}\n")
    (tmp_path / "memory.stat").write_text("rss 4096\nswap 0\n")
    (tmp_path / "memory.oom_control").write_text("oom_kill_disable 0\noom_kill 0\n")
    return tmp_path


def test_v1_usage_and_files_keep_kmem(tmp_path: Path) -> None:
    cg = HostCgroup(1, _v1_dir(tmp_path))
    assert cg.usage() == {"memory.current": 4096, "memory.kmem.usage_in_bytes": 512}
    files = cg.files()
    assert files["memory.peak"] == 8192 and files["memory.kmem.max_usage_in_bytes"] == 1024
    (tmp_path / "memory.kmem.usage_in_bytes").unlink()
    assert cg.usage() == {"memory.current": 4096}, "a missing file is left out"


def test_parity_gives_the_model_the_hosts_cgroup_version(
        monkeypatch: pytest.MonkeyPatch) -> None:
    host = RunResult(design="host", workload="pattern --size 2M --content random", seed=0,
                     metrics=RunMetrics(real_s=1.0, user_s=0.0, sys_s=0.1),
                     meminfo={"MemTotal": 65536},  # KiB: 64 MiB
                     kernel_stats={"host": {"cgroup_version": 1}})

    def fake_run_host(config: Any) -> RunResult:
        return host

    monkeypatch.setattr(runner, "run_host", fake_run_host)
    config = runner.HostRunConfig(workload=host.workload, memory_max=1 << 20,
                                  swap_devices=[DeviceSpec("file", 16 << 20, "nvme")],
                                  zswap="lzo", cpus=[0, 1])
    _, models = host_parity.run_parity(config, ["swap-table-p1"])
    (m,) = models
    assert m.configuration["cgroup_version"] == 1
    assert m.tasks_killed == 0 and m.vmstat["zswpout"] >= 512 and m.vmstat["pswpout"] == 0
