"""Runs on this host's real kernel: the model's workloads, measured where the model is not.

Models: nothing; this package is the model's reference. ``vswap host run`` executes a model
workload (usemem, pattern, pageout, swapoff) as a real program in a real memory cgroup with a
real swap file or zram device and zswap, and writes the kernel's own numbers into the same
result JSON as ``vswap run`` (design ``host``). ``vswap host cleanup`` undoes whatever a run
left (after ``kill -9``); ``vswap host check`` says whether the machine is clean. Needs root.
Modules: :mod:`~vswap.host.runner` (the run), :mod:`~vswap.host.state` (the journal and
cleanup), :mod:`~vswap.host.cgroup`, :mod:`~vswap.host.swapdev`,
:mod:`~vswap.host.zswapctl`, :mod:`~vswap.host.program` (the C program), and
:mod:`~vswap.host.check`.
"""

from __future__ import annotations

from vswap.host.check import MachineCheck, check_machine
from vswap.host.runner import HostRunConfig, parse_cpu_set, require_root, run_host
from vswap.host.state import HostError, cleanup

__all__ = ["HostError", "HostRunConfig", "MachineCheck", "check_machine", "cleanup",
           "parse_cpu_set", "require_root", "run_host"]
