"""Same seed, same result: the whole JSON except the wall-clock fields."""

from __future__ import annotations

from vswap.run import DeviceSpec, RunConfig, run_workload

WALL = ("wall_s", "page_events_per_wall_s")


def _run(seed: int) -> dict:
    cfg = RunConfig(design="vswap", workload="usemem -n 3 -O -R 2M", memory_max=3 << 20,
                    swap_devices=[DeviceSpec("file", 16 << 20, "nvme")], zswap="lz4",
                    cpus=2, seed=seed)
    d = run_workload(cfg).to_dict()
    for k in WALL:
        d["metrics"].pop(k)
    return d


def test_same_seed_same_json() -> None:
    assert _run(7) == _run(7)


def test_other_seed_other_walk() -> None:
    # -R draws pages from the run's seeded generator: another seed, another schedule.
    assert _run(7)["kernel_steps"] != _run(8)["kernel_steps"]
