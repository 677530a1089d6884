"""Small hand-run results for the report tests (until ``vswap run`` produces them).

A machine is built from a configuration, a usemem-like task writes more than its cgroup's
``memory.max`` (every third page zero, the rest usemem's word pattern or random bytes), reads
half of it back, and the result is filled by ``result_from_machine`` with timeline samples,
lock statistics, metrics and the RFC's numbers.
"""

from __future__ import annotations

import random
import struct

from vswap.config import build_machine, loads_config
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import Machine
from vswap.report.collect import DevicePeaks, result_from_machine, timeline_sample
from vswap.report.result import RunMetrics, RunResult

CONFIG = """
designs = ["classic", "vswap"]
seed = 7

[machine]
ram = "32M"
cpus = 2

[[swap]]
type = "mem"
size = "16M"

[zswap]
compressor = "lz4"
max_pool_percent = 2
shrinker_enabled = true

[cgroups."/bench"]
memory.max = "2M"

[[workloads]]
cgroup = "/bench"
command = "usemem -n 1 3M"
"""

#: The cover letter's usemem numbers (section V.1), per design.
RFC_USEMEM = {
    "classic": {"real_s": 33.96, "user_s": 25.31, "sys_s": 341.09,
                "throughput_kbps": 111295.45, "free_time_s": 2.08},
    "vswap": {"real_s": 35.87, "user_s": 25.15, "sys_s": 373.01,
              "throughput_kbps": 106965.46, "free_time_s": 3.19},
}

NPAGES = 600
STEP_NS = 10_000


def page(i: int, rng: random.Random) -> bytes:
    if i % 3 == 0:
        return bytes(PAGE_SIZE)
    if i % 3 == 1:
        return struct.pack("<512Q", *range(i * 512, i * 512 + 512))
    return rng.randbytes(PAGE_SIZE)


def small_run(design: str, *, zswap: bool = True, seed: int = 7) -> RunResult:
    """One design's hand-run of the small usemem-like workload, as a RunResult."""
    return small_machine_run(design, zswap=zswap, seed=seed)[1]


def small_machine_run(design: str, *, zswap: bool = True, seed: int = 7
                      ) -> tuple[Machine, RunResult]:
    """As :func:`small_run`, also returning the machine in its final state."""
    text = CONFIG if zswap else (CONFIG.split("[zswap]")[0] + "[cgroups"
                                 + CONFIG.split("[cgroups", 1)[1])
    config = loads_config(text, source="small.toml")
    m = build_machine(config, design)
    rng = random.Random(seed)
    task = m.spawn("usemem", "/bench")
    addr = m.mmap(task, NPAGES * PAGE_SIZE)
    timeline = []
    peaks = DevicePeaks()
    data = []
    for i in range(NPAGES):
        data.append(page(i, rng))
        m.write(task, addr + i * PAGE_SIZE, data[-1])
        if i % 25 == 0:
            timeline.append(timeline_sample(m, i * STEP_NS))
            peaks.update(m)
    for i in range(0, NPAGES, 2):
        assert m.read(task, addr + i * PAGE_SIZE, PAGE_SIZE) == data[i]
    timeline.append(timeline_sample(m, NPAGES * STEP_NS))
    peaks.update(m)
    factor = 1.0 if design == "classic" else 1.1
    metrics = RunMetrics(real_s=2.0 * factor, user_s=0.5, sys_s=1.5 * factor,
                         throughput_kbps=1000.0 / factor, free_time_s=0.1 * factor,
                         page_events=NPAGES)
    locks = {"swap_cache": {"acquisitions": 1000, "contentions": int(100 * factor),
                            "wait_ns": int(5_000_000 * factor), "max_wait_ns": 90_000,
                            "hold_ns": 2_000_000},
             "swap_cluster": {"acquisitions": 400, "contentions": 10, "wait_ns": 1_000_000,
                              "max_wait_ns": 20_000, "hold_ns": 800_000}}
    return m, result_from_machine(m, design, config.workloads[0].command, seed, config=config,
                               metrics=metrics, locks=locks, timeline=timeline,
                               device_peaks=peaks, rfc=RFC_USEMEM.get(design),
                               rfc_source="RFC v2 cover letter, V.1")
