"""The result of one run: the JSON contract between ``vswap run``/``compare``/``bench`` and
``vswap stat``/``plot`` (and any script reading results).

A result file is ``{"format": "vswap-result", "version": RESULT_VERSION, "provenance": {...},
"runs": [...]}`` with one :class:`RunResult` per design. Readers refuse another ``format`` or
``version`` with a one-line error naming the file (:func:`load_results`); ``provenance``
(:func:`run_provenance`: whether the mypyc-compiled model ran, the Python version) is for
people and is not read back.

Field meanings (units in the names where not obvious):

* ``design``, ``workload`` (the workload's own command line), ``configuration`` (machine,
  devices, zswap, cgroups, CPUs, scale: whatever the run was given, as plain JSON), ``seed``.
* ``metrics``: :class:`RunMetrics` — what the RFC reports: ``real_s`` (makespan), ``user_s``,
  ``sys_s`` (kernel time including spinning), ``throughput_kbps`` (usemem's KB/s),
  ``free_time_s`` (time to free memory at exit), plus the model's own counts.
* ``vmstat``: ``/proc/vmstat`` counters by kernel name; ``meminfo``: ``/proc/meminfo`` in kB.
* ``cgroups``: per cgroup path, its files (``memory.current`` ..., ``memory.stat`` as a dict).
* ``devices``: per device ``name``, ``kind``, ``size_pages``, ``used_pages``,
  ``peak_used_pages``, ``prio``, I/O counts.
* ``metadata_bytes``: swap metadata by structure (the design's ``metadata_bytes()``).
* ``verified_pages``, ``data_loss`` (pages that read back wrong; must be 0), ``verify``
  (whether verification was on).
* ``locks``: per lock class: ``acquisitions``, ``contentions``, ``wait_ns``, ``max_wait_ns``,
  ``hold_ns``.
* ``swapoff``: for swapoff runs: ``ptes_visited`` (``swapoff_ptes_visited``), ``pages_read``,
  ``real_s``, ``sys_s``.
* ``timeline``: samples over virtual time for plots: a list of
  ``{"t_ns", "resident_pages", "swapcache_pages", "zswap_pool_bytes", "zswap_pages",
  "zero_pages", "device_pages", "device_slots"}``: each page counted once where its data is
  (``device_pages``: data on a device); ``device_slots`` is the slots in use, which under the
  classic design includes the slots zswap and zero pages hold.
* ``rfc`` (optional, may be empty): the RFC's published numbers for this design and
  workload, keyed like ``metrics`` (``real_s``, ``user_s``, ``sys_s``, ``throughput_kbps``,
  ``free_time_s``), for ``vswap plot``'s RFC-vs-model bars; ``rfc_source`` says where they
  come from.
* ``report``: the workload's own output lines (usemem's ``N bytes / U usecs = T KB/s``, ...);
  ``workload_metrics``: the workload's further numbers (per-process throughputs, free times,
  bogo ops); ``kernel_steps``: how often each costed kernel step ran (the timed run's
  tracer); ``tasks_killed``: tasks the model's kernel killed (OOM, SIGBUS).
* ``kernel_stats`` (optional, may be empty): the kernel's other statistics files by name:
  ``zswap`` (zswap's debugfs counters with their file names, ``pool_limit_hit``,
  ``reject_compress_poor``, ``written_back_pages``, ... at the end, plus
  ``peak_pool_total_size`` and ``peak_stored_pages``; model and host runs alike),
  ``zram0``... (``mm_stat`` and ``io_stat`` with the field names of
  Documentation/admin-guide/blockdev/zram.rst, and for host runs the block ``stat``),
  ``kswapd`` (host runs: ``utime_s``, ``stime_s``, ``run_s`` of the kswapd threads), and for
  host runs ``host`` (kernel version, cgroup version, sampler settings, counter sources).
* ``costs``: where the cost table came from (``vswap.config.costs.CostProvenance``:
  ``method`` ``default``, ``calibrated``, ``measured`` or ``manual``, the file, its sha256,
  the kernel and host it was measured on, the entries it set); empty in results written
  before cost files, which always used the default table.
* ``cgroup_results``: per cgroup that ran a workload: its command lines, ``throughput_kbps``
  and ``free_time_s`` (usemem), ``oom_kill`` (``memory.events``: OOM kills of tasks in it),
  swap and zswap charges (``memory.swap.peak``, and ``memory.swap.current`` /
  ``memory.zswap.current`` / ``memory.current`` at the peak), the swap counters of its
  ``memory.stat``, and the workload's own metrics.
* ``peak``: the kernel views at the moment the most pages were swapped out (``t_ns``,
  ``vmstat``, ``meminfo``, ``devices`` with ``used_pages``, ``cgroups``, ``zswap``: the
  debugfs counters then), for
  ``vswap stat --at peak``; the top-level views are the ones at the end.
* ``metrics`` also holds ``spin_s`` (the part of ``sys_s`` spent spinning on contended
  locks), ``idle_s`` and ``page_events_per_wall_s`` (the model's own speed).
"""

from __future__ import annotations

import json
import sys
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vswap._mypyc import compiled_modules
from vswap.errors import ConfigError
from vswap.fileio import read_input_text, write_atomic

RESULT_FORMAT = "vswap-result"
RESULT_VERSION = 1


@dataclass
class RunMetrics:
    """The run's times and throughput, in the RFC's terms (seconds of virtual time)."""

    real_s: float = 0.0
    user_s: float = 0.0
    sys_s: float = 0.0
    throughput_kbps: float = 0.0
    free_time_s: float = 0.0
    page_events: int = 0
    wall_s: float = 0.0
    spin_s: float = 0.0
    idle_s: float = 0.0
    page_events_per_wall_s: float = 0.0


@dataclass
class RunResult:
    """One design's run of one workload. See the module docstring for every field."""

    design: str
    workload: str
    seed: int
    configuration: dict[str, Any] = field(default_factory=dict)
    metrics: RunMetrics = field(default_factory=RunMetrics)
    vmstat: dict[str, int] = field(default_factory=dict)
    meminfo: dict[str, int] = field(default_factory=dict)
    cgroups: dict[str, dict[str, Any]] = field(default_factory=dict)
    devices: list[dict[str, Any]] = field(default_factory=list)
    metadata_bytes: dict[str, int] = field(default_factory=dict)
    verified_pages: int = 0
    data_loss: int = 0
    verify: bool = True
    locks: dict[str, dict[str, int]] = field(default_factory=dict)
    swapoff: dict[str, float | bool] = field(default_factory=dict)
    timeline: list[dict[str, int]] = field(default_factory=list)
    rfc: dict[str, float] = field(default_factory=dict)
    rfc_source: str = ""
    report: list[str] = field(default_factory=list)
    workload_metrics: dict[str, Any] = field(default_factory=dict)
    kernel_steps: dict[str, int] = field(default_factory=dict)
    tasks_killed: int = 0
    kernel_stats: dict[str, Any] = field(default_factory=dict)
    costs: dict[str, Any] = field(default_factory=dict)
    cgroup_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    peak: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "result") -> RunResult:
        """Build from :meth:`to_dict` output; ConfigError naming ``source`` and the key."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{source}: unknown result key {sorted(unknown)[0]!r}")
        for key in ("design", "workload", "seed"):
            if key not in data:
                raise ConfigError(f"{source}: result lacks {key!r}")
        values = dict(data)
        metrics = values.pop("metrics", {})
        if not isinstance(metrics, dict):
            raise ConfigError(f"{source}: 'metrics' must be an object")
        unknown = set(metrics) - set(RunMetrics.__dataclass_fields__)
        if unknown:
            raise ConfigError(f"{source}: metrics: unknown key {sorted(unknown)[0]!r}")
        for key, value in metrics.items():
            _check_type(value, _METRIC_TYPES[key], f"{source}: metrics.{key}")
        for key, value in values.items():
            _check_type(value, _FIELD_TYPES[key], f"{source}: {key}")
        _check_views(values, f"{source}: ")
        if isinstance(values.get("peak"), dict):
            _check_views(values["peak"], f"{source}: peak.")
        return cls(metrics=RunMetrics(**metrics), **values)


def _json_kind(value: object) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value),
                                                                       type(value).__name__)


def _check_type(value: object, tp: Any, where: str) -> None:
    """Refuse ``value`` unless it is JSON of the annotated type ``tp`` (``int``, ``float``,
    ``str``, ``bool``, ``Any``, ``dict[str, T]``, ``list[T]``), checked all the way down,
    so that no reader of a result meets a string where it adds numbers."""
    if tp is Any:
        return
    origin = typing.get_origin(tp)
    if origin is types.UnionType:
        errors = []
        for arm in typing.get_args(tp):
            try:
                _check_type(value, arm, where)
                return
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected an object, got {_json_kind(value)}")
        _, vt = typing.get_args(tp)
        for k, v in value.items():
            _check_type(v, vt, f"{where}.{k}")
        return
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected an array, got {_json_kind(value)}")
        (vt,) = typing.get_args(tp)
        for i, v in enumerate(value):
            _check_type(v, vt, f"{where}[{i}]")
        return
    ok = {int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
          str: lambda v: isinstance(v, str),
          bool: lambda v: isinstance(v, bool)}[tp](value)
    if not ok:
        want = {int: "a whole number", float: "a number", str: "a string",
                bool: "true or false"}[tp]
        raise ConfigError(f"{where}: expected {want}, got {_json_kind(value)}")


def _check_views(values: dict[str, Any], where: str) -> None:
    """The parts of the untyped fields the views and tables read: cgroups' ``memory.stat``,
    devices' page counts, zswap's counters (at the end, and at the peak)."""
    for key, tp in (("vmstat", dict[str, int]), ("meminfo", dict[str, int]),
                    ("devices", list[dict[str, Any]]), ("cgroups", dict[str, dict[str, Any]]),
                    ("zswap", dict[str, float]), ("kernel_stats", dict[str, Any])):
        if key in values:
            _check_type(values[key], tp, f"{where}{key}")
    for path, files in values.get("cgroups", {}).items():
        stat = files.get("memory.stat")
        if stat is not None:
            _check_type(stat, dict[str, float], f"{where}cgroups.{path}.memory.stat")
    for i, dev in enumerate(values.get("devices", [])):
        for key in ("size_pages", "used_pages", "peak_used_pages"):
            if key in dev:
                _check_type(dev[key], int, f"{where}devices[{i}].{key}")
        if "name" in dev:
            _check_type(dev["name"], str, f"{where}devices[{i}].name")
    zswap = values.get("kernel_stats", {}).get("zswap")
    if zswap is not None:
        _check_type(zswap, dict[str, float], f"{where}kernel_stats.zswap")


_FIELD_TYPES = typing.get_type_hints(RunResult)
_METRIC_TYPES = typing.get_type_hints(RunMetrics)


def run_provenance() -> dict[str, Any]:
    """How the model ran: ``compiled`` (whether its hot modules were the mypyc-compiled ones,
    ``python -m vswap.compile``; the results are the same either way), ``compiled_modules``
    (how many), ``python``."""
    mods = compiled_modules()
    return {"compiled": bool(mods), "compiled_modules": len(mods),
            "python": sys.version.split()[0]}


def save_results(path: str | Path, runs: list[RunResult], *, what: str = "--json") -> Path:
    """Write ``runs`` as a result file, atomically (:func:`vswap.fileio.write_atomic`): a
    failed write leaves ``path`` as it was and says where the result could not go."""
    text = json.dumps({"format": RESULT_FORMAT, "version": RESULT_VERSION,
                       "provenance": run_provenance(),
                       "runs": [r.to_dict() for r in runs]}, indent=1)
    return write_atomic(path, text, what=what)


def load_results(path: str | Path) -> list[RunResult]:
    """Read a result file; ConfigError (one line, naming the file) if it is not one: not a
    regular file, too large, not JSON, nested too deeply, or holding a value of the wrong
    type anywhere a reader looks."""
    p = Path(path)
    text = read_input_text(p, what="result file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"{p}: not a vswap result file (not JSON)") from None
    except RecursionError:
        raise ConfigError(f"{p}: not a vswap result file (JSON nested too deeply)") from None
    if not isinstance(data, dict) or data.get("format") != RESULT_FORMAT:
        raise ConfigError(f"{p}: not a vswap result file")
    if data.get("version") != RESULT_VERSION:
        raise ConfigError(f"{p}: result version {data.get('version')!r}, this vswap reads "
                          f"version {RESULT_VERSION}")
    runs = data.get("runs")
    if not isinstance(runs, list) or not runs:
        raise ConfigError(f"{p}: no runs in result file")
    for i, r in enumerate(runs):
        if not isinstance(r, dict):
            raise ConfigError(f"{p}: runs[{i}]: expected an object, got {_json_kind(r)}")
    return [RunResult.from_dict(r, source=f"{p}: runs[{i}]") for i, r in enumerate(runs)]
