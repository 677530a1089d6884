"""Kinds of swap devices: latency, bandwidth, queue depth and flags, each number sourced.

Models: the device properties the swap code reads (``SWP_SOLIDSTATE`` is set when the
block device is not rotational, ``SWP_SYNCHRONOUS_IO`` when it completes bios synchronously
in the submitter: zram, pmem, brd; ``mm/swapfile.c`` ``SYSCALL_DEFINE2(swapon)``) plus the
service-time parameters of :class:`vswap.sim.ioqueue.IoQueue`.

Conventions: latencies are per 4 KiB request at queue depth 1 and, where the data sheet
gives only IOPS at QD1, derived as ``1 / IOPS`` (which includes the host's own submit path,
so it is slightly pessimistic for the device alone). Bandwidths are the sequential
figures. Every number has its source in ``sources``; none was chosen to favour a swap
design, and every design runs on the same kinds.

For ``synchronous_io`` devices (zram, pmem) the "device" time is really CPU time in the
submitting task (``zram_write_page`` / ``pmem_submit_bio`` run in the caller); callers may
charge it as sys work instead of blocking. zram's (de)compression is *not* in its latency:
it is charged separately from the cost table, per algorithm.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType

from vswap.errors import ConfigError, InvalidArgumentError
from vswap.sim.engine import Engine
from vswap.sim.ioqueue import IoQueue

__all__ = ["DEVICE_KINDS", "DeviceKind", "get_device_kind"]

_NUMERIC = ("read_latency_ns", "write_latency_ns", "read_bandwidth", "write_bandwidth",
            "queue_depth")


@dataclass(frozen=True, slots=True)
class DeviceKind:
    """One kind of swap device (all times ns, bandwidths bytes/s)."""

    name: str
    description: str
    read_latency_ns: int
    write_latency_ns: int
    read_bandwidth: int
    write_bandwidth: int
    queue_depth: int
    #: A spinning disk (the block queue's ``rotational`` attribute).
    rotational: bool
    #: Completes I/O in the submitter's context (``SWP_SYNCHRONOUS_IO``).
    synchronous_io: bool
    #: Source of every numeric field, keyed by field name.
    sources: Mapping[str, str]

    def __post_init__(self) -> None:
        missing = [f for f in _NUMERIC if not self.sources.get(f)]
        if missing:
            raise InvalidArgumentError(f"device kind {self.name}: no source for {missing}")
        object.__setattr__(self, "sources", MappingProxyType(dict(self.sources)))

    @property
    def solidstate(self) -> bool:
        """``SWP_SOLIDSTATE``: the device is not rotational."""
        return not self.rotational

    def source(self, field: str) -> str:
        """Where the number in ``field`` comes from."""
        return self.sources[field]

    def make_queue(self, engine: Engine, name: str) -> IoQueue:
        """An :class:`IoQueue` with this kind's parameters."""
        return IoQueue(engine, name, depth=self.queue_depth,
                       read_latency_ns=self.read_latency_ns,
                       write_latency_ns=self.write_latency_ns,
                       read_bandwidth=self.read_bandwidth,
                       write_bandwidth=self.write_bandwidth)


def _qd1(iops: int) -> int:
    return round(1_000_000_000 / iops)


_SAMSUNG_870 = "Samsung SSD 870 EVO (1 TB) data sheet"
_SAMSUNG_980 = "Samsung 980 PRO (1 TB) data sheet"
_PMEM = ("Izraelevitz et al. 2019, 'Basic Performance Measurements of the Intel Optane DC "
         "Persistent Memory Module' (arXiv:1903.05714)")

SSD = DeviceKind(
    name="ssd", description="SATA SSD (Samsung 870 EVO class)",
    read_latency_ns=_qd1(13_000), write_latency_ns=_qd1(36_000),
    read_bandwidth=560_000_000, write_bandwidth=530_000_000, queue_depth=32,
    rotational=False, synchronous_io=False,
    sources={
        "read_latency_ns": f"{_SAMSUNG_870}: 4 KiB random read QD1 up to 13,000 IOPS; 1/IOPS",
        "write_latency_ns": f"{_SAMSUNG_870}: 4 KiB random write QD1 up to 36,000 IOPS; "
                            "1/IOPS",
        "read_bandwidth": f"{_SAMSUNG_870}: sequential read up to 560 MB/s",
        "write_bandwidth": f"{_SAMSUNG_870}: sequential write up to 530 MB/s",
        "queue_depth": "SATA NCQ: at most 32 outstanding commands (AHCI 1.3 specification)",
    })

NVME = DeviceKind(
    name="nvme", description="PCIe 4.0 NVMe SSD (Samsung 980 PRO class)",
    read_latency_ns=_qd1(22_000), write_latency_ns=_qd1(60_000),
    read_bandwidth=7_000_000_000, write_bandwidth=5_000_000_000, queue_depth=1023,
    rotational=False, synchronous_io=False,
    sources={
        "read_latency_ns": f"{_SAMSUNG_980}: 4 KiB random read QD1 up to 22,000 IOPS; 1/IOPS",
        "write_latency_ns": f"{_SAMSUNG_980}: 4 KiB random write QD1 up to 60,000 IOPS; "
                            "1/IOPS",
        "read_bandwidth": f"{_SAMSUNG_980}: sequential read up to 7,000 MB/s",
        "write_bandwidth": f"{_SAMSUNG_980}: sequential write up to 5,000 MB/s",
        "queue_depth": "Linux nvme driver default io_queue_depth=1024 (one slot kept free), "
                       "drivers/nvme/host/pci.c",
    })

HDD = DeviceKind(
    name="hdd", description="7200 rpm SATA disk",
    read_latency_ns=8_500_000 + 4_166_667, write_latency_ns=9_500_000 + 4_166_667,
    read_bandwidth=200_000_000, write_bandwidth=200_000_000, queue_depth=1,
    rotational=True, synchronous_io=False,
    sources={
        "read_latency_ns": "typical 7200 rpm desktop disk data sheets: average read seek "
                           "~8.5 ms, plus average rotational latency 60 s / 7200 / 2 = "
                           "4.17 ms (random access; swap clustering would do better)",
        "write_latency_ns": "typical 7200 rpm data sheets: average write seek ~9.5 ms, plus "
                            "4.17 ms average rotational latency",
        "read_bandwidth": "typical 7200 rpm 3.5\" disk sustained transfer rate ~200 MB/s "
                          "(outer tracks; data sheets quote 160-250 MB/s)",
        "write_bandwidth": "same media rate as reads (typical 7200 rpm data sheets)",
        "queue_depth": "model choice: one head serves one request at a time, so seeks do "
                       "not overlap (NCQ reordering is not modelled)",
    })

PMEM = DeviceKind(
    name="pmem", description="Intel Optane DC persistent memory as a block device (pmem)",
    read_latency_ns=305, write_latency_ns=94,
    read_bandwidth=6_600_000_000, write_bandwidth=2_300_000_000, queue_depth=64,
    rotational=False, synchronous_io=True,
    sources={
        "read_latency_ns": f"{_PMEM}: idle random load latency ~305 ns",
        "write_latency_ns": f"{_PMEM}: store + cache-line flush + fence latency ~94 ns",
        "read_bandwidth": f"{_PMEM}: maximum read bandwidth of one DIMM ~6.6 GB/s",
        "write_bandwidth": f"{_PMEM}: maximum write bandwidth of one DIMM ~2.3 GB/s",
        "queue_depth": "model choice: pmem completes bios synchronously in each submitting "
                       "CPU, so concurrency is bounded by CPUs; 64 never binds in practice",
    })

ZRAM = DeviceKind(
    name="zram", description="zram (compressed RAM block device); compression charged "
                             "separately from the cost table",
    read_latency_ns=1_000, write_latency_ns=1_000,
    read_bandwidth=8_657_000_000, write_bandwidth=8_657_000_000, queue_depth=64,
    rotational=False, synchronous_io=True,
    sources={
        "read_latency_ns": "estimate: zram_read_page() without decompression is a table "
                           "lookup, zs_map_object and a page copy under the slot lock, "
                           "~1 µs (no published per-request figure; the copy itself is "
                           "charged from the bandwidth)",
        "write_latency_ns": "estimate, as read: slot lock, zs_malloc and copy of the "
                            "compressed data, ~1 µs excluding compression",
        "read_bandwidth": "memcpy 8657 MB/s, lzbench 1.7.1 README, Intel Core i5-4300U "
                          "(github.com/inikep/lzbench)",
        "write_bandwidth": "memcpy 8657 MB/s, lzbench 1.7.1 README (as read)",
        "queue_depth": "model choice: zram is bio-based and synchronous (no hardware "
                       "queue); 64 never binds in practice",
    })

REMOTE = DeviceKind(
    name="remote", description="NVMe over Fabrics (RDMA, 25 GbE) remote block device",
    read_latency_ns=_qd1(22_000) + 10_000, write_latency_ns=_qd1(60_000) + 10_000,
    read_bandwidth=3_125_000_000, write_bandwidth=3_125_000_000, queue_depth=128,
    rotational=False, synchronous_io=False,
    sources={
        "read_latency_ns": f"local NVMe QD1 read ({_SAMSUNG_980}) + 10 µs: the NVMe-oF "
                           "design goal of under 10 µs added latency (NVM Express, NVMe "
                           "over Fabrics overview)",
        "write_latency_ns": f"local NVMe QD1 write ({_SAMSUNG_980}) + 10 µs fabric "
                            "(NVMe-oF design goal)",
        "read_bandwidth": "25 Gb/s Ethernet line rate = 3.125 GB/s (IEEE 802.3by), below "
                          "the target SSD's bandwidth",
        "write_bandwidth": "25 Gb/s Ethernet line rate = 3.125 GB/s (IEEE 802.3by)",
        "queue_depth": "Linux nvme-rdma default queue size 128 "
                       "(NVMF_DEF_QUEUE_SIZE, drivers/nvme/host/fabrics.h)",
    })

#: Every device kind by name.
DEVICE_KINDS: dict[str, DeviceKind] = {k.name: k for k in (SSD, NVME, HDD, PMEM, ZRAM, REMOTE)}


def get_device_kind(name: str) -> DeviceKind:
    """The device kind called ``name`` (case-insensitive).

    Raises:
        ConfigError: unknown name; the message lists the valid ones.
    """
    kind = DEVICE_KINDS.get(str(name).strip().lower())
    if kind is None:
        raise ConfigError(f"unknown device kind {name!r} "
                          f"(valid: {', '.join(sorted(DEVICE_KINDS))})")
    return kind


# Every numeric field must be listed in _NUMERIC so that it needs a source.
assert {f.name for f in fields(DeviceKind) if f.type == "int"} == set(_NUMERIC)
