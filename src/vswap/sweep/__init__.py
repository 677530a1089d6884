"""Parameter sweeps: a grid of runs from one specification, on a process pool or Ray, with
the results as one table to query and plot (docs/sweeps.md).

* :mod:`~vswap.sweep.spec`: the specification (a run configuration plus ``[sweep]``), the
  grid and its points.
* :mod:`~vswap.sweep.execute`: running the points (serial, process pool, Ray), resumably.
* :mod:`~vswap.sweep.store`: the sweep directory (atomic files, one per finished point).
* :mod:`~vswap.sweep.table`: the Parquet table (one row per point).
* :mod:`~vswap.sweep.aggregate`, :mod:`~vswap.sweep.plot`: median and spread over seeds, in
  a terminal table or a figure.
* :mod:`~vswap.sweep.expr`: the safe expression language of ``where``.

pyarrow and matplotlib are imported when a table or a figure is made; Ray only with
``--ray``.
"""

from __future__ import annotations

from .execute import SweepSummary, run_sweep
from .spec import Point, SweepSpec, load_sweep, loads_sweep
from .table import SweepTable, read_table, write_table

__all__ = ["Point", "SweepSpec", "SweepSummary", "SweepTable", "load_sweep", "loads_sweep",
           "read_table", "run_sweep", "write_table"]
