"""Cost files: a cost table loaded from JSON (``--costs FILE``, ``costs = "FILE"`` in a
configuration), validated, with its provenance kept in every result.

Two formats are read (docs/costs.md is the reference):

* **vswap-costs, version 1**, the format calibrations write::

      {"format": "vswap-costs", "version": 1,
       "provenance": {"method": "calibrated", "kernel": "6.18.44", "host": "box",
                      "date": "2026-05-01", "tool": "vswap calibrate --host", "note": "..."},
       "costs": {"fault_entry_exit": 700, "compress_lz4": 2100},
       "sources": {"fault_entry_exit": "fit over 12 host runs, residual 4%"}}

  ``costs`` gives ns per step by cost-table name (``vswap.sim.costs.CostTable``); entries
  it does not name keep the built-in table's value. ``provenance.method`` is ``calibrated``
  (fitted to runs on a real kernel: ``kernel`` is then required), ``measured`` (host
  micro-benchmarks) or ``manual`` (chosen by hand).
* **vswap calibrate --json** as ``vswap calibrate`` writes it today
  (``{"vswap_calibration": 1, "host": {...}, "overrides": {...}, ...}``): the ``overrides``
  are applied, with method ``measured``.

Anything else (an unknown key, an unknown cost name, a value that is not a positive number
of ns, another format or version) is a one-line :class:`~vswap.errors.ConfigError` naming
the file and the key.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vswap.errors import ConfigError
from vswap.sim.costs import BUILTIN_COSTS, DEFAULT_CALIBRATION_FILE, DEFAULT_COSTS, CostTable

__all__ = ["BUILTIN", "COST_FILE_FORMAT", "COST_FILE_VERSION", "COST_METHODS",
           "DEFAULT_CALIBRATION", "CostProvenance", "builtin_provenance", "calibrated_files",
           "default_costs", "default_provenance", "load_cost_file", "provenance_line"]

COST_FILE_FORMAT = "vswap-costs"
COST_FILE_VERSION = 1
#: ``provenance.method`` values: what the numbers are.
COST_METHODS = ("calibrated", "measured", "manual")
#: ``--costs builtin``: the built-in table (published figures and labelled estimates).
BUILTIN = "builtin"
#: Where the cost files calibrated on a kernel ship (``vswap calibrate --host`` output).
CALIBRATED_DIR = Path(__file__).resolve().parent.parent / "sim" / "calibrated"
_TOP_KEYS = ("format", "version", "provenance", "costs", "sources", "fit")
_PROVENANCE_KEYS = ("method", "kernel", "host", "date", "tool", "note")


@dataclass(frozen=True)
class CostProvenance:
    """Where a run's cost table came from (the result's ``costs``).

    ``method``: ``builtin`` (the built-in table: published figures and labelled estimates,
    calibrated on no kernel; ``default`` in results from before the calibrated default), or
    a cost file's method (the default table is the shipped calibration, ``calibrated``);
    ``file``, ``sha256`` and ``format`` name the file; ``kernel``, ``host``, ``date``,
    ``tool``, ``note`` are the file's own provenance; ``entries`` the ns values the file
    set, ``sources`` its per-entry notes.
    """

    method: str = "builtin"
    file: str | None = None
    sha256: str | None = None
    format: str = "builtin"
    kernel: str | None = None
    host: str | None = None
    date: str | None = None
    tool: str | None = None
    note: str | None = None
    entries: dict[str, int] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def line(self) -> str:
        """One line saying how the costs were obtained (printed under every RFC table)."""
        return provenance_line(self.as_json())

    def as_json(self) -> dict[str, Any]:
        return {"method": self.method, "file": self.file, "sha256": self.sha256,
                "format": self.format, "kernel": self.kernel, "host": self.host,
                "date": self.date, "tool": self.tool, "note": self.note,
                "entries": dict(self.entries), "sources": dict(self.sources)}


def builtin_provenance() -> CostProvenance:
    """The built-in table's provenance (``--costs builtin``)."""
    return CostProvenance()


def default_provenance() -> CostProvenance:
    """The default table's provenance: the shipped calibration's (:func:`default_costs`)."""
    return default_costs()[1]


def provenance_line(costs: dict[str, Any] | None) -> str:
    """The one line for a result's ``costs`` (``None`` or empty: a result from before cost
    files, which always used the built-in table)."""
    c = costs or {}
    method = c.get("method", "builtin")
    if method in ("builtin", "default"):
        return ("costs: the built-in table (vswap.sim.costs: published figures and labelled "
                "estimates, calibrated on no kernel): compare ratios between designs, not "
                "seconds")
    n = len(c.get("entries") or {})
    where = []
    if c.get("host"):
        where.append(f"host {c['host']}")
    if c.get("date"):
        where.append(str(c["date"]))
    at = f" ({', '.join(where)})" if where else ""
    digest = f", sha256 {str(c['sha256'])[:12]}" if c.get("sha256") else ""
    source = f"{c.get('file')}{digest}"
    if method == "calibrated":
        how = f"calibrated on kernel {c.get('kernel')}{at}"
    elif method == "measured":
        how = f"measured{' by ' + c['tool'] if c.get('tool') else ''}{at}"
    else:
        how = f"set by hand{at}"
    return f"costs: {n} entries {how}, from {source}; the rest the built-in table"


def _error(path: Path, where: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: {where}: {problem}" if where else f"{path}: {problem}")


def _suggest(name: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"; did you mean {close[0]}?" if close else ""


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if value is None:
        return "null"
    return f"{type(value).__name__} ({value!r})"


def _ns_values(path: Path, where: str, raw: object) -> dict[str, int]:
    if not isinstance(raw, dict):
        raise _error(path, where, f"expected an object of cost name -> ns, got {_kind(raw)}")
    names = CostTable.cost_names()
    out: dict[str, int] = {}
    for name, value in raw.items():
        if name not in names:
            raise _error(path, f"{where}.{name}", f"unknown cost entry{_suggest(name, names)} "
                                                 "(the entries of vswap.sim.costs.CostTable)")
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise _error(path, f"{where}.{name}", f"expected a positive number of ns, got "
                                                 f"{_kind(value)}")
        out[name] = max(1, round(value))
    return out


def _optional_text(path: Path, table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _error(path, f"provenance.{key}", f"expected a string, got {_kind(value)}")
    return value


def _read_json(path: Path) -> tuple[Any, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a cost file") from None
    try:
        return json.loads(raw), hashlib.sha256(raw).hexdigest()
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a cost file (not JSON: "
                          f"{getattr(exc, 'msg', exc)})") from None


def _from_calibrate(path: Path, data: dict[str, Any], digest: str,
                    base: CostTable) -> tuple[CostTable, CostProvenance]:
    if data.get("vswap_calibration") != 1:
        raise _error(path, "vswap_calibration", f"version {data.get('vswap_calibration')!r}; "
                                                "this vswap reads version 1")
    entries = _ns_values(path, "overrides", data.get("overrides"))
    raw_host = data.get("host")
    host: dict[str, Any] = raw_host if isinstance(raw_host, dict) else {}
    node = host.get("node") if isinstance(host.get("node"), str) else None
    platform = host.get("platform") if isinstance(host.get("platform"), str) else None
    prov = CostProvenance(method="measured", file=str(path), sha256=digest,
                          format="vswap calibrate --json 1", host=node,
                          tool="vswap calibrate", note=platform, entries=entries)
    return base.with_overrides(entries, note=prov.line()), prov


def calibrated_files() -> list[Path]:
    """The cost files calibrated on a kernel that ship with vswap (sorted by name)."""
    return sorted(CALIBRATED_DIR.glob("*.json"))


#: The table runs use unless ``--costs`` says otherwise: the one calibrated on Linux 6.18
#: (``vswap calibrate --host`` on the development machine, docs/fidelity.md).
DEFAULT_CALIBRATION = DEFAULT_CALIBRATION_FILE.name


@functools.cache
def default_costs() -> tuple[CostTable, CostProvenance]:
    """The default cost table and its provenance: the shipped calibration
    (:data:`DEFAULT_CALIBRATION`, checked as any cost file is) when present, else the
    built-in table. The table is ``vswap.sim.costs.DEFAULT_COSTS`` itself, the one
    :class:`~vswap.run.context.RunConfig` defaults to.

    Raises:
        ConfigError: the shipped file is damaged.
    """
    path = CALIBRATED_DIR / DEFAULT_CALIBRATION
    if not path.exists():  # pragma: no cover - the file ships with vswap
        return BUILTIN_COSTS, builtin_provenance()
    table, prov = load_cost_file(path)
    prov = dataclasses.replace(prov, file=f"vswap/sim/calibrated/{path.name}")
    if any(getattr(table, k) != getattr(DEFAULT_COSTS, k) for k in CostTable.cost_names()):
        raise ConfigError(f"{path}: differs from the table vswap.sim.costs loaded")
    return DEFAULT_COSTS, prov


def load_cost_file(path: str | Path, *, base: CostTable = BUILTIN_COSTS
                   ) -> tuple[CostTable, CostProvenance]:
    """The cost table of ``path`` (``base``, default the built-in table, with the file's
    entries) and its provenance; ``builtin`` (:data:`BUILTIN`) is the built-in table
    itself.

    Raises:
        ConfigError: missing or unreadable file, not JSON, another format or version, an
            unknown key or cost name, a value that is not a positive number of ns (one line
            naming the file and the key).
    """
    if str(path) == BUILTIN:
        return BUILTIN_COSTS, builtin_provenance()
    p = Path(path)
    data, digest = _read_json(p)
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: not a cost file (expected a JSON object)")
    if "vswap_calibration" in data:
        return _from_calibrate(p, data, digest, base)
    if data.get("format") != COST_FILE_FORMAT:
        raise ConfigError(f"{p}: not a cost file (format {data.get('format')!r}; expected "
                          f"{COST_FILE_FORMAT!r} or a `vswap calibrate --json` file)")
    if data.get("version") != COST_FILE_VERSION:
        raise _error(p, "version", f"{data.get('version')!r}; this vswap reads "
                                   f"{COST_FILE_FORMAT} version {COST_FILE_VERSION}")
    for key in data:
        if key not in _TOP_KEYS:
            raise _error(p, key, f"unknown key{_suggest(key, _TOP_KEYS)} "
                                 f"(known: {', '.join(_TOP_KEYS)})")
    prov_raw = data.get("provenance")
    if not isinstance(prov_raw, dict):
        raise _error(p, "provenance", f"expected an object, got {_kind(prov_raw)}")
    for key in prov_raw:
        if key not in _PROVENANCE_KEYS:
            raise _error(p, f"provenance.{key}", f"unknown key{_suggest(key, _PROVENANCE_KEYS)}"
                                                 f" (known: {', '.join(_PROVENANCE_KEYS)})")
    method = prov_raw.get("method")
    if method not in COST_METHODS:
        raise _error(p, "provenance.method", f"{method!r} is not one of "
                                             f"{', '.join(COST_METHODS)}")
    kernel = _optional_text(p, prov_raw, "kernel")
    if method == "calibrated" and not kernel:
        raise _error(p, "provenance.kernel", "a calibrated table names the kernel it was "
                                             "calibrated on (uname -r)")
    entries = _ns_values(p, "costs", data.get("costs"))
    if not entries:
        raise _error(p, "costs", "no cost entry given")
    if not isinstance(data.get("fit", {}), dict):
        raise _error(p, "fit", f"expected an object, got {_kind(data.get('fit'))}")
    sources_raw = data.get("sources", {})
    if not isinstance(sources_raw, dict):
        raise _error(p, "sources", f"expected an object, got {_kind(sources_raw)}")
    sources: dict[str, str] = {}
    for name, text in sources_raw.items():
        if name not in entries:
            raise _error(p, f"sources.{name}", "a source for an entry the file does not set")
        if not isinstance(text, str):
            raise _error(p, f"sources.{name}", f"expected a string, got {_kind(text)}")
        sources[name] = text
    prov = CostProvenance(method=str(method), file=str(p), sha256=digest,
                          format=f"{COST_FILE_FORMAT} {COST_FILE_VERSION}", kernel=kernel,
                          host=_optional_text(p, prov_raw, "host"),
                          date=_optional_text(p, prov_raw, "date"),
                          tool=_optional_text(p, prov_raw, "tool"),
                          note=_optional_text(p, prov_raw, "note"),
                          entries=entries, sources=sources)
    return base.with_overrides(entries, note=prov.line()), prov
