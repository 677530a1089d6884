"""``vswap bench future``: the seed's future use cases, one table per use case, per design.

Models: "[RFC PATCH v2 00/18] Virtual Swap Space" section III (future use cases) and issue
14: each use case is a module ``vswap.run.future_<name>`` whose builder returns a
:class:`FutureTable` (the run configurations, one per row, and how to read each column from
a row's result); :data:`FUTURE_TABLES` registers them by name, in the order the command
prints them. docs/future.md explains each table and what the virtual indirection buys.

Adding a use case: write ``run/future_<name>.py`` with a builder of the
:data:`TableBuilder` signature and add one line to :data:`FUTURE_TABLES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from vswap.errors import ConfigError

if TYPE_CHECKING:
    from vswap.report.result import RunResult
    from vswap.run.context import RunConfig

__all__ = ["DEFAULT_FUTURE_SCALE", "FUTURE_TABLES", "Column", "FutureTable", "TableBuilder",
           "future_tables"]

#: Default scale of the use cases' published-size setups (as ``bench rfc``).
DEFAULT_FUTURE_SCALE = 1 / 128


@dataclass(frozen=True)
class Column:
    """One column: its header and the value of a row's result (a number or text)."""

    header: str
    value: Callable[[RunResult], float | str]


@dataclass
class FutureTable:
    """One use case's table.

    Invariant: every key of ``configs`` is a row label (a design name, or a design with a
    variant such as ``"classic (no tiers)"``); ``baseline`` is a row label or None (no ratio
    rows); ``ratios`` names the columns (by header) the ratio rows divide.
    """

    key: str
    title: str
    setup: str
    columns: tuple[Column, ...]
    configs: dict[str, RunConfig] = field(default_factory=dict)
    baseline: str | None = "classic"
    ratios: tuple[str, ...] = ()
    #: The closing lines (headline numbers) from the rows' results.
    summary: Callable[[dict[str, RunResult]], list[str]] = lambda by: []


class TableBuilder(Protocol):
    """What a use-case module provides: its table at ``scale`` for ``designs`` (None: the
    table's own default designs). Raises ConfigError (one line) for a design on which the
    use case cannot exist."""

    def __call__(self, scale: float, *, seed: int, designs: tuple[str, ...] | None,
                 verify: bool) -> FutureTable: ...


def _tiers(scale: float, *, seed: int, designs: tuple[str, ...] | None,
           verify: bool) -> FutureTable:
    from vswap.run.future_tiers import tiers_table

    return tiers_table(scale, seed=seed, designs=designs, verify=verify)


def _fragmentation(scale: float, *, seed: int, designs: tuple[str, ...] | None,
                   verify: bool) -> FutureTable:
    from vswap.run.future_folio import fragmentation_table

    return fragmentation_table(scale, seed=seed, designs=designs, verify=verify)


def _mixed_swapin(scale: float, *, seed: int, designs: tuple[str, ...] | None,
                  verify: bool) -> FutureTable:
    from vswap.run.future_folio import mixed_table

    return mixed_table(scale, seed=seed, designs=designs, verify=verify)


def _writeback(scale: float, *, seed: int, designs: tuple[str, ...] | None,
               verify: bool) -> FutureTable:
    from vswap.run.future_writeback import writeback_table

    return writeback_table(scale, seed=seed, designs=designs, verify=verify)


#: Use case name -> table builder, in print order.
FUTURE_TABLES: dict[str, TableBuilder] = {
    "tiers": _tiers,
    "fragmentation": _fragmentation,
    "mixed-swapin": _mixed_swapin,
    "writeback": _writeback,
}


def future_tables(names: list[str], scale: float, *, seed: int = 1,
                  designs: tuple[str, ...] | None = None, verify: bool = True
                  ) -> list[FutureTable]:
    """The tables ``names`` at ``scale``.

    Raises:
        ConfigError: an unknown table name, or a design a table cannot run.
    """
    unknown = [n for n in names if n not in FUTURE_TABLES]
    if unknown:
        raise ConfigError(f"--table: unknown table {unknown[0]!r} "
                          f"(known: {', '.join(FUTURE_TABLES)})")
    return [FUTURE_TABLES[n](scale, seed=seed, designs=designs, verify=verify)
            for n in names]


def metric(name: str, default: Any = 0.0) -> Callable[[RunResult], Any]:
    """A column reading the workload metric ``name``."""
    return lambda r: r.workload_metrics.get(name, default)
