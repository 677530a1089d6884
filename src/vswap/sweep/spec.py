"""A sweep specification: a run configuration plus a ``[sweep]`` table of values to try.

The ``[sweep]`` table mirrors the configuration's own structure (docs/config.md); each leaf
is a non-empty array of the values to try at that key::

    designs = ["classic", "vswap"]            # each point runs one design
    seed = [1, 2, 3]
    scale = ["1/64", "1/32"]
    [sweep.machine]  cpus = [2, 4]
    [sweep.zswap]    compressor = ["lz4", "zstd"]
    [sweep.cgroups."/bench"]  memory.max = ["8M", "16M"]
    [[sweep.swap]]   size = ["32M", "64M"]   # entry i sweeps the configuration's swap[i]
    [[sweep.workloads]]                      # entry i sweeps workloads[i]
    command = ["usemem -n 1 8M", "usemem -n 2 8M"]   # whole command lines, or
    -n = [1, 2, 4]                           # one option of the command line

Two keys of ``[sweep]`` are not axes: ``where`` (a filter over the parameters,
:mod:`vswap.sweep.expr`) and ``metrics`` (the columns ``vswap sweep table`` shows by
default). The grid is the product of the axes in the order they are written (the last
varies fastest), less the points ``where`` refuses. Each point is one run: its
configuration is the base with the point's values written in, validated by the
configuration loader, with one design and its own seed.

A point's **id** is a digest of everything its result depends on (its whole configuration,
design and seed, and the cost table), so a rerun of a changed specification reuses exactly
the points whose runs would be the same.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import re
import shlex
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vswap.config import RunConfig as FileConfig
from vswap.config import parse_config
from vswap.config.costs import default_provenance, load_cost_file
from vswap.errors import ConfigError
from vswap.sweep.expr import compile_expr
from vswap.workloads import parse_workload

__all__ = ["SWEEP_KEYS", "Axis", "Point", "SweepSpec", "column_name", "load_sweep",
           "loads_sweep"]

#: Keys of ``[sweep]`` that are not axes.
SWEEP_KEYS = ("where", "metrics")
#: Columns of the default ``vswap sweep table`` when the spec names none.
DEFAULT_METRICS = ("metrics.real_s", "metrics.sys_s", "metrics.free_time_s")
_PLAIN = re.compile(r"^[A-Za-z0-9_.\-]+$")

Scalar = str | int | float | bool
PathPart = str | int


def column_name(parts: Sequence[PathPart]) -> str:
    """The column of a key path: parts joined by dots, indexes as ``[i]``, parts with
    other characters than letters, digits, ``_ - .`` quoted: ``cgroups."/app".memory.max``,
    ``workloads[0].-n``. ``memory.max`` written as a dotted or a quoted key is one column."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
            continue
        text = p if _PLAIN.match(p) else '"' + p.replace('"', '\\"') + '"'
        out += ("." if out else "") + text
    return out


@dataclass(frozen=True)
class Axis:
    """One swept key: its ``path`` in the configuration, its column ``name``, the values."""

    path: tuple[PathPart, ...]
    name: str
    values: tuple[Scalar, ...]


@dataclass(frozen=True)
class Point:
    """One run of the grid: ``index`` in grid order (after the filter), ``params`` (column
    -> value: every axis, plus ``design`` and ``seed``), ``id`` (see the module docstring),
    and the validated configuration it runs (``config``, one design)."""

    index: int
    params: dict[str, Scalar]
    id: str
    config: FileConfig = field(repr=False)

    def label(self) -> str:
        """``design=vswap seed=2 memory.max=8M``: the parameters, short."""
        return " ".join(f"{_short(k)}={v}" for k, v in self.params.items())


def _short(name: str) -> str:
    """``memory.max`` for ``cgroups."/app".memory.max``: the part after the last quote."""
    return name.rsplit('".', 1)[-1] if '"' in name else name


@dataclass
class SweepSpec:
    """A parsed specification: the base configuration (as TOML data), the axes, the filter,
    the default metrics, and every point (built and validated by :meth:`points`)."""

    source: str
    text: str
    base: dict[str, Any]
    axes: list[Axis]
    where: str | None = None
    metrics: tuple[str, ...] = DEFAULT_METRICS
    base_dir: Path | None = None
    _points: list[Point] | None = field(default=None, repr=False)

    @property
    def param_names(self) -> list[str]:
        """The parameter columns: ``design``, ``seed``, then the other axes in order."""
        names = ["design", "seed"]
        names += [a.name for a in self.axes if a.name not in ("design", "seed")]
        return names

    def points(self, where: str | None = None) -> list[Point]:
        """The grid's points (validated; ConfigError naming the point and key on a bad
        value), filtered by the spec's ``where`` and, if given, ``where`` too."""
        if self._points is None:
            self._points = self._build()
        pts = self._points
        if where:
            expr = compile_expr(where, self.param_names, what="--where")
            pts = [p for p in pts if expr(p.params)]
        return pts

    def _build(self) -> list[Point]:
        names = self.param_names
        expr = (compile_expr(self.where, names, what=f"{self.source}: sweep.where")
                if self.where else None)
        costs_cache: dict[str | None, str] = {}
        out: list[Point] = []
        seen: dict[str, dict[str, Scalar]] = {}
        for combo in itertools.product(*(a.values for a in self.axes)):
            assignment = dict(zip((a.name for a in self.axes), combo))
            data = copy.deepcopy(self.base)
            for axis, value in zip(self.axes, combo):
                if axis.name == "design":
                    data["designs"] = [value]
                else:
                    _assign(data, axis.path, value, self.source)
            where_text = " ".join(f"{k}={v}" for k, v in assignment.items())
            source = f"{self.source} (point {where_text})" if assignment else self.source
            cf = parse_config(data, source=source, parse_workload=parse_workload,
                              base_dir=self.base_dir)
            for design in cf.designs:
                params: dict[str, Scalar] = {"design": design, "seed": cf.seed}
                params.update({k: v for k, v in assignment.items()
                               if k not in ("design", "seed")})
                params = {k: params[k] for k in names}
                if expr is not None and not expr(params):
                    continue
                one = _replace_designs(cf, design)
                pid = _point_id(one, costs_cache)
                if pid in seen:
                    raise ConfigError(f"{self.source}: points {seen[pid]} and {params} run "
                                      f"the same configuration; sweep each value once")
                seen[pid] = params
                out.append(Point(len(out), params, pid, one))
        if not out:
            raise ConfigError(f"{self.source}: the sweep has no points (every point is "
                              f"filtered out by sweep.where)")
        return out


def _replace_designs(cf: FileConfig, design: str) -> FileConfig:
    return dataclasses.replace(cf, designs=(design,))


def _point_id(cf: FileConfig, costs_cache: dict[str | None, str]) -> str:
    """A digest of what a point's result depends on: the configuration (less where it was
    read from) and the cost table's content."""
    if cf.costs not in costs_cache:
        prov = (load_cost_file(cf.costs)[1] if cf.costs is not None
                else default_provenance())
        costs_cache[cf.costs] = json.dumps(prov.as_json(), sort_keys=True)
    data = cf.to_dict()
    data.pop("source", None)
    data.pop("costs", None)
    text = json.dumps({"config": data, "costs": costs_cache[cf.costs]}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- writing a value into the configuration's TOML data ----------------------------------------
def _assign(data: dict[str, Any], path: tuple[PathPart, ...], value: Scalar,
            source: str) -> None:
    """Write ``value`` at ``path`` of the TOML data ``data`` (tables made as needed;
    ``memory.max`` found whether the file wrote it dotted or quoted; ``workloads[i].-X``
    rewrites option ``-X`` of that workload's command line)."""
    if (len(path) == 3 and path[0] == "workloads" and isinstance(path[1], int)
            and isinstance(path[2], str) and path[2].startswith("-")):
        workloads = data.get("workloads")
        if isinstance(workloads, list) and path[1] < len(workloads) and isinstance(
                workloads[path[1]], dict):
            wl = workloads[path[1]]
            wl["command"] = set_option(str(wl.get("command", "")), path[2], value)
            return
        have = len(workloads) if isinstance(workloads, list) else 0
        raise ConfigError(f"{source}: sweep.{column_name(path)}: the configuration has "
                          f"{have} workloads entr{'y' if have == 1 else 'ies'}")
    node: Any = data
    parts = list(path)
    while parts:
        part = parts[0]
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                have = len(node) if isinstance(node, list) else 0
                where = column_name(path[:path.index(part)])
                raise ConfigError(f"{source}: sweep.{column_name(path)}: the configuration "
                                  f"has {have} {where} entr{'y' if have == 1 else 'ies'}")
            if len(parts) == 1:
                node[part] = value
                return
            node = node[part]
            parts.pop(0)
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"{source}: sweep.{column_name(path)}: not a table in the "
                              f"configuration")
        # The longest run of parts that is one key of this table (a quoted "memory.max").
        for n in range(len(parts), 0, -1):
            run = parts[:n]
            if all(isinstance(x, str) for x in run):
                key = ".".join(str(x) for x in run)
                if key in node and (n == len(parts) or isinstance(node[key], dict | list)):
                    if n == len(parts):
                        node[key] = value
                        return
                    node = node[key]
                    parts = parts[n:]
                    break
        else:
            # Not there: a quoted key the file wrote dotted ("memory.max" vs memory.max),
            # else new tables.
            if "." in part and part.split(".")[0] in node:
                parts = [*part.split("."), *parts[1:]]
                continue
            if len(parts) == 1:
                node[part] = value
                return
            node[part] = [] if isinstance(parts[1], int) else {}
            node = node[part]
            parts.pop(0)


def set_option(command: str, option: str, value: Scalar) -> str:
    """``command`` with option ``option`` set to ``value``: its argument replaced (``-n 4``,
    ``--nproc=4``), or added after the program name; ``true`` adds a flag, ``false``
    removes it."""
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"workload command {command!r}: {exc}") from None
    if not argv:
        raise ConfigError(f"cannot set {option} of an empty workload command")
    out = [argv[0]]
    found = False
    i = 1
    while i < len(argv):
        tok = argv[i]
        if tok == option:
            found = True
            if isinstance(value, bool):
                if value:
                    out.append(tok)
                i += 1
                continue
            out += [tok, str(value)]
            i += 2
            continue
        if tok.startswith(option + "=") and option.startswith("--"):
            found = True
            if not isinstance(value, bool):
                out.append(f"{option}={value}")
            i += 1
            continue
        out.append(tok)
        i += 1
    if not found:
        if isinstance(value, bool):
            extra = [option] if value else []
        else:
            extra = [option, str(value)]
        out = [out[0], *extra, *out[1:]]
    return shlex.join(out)


# -- reading ----------------------------------------------------------------------------------
def _axes(table: Mapping[str, Any], prefix: tuple[PathPart, ...], source: str,
          out: list[Axis]) -> None:
    for key, value in table.items():
        path = (*prefix, key)
        where = f"{source}: sweep.{column_name(path)}"
        if not prefix and key in SWEEP_KEYS:
            continue
        if isinstance(value, dict):
            if not value:
                raise ConfigError(f"{where}: an empty table sweeps nothing")
            _axes(value, path, source, out)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            if key not in ("swap", "workloads"):
                raise ConfigError(f"{where}: only [[sweep.swap]] and [[sweep.workloads]] "
                                  f"are arrays of tables")
            # An empty entry leaves that device or workload as configured.
            for i, entry in enumerate(value):
                _axes(entry, (*path, i), source, out)
        elif isinstance(value, list):
            if not value:
                raise ConfigError(f"{where}: an empty list of values")
            for i, v in enumerate(value):
                if isinstance(v, dict | list):
                    raise ConfigError(f"{where}[{i}]: a value to try must be a string, a "
                                      f"number or a boolean")
            if len(set(map(repr, value))) != len(value):
                raise ConfigError(f"{where}: a value is listed twice")
            name = {"designs": "design"}.get(column_name(path), column_name(path))
            if name == "design" and not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: each value is one design's name")
            out.append(Axis(path, name, tuple(value)))
        else:
            raise ConfigError(f"{where}: expected a list of values to try, got "
                              f"{type(value).__name__} {value!r}")


def loads_sweep(text: str, *, source: str = "sweep", base_dir: Path | None = None
                ) -> SweepSpec:
    """Parse a sweep specification from TOML text; ConfigError (one line) if it is bad.
    The points are built (and every one validated) by :meth:`SweepSpec.points`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    sweep = data.pop("sweep", None)
    if sweep is None:
        raise ConfigError(f"{source}: no [sweep] table: nothing to sweep (docs/sweeps.md)")
    if not isinstance(sweep, dict):
        raise ConfigError(f"{source}: sweep: expected a table")
    axes: list[Axis] = []
    _axes(sweep, (), source, axes)
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ConfigError(f"{source}: sweep.{dup}: swept twice")
    where = sweep.get("where")
    if where is not None and not isinstance(where, str):
        raise ConfigError(f"{source}: sweep.where: expected a string (an expression)")
    metrics = sweep.get("metrics", DEFAULT_METRICS)
    if (not isinstance(metrics, list | tuple) or not metrics
            or not all(isinstance(m, str) for m in metrics)):
        raise ConfigError(f"{source}: sweep.metrics: expected a list of column names")
    if "design" not in names and "designs" in data and not isinstance(data["designs"], list):
        raise ConfigError(f"{source}: designs: expected an array of design names")
    return SweepSpec(source=source, text=text, base=data, axes=axes, where=where,
                     metrics=tuple(metrics), base_dir=base_dir)


def load_sweep(path: str | Path) -> SweepSpec:
    """Read a sweep specification file (see :func:`loads_sweep`)."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{p}: is a directory, not a sweep specification") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a text file") from None
    return loads_sweep(text, source=str(path), base_dir=p.parent)
