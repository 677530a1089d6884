"""The engine of ``bin/mutate``: a small AST mutator (no dependency) for the model's cores.

Every mutation site of the chosen packages (outside docstrings and annotations) is listed
in a fixed order (file, then position):
a comparison flipped (``<`` and ``<=``, ``>`` and ``>=``, ``==`` and ``!=``, ``is`` and
``is not``, ``in`` and ``not in``), an arithmetic operator swapped (``+``/``-``, ``*``/``//``,
``<<``/``>>``, ``&``/``|``), ``and``/``or`` swapped, a ``not`` dropped, a small integer
constant moved by one, ``True``/``False`` swapped. A seeded sample of the sites is planted one
at a time in a copy of ``src/`` (the tree itself is never written), and the module's tests
run against the copy (``PYTHONPATH`` first) with ``-x`` and a timeout. A mutant is *killed*
when the tests fail, *timed out* when they run past the timeout (an endless loop counts as
caught), and *survived* when they pass. Docstrings are never mutated; a mutant whose
unparsed source is identical to the original is skipped.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
#: The tests run against a mutant of each package.
TESTS = {"swap": ["tests/unit/swap"],
         "zswap": ["tests/unit/zswap"],
         "mm": ["tests/unit/mm"]}

_CMP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
        ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
        ast.In: ast.NotIn, ast.NotIn: ast.In}
_BIN = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
        ast.LShift: ast.RShift, ast.RShift: ast.LShift, ast.BitAnd: ast.BitOr,
        ast.BitOr: ast.BitAnd}


@dataclass
class Site:
    file: str
    index: int      # the node's position in ast.walk order
    kind: str
    line: int
    what: str


@dataclass
class Outcome:
    site: Site
    status: str     # killed, timeout, survived, skipped
    seconds: float


def _docstring_ids(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                     ast.Constant):
                ids.add(id(body[0].value))
    return ids


def _annotation_ids(tree: ast.AST) -> set[int]:
    """Nodes inside annotations: never evaluated (``from __future__ import annotations``), so
    a mutant there is equivalent by construction."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(n) for r in roots for n in ast.walk(r)}


def _sites_of(node: ast.AST, docs: set[int]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if id(node) in docs:
        return out
    if isinstance(node, ast.Compare) and type(node.ops[0]) in _CMP:
        out.append(("compare", f"{type(node.ops[0]).__name__} -> "
                               f"{_CMP[type(node.ops[0])].__name__}"))
    elif isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        out.append(("binop", f"{type(node.op).__name__} -> {_BIN[type(node.op)].__name__}"))
    elif isinstance(node, ast.BoolOp):
        out.append(("boolop", "and <-> or"))
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        out.append(("not", "not dropped"))
    elif isinstance(node, ast.Constant) and id(node) not in docs:
        if isinstance(node.value, bool):
            out.append(("bool", f"{node.value} -> {not node.value}"))
        elif isinstance(node.value, int) and 0 <= node.value <= 64:
            out.append(("int", f"{node.value} -> {node.value + 1}"))
    return out


def list_sites(paths: list[str]) -> list[Site]:
    sites = []
    for pkg in paths:
        for f in sorted((SRC / "vswap" / pkg).glob("*.py")):
            tree = ast.parse(f.read_text())
            docs = _docstring_ids(tree) | _annotation_ids(tree)
            for i, node in enumerate(ast.walk(tree)):
                for kind, what in _sites_of(node, docs):
                    sites.append(Site(str(f.relative_to(ROOT)), i, kind,
                                      getattr(node, "lineno", 0), what))
    return sites


def mutate(source: str, site: Site) -> str | None:
    tree = ast.parse(source)
    node = list(ast.walk(tree))[site.index]
    if site.kind == "compare":
        assert isinstance(node, ast.Compare)
        node.ops[0] = _CMP[type(node.ops[0])]()
    elif site.kind == "binop":
        assert isinstance(node, ast.BinOp)
        node.op = _BIN[type(node.op)]()
    elif site.kind == "boolop":
        assert isinstance(node, ast.BoolOp)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif site.kind == "not":
        assert isinstance(node, ast.UnaryOp)
        _replace(tree, node, node.operand)
    elif site.kind == "bool":
        assert isinstance(node, ast.Constant)
        node.value = not node.value
    elif site.kind == "int":
        assert isinstance(node, ast.Constant)
        node.value = node.value + 1
    out = ast.unparse(tree)
    return None if out == ast.unparse(ast.parse(source)) else out


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, copy.copy(new))
            elif isinstance(value, list):
                for i, v in enumerate(value):
                    if v is old:
                        value[i] = copy.copy(new)


def run_mutant(site: Site, work: Path, timeout: float) -> Outcome:
    target = work / site.file
    original = (ROOT / site.file).read_text()
    mutated = mutate(original, site)
    if mutated is None:
        return Outcome(site, "skipped", 0.0)
    target.write_text(mutated)
    t0 = time.monotonic()
    try:
        p = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p",
                            "no:cacheprovider", *targeted_tests(site.file)],
                           cwd=ROOT, capture_output=True, timeout=timeout,
                           env={**_env(), "PYTHONPATH": str(work / "src")}, check=False)
        if p.returncode in (4, 5):
            # pytest's usage error or "no tests collected": the tool chose tests that do
            # not exist, which says nothing about the mutant.
            raise SystemExit(f"bin/mutate: pytest exit {p.returncode} on "
                             f"{targeted_tests(site.file)}: {p.stdout.decode()[-300:]}")
        # 1: a test failed; 2, 3: collection errors or a crash the mutant caused
        status = "survived" if p.returncode == 0 else "killed"
    except subprocess.TimeoutExpired:
        status = "timeout"
    finally:
        target.write_text(original)
    return Outcome(site, status, time.monotonic() - t0)


def targeted_tests(file: str) -> list[str]:
    """The test files of the module's package that name the module (its stem), or the
    package's whole test set when none does."""
    pkg, stem = Path(file).parts[2], Path(file).stem
    found = []
    for entry in TESTS[pkg]:
        path = ROOT / entry
        files = sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
        found += [str(f.relative_to(ROOT)) for f in files if stem in f.read_text()]
    return found or TESTS[pkg]


def _env() -> dict[str, str]:
    import os
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def main() -> int:
    ap = argparse.ArgumentParser(prog="bin/mutate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=60, help="mutants to plant (default 60)")
    ap.add_argument("--seed", type=int, default=1, help="sample seed (default 1)")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per mutant")
    ap.add_argument("--paths", default="swap,zswap,mm",
                    help="packages under src/vswap (default swap,zswap,mm)")
    ap.add_argument("--json", default=None, help="write the outcomes as JSON")
    args = ap.parse_args()
    paths = [p for p in args.paths.split(",") if p]
    sites = list_sites(paths)
    sample = random.Random(args.seed).sample(sites, min(args.sample, len(sites)))
    print(f"{len(sites)} mutation sites in {', '.join(paths)}; planting {len(sample)} "
          f"(seed {args.seed})", flush=True)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="vswap-mutate-") as tmp:
        work = Path(tmp)
        shutil.copytree(SRC, work / "src")
        for n, site in enumerate(sample, 1):
            o = run_mutant(site, work, args.timeout)
            outcomes.append(o)
            print(f"{n:3d}/{len(sample)} {o.status:8s} {o.seconds:6.1f}s "
                  f"{site.file}:{site.line} {site.kind} {site.what}", flush=True)
    by_pkg: dict[str, dict[str, int]] = {}
    for o in outcomes:
        pkg = Path(o.site.file).parts[2]
        by_pkg.setdefault(pkg, {"killed": 0, "timeout": 0, "survived": 0, "skipped": 0})
        by_pkg[pkg][o.status] += 1
    print("package  planted  killed  timeout  survived  kill rate")
    for pkg, c in by_pkg.items():
        planted = c["killed"] + c["timeout"] + c["survived"]
        rate = (c["killed"] + c["timeout"]) / planted if planted else 0.0
        print(f"{pkg:8s} {planted:7d} {c['killed']:7d} {c['timeout']:8d} {c['survived']:9d}"
              f"  {rate:8.1%}")
    for o in outcomes:
        if o.status == "survived":
            print(f"SURVIVED {o.site.file}:{o.site.line} {o.site.kind} {o.site.what}")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"seed": args.seed, "sample": len(sample), "sites": len(sites), "by_package": by_pkg,
             "outcomes": [{**asdict(o.site), "status": o.status, "seconds": round(o.seconds, 1)}
                          for o in outcomes]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
