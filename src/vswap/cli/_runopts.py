"""Options shared by ``vswap run`` and ``vswap compare``, and the runner with progress."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from rich.console import Console
from rich.table import Table

from vswap.errors import ConfigError
from vswap.report.result import RunResult
from vswap.run.context import DeviceSpec, RunConfig, check_fits, default_jobs, parse_device_spec
from vswap.swap import DESIGNS, design_class
from vswap.units import parse_size
from vswap.workloads import parse_workload

#: Defaults of the run flags when no --config file is given.
RUN_DEFAULTS = {"workload": "usemem -n 4 -O 64M", "swap_device": ["file:1G"], "zswap": "off",
                "cpus": 4, "seed": 1}


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
                   help="file:SIZE[:KIND] or mem:SIZE[:KIND] (repeatable), or none; "
                        "default file:1G (KIND: nvme, ssd, hdd, pmem, zram, remote)")
    p.add_argument("--zswap", default=None, help="zswap compressor (lz4, zstd, ...) or off "
                                                  "(default off)")
    p.add_argument("--cpus", type=int, default=None, help="simulated CPUs (default 4)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default 1)")
    p.add_argument("--scale", type=float, default=None,
                   help="with --config: multiply every size of the configuration and of its "
                        "workloads' command lines (default: the config's scale)")
    p.add_argument("--no-verify", action="store_true",
                   help="do not check pages read back (faster)")
    p.add_argument("--json", default=None, metavar="FILE", help="write a result file")


def designs_from(text: str) -> list[str]:
    names = [d.strip() for d in text.split(",") if d.strip()]
    if not names:
        raise ConfigError("--design: no design given")
    for d in names:
        design_class(d)  # ConfigError naming the known ones
    return names


def _configs_from_file(args: argparse.Namespace) -> list[RunConfig]:
    """--config FILE: load it, apply the flags that were given, one run per design."""
    from vswap.config import apply_overrides, load_config
    from vswap.run.fromconfig import run_configs_from_file

    cf = load_config(args.config, parse_workload=parse_workload)
    cf = apply_overrides(
        cf, design=args.design, workload=args.workload, memory_max=args.memory_max,
        swap_device=args.swap_device, zswap=args.zswap, cpus=args.cpus, ram=args.ram,
        seed=args.seed, scale=args.scale, verify=False if args.no_verify else None)
    return run_configs_from_file(cf)


def configs_from_args(args: argparse.Namespace) -> list[RunConfig]:
    """One RunConfig per design; every bad input is refused here, before anything runs."""
    if args.config is not None:
        return _configs_from_file(args)
    if args.scale is not None:
        raise ConfigError("--scale: only with --config (size the workload and devices "
                          "directly otherwise)")
    for key, value in RUN_DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    designs = designs_from(args.design or args.default_design)
    if args.cpus < 1:
        raise ConfigError(f"--cpus must be a positive number, not {args.cpus}")
    parse_workload(args.workload)
    mem_max = None
    if args.memory_max is not None and args.memory_max != "max":
        mem_max = parse_size(args.memory_max, what="--memory-max")
    ram = parse_size(args.ram, what="--ram") if args.ram is not None else None
    devices: list[DeviceSpec] = []
    for text in args.swap_device:
        spec = parse_device_spec(text)
        if spec is not None:
            devices.append(spec)
    zswap = None if args.zswap in ("off", "none", "0") else args.zswap
    if zswap is not None:
        from vswap.sim.costs import COMPRESSORS
        if zswap not in COMPRESSORS:
            raise ConfigError(f"--zswap: unknown compressor {zswap!r} "
                              f"(known: {', '.join(COMPRESSORS)}, or off)")
    return [RunConfig(design=d, workload=args.workload, memory_max=mem_max, ram=ram,
                      swap_devices=list(devices), zswap=zswap, cpus=args.cpus,
                      seed=args.seed, verify=not args.no_verify) for d in designs]


def _run_one(config: RunConfig) -> RunResult:
    from vswap.run.context import run_workload
    return run_workload(config)


def run_all(configs: Sequence[RunConfig], *, jobs: int | None = None,
            describe: Callable[[RunConfig], str] = lambda c: c.design) -> list[RunResult]:
    """Run every config (in parallel processes when there are several), with a progress bar
    on stderr when it is a terminal. Refuses up front what would not fit in memory."""
    if jobs is not None and jobs < 0:
        raise ConfigError(f"--jobs: {jobs} is negative (0 or absent: one per CPU)")
    jobs = min(jobs or default_jobs(), len(configs)) or 1
    for c in configs:
        if c.config_file is not None:
            continue  # checked per workload when the run starts
        wl = parse_workload(c.workload)
        if wl.needs_device() and c.swap_devices and hasattr(wl, "set_device_bytes"):
            wl.set_device_bytes(c.swap_devices[0].size)
        check_fits(wl, c, parallel=jobs)
    show = sys.stderr.isatty()
    progress: Any = None
    if show:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
        progress = Progress(TextColumn("{task.description}"), BarColumn(),
                            TextColumn("{task.completed}/{task.total} runs"),
                            TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        progress.start()
        bar = progress.add_task("running", total=len(configs))
    results: list[RunResult | None] = [None] * len(configs)
    try:
        if jobs == 1:
            for i, c in enumerate(configs):
                if progress is not None:
                    progress.update(bar, description=f"running {describe(c)}")
                results[i] = _run_one(c)
                if progress is not None:
                    progress.advance(bar)
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(_run_one, c) for c in configs]
                for i, f in enumerate(futures):
                    results[i] = f.result()
                    if progress is not None:
                        progress.advance(bar)
    finally:
        if progress is not None:
            progress.stop()
    return [r for r in results if r is not None]


def fmt(v: float, key: str) -> str:
    if key.endswith("_kbps") or key.endswith("per_wall_s"):
        return f"{v:,.0f}"
    if key.endswith("_s"):
        return f"{v:.6f}" if v < 1 else f"{v:.3f}"
    return f"{v:,}" if isinstance(v, int) else f"{v:.4g}"


METRIC_ROWS = ("real_s", "user_s", "sys_s", "spin_s", "throughput_kbps", "free_time_s",
               "page_events", "wall_s", "page_events_per_wall_s")
VMSTAT_ROWS = ("pgfault", "pgmajfault", "pswpout", "pswpin", "zswpout", "zswpin", "zswpwb",
               "swpout_zero", "swpin_zero", "pgsteal_direct", "oom_kill")


def side_by_side(results: Sequence[RunResult], title: str) -> Table:
    """A rich table, one column per design."""
    table = Table(title=title)
    table.add_column("")
    for r in results:
        table.add_column(r.design, justify="right")
    for key in METRIC_ROWS:
        table.add_row(key, *[fmt(getattr(r.metrics, key), key) for r in results])
    if any(r.swapoff for r in results):
        for key in ("real_s", "sys_s", "ptes_visited", "pages_read"):
            table.add_row(f"swapoff {key}",
                          *[fmt(r.swapoff.get(key, 0), key) for r in results])
    for key in VMSTAT_ROWS:
        table.add_row(key, *[f"{r.vmstat.get(key, 0):,}" for r in results])
    classes = sorted({c for r in results for c in r.locks})
    for c in classes:
        table.add_row(f"lock {c} acq/cont", *[
            f"{r.locks[c]['acquisitions']:,}/{r.locks[c]['contentions']:,}"
            if c in r.locks else "-" for r in results])
        table.add_row(f"lock {c} wait", *[
            fmt(r.locks[c]["wait_ns"] / 1e9, "_s") if c in r.locks else "-" for r in results])
    table.add_row("peak device pages", *[
        f"{sum(d['peak_used_pages'] for d in r.devices):,}" for r in results])
    table.add_row("swap metadata bytes", *[f"{sum(r.metadata_bytes.values()):,}"
                                           for r in results])
    table.add_row("verified pages", *[f"{r.verified_pages:,}" for r in results])
    table.add_row("data loss", *[str(r.data_loss) for r in results])
    return table
