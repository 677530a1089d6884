"""The mypyc-compiled model (``python -m vswap.compile``, docs/performance.md "Compiling the
hot path"): every listed module still compiles, and compiled modules give the same results
as plain Python.

The suite itself runs the plain-Python model (coverage cannot measure compiled code), so
these tests build what they check in a temporary directory. They need mypy (a test tool)
and the C compiler with the Python headers, which every machine of the project has; they
are not skipped without them. The full build takes minutes, so the suite compiles a subset
of kernel modules (the leaf of the per-fault path: folios, vmstat, swap entries, page data,
memcg charging) and checks the whole list only up to mypyc's C source; the full compiled
model was compared with plain Python on the reference runs when the list was chosen
(docs/performance.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vswap import compile as vcompile
from vswap._mypyc import compiled_modules

#: Compiled in the test: on every fault's path, and quick to build; and the engine, the CPUs,
#: the locks and the I/O queues every charged step goes through (compiled generator
#: resumes, events and heap order against plain Python's).
SUBSET = ("kernel/folio.py", "kernel/vmstat.py", "kernel/types.py", "kernel/pagedata.py",
          "kernel/memcontrol.py", "sim/engine.py", "sim/cpus.py", "sim/locks.py",
          "sim/ioqueue.py")
#: Runs compared: anonymous memory to a swapfile with and without zswap, and swapoff, on a
#: classic and a virtual design.
RUNS = (
    ("classic", ["--workload", "usemem -n 2 -O 4M", "--memory-max", "6M",
                 "--swap-device", "file:32M", "--zswap", "lz4"]),
    ("vswap", ["--workload", "usemem -n 2 -O 4M", "--memory-max", "4M",
               "--swap-device", "file:32M"]),
    ("vswap-v6", ["--workload", "swapoff --fill 0.5 --tasks 2", "--swap-device", "file:8M",
                  "--zswap", "lz4"]),
)


def test_the_list_and_its_exclusions_name_real_modules() -> None:
    src = vcompile.package_dir()
    paths = vcompile.compiled_paths(src)
    assert "vswap/mm/memory.py" in paths and "vswap/swap/classic.py" in paths
    # The engine is; the instruments are not (hooks are told apart by function object).
    assert "vswap/sim/engine.py" in paths and "vswap/sim/instrument.py" not in paths
    assert not any(p.endswith("__init__.py") for p in paths)
    for rel in vcompile.EXCLUDED:
        assert (src / rel).is_file(), rel
        assert f"vswap/{rel}" not in paths


def test_plain_python_reports_no_compiled_module() -> None:
    assert compiled_modules() == []


def test_every_listed_module_compiles() -> None:
    """mypyc accepts the whole list (type check, IR and C source; a construct it cannot
    compile, such as a loop over a bytearray or a narrowed attribute, fails here)."""
    vcompile.check()


#: Runs each ``vswap run`` argv of ``sys.argv[1]`` (a JSON list) in turn, in one process.
_DRIVER = """\
import json, sys
from vswap.cli import main
for argv in json.loads(sys.argv[1]):
    if main(argv) != 0:
        sys.exit(f"vswap {' '.join(argv)}: failed")
"""


def _run_all(out: Path, pythonpath: str | None) -> dict[str, dict[str, Any]]:
    """The result file of each of :data:`RUNS`, run one after the other in one Python
    process (plain Python, or the compiled modules first on ``pythonpath``): one interpreter
    start and import instead of three (about 1 CPU s each, most of a run this small)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VSWAP_COMPILED")}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out.mkdir()
    argvs = [["run", "--design", design, *args, "--json", str(out / f"{design}.json")]
             for design, args in RUNS]
    subprocess.run([sys.executable, "-c", _DRIVER, json.dumps(argvs)], env=env, check=True,
                   capture_output=True, text=True, timeout=600)
    return {design: json.loads((out / f"{design}.json").read_text()) for design, _ in RUNS}


def _model_results(data: dict[str, Any]) -> str:
    """The result file less what measures the host rather than the model: the run's wall
    time and the page events per wall second (``metrics``), and the name of the run's
    temporary directory (a swapfile's path)."""
    for run in data["runs"]:
        for key in ("wall_s", "page_events_per_wall_s"):
            run["metrics"].pop(key)
    return re.sub(r"vswap-run-\w+", "vswap-run-TMP", json.dumps(data, sort_keys=True))


def test_compiled_modules_give_identical_results(tmp_path: Path) -> None:
    built = tmp_path / "compiled"
    assert vcompile.build(built, modules=SUBSET, quiet=True)
    sos = sorted(p.name.split(".")[0] for p in built.glob("vswap/*/*.so"))
    assert sos == sorted(Path(m).stem for m in SUBSET)
    # Current: a second build is skipped.
    assert not vcompile.build(built, modules=SUBSET, quiet=True)
    plains = _run_all(tmp_path / "plain-runs", None)
    comps = _run_all(tmp_path / "compiled-runs", str(built))
    for design, _ in RUNS:
        plain, comp = plains[design], comps[design]
        assert plain.pop("provenance") == {"compiled": False, "compiled_modules": 0,
                                           "python": sys.version.split()[0]}
        prov = comp.pop("provenance")
        assert isinstance(prov, dict) and prov["compiled"] is True
        assert prov["compiled_modules"] == len(SUBSET)
        # Everything else, the virtual times included, is the same to the byte.
        assert _model_results(comp) == _model_results(plain), design


@pytest.mark.parametrize("argv", [[], ["--check", "--modules", "no/such.py"]])
def test_cli_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    if not argv:
        with pytest.raises(SystemExit):
            vcompile.main(argv)
        assert "--out is required" in capsys.readouterr().err
    else:
        assert vcompile.main(argv) == 1
        assert "mypyc build failed" in capsys.readouterr().err
