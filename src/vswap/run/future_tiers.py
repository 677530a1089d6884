"""``bench future`` table 1: swap tiers with demotion and promotion, a cold app relaunch.

Models: the swap tiers v10 cover letter's cold app launches (a network block device as its
own tier) with the seed's section III promotion/demotion added: an NVMe tier (priority 100)
above a network block device tier (priority 10, ``remote``: NVMe-oF over 25 GbE), the
``coldstart`` workload (an app of 1 GiB pushed into swap by 3 GiB of other apps in
``memory.max=2G``, 10 s in the background, then relaunched), and the tier worker demoting
entries untouched for 2 s at 256 MiB/s and promoting a cluster on its first refault. All
sizes and the rate limit are multiplied by ``scale``; the times (age, idle, period) are not.

What the table shows per design: pages demoted and promoted, the page-table entries the
moves visited and rewrote (the slot designs' walk; zero under the virtual designs), the
worker's modelled time, that time per page extrapolated to demoting 1 GiB (the walk and the
batch both scale with ``scale``, so the per-page cost does not), and the relaunch latency.
The row ``classic (no tiers)`` runs the same workload with both devices and no tiers (the
app's pages stay on the NVMe device): the relaunch a demotion costs.
"""

from __future__ import annotations

from typing import Any

from vswap.config.spec import (
    CgroupSpec,
    DeviceSpec,
    MachineSpec,
    TierSpec,
    WorkloadSpec,
)
from vswap.config.spec import RunConfig as FileConfig
from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.report.result import RunResult
from vswap.run.fromconfig import run_configs_from_file
from vswap.run.future import Column, FutureTable, metric
from vswap.swap.tier_move import tier_moves_unsupported

__all__ = ["TIERS_DESIGNS", "tiers_table"]

G = 1 << 30
#: The designs the table runs by default (every design that can move entries between
#: tiers, one of each family).
TIERS_DESIGNS = ("classic", "swap-table-p4", "vswap", "vswap-v6", "vswap-ste")
COMMAND = "coldstart --app 1G --others 3G --idle 10"
TIERS = TierSpec(tiers="+NVME:100, +NET:-1", demote_age_s=2.0, promote_refaults=1,
                 rate_limit=256 << 20, interval_s=0.1)
NO_TIERS = "classic (no tiers)"


def _file_config(design: str, scale: float, seed: int, verify: bool,
                 tiers: TierSpec | None) -> FileConfig:
    return FileConfig(
        machine=MachineSpec(ram=16 * G, cpus=4),
        devices=(DeviceSpec(type="mem", size=4 * G, priority=100, kind="nvme"),
                 DeviceSpec(type="mem", size=8 * G, priority=10, kind="remote")),
        cgroups=(CgroupSpec(path="/coldstart", knobs={"memory.max": "2G"}),),
        workloads=(WorkloadSpec(cgroup="/coldstart", command=COMMAND),),
        designs=(design,), seed=seed, scale=scale, verify=verify,
        source="bench future tiers", tiers=tiers)


def _tier_stat(name: str) -> Any:
    def value(r: RunResult) -> float:
        st = r.kernel_stats.get("swap_tiers", {})
        return float(st.get(name, 0))
    return value


def _worker_ms(r: RunResult) -> float:
    return float(r.kernel_stats.get("swap_tiers", {}).get("worker_s", 0.0)) * 1e3


def _gib_s(r: RunResult) -> float | str:
    """The worker's time per page moved, times the pages of 1 GiB."""
    st = r.kernel_stats.get("swap_tiers", {})
    moved = int(st.get("demoted", 0)) + int(st.get("promoted", 0))
    if not moved:
        return "-"
    return float(st["worker_s"]) / moved * (G // PAGE_SIZE)


def _summary(by: dict[str, RunResult]) -> list[str]:
    lines = []
    base = by.get("classic")
    if base is not None and isinstance(_gib_s(base), float):
        cl = float(_gib_s(base))
        for d, r in by.items():
            v = _gib_s(r)
            if d in ("classic", NO_TIERS) or not isinstance(v, float):
                continue
            lines.append(f"demoting 1 GiB (per-page worker time of this run x 262144 "
                         f"pages): {d} {v:.3f} s, classic {cl:.3f} s: {d}/classic "
                         f"{v / cl:.2f}")
    nt = by.get(NO_TIERS)
    if base is not None and nt is not None:
        a, b = float(base.workload_metrics.get("launch_s", 0.0)), \
            float(nt.workload_metrics.get("launch_s", 0.0))
        if b:
            lines.append(f"relaunch from the NET tier {a:.4f} s vs from NVMe (no tiers) "
                         f"{b:.4f} s: {a / b:.2f}x (classic)")
    return lines


def tiers_table(scale: float, *, seed: int = 1, designs: tuple[str, ...] | None = None,
                verify: bool = True) -> FutureTable:
    """The tiers table at ``scale``: one run per design, plus ``classic (no tiers)``.

    Raises:
        ConfigError: a design that cannot move entries between tiers.
    """
    wanted = designs or TIERS_DESIGNS
    for d in wanted:
        why = tier_moves_unsupported(d)
        if why is not None:
            raise ConfigError(f"bench future --table tiers: {why}")
    t = FutureTable(
        "tiers", "swap tiers: demotion and promotion, cold app relaunch",
        f"{COMMAND} in memory.max=2G; tiers {TIERS.tiers} (NVMe 4G at priority 100, "
        f"remote NVMe-oF 8G at 10); demote after {TIERS.demote_age_s:g} s untouched, "
        f"promote a cluster on its first refault, {TIERS.rate_limit >> 20} MiB/s every "
        f"{TIERS.interval_s:g} s; sizes and rate x scale",
        (Column("app swapped", metric("app_swapped_pages", 0)),
         Column("demoted", _tier_stat("demoted")),
         Column("promoted", _tier_stat("promoted")),
         Column("PTEs visited", _tier_stat("ptes_visited")),
         Column("PTEs rewritten", _tier_stat("ptes_rewritten")),
         Column("verified", _tier_stat("verified")),
         Column("worker ms", _worker_ms),
         Column("1 GiB s", _gib_s),
         Column("relaunch s", metric("launch_s"))),
        baseline="classic" if "classic" in wanted else None,
        ratios=("worker ms", "1 GiB s", "relaunch s"),
        summary=_summary)
    labels: dict[str, Any] = {"table": "tiers", "scale": scale}
    rows: list[tuple[str, str, TierSpec | None]] = [(d, d, TIERS) for d in wanted]
    if "classic" in wanted:
        rows.append((NO_TIERS, "classic", None))
    for label, d, tiers in rows:
        (config,) = run_configs_from_file(_file_config(d, scale, seed, verify, tiers),
                                          designs=(d,))
        config.labels = config.labels | labels | {"row": label}
        t.configs[label] = config
    return t

