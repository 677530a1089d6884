"""A sweep's directory: the specification, one file per finished point, the table.

Layout of ``DIR``::

    sweep.json          what the sweep is: the spec's source and text, the parameter
                        columns, the default metrics, every point (index, id, params)
    spec.toml           a copy of the specification (to rerun it from the directory)
    points/ID.json      one finished point: its params, status ("ok" or "failed"), the
                        error line of a failed one, the whole result of an ok one (the
                        result file's run, docs/result-schema.md), provenance
    results.parquet     one row per point of sweep.json that has a file (vswap.sweep.table)

Invariants: every file is written whole to a temporary name in the same directory and then
renamed over its final name (``os.replace``), so a reader (or a sweep killed at any instant)
sees either the old file or the new one, never a part; a point file exists only for a run
that ended (``ok`` or ``failed``); a point that was running when the sweep was stopped has
no file and runs again. One sweep at a time holds ``DIR/.lock`` (``flock``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vswap import __version__
from vswap.errors import ConfigError
from vswap.sweep.spec import Point, SweepSpec

__all__ = ["MANIFEST", "POINT_FORMAT", "SWEEP_FORMAT", "SweepDir", "atomic_write"]

SWEEP_FORMAT = "vswap-sweep"
POINT_FORMAT = "vswap-sweep-point"
FORMAT_VERSION = 1
MANIFEST = "sweep.json"
TABLE = "results.parquet"


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a
    rename: readers see the old content or the new, never a part."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class SweepDir:
    """The directory ``path`` of one sweep (see the module docstring)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.points_dir = self.path / "points"
        self.table_path = self.path / TABLE
        self._lock: Any = None

    # -- the manifest -----------------------------------------------------------------------
    def create(self, spec: SweepSpec, points: list[Point]) -> None:
        """Make the directory (or take over an existing sweep's) and write the manifest of
        this specification's points; temporary files a killed sweep left are removed."""
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"{self.path}: exists and is not a directory")
        if self.path.is_dir() and any(f.name != ".lock" for f in self.path.iterdir()) and not (
                self.path / MANIFEST).exists():
            raise ConfigError(f"{self.path}: not empty and not a sweep directory; "
                              f"give --out a new or a sweep's directory")
        self.points_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.points_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        for stale in self.path.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        manifest = {"format": SWEEP_FORMAT, "version": FORMAT_VERSION, "vswap": __version__,
                    "source": spec.source, "params": spec.param_names,
                    "metrics": list(spec.metrics),
                    "points": [{"index": p.index, "id": p.id, "params": p.params}
                               for p in points]}
        atomic_write(self.path / "spec.toml", spec.text.encode())
        atomic_write(self.path / MANIFEST, json.dumps(manifest, indent=1).encode())

    def manifest(self) -> dict[str, Any]:
        """The manifest; ConfigError (one line) if ``path`` is not a sweep directory."""
        p = self.path / MANIFEST
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            raise ConfigError(f"{self.path}: not a sweep directory (no {MANIFEST}; make one "
                              f"with `vswap sweep SPEC.toml --out {self.path}`)") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ConfigError(f"{p}: not a sweep manifest (not JSON)") from None
        if not isinstance(data, dict) or data.get("format") != SWEEP_FORMAT:
            raise ConfigError(f"{p}: not a sweep manifest")
        if data.get("version") != FORMAT_VERSION:
            raise ConfigError(f"{p}: sweep format version {data.get('version')!r}, this "
                              f"vswap reads version {FORMAT_VERSION}")
        return data

    # -- one sweep at a time ----------------------------------------------------------------
    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold ``DIR/.lock`` for the duration; ConfigError if another sweep holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        f = (self.path / ".lock").open("a")
        try:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(f"{self.path}: another vswap sweep is running in this "
                                  f"directory") from None
            yield
        finally:
            f.close()

    # -- points -----------------------------------------------------------------------------
    def point_path(self, point_id: str) -> Path:
        return self.points_dir / f"{point_id}.json"

    def read_point(self, point_id: str) -> dict[str, Any] | None:
        """The point's file, or None if it has none (never ran, or was running when the
        sweep stopped)."""
        p = self.point_path(point_id)
        try:
            data = json.loads(p.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ConfigError(f"{p}: not a sweep point file (not JSON)") from None
        if not isinstance(data, dict) or data.get("format") != POINT_FORMAT:
            raise ConfigError(f"{p}: not a sweep point file")
        return data

    def status(self, point_id: str) -> str | None:
        """``ok``, ``failed``, or None (no file)."""
        data = self.read_point(point_id)
        return None if data is None else str(data.get("status"))

    def write_point(self, point: Point, outcome: dict[str, Any],
                    provenance: dict[str, Any]) -> None:
        """Record a finished point (atomically; see the module docstring)."""
        data = {"format": POINT_FORMAT, "version": FORMAT_VERSION, "id": point.id,
                "index": point.index, "params": point.params,
                "status": outcome["status"], "error": outcome.get("error"),
                "result": outcome.get("result"), "provenance": provenance}
        atomic_write(self.point_path(point.id), json.dumps(data).encode())
