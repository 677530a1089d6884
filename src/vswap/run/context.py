"""One timed run: a machine, an engine with N CPUs, locks, device queues, and a workload.

Models: a test box running one benchmark (the RFC's usemem, kernel build or swapoff) under
one swap design: ``Machine`` (RAM, the design, zswap, swap devices, the workload's cgroup),
:class:`~vswap.sim.cpus.CpuSet` (``--cpus``), a :class:`~vswap.sim.locks.LockTable` whose
spinlock instances are the ones the design names, one
:class:`~vswap.sim.ioqueue.IoQueue` per swap device. :func:`run_workload` builds it, lets the
workload spawn its tasks, runs the engine to the end and returns a
:class:`~vswap.report.result.RunResult`.

Workload task bodies are generators ``body(task)`` that use the context:

* ``result = yield ctx.op(task, machine_fn, *args)`` (or ``yield from``): a kernel
  operation (a page write, mmap, munmap, madvise, fork, exit, swapoff): executed on the
  machine at once, then charged in virtual time (:mod:`vswap.run.charge`);
* ``yield ctx.user(task, ns)``: user-mode work;
* ``yield task.sleep(ns)``; ``yield from barrier.wait(task)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import tempfile
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vswap.config.costs import default_provenance
from vswap.errors import ConfigError
from vswap.kernel.pagedata import SIZE_CACHE_ENTRIES
from vswap.kernel.tracing import NULL_TRACER, KernelTracer
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import Machine, MachineConfig
from vswap.mm.mm_types import TaskKilled
from vswap.report.collect import PeakViews, cgroup_results, timeline_sample
from vswap.report.result import RunMetrics, RunResult
from vswap.run.charge import Charger, StepRecorder
from vswap.sim.costs import DEFAULT_COSTS, CostTable
from vswap.sim.cpus import CpuSet
from vswap.sim.cpus import Task as CpuTask
from vswap.sim.device_kinds import DeviceKind, get_device_kind
from vswap.sim.engine import Engine, Event, ProcessGenerator
from vswap.sim.locks import LockTable
from vswap.swap.zram import ZRAM_WB_BATCH_SIZE, ZramStorage
from vswap.units import format_size, parse_size

if TYPE_CHECKING:
    from vswap.workloads import Workload

__all__ = ["Barrier", "DeviceSpec", "RunConfig", "RunContext", "parse_device_spec",
           "run_workload"]

#: The cgroup every workload runs in (``--memory-max`` applies to it).
WORKLOAD_CGROUP = "/bench"
#: The cyclic garbage collector's allocation threshold while a run goes (CPython's default:
#: 700). A timed run allocates and drops millions of objects (events, steps, folios) but
#: makes little cyclic garbage, and each collection pass walks objects that live for the
#: whole run (the pages): at the default the passes cost about 10% of a compiled run's CPU.
#: Nothing the model computes depends on when the collector runs. Full page data only: with
#: the threshold raised, cyclic garbage waits longer and a compact run's peak memory grew by
#: about 25 B per swapped entry (vswap 121 -> 149 B, 32M-256M; issue 12's bar is 64 B
#: beyond the kernel's 72), where a full run's 4 KiB pages dwarf it (docs/performance.md).
GC_THRESHOLD = 20_000


@contextlib.contextmanager
def fewer_gc_passes(page_data: str = "full") -> Iterator[None]:
    """Raise the collector's first threshold to :data:`GC_THRESHOLD` for the block, for a
    run with ``page_data`` "full" (compact runs keep CPython's threshold)."""
    if page_data != "full":
        yield
        return
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], GC_THRESHOLD), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


#: Host bytes the model spends per page it holds, beyond the 4 KiB of data: the Folio, its
#: rmap and LRU entries, the PTE and the oracle (docs/mm.md, results/bench_mm.json: ~500 B
#: resident, ~170-350 B swapped), rounded up.
MODEL_BYTES_PER_PAGE = PAGE_SIZE + 1024
#: The same in compact mode, where a page's data is a descriptor: the largest measured slope
#: of the model's peak RSS on the pages a workload touches (``bench rfc --page-data compact``
#: at 1/16 and 1/8, compiled, max over the four RFC designs: usemem 390 B, swapoff about
#: 750 B), rounded up.
MODEL_BYTES_PER_PAGE_COMPACT = 800


@dataclass(frozen=True)
class DeviceSpec:
    """A swap device to create: ``backing`` "file" (a real swap file made by mkswap in a
    temporary directory), "mem" (an in-memory swap area, ``SWP_SYNCHRONOUS_IO``) or "zram"
    (the zram block device model, :mod:`vswap.swap.zram`), its size, the device kind whose
    latency and bandwidth its I/O queue gets, and zram's options (``comp``, ...) as sorted
    ``(name, value)`` pairs."""

    backing: str
    size: int
    kind: str
    options: tuple[tuple[str, str], ...] = ()

    def option(self, name: str, default: str = "") -> str:
        """The value of option ``name`` (zram's ``comp`` defaults to lz4)."""
        for k, v in self.options:
            if k == name:
                return v
        if name == "comp" and self.backing == "zram":
            return ZRAM_DEFAULT_COMP
        return default

    def text(self) -> str:
        opts = "".join(f",{k}={v}" for k, v in self.options)
        if self.backing == "zram":
            return f"zram:{format_size(self.size)}{opts}"
        return f"{self.backing}:{format_size(self.size)}:{self.kind}{opts}"


#: zram's compressor when ``comp=`` is not given. The kernel's ``CONFIG_ZRAM_DEF_COMP`` is
#: usually lzo-rle, whose bitstream no installable library computes (vswap.zswap.compressors),
#: so runs name lz4 explicitly, and host runs write it to ``comp_algorithm`` too.
ZRAM_DEFAULT_COMP = "lz4"
#: zram options a ``zram:`` spec may give (the kernel's sysfs names; docs/zram.md).
ZRAM_OPTIONS = ("comp", "backing_dev", "backing_kind", "writeback_batch_size",
                "writeback_compressed", "mem_limit")


def _parse_zram_spec(text: str) -> DeviceSpec:
    """``zram:SIZE[,comp=ALGO][,backing_dev=SIZE][,writeback=...]...``."""
    head, *opts = text.strip()[5:].split(",")
    size = parse_size(head, what="--swap-device zram size")
    if size < 64 * PAGE_SIZE:
        raise ConfigError(f"--swap-device: {text!r} is smaller than 256K")
    options: dict[str, str] = {}
    for opt in opts:
        key, sep, value = opt.partition("=")
        key = key.strip()
        if not sep or key not in ZRAM_OPTIONS or not value.strip():
            raise ConfigError(f"--swap-device: {text!r}: zram options are "
                              f"{', '.join(o + '=...' for o in ZRAM_OPTIONS)}")
        options[key] = value.strip()
    return DeviceSpec("zram", size - size % PAGE_SIZE, "zram", tuple(sorted(options.items())))


def zram_storage(spec: DeviceSpec, index: int,
                 tracer: KernelTracer = NULL_TRACER) -> ZramStorage:
    """The zram device model of a ``zram:`` spec, named ``/dev/zram<index>``.

    Raises:
        ConfigError: a bad option value.
    """
    def size_opt(name: str) -> int:
        text = spec.option(name, "0")
        return 0 if text in ("0", "none") else parse_size(text, what=f"zram {name}")

    batch = spec.option("writeback_batch_size", str(ZRAM_WB_BATCH_SIZE))
    if not batch.isdigit():
        raise ConfigError(f"zram writeback_batch_size {batch!r}: not a number")
    wbc = spec.option("writeback_compressed", "0")
    if wbc not in ("0", "1", "Y", "N", "y", "n"):
        raise ConfigError(f"zram writeback_compressed {wbc!r}: 0 or 1")
    return ZramStorage(spec.size, comp=spec.option("comp"), name=f"/dev/zram{index}",
                       label=f"vswap{index}", mem_limit=size_opt("mem_limit"),
                       backing_dev=size_opt("backing_dev") // PAGE_SIZE * PAGE_SIZE,
                       writeback_compressed=wbc in ("1", "Y", "y"),
                       writeback_batch_size=int(batch), tracer=tracer)


def parse_device_spec(text: str) -> DeviceSpec | None:
    """``file:1G``, ``mem:512M``, ``file:32G:ssd`` (kind: a device kind; default nvme for
    files, zram for memory), ``file:1G,rotational=1`` (a swap file on a disk that reports
    itself rotational, as a VM's virtio disk may: ``SWP_SOLIDSTATE`` unset, so no VMA
    readahead while it is on), ``zram:1G[,comp=lz4]`` (the zram device model); ``none``
    gives None.

    Raises:
        ConfigError: a malformed spec, an unknown kind or option, or a bad size.
    """
    t = text.strip()
    if t.lower() == "none":
        return None
    if t.startswith("zram:"):
        return _parse_zram_spec(t)
    t, *opts = t.split(",")
    options: list[tuple[str, str]] = []
    for o in opts:
        k, eq, v = o.partition("=")
        if k != "rotational" or v not in ("0", "1") or not eq:
            raise ConfigError(f"--swap-device: {text!r}: a file or mem device takes only "
                              "rotational=0|1")
        options.append((k, v))
    parts = t.split(":")
    if len(parts) not in (2, 3) or parts[0] not in ("file", "mem"):
        raise ConfigError(f"--swap-device: {text!r} is not file:SIZE[:KIND], mem:SIZE[:KIND], "
                          "zram:SIZE[,comp=ALGO] or none")
    size = parse_size(parts[1], what="--swap-device size")
    if size < 64 * PAGE_SIZE:
        raise ConfigError(f"--swap-device: {text!r} is smaller than 256K")
    kind = parts[2] if len(parts) == 3 else ("nvme" if parts[0] == "file" else "zram")
    try:
        dk = get_device_kind(kind)
    except (KeyError, ConfigError):
        raise ConfigError(f"--swap-device: unknown device kind {kind!r}") from None
    return DeviceSpec(parts[0], size - size % PAGE_SIZE, dk.name, tuple(options))


#: How compact mode sizes compressed pages (the result's ``configuration.page_data_sizes``).
COMPACT_SIZES = (f"exact: the real compressor on each page's bytes rebuilt from its descriptor, "
                 f"cached for {SIZE_CACHE_ENTRIES} contents")


@dataclass(kw_only=True)
class RunConfig:
    """Everything a run is given (recorded as the result's ``configuration``)."""

    design: str = "classic"
    workload: str = "usemem -n 4 -O 64M"
    memory_max: int | None = None
    ram: int | None = None
    swap_devices: list[DeviceSpec] = field(
        default_factory=lambda: [DeviceSpec("file", 1 << 30, "nvme")])
    zswap: str | None = None
    #: Further zswap module parameters (``shrinker_enabled``, ``max_pool_percent``, ...).
    zswap_params: dict[str, Any] = field(default_factory=dict)
    cpus: int = 4
    seed: int = 1
    verify: bool = True
    design_options: dict[str, Any] = field(default_factory=dict)
    costs: CostTable = DEFAULT_COSTS
    #: Free-form labels recorded with the run (bench table, scale).
    labels: dict[str, Any] = field(default_factory=dict)
    #: Samples in the result's timeline (about; 0: none).
    timeline_samples: int = 64
    #: Called with (done, total work units, modelled ns, page events) as the run progresses
    #: (None: silent); vswap.report.progress.
    progress: Callable[[int, int, int, int], None] | None = None
    #: Where ``costs`` came from (vswap.config.costs.CostProvenance.as_json(); empty: the
    #: default table), recorded as the result's ``costs``.
    cost_provenance: dict[str, Any] = field(default_factory=dict)
    #: A configuration file (:class:`vswap.config.RunConfig`): when set, the machine,
    #: devices, zswap and cgroups come from it (``memory_max``, ``ram``, ``swap_devices``,
    #: ``zswap`` are unused) and ``workloads`` lists (cgroup, command) pairs to run at once.
    config_file: Any = None
    workloads: list[tuple[str, str]] = field(default_factory=list)
    #: The tracer that prices the run (``TallyingRecorder`` when calibrating); not recorded.
    recorder_class: type[StepRecorder] = StepRecorder
    #: ``--reclaim``: the kernel's LRU (``linux``) or an idealised policy (vswap.mm.vmscan).
    reclaim: str = "linux"
    #: ``--page-data``: pages hold their bytes (``full``) or an 8-byte descriptor
    #: (``compact``, vswap.kernel.pagedata); recorded only when compact.
    page_data: str = "full"
    #: ``--cgroup-version``: the memory controller's hierarchy, 2 or 1 (zswap not charged
    #: to cgroups, as on a v1 host; vswap.kernel.memcontrol); recorded only when 1.
    cgroup_version: int = 2

    def machine_ram(self, footprint: int) -> int:
        """RAM of the machine: ``ram`` if given, else room for the cgroup's limit (or the
        workload) plus headroom, so reclaim is the cgroup's, not global (as on the RFC's
        hosts, whose RAM exceeded memory.max)."""
        if self.ram is not None:
            return self.ram
        base = self.memory_max if self.memory_max is not None else footprint
        ram = 2 * base + (64 << 20)
        return ram - ram % PAGE_SIZE

    def as_json(self) -> dict[str, Any]:
        if self.config_file is not None:
            return {"design": self.design, "workload": self.workload,
                    "config_file": self.config_file.to_dict(), "cpus": self.cpus,
                    "seed": self.seed, "verify": self.verify,
                    "cost_table": self.costs.calibration_file or "default",
                    **self._cgroup_json(), **self._page_data_json(), **self.labels}
        return {"design": self.design, "workload": self.workload,
                "memory_max": self.memory_max, "ram": self.ram,
                "swap_devices": [d.text() for d in self.swap_devices],
                "zswap": self.zswap or "off", "zswap_params": dict(self.zswap_params),
                "cpus": self.cpus, "seed": self.seed,
                "verify": self.verify, "design_options": dict(self.design_options),
                "cost_table": self.costs.calibration_file or "default",
                **({"reclaim": self.reclaim} if self.reclaim != "linux" else {}),
                **self._cgroup_json(), **self._page_data_json(), **self.labels}

    def _cgroup_json(self) -> dict[str, Any]:
        return {"cgroup_version": self.cgroup_version} if self.cgroup_version != 2 else {}

    def _page_data_json(self) -> dict[str, Any]:
        if self.page_data == "full":
            return {}
        return {"page_data": self.page_data, "page_data_sizes": COMPACT_SIZES}


class Barrier:
    """``n`` tasks meet; the last to arrive releases them all (usemem's ready pipes)."""

    def __init__(self, engine: Engine, n: int) -> None:
        self.n = n
        self.arrived = 0
        self.event = Event(engine)

    def wait(self, task: CpuTask) -> Generator[Event, Any, None]:
        self.arrived += 1
        if self.arrived >= self.n:
            if not self.event.triggered:
                self.event.succeed()
            return
        yield task.block(self.event)


def host_mem_available() -> int | None:
    """``MemAvailable`` of this host in bytes, or None when unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def check_fits(workload: Workload, config: RunConfig, *, parallel: int = 1) -> int:
    """Estimate the host memory a run needs; refuse up front if it would not fit.

    Returns the estimate in bytes.

    Raises:
        ConfigError: the estimate (times ``parallel`` runs at once) exceeds 80% of the
            host's available memory.
    """
    pages = -(-workload.footprint_bytes() // PAGE_SIZE)
    per_page = MODEL_BYTES_PER_PAGE if config.page_data == "full" \
        else MODEL_BYTES_PER_PAGE_COMPACT
    est = pages * per_page + (64 << 20)
    avail = host_mem_available()
    if avail is not None and est * parallel > avail * 0.8:
        raise ConfigError(
            f"{workload.command!r} would need about {format_size_h(est * parallel)} of host "
            f"memory for the model ({pages} pages x ~{per_page} B"
            f"{f' x {parallel} runs' if parallel > 1 else ''}), but only "
            f"{format_size_h(avail)} is available: use a smaller size or --scale"
            f"{' (or --page-data compact)' if config.page_data == 'full' else ''}")
    return est


def format_size_h(n: float) -> str:
    for unit, mult in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n >= mult:
            return f"{n / mult:.1f}{unit}"
    return f"{int(n)}B"


class RunContext:
    """The machine, engine and accounting of one run (see the module docstring)."""

    def __init__(self, config: RunConfig, workload: Workload, tmpdir: str) -> None:
        self.config = config
        self.workload = workload
        costs = config.costs
        self.engine = Engine(seed=config.seed)
        self.rng = self.engine.rng
        self.cpus = CpuSet(self.engine, config.cpus)
        self.locks = LockTable(self.engine, handoff_ns=costs.spin_handoff)
        self.queues: dict[str, Any] = {}
        self.kinds: dict[str, DeviceKind] = {}
        self.device_records: dict[str, dict[str, Any]] = {}
        self._storages: list[Any] = []
        # The recorder is the machine's tracer from the start; it learns each device's
        # kind as the devices are swapped on (``self.kinds``).
        self.recorder = config.recorder_class(costs, self.kinds)
        if config.config_file is not None:
            from vswap.config import build_machine

            cf = config.config_file
            if cf.page_data != config.page_data:
                cf = dataclasses.replace(cf, page_data=config.page_data)
            self.machine = build_machine(cf, config.design, workdir=tmpdir,
                                         tracer=self.recorder,
                                         cgroup_version=config.cgroup_version)
            for i, si in enumerate(list(self.machine.design.devices.devices())):
                dev = cf.devices[i]
                self._storages.append(si.storage)
                self._add_queue(si, get_device_kind(dev.kind), dev.type,
                                dev.path or f"swapfile{i}")
        else:
            footprint = workload.footprint_bytes()
            zswap_params = ({"compressor": config.zswap} | dict(config.zswap_params)
                            if config.zswap else {})
            self.machine = Machine(MachineConfig(
                ram=config.machine_ram(footprint), design=config.design,
                design_options=dict(config.design_options), zswap=config.zswap is not None,
                zswap_params=zswap_params, verify=config.verify, nr_cpus=config.cpus,
                page_data=config.page_data, cgroup_version=config.cgroup_version),
                tracer=self.recorder)
            for i, spec in enumerate(config.swap_devices):
                self._swapon(spec, i, tmpdir)
        m = self.machine
        m.set_reclaim_policy(config.reclaim)
        # Building the machine and swapping its devices on is set-up, not the workload's
        # time: nothing recorded so far is charged.
        self.recorder.forget()
        self.charger = Charger(self.engine, self.locks, self.queues, self.recorder.keys)
        if config.config_file is not None:
            self.cgroup = config.workloads[0][0]
        else:
            m.create_cgroup(WORKLOAD_CGROUP)
            if config.memory_max is not None:
                m.cgroup_write(WORKLOAD_CGROUP, "memory.max", str(config.memory_max))
            self.cgroup = WORKLOAD_CGROUP
        #: usemem-style output lines of the workload.
        self.report_lines: list[str] = []
        #: Workload metrics (throughput_kbps, free_time_s, ...), filled by the workload.
        self.metrics: dict[str, Any] = {}
        self.swapoff: dict[str, float] = {}
        self.data_loss = 0
        self.verified_pages = 0
        self.killed = 0
        self.metadata_snapshot: dict[str, int] | None = None
        self.timeline: list[dict[str, int]] = []
        self._next_sample = 0
        self._sample_every = 0
        self._ops = 0
        self.progress_total = max(workload.progress_total(), 1)
        self.progress_done = 0
        #: Peaks a host run samples: zswap's pool and pages, each zram's mm_stat sizes.
        self.peak: dict[str, int] = {"zswap_pool": 0, "zswap_pages": 0}
        self._zrams = [s for s in self._storages if isinstance(s, ZramStorage)]
        self._progress_next = 0
        #: Per cgroup that runs a workload: its command lines and the workload's metrics
        #: (the result's ``cgroup_results``).
        self.cgroup_workloads: dict[str, dict[str, Any]] = {}
        #: The kernel views at the moment the most pages were swapped out (``stat --at
        #: peak``).
        #: Modelled time the swap tier worker spent in its passes (vswap.run.tierd).
        self.tier_worker_ns = 0
        self.peak_views = PeakViews(_result_cgroups(config, self.cgroup),
                                    {n: r["name"] for n, r in self.device_records.items()})

    # -- setup -----------------------------------------------------------------------------------
    def _swapon(self, spec: DeviceSpec, i: int, tmpdir: str) -> None:
        from vswap.swap.storage import FileSwapStorage, MemSwapStorage
        from vswap.swap.swap_area import mkswap

        if spec.backing == "zram":
            storage: Any = zram_storage(spec, i, self.recorder)
            self._storages.append(storage)
            si = self.machine.swapon(storage)
            self._add_queue(si, get_device_kind("zram"), "zram", storage.name)
            if storage.bd_pages:
                bd = storage.name + ":backing_dev"
                self.kinds[bd] = get_device_kind(spec.option("backing_kind", "nvme"))
                self.queues[bd] = self.kinds[bd].make_queue(self.engine, bd)
            return
        if spec.backing == "file":
            path = Path(tmpdir) / f"swapfile{i}"
            mkswap(path, spec.size, label=f"vswap{i}")
            storage = FileSwapStorage.open(path)
        else:
            storage = MemSwapStorage(spec.size, label=f"vswap{i}")
        self._storages.append(storage)
        kind = get_device_kind(spec.kind)
        # A rotational disk (the hdd kind), or a swap file on one (rotational=1: the host's
        # own swap file, whose disk may report itself rotational as a VM's does).
        si = self.machine.swapon(storage, solidstate=kind.solidstate
                                 and spec.option("rotational", "0") != "1")
        self._add_queue(si, kind, spec.backing, f"swapfile{i}")

    def _add_queue(self, si: Any, kind: DeviceKind, backing: str, file_name: str) -> None:
        """An I/O queue of ``kind`` for device ``si``, and its result record."""
        name = si.name
        self.kinds[name] = kind
        self.queues[name] = kind.make_queue(self.engine, name)
        self.device_records[name] = {
            "name": name if backing == "mem" else file_name, "kind": kind.name,
            "backing": backing, "type": "file" if backing == "file" else "partition",
            "size_pages": int(si.pages), "used_pages": 0,
            "peak_used_pages": 0, "prio": int(si.prio), "_si": si,
            "_queue": self.queues[name]}

    def close(self) -> None:
        from vswap.swap.storage import FileSwapStorage

        for s in self._storages:
            # Best effort at teardown: the temporary directory goes anyway, so a swap file
            # is closed without waiting for its write-back (close_unsynced).
            with contextlib.suppress(OSError):
                if isinstance(s, FileSwapStorage):
                    s.close_unsynced()
                else:
                    s.close()

    # -- what task bodies use ----------------------------------------------------------------------
    def spawn(self, body: Callable[..., ProcessGenerator], *args: Any,
              name: str) -> CpuTask:
        """Start an engine task running ``body(task, *args)``; a task killed by the kernel
        (OOM, SIGBUS) ends quietly and is counted."""
        return self.cpus.spawn(body, *args, name=name, quiet_exit=self._killed)

    def _killed(self, exc: BaseException) -> bool:
        """A task's body raised ``exc``: True (and counted) if the kernel killed the task,
        which then ends as if its body had returned."""
        if isinstance(exc, TaskKilled):
            self.killed += 1
            return True
        return False

    def op(self, task: CpuTask, fn: Callable[..., Any], *args: Any) -> Event:
        """Run kernel operation ``fn(*args)`` on the machine now, then charge its steps:
        ``result = yield ctx.op(task, fn, *args)`` (or ``yield from``).

        The returned event fires, with ``fn``'s result as its value or the kernel's kill
        (:class:`TaskKilled`) as its failure, once the steps are charged; the charge
        starts before this returns, in the same instant (:meth:`Charger.charge`).
        """
        m = self.machine
        cpu = task.cpu
        assert cpu is not None, "a kernel operation runs on a CPU"
        m.env.current_cpu = cpu.id
        try:
            result = fn(*args)
        except TaskKilled as exc:
            ops, vals, tail = self.recorder.take()
            self._after_op()
            return self.charger.charge(task, ops, vals, tail, None, exc)
        ops, vals, tail = self.recorder.take()
        self._after_op()
        return self.charger.charge(task, ops, vals, tail, result)

    def user(self, task: CpuTask, ns: int) -> Event:
        """User-mode work of ``ns``."""
        return task.work(int(ns), "user")

    def barrier(self, n: int) -> Barrier:
        return Barrier(self.engine, n)

    def advance(self, units: int = 1) -> None:
        """The workload did ``units`` of its :meth:`Workload.progress_total`."""
        self.progress_done += units
        cb = self.config.progress
        if cb is not None and self.progress_done >= self._progress_next:
            self._progress_next = self.progress_done + max(self.progress_total // 256, 1)
            cb(self.progress_done, self.progress_total, self.engine.now,
               _page_events(self.machine.vmstat))

    @property
    def seed(self) -> int:
        """The run's seed."""
        return self.config.seed

    def now_us(self) -> int:
        return self.engine.now // 1000

    def mark(self, name: str) -> None:
        """Tell the recorder of a named point of the run, if it has a ``mark`` method."""
        mark = getattr(self.recorder, "mark", None)
        if mark is not None:
            mark(name)

    def snapshot_metadata(self) -> None:
        """Record the design's swap metadata now (a workload calls it at its peak)."""
        self.metadata_snapshot = dict(self.machine.design.metadata_bytes())
        self.peak_views.offer(self.machine, self.engine.now)

    # -- per-operation bookkeeping --------------------------------------------------------------
    def _after_op(self) -> None:
        peak = self.peak
        zswap = self.machine.zswap
        if zswap is not None:
            pool = zswap.pool_total_size
            if pool > peak["zswap_pool"]:
                peak["zswap_pool"] = pool
                peak["zswap_pages"] = max(peak["zswap_pages"], zswap.statistics().stored_pages)
        for z in self._zrams:
            orig = (z.pages_stored - z.same_pages - z.bd_count) * PAGE_SIZE
            for key, v in ((":orig_data_size", orig), (":compr_data_size", z.compr_data_size),
                           (":mem_used_total", z.pool.zs_get_total_pages() * PAGE_SIZE)):
                if v > peak.get(z.name + key, -1):
                    peak[z.name + key] = v
        for rec in self.device_records.values():
            used = rec["_si"].inuse_pages
            rec["used_pages"] = used
            if used > rec["peak_used_pages"]:
                rec["peak_used_pages"] = used
        self._ops += 1
        if self.config.timeline_samples and self.engine.now >= self._next_sample:
            self.sample()

    def sample(self) -> None:
        """Append one timeline sample (and schedule the next)."""
        sample = timeline_sample(self.machine, self.engine.now)
        self.timeline.append(sample)
        self.peak_views.offer(self.machine, self.engine.now, sample)
        if not self._sample_every:
            # Spread samples over the workload's expected length, learnt from the first ops.
            self._sample_every = max(self.workload.expected_ns() //
                                     max(self.config.timeline_samples, 1), 1_000)
        self._next_sample = self.engine.now + self._sample_every


def _result_cgroups(config: RunConfig, workload_cgroup: str) -> list[str]:
    """The cgroups a result records: the root, the workload's, the configuration's and
    every cgroup a configured workload runs in."""
    paths = ["/", workload_cgroup]
    if config.config_file is not None:
        paths += [c.path for c in config.config_file.cgroups]
        paths += [cg for cg, _ in config.workloads]
    return list(dict.fromkeys(paths))


def _page_events(vm: Mapping[str, int]) -> int:
    """Simulated page events: faults, swap-outs (device, zswap, zero) and swap-ins."""
    return sum(vm.get(k, 0) for k in ("pgfault", "pswpout", "zswpout", "swpout_zero",
                                      "pswpin", "zswpin", "swpin_zero"))


def run_workload(config: RunConfig, workload: Workload | None = None) -> RunResult:
    """Run ``config.workload`` under ``config.design`` and return its result.

    Raises:
        ConfigError: bad workload command line, bad configuration, or a run that would not
            fit in host memory.
        DataLossError: a page read back wrong (the machine's oracle).
    """
    from vswap.workloads import parse_workload

    if config.cpus < 1:
        raise ConfigError(f"--cpus must be a positive number, not {config.cpus}")
    if config.config_file is not None:
        return _run_file_workloads(config)
    wl = workload if workload is not None else parse_workload(config.workload)
    if wl.needs_device():
        if not config.swap_devices:
            raise ConfigError(f"workload {wl.name}: needs a swap device (--swap-device)")
        setter = getattr(wl, "set_device_bytes", None)
        if setter is not None:
            setter(config.swap_devices[0].size)
    check_fits(wl, config)
    wall0 = time.perf_counter()
    with fewer_gc_passes(config.page_data), \
            tempfile.TemporaryDirectory(prefix="vswap-run-") as tmp:
        ctx = RunContext(config, wl, tmp)
        try:
            wl.start(ctx)
            ctx.engine.run()
            wl.finish(ctx)
            ctx.cgroup_workloads[ctx.cgroup] = {"workloads": [config.workload],
                                                "metrics": dict(ctx.metrics)}
            ctx.sample()
            result = _build_result(ctx, time.perf_counter() - wall0)
            _check_leaks(ctx)
        finally:
            ctx.close()
    if config.progress is not None:
        config.progress(ctx.progress_total, ctx.progress_total, ctx.engine.now,
                        result.metrics.page_events)
    return result


def _run_file_workloads(config: RunConfig) -> RunResult:
    """A run from a configuration file: every workload in its cgroup, at the same time."""
    from vswap.run.fromconfig import WorkloadView
    from vswap.run.tierd import start_tier_worker
    from vswap.workloads import parse_workload

    cf = config.config_file
    workloads = [(cg, parse_workload(cmd)) for cg, cmd in config.workloads]
    if any(wl.needs_device() for _, wl in workloads) and not cf.devices:
        raise ConfigError(f"{cf.source}: a workload needs a swap device ([[swap]])")
    for _, wl in workloads:
        setter = getattr(wl, "set_device_bytes", None)
        if setter is not None:
            # The device it fills is the first [[swap]], at the configuration's scale.
            setter(cf.scaled(cf.devices[0].size))
    first = workloads[0][1]
    est = sum(check_fits(wl, config) for _, wl in workloads)
    if len(workloads) > 1:
        avail = host_mem_available()
        if avail is not None and est > avail * 0.8:
            raise ConfigError(f"{config.config_file.source}: the workloads would need about "
                              f"{format_size_h(est)} of host memory, only "
                              f"{format_size_h(avail)} is available: lower scale")
    wall0 = time.perf_counter()
    with fewer_gc_passes(config.page_data), \
            tempfile.TemporaryDirectory(prefix="vswap-run-") as tmp:
        ctx = RunContext(config, first, tmp)
        ctx.progress_total = max(sum(wl.progress_total() for _, wl in workloads), 1)
        try:
            for cg, _ in workloads:
                ctx.machine.create_cgroup(cg)  # mkdir -p: a workload's cgroup may be unset
            views = [(WorkloadView(ctx, cg), wl) for cg, wl in workloads]
            for view, wl in views:
                wl.start(view)
            start_tier_worker(ctx)
            ctx.engine.run()
            for i, (view, wl) in enumerate(views):
                wl.finish(view)
                tag = "" if len(views) == 1 else f"[{view.cgroup}] "
                ctx.report_lines.extend(tag + line for line in view.report_lines)
                if i == 0:
                    ctx.metrics.update(view.metrics)
                else:
                    ctx.metrics.update({f"{view.cgroup}:{wl.name}:{k}": v
                                        for k, v in view.metrics.items()})
                rec = ctx.cgroup_workloads.setdefault(view.cgroup,
                                                      {"workloads": [], "metrics": {}})
                rec["workloads"].append(wl.command)
                rec["metrics"].update(view.metrics)
            ctx.sample()
            result = _build_result(ctx, time.perf_counter() - wall0)
            _check_leaks(ctx)
        finally:
            ctx.close()
    if config.progress is not None:
        config.progress(ctx.progress_total, ctx.progress_total, ctx.engine.now,
                        result.metrics.page_events)
    return result


def _check_leaks(ctx: RunContext) -> None:
    """Issue 7's end-of-run check: once every task has exited, nothing may still hold a
    slot, descriptor, zswap entry, pool byte, swap-cache page or charge.

    Raises:
        LeakError: listing what is left (after the result was built, so it is not lost
            for debugging).
    """
    from vswap.mm.checks import check_no_leaks

    if not ctx.machine.tasks:
        check_no_leaks(ctx.machine)


def _build_result(ctx: RunContext, wall_s: float) -> RunResult:
    m = ctx.machine
    st = ctx.cpus.statistics()
    vm = m.vmstat_dict()
    events = _page_events(vm)
    metrics = RunMetrics(
        real_s=st.real_ns / 1e9, user_s=st.user_ns / 1e9, sys_s=st.sys_ns / 1e9,
        throughput_kbps=float(ctx.metrics.get("throughput_kbps", 0.0)),
        free_time_s=float(ctx.metrics.get("free_time_s", 0.0)),
        page_events=events, wall_s=round(wall_s, 3),
        spin_s=st.spin_ns / 1e9, idle_s=st.idle_ns / 1e9,
        page_events_per_wall_s=round(events / wall_s, 1) if wall_s > 0 else 0.0)
    devices = []
    for name, rec in ctx.device_records.items():
        q = ctx.queues[name].statistics()
        devices.append({k: v for k, v in rec.items() if not k.startswith("_")} | {
            "reads": int(q.reads), "writes": int(q.writes), "read_bytes": int(q.read_bytes),
            "write_bytes": int(q.write_bytes), "io_busy_ns": int(q.busy_ns),
            "in_flight_max": int(q.in_flight_max)})
    locks = {}
    for cls, ls in ctx.locks.statistics(by="class").items():
        locks[cls] = {"acquisitions": ls.acquisitions, "contentions": ls.contentions,
                      "wait_ns": ls.wait_total_ns, "max_wait_ns": ls.wait_max_ns,
                      "hold_ns": ls.hold_total_ns, "instances": ls.instances}
    cgroups = {}
    for path in _result_cgroups(ctx.config, ctx.cgroup):
        files = m.cgroup_files(path)
        cgroups[path] = {k: v for k, v in files.items()}
    oracle = m.oracle.stats
    meta = ctx.metadata_snapshot if ctx.metadata_snapshot is not None else \
        dict(m.design.metadata_bytes())
    metrics_extra = {k: v for k, v in ctx.metrics.items()
                     if k not in ("throughput_kbps", "free_time_s")}
    return RunResult(
        design=ctx.config.design, workload=ctx.config.workload, seed=ctx.config.seed,
        configuration=ctx.config.as_json(), metrics=metrics, vmstat=vm, meminfo=m.meminfo(),
        cgroups=cgroups, devices=devices, metadata_bytes={k: int(v) for k, v in meta.items()},
        verified_pages=int(oracle.checked) + ctx.verified_pages, data_loss=ctx.data_loss,
        verify=ctx.config.verify, locks=locks, swapoff=dict(ctx.swapoff),
        timeline=ctx.timeline, report=list(ctx.report_lines),
        workload_metrics=metrics_extra, kernel_steps=dict(sorted(ctx.recorder.counts.items())),
        tasks_killed=ctx.killed, kernel_stats=_kernel_stats(ctx),
        costs=dict(ctx.config.cost_provenance) or default_provenance().as_json(),
        cgroup_results=cgroup_results(cgroups, ctx.cgroup_workloads, ctx.peak_views.views),
        peak=ctx.peak_views.views)


def _kernel_stats(ctx: RunContext) -> dict[str, Any]:
    """The model's counterparts of a host run's ``kernel_stats``: zswap's debugfs counters
    and each zram device's sysfs statistics, with peaks."""
    out: dict[str, Any] = {}
    m = ctx.machine
    if m.zswap is not None:
        z = m.zswap.statistics().as_dict()
        out["zswap"] = z | {"peak_pool_total_size": ctx.peak["zswap_pool"],
                            "peak_stored_pages": ctx.peak["zswap_pages"]}
        if m.zswap.wb_batching or m.zswap.shrinker.written_back_requests:
            # Model only (batched and compressed writeback): only when used, so the
            # kernel's debugfs list is what every other run shows.
            out["zswap"] |= m.zswap.shrinker.wb_stats()
    tiers = m.design.devices.tiers
    if tiers.enabled:
        out["swap_tiers"] = tiers.stats() | {"worker_s": ctx.tier_worker_ns / 1e9}
    for storage in ctx._zrams:
        st = storage.stats()
        st["peak"] = {k.split(":", 1)[1]: v for k, v in ctx.peak.items()
                      if k.startswith(storage.name + ":")}
        out[storage.name.rsplit("/", 1)[-1]] = st
    return out


def default_jobs() -> int:
    """Parallel runs for compare/bench: one per host CPU, at most 4."""
    return max(1, min(os.cpu_count() or 1, 4))
