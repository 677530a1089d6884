"""``bench future`` table: zswap writeback at writeback time (batched, compressed).

Models: the cover letter's section III "zswap writeback optimization" (spec part 2, section
15.6): under the virtual designs a zswap entry has no physical slot until writeback, so
writeback can gather a batch, give it contiguous slots and write it as one request, or write
the compressed bytes as they are (zswap's model-only ``writeback_batch_size`` and
``writeback_compressed``, docs/future.md). The ``zswap-wb`` workload stores 1 GiB of usemem
content in zswap (``MADV_PAGEOUT``), writes all of it back with the zswap shrinker's scans
(timed), then reads every page back (timed) and checks it; the device is a swap file on an
NVMe drive (1.25 GiB x scale, on a 16 GiB machine; a file, not a memory device, so swap-in
reads ahead as on NVMe: a memory device is ``SWP_SYNCHRONOUS_IO``, zram-like).

Rows: every design with the kernel's per-page writeback (classic and the swap tables to the
slot reserved at swap-out; the virtual designs to a slot allocated per entry at writeback);
the virtual designs (of those asked for) again with batches of :data:`BATCH`, and (but
``vswap-ste``) with batches of :data:`BATCH` written compressed. Columns: the writeback
phase's modelled time, the device's write requests, the pages written back (``zswpwb``),
the bytes the device wrote, the compressed bytes of compressed writeback, and the
read-back's time.
"""

from __future__ import annotations

from typing import Any

from vswap.config.spec import CgroupSpec, DeviceSpec, MachineSpec, WorkloadSpec
from vswap.config.spec import RunConfig as FileConfig
from vswap.report.result import RunResult
from vswap.run.fromconfig import run_configs_from_file
from vswap.run.future import Column, FutureTable
from vswap.zswap.host import WB_BATCH_DESIGNS, WB_COMPRESSED_DESIGNS
from vswap.zswap.zswap import ZswapParams

__all__ = ["BATCH", "WRITEBACK_DESIGNS", "writeback_table"]

G = 1 << 30
#: The designs the table runs by default: classic and the two virtual generations.
WRITEBACK_DESIGNS = ("classic", "vswap", "vswap-v6")
#: The batch size of the batched rows (zram's ``writeback_batch_size`` default).
BATCH = 32
COMMAND = "zswap-wb --size 1G"


def _file_config(design: str, scale: float, seed: int, verify: bool,
                 zswap: ZswapParams) -> FileConfig:
    return FileConfig(
        machine=MachineSpec(ram=16 * G, cpus=4),
        # A swap file on the NVMe drive: a "mem" device would be SWP_SYNCHRONOUS_IO
        # (zram-like), on which no design reads ahead, unlike a real NVMe swap file.
        devices=(DeviceSpec(type="file", size=G + G // 4, kind="nvme"),),
        zswap=zswap,
        cgroups=(CgroupSpec(path="/wb", knobs={}),),
        workloads=(WorkloadSpec(cgroup="/wb", command=COMMAND),),
        designs=(design,), seed=seed, scale=scale, verify=verify,
        source="bench future writeback")


def _device(name: str) -> Any:
    def value(r: RunResult) -> float:
        return float(sum(int(d.get(name, 0)) for d in r.devices))
    return value


def _zswap(name: str) -> Any:
    def value(r: RunResult) -> float:
        return float(r.kernel_stats.get("zswap", {}).get(name, 0))
    return value


def _ms(name: str) -> Any:
    def value(r: RunResult) -> float:
        return float(r.workload_metrics.get(name, 0.0)) * 1e3
    return value


def _per_request(r: RunResult) -> float | str:
    reqs = _device("writes")(r)
    return float(r.vmstat.get("zswpwb", 0)) / reqs if reqs else "-"


def _summary(by: dict[str, RunResult]) -> list[str]:
    lines = []
    for label, r in by.items():
        if "batch" not in label:
            continue
        base = by.get(label.split(" (")[0])
        if base is None:
            continue
        a, b = _ms("writeback_s")(r), _ms("writeback_s")(base)
        ra, rb = _device("writes")(r), _device("writes")(base)
        if b and ra:
            lines.append(f"{label}: writeback {a / b:.2f}x the time of per-page writeback, "
                         f"{rb / ra:.0f}x fewer write requests; read-back "
                         f"{_ms('swapin_s')(r) / max(_ms('swapin_s')(base), 1e-9):.2f}x")
    return lines


def writeback_table(scale: float, *, seed: int = 1, designs: tuple[str, ...] | None = None,
                    verify: bool = True) -> FutureTable:
    """The writeback table at ``scale``: one per-page row per design, a batched row per
    virtual design and a batched compressed row per design that has compressed writeback.
    Every design can run it (per-page writeback exists everywhere), so it raises nothing."""
    wanted = designs or WRITEBACK_DESIGNS
    t = FutureTable(
        "writeback", "zswap writeback at writeback time: batched and compressed",
        f"{COMMAND} in a cgroup without limits on a 16G machine, zswap lz4, a swap file on "
        f"NVMe; everything stored in zswap, written back by the shrinker's scans, then read "
        f"back; batch = writeback_batch_size {BATCH}; sizes x scale",
        (Column("writeback ms", _ms("writeback_s")),
         Column("write requests", _device("writes")),
         Column("pages/request", _per_request),
         Column("pages written", lambda r: float(r.vmstat.get("zswpwb", 0))),
         Column("bytes written", _device("write_bytes")),
         Column("compressed bytes", _zswap("written_back_compressed_bytes")),
         Column("swap-in ms", _ms("swapin_s")),
         Column("verified", lambda r: float(r.verified_pages))),
        baseline="classic" if "classic" in wanted else None,
        ratios=("writeback ms", "write requests", "swap-in ms"),
        summary=_summary)
    labels: dict[str, Any] = {"table": "writeback", "scale": scale}
    rows: list[tuple[str, str, ZswapParams]] = []
    for d in wanted:
        rows.append((d, d, ZswapParams(compressor="lz4")))
    for d in wanted:
        if d in WB_BATCH_DESIGNS:
            rows.append((f"{d} (batch {BATCH})", d,
                         ZswapParams(compressor="lz4", writeback_batch_size=BATCH)))
        if d in WB_COMPRESSED_DESIGNS:
            rows.append((f"{d} (batch {BATCH}, compressed)", d,
                         ZswapParams(compressor="lz4", writeback_batch_size=BATCH,
                                     writeback_compressed=True)))
    for label, d, zswap in rows:
        (config,) = run_configs_from_file(_file_config(d, scale, seed, verify, zswap),
                                          designs=(d,))
        config.labels = config.labels | labels | {"row": label}
        t.configs[label] = config
    return t
