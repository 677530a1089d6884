"""``vswap host run``: a model workload executed on this host's real kernel.

Models: nothing; it measures the kernel the model models. The run is the model's run
specification (``--workload``, ``--memory-max``, ``--swap-device``, ``--zswap``, ``--cpus``)
carried out for real:

1. the workload program is built (:mod:`vswap.host.program`) and checked for root;
2. a state file is claimed (:mod:`vswap.host.state`); every change below is journalled in
   it first, and undone at the end whatever happens (``try``/``finally``, with SIGTERM and
   SIGHUP turned into an interrupt; after ``kill -9``, ``vswap host cleanup``);
3. zswap's parameters are set (``--zswap COMP``: the compressor and the model's
   ``max_pool_percent``, ``accept_threshold_percent``, ``shrinker_enabled``, then
   ``enabled=Y``; ``--zswap off``: ``enabled=N``), debugfs is mounted if zswap's counters
   need it;
4. the swap devices are made and swapped on (:mod:`vswap.host.swapdev`);
5. a memory cgroup is made with the limit (:mod:`vswap.host.cgroup`, v2 or v1);
6. the workload's processes start inside the cgroup (they join it before ``exec``) on the
   CPU set; a sampler thread reads ``/proc/swaps``, zswap's debugfs and zram's ``mm_stat``
   every ``sample_ms`` for peaks; ``wait4`` gives each process's user and sys time (its
   children included);
7. the kernel's counters are read again and the result is built: the same
   :class:`~vswap.report.result.RunResult` as ``vswap run`` with design ``host``.

Counters: ``vmstat`` holds the deltas of ``/proc/vmstat`` over the workload, except
``pgfault`` and ``pgmajfault``, which come from the workload cgroup's ``memory.stat``
(other processes on the machine fault too; only this cgroup swaps). Swap counters are
global, so a run warns (``kernel_stats.host.foreign_swap``) when a swap device that is not
its own was on while it ran.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from vswap.errors import ConfigError
from vswap.host.cgroup import HostCgroup
from vswap.host.program import build_program
from vswap.host.state import HostError, HostState, cleanup, proc_swaps
from vswap.host.swapdev import HostSwapDevice, block_stat, setup_device, zram_stats
from vswap.host.zswapctl import apply_params, debugfs_stats, ensure_debugfs, read_params
from vswap.kernel.types import PAGE_SIZE
from vswap.report.result import RunMetrics, RunResult
from vswap.run.context import DeviceSpec
from vswap.workloads import Workload, parse_workload

__all__ = ["HostRunConfig", "host_ram", "parse_cpu_set", "require_root", "run_host"]

#: Workloads that have a host program.
HOST_WORKLOADS = ("usemem", "pattern", "pageout", "swapoff")
#: Swap-in/out counters whose deltas make ``page_events`` (as the model counts them).
_EVENT_KEYS = ("pgfault", "pswpout", "zswpout", "swpout_zero", "pswpin", "zswpin",
               "swpin_zero")


def require_root(what: str = "host runs") -> None:
    """Raises HostError (one line) unless running as root."""
    if os.geteuid() != 0:
        raise HostError(f"{what} need root (they swapon, make cgroups and set zswap "
                        "parameters); run as root")


def parse_cpu_set(text: str | None) -> list[int]:
    """``0-1``, ``0,2``, ``3`` (None: every CPU this process may use).

    Raises:
        ConfigError: malformed, or a CPU this process may not run on.
    """
    allowed = sorted(os.sched_getaffinity(0))
    if text is None:
        return allowed
    cpus: set[int] = set()
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            cpus.update(range(int(lo), int(hi) + 1) if sep else (int(lo),))
    except ValueError:
        raise ConfigError(f"--cpus {text!r}: a CPU list such as 0-1 or 0,2") from None
    bad = sorted(cpus - set(allowed))
    if not cpus or bad:
        raise ConfigError(f"--cpus {text!r}: CPU {bad[0] if bad else '?'} is not available "
                          f"(available: {','.join(map(str, allowed))})")
    return sorted(cpus)


@dataclass(kw_only=True)
class HostRunConfig:
    """A host run's specification (the model's run flags, for the real kernel)."""

    workload: str = "usemem -n 4 -O 64M"
    memory_max: int | None = None
    swap_devices: list[DeviceSpec] = field(default_factory=list)
    zswap: str | None = None
    #: zswap parameters besides the compressor (kernel names); default: the model's.
    zswap_params: dict[str, Any] = field(default_factory=dict)
    cpus: list[int] = field(default_factory=list)
    sample_ms: int = 5
    labels: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"design": "host", "workload": self.workload, "memory_max": self.memory_max,
                "swap_devices": [d.text() for d in self.swap_devices],
                "zswap": self.zswap or "off", "zswap_params": dict(self.zswap_params),
                "cpus": len(self.cpus), "cpu_set": list(self.cpus),
                "kernel": platform.release(), "kernel_version": platform.version(),
                "machine": platform.machine(), "host": platform.node(), **self.labels}


def _model_zswap_defaults() -> dict[str, Any]:
    from vswap.zswap.zswap import ZswapParams

    d = ZswapParams()
    return {"max_pool_percent": d.max_pool_percent,
            "accept_threshold_percent": d.accept_threshold_percent,
            "shrinker_enabled": d.shrinker_enabled}


# -- reading the kernel ----------------------------------------------------------------------

def read_vmstat() -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path("/proc/vmstat").read_text().splitlines():
        name, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[name] = int(value)
    return out


def read_meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        with contextlib.suppress(ValueError, IndexError):
            out[name] = int(rest.split()[0])
    return out


def host_ram(meminfo: dict[str, int] | None = None) -> int:
    """This machine's RAM in bytes (``MemTotal``, whole pages), for a model run of a host
    spec: zswap's ``max_pool_percent`` and global reclaim then see the host's RAM, not
    the model's default of twice the limit plus 64 MiB."""
    kib = (meminfo if meminfo is not None else read_meminfo()).get("MemTotal", 0)
    ram = kib * 1024
    return ram - ram % 4096


def _kswapd_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if (d / "comm").read_text().startswith("kswapd"):
                    pids.append(int(d.name))
    return sorted(pids)


def kswapd_times(pids: list[int]) -> dict[str, float]:
    """Summed ``utime``/``stime`` (``/proc/PID/stat``) and on-CPU time (``schedstat``)."""
    tick = os.sysconf("SC_CLK_TCK")
    ut = st = run = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ut += int(fields[11]) / tick
            st += int(fields[12]) / tick
            run += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    return {"utime_s": ut, "stime_s": st, "run_s": run}


# -- the sampler ---------------------------------------------------------------------------

class Sampler:
    """A thread reading the peaks of what only exists while the workload runs."""

    def __init__(self, devices: list[HostSwapDevice], zswap_dir: Path | None,
                 interval_ms: int, cgroup: HostCgroup | None = None) -> None:
        self.devices = devices
        self.cgroup = cgroup
        #: Peaks of the workload cgroup's usage counters (:meth:`HostCgroup.usage`).
        self.peak_cgroup: dict[str, int] = {}
        self.zswap_dir = zswap_dir
        self.interval = interval_ms / 1000
        self.peak_used_kib = {d.path: 0 for d in devices}
        self.peak_zswap: dict[str, int] = {"pool_total_size": 0, "stored_pages": 0}
        self.peak_zram: dict[str, int] = {}
        self.samples = 0
        self.foreign: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="vswap-sampler", daemon=True)

    def start(self) -> None:
        self.sample()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        swaps = proc_swaps()
        for path, row in swaps.items():
            if path in self.peak_used_kib:
                self.peak_used_kib[path] = max(self.peak_used_kib[path], row["used_kib"])
            else:
                self.foreign.add(path)
        if self.zswap_dir is not None:
            for name in ("pool_total_size", "stored_pages"):
                with contextlib.suppress(OSError, ValueError):
                    v = int((self.zswap_dir / name).read_text())
                    self.peak_zswap[name] = max(self.peak_zswap[name], v)
        for d in self.devices:
            if d.zram:
                mm = zram_stats(d.zram)["mm_stat"]
                for k in ("orig_data_size", "compr_data_size", "mem_used_total"):
                    key = f"{d.zram}:{k}"
                    self.peak_zram[key] = max(self.peak_zram.get(key, 0), mm.get(k, 0))
        if self.cgroup is not None:
            for k, v in self.cgroup.usage().items():
                self.peak_cgroup[k] = max(self.peak_cgroup.get(k, 0), v)
        self.samples += 1


# -- processes -------------------------------------------------------------------------------

@dataclass
class HostProc:
    """One program started in the workload cgroup."""

    name: str
    popen: subprocess.Popen[str]
    lines: queue.Queue[str | None]
    output: list[str] = field(default_factory=list)
    status: int | None = None
    user_s: float = 0.0
    sys_s: float = 0.0
    minflt: int = 0
    majflt: int = 0
    end: float = 0.0
    #: ``(path, used KiB)`` the program read from /proc/swaps at its checkpoints.
    swapsamples: list[tuple[str, int]] = field(default_factory=list)

    def _keep(self, line: str) -> bool:
        """Store an output line; checkpoint samples go to :attr:`swapsamples`."""
        if line.startswith("swapsample "):
            _, path, used = line.rsplit(" ", 2)
            self.swapsamples.append((path.split(" ", 1)[-1], int(used)))
            return False
        self.output.append(line)
        return True

    def readline(self, timeout: float) -> str | None:
        """The next output line that is not a checkpoint sample (None at end of output)."""
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise HostError(f"{self.name}: no output for {timeout:.0f} s") from None
            if line is None or self._keep(line):
                return line

    def wait(self) -> None:
        """``wait4`` the process: exit status and rusage (children included)."""
        _, status, ru = os.wait4(self.popen.pid, 0)
        self.end = time.monotonic()
        self.status = os.waitstatus_to_exitcode(status)
        # Popen must not reap it again.
        self.popen.returncode = self.status
        self.user_s, self.sys_s = ru.ru_utime, ru.ru_stime
        self.minflt, self.majflt = ru.ru_minflt, ru.ru_majflt
        while True:
            try:
                line = self.lines.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self._keep(line)


def _pump(stream: IO[str], q: queue.Queue[str | None]) -> None:
    for line in stream:
        q.put(line.rstrip("\n"))
    q.put(None)


def _spawn(name: str, argv: list[str], cgroup: HostCgroup | None, cpus: list[int],
           stdin: bool = False) -> HostProc:
    procs_file = cgroup.procs_file() if cgroup is not None else None

    def child_setup() -> None:
        # Runs in the child between fork and exec: join the cgroup first, so every page the
        # program touches is charged there.
        if procs_file is not None:
            with open(procs_file, "w") as f:
                f.write(str(os.getpid()))
        os.sched_setaffinity(0, cpus)

    popen = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             preexec_fn=child_setup, close_fds=True)
    q: queue.Queue[str | None] = queue.Queue()
    assert popen.stdout is not None
    threading.Thread(target=_pump, args=(popen.stdout, q), daemon=True).start()
    return HostProc(name, popen, q)


# -- plans: how each model workload runs on the host ------------------------------------------

def host_argv(wl: Workload, prog: Path) -> list[str]:
    """The program's command line for a single-process workload.

    Raises:
        ConfigError: the workload has no host program.
    """
    from vswap.workloads.pattern import Pageout, Pattern
    from vswap.workloads.usemem import Usemem

    p = str(prog)
    if isinstance(wl, Usemem):
        argv = [p, "usemem", "-n", str(wl.nproc), "-r", str(wl.repeat)]
        if wl.nthread:
            argv += ["-t", str(wl.nthread)]
        for flag, on in (("-R", wl.random), ("-y", wl.sync_rw), ("-x", wl.sync_free),
                         ("-Z", wl.read_again)):
            if on:
                argv.append(flag)
        if wl.sleep_s:
            argv += ["-s", repr(wl.sleep_s)]
        return [*argv, str(wl.size)]
    if isinstance(wl, Pattern):
        return [p, "pattern", "--size", str(wl.size), "--content", wl.content,
                "--passes", str(wl.passes)]
    if isinstance(wl, Pageout):
        return [p, "pageout", "--size", str(wl.size), "--content", wl.content]
    raise ConfigError(f"workload {wl.name}: no host program (host runs take "
                      f"{', '.join(HOST_WORKLOADS)})")


@dataclass
class _Run:
    """What the execution of a plan yields."""

    procs: list[HostProc]
    real_s: float
    swapoff: dict[str, Any] = field(default_factory=dict)


def _run_single(wl: Workload, prog: Path, cg: HostCgroup, cpus: list[int]) -> _Run:
    argv = host_argv(wl, prog)
    t0 = time.monotonic()
    proc = _spawn(wl.name, argv, cg, cpus)
    proc.wait()
    return _Run([proc], proc.end - t0)


def _run_swapoff(wl: Any, prog: Path, cg: HostCgroup, cpus: list[int],
                 devices: list[HostSwapDevice], state: HostState,
                 timeout_s: float = 3600.0) -> _Run:
    """The swapoff workload: fillers and the unrelated mapper fill the device, then
    ``swapoff`` runs while they are alive, then they read back and exit."""
    from vswap.workloads.swapoff import UNRELATED_STRIDE_PAGES

    dev = devices[0]
    wl.set_device_bytes(dev.spec.size)
    total = wl.fill_pages()
    share, extra = divmod(total, wl.tasks)
    t0 = time.monotonic()
    procs: list[HostProc] = []
    for i in range(wl.tasks):
        n = share + (1 if i < extra else 0)
        if n:
            procs.append(_spawn(f"filler-{i}", [str(prog), "fill", "--size",
                                                str(n * PAGE_SIZE), "--content", "usemem"],
                                cg, cpus, stdin=True))
    if wl.unrelated >= PAGE_SIZE:
        procs.append(_spawn("mapper", [str(prog), "map", "--size", str(wl.unrelated),
                                       "--stride", str(UNRELATED_STRIDE_PAGES * PAGE_SIZE)],
                            cg, cpus, stdin=True))
    for p in procs:
        line = p.readline(timeout_s)
        if line != "ready":
            raise HostError(f"{p.name}: expected 'ready', got {line!r}")
    # Room for every page to come back, as the model's swapoff workload does.
    cg.set_limits(None)
    used_kib = (dev.swaps_row() or {}).get("used_kib", 0)
    vm0 = read_vmstat()
    off = _spawn("swapoff", [str(prog), "swapoff", dev.path], None, cpus)
    off.wait()
    vm1 = read_vmstat()
    line = next((x for x in off.output if x.startswith("swapoff ")), "")
    fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
    if off.status != 0 or fields.get("rc") != "0":
        raise HostError(f"swapoff {dev.path} failed: {line or off.output}")
    for a in list(state.actions):
        if a["kind"] == "swapon" and a["path"] == dev.path:
            state.done(a)
    swapoff = {"real_s": int(fields["real_ns"]) / 1e9, "sys_s": int(fields["sys_ns"]) / 1e9,
               "user_s": int(fields["user_ns"]) / 1e9, "used_pages_before": used_kib // 4,
               "pages_read": sum(vm1.get(k, 0) - vm0.get(k, 0)
                                 for k in ("pswpin", "zswpin", "swpin_zero")),
               "completed": True}
    for p in procs:
        assert p.popen.stdin is not None
        p.popen.stdin.write("go\n")
        p.popen.stdin.flush()
    for p in procs:
        p.wait()
    procs.append(off)
    return _Run(procs, max(p.end for p in procs) - t0, swapoff)


# -- the run ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP end the run like Ctrl-C does, so ``finally`` cleans up."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_host(config: HostRunConfig,
             on_setup: Callable[[HostState], None] | None = None) -> RunResult:
    """Run ``config`` on this host's kernel and return its result (design ``host``).

    ``on_setup`` (tests) is called once the machine is set up, before the workload starts.

    Raises:
        HostError: not root, no gcc, a device or parameter the kernel refused, a workload
            process that failed, or cleanup that could not undo a change (the message says
            to run ``vswap host cleanup``).
        ConfigError: a workload without a host program, bad flags.
    """
    require_root()
    wl = parse_workload(config.workload)
    if wl.name not in HOST_WORKLOADS:
        raise ConfigError(f"workload {wl.name}: no host program (host runs take "
                          f"{', '.join(HOST_WORKLOADS)})")
    if wl.needs_device() and not config.swap_devices:
        raise ConfigError(f"workload {wl.name}: needs a swap device (--swap-device)")
    if getattr(wl, "drop_swapcache", False):
        # Refused before the machine is touched. memory.reclaim is a cgroup v2 file; v1's
        # force_empty would reclaim everything.
        raise ConfigError("host run: swapoff --drop-swapcache is modelled only (the host "
                          "run keeps the kernel's swap cache as it is)")
    if not config.cpus:
        config.cpus = parse_cpu_set(None)
    prog = build_program()
    with _signals_as_interrupts():
        state = HostState.claim()
        try:
            result = _run(state, config, wl, prog, on_setup)
        finally:
            report = cleanup(state)
        if report.errors:
            raise HostError(f"cleanup failed ({report.errors[0]}); run `vswap host cleanup`")
    return result


def _run(state: HostState, config: HostRunConfig, wl: Workload, prog: Path,
         on_setup: Callable[[HostState], None] | None) -> RunResult:
    zparams = read_params()
    zdir = None
    if config.zswap:
        wanted = {**_model_zswap_defaults(), **config.zswap_params,
                  "compressor": config.zswap, "enabled": True}
        zparams = apply_params(state, wanted)
        zdir = ensure_debugfs(state)
    elif zparams.get("enabled") == "Y":
        zparams = apply_params(state, {"enabled": False})
    devices = [setup_device(state, spec, i) for i, spec in enumerate(config.swap_devices)]
    cg = HostCgroup.create(state, f"vswap-host-{os.getpid()}")
    cg.set_limits(config.memory_max)
    if on_setup is not None:
        on_setup(state)
    kswapd = _kswapd_pids()
    blocks = sorted({d.block for d in devices if d.block} | {d.zram for d in devices if d.zram})
    before = {"vmstat": read_vmstat(), "kswapd": kswapd_times(kswapd),
              "zswap": debugfs_stats(zdir),
              "block": {b: block_stat(b) for b in blocks}}
    sampler = Sampler(devices, zdir, config.sample_ms, cg)
    sampler.start()
    try:
        if wl.name == "swapoff":
            run = _run_swapoff(wl, prog, cg, config.cpus, devices, state)
        else:
            run = _run_single(wl, prog, cg, config.cpus)
    finally:
        sampler.stop()
    for p in run.procs:
        for path, used in p.swapsamples:
            if path in sampler.peak_used_kib:
                sampler.peak_used_kib[path] = max(sampler.peak_used_kib[path], used)
    after = {"vmstat": read_vmstat(), "kswapd": kswapd_times(kswapd),
             "zswap": debugfs_stats(zdir), "block": {b: block_stat(b) for b in blocks}}
    failed = [p for p in run.procs if p.status not in (0, 3)]
    if failed:
        p = failed[0]
        raise HostError(f"host workload {p.name} exited with status {p.status}: "
                        f"{(p.output or ['no output'])[-1]}")
    cg_files = cg.files()
    return _build_result(config, wl, run, before, after, sampler, devices, cg, cg_files,
                         zparams, prog)


def _parse_output(lines: list[str]) -> tuple[dict[str, Any], int, int]:
    """usemem-style metrics, and (verified pages, wrong pages) from the programs' lines."""
    tputs: list[int] = []
    frees: list[int] = []
    reads: list[int] = []
    verified = wrong = 0
    for line in lines:
        parts = line.split()
        if line.startswith("read again") and parts[-1] == "KB/s":
            reads.append(int(parts[-2]))
        elif " bytes / " in line and parts[-1] == "KB/s":
            tputs.append(int(parts[-2]))
        elif line.endswith("usecs to free memory"):
            frees.append(int(parts[0]))
        elif line.startswith("pattern pass") or line.startswith("pageout:"):
            pages = int(parts[parts.index("wrote") + 1])
            bad = int(parts[-2])
            verified += pages - bad
            wrong += bad
        elif line.startswith("verified "):
            verified += int(parts[1]) - int(parts[3])
            wrong += int(parts[3])
        elif line.startswith("Data wrong"):
            wrong += 1
    metrics: dict[str, Any] = {}
    if tputs:
        metrics["throughput_kbps"] = sum(tputs) / len(tputs)
        metrics["throughputs_kbps"] = tputs
    if frees:
        metrics["free_time_s"] = sum(frees) / len(frees) / 1e6
        metrics["free_times_us"] = frees
    if reads:
        metrics["read_again_kbps"] = sum(reads) / len(reads)
    return metrics, verified, wrong


def block_rotational(block: str) -> bool:
    """Does disk ``block`` (``vda``, ``zram0``) report itself rotational
    (``/sys/block/<dev>/queue/rotational``)? A swap file on such a disk is not
    ``SWP_SOLIDSTATE`` and turns the kernel's VMA readahead off (``nr_rotate_swap``)."""
    try:
        return (Path("/sys/block") / block / "queue" / "rotational").read_text().strip() == "1"
    except OSError:
        return False


def model_swap_devices(specs: list[DeviceSpec], host_devices: list[dict[str, Any]]
                       ) -> list[DeviceSpec]:
    """The model's swap devices for a host run's: a swap file on a disk the host saw as
    rotational gets ``rotational=1`` (the model then turns VMA readahead off as the kernel
    did: ``swap_use_vma_readahead()``), the rest as given."""
    out = []
    for i, spec in enumerate(specs):
        rec = host_devices[i] if i < len(host_devices) else {}
        if spec.backing == "file" and rec.get("rotational") and \
                spec.option("rotational") != "1":
            kept = tuple((k, v) for k, v in spec.options if k != "rotational")
            spec = dataclasses.replace(spec, options=(*kept, ("rotational", "1")))
        out.append(spec)
    return out


def _build_result(config: HostRunConfig, wl: Workload, run: _Run, before: dict[str, Any],
                  after: dict[str, Any], sampler: Sampler, devices: list[HostSwapDevice],
                  cg: HostCgroup, cg_files: dict[str, Any], zparams: dict[str, str],
                  prog: Path) -> RunResult:
    vm0, vm1 = before["vmstat"], after["vmstat"]
    vmstat = {k: v - vm0.get(k, 0) for k, v in vm1.items()
              if not k.startswith("nr_") and v - vm0.get(k, 0)}
    stat = cg_files.get("memory.stat", {})
    for k in ("pgfault", "pgmajfault"):
        if k in stat:
            vmstat[k] = int(stat[k])
    for k in _EVENT_KEYS:
        vmstat.setdefault(k, 0)
    lines = [line for p in run.procs for line in p.output]
    wl_metrics, verified, wrong = _parse_output(lines)
    user = sum(p.user_s for p in run.procs)
    sys_ = sum(p.sys_s for p in run.procs)
    events = sum(vmstat.get(k, 0) for k in _EVENT_KEYS)
    metrics = RunMetrics(real_s=run.real_s, user_s=user, sys_s=sys_,
                         throughput_kbps=float(wl_metrics.pop("throughput_kbps", 0.0)),
                         free_time_s=float(wl_metrics.pop("free_time_s", 0.0)),
                         page_events=events, wall_s=round(run.real_s, 3),
                         page_events_per_wall_s=round(events / run.real_s, 1)
                         if run.real_s > 0 else 0.0)
    dev_records = []
    for d in devices:
        row = proc_swaps().get(d.path)
        size_kib = row["size_kib"] if row else d.spec.size // 1024 - 4
        rec: dict[str, Any] = {
            "name": d.path, "kind": d.kind, "backing": d.spec.backing,
            "type": "partition" if d.zram else "file", "size_pages": size_kib // 4,
            "used_pages": (row["used_kib"] // 4) if row else 0,
            "peak_used_pages": sampler.peak_used_kib.get(d.path, 0) // 4,
            "prio": row["prio"] if row else 0,
            "rotational": block_rotational(d.zram or d.block)}
        blk = d.zram or d.block
        b0, b1 = before["block"].get(blk, {}), after["block"].get(blk, {})
        if b1:
            rec.update({"reads": b1["read_ios"] - b0.get("read_ios", 0),
                        "writes": b1["write_ios"] - b0.get("write_ios", 0),
                        "read_bytes": 512 * (b1["read_sectors"] - b0.get("read_sectors", 0)),
                        "write_bytes": 512 * (b1["write_sectors"]
                                              - b0.get("write_sectors", 0)),
                        "block_device": blk, "block_counts_shared": not d.zram})
        dev_records.append(rec)
    k0, k1 = before["kswapd"], after["kswapd"]
    kernel_stats: dict[str, Any] = {
        "kswapd": {k: round(k1[k] - k0[k], 6) for k in k1},
        "host": {"kernel": platform.release(), "cgroup_version": cg.version,
                 "cgroup": str(cg.path), "sample_ms": config.sample_ms,
                 "samples": sampler.samples, "foreign_swap": sorted(sampler.foreign),
                 "cgroup_peaks": dict(sampler.peak_cgroup),
                 "zswap_params": zparams, "program": prog.name,
                 "counters": "pgfault, pgmajfault: the cgroup's memory.stat; the rest: "
                             "/proc/vmstat deltas over the workload"}}
    if config.zswap:
        z0, z1 = before["zswap"], after["zswap"]
        zs: dict[str, Any] = {k: v for k, v in z1.items()}
        for k in ("written_back_pages", "reject_compress_poor", "reject_compress_fail",
                  "reject_alloc_fail", "reject_reclaim_fail", "reject_kmemcache_fail",
                  "pool_limit_hit", "decompress_fail"):
            if k in z1:
                zs[k] = z1[k] - z0.get(k, 0)
        zs["peak_pool_total_size"] = sampler.peak_zswap["pool_total_size"]
        zs["peak_stored_pages"] = sampler.peak_zswap["stored_pages"]
        kernel_stats["zswap"] = zs
    for d in devices:
        if d.zram:
            zr = zram_stats(d.zram)
            zr["peak"] = {k.split(":", 1)[1]: v for k, v in sampler.peak_zram.items()
                          if k.startswith(d.zram + ":")}
            kernel_stats[d.zram] = zr
    cgroups = {"/": {}, f"/{cg.path.name}": cg_files}
    return RunResult(
        design="host", workload=config.workload, seed=0, configuration=config.as_json(),
        metrics=metrics, vmstat=dict(sorted(vmstat.items())), meminfo=read_meminfo(),
        cgroups=cgroups, devices=dev_records, metadata_bytes={},
        verified_pages=verified, data_loss=wrong, verify=True, swapoff=run.swapoff,
        report=lines, workload_metrics={
            **wl_metrics, "processes": {p.name: {"user_s": p.user_s, "sys_s": p.sys_s,
                                                 "minflt": p.minflt, "majflt": p.majflt,
                                                 "status": p.status} for p in run.procs}},
        kernel_steps={}, tasks_killed=sum(1 for p in run.procs if (p.status or 0) < 0),
        kernel_stats=kernel_stats)
