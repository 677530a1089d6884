"""The lock model in situ: contention comes from concurrency, measured, never a constant."""

from __future__ import annotations

from vswap.run import DeviceSpec, RunConfig, run_workload


def _swap_cache(design: str, cpus: int) -> dict:
    cfg = RunConfig(design=design, workload="usemem -n 2 -O 4M", memory_max=2 << 20,
                    swap_devices=[DeviceSpec("file", 256 << 20, "nvme")], cpus=cpus, seed=3)
    r = run_workload(cfg)
    return r.locks["swap_cache"] | {"spin_s": r.metrics.spin_s}


def test_two_cpus_on_the_single_vswap_swap_cache_contend() -> None:
    two = _swap_cache("vswap", 2)
    assert two["instances"] == 1
    assert two["contentions"] > 0 and two["wait_ns"] > 0 and two["spin_s"] > 0


def test_one_cpu_never_contends() -> None:
    one = _swap_cache("vswap", 1)
    assert one["contentions"] == 0 and one["spin_s"] == 0


def test_partitioned_swap_caches_contend_less() -> None:
    flat = _swap_cache("vswap", 2)
    static = _swap_cache("vswap-static", 2)
    classic = _swap_cache("classic", 2)
    assert static["instances"] > 1
    assert static["contentions"] < flat["contentions"]
    # Classic's 64 MiB spaces and per-CPU clusters: fewer waits than one global lock.
    assert classic["contentions"] < flat["contentions"]
    assert classic["wait_ns"] < flat["wait_ns"]
