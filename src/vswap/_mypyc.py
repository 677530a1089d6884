"""The mypyc class decorators, as no-ops when the model runs as plain Python.

Not a kernel file. ``bin/vswap build`` compiles the hot modules with mypyc
(:mod:`vswap.compile`, docs/performance.md "Compiling the hot path"). mypyc reads two
decorators from ``mypy_extensions`` while compiling: ``trait`` (a class a native class may
inherit besides its one base: the ``Machine`` mixins) and ``mypyc_attr`` (per-class options).
A native class never calls them at run time. The plain-Python model must not need
``mypy_extensions`` installed (it ships with mypy, a test tool), so here the type checker and
mypyc see the real decorators and Python gets ones that return the class unchanged. This
module itself is never compiled: a compiled module would trap in the branch mypy calls
unreachable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_extensions import mypyc_attr as mypyc_attr
    from mypy_extensions import trait as trait
else:
    def trait(cls):
        """``mypy_extensions.trait`` at run time: the class unchanged."""
        return cls

    def mypyc_attr(*attrs, **kwattrs):
        """``mypy_extensions.mypyc_attr`` at run time: a decorator returning the class."""
        return lambda cls: cls

__all__ = ["compiled_modules", "mypyc_attr", "trait"]


def compiled_modules() -> list[str]:
    """The ``vswap`` modules imported so far that are compiled (C extension modules, as
    ``python -m vswap.compile`` builds them): empty when the model runs as plain Python."""
    import sys

    return sorted(name for name, mod in list(sys.modules.items())
                  if name.startswith("vswap.")
                  and str(getattr(mod, "__file__", "") or "").endswith((".so", ".pyd")))
