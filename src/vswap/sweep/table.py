"""A sweep's results as one table: one row per point, written as Parquet (pyarrow).

Columns, in this order:

* ``point`` (the index in grid order), ``id``;
* the parameters: ``design``, ``seed``, then every swept key by its path
  (``cgroups."/app".memory.max``, ``zswap.compressor``, ``workloads[0].-n``), with the
  values as written in the specification;
* ``status`` (``ok`` or ``failed``) and ``error`` (a failed point's one line);
* every metric and counter of the point's result (docs/result-schema.md), flattened by path:
  ``metrics.real_s``, ``vmstat.pswpout``, ``meminfo.SwapFree``,
  ``devices[0].peak_used_pages``, ``cgroups."/app".memory.stat.zswapped``,
  ``locks.swap_cache.wait_ns``, ``kernel_stats.zswap.pool_limit_hit``,
  ``cgroup_results."/app".free_time_s``, ``peak.vmstat.pswpout``, ``metadata_bytes.swap_map``,
  ``kernel_steps.compress``, ``workload``, ``data_loss`` ...; lists of numbers (per-process
  throughputs), the timeline, the report lines and the RFC's reference numbers are left out
  (the point's file keeps the whole result); a result field whose name is a parameter's
  (a swept cgroup file) is the parameter's column;
* ``provenance.*``: what does not depend on the model: the executor, host, pid, vswap
  version, Python version, the wall time (``provenance.wall_s``; ``provenance.overhead_s``,
  what the executor added around the run; and the result's
  ``metrics.wall_s`` and ``metrics.page_events_per_wall_s`` moved here), when it finished,
  the cost table's provenance (``provenance.costs.*``).

So every column but ``provenance.*`` is the same whatever the executor, the machine or the
order the points ran in. Column types: a column of integers is int64, of numbers float64,
of booleans bool, anything else (sizes such as ``"8M"``, names) string; missing values
(a failed point's metrics, a design without some counter) are null.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vswap.errors import ConfigError
from vswap.sweep.spec import column_name
from vswap.sweep.store import SweepDir, atomic_write

__all__ = ["PROVENANCE", "flatten_result", "read_table", "rows_of", "write_table"]

PROVENANCE = "provenance."
#: Result fields not flattened into columns (see the module docstring).
_SKIP = {"design", "seed", "timeline", "report", "rfc", "rfc_source", "configuration",
         "costs"}
#: Result metrics that measure the machine that ran the model, not the model.
_WALL = {"wall_s", "page_events_per_wall_s"}


def _flatten(value: Any, parts: tuple[str | int, ...], out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(v, (*parts, str(k)), out)
    elif isinstance(value, list):
        if value and all(isinstance(v, Mapping) for v in value):
            for i, v in enumerate(value):
                _flatten(v, (*parts, i), out)
    elif value is None or isinstance(value, str | int | float | bool):
        out[column_name(parts)] = value


def flatten_result(result: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The result's columns and the provenance columns it holds (see the module
    docstring)."""
    cols: dict[str, Any] = {}
    prov: dict[str, Any] = {}
    for key, value in result.items():
        if key in _SKIP:
            continue
        if key == "metrics" and isinstance(value, Mapping):
            for k, v in value.items():
                (prov if k in _WALL else cols)[f"{PROVENANCE}{k}" if k in _WALL
                                               else f"metrics.{k}"] = v
            continue
        _flatten(value, (key,), cols)
    costs = result.get("costs")
    if isinstance(costs, Mapping):
        for k, v in costs.items():
            if v is None or isinstance(v, str | int | float | bool):
                prov[f"{PROVENANCE}costs.{k}"] = v
    return cols, prov


def rows_of(store: SweepDir) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per point of the manifest that has a file, in grid order, and the
    parameter column names."""
    manifest = store.manifest()
    params: list[str] = list(manifest["params"])
    rows: list[dict[str, Any]] = []
    for entry in manifest["points"]:
        data = store.read_point(entry["id"])
        if data is None:
            continue
        row: dict[str, Any] = {"point": entry["index"], "id": entry["id"]}
        row.update({k: entry["params"].get(k) for k in params})
        row["status"] = data.get("status")
        row["error"] = data.get("error")
        result = data.get("result")
        prov: dict[str, Any] = {}
        if isinstance(result, Mapping):
            cols, prov = flatten_result(result)
            for k, v in cols.items():
                if k not in row:
                    row[k] = v
        for k, v in (data.get("provenance") or {}).items():
            if v is None or isinstance(v, str | int | float | bool):
                row[f"{PROVENANCE}{k}"] = v
        row.update(prov)
        rows.append(row)
    return rows, params


def _column_type(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "string"
    if all(isinstance(v, bool) for v in present):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "int64"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "float64"
    return "string"


def _arrow_table(rows: list[dict[str, Any]], params: list[str],
                 metrics: Sequence[str]) -> Any:
    import pyarrow as pa

    names: list[str] = []
    seen: set[str] = set()
    for row in rows:
        for k in row:
            if k not in seen:
                seen.add(k)
                names.append(k)
    head = ["point", "id", *params, "status", "error"]
    prov = sorted(n for n in names if n.startswith(PROVENANCE))
    body = [n for n in names if n not in head and not n.startswith(PROVENANCE)]
    order = [*head, *body, *prov]
    arrays = []
    types = {"bool": pa.bool_(), "int64": pa.int64(), "float64": pa.float64(),
             "string": pa.string()}
    for name in order:
        values = [row.get(name) for row in rows]
        kind = _column_type(values)
        if kind == "string":
            values = [None if v is None else (v if isinstance(v, str) else _text(v))
                      for v in values]
        elif kind == "float64":
            values = [None if v is None else float(v) for v in values]
        arrays.append(pa.array(values, type=types[kind]))
    meta = {b"vswap.params": json.dumps(params).encode(),
            b"vswap.metrics": json.dumps(list(metrics)).encode()}
    return pa.table(arrays, names=order).replace_schema_metadata(meta)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def write_table(store: SweepDir) -> Path:
    """Write ``results.parquet`` of ``store`` (atomically) and return its path."""
    import pyarrow.parquet as pq

    rows, params = rows_of(store)
    metrics = store.manifest().get("metrics", [])
    table = _arrow_table(rows, params, metrics)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    atomic_write(store.table_path, buf.getvalue())
    return store.table_path


class SweepTable:
    """A sweep's table read back: ``rows`` (dicts in grid order), ``columns``, ``params``
    (the parameter columns), ``metrics`` (the spec's default metrics)."""

    def __init__(self, rows: list[dict[str, Any]], columns: list[str], params: list[str],
                 metrics: list[str], source: str) -> None:
        self.rows = rows
        self.columns = columns
        self.params = params
        self.metrics = metrics
        self.source = source

    @property
    def value_columns(self) -> list[str]:
        """Columns a metric may be: not a parameter, not the bookkeeping ones."""
        skip = {"point", "id", "status", "error", *self.params}
        return [c for c in self.columns if c not in skip and not c.startswith(PROVENANCE)]


def read_table(directory: str | Path) -> SweepTable:
    """Read ``DIR/results.parquet`` (rebuilt from the point files first if it is missing
    or older than one of them)."""
    import pyarrow.parquet as pq

    store = SweepDir(directory)
    store.manifest()  # ConfigError if not a sweep directory
    path = store.table_path
    newest = max((p.stat().st_mtime for p in store.points_dir.glob("*.json")), default=0.0)
    if not path.exists() or path.stat().st_mtime < newest:
        write_table(store)
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow's errors have no common base worth naming
        raise ConfigError(f"{path}: not a Parquet table ({type(exc).__name__})") from None
    meta = table.schema.metadata or {}
    params = [str(p) for p in json.loads(meta.get(b"vswap.params", b"[]"))]
    metrics = [str(m) for m in json.loads(meta.get(b"vswap.metrics", b"[]"))]
    return SweepTable(table.to_pylist(), list(table.column_names), params, metrics,
                      str(path))


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def slug(name: str) -> str:
    """A file-name-safe form of a column name (``devices[0].peak_used_pages`` ->
    ``devices-0-.peak_used_pages``)."""
    return _SAFE.sub("-", name).strip("-") or "column"
