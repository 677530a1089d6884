"""benchmarks/fidelity.py --from-model: a saved model side paired with other host rows."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _host(pswpout: int, us: float, off_sys: float) -> dict[str, object]:
    return {"pswpout": pswpout, "pswpin": pswpout, "peak_slots": pswpout,
            "us_per_swapped_page": us, "swapoff_real_s": off_sys, "swapoff_sys_s": off_sys}


def test_a_saved_model_side_is_paired_with_new_host_rows(tmp_path: Path) -> None:
    sizes = {"size": 1 << 27, "memory_max": 1 << 26, "device": 1 << 28}
    model_side = {"counts": {"pswpout": 1000, "pswpin": 1000, "peak_slots": 1000},
                  "sys_s": 0.02, "us_per_swapped_page": 10.0,
                  "swapoff_real_s": 0.5, "swapoff_sys_s": 0.2}
    model = tmp_path / "model.json"
    model.write_text(json.dumps({**sizes, "rows": [
        {"setup": "file", "workload": "swapoff", "spec": "swapoff", "host": _host(1, 1, 1),
         "builtin": model_side}]}))
    host = tmp_path / "host.json"
    host.write_text(json.dumps({**sizes, "rows": [
        {"setup": "file", "workload": "swapoff", "host": _host(800, 8.0, 0.25)}]}))
    out = tmp_path / "out.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fidelity.py"),
                           "--from-model", str(model), "--from-host", str(host),
                           "--json", str(out)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(out.read_text())["rows"][0]
    assert row["host"]["us_per_swapped_page"] == 8.0  # the new host row, not the saved one
    assert row["builtin"]["pswpout"] == 1.25 and row["builtin"]["peak_slots"] == 1.25
    assert row["builtin"]["sys_per_swapped_page_ratio"] == 1.25
    assert "| file | swapoff | 1.25 |" in proc.stdout
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**sizes, "size": 1 << 20, "rows": []}))
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "fidelity.py"),
                           "--from-model", str(model), "--from-host", str(other)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "other sizes" in proc.stderr
