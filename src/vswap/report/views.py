"""A run's kernel-format views, rebuilt from its result file exactly as the kernel prints them.

Models the same printers as :mod:`vswap.mm.procfs` (which prints them from a live machine):
``vmstat_show`` (``/proc/vmstat``: ``name value``), ``meminfo_proc_show`` (``/proc/meminfo``:
the label padded to 16 columns, the value right-aligned in 8, then `` kB``; the kernel's
``show_val_kb``), ``swap_show`` (``/proc/swaps``: tab-separated columns under the
``Filename Type Size Used Priority`` header, the filename padded to 40) and
``memory_stat_format`` (``memory.stat``: ``name value``), plus zswap's debugfs counters
(``/sys/kernel/debug/zswap/``, one ``name value`` line per file, as
``for f in *; do echo $f $(cat $f); done`` prints them). For the same machine state the text
is byte-for-byte what the live machine prints; tests check that.

A result holds the views twice: at the end of the run (the top-level fields) and at the
moment the most pages were swapped out (``peak``); :func:`at_peak` gives a run whose views
are the peak's, so every formatter works on either.
"""

from __future__ import annotations

import dataclasses

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.report.collect import run_zswap
from vswap.report.result import RunResult

__all__ = ["MOMENTS", "VIEWS", "at_peak", "format_meminfo", "format_memory_stat",
           "format_swaps", "format_view", "format_vmstat", "format_zswap"]

#: The views ``vswap stat --view`` offers, in the order ``all`` prints them.
VIEWS = ("vmstat", "meminfo", "swaps", "memory.stat", "zswap")
#: The moments ``vswap stat --at`` offers.
MOMENTS = ("end", "peak")


def at_peak(run: RunResult, source: str = "result") -> RunResult:
    """``run`` with its views taken at the peak (``run.peak``) instead of the end.

    Raises:
        ConfigError: the result has no peak views (written before they were recorded).
    """
    peak = run.peak
    if not peak:
        raise ConfigError(f"{source}: the {run.design} run has no views at the peak (an older "
                          "result file); use --at end")
    return dataclasses.replace(run, vmstat=dict(peak.get("vmstat", {})),
                               meminfo=dict(peak.get("meminfo", {})),
                               devices=list(peak.get("devices", [])),
                               cgroups=dict(peak.get("cgroups", {})),
                               kernel_stats={**run.kernel_stats,
                                             "zswap": dict(peak.get("zswap", {}))})


def format_vmstat(run: RunResult) -> str:
    """``/proc/vmstat``: one ``name value`` line per counter, in the recorded order."""
    return "".join(f"{k} {v}\n" for k, v in run.vmstat.items())


def format_meminfo(run: RunResult) -> str:
    """``/proc/meminfo``: ``Name:`` padded to 16 columns, the kB value in 8, then `` kB``."""
    return "".join(f"{k + ':':<16}{v:>8} kB\n" for k, v in run.meminfo.items())


def format_swaps(run: RunResult) -> str:
    """``/proc/swaps`` with the kernel's header, tabs and 40-column filename padding."""
    kb = PAGE_SIZE // 1024
    lines = ["Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"]
    for d in run.devices:
        name = str(d.get("name", "?"))
        dtype = d.get("type") or ("file" if "file" in (d.get("backing"), d.get("kind"))
                                  else "partition")
        size = int(d.get("size_pages", 0)) * kb
        used = int(d.get("used_pages", 0)) * kb
        pad = 40 - len(name) if len(name) < 40 else 1
        lines.append(f"{name}{' ' * pad}{dtype}\t{size}\t"
                     f"{chr(9) if size < 10000000 else ''}{used}\t"
                     f"{chr(9) if used < 10000000 else ''}{d.get('prio', -1)}\n")
    return "".join(lines)


def format_memory_stat(run: RunResult, cgroup: str) -> str:
    """``memory.stat`` of ``cgroup``: one ``name value`` line per item, kernel order.

    Raises:
        ConfigError: the result has no such cgroup (the message lists the ones it has).
    """
    files = run.cgroups.get(cgroup)
    if files is None:
        raise ConfigError(f"no cgroup {cgroup!r} in the {run.design} run "
                          f"(it has: {', '.join(run.cgroups) or 'none'})")
    stat = files.get("memory.stat", {})
    return "".join(f"{k} {v}\n" for k, v in stat.items())


def format_zswap(run: RunResult) -> str:
    """zswap's debugfs counters, one ``name value`` line per file (empty without zswap)."""
    return "".join(f"{k} {v}\n" for k, v in run_zswap(run).items())


def format_view(run: RunResult, view: str, cgroup: str | None = None) -> str:
    """One view by name (:data:`VIEWS`). ``memory.stat`` without ``cgroup`` prints every
    cgroup of the run, each under a ``# <path>/memory.stat`` line.

    Raises:
        ConfigError: unknown view or cgroup.
    """
    if view == "vmstat":
        return format_vmstat(run)
    if view == "meminfo":
        return format_meminfo(run)
    if view == "swaps":
        return format_swaps(run)
    if view == "zswap":
        return format_zswap(run)
    if view == "memory.stat":
        if cgroup is not None:
            return format_memory_stat(run, cgroup)
        parts = []
        for path in run.cgroups:
            parts.append(f"# {path.rstrip('/')}/memory.stat\n")
            parts.append(format_memory_stat(run, path))
        return "".join(parts)
    raise ConfigError(f"unknown view {view!r} (views: {', '.join(VIEWS)}, all)")
