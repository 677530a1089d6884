"""The published comparisons of today's designs, scaled (``vswap bench upstream``).

Models: three sets of numbers from the list (shared/reference/upstream-and-interfaces.md
section 1.1), each table printed beside its published numbers and ratios:

* ``v3``: Kairui Song's review of Virtual Swap Space v3 (2026-02-11, reply to lore
  ``20260208215839.87595-1-nphamcs@gmail.com``): ``usemem --init-time -O -y -x -n 1 56G``
  under global pressure on a 32 GB box (throughput and free time), and a kernel build
  ``make -j12`` in a 2 GB VM with NVMe swap (sys), on 6.19, swap table phase III and vswap v3.
* ``v6``: the v6 cover letter's table (lore ``20260505153854.1612033-1-nphamcs@gmail.com``):
  memhog 48G on 16 GB, usemem 1 thread 56G on 32 GB, usemem 52 threads x 300M random on
  16 GB, a kernel build with 52 workers in memory.max=3G, on 64 GB of zram, 6.19 vs VSS v6.
* ``ste``: the Swap Table Edition RFC v2 cover letter (lore
  ``20260612193738.2183968-1-nphamcs@gmail.com``): memhog, usemem 56G (with its free-time
  gain) and a kernel build with zswap (zstd) in front of a 64 GB swapfile, mm-unstable vs
  VSS on.

Designs stand for the published kernels: ``swap-table-p1`` for 6.19 (phase I is what 6.19
has), ``swap-table-p4`` for phase III and for mm-unstable (phase IV is the newest phase, and
phase III is not a design here), ``vswap-v6`` for vswap v6, and for vswap v3 with the v4-v6
optimisations switched off (its ``batch_free``, ``iter_cache``, ``rmap_cache_only``),
``vswap-ste`` for STE "VSS on". Setup details the posts do not give are chosen here and
listed in docs/upstream-benchmarks.md. Sizes are multiplied by the scale; CPU, process,
thread and worker counts are kept.
"""

from __future__ import annotations

from typing import Any

from vswap.run.context import DeviceSpec, RunConfig
from vswap.run.rfc import RfcTable, _size
from vswap.units import format_size

__all__ = ["DEFAULT_UPSTREAM_SCALE", "UPSTREAM", "UPSTREAM_SETS", "UPSTREAM_SOURCES",
           "upstream_tables"]

#: Default scale: 1/1024 of the published sizes (usemem 56M on a 32M box, memhog 48M on 16M,
#: the kernel builds in memory.max=3M with heaps of 64K-192K); a few minutes on 2 cores.
DEFAULT_UPSTREAM_SCALE = 1 / 1024
#: The kernel builds' sizes relative to the scale (the 2 GB VM's build runs at 4x that).
UPSTREAM_KBUILD_FACTOR = 1.0

#: The table sets, in order, and their tables.
UPSTREAM_SETS: dict[str, tuple[str, ...]] = {
    "v3": ("v3-usemem", "v3-kbuild"),
    "v6": ("v6-memhog", "v6-usemem", "v6-usemem-random", "v6-kbuild"),
    "ste": ("ste-memhog", "ste-usemem", "ste-kbuild"),
}
UPSTREAM_SOURCES = {
    "v3": "Kairui Song's reply to VSS v3 (2026-02-11) on lore "
          "20260208215839.87595-1-nphamcs@gmail.com; reference section 1.1",
    "v6": "VSS v6 cover letter, lore 20260505153854.1612033-1-nphamcs@gmail.com; "
          "reference section 1.1",
    "ste": "VSS Swap Table Edition RFC v2 cover letter, lore "
           "20260612193738.2183968-1-nphamcs@gmail.com; reference section 1.1",
}
#: The published kernel each design stands for, per set.
STANDS_FOR = {
    "v3": {"swap-table-p1": "6.19", "swap-table-p4": "swap table P3",
           "vswap-v6": "vswap v3: v4-v6 batching off"},
    "v6": {"swap-table-p1": "baseline 6.19", "vswap-v6": "VSS v6"},
    "ste": {"swap-table-p4": "base (mm-unstable)", "vswap-ste": "VSS on"},
}
#: Design options per set: vswap v3 is vswap-v6 without the v4-v6 optimisations (batched
#: free, the per-CPU cluster lookup cache, the reverse map's cache-only mark).
OPTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "v3": {"vswap-v6": {"batch_free": False, "iter_cache": False, "rmap_cache_only": False}},
}
#: The design the ratios divide by, per set.
BASELINE = {"v3": "swap-table-p4", "v6": "swap-table-p1", "ste": "swap-table-p4"}

_MBPS = 1024.0  # usemem's MB/s (Kairui's sums) as KB/s

#: The published numbers by table and design (free times in seconds, throughput in KB/s).
UPSTREAM: dict[str, dict[str, dict[str, float]]] = {
    "v3-usemem": {
        "swap-table-p1": {"throughput_kbps": 618.49 * _MBPS, "free_time_s": 5.75},
        "swap-table-p4": {"throughput_kbps": 642.02 * _MBPS, "free_time_s": 5.73},
        "vswap-v6": {"throughput_kbps": 598.67 * _MBPS, "free_time_s": 13.99},
    },
    "v3-kbuild": {
        "swap-table-p1": {"sys_s": 109.6},
        "swap-table-p4": {"sys_s": 108.9},
        "vswap-v6": {"sys_s": 118.7},
    },
    "v6-memhog": {
        "swap-table-p1": {"real_s": 80.50},
        "vswap-v6": {"real_s": 80.64},
    },
    "v6-usemem": {
        "swap-table-p1": {"throughput_kbps": 390602, "free_time_s": 7.287},
        "vswap-v6": {"throughput_kbps": 390524, "free_time_s": 7.332},
    },
    "v6-usemem-random": {
        "swap-table-p1": {"throughput_kbps": 28188, "sys_s": 396.4},
        "vswap-v6": {"throughput_kbps": 28765, "sys_s": 390.7},
    },
    "v6-kbuild": {
        "swap-table-p1": {"real_s": 163.30},
        "vswap-v6": {"real_s": 163.34},
    },
    "ste-memhog": {
        "swap-table-p4": {"real_s": 107.56},
        "vswap-ste": {"real_s": 108.36},
    },
    "ste-usemem": {
        "swap-table-p4": {"throughput_kbps": 386398, "free_time_s": 7.821},
        "vswap-ste": {"throughput_kbps": 387264, "free_time_s": 6.646},
    },
    "ste-kbuild": {
        "swap-table-p4": {"real_s": 169.08, "sys_s": 814.25},
        "vswap-ste": {"real_s": 168.90, "sys_s": 809.35},
    },
}

G = 1 << 30
M = 1 << 20


def _kbuild_cmd(workers: int, jobs: int, ks: float) -> str:
    """The RFC table's compile jobs (cc1 heaps of 64-192 MB, a 4 MB worker heap), scaled."""
    return (f"kbuild -j {workers} --jobs {jobs} --heap {format_size(_size(64 * M, ks))}:"
            f"{format_size(_size(192 * M, ks))} --worker-heap {format_size(_size(4 * M, ks))}")


def upstream_tables(scale: float = DEFAULT_UPSTREAM_SCALE, *, seed: int = 1,
                    designs: tuple[str, ...] | None = None, verify: bool = True,
                    kbuild_scale: float | None = None,
                    kbuild_jobs: int | None = None) -> list[RfcTable]:
    """Every upstream table at ``scale`` (the kernel builds at ``kbuild_scale``, default
    ``scale * UPSTREAM_KBUILD_FACTOR``, the 2 GB VM's at four times that), one
    :class:`RunConfig` per design each: the designs the publication compared, or the
    baseline and those of ``designs``."""
    ks = kbuild_scale if kbuild_scale is not None else scale * UPSTREAM_KBUILD_FACTOR
    tables: list[RfcTable] = []

    def table(key: str, title: str, setup: str, columns: tuple[str, ...],
              run: dict[str, Any], table_scale: float) -> None:
        which = key.split("-", 1)[0]
        base = BASELINE[which]
        own = tuple(STANDS_FOR[which])
        chosen = own if designs is None else (base, *[d for d in designs if d != base])
        t = RfcTable(key, title, setup, columns, published=UPSTREAM[key],
                     source=UPSTREAM_SOURCES[which], baseline=base, label="published",
                     stands_for=STANDS_FOR[which], scale=table_scale)
        for d in chosen:
            # Each run its own device list: a run must not share specs with another.
            t.configs[d] = RunConfig(design=d, seed=seed, verify=verify,
                                     labels={"scale": table_scale, "table": key},
                                     design_options=dict(OPTIONS.get(which, {}).get(d, {})),
                                     **(run | {"swap_devices": list(run["swap_devices"])}))
        tables.append(t)

    # (a) Kairui Song on v3: AMD EPYC 7K62 (48 cores chosen), 32 GB, global pressure, usemem
    # one process of 56G; the swap device is not given: an NVMe swapfile of 64G (chosen).
    kairui_usemem = "usemem --init-time -O -y -x -n 1"
    nvme64 = [DeviceSpec("file", _size(64 * G, scale), "nvme")]
    size = format_size(_size(56 * G, scale))
    table("v3-usemem", "v3 review: usemem -n 1 56G, 32 GB, global pressure",
          f"{kairui_usemem} {size} on a {format_size(_size(32 * G, scale))} box, swapfile "
          "on nvme, 48 CPUs", ("real_s", "sys_s", "throughput_kbps", "free_time_s"),
          {"workload": f"{kairui_usemem} {size}", "ram": _size(32 * G, scale),
           "swap_devices": nvme64, "zswap": None, "cpus": 48}, scale)
    # Kernel build in a 2 GB VM with NVMe swap, make -j12 (12 vCPUs and an 8G swapfile
    # chosen; two compile jobs per worker as in the RFC table). A 2 GB box at the builds'
    # scale would be too small for its own watermarks: this one runs at 4x that scale.
    vm = min(1.0, 4 * ks)
    cmd = _kbuild_cmd(12, kbuild_jobs or 24, vm)
    table("v3-kbuild", "v3 review: kernel build make -j12, 2 GB VM, NVMe swap",
          f"{cmd} on a {format_size(_size(2 * G, vm))} box, swapfile on nvme, 12 CPUs",
          ("real_s", "user_s", "sys_s"),
          {"workload": cmd, "ram": _size(2 * G, vm),
           "swap_devices": [DeviceSpec("file", _size(8 * G, vm), "nvme")], "zswap": None,
           "cpus": 12}, vm)

    # (b) The v6 cover letter: 52 cores, 64 GB zram swap (lz4 chosen), MGLRU (not modelled).
    zram64 = [DeviceSpec("zram", _size(64 * G, scale), "zram")]
    v6 = {"swap_devices": zram64, "zswap": None, "cpus": 52}
    size = format_size(_size(48 * G, scale))
    table("v6-memhog", "v6 cover: memhog 48G on a 16 GB host, zram",
          f"memhog {size} on a {format_size(_size(16 * G, scale))} box, zram lz4, 52 CPUs",
          ("real_s", "sys_s"),
          {"workload": f"memhog {size}", "ram": _size(16 * G, scale)} | v6, scale)
    size = format_size(_size(56 * G, scale))
    table("v6-usemem", "v6 cover: usemem 1 thread 56G on a 32 GB host, zram",
          f"{kairui_usemem} {size} on a {format_size(_size(32 * G, scale))} box, zram lz4, "
          "52 CPUs", ("real_s", "sys_s", "throughput_kbps", "free_time_s"),
          {"workload": f"{kairui_usemem} {size}", "ram": _size(32 * G, scale)} | v6, scale)
    # 52 threads x 300M (15.6G) of random access on a 16 GB host: the flags are not given;
    # -R with two passes (-r 2) chosen. The host's kernel, page cache and services are not
    # modelled, so the box is 12G (chosen): a quarter of the heaps must be in swap, as the
    # published sys time (~400 s on 52 CPUs) says most of the run was swapping.
    size = format_size(_size(300 * M, scale))
    rnd = f"usemem --init-time -O -R -r 2 -n 52 {size}"
    table("v6-usemem-random", "v6 cover: usemem 52 threads x 300M random, 16 GB host, zram",
          f"{rnd} on a {format_size(_size(12 * G, scale))} box (16 GB less what the host's "
          "own memory use is taken to be, chosen), zram lz4, 52 CPUs",
          ("real_s", "sys_s", "throughput_kbps"),
          {"workload": rnd, "ram": _size(12 * G, scale)} | v6, scale)
    cmd = _kbuild_cmd(52, kbuild_jobs or 104, ks)
    table("v6-kbuild", "v6 cover: kernel build, 52 workers, memory.max=3G, zram",
          f"{cmd} in memory.max={format_size(_size(3 * G, ks))}, zram lz4, 52 CPUs",
          ("real_s", "user_s", "sys_s"),
          {"workload": cmd, "memory_max": _size(3 * G, ks),
           "swap_devices": [DeviceSpec("zram", _size(64 * G, ks), "zram")], "zswap": None,
           "cpus": 52}, ks)

    # (c) STE RFC v2: zswap with zstd in front of a 64 GB swapfile (on nvme, chosen), 52
    # cores; the hosts' RAM is not given: the v6 cover's 16 and 32 GB chosen.
    ste = {"swap_devices": nvme64, "zswap": "zstd", "cpus": 52}
    size = format_size(_size(48 * G, scale))
    table("ste-memhog", "STE v2: memhog 48G on a 16 GB host, zswap zstd",
          f"memhog {size} on a {format_size(_size(16 * G, scale))} box, zswap zstd, "
          "swapfile on nvme, 52 CPUs", ("real_s", "sys_s"),
          {"workload": f"memhog {size}", "ram": _size(16 * G, scale)} | ste, scale)
    size = format_size(_size(56 * G, scale))
    table("ste-usemem", "STE v2: usemem 56G on a 32 GB host, zswap zstd",
          f"{kairui_usemem} {size} on a {format_size(_size(32 * G, scale))} box, zswap zstd, "
          "swapfile on nvme, 52 CPUs", ("real_s", "sys_s", "throughput_kbps", "free_time_s"),
          {"workload": f"{kairui_usemem} {size}", "ram": _size(32 * G, scale)} | ste, scale)
    cmd = _kbuild_cmd(52, kbuild_jobs or 104, ks)
    table("ste-kbuild", "STE v2: kernel build, 52 workers, memory.max=3G, zswap zstd",
          f"{cmd} in memory.max={format_size(_size(3 * G, ks))}, zswap zstd with its shrinker, "
          "swapfile on nvme, 52 CPUs", ("real_s", "user_s", "sys_s"),
          {"workload": cmd, "memory_max": _size(3 * G, ks),
           "swap_devices": [DeviceSpec("file", _size(64 * G, ks), "nvme")], "zswap": "zstd",
           "zswap_params": {"shrinker_enabled": True}, "cpus": 52}, ks)
    return tables
