"""What ``--scale`` (or a configuration's ``scale``) did to a run: every size it multiplied,
and what it left alone.

A scaled run prints these lines before its table and keeps them in the result
(``configuration["scale"]``), so nobody has to guess whether a 10-second sleep or a kernel
constant shrank with the data:

* **scaled**: RAM, swap device sizes, the byte-valued cgroup limits (``memory.max``,
  ``memory.high``, ``memory.swap.max``, ...; ``max`` stays ``max``), and the workloads' sizes
  and sleeps, defaults included (:mod:`vswap.workloads._scale`);
* **kept**: CPU counts, process, worker and job counts, fractions, and the kernel's own
  constants (swap-cache address spaces and zswap trees of 64 MiB, swap clusters of 512 slots),
  which is why a small run partitions its swap cache more coarsely than the full-size one
  (docs/rfc-benchmarks.md, "Scaling").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vswap.kernel.types import PAGE_SIZE, SWAP_ADDRESS_SPACE_PAGES, SWAPFILE_CLUSTER
from vswap.units import format_scale, format_size
from vswap.workloads._scale import ScaledCommand, scale_workload

if TYPE_CHECKING:
    from vswap.config import RunConfig as FileConfig

__all__ = ["ScaleReport", "config_scale_report", "kernel_constants_text"]


def kernel_constants_text() -> str:
    """The kernel constants a scale never changes, in words."""
    return (f"kernel constants (swap-cache address spaces and zswap trees of "
            f"{format_size(SWAP_ADDRESS_SPACE_PAGES * PAGE_SIZE)}, swap clusters of "
            f"{SWAPFILE_CLUSTER} slots)")


@dataclass
class ScaleReport:
    """The sizes a scale multiplied (``scaled``: ``"RAM 64G -> 512M"``), what it kept, and
    each workload's scaled command line."""

    factor: float
    source: str = ""
    scaled: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    workloads: list[ScaledCommand] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Three lines for the terminal (none at scale 1)."""
        if self.factor == 1:
            return []
        of = f" of {self.source}" if self.source else ""
        scaled = self.scaled + [w.scaled_text() for w in self.workloads if w.scaled_text()]
        kept = self.kept + [w.kept_text() for w in self.workloads if w.kept_text()] + [
            kernel_constants_text()]
        return [f"scale {format_scale(self.factor)}{of}:",
                f"  scaled: {'; '.join(scaled) or 'nothing'}",
                f"  kept: {'; '.join(kept)}"]

    def as_json(self) -> dict[str, Any]:
        return {"factor": self.factor, "scaled": list(self.scaled), "kept": list(self.kept),
                "kernel_constants": kernel_constants_text(),
                "workloads": [w.as_json() for w in self.workloads]}


def _change(what: str, before: int | str, after: int | str) -> str:
    b = format_size(before) if isinstance(before, int) else before
    a = format_size(after) if isinstance(after, int) else after
    return f"{what} {b} -> {a}"


def config_scale_report(cf: FileConfig) -> ScaleReport:
    """What ``cf.scale`` does to the configuration ``cf`` (the same numbers
    :func:`vswap.config.build_machine` uses)."""
    from vswap.config import scaled_knob_value

    report = ScaleReport(factor=cf.scale, source=cf.source)
    report.workloads = [scale_workload(w.command, cf.scale) for w in cf.workloads]
    if cf.scale == 1:
        return report
    report.scaled.append(_change("RAM", cf.machine.ram, cf.scaled(cf.machine.ram)))
    for i, dev in enumerate(cf.devices):
        report.scaled.append(_change(f"swap[{i}] ({dev.type})", dev.size, cf.scaled(dev.size)))
    for cg in cf.cgroups:
        for name, value in cg.knobs.items():
            new = scaled_knob_value(cf, name, value)
            if new != value:
                report.scaled.append(_change(f"{cg.path} {name}", value,
                                             format_size(int(new))))
    report.kept.append(f"{cf.machine.cpus} CPUs")
    return report
