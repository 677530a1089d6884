"""Build the compiled model: the hot modules compiled with mypyc, beside a copy of the rest.

Not a kernel file. ``python -m vswap.compile --out DIR`` copies the ``vswap`` package from
the source tree to ``DIR/vswap``, compiles the modules of :data:`COMPILED` there with mypyc
(C extension modules next to their ``.py`` files, which Python then imports instead) and
writes ``DIR/stamp.json``. With ``DIR`` first on ``PYTHONPATH`` a run imports the compiled
model; without it, the plain-Python one. ``VSWAP_COMPILED=1 bin/vswap ...`` does both (the
build only when the sources, mypy or Python changed since the stamp). The two give identical
results: the compiled modules are the same code (mypyc keeps Python's semantics: arbitrary
precision ints, the same float arithmetic, the same iteration orders), which
``tests/unit/test_compile.py`` checks on whole runs. A result file records which model ran
(``provenance.compiled``, :func:`vswap._mypyc.compiled_modules`).

Why these modules, and what it gives: docs/performance.md, "Compiling the hot path". The
modules left out are either not on the hot path or use what mypyc cannot compile (an
``AssertionError`` subclass, a property setter in a protocol, a surrogate in a string
literal); the workloads, the CLI and the sweep stay plain Python (interpreted subclasses of
compiled classes are not allowed, and they do not run per page).

Needs mypy (which ships mypyc; the ``compile`` extra) and a C compiler with the Python
headers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: The compiled modules, as paths under the package (a directory: its modules). The
#: per-fault path: the machine and its mixins (mm), the swap designs, zswap, the kernel's
#: structures and the tracer the timed run records steps through; and the per-step path of
#: a timed run: the engine (an event, a heap push and pop and a generator resume per
#: charged step), the CPUs (``Task.work``), the locks and the I/O queues. The rest of
#: ``sim`` runs once per run (the cost table, the device kinds) or must stay plain Python
#: (``sim/instrument.py`` tells overridden hooks from its defaults by their function
#: objects, which a compiled module does not have).
COMPILED = ("kernel", "mm", "swap", "zswap", "run/charge.py", "sim/engine.py",
            "sim/cpus.py", "sim/locks.py", "sim/ioqueue.py")
#: Modules of those directories left plain Python, and why.
EXCLUDED = {
    "mm/checks.py": "BadPageError and LeakError subclass AssertionError (mypyc: inheriting "
                    "from most builtin types is unimplemented); checks run once per run",
    "swap/_api.py": "the SwapDesign protocol declares a property setter (mypyc: property "
                    "setters not supported in non-extension classes); no code runs in it",
    "swap/swap_area.py": "a surrogate code point in a string literal (mypyc: not "
                         "supported); mkswap and swapon only",
    "swap/storage.py": "SwapStorage is a runtime_checkable protocol (mypyc compiles a "
                       "protocol to a native class, which runtime_checkable rejects); "
                       "the storages themselves are in swap/mmap_storage.py, compiled",
    "zswap/host.py": "ZswapBatchHost is a runtime_checkable protocol (as storage.py)",
}
#: Bumped when the build's recipe changes, so an old build is rebuilt.
RECIPE = 1


def package_dir() -> Path:
    """The ``vswap`` package this module was imported from."""
    return Path(__file__).resolve().parent


def compiled_paths(src: Path, modules: tuple[str, ...] = COMPILED) -> list[str]:
    """The ``.py`` files of ``modules`` under the package ``src``, relative to its parent
    (``vswap/mm/memory.py``), less :data:`EXCLUDED` and ``__init__.py`` files."""
    out: list[str] = []
    for m in modules:
        p = src / m
        files = sorted(p.glob("*.py")) if p.is_dir() else [p]
        for f in files:
            rel = f.relative_to(src).as_posix()
            if f.name == "__init__.py" or rel in EXCLUDED:
                continue
            out.append(f"vswap/{rel}")
    return out


def source_digest(src: Path, modules: list[str], opt_level: str) -> str:
    """What a build depends on: every ``.py`` of the package, the modules compiled, mypy's
    and Python's versions, the optimisation level and :data:`RECIPE`."""
    import mypy.version

    h = hashlib.sha256()
    for f in sorted(src.rglob("*.py")):
        h.update(f.relative_to(src).as_posix().encode())
        h.update(f.read_bytes())
    h.update(json.dumps([modules, mypy.version.__version__, sys.version, opt_level,
                         RECIPE]).encode())
    return h.hexdigest()


_SETUP = """\
import sys
from concurrent.futures import ThreadPoolExecutor

from mypyc.build import mypycify
from setuptools import setup
from setuptools.command.build_ext import build_ext

JOBS = {jobs}


class ParallelBuildExt(build_ext):
    # build_ext compiles one extension's C files one after another; mypyc's multi-file mode
    # makes one file per module, so run JOBS compilers at a time (gcc runs in its own
    # process, threads suffice).
    def build_extension(self, ext):
        orig = self.compiler.compile

        def compile(sources, *args, **kwargs):
            if JOBS < 2 or len(sources) < 2:
                return orig(sources, *args, **kwargs)
            chunks = [sources[i::JOBS] for i in range(JOBS)]
            with ThreadPoolExecutor(JOBS) as ex:
                done = list(ex.map(lambda c: orig(c, *args, **kwargs), chunks))
            return [o for objs in done for o in objs]

        self.compiler.compile = compile
        super().build_extension(ext)


setup(name="vswap-compiled", script_args=["build_ext", "--inplace"],
      cmdclass={{"build_ext": ParallelBuildExt}},
      ext_modules=mypycify({paths!r}, opt_level={opt_level!r}, multi_file={multi_file!r}))
"""

_CHECK = """\
from mypyc.build import mypyc_build
from mypyc.options import CompilerOptions

# mypyc's front and middle end only: type check, IR, C source; no C compiler.
mypyc_build({paths!r}, CompilerOptions(multi_file=True, target_dir="build"))
"""

#: mypy's configuration for the build: the project's (pyproject.toml [tool.mypy]) in short:
#: the untyped third-party modules.
_MYPY_INI = """\
[mypy]
python_version = 3.11
strict = True
[mypy-lz4.*,lz4,libcachesim,libcachesim.*]
ignore_missing_imports = True
[mypy-pyarrow,pyarrow.*,ray,ray.*]
ignore_missing_imports = True
follow_imports = skip
"""


def _run_mypyc(work: Path, src: Path, script: str) -> None:
    """Copy the package ``src`` to ``work/vswap`` and run ``script`` there with mypyc.

    Raises:
        RuntimeError: mypyc or the C compiler failed (the end of their output).
    """
    shutil.copytree(src, work / "vswap",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
    (work / "mypy.ini").write_text(_MYPY_INI)
    (work / "setup.py").write_text(script)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "setup.py"], cwd=work, env=env,
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        log = (proc.stdout + proc.stderr)[-8000:]
        raise RuntimeError(f"mypyc build failed (exit {proc.returncode}):\n{log}")


def check(*, src: Path | None = None, modules: tuple[str, ...] = COMPILED) -> None:
    """Run mypyc on ``modules`` up to the C source (type check, IR, C; no C compiler): the
    quick proof that they still compile, for the test suite.

    Raises:
        RuntimeError: mypyc rejected a module (its messages in the exception).
    """
    src = (src or package_dir()).resolve()
    with tempfile.TemporaryDirectory(prefix="vswap-mypyc-check-") as tmp:
        _run_mypyc(Path(tmp), src, _CHECK.format(paths=compiled_paths(src, modules)))


def build(out: Path, *, src: Path | None = None, modules: tuple[str, ...] = COMPILED,
          jobs: int | None = None, opt_level: str = "3", multi_file: bool = True,
          force: bool = False, quiet: bool = False) -> bool:
    """Build the compiled model into ``out`` unless ``out/stamp.json`` says it is current.

    Returns:
        True if it built, False if the existing build was current.

    Raises:
        RuntimeError: the build failed (mypyc's or the C compiler's output in the message).
    """
    src = (src or package_dir()).resolve()
    paths = compiled_paths(src, modules)
    digest = source_digest(src, paths, opt_level)
    stamp = out / "stamp.json"
    if not force and stamp.is_file():
        try:
            if json.loads(stamp.read_text()).get("digest") == digest:
                return False
        except (OSError, ValueError):
            pass
    jobs = jobs or os.cpu_count() or 1
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".compile-", dir=out.parent))
    t0 = time.monotonic()
    try:
        if not quiet:
            print(f"vswap: compiling {len(paths)} modules with mypyc into {out} "
                  f"({jobs} jobs; some minutes)", file=sys.stderr, flush=True)
        _run_mypyc(work, src, _SETUP.format(jobs=jobs, paths=paths, opt_level=opt_level,
                                             multi_file=multi_file))
        shutil.rmtree(work / "build", ignore_errors=True)
        for f in ("setup.py", "mypy.ini"):
            (work / f).unlink()
        shutil.rmtree(work / ".mypy_cache", ignore_errors=True)
        (work / "stamp.json").write_text(json.dumps(
            {"digest": digest, "modules": paths, "opt_level": opt_level,
             "build_s": round(time.monotonic() - t0, 1)}, indent=1) + "\n")
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not quiet:
        print(f"vswap: compiled in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m vswap.compile``: build (if stale) and print the directory to put first on
    ``PYTHONPATH``."""
    ap = argparse.ArgumentParser(prog="python -m vswap.compile",
                                 description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--out", help="directory of the compiled model")
    ap.add_argument("--check", action="store_true",
                    help="only check that mypyc compiles the modules (no C compiler, no --out)")
    ap.add_argument("--src", help="the vswap package to compile (default: this one)")
    ap.add_argument("--modules", nargs="+", default=list(COMPILED),
                    help="package-relative modules or directories to compile")
    ap.add_argument("--jobs", type=int, help="C compilers at once (default: the cores)")
    ap.add_argument("--opt-level", default="3", help="the C compiler's -O level (default 3)")
    ap.add_argument("--single-file", action="store_true",
                    help="one C file for all modules (mypyc's default; slower to build)")
    ap.add_argument("--force", action="store_true", help="rebuild even if current")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    src = Path(args.src) if args.src else None
    if args.check:
        try:
            check(src=src, modules=tuple(args.modules))
        except RuntimeError as e:
            print(f"vswap: {e}", file=sys.stderr)
            return 1
        return 0
    if not args.out:
        ap.error("--out is required (or --check)")
    out = Path(args.out).resolve()
    try:
        build(out, src=src, modules=tuple(args.modules),
              jobs=args.jobs, opt_level=args.opt_level, multi_file=not args.single_file,
              force=args.force, quiet=args.quiet)
    except RuntimeError as e:
        print(f"vswap: {e}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
