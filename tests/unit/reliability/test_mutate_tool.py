"""bin/mutate's engine (bin/_mutate.py) still points at the suite as it is: every package's
test paths exist and each module gets test files that exist (the tool stopped with a
FileNotFoundError once the tests were reorganised), and a planted mutant changes the code."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[3]


def _engine() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_mutate", ROOT / "bin" / "_mutate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_mutate"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_every_package_test_path_exists_and_every_module_has_tests() -> None:
    m = _engine()
    for pkg, entries in m.TESTS.items():
        for entry in entries:
            assert (ROOT / entry).exists(), f"{pkg}: {entry} does not exist"
        for module in sorted((ROOT / "src" / "vswap" / pkg).glob("*.py")):
            chosen = m.targeted_tests(str(module.relative_to(ROOT)))
            assert chosen and all((ROOT / t).exists() for t in chosen), (module, chosen)


def test_a_planted_mutant_changes_the_module() -> None:
    m = _engine()
    sites = m.list_sites(["zswap"])
    assert len(sites) > 100
    site = next(s for s in sites if s.kind == "compare")
    source = (ROOT / site.file).read_text()
    mutated = m.mutate(source, site)
    assert mutated is not None and mutated != source
