"""Aggregates of a sweep's table: median and spread over seeds (``vswap sweep table``).

:func:`aggregate` filters the rows (``--where``, :mod:`vswap.sweep.expr`), groups them by
some parameters (``--group-by``; default: every parameter but ``seed`` that takes more than
one value, so each group is one configuration over its seeds) and gives, per group and
metric, the **median** and the **spread**, the smallest and largest value (with a few seeds
the range says more than a deviation would). Only ``ok`` points count; a group's failed
points are counted apart. Groups come in grid order (of their first point).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from vswap.errors import ConfigError
from vswap.report.tables import format_number
from vswap.sweep.expr import compile_expr, resolve_name
from vswap.sweep.table import SweepTable

__all__ = ["Aggregate", "Group", "Stat", "aggregate", "aggregate_table", "resolve_metrics"]


@dataclass(frozen=True)
class Stat:
    """A metric over a group's ok points: ``median``, ``low``/``high`` (the spread), ``n``."""

    median: float
    low: float
    high: float
    n: int


@dataclass
class Group:
    """One group: its key values (in ``Aggregate.keys`` order), points ok and failed, a
    :class:`Stat` per metric (None if no ok point has the metric), the rows."""

    key: tuple[Any, ...]
    ok: int = 0
    failed: int = 0
    stats: dict[str, Stat | None] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Aggregate:
    """The groups of :func:`aggregate`, with the resolved key and metric columns."""

    keys: list[str]
    metrics: list[str]
    groups: list[Group]
    rows: int
    #: Column -> its header: the name as asked for (``--metric pswpout``), else the column.
    labels: dict[str, str] = field(default_factory=dict)


def _numeric(table: SweepTable, column: str) -> bool:
    values = [r.get(column) for r in table.rows if r.get(column) is not None]
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


def resolve_metrics(table: SweepTable, names: Sequence[str], *, what: str = "--metric"
                    ) -> list[str]:
    """The columns ``names`` mean (see :func:`vswap.sweep.expr.resolve_name`); each must
    hold numbers."""
    out = []
    for name in names:
        col = resolve_name(name, table.value_columns, what=what)
        if not _numeric(table, col):
            raise ConfigError(f"{what} {name!r}: column {col} does not hold numbers")
        out.append(col)
    return out


def _varying(table: SweepTable, rows: Sequence[dict[str, Any]]) -> list[str]:
    return [p for p in table.params if p != "seed"
            and len({repr(r.get(p)) for r in rows}) > 1]


def aggregate(table: SweepTable, *, where: str | None = None,
              group_by: Sequence[str] | None = None,
              metrics: Sequence[str] | None = None) -> Aggregate:
    """See the module docstring. ``metrics`` default: the spec's ``[sweep] metrics``."""
    rows = table.rows
    if where:
        expr = compile_expr(where, table.columns, prefer=table.params, what="--where")
        rows = [r for r in rows if expr(r)]
    if group_by is None:
        keys = _varying(table, rows)
    else:
        keys = [resolve_name(k, table.columns, prefer=table.params, what="--group-by")
                for k in group_by]
    present = [m for m in (metrics or table.metrics)
               if metrics or _has(table, m)]
    cols = resolve_metrics(table, present)
    labels = {c: (name if metrics else _label(table, c)) for c, name in zip(cols, present)}
    groups: dict[tuple[Any, ...], Group] = {}
    for r in rows:
        key = tuple(r.get(k) for k in keys)
        g = groups.setdefault(key, Group(key))
        g.rows.append(r)
        if r.get("status") == "ok":
            g.ok += 1
        else:
            g.failed += 1
    for g in groups.values():
        for col in cols:
            values = [float(r[col]) for r in g.rows
                      if r.get("status") == "ok" and r.get(col) is not None]
            g.stats[col] = (Stat(_int(statistics.median(values)), _int(min(values)),
                                 _int(max(values)), len(values)) if values else None)
    return Aggregate(keys, cols, list(groups.values()), len(rows), labels)


def _label(table: SweepTable, column: str) -> str:
    """The shortest name that means ``column`` (``peak_used_pages`` for
    ``devices[0].peak_used_pages`` when no other column ends so)."""
    parts = column.split(".")
    for i in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[i:])
        try:
            if resolve_name(name, table.value_columns) == column:
                return name
        except ConfigError:
            continue
    return column


def _int(value: float) -> float:
    """Whole numbers as ints (a median of page counts prints ``872``, not ``872.0``)."""
    return int(value) if value.is_integer() else value


def _has(table: SweepTable, name: str) -> bool:
    try:
        resolve_name(name, table.value_columns)
    except ConfigError:
        return False
    return True


def format_stat(stat: Stat | None) -> str:
    """``1.234 (1.200–1.270)``: median and spread; the median alone if they agree."""
    if stat is None:
        return "-"
    med = format_number(stat.median)
    if stat.n == 1 or stat.low == stat.high:
        return med
    return f"{med} ({format_number(stat.low)}–{format_number(stat.high)})"


def aggregate_table(agg: Aggregate, *, title: str | None) -> Table:
    """The aggregate as a rich table: the group keys, points ok (and failed, if any
    failed), each metric's median (spread)."""
    t = Table(title=title, title_justify="left")
    for k in agg.keys:
        t.add_column(_short(k), overflow="fold")
    t.add_column("points", justify="right")
    any_failed = any(g.failed for g in agg.groups)
    if any_failed:
        t.add_column("failed", justify="right")
    for m in agg.metrics:
        t.add_column(agg.labels.get(m, m), justify="right", overflow="fold")
    for g in agg.groups:
        counts = [str(g.ok), str(g.failed)] if any_failed else [str(g.ok)]
        t.add_row(*(_cell(v) for v in g.key), *counts,
                  *(format_stat(g.stats[m]) for m in agg.metrics))
    return t


def _short(name: str) -> str:
    """``memory.max`` for ``cgroups."/app".memory.max`` (the title names the sweep)."""
    return name.rsplit('".', 1)[-1] if '"' in name else name


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return format_number(value)
    return "-" if value is None else str(value)
