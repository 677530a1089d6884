"""Timed runs: the machine model on N simulated CPUs with contending locks and device queues.

:func:`run_workload` runs one workload under one design and returns a
:class:`~vswap.report.result.RunResult`; :mod:`vswap.run.charge` turns the kernel steps the
model records into virtual time; :mod:`vswap.run.rfc` reproduces the RFC's three tables.
"""

from vswap.run.context import DeviceSpec, RunConfig, parse_device_spec, run_workload

__all__ = ["DeviceSpec", "RunConfig", "parse_device_spec", "run_workload"]
