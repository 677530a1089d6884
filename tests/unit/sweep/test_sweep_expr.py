"""The ``where`` language: what it evaluates, how names resolve, and that nothing in it
runs Python."""

from __future__ import annotations

import pytest

from vswap.errors import ConfigError
from vswap.sweep.expr import compile_expr, resolve_name

COLS = ["design", "seed", 'cgroups."/app".memory.max', "workloads[0].-n", "zswap.compressor",
        "metrics.real_s", "vmstat.pswpout", "peak.vmstat.pswpout", "swapoff.real_s",
        'cgroups."/app".memory.stat.pswpout']
ROW = {"design": "vswap", "seed": 2, 'cgroups."/app".memory.max': "8M",
       "workloads[0].-n": 4, "zswap.compressor": "lz4", "metrics.real_s": 0.5,
       "vmstat.pswpout": 100, "peak.vmstat.pswpout": 90, "swapoff.real_s": None}


@pytest.mark.parametrize(("text", "want"), [
    ("design == 'vswap'", True),
    ('design = "classic"', False),
    ("seed >= 2 and seed < 3", True),
    ("not seed == 2", False),
    ("design == 'classic' or -n > 2", True),
    ("memory.max < 16M", True),
    ("memory.max == 8M", True),
    ("memory.max > 8M", False),
    ("`cgroups.\"/app\".memory.max` in ['4M', '8M']", True),
    ("compressor not in ['lz4', 'zstd']", False),
    ("metrics.real_s > 0.25 and pswpout == 100", True),
    ("(seed == 1 or seed == 2) and not (design == 'classic')", True),
    ("swapoff.real_s > 0", False),
    ("swapoff.real_s != 1", False),
    ("seed > -1", True),
    ("design < 3", False),
])
def test_expressions(text: str, want: bool) -> None:
    assert compile_expr(text, COLS)(ROW) is want


def test_max_is_larger_than_every_size() -> None:
    expr = compile_expr("memory.max > 1T", COLS)
    assert expr({'cgroups."/app".memory.max': "max"})
    assert not expr({'cgroups."/app".memory.max': "1G"})


def test_name_resolution() -> None:
    assert resolve_name("memory.max", COLS) == 'cgroups."/app".memory.max'
    assert resolve_name("pswpout", COLS) == "vmstat.pswpout", "the shortest path wins"
    with pytest.raises(ConfigError, match=r"ambiguous: metrics\.real_s, swapoff\.real_s"):
        resolve_name("real_s", COLS)
    assert resolve_name("real_s", COLS, prefer=["metrics.real_s"]) == "metrics.real_s"
    with pytest.raises(ConfigError, match="'nope' is not a column"):
        resolve_name("nope", COLS)


@pytest.mark.parametrize("text", [
    "__import__('os').system('true')", "design.__class__", "seed + 1 > 2", "seed ==",
    "open('x')", "design == 'a' and", "[1, 2]", "seed in 3", "lambda: 1", "", "seed; 1",
])
def test_no_python_and_bad_syntax_is_one_line_error(text: str) -> None:
    with pytest.raises(ConfigError) as err:
        compile_expr(text, COLS)
    assert "\n" not in str(err.value) and str(err.value).startswith("--where")
