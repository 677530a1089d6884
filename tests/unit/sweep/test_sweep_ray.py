"""The same sweep on the process pool and on a local Ray instance (2 CPUs, started once
for this module) gives the same table."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray
from sweephelpers import model_columns, write_spec

from vswap.sweep import read_table, run_sweep


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, object_store_memory=100 << 20)
    try:
        yield
    finally:
        ray.shutdown()


def test_ray_and_the_pool_give_the_same_table(local_ray: None, tmp_path: Path) -> None:
    spec = write_spec(tmp_path)
    pool = run_sweep(spec, tmp_path / "pool", jobs=2)
    on_ray = run_sweep(spec, tmp_path / "ray", ray="local")
    assert (pool.executor, pool.ok) == ("pool", 8)
    assert (on_ray.executor, on_ray.slots, on_ray.ok) == ("ray", 2, 8)
    assert model_columns(tmp_path / "ray/results.parquet").equals(
        model_columns(tmp_path / "pool/results.parquet"))
    rows = read_table(tmp_path / "ray").rows
    assert {r["provenance.executor"] for r in rows} == {"ray"}
    assert ray.is_initialized(), "a sweep leaves a Ray instance it did not start running"
