"""Results, reports and plots: the typed run result, terminal tables, kernel-format views.

Modules (imported individually, so reading a result does not load matplotlib):

* :mod:`vswap.report.result`: the result file contract (``RunResult``, ``save_results``,
  ``load_results``); docs/result-schema.md.
* :mod:`vswap.report.collect`: ``result_from_machine``, ``timeline_sample``,
  ``page_locations``, ``DevicePeaks``, ``lock_record``: filling a result from a machine.
* :mod:`vswap.report.views`: ``/proc/vmstat``, ``/proc/meminfo``, ``/proc/swaps`` and
  ``memory.stat`` text rebuilt from a result, exactly as the kernel prints them.
* :mod:`vswap.report.tables`: designs side by side, differences highlighted (rich).
* :mod:`vswap.report.plots`: the figures of ``vswap plot`` (matplotlib, Agg).
* :mod:`vswap.report.progress`: a progress bar for long runs.
"""
