"""``vswap xcheck libcachesim TRACE --memory SIZE``: the model's faults against libCacheSim.

Replays a trace in the model under each idealised reclaim policy (``--reclaim lru``, ``fifo``,
``clock``: exact policies, no readahead, reclaim on demand; docs/traces.md) with
``memory.max`` = SIZE, no zswap and a memory swap device that holds every page, and in
libCacheSim (the ``libcachesim`` package: Python bindings of the C simulator) with the same
policy and a cache of SIZE / 4 KiB objects, fed the same page numbers as an oracleGeneral
trace. A page's first touch is a miss in libCacheSim and a first-touch (minor) fault in the
model, so the model's misses are its major faults plus the trace's distinct pages. Prints both
per policy, and the kernel policy's (``linux``) major faults beside them; exits 1 when an
idealised policy disagrees.
"""

from __future__ import annotations

import argparse
import json
import shlex
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.swap import DESIGNS, design_class
from vswap.trace import FORMATS, write_oracle_general
from vswap.units import format_size, parse_size

#: Idealised policies libCacheSim has by the same name (its Clock: 1-bit, initial freq 0).
XCHECK_POLICIES = ("lru", "fifo", "clock")
#: The ``libcachesim`` release the cross-check is pinned to (pyproject's ``xcheck`` extra).
LIBCACHESIM_VERSION = "0.3.5"


@dataclass
class XcheckRow:
    """One policy at one memory size: the model's faults and libCacheSim's misses."""

    policy: str
    memory_pages: int
    requests: int
    distinct_pages: int
    model_major_faults: int
    model_misses: int
    libcachesim_misses: int | None

    @property
    def agree(self) -> bool | None:
        if self.libcachesim_misses is None:
            return None
        return self.model_misses == self.libcachesim_misses


def _libcachesim() -> Any:
    try:
        import libcachesim
    except ImportError:
        raise ConfigError(
            f"xcheck needs the libcachesim package: .venv/bin/pip install "
            f"libcachesim=={LIBCACHESIM_VERSION} (or install vswap's xcheck extra: "
            f"pip install -e '.[xcheck]')") from None
    return libcachesim


def libcachesim_misses(oracle_path: str, policy: str, pages: int) -> tuple[int, int]:
    """(requests, misses) of libCacheSim's ``policy`` with a cache of ``pages`` objects of
    size 1 on an oracleGeneral trace."""
    lcs = _libcachesim()
    cls = {"lru": lcs.LRU, "fifo": lcs.FIFO, "clock": lcs.Clock}[policy]
    cache = cls(pages)
    reader = lcs.TraceReader(oracle_path, lcs.TraceType.ORACLE_GENERAL_TRACE)
    n = reader.get_num_of_req()
    miss_ratio, _ = cache.process_trace(reader)
    return int(n), round(miss_ratio * n)


def workload_command(trace: str, fmt: str | None, window: str | None,
                     sample: str | None) -> str:
    cmd = ["trace", trace]
    if fmt:
        cmd += ["--format", fmt]
    if window:
        cmd += ["--window", window]
    if sample:
        cmd += ["--sample", sample]
    return shlex.join(cmd)


def xcheck(trace: str, memory: int, *, design: str = "classic", fmt: str | None = None,
           window: str | None = None, sample: str | None = None,
           policies: tuple[str, ...] = XCHECK_POLICIES, kernel: bool = True,
           jobs: int | None = None) -> tuple[list[XcheckRow], int | None]:
    """Run the cross-check; returns the rows and the kernel policy's major faults (None when
    ``kernel`` is false).

    Raises:
        ConfigError: bad trace, size or design; libcachesim missing.
    """
    from vswap.cli._runopts import run_all
    from vswap.run.context import DeviceSpec, RunConfig
    from vswap.workloads import parse_workload
    from vswap.workloads.trace import TraceWorkload, _events

    design_class(design)
    pages = memory // PAGE_SIZE
    if pages < 1:
        raise ConfigError(f"xcheck --memory {memory}: less than one page")
    command = workload_command(trace, fmt, window, sample)
    wl = parse_workload(command)
    assert isinstance(wl, TraceWorkload)
    distinct = len(wl.layout.pages)
    swap = distinct * PAGE_SIZE + (4 << 20)
    device = DeviceSpec("mem", swap - swap % PAGE_SIZE, "zram")
    runs = [*policies, *(("linux",) if kernel else ())]
    configs = [RunConfig(design=design, workload=command, memory_max=pages * PAGE_SIZE,
                         swap_devices=[device], zswap=None, reclaim=p, timeline_samples=0)
               for p in runs]
    _libcachesim()
    with tempfile.TemporaryDirectory(prefix="vswap-xcheck-") as tmp:
        oracle = str(Path(tmp) / "trace.oracleGeneral.bin")
        requests = write_oracle_general(
            oracle, _events(wl.path, wl.fmt, wl.start_event, wl.count, wl.rate))
        lcs = {p: libcachesim_misses(oracle, p, pages) for p in policies}
    results = run_all(configs, jobs=jobs)
    rows = []
    for p, r in zip(runs, results, strict=True):
        if p == "linux":
            continue
        major = int(r.vmstat.get("pgmajfault", 0))
        n, misses = lcs[p]
        if n != requests:
            raise ConfigError(f"libCacheSim read {n} requests of {requests}")
        rows.append(XcheckRow(p, pages, requests, distinct, major, major + distinct, misses))
    linux = int(results[-1].vmstat.get("pgmajfault", 0)) if kernel else None
    return rows, linux


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``xcheck`` subcommand."""
    p = subparsers.add_parser(
        "xcheck", help="cross-check the model's faults against libCacheSim on a trace",
        description="Replay a trace in the model under the idealised reclaim policies and "
                    "in libCacheSim with the same policy and capacity; exit 1 if any "
                    "disagrees.")
    p.add_argument("peer", choices=["libcachesim"], help="the simulator to check against")
    p.add_argument("trace", metavar="TRACE", help="a trace file (docs/traces.md)")
    p.add_argument("--memory", required=True, action="append", metavar="SIZE",
                   help="memory for the trace's pages (memory.max; libCacheSim's cache "
                        "size in 4 KiB pages); repeatable")
    p.add_argument("--format", default=None, choices=FORMATS, dest="fmt")
    p.add_argument("--design", default="classic", help=f"the design ({', '.join(DESIGNS)})")
    p.add_argument("--policy", default=",".join(XCHECK_POLICIES),
                   help="comma list of idealised policies (default lru,fifo,clock)")
    p.add_argument("--window", default=None, metavar="START:COUNT")
    p.add_argument("--sample", default=None, metavar="RATE")
    p.add_argument("--no-kernel", action="store_true",
                   help="skip the run under the kernel's own LRU")
    p.add_argument("--jobs", type=int, default=None, help="parallel runs (default: CPUs)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the rows as JSON")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    policies = tuple(x.strip() for x in args.policy.split(",") if x.strip())
    for pol in policies:
        if pol not in XCHECK_POLICIES:
            raise ConfigError(f"--policy {pol!r}: one of {', '.join(XCHECK_POLICIES)}")
    if not policies:
        raise ConfigError("--policy: no policy given")
    out: list[dict[str, Any]] = []
    bad = 0
    print(f"{'memory':>8} {'policy':>6} {'requests':>9} {'pages':>7} {'model majflt':>12} "
          f"{'model misses':>12} {'libCacheSim':>11}  verdict")
    for text in args.memory:
        memory = parse_size(text, what="--memory")
        rows, linux = xcheck(args.trace, memory, design=args.design, fmt=args.fmt,
                             window=args.window, sample=args.sample, policies=policies,
                             kernel=not args.no_kernel, jobs=args.jobs)
        for row in rows:
            verdict = "agree" if row.agree else "DISAGREE"
            bad += not row.agree
            print(f"{format_size(memory):>8} {row.policy:>6} {row.requests:>9} "
                  f"{row.distinct_pages:>7} {row.model_major_faults:>12} "
                  f"{row.model_misses:>12} {row.libcachesim_misses:>11}  {verdict}")
            out.append(asdict(row) | {"memory": memory, "design": args.design,
                                      "agree": row.agree})
        if linux is not None:
            print(f"{format_size(memory):>8} {'linux':>6} {rows[0].requests if rows else 0:>9} "
                  f"{rows[0].distinct_pages if rows else 0:>7} {linux:>12} "
                  f"{linux + (rows[0].distinct_pages if rows else 0):>12} {'-':>11}  "
                  f"(the kernel's LRU, for reference)")
            out.append({"policy": "linux", "memory": memory, "design": args.design,
                        "model_major_faults": linux})
    if args.json:
        Path(args.json).write_text(json.dumps({"trace": args.trace, "rows": out}, indent=1))
    if bad:
        print(f"vswap xcheck: {bad} disagreement{'s' if bad > 1 else ''}")
        return 1
    return 0
