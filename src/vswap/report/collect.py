"""Fill a :class:`~vswap.report.result.RunResult` from a machine at the end of a run.

What a runner calls (``vswap run``, ``compare``, ``bench``, tests, scripts):

* :func:`timeline_sample` during the run, at whatever virtual times it likes, appending to a
  list (the ``timeline`` of the result); :class:`DevicePeaks` alongside it if the runner
  wants ``peak_used_pages`` finer than the samples.
* :func:`result_from_machine` once at the end: the kernel views (``/proc/vmstat``,
  ``/proc/meminfo``, every cgroup's files), the devices, the design's metadata bytes and the
  integrity oracle's count, plus whatever the runner measured (metrics, locks, swapoff,
  timeline, RFC numbers) passed in.

Where pages live (:func:`page_locations`) is read from each design's own tables: the
virtual design's descriptor types (``VSWAP_ZERO`` / ``VSWAP_ZSWAP`` / ``VSWAP_SWAPFILE``
with a slot); in the classic design zero pages are the ``zeromap`` bits, zswap pages the
zswap entries, and device pages the slots in use that are neither (classic zswap and zero
pages still hold a slot each, which is the point of the comparison).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vswap.report.result import RunMetrics, RunResult

if TYPE_CHECKING:
    from vswap.config.spec import RunConfig
    from vswap.mm.machine import Machine
    from vswap.sim.locks import LockStatistics

__all__ = ["TIMELINE_KEYS", "DevicePeaks", "PeakViews", "cgroup_results", "device_records",
           "lock_record", "page_locations", "result_from_machine", "run_zswap",
           "timeline_sample", "zswap_counters"]

#: The keys of one ``timeline`` sample, in order.
TIMELINE_KEYS = ("t_ns", "resident_pages", "swapcache_pages", "zswap_pool_bytes",
                 "zswap_pages", "zero_pages", "device_pages", "device_slots")


def _swap_infos(machine: Machine) -> list[Any]:
    return list(machine.design.devices.devices())


def page_locations(machine: Machine) -> dict[str, int]:
    """Where the machine's anonymous pages are now, in pages.

    Returns:
        ``resident`` (folios in RAM, swap cache included), ``swapcache``, ``zswap`` (pages
        stored compressed), ``zero`` (swapped-out zero-filled pages, no data anywhere) and
        ``device`` (pages whose data is on a swap device).
    """
    zswap_pages = 0
    if machine.zswap is not None:
        zswap_pages = int(machine.zswap.statistics().stored_pages)
    zero, device = machine.design.swapped_page_locations()
    return {"resident": int(machine.nr_used_pages), "swapcache": int(machine.nr_swapcached()),
            "zswap": zswap_pages, "zero": zero, "device": device}


def timeline_sample(machine: Machine, t_ns: int) -> dict[str, int]:
    """One ``timeline`` entry: the machine's memory, swap cache, zswap pool and device usage
    at virtual time ``t_ns`` (keys :data:`TIMELINE_KEYS`)."""
    loc = page_locations(machine)
    pool = int(machine.zswap.pool_total_size) if machine.zswap is not None else 0
    return {"t_ns": int(t_ns), "resident_pages": loc["resident"],
            "swapcache_pages": loc["swapcache"], "zswap_pool_bytes": pool,
            "zswap_pages": loc["zswap"], "zero_pages": loc["zero"],
            "device_pages": loc["device"],
            "device_slots": sum(int(si.inuse_pages) for si in _swap_infos(machine))}


class DevicePeaks:
    """Peak slots in use per device name; call :meth:`update` as often as you like."""

    def __init__(self) -> None:
        self.peaks: dict[str, int] = {}

    def update(self, machine: Machine) -> None:
        """Record the devices' current ``inuse_pages``."""
        for si in _swap_infos(machine):
            if si.inuse_pages > self.peaks.get(si.name, 0):
                self.peaks[si.name] = int(si.inuse_pages)


def device_records(machine: Machine, *, kinds: Sequence[str] | None = None,
                   peaks: Mapping[str, int] | None = None,
                   io: Mapping[str, Mapping[str, int]] | None = None) -> list[dict[str, Any]]:
    """The ``devices`` list of a result, in ``/proc/swaps`` order.

    Each record: ``name``, ``type`` (the ``/proc/swaps`` Type: ``file`` or ``partition``),
    ``kind`` (the device kind, ``kinds[i]`` for swap type ``i``, else ``""``),
    ``size_pages`` (usable slots), ``used_pages``, ``peak_used_pages`` (the larger of
    ``peaks[name]`` and the current use), ``prio``, and the runner's I/O counts
    ``io[name]`` merged in.
    """
    out = []
    for si in _swap_infos(machine):
        rec: dict[str, Any] = {
            "name": si.name, "type": si.kind,
            "kind": kinds[si.type] if kinds is not None and si.type < len(kinds) else "",
            "size_pages": int(si.pages), "used_pages": int(si.inuse_pages),
            "peak_used_pages": max(int(si.inuse_pages), int((peaks or {}).get(si.name, 0))),
            "prio": int(si.prio)}
        rec.update((io or {}).get(si.name, {}))
        out.append(rec)
    return out


def lock_record(stats: LockStatistics | Mapping[str, int]) -> dict[str, int]:
    """One lock class in the result's spelling (``acquisitions``, ``contentions``,
    ``wait_ns``, ``max_wait_ns``, ``hold_ns``, plus ``instances`` if known) from a
    :class:`vswap.sim.locks.LockStatistics` or a dict already in that spelling."""
    if isinstance(stats, Mapping):
        return {k: int(v) for k, v in stats.items()}
    return {"acquisitions": stats.acquisitions, "contentions": stats.contentions,
            "wait_ns": stats.wait_total_ns, "max_wait_ns": stats.wait_max_ns,
            "hold_ns": stats.hold_total_ns, "instances": stats.instances}


def result_from_machine(machine: Machine, design: str, workload: str, seed: int, *,
                        config: RunConfig | None = None,
                        configuration: Mapping[str, Any] | None = None,
                        metrics: RunMetrics | None = None,
                        locks: Mapping[str, LockStatistics | Mapping[str, int]] | None = None,
                        swapoff: Mapping[str, float] | None = None,
                        timeline: Sequence[Mapping[str, int]] | None = None,
                        device_peaks: DevicePeaks | Mapping[str, int] | None = None,
                        device_io: Mapping[str, Mapping[str, int]] | None = None,
                        data_loss: int = 0,
                        rfc: Mapping[str, float] | None = None,
                        rfc_source: str = "") -> RunResult:
    """A :class:`RunResult` for ``design`` running ``workload`` on ``machine``, now.

    Reads from the machine: ``vmstat`` (``/proc/vmstat``), ``meminfo``, every cgroup's files
    (``Machine.cgroup_files``, root included), the devices (:func:`device_records`; the
    device kinds come from ``config.devices`` in swapon order), the design's
    ``metadata_bytes()`` and the oracle's verified-page count. ``configuration`` defaults to
    ``config.to_dict()``. Everything else is what the runner measured and passes in; absent
    means empty.
    """
    peaks = device_peaks.peaks if isinstance(device_peaks, DevicePeaks) else device_peaks
    kinds = [d.kind for d in config.devices] if config is not None else None
    conf: dict[str, Any] = dict(configuration) if configuration is not None else (
        config.to_dict() if config is not None else {})
    oracle = machine.oracle
    return RunResult(
        design=design, workload=workload, seed=seed, configuration=conf,
        metrics=metrics if metrics is not None else RunMetrics(),
        vmstat=machine.vmstat_dict(), meminfo=machine.meminfo(),
        cgroups={m.path: machine.cgroup_files(m.path) for m in machine.memcgs},
        devices=device_records(machine, kinds=kinds, peaks=peaks, io=device_io),
        metadata_bytes={k: int(v) for k, v in machine.design.metadata_bytes().items()},
        verified_pages=int(oracle.stats.checked), data_loss=data_loss,
        verify=bool(oracle.enabled),
        locks={name: lock_record(s) for name, s in (locks or {}).items()},
        swapoff={k: v for k, v in (swapoff or {}).items()},
        timeline=[dict(s) for s in (timeline or [])],
        rfc={k: float(v) for k, v in (rfc or {}).items()}, rfc_source=rfc_source)


def zswap_counters(machine: Machine) -> dict[str, int]:
    """zswap's debugfs counters by their kernel names (``/sys/kernel/debug/zswap/``), or an
    empty dict for a machine without zswap."""
    if machine.zswap is None:
        return {}
    return {k: int(v) for k, v in machine.zswap.statistics().as_dict().items()}


def run_zswap(run: Any) -> dict[str, int]:
    """A result's zswap debugfs counters (``kernel_stats["zswap"]`` without the sampled
    ``peak_*`` keys), or an empty dict."""
    zs = (getattr(run, "kernel_stats", None) or {}).get("zswap") or {}
    return {k: int(v) for k, v in zs.items() if not k.startswith("peak_")}


def swapped_pages(sample: Mapping[str, int]) -> int:
    """Pages swapped out in a ``timeline`` sample: in zswap, the zero map or on a device."""
    return int(sample.get("zswap_pages", 0) + sample.get("zero_pages", 0)
               + sample.get("device_pages", 0))


class PeakViews:
    """The kernel views at the moment the most pages were swapped out (ties: the first;
    with nothing swapped, the moment most memory was resident).

    :meth:`offer` is called at every timeline sample (and wherever a workload marks its own
    peak); it copies the views only when the moment beats the best so far, so a run pays
    for a copy at most once per new maximum. ``names`` maps a device's kernel name to the
    name the result shows (``swapfile0`` for a temporary file).
    """

    def __init__(self, cgroup_paths: Sequence[str], names: Mapping[str, str] | None = None
                 ) -> None:
        self.cgroup_paths = list(cgroup_paths)
        self.names = dict(names or {})
        self.best: tuple[int, int] | None = None
        self.views: dict[str, Any] = {}

    def offer(self, machine: Machine, t_ns: int, sample: Mapping[str, int] | None = None
              ) -> None:
        """Keep the views of ``machine`` now if this moment is a new peak."""
        s = sample if sample is not None else timeline_sample(machine, t_ns)
        key = (swapped_pages(s), int(s.get("resident_pages", 0)))
        if self.best is not None and key <= self.best:
            return
        self.best = key
        self.views = {
            "t_ns": int(t_ns), "swapped_pages": key[0],
            "vmstat": machine.vmstat_dict(), "meminfo": machine.meminfo(),
            "devices": [{"name": self.names.get(si.name, si.name), "type": si.kind,
                         "size_pages": int(si.pages), "used_pages": int(si.inuse_pages),
                         "prio": int(si.prio)} for si in _swap_infos(machine)],
            "cgroups": {p: machine.cgroup_files(p) for p in self.cgroup_paths},
            "zswap": zswap_counters(machine)}


#: memory.stat counters copied into ``cgroup_results`` (per-cgroup swap traffic).
CGROUP_COUNTERS = ("pswpout", "pswpin", "zswpout", "zswpin", "zswpwb", "swpout_zero",
                   "swpin_zero", "zswap_incomp", "pgmajfault")


def cgroup_results(cgroups: Mapping[str, Mapping[str, Any]],
                   workloads: Mapping[str, Mapping[str, Any]],
                   peak: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Per cgroup that ran a workload: what its workloads measured and what the kernel
    charged it (the result's ``cgroup_results``; docs/result-schema.md).

    ``cgroups``: the end-of-run files by path (``RunResult.cgroups``); ``workloads``: path ->
    ``{"workloads": [command, ...], "metrics": {...}}``; ``peak``: :attr:`PeakViews.views`.
    """
    at_peak = (peak or {}).get("cgroups", {})
    out: dict[str, dict[str, Any]] = {}
    for path, info in workloads.items():
        files = cgroups.get(path, {})
        pfiles = at_peak.get(path, {})
        metrics = dict(info.get("metrics", {}))
        stat = files.get("memory.stat", {})
        events = files.get("memory.events", {})
        rec: dict[str, Any] = {
            "workloads": list(info.get("workloads", [])),
            "throughput_kbps": metrics.pop("throughput_kbps", None),
            "free_time_s": metrics.pop("free_time_s", None),
            "oom_kill": int(events.get("oom_kill", 0)),
            "memory_peak_bytes": files.get("memory.peak"),
            "swap_peak_bytes": files.get("memory.swap.peak"),
            "memory_current_at_peak_bytes": pfiles.get("memory.current"),
            "swap_current_at_peak_bytes": pfiles.get("memory.swap.current"),
            "zswap_current_at_peak_bytes": pfiles.get("memory.zswap.current"),
        }
        rec.update({k: int(stat.get(k, 0)) for k in CGROUP_COUNTERS})
        rec["metrics"] = metrics
        out[path] = rec
    return out
