"""``vswap soak --minutes N --seed S [--design D,...]``: random workloads with random faults.

Runs :func:`vswap.reliability.soak` on each design for an equal share of the wall time, with
the integrity oracle on, and prints per design the pages verified, the faults injected and
survived (by point; a fault counts as survived when a full check passed after it), operations
per second and pages verified per second (byte for byte by the harness, and by hash by the
machine's integrity oracle). Stops at the first failure, naming it: exit 3 for data loss or a
leak, 1 for a broken invariant or an illegitimate task death, else 0.
"""

from __future__ import annotations

import argparse
import sys

from vswap.errors import ConfigError
from vswap.kernel.faults import FAULT_POINTS
from vswap.reliability import soak
from vswap.swap import DESIGNS
from vswap.units import SEED_RANGE, seed_arg


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("soak", help="random workloads with injected faults; fail on loss or leak",
                       description="Run random operations (writes, reads, fork, exit, munmap, "
                                   "MADV_PAGEOUT, memory.reclaim, zswap writeback, swapon, "
                                   "swapoff, limit changes) with injected faults on every "
                                   "design, checking every page and reference count.")
    p.add_argument("--minutes", required=True,
                   help="total wall time in minutes (shared equally by the designs)")
    p.add_argument("--seed", type=seed_arg, default=1,
                   help=f"random seed, {SEED_RANGE[0]}..{SEED_RANGE[1]} (default 1)")
    p.add_argument("--design", default=",".join(DESIGNS),
                   help=f"comma list of designs (default {','.join(DESIGNS)})")
    p.set_defaults(func=run)


def _minutes(text: str) -> float:
    try:
        value = float(text) if len(text) <= 24 else None
    except ValueError:
        value = None
    if value is None:
        raise ConfigError(f"--minutes: {text!r} is not a number")
    if not 0 < value <= 7 * 24 * 60:
        raise ConfigError(f"--minutes: {text!r} is not in (0, 10080]")
    return value


def run(args: argparse.Namespace) -> int:
    minutes = _minutes(args.minutes)
    designs = [d.strip() for d in str(args.design).split(",") if d.strip()]
    if not designs:
        raise ConfigError("--design: no design given")
    for d in designs:
        if d not in DESIGNS:
            raise ConfigError(f"--design: unknown swap design {d!r} (known: {', '.join(DESIGNS)})")
    share = minutes * 60 / len(designs)
    status = 0
    print(f"soak: {minutes:g} min, seed {args.seed}, {share:.0f} s per design, "
          f"verification on")
    for d in designs:
        r = soak(d, seconds=share, seed=args.seed)
        inj = sum(r.injected.values())
        surv = sum(r.survived.values())
        print(f"{d:14s} machines {r.machines:5d}  ops {r.ops:9d}  pages verified "
              f"{r.pages_verified + r.oracle_checked:10d} ({r.pages_verified} byte for byte, "
              f"{r.oracle_checked} by the oracle's hash)  faults injected {inj:7d} survived "
              f"{surv:7d}  ops/s {r.ops_per_s:8.0f}  pages verified/s {r.verified_per_s:8.0f}")
        print("  faults by point: " + ", ".join(
            f"{p} {r.injected[p]}/{r.survived[p]}" for p in FAULT_POINTS))
        print(f"  task deaths: {r.deaths or 'none'}; swapoff interrupted "
              f"{r.swapoff_interrupted}, retried to completion {r.swapoff_retried_ok}")
        if r.failure:
            what = {"loss": "DATA LOSS", "leak": "LEAK"}.get(r.failure_kind, "soak FAILED")
            status = 3 if r.failure_kind in ("loss", "leak") else 1
            sys.stdout.flush()
            sys.stderr.write(f"vswap: {what} on {d}: {' '.join(r.failure.split())}\n")
            break
    sys.stdout.flush()
    return status
