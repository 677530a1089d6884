"""The import-layering contract of the packages under ``src/vswap``, checked on the source.

Layers, highest first; a module may import its own package, any package of a lower layer,
and the base modules; never a higher layer, nor a peer of its own layer unless listed:

========================= ===============================================================
layer                     packages (and top-level modules)
========================= ===============================================================
7                         ``cli``, ``__main__``, ``compile`` (the mypyc build)
6                         ``run``, ``config``, ``report``, ``metadata``, ``reliability``,
                          ``host`` (real-kernel runs), ``sweep`` (grids of runs)
5                         ``workloads``
4                         ``mm``
3                         ``swap``
2                         ``zswap``
1                         ``kernel`` (the leaf: include/linux/), ``trace`` (trace file
                          formats: numpy only)
0 (base)                  ``errors``, ``units``, ``log``, ``fileio``, ``__init__``,
                          ``_mypyc`` (the compiler's class decorators): import
                          only each other
========================= ===============================================================

``sim`` (the engine) is independent: it imports only itself and the base modules, and of the
kernel stack (``kernel``, ``zswap``, ``swap``, ``mm``) none imports it. Every import counts,
also those under ``if TYPE_CHECKING:`` and inside functions. The package graph has no cycle.
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "vswap"

LAYER = {"cli": 7, "__main__": 7, "compile": 7,
         "run": 6, "config": 6, "report": 6, "metadata": 6, "reliability": 6, "host": 6,
         "sweep": 6,
         "workloads": 5, "mm": 4, "swap": 3, "zswap": 2, "kernel": 1, "trace": 1,
         "errors": 0, "units": 0, "log": 0, "fileio": 0, "__init__": 0, "_mypyc": 0,
         "sim": -1}
#: Peers that may import each other: run builds on config and report, report reads config,
#: run measures metadata with the calculator's layouts, a host run takes run's device specs
#: and gives report's result; a sweep runs run's configurations, read with config, into
#: report's tables; ``python -m vswap`` is the CLI.
PEER_EDGES = {("run", "config"), ("run", "report"), ("report", "config"),
              ("run", "reliability"), ("run", "metadata"), ("host", "run"), ("host", "report"),
              ("sweep", "run"), ("sweep", "config"), ("sweep", "report"),
              ("__main__", "cli")}
KERNEL_STACK = {"kernel", "zswap", "swap", "mm"}


def _unit(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> set[str]:
    """The vswap packages/modules one file imports (first component after ``vswap.``)."""
    tree = ast.parse(path.read_text(), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
            if node.module == "vswap":  # a submodule, or a name of vswap/__init__.py
                names = [f"vswap.{a.name}" if (SRC / a.name).is_dir()
                         or (SRC / f"{a.name}.py").exists() else "vswap.__init__"
                         for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "vswap" and len(parts) > 1:
                out.add(parts[1])
    return out


def _graph() -> dict[str, dict[str, list[str]]]:
    """unit -> imported unit -> files importing it."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(SRC.rglob("*.py")):
        unit = _unit(path)
        for dep in _imports(path):
            if dep != unit:
                graph.setdefault(unit, {}).setdefault(dep, []).append(
                    str(path.relative_to(SRC)))
    return graph


def test_every_unit_has_a_layer() -> None:
    units = {_unit(p) for p in SRC.rglob("*.py")}
    assert units <= set(LAYER), f"give these a layer: {sorted(units - set(LAYER))}"


def test_imports_follow_the_layers() -> None:
    bad = []
    for unit, deps in _graph().items():
        for dep, files in deps.items():
            lu, ld = LAYER[unit], LAYER[dep]
            if ld == 0:
                continue
            if unit == "sim" or (dep == "sim" and unit in KERNEL_STACK):
                bad.append(f"{unit} -> {dep} ({files[0]}): sim is independent")
            elif dep == "sim":
                continue
            elif ld > lu or (ld == lu and (unit, dep) not in PEER_EDGES):
                bad.append(f"{unit} (layer {lu}) -> {dep} (layer {ld}) in {', '.join(files)}")
    assert not bad, "import-layering violations:\n" + "\n".join(bad)


def test_base_modules_import_only_base_modules() -> None:
    for name in ("errors", "units", "log", "__init__"):
        deps = _imports(SRC / f"{name}.py")
        assert all(LAYER[d] == 0 for d in deps), (name, deps)


def test_no_package_cycles() -> None:
    graph = {u: set(d) for u, d in _graph().items()}
    for a, b in itertools.permutations(graph, 2):
        assert not (b in graph.get(a, ()) and a in graph.get(b, ())), f"cycle {a} <-> {b}"
    seen: dict[str, int] = {}

    def visit(u: str, stack: list[str]) -> None:
        state = seen.get(u, 0)
        assert state != 1, "import cycle: " + " -> ".join([*stack, u])
        if state == 2:
            return
        seen[u] = 1
        for v in sorted(graph.get(u, ())):
            visit(v, [*stack, u])
        seen[u] = 2

    for u in sorted(graph):
        visit(u, [])
