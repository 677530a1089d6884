"""Shared fixtures, in one place: deterministic seeds, Hypothesis profiles, every registered
design, opt-in root tests.

Test helpers that only one directory uses stay beside it (``tests/unit/swap/swaphelpers.py``,
``tests/unit/swap/vswaphelpers.py``, ``tests/unit/report/reporthelpers.py``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import pickle
import random
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from vswap.swap import DESIGNS

# A command's plain progress lines depend on how fast the machine runs it (one after 5 s):
# tests that compare a command's stderr must not depend on the load, so the suite (and every
# command it starts) prints none; tests of the display pass their own interval.
os.environ["VSWAP_PROGRESS_INTERVAL"] = "1e9"

settings.register_profile(
    "ci", max_examples=60, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# The same fixed examples, with the larger per-test budgets of tests/budget.py (the counts CI
# ran before they were cut to fit its 10 minutes): VSWAP_HYPOTHESIS_PROFILE=thorough.
settings.register_profile("thorough", settings.get_profile("ci"))
settings.register_profile("soak", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("VSWAP_HYPOTHESIS_PROFILE", "ci"))


def _untraced_child() -> None:
    """A forked child runs untraced: coverage's tracer (``bin/test`` measures with
    ``sys.settrace``) survives ``fork()``, but a child of ``multiprocessing``'s fork start
    method ends in ``os._exit`` and never saves what it measured (coverage's fork and
    multiprocessing patches are off), so tracing it only made it 4-5x slower. The runs
    ``--jobs N`` farms out to a ProcessPoolExecutor are such children: their results,
    which the tests check, do not depend on a tracer."""
    sys.settrace(None)
    threading.settrace(None)


os.register_at_fork(after_in_child=_untraced_child)


@pytest.fixture
def rng() -> random.Random:
    """A seeded generator: every test run sees the same 'random' data."""
    return random.Random(20250429)


@pytest.fixture(autouse=True)
def _vswap_logger_restored() -> Iterator[None]:
    """Each test starts with the ``vswap`` logger as ``import vswap`` left it: a test that
    calls the CLI's ``main()`` installs its stderr handler, which must not outlive it."""
    logger = logging.getLogger("vswap")
    handlers, level = list(logger.handlers), logger.level
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)


_CHECKOUT = Path(__file__).resolve().parent.parent


def _stray_files() -> set[str]:
    """Files in the checkout that git neither tracks nor ignores (None outside a git tree)."""
    try:
        out = subprocess.run(
            ["git", "-C", str(_CHECKOUT), "ls-files", "--others", "--exclude-standard", "-z"],
            capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return set()
    return {name for name in out.decode(errors="replace").split("\0") if name}


@pytest.fixture(scope="session", autouse=True)
def _checkout_left_clean() -> Iterator[None]:
    """No test writes into the checkout: a file a test leaves there is an error at the end
    of the session (a fuzzed swap path once left two 8 MiB swap files in the tree, and they
    were committed). Coverage's data files are ignored by git (.gitignore)."""
    before = _stray_files()
    yield
    new = _stray_files() - before
    if new:  # another xdist worker's test may be between making and removing a file
        time.sleep(2)
        new &= _stray_files()
    assert not new, f"tests left files in the checkout: {sorted(new)[:10]}"


@pytest.fixture(autouse=True)
def _page_data_full() -> Iterator[None]:
    """Every test starts and ends in the default ``full`` page-data mode (a compact machine
    sets the process-wide mode: vswap.kernel.pagedata)."""
    from vswap.kernel import pagedata

    pagedata.set_mode("full")
    yield
    pagedata.set_mode("full")


@pytest.fixture(params=DESIGNS)
def design(request: pytest.FixtureRequest) -> str:
    """Each registered swap design by name (``vswap.swap.DESIGNS``): a test taking this
    fixture runs once per design, so a new design is tested the day it is registered."""
    return str(request.param)


#: A measurement's arguments: design, backend, swap size, usages.
_MeasureKey = tuple[str, Any, int, tuple[int, ...]]
#: Measurements this process holds (both metadata modules may run in one worker).
_measured: dict[_MeasureKey, list[Any]] = {}


@pytest.fixture(scope="session")
def measured_metadata(tmp_path_factory: pytest.TempPathFactory
                      ) -> Callable[[str, Any, int, Sequence[int]], list[Any]]:
    """``measure_metadata(design, backend, swap_size=..., usages=...)`` (vswap.run.
    measured_metadata), run once per test session for each set of arguments.

    tests/unit/run/test_measured_metadata.py and tests/unit/swap/test_swap_table_metadata.py
    assert on the same 32 MiB runs of the three swap-table designs (each fills a device of
    8,192 slots: 12.9 of the 14.9 CPU s of the first module's runs, measured twice, 4-6x that
    under coverage). Under xdist the
    workers share one directory of the session (the parent of each worker's basetemp): the
    first worker to want a measurement takes its ``flock``, runs it and pickles the cells; the
    others load them. Nothing outlives the session, so every session measures the code it
    tests. The run is deterministic (a fresh design, no random input): which worker ran it
    does not change the cells."""
    from vswap.run.measured_metadata import measure_metadata

    worker = os.environ.get("PYTEST_XDIST_WORKER")
    shared = tmp_path_factory.getbasetemp().parent / "measured-metadata" if worker else None

    def get(design: str, backend: Any, swap_size: int, usages: Sequence[int]) -> list[Any]:
        key: _MeasureKey = (design, backend, swap_size, tuple(usages))
        if key in _measured:
            return _measured[key]
        if shared is None:
            cells = measure_metadata(design, backend, swap_size=swap_size, usages=usages)
        else:
            shared.mkdir(exist_ok=True)
            name = f"{design}-{backend.value}-{swap_size}-{'-'.join(map(str, usages))}"
            data = shared / f"{name}.pickle"
            with (shared / f"{name}.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be measuring it
                if data.exists():
                    cells = pickle.loads(data.read_bytes())
                else:
                    cells = measure_metadata(design, backend, swap_size=swap_size,
                                             usages=usages)
                    tmp = data.with_suffix(f".{worker}")
                    tmp.write_bytes(pickle.dumps(cells))
                    tmp.replace(data)
        _measured[key] = cells
        return cells

    return get


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Root tests change the machine: run them only when asked (VSWAP_ROOT_TESTS=1, as root)."""
    if os.environ.get("VSWAP_ROOT_TESTS") == "1" and os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="root test: set VSWAP_ROOT_TESTS=1 and run as root")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


def _cpu_s() -> float:
    """CPU seconds of this process and of its children it has reaped (user + system)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


_CPU_TIMES = os.environ.get("VSWAP_TEST_CPU_TIMES")
if _CPU_TIMES:
    _CPU_DIR = Path(_CPU_TIMES).resolve()  # before a test changes the working directory

    # VSWAP_TEST_CPU_TIMES=DIR: each test's CPU seconds (setup, call and teardown, the
    # subprocesses it waited for included) and wall seconds, one line per test appended to
    # DIR/cpu-WORKER.tsv. On a shared machine wall time measures the neighbours; CPU time
    # measures the test (CONTRIBUTING.md, "Test time").
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None
                                ) -> Generator[None, None, None]:
        """Time one test (the ``VSWAP_TEST_CPU_TIMES`` recorder)."""
        cpu, wall = _cpu_s(), time.perf_counter()
        yield
        cpu, wall = _cpu_s() - cpu, time.perf_counter() - wall
        _CPU_DIR.mkdir(parents=True, exist_ok=True)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with (_CPU_DIR / f"cpu-{worker}.tsv").open("a") as f:
            f.write(f"{item.nodeid}\t{cpu:.2f}\t{wall:.2f}\n")
