"""Shared helpers for the benchmark scripts: a rich table and a JSON file per run."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent.parent / "results"


def report(name: str, title: str, rows: list[dict[str, Any]], json_path: str | None) -> Path:
    """Print ``rows`` as a table and save them, with the host facts, as JSON."""
    table = Table(title=title)
    for key in rows[0]:
        table.add_column(key, justify="right" if isinstance(rows[0][key], int | float) else "left")
    for row in rows:
        table.add_row(*[f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int)
                        else str(v) for v in row.values()])
    Console().print(table)
    path = Path(json_path) if json_path else RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({
        "benchmark": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "python": platform.python_version(), "machine": platform.machine(), "rows": rows,
    }, indent=2))
    print(f"saved {path}")
    return path
