"""A tiny sweep shared by the sweep tests: 8 points of a second or less each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY = """
designs = ["classic", "vswap"]
seed = 1
[machine]
ram = "32M"
cpus = 2
[[swap]]
type = "file"
size = "16M"
[zswap]
enabled = true
compressor = "lz4"
[cgroups."/app"]
memory.max = "1M"
[[workloads]]
cgroup = "/app"
command = "usemem -n 2 1M"

[sweep]
seed = [1, 2]
metrics = ["metrics.real_s", "devices[0].peak_used_pages"]
[sweep.cgroups."/app"]
memory.max = ["1M", "2M"]
"""


def write_spec(tmp_path: Path, text: str = TINY, name: str = "tiny.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def model_columns(path: Path) -> Any:
    """The table at ``path`` without its provenance columns: what must not depend on the
    executor, the host or the order points ran in."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table.select([c for c in table.column_names if not c.startswith("provenance.")])
