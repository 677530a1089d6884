"""``vswap calibrate --host``: the cost table fitted to this host's kernel.

Models: nothing; it measures the kernel the model models. The fit, step by step:

1. Each calibration spec (:data:`CAL_SPECS`) varies one thing from its neighbours: no swap
   at all (faults, zero-fill, unmap/free), a swap file with incompressible pages (reclaim
   scan, swap-out and swap-in I/O), the same written but never read back (swap-out only),
   zero pages (zero detection, no I/O), zswap with each compressor both the host and the
   model have (lzo, deflate), zram with two compressors (lzo, lz4), incompressible pages
   on zswap and zram, swapoff of each device with the tasks alive, and swapoff of a
   swap file whose pages left the swap cache (one-page reads, each slept on: a
   request's and a sleep's cost apart from a bio's). ``MADV_PAGEOUT``
   is not a spec: the first calibration's model freed the pages it wrote and read them
   back where 6.18 keeps them in the swap cache; since the model keeps them too
   (main@1347393) a pageout spec would price the same work on both sides, but none has
   been measured yet.
2. Each spec runs ``repeats`` times on the host (:func:`vswap.host.runner.run_host`); its
   kernel sys time is the workload's sys time plus kswapd's (``/proc/PID/stat`` stime), the
   median over repeats (the machine is shared: CPU time, not wall time, and medians).
3. Each spec runs once on the model (:data:`MODEL_DESIGN`) at ``model_scale`` of the host's
   sizes with a :class:`~vswap.run.charge.TallyingRecorder`: the tally says how many times
   each cost entry was charged, scaled back to the host's size. The model's sys time is
   ``tally · costs`` plus what no entry prices (spin, zram's modelled service time).
4. Parameters are groups of entries scaled together (:data:`PARAMETERS`; lzo's and
   lz4's decompression are parameters of their own, told from compression by the swapoff
   calls, which only decompress; deflate's two entries scale together); a non-negative
   least-squares fit of the group scales, on relative errors, makes the model's sys time
   match the kernel's over all targets: each spec's whole run, and each swapoff spec's
   swapoff call alone (the host's ``swapoff`` sys time against the model's tally between
   the workload's ``swapoff_begin`` and ``swapoff_end`` marks). No prior pulls a scale
   toward its published value (it would bias a scale far from 1); a scale at the bound 0
   says the specs give that step no time of its own.
   Entries in no group keep their value.
5. The residual of each spec, model sys at the fitted table against the kernel's, is
   printed and kept with the fit, beside its residual under a fit made without that spec
   (leave-one-out: the out-of-sample check).

The fit uses the kernel's counters twice: the per-spec sys time per swapped page
(``pswpout + zswpout + swpout_zero`` and the swap-ins, from ``/proc/vmstat``) is printed
for host and model, and each spec's model counters sit beside the host's in the fit's
record, so a parameter that absorbed a count difference (the model scanning fewer pages
than the kernel) can be seen. Nothing is fitted to the RFC's ratios.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vswap.errors import ConfigError
from vswap.kernel.types import PAGE_SIZE
from vswap.sim.costs import BUILTIN_COSTS, CostTable

__all__ = ["CAL_SPECS", "MODEL_DESIGN", "PARAMETERS", "CalSpec", "Fit", "SpecSample",
           "cost_file", "fit", "host_cgroup_version", "model_sample", "nnls", "spec_named",
           "swapped_pages"]


@dataclass(frozen=True)
class CalSpec:
    """One calibration run: a workload at ``{size}`` in a limit of ``limit`` x size."""

    name: str
    workload: str
    varies: str
    device: str = "file:1G"
    zswap: str | None = None
    #: memory.max as a fraction of the data size (None: no limit).
    limit: float | None = 0.5

    def command(self, size: int) -> str:
        return self.workload.format(size=f"{size // 1024}K")

    def device_spec(self, size: int) -> str:
        """The swap device, ``{size}`` in it replaced by the data size (swapoff's device
        is as large as the data, so half of it fills at ``--fill 0.5``)."""
        return self.device.format(size=f"{size // 1024}K")

    def memory_max(self, size: int) -> int | None:
        if self.limit is None:
            return None
        m = int(size * self.limit)
        return m - m % PAGE_SIZE


#: The host runs of a calibration, one thing varied at a time (see the module docstring).
CAL_SPECS: tuple[CalSpec, ...] = (
    CalSpec("noswap", "pattern --size {size} --content usemem", "no swapping: fault, "
            "zero-fill, unmap and free", limit=None),
    CalSpec("file", "pattern --size {size} --content random", "swap file: reclaim scan, "
            "swap-out and swap-in"),
    CalSpec("file-out", "usemem -n 1 {size}", "swap file, written and never read back: "
            "swap-out only"),
    CalSpec("zero", "pattern --size {size} --content zero", "zero pages: zero detection, "
            "no I/O"),
    CalSpec("zswap-lzo", "pattern --size {size} --content text", "zswap, lzo",
            zswap="lzo"),
    CalSpec("zswap-deflate", "pattern --size {size} --content text", "zswap, deflate",
            zswap="deflate"),
    CalSpec("zram-lzo", "pattern --size {size} --content text", "zram, lzo",
            device="zram:1G,comp=lzo"),
    CalSpec("zram-lz4", "pattern --size {size} --content text", "zram, lz4",
            device="zram:1G,comp=lz4"),
    CalSpec("zswap-lzo-random", "pattern --size {size} --content random",
            "zswap, lzo on incompressible pages (stored as they are by 6.18)", zswap="lzo"),
    CalSpec("zram-lz4-random", "pattern --size {size} --content random",
            "zram, lz4 on incompressible pages (stored as they are)",
            device="zram:1G,comp=lz4"),
    CalSpec("swapoff-file", "swapoff --fill 0.5 --tasks 4 --unrelated {size}",
            "swapoff of a swap file half full, four tasks alive", device="file:{size}"),
    CalSpec("swapoff-file-cold", "swapoff --fill 0.5 --tasks 4 --unrelated {size}",
            "swapoff of a swap file half full whose pages left the swap cache (a limit of "
            "half the fill): most reads are one page a request", device="file:{size}",
            limit=0.25),
    CalSpec("swapoff-zswap", "swapoff --fill 0.5 --tasks 4 --unrelated {size}",
            "swapoff with the pages in zswap (lzo)", device="file:{size}", zswap="lzo"),
    CalSpec("swapoff-zram", "swapoff --fill 0.5 --tasks 4 --unrelated {size}",
            "swapoff of a zram device (lz4)", device="zram:{size},comp=lz4"),
)

#: Fitted parameters: name -> the cost entries it scales together (and what it stands for).
PARAMETERS: dict[str, tuple[tuple[str, ...], str]] = {
    "fault": (("fault_entry_exit",), "a page fault's entry, dispatch and exit"),
    "reclaim_scan": (("rmap_walk",), "reclaim per page scanned (folio_referenced's rmap "
                                     "walk) and per page unmapped"),
    "zero_check": (("zero_check",), "zero detection per page swapped out"),
    "swap_io": (("io_submit", "io_complete"), "swap file I/O per request (dispatch "
                                               "and completion)"),
    "swap_bio": (("io_bio",), "swap file I/O per bio (one per folio read or written)"),
    "io_sleep": (("context_switch",), "a task's sleep on a read it submitted (switch out, "
                                      "wake-up, switch in)"),
    "swapin": (("swap_cache_lookup",), "the swap-in fault's swap-cache lookup and what "
                                       "else each swap-in costs"),
    "zram": (("io_submit_sync",), "zram's bio path per page"),
    # Compression and decompression are separate parameters: the swapoff calls of
    # swapoff-zswap (lzo) and swapoff-zram (lz4) decompress only, and the built-in table's
    # ratio between the two (timed through Python bindings) is not the kernel's.
    "lzo": (("compress_lzo",), "lzo compression"),
    "lzo_decompress": (("decompress_lzo",), "lzo decompression"),
    # One spec (zswap-deflate) prices deflate: its two entries scale together.
    "deflate": (("compress_deflate", "decompress_deflate"), "deflate"),
    "lz4": (("compress_lz4",), "lz4 compression"),
    "lz4_decompress": (("decompress_lz4",), "lz4 decompression"),
    "lzo_poor": (("compress_poor_lzo",), "lzo compression of a page it cannot shrink "
                                         "(6.18's zswap then stores the page as it is)"),
    "lz4_poor": (("compress_poor_lz4",), "lz4 compression of a page it cannot shrink "
                                         "(zram then stores it as a huge page)"),
    "swapoff_walk": (("pte_walk_per_pte",), "swapoff's page-table walk per PTE "
                                            "(unuse_pte_range)"),
}

#: The model design the calibration runs by default: the model of what the host kernel
#: (6.18) runs, swap table phase I.
MODEL_DESIGN = "swap-table-p1"


#: Weight of the pull of each fitted scale toward 1, against squared relative residuals:
#: 1e-3 lets a 3% better fit of one spec move a scale by 1.

#: Swap-out and swap-in counters (both sides' vmstat).
SWAP_OUT = ("pswpout", "zswpout", "swpout_zero")
SWAP_IN = ("pswpin", "zswpin", "swpin_zero")


def swapped_pages(vmstat: dict[str, int]) -> int:
    """Pages swapped out plus pages swapped in."""
    return sum(int(vmstat.get(k, 0)) for k in SWAP_OUT + SWAP_IN)


def priced_s(tally: dict[str, float], costs: CostTable) -> float:
    """What a cost-entry tally (entry -> times charged) costs at ``costs``, in seconds."""
    return float(sum(n * getattr(costs, k) for k, n in tally.items())) / 1e9


@dataclass
class SpecSample:
    """What one spec gave: the host's sys times (one per repeat) and the model's tally."""

    spec: str
    host_sys_s: list[float]
    #: cost entry -> times charged, at the host's size.
    tally: dict[str, float]
    #: model sys time not priced by any entry (spin, device service time), at host size.
    model_unpriced_s: float
    host_vmstat: dict[str, int] = field(default_factory=dict)
    model_vmstat: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    #: The 1-minute load average at the end of each host run (the machine is shared).
    host_loadavg: list[float] = field(default_factory=list)
    #: The ``swapoff`` call's own times of each host run of a swapoff spec (``real_s``,
    #: ``sys_s``): the swapoff time ratios between setups (docs/fidelity.md).
    host_swapoff: list[dict[str, float]] = field(default_factory=list)
    #: The model design and cgroup version of the model side.
    model_design: str = "classic"
    model_cgroup_version: int = 2
    #: A swapoff spec's swapoff call alone on the model side, at the host's size: the
    #: entries it charged (entry -> times) and its unpriced sys time. The fit matches the
    #: call's sys time to the host's (median of ``host_swapoff``) as a target of its own.
    swapoff_tally: dict[str, float] = field(default_factory=dict)
    swapoff_unpriced_s: float = 0.0
    #: Whether the host's swap file sat on a disk the kernel saw as rotational (None: not
    #: recorded, samples made before it was: this machine's disk is taken). A rotational
    #: swap file turns the kernel's VMA readahead off; the model's file gets the same flag.
    device_rotational: bool | None = None

    @property
    def host_s(self) -> float:
        return statistics.median(self.host_sys_s)

    @property
    def spread(self) -> float:
        """(max - min) / median of the repeats."""
        if len(self.host_sys_s) < 2 or self.host_s <= 0:
            return 0.0
        return (max(self.host_sys_s) - min(self.host_sys_s)) / self.host_s

    def model_s(self, costs: CostTable) -> float:
        return self.model_unpriced_s + priced_s(self.tally, costs)

    @property
    def host_swapoff_s(self) -> float | None:
        """The host's swapoff call sys time (median of the runs), None without one."""
        if not self.host_swapoff:
            return None
        return statistics.median(r["sys_s"] for r in self.host_swapoff)

    def model_swapoff_s(self, costs: CostTable) -> float:
        return self.swapoff_unpriced_s + priced_s(self.swapoff_tally, costs)

    def targets(self) -> list[Target]:
        """What the fit matches: the whole run's sys time, and a swapoff spec's swapoff
        call alone when both sides measured it."""
        out = [Target(self.spec, self.host_s, self.tally, self.model_unpriced_s)]
        off = self.host_swapoff_s
        if off is not None and off > 0 and self.swapoff_tally:
            out.append(Target(f"{self.spec} (swapoff call)", off, self.swapoff_tally,
                              self.swapoff_unpriced_s))
        return out


@dataclass(frozen=True)
class Target:
    """One equation of the fit: the host's sys time ``host_s`` against the model's
    ``unpriced_s + sum(tally[entry] * entry's cost)``."""

    name: str
    host_s: float
    tally: dict[str, float]
    unpriced_s: float


def nnls(a: np.ndarray, b: np.ndarray, max_iter: int = 500) -> np.ndarray:
    """Non-negative least squares, min ||a x - b|| with x >= 0 (Lawson and Hanson's
    active-set method)."""
    m, n = a.shape
    x = np.zeros(n)
    passive = np.zeros(n, dtype=bool)
    w = a.T @ (b - a @ x)
    tol = 10 * np.finfo(float).eps * max(1.0, float(np.abs(a).max(initial=0.0))) * max(m, n)
    for _ in range(max_iter):
        if passive.all() or not (w[~passive] > tol).any():
            break
        j = int(np.argmax(np.where(passive, -np.inf, w)))
        passive[j] = True
        while True:
            z = np.zeros(n)
            idx = np.flatnonzero(passive)
            z[idx] = np.linalg.lstsq(a[:, idx], b, rcond=None)[0]
            if (z[idx] > 0).all():
                x = z
                break
            neg = idx[z[idx] <= 0]
            alpha = float(np.min(x[neg] / (x[neg] - z[neg])))
            x = x + alpha * (z - x)
            passive &= x > tol
            x[~passive] = 0.0
        w = a.T @ (b - a @ x)
    return x


@dataclass
class Fit:
    """The fitted table and how well it explains each spec."""

    costs: CostTable
    scales: dict[str, float]
    #: parameter -> specs whose tally charges it (a parameter no spec charges is not fitted).
    identified: dict[str, bool]
    rows: list[dict[str, Any]]
    #: The swapoff calls: host and model sys time of each swapoff spec's call.
    swapoff_rows: list[dict[str, Any]] = field(default_factory=list)

    def entries(self, base: CostTable = BUILTIN_COSTS) -> dict[str, int]:
        """The fitted entries (those of identified parameters)."""
        out: dict[str, int] = {}
        for p, ok in self.identified.items():
            if ok:
                for name in PARAMETERS[p][0]:
                    out[name] = max(1, round(getattr(base, name) * self.scales[p]))
        return out


def fit(samples: Sequence[SpecSample], base: CostTable = BUILTIN_COSTS,
        *, left_out: bool = True) -> Fit:
    """Fit the group scales of :data:`PARAMETERS` so the model's sys time at the fitted
    table matches the host's over ``samples`` (least squares on relative error, so a long
    run does not outweigh a short one; non-negative scales). Each sample gives one
    equation per :meth:`SpecSample.targets`: its whole run, and a swapoff spec's swapoff
    call alone. With ``left_out``, each spec's row also gets ``residual_left_out``: its
    residual under a fit made without it (the out-of-sample check).

    Raises:
        ConfigError: no sample, a sample whose host sys time is not positive, or one
            without a model side (a samples file given to ``--from-samples`` can hold
            any of them).
    """
    if not samples:
        raise ConfigError("no calibration samples")
    for s in samples:
        if s.host_s <= 0:
            raise ConfigError(f"{s.spec}: host sys time {s.host_s} is not positive")
        if not s.tally:
            raise ConfigError(f"{s.spec}: the sample has no model side (host runs only); "
                              "refit with --from-samples FILE --remodel")
    costs, scales, identified = _solve([t for s in samples for t in s.targets()], base)
    result = Fit(costs, scales, identified, [])
    for s in samples:
        model_before = s.model_s(base)
        model_after = s.model_s(costs)
        sw_h = swapped_pages(s.host_vmstat)
        sw_m = swapped_pages(s.model_vmstat)
        result.rows.append({
            "spec": s.spec, "host_sys_s": round(s.host_s, 6),
            "host_sys_repeats": [round(v, 6) for v in s.host_sys_s],
            "spread": round(s.spread, 4),
            "model_sys_s_before": round(model_before, 6),
            "model_sys_s_after": round(model_after, 6),
            "residual": round(model_after / s.host_s - 1, 4),
            "residual_before": round(model_before / s.host_s - 1, 4),
            "host_swapped_pages": sw_h, "model_swapped_pages": sw_m,
            "host_us_per_swapped_page": round(s.host_s / sw_h * 1e6, 3) if sw_h else None,
            "model_us_per_swapped_page": round(model_after / sw_m * 1e6, 3) if sw_m else None,
            "pages": s.pages,
            "counters": {k: [int(s.host_vmstat.get(k, 0)), int(s.model_vmstat.get(k, 0))]
                         for k in ("pgfault", "pgmajfault", "pgscan_anon", "pgsteal_anon",
                                   *SWAP_OUT, *SWAP_IN, "swap_ra")},
        })
        off = s.host_swapoff_s
        if off is not None and s.swapoff_tally:
            after = s.model_swapoff_s(costs)
            result.swapoff_rows.append({
                "spec": s.spec, "host_sys_s": round(off, 6),
                "host_real_s": round(statistics.median(r["real_s"] for r in s.host_swapoff), 6),
                "model_sys_s_before": round(s.model_swapoff_s(base), 6),
                "model_sys_s_after": round(after, 6),
                "residual": round(after / off - 1, 4) if off > 0 else None})
    if left_out and len(samples) > 1:
        for k, s in enumerate(samples):
            rest = [t for i, o in enumerate(samples) if i != k for t in o.targets()]
            loo = _solve(rest, base)[0]
            result.rows[k]["residual_left_out"] = round(s.model_s(loo) / s.host_s - 1, 4)
            off = s.host_swapoff_s
            if off and s.swapoff_tally:
                row = next(r for r in result.swapoff_rows if r["spec"] == s.spec)
                row["residual_left_out"] = round(s.model_swapoff_s(loo) / off - 1, 4)
    return result


def _solve(targets: Sequence[Target], base: CostTable
           ) -> tuple[CostTable, dict[str, float], dict[str, bool]]:
    """The fitted table, the scale of each parameter and whether any target charges it
    (an uncharged parameter keeps scale 1)."""
    params = list(PARAMETERS)
    fitted_names = {n for p in params for n in PARAMETERS[p][0]}
    a = np.zeros((len(targets), len(params)))
    b = np.zeros(len(targets))
    for i, t in enumerate(targets):
        fixed = t.unpriced_s + sum(n * getattr(base, k) for k, n in t.tally.items()
                                   if k not in fitted_names) / 1e9
        for j, p in enumerate(params):
            a[i, j] = sum(t.tally.get(k, 0) * getattr(base, k) for k in PARAMETERS[p][0]) / 1e9
        # Relative error: divide each row by the host's time.
        a[i] /= t.host_s
        b[i] = (t.host_s - fixed) / t.host_s
    identified = {p: bool(np.abs(a[:, j]).max(initial=0.0) > 1e-6)
                  for j, p in enumerate(params)}
    cols = [j for j, p in enumerate(params) if identified[p]]
    x = np.ones(len(params))
    if cols:
        x[cols] = nnls(a[:, cols], b)
    scales = {p: float(x[j]) for j, p in enumerate(params)}
    probe = Fit(base, scales, identified, [])
    costs = base.with_overrides(probe.entries(base), note="fit") if any(
        identified.values()) else base
    return costs, scales, identified


def cost_file(result: Fit, *, kernel: str, host: str, note: str,
              base: CostTable = BUILTIN_COSTS,
              date: str | None = None) -> dict[str, Any]:
    """The ``vswap-costs`` version 1 file of a fit (docs/costs.md), with the fit's record."""
    entries = result.entries(base)
    residuals = [abs(r["residual"]) for r in result.rows]
    sources = {}
    for p, ok in result.identified.items():
        if not ok:
            continue
        for name in PARAMETERS[p][0]:
            sources[name] = (f"fitted on {host} (kernel {kernel}): parameter {p} "
                             f"({PARAMETERS[p][1]}), the built-in {getattr(base, name)} ns "
                             f"x {result.scales[p]:.3f}; {len(result.rows)} specs, median "
                             f"|residual| {statistics.median(residuals):.1%}")
    return {
        "format": "vswap-costs", "version": 1,
        "provenance": {"method": "calibrated", "kernel": kernel, "host": host,
                       "date": date or datetime.date.today().isoformat(),
                       "tool": "vswap calibrate --host", "note": note},
        "costs": entries, "sources": sources,
        "fit": {"scales": {p: round(v, 4) for p, v in result.scales.items()
                           if result.identified[p]},
                "parameters": {p: list(PARAMETERS[p][0]) for p in PARAMETERS},
                "specs": result.rows, "swapoff_calls": result.swapoff_rows},
    }


# -- running the specs (root) -------------------------------------------------------------------

def run_specs(specs: Sequence[CalSpec], *, size: int, repeats: int,
              model_scale: float | None,
              progress: Callable[[str], None] = print,
              done: Sequence[SpecSample] = (),
              on_sample: Callable[[list[SpecSample]], None] | None = None,
              cpus: Sequence[int] | None = None,
              design: str = MODEL_DESIGN) -> list[SpecSample]:
    """Run each spec ``repeats`` times on the host (on ``cpus``, default every CPU this
    process may use) and once on the model (``design``, at ``model_scale`` of ``size``;
    None: host only, the samples get their model side from :func:`model_sample` later); the
    samples :func:`fit` takes. Specs with a sample in ``done`` (an interrupted
    calibration's) are not run again; ``on_sample`` is called with the samples so far after
    each spec.

    Raises:
        HostError: not root, or a host run failed (the machine is cleaned up first).
    """
    from vswap.host.runner import HostRunConfig, parse_cpu_set, require_root, run_host
    from vswap.run.context import parse_device_spec

    require_root()
    cpu_set = list(cpus) if cpus else parse_cpu_set(None)
    samples = [s for s in done if s.spec in {sp.name for sp in specs}]
    for spec in specs:
        if any(s.spec == spec.name for s in samples):
            progress(f"{spec.name}: reusing the sample of an earlier run")
            continue
        dev = parse_device_spec(spec.device_spec(size))
        assert dev is not None
        sys_s = []
        load: list[float] = []
        offs: list[dict[str, float]] = []
        vms: list[dict[str, int]] = []
        rotational: bool | None = None
        for i in range(repeats):
            cfg = HostRunConfig(workload=spec.command(size), memory_max=spec.memory_max(size),
                                swap_devices=[dev], zswap=spec.zswap, cpus=list(cpu_set))
            r = _run_host_waiting(run_host, cfg, progress)
            kswapd = float(r.kernel_stats.get("kswapd", {}).get("stime_s", 0.0))
            sys_s.append(r.metrics.sys_s + kswapd)
            load.append(round(os.getloadavg()[0], 2))
            if r.swapoff:
                offs.append({k: float(r.swapoff[k]) for k in ("real_s", "sys_s")})
            vms.append({k: int(v) for k, v in r.vmstat.items()})
            if r.devices:
                rotational = bool(r.devices[0].get("rotational"))
            progress(f"host {spec.name} {i + 1}/{repeats}: sys {sys_s[-1]:.3f} s "
                     f"(workload {r.metrics.sys_s:.3f}, kswapd {kswapd:.3f}), "
                     f"{swapped_pages(vms[-1]):,} pages swapped, load {load[-1]:.2f}")
        # The counters of the run whose sys time is the median (an odd count: that run).
        order = sorted(range(len(sys_s)), key=lambda j: sys_s[j])
        vm = vms[order[len(order) // 2]]
        sample = SpecSample(spec.name, sys_s, {}, 0.0, vm, {}, size // PAGE_SIZE,
                            host_loadavg=load, host_swapoff=offs,
                            device_rotational=rotational)
        if model_scale is not None:
            sample = model_sample(sample, model_scale, progress, design=design)
        samples.append(sample)
        if on_sample is not None:
            on_sample(samples)
    return samples


def _run_host_waiting(run_host: Callable[[Any], Any], cfg: Any,
                      progress: Callable[[str], None], wait_s: float = 1800.0) -> Any:
    """``run_host(cfg)``, waiting (up to ``wait_s``) while another vswap host run holds the
    machine: host runs are serialised by the state file (vswap.host.state), and two at
    once would also mix their /proc/vmstat deltas."""
    from vswap.host.state import HostError

    deadline = time.monotonic() + wait_s
    while True:
        try:
            return run_host(cfg)
        except HostError as exc:
            if "another vswap host run" not in str(exc) or time.monotonic() > deadline:
                raise
            progress(f"waiting: {exc}")
            time.sleep(5.0)


def spec_named(name: str) -> CalSpec:
    """The calibration spec called ``name``.

    Raises:
        ConfigError: no such spec.
    """
    for spec in CAL_SPECS:
        if spec.name == name:
            return spec
    raise ConfigError(f"unknown calibration spec {name!r} (known: "
                      f"{', '.join(s.name for s in CAL_SPECS)})")


def model_sample(sample: SpecSample, model_scale: float,
                 progress: Callable[[str], None] = print, *,
                 design: str = MODEL_DESIGN, cgroup_version: int | None = None) -> SpecSample:
    """``sample`` with its model side (tally, unpriced time, counters) made again: the
    spec runs once on the model's ``design`` (default :data:`MODEL_DESIGN`) at
    ``model_scale`` of the host's size (``sample.pages``) with a
    :class:`~vswap.run.charge.TallyingRecorder`, scaled back to the host's size, on a
    machine with this host's RAM (zswap's pool limit is a share of it) and its cgroup
    version (``cgroup_version``, default this host's memory hierarchy: on v1 the kernel
    does not charge zswap's pool, docs/zswap.md). The host side is kept as measured, so a
    model change is re-fitted without running the host again.
    """
    from vswap.host.runner import block_rotational, host_ram, model_swap_devices
    from vswap.host.state import host_dir
    from vswap.host.swapdev import block_of
    from vswap.run.charge import TallyingRecorder
    from vswap.run.context import RunConfig, parse_device_spec, run_workload

    spec = spec_named(sample.spec)
    size = sample.pages * PAGE_SIZE
    msize = max(int(size * model_scale), 1 << 20)
    msize -= msize % PAGE_SIZE
    factor = size / msize
    dev = parse_device_spec(spec.device_spec(msize))
    assert dev is not None
    rotational = sample.device_rotational
    if rotational is None:
        rotational = block_rotational(block_of(host_dir().parent))
    dev = model_swap_devices([dev], [{"rotational": rotational}])[0]
    if cgroup_version is None:
        cgroup_version = host_cgroup_version()
    made: list[TallyingRecorder] = []

    class _Recorder(TallyingRecorder):
        """Keeps the tally at each of the run's marks (the swapoff call's bounds)."""

        def __init__(self, *args: Any, made: list[TallyingRecorder] = made) -> None:
            super().__init__(*args)
            self.marks: dict[str, dict[str, float]] = {}
            made.append(self)

        def mark(self, name: str) -> None:
            self.marks[name] = dict(self.tally)

    # The built-in table: the fit's tallies do not depend on the costs, but the
    # unpriced time (spin, zram's device time) is taken at the table the fit scales.
    m = run_workload(RunConfig(design=design, workload=spec.command(msize),
                               memory_max=spec.memory_max(msize), swap_devices=[dev],
                               zswap=spec.zswap, cpus=2, recorder_class=_Recorder,
                               ram=host_ram() or None, cgroup_version=cgroup_version,
                               costs=BUILTIN_COSTS))
    rec = made[-1]
    # Signed: spin and zram's modelled device time are charged but unpriced; steps
    # tallied after a task's last charge are priced but never charged.
    unpriced = m.metrics.sys_s - rec.priced_ns() / 1e9
    marks: dict[str, dict[str, float]] = getattr(rec, "marks", {})
    off_tally: dict[str, float] = {}
    off_unpriced = 0.0
    if "swapoff_begin" in marks and "swapoff_end" in marks and "sys_s" in m.swapoff:
        begin, end = marks["swapoff_begin"], marks["swapoff_end"]
        off_tally = {k: n - begin.get(k, 0) for k, n in end.items() if n != begin.get(k, 0)}
        off_unpriced = float(m.swapoff["sys_s"]) - priced_s(off_tally, BUILTIN_COSTS)
    mvm = {k: round(int(v) * factor) for k, v in m.vmstat.items()}
    progress(f"model {spec.name} ({design}, cgroup v{cgroup_version}, 1/{factor:g} size): "
             f"sys {m.metrics.sys_s * factor:.3f} s at host size, {swapped_pages(mvm):,} "
             "pages swapped")
    return SpecSample(sample.spec, list(sample.host_sys_s),
                      {k: v * factor for k, v in rec.tally.items()}, unpriced * factor,
                      dict(sample.host_vmstat), mvm, sample.pages,
                      host_loadavg=list(sample.host_loadavg),
                      host_swapoff=list(sample.host_swapoff), model_design=design,
                      model_cgroup_version=cgroup_version,
                      swapoff_tally={k: v * factor for k, v in off_tally.items()},
                      swapoff_unpriced_s=off_unpriced * factor,
                      device_rotational=sample.device_rotational)


def host_cgroup_version() -> int:
    """The version of this host's memory cgroup hierarchy (2 when none is found)."""
    from vswap.host.cgroup import find_memory_hierarchy
    from vswap.host.state import HostError

    try:
        return int(find_memory_hierarchy()[0])
    except HostError:
        return 2


def host_identity() -> tuple[str, str]:
    """``(uname -r, a machine description)`` for the provenance."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f
                        if line.startswith("model name")), "")
    except OSError:  # pragma: no cover - not Linux
        pass
    ncpu = os.cpu_count() or 1
    return platform.release(), f"{platform.node()} ({ncpu} x {cpu or platform.machine()})"
