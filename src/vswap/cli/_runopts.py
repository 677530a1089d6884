"""Options shared by ``vswap run``, ``compare`` and ``bench``; the runner with progress.

:func:`plan_from_args` turns the flags (and a ``--config`` file) into a :class:`RunPlan`: one
timed :class:`~vswap.run.context.RunConfig` per design, what ``--scale`` scaled and kept,
and where the costs came from; every bad input is refused there, before anything runs.
:func:`run_all` runs the plan's configurations (in parallel processes when there are
several) with progress on stderr (:mod:`vswap.report.progress`).
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from vswap.config.costs import BUILTIN, CostProvenance, default_provenance, load_cost_file
from vswap.errors import ConfigError, OOMError
from vswap.fileio import check_output_path, open_input
from vswap.kernel.errors import DataLossError
from vswap.kernel.pagedata import MODES as PAGE_DATA_MODES
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.vmscan import RECLAIM_POLICIES
from vswap.report.progress import RunProgress
from vswap.report.result import RunResult
from vswap.run.context import DeviceSpec, RunConfig, check_fits, default_jobs, parse_device_spec
from vswap.run.scaling import ScaleReport
from vswap.sim.costs import DEFAULT_COSTS, CostTable
from vswap.swap import DESIGNS, design_class
from vswap.units import (
    SEED_RANGE,
    bounded_int,
    format_scale,
    format_size,
    parse_scale,
    parse_size,
    seed_arg,
)
from vswap.workloads import parse_workload
from vswap.workloads._scale import scale_workload

#: The range of ``--cpus`` (a config's ``machine.cpus`` has the same).
CPUS_RANGE = (1, 4096)
#: The range of ``--jobs`` (0: one per host CPU, at most 4).
JOBS_RANGE = (0, 256)

#: Defaults of the run flags when no --config file is given.
RUN_DEFAULTS = {"workload": "usemem -n 4 -O 64M", "swap_device": ["file:1G"], "zswap": "off",
                "cpus": 4, "seed": 1}


def add_costs_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--costs", default=None, metavar="FILE",
                   help="a cost file (docs/costs.md: vswap-costs JSON, or what `vswap "
                        "calibrate --json` writes), or `builtin` for the built-in table "
                        "(published figures, calibrated on no kernel); default: the table "
                        "calibrated on Linux 6.18 (vswap/sim/calibrated/)")


def add_run_options(p: argparse.ArgumentParser, *, default_design: str) -> None:
    p.set_defaults(default_design=default_design)
    p.add_argument("--config", default=None, metavar="FILE",
                   help="a TOML configuration (docs/config.md, examples/); the flags below "
                        "override its values")
    p.add_argument("--design", default=None,
                   help=f"comma list of designs ({', '.join(DESIGNS)}; default "
                        f"{default_design}, or the config's designs)")
    p.add_argument("--workload", default=None,
                   help="the workload's own command line (usemem, memhog, stress-ng, kbuild, "
                        "swapoff); default 'usemem -n 4 -O 64M'")
    p.add_argument("--memory-max", default=None,
                   help="memory.max of the workload's cgroup (e.g. 128M; default max)")
    p.add_argument("--ram", default=None, help="machine RAM (default: 2 x memory.max + 64M)")
    p.add_argument("--swap-device", action="append", default=None,
                   help="file:SIZE[:KIND][,rotational=1] or mem:SIZE[:KIND] (repeatable), "
                        "or none; default file:1G (KIND: nvme, ssd, hdd, pmem, zram, remote)")
    p.add_argument("--zswap", default=None, help="zswap compressor (lz4, zstd, ...) or off "
                                                  "(default off)")
    p.add_argument("--cpus", type=bounded_int(*CPUS_RANGE), default=None,
                   help=f"simulated CPUs, {CPUS_RANGE[0]}..{CPUS_RANGE[1]} (default 4)")
    p.add_argument("--seed", type=seed_arg, default=None,
                   help=f"random seed, {SEED_RANGE[0]}..{SEED_RANGE[1]} (default 1)")
    p.add_argument("--scale", default=None, metavar="S",
                   help="multiply every size: RAM, devices, memory limits, the workload's "
                        "sizes and sleeps, defaults included (0.01 or 1/64; default: the "
                        "config's scale, else 1); counts of processes and CPUs are kept")
    add_costs_option(p)
    p.add_argument("--no-verify", action="store_true",
                   help="do not check pages read back (faster)")
    p.add_argument("--json", default=None, metavar="FILE", help="write a result file")
    p.add_argument("--reclaim", default="linux", choices=RECLAIM_POLICIES,
                   help="page replacement: linux (the kernel's active/inactive LRU, default) "
                        "or an idealised exact policy: lru, fifo, clock (no readahead, "
                        "reclaim on demand; docs/traces.md)")
    p.add_argument("--cgroup-version", type=int, default=2, choices=(1, 2),
                   help="the memory controller's cgroup hierarchy: 2 (default) or 1, as on "
                        "a host with cgroup v1, where zswap's pool is not charged to the "
                        "cgroup (docs/zswap.md)")
    add_page_data_option(p)


def add_page_data_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--page-data", default=None, choices=PAGE_DATA_MODES,
                   help="full: every page keeps its 4 KiB of bytes (default, the reference); "
                        "compact: an 8-byte descriptor per page, same results, far less "
                        "memory (docs/performance.md)")


def add_jobs_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=bounded_int(*JOBS_RANGE), default=None,
                   help=f"runs in parallel processes, {JOBS_RANGE[0]}..{JOBS_RANGE[1]} "
                        "(default or 0: host CPUs, at most 4)")


def check_json_option(args: argparse.Namespace) -> None:
    """Refuse an unwritable ``--json`` before anything runs, so no finished run is lost to
    it (the write itself is atomic: :func:`vswap.report.result.save_results`)."""
    if getattr(args, "json", None):
        check_output_path(args.json, what="--json")


def check_outcome(results: Sequence[RunResult]) -> None:
    """Exit statuses after the results are printed and saved (docs/cli.md): data loss (3)
    before an OOM-killed or unstarted workload (4).

    Raises:
        DataLossError: a page read back wrong in some run.
        OOMError: the model's kernel killed a task of some run (OOM, SIGBUS).
    """
    lost = [f"{r.design}: {r.data_loss} pages" for r in results if r.data_loss]
    if lost:
        raise DataLossError(f"read back wrong: {'; '.join(lost)}")
    killed = []
    for r in results:
        if not r.tasks_killed:
            continue
        where = ", ".join(f"{cg} oom_kill {v['oom_kill']}" for cg, v in
                          r.cgroup_results.items() if v.get("oom_kill"))
        killed.append(f"{r.design}: {r.tasks_killed} task{'s' if r.tasks_killed > 1 else ''}"
                      f" of {r.workload!r} killed{f' ({where})' if where else ''}")
    if killed:
        raise OOMError(f"{'; '.join(killed)}; the workload did not complete as asked")


def designs_from(text: str) -> list[str]:
    names = [d.strip() for d in text.split(",") if d.strip()]
    if not names:
        raise ConfigError("--design: no design given")
    for d in names:
        design_class(d)  # ConfigError naming the known ones
    return names


def costs_from(path: str | None) -> tuple[CostTable, CostProvenance]:
    """The cost table of ``--costs`` (or the default one) and its provenance."""
    if path is None:
        return DEFAULT_COSTS, default_provenance()
    if path == BUILTIN:
        return load_cost_file(BUILTIN)
    # Checked here for kind and size, so a FIFO or /dev/zero is refused, not read for ever.
    os.close(open_input(path, what="--costs", max_bytes=16 << 20))
    return load_cost_file(path)


@dataclass
class RunPlan:
    """What a run command will do: the runs, a title, the scale's account, the costs."""

    configs: list[RunConfig]
    title: str
    scale: ScaleReport | None = None
    costs: CostProvenance = field(default_factory=default_provenance)

    def header_lines(self) -> list[str]:
        """What the scale changed (printed before the table)."""
        return self.scale.lines() if self.scale is not None else []


def _plan_from_file(args: argparse.Namespace) -> RunPlan:
    """--config FILE: load it, apply the flags that were given, one run per design."""
    from vswap.config import apply_overrides, load_config
    from vswap.run.fromconfig import run_configs_from_file
    from vswap.run.scaling import config_scale_report

    cf = load_config(args.config, parse_workload=parse_workload)
    cf = apply_overrides(
        cf, design=args.design, workload=args.workload, memory_max=args.memory_max,
        swap_device=args.swap_device, zswap=args.zswap, cpus=args.cpus, ram=args.ram,
        seed=args.seed, scale=args.scale, verify=False if args.no_verify else None,
        costs=args.costs)
    costs, prov = costs_from(cf.costs)
    if args.page_data is not None:
        cf = dataclasses.replace(cf, page_data=args.page_data)
    configs = run_configs_from_file(cf)
    for c in configs:
        c.page_data = cf.page_data
        c.reclaim = args.reclaim
        c.cgroup_version = args.cgroup_version
        c.costs = costs
        c.cost_provenance = prov.as_json()
    c0 = configs[0]
    title = f"{c0.workload} | {cf.source} | {c0.cpus} CPUs | seed {c0.seed}"
    return RunPlan(configs, title, config_scale_report(cf), prov)


def _scaled_bytes(nbytes: int, factor: float) -> int:
    value = int(nbytes * factor)
    return max(value - value % PAGE_SIZE, PAGE_SIZE)


def plan_from_args(args: argparse.Namespace) -> RunPlan:
    """One RunConfig per design; every bad input is refused here, before anything runs."""
    check_json_option(args)
    if args.config is not None:
        return _plan_from_file(args)
    for key, value in RUN_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    factor = parse_scale(args.scale) if args.scale is not None else 1.0
    designs = designs_from(args.design or args.default_design)
    scaled_workload = scale_workload(args.workload, factor)
    parse_workload(scaled_workload.command)
    report = ScaleReport(factor=factor, source="--scale", workloads=[scaled_workload])
    mem_max = None
    if args.memory_max is not None and args.memory_max != "max":
        given = parse_size(args.memory_max, what="--memory-max")
        mem_max = _scaled_bytes(given, factor)
        if factor != 1:
            report.scaled.append(f"--memory-max {args.memory_max} -> {format_size(mem_max)}")
    ram = None
    if args.ram is not None:
        given = parse_size(args.ram, what="--ram")
        ram = _scaled_bytes(given, factor)
        if factor != 1:
            report.scaled.append(f"--ram {args.ram} -> {format_size(ram)}")
    devices: list[DeviceSpec] = []
    for text in args.swap_device:
        spec = parse_device_spec(text)
        if spec is None:
            continue
        size = _scaled_bytes(spec.size, factor)
        if size < 10 * PAGE_SIZE:
            raise ConfigError(f"--swap-device {text} at scale {format_scale(factor)} is "
                              f"{size // PAGE_SIZE} pages; a swap area needs at least 10")
        if factor != 1:
            report.scaled.append(f"--swap-device {text} -> {format_size(size)}")
        devices.append(dataclasses.replace(spec, size=size))
    report.kept.append(f"{args.cpus} CPUs")
    zswap = None if args.zswap in ("off", "none", "0") else args.zswap
    if zswap is not None:
        from vswap.sim.costs import COMPRESSORS
        if zswap not in COMPRESSORS:
            raise ConfigError(f"--zswap: unknown compressor {zswap!r} "
                              f"(known: {', '.join(COMPRESSORS)}, or off)")
    costs, prov = costs_from(args.costs)
    labels: dict[str, Any] = {}
    if factor != 1:
        labels = {"scale": factor, "scaling": report.as_json()}
    configs = [RunConfig(design=d, workload=scaled_workload.command, memory_max=mem_max,
                         ram=ram, swap_devices=list(devices), zswap=zswap, cpus=args.cpus,
                         seed=args.seed, verify=not args.no_verify, costs=costs,
                         cost_provenance=prov.as_json(), labels=dict(labels),
                         reclaim=args.reclaim, page_data=args.page_data or "full",
                         cgroup_version=args.cgroup_version)
               for d in designs]
    c = configs[0]
    title = (f"{c.workload} | memory.max={format_size(c.memory_max) if c.memory_max else 'max'}"
             f" | swap {','.join(d.text() for d in c.swap_devices) or 'none'} | "
             f"zswap {c.zswap or 'off'} | {c.cpus} CPUs | seed {c.seed}")
    return RunPlan(configs, title, report if factor != 1 else None, prov)


# -- running, with progress ------------------------------------------------------------------

#: In a worker process: the shared progress slots (4 per run: fraction numerator and
#: denominator, modelled ns, page events), set by the pool's initializer.
_SLOTS: Any = None


def _init_worker(slots: Any) -> None:
    global _SLOTS
    _SLOTS = slots


def _run_one(index: int, config: RunConfig) -> RunResult:
    from vswap.run.context import run_workload

    slots = _SLOTS
    if slots is not None:
        def report(done: int, total: int, now_ns: int, events: int) -> None:
            base = 4 * index
            slots[base:base + 4] = [float(done), float(total), float(now_ns), float(events)]
        config.progress = report
    return run_workload(config)


def _check_fit(configs: Sequence[RunConfig], jobs: int) -> None:
    for c in configs:
        if c.config_file is not None:
            continue  # checked per workload when the run starts
        wl = parse_workload(c.workload)
        if wl.needs_device() and c.swap_devices and hasattr(wl, "set_device_bytes"):
            wl.set_device_bytes(c.swap_devices[0].size)
        check_fits(wl, c, parallel=jobs)


def run_all(configs: Sequence[RunConfig], *, jobs: int | None = None,
            describe: Callable[[RunConfig], str] = lambda c: c.design,
            progress_interval: float | None = None,
            progress_stream: Any = None) -> list[RunResult]:
    """Run every config (in parallel processes when ``jobs`` allows), with progress on
    stderr (:class:`~vswap.report.progress.RunProgress`). Refuses up front what would not
    fit in memory."""
    if jobs is not None and jobs < 0:
        raise ConfigError(f"--jobs: {jobs} is negative (0 or absent: one per CPU)")
    jobs = min(jobs or default_jobs(), len(configs)) or 1
    _check_fit(configs, jobs)
    progress = RunProgress(len(configs), stream=progress_stream or sys.stderr,
                           interval=progress_interval,
                           label=f"{len(configs)} run{'s' if len(configs) > 1 else ''}")
    results: list[RunResult | None] = [None] * len(configs)
    try:
        if jobs == 1:
            for i, c in enumerate(configs):
                def report(done: int, total: int, now_ns: int, events: int,
                           i: int = i) -> None:
                    progress.update(i, done, total, now_ns, events)
                    progress.tick()
                c.progress = report
                try:
                    results[i] = _run_one(i, c)
                finally:
                    c.progress = None
                r = results[i]
                assert r is not None
                progress.finished(i, round(r.metrics.real_s * 1e9), r.metrics.page_events)
                progress.tick()
        else:
            _run_parallel(configs, jobs, results, progress)
    finally:
        progress.close()
    return [r for r in results if r is not None]


def _run_parallel(configs: Sequence[RunConfig], jobs: int,
                  results: list[RunResult | None], progress: RunProgress) -> None:
    slots = multiprocessing.Array("d", 4 * len(configs), lock=False)
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker,
                             initargs=(slots,)) as pool:
        futures: dict[Future[RunResult], int] = {
            pool.submit(_run_one, i, c): i for i, c in enumerate(configs)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.25, return_when=FIRST_COMPLETED)
            for f in done:
                i = futures[f]
                r = f.result()
                results[i] = r
                progress.finished(i, round(r.metrics.real_s * 1e9), r.metrics.page_events)
            for i in range(len(configs)):
                d, t, ns, ev = slots[4 * i:4 * i + 4]
                if t:
                    progress.update(i, int(d), int(t), int(ns), int(ev))
            progress.tick()
