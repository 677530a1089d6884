"""``vswap host run|cleanup|check``: the model's workloads on this host's real kernel."""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from vswap.errors import ConfigError
from vswap.kernel.errors import DataLossError
from vswap.log import logger
from vswap.report.tables import format_number
from vswap.units import parse_size


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("host", help="run a workload on this host's real kernel (root)",
                       description="Run model workloads on the real kernel of this host, "
                                   "in a real cgroup with a real swap file or zram device "
                                   "(needs root); undo what a killed run left; check that "
                                   "the machine is clean.")
    hs = p.add_subparsers(dest="host_command", metavar="ACTION", parser_class=type(p))
    r = hs.add_parser("run", help="run one workload on the host kernel")
    add_host_run_options(r)
    r.add_argument("--json", default=None, metavar="FILE", help="write a result file")
    r.set_defaults(func=_run)
    c = hs.add_parser("cleanup", help="undo what a host run left on the machine")
    c.set_defaults(func=_cleanup)
    k = hs.add_parser("check", help="say whether the machine is clean of host runs")
    k.set_defaults(func=_check)
    def usage(args: argparse.Namespace) -> int:
        p.print_help()
        return 2

    p.set_defaults(func=usage)


def add_host_run_options(p: argparse.ArgumentParser) -> None:
    """The run flags host runs share with ``vswap parity``."""
    p.add_argument("--workload", default="usemem -n 4 -O 64M",
                   help="usemem, pattern, pageout or swapoff command line (as vswap run)")
    p.add_argument("--memory-max", default=None, help="memory.max of the workload's cgroup")
    p.add_argument("--swap-device", action="append", default=None,
                   help="file:SIZE or zram:SIZE[,comp=ALGO] (repeatable); default file:1G")
    p.add_argument("--zswap", default="off", help="zswap compressor (lzo, lz4, ...) or off")
    p.add_argument("--cpus", default=None, help="CPU set for the workload (0-1, 0,2); "
                                                "default: every CPU")
    p.add_argument("--sample-ms", type=int, default=5,
                   help="sampling interval of /proc/swaps and zswap/zram sizes (default 5)")


def host_config_from_args(args: argparse.Namespace) -> object:
    from vswap.host.runner import HostRunConfig, parse_cpu_set
    from vswap.run.context import parse_device_spec
    from vswap.workloads import parse_workload

    parse_workload(args.workload)
    mem_max = None
    if args.memory_max not in (None, "max"):
        mem_max = parse_size(args.memory_max, what="--memory-max")
    devices = []
    for text in args.swap_device or ["file:1G"]:
        spec = parse_device_spec(text)
        if spec is not None:
            if spec.backing == "mem":
                raise ConfigError(f"--swap-device {text}: mem: devices exist only in the "
                                  "model (host runs take file:SIZE or zram:SIZE)")
            devices.append(spec)
    zswap = None if args.zswap in ("off", "none", "0") else args.zswap
    if args.sample_ms < 1:
        raise ConfigError(f"--sample-ms must be at least 1, not {args.sample_ms}")
    return HostRunConfig(workload=args.workload, memory_max=mem_max, swap_devices=devices,
                         zswap=zswap, cpus=parse_cpu_set(args.cpus),
                         sample_ms=args.sample_ms)


def _run(args: argparse.Namespace) -> int:
    from vswap.host.runner import require_root, run_host
    from vswap.report.result import save_results

    require_root()
    config = host_config_from_args(args)
    r = run_host(config)  # type: ignore[arg-type]
    console = Console()
    for line in r.report:
        console.print(line, highlight=False)
    console.print(f"kernel {r.configuration['kernel']}, cgroup "
                  f"v{r.kernel_stats['host']['cgroup_version']}", highlight=False)
    for key in ("real_s", "user_s", "sys_s", "throughput_kbps", "free_time_s"):
        console.print(f"{key:>16} {format_number(getattr(r.metrics, key))}", highlight=False)
    for key in ("pgfault", "pgmajfault", "pswpout", "pswpin", "zswpout", "zswpin", "zswpwb",
                "swpout_zero", "swpin_zero", "swap_ra", "swap_ra_hit"):
        console.print(f"{key:>16} {r.vmstat.get(key, 0):,}", highlight=False)
    for d in r.devices:
        console.print(f"{d['name']:>16} peak {d['peak_used_pages']:,} of "
                      f"{d['size_pages']:,} pages", highlight=False)
    if r.swapoff:
        console.print(f"         swapoff real {r.swapoff['real_s']:.6f} s, sys "
                      f"{r.swapoff['sys_s']:.6f} s, {r.swapoff['pages_read']:,} pages read",
                      highlight=False)
    if r.kernel_stats["host"]["foreign_swap"]:
        logger.warning("other swap devices were on during the run: %s",
                       ", ".join(r.kernel_stats["host"]["foreign_swap"]))
    if args.json:
        save_results(args.json, [r])
    if r.data_loss:
        raise DataLossError(f"{r.data_loss} pages read back wrong on the host")
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from vswap.host.runner import require_root
    from vswap.host.state import cleanup

    require_root("vswap host cleanup")
    report = cleanup()
    for what in report.undone:
        print(what)
    for err in report.errors:
        sys.stderr.write(f"vswap: cleanup: {err}\n")
    if not report.undone and not report.errors:
        print("nothing to clean up")
    return 1 if report.errors else 0


def _check(args: argparse.Namespace) -> int:
    from vswap.host.check import check_machine
    from vswap.host.runner import require_root

    require_root("vswap host check")
    result = check_machine()
    print("clean" if result.clean else "NOT CLEAN")
    for p in result.problems:
        print(f"  {p}")
    swaps = result.info["swaps"]
    print("swaps: " + (", ".join(f"{k} ({v})" for k, v in swaps.items()) or "none"))
    z = result.info["zswap"]
    print("zswap: " + (" ".join(f"{k}={v}" for k, v in z.items()) if isinstance(z, dict)
                       else z))
    for dev, st in result.info["zram"].items():
        print(f"{dev}: {st}")
    return 0 if result.clean else 1
