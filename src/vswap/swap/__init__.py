"""The swap layer: devices, the swap cache, and the swap designs behind one swap API.

Public surface (re-exported from private modules, Trio-style): the :class:`SwapDesign`
protocol, :class:`SwapHooks`, the design registry (:func:`create_design`,
:data:`DESIGNS`) and the entry/slot types. ``tests/unit/swap/test_swap_exports.py`` pins it.

Adding a design: write a module with a class implementing :class:`SwapDesign` (subclass
``vswap.swap._base.SwapDesignBase`` and use ``vswap.swap.classic`` as the template), add one
line to ``_DESIGN_PATHS`` below, and the shared API tests run against it automatically.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from vswap.errors import ConfigError
from vswap.kernel.types import NO_ENTRY, SwpEntry, SwpSlot
from vswap.swap._api import (
    AOP_WRITEPAGE_ACTIVATE,
    SwapDesign,
    SwapHooks,
    SwapoffResult,
)

if TYPE_CHECKING:
    from vswap.swap._base import SwapDesignBase

#: Design name -> "module:Class". Each takes keyword arguments ``nr_cpus``, ``env``,
#: ``hooks`` plus its own options.
_DESIGN_PATHS: dict[str, str] = {
    "classic": "vswap.swap.classic:ClassicSwap",
    "vswap": "vswap.swap.vswap:VirtualSwap",
    "vswap-static": "vswap.swap.vswap:VirtualSwapStatic",
    "vswap-dynamic": "vswap.swap.vswap:VirtualSwapDynamic",
    "vswap-v6": "vswap.swap.vswap_v6:VirtualSwapV6",
    "swap-table-p1": "vswap.swap.swap_table_p1:SwapTableP1",
    "swap-table-p4": "vswap.swap.swap_table_p4:SwapTableP4",
    "vswap-ste": "vswap.swap.vswap_ste:VswapSTE",
}

DESIGNS: tuple[str, ...] = tuple(_DESIGN_PATHS)


def design_class(name: str) -> type[SwapDesignBase]:
    """The class implementing design ``name``; ConfigError naming the valid ones otherwise."""
    try:
        path = _DESIGN_PATHS[name]
    except KeyError:
        raise ConfigError(f"unknown swap design {name!r} (known: {', '.join(DESIGNS)})") from None
    from vswap.swap._base import SwapDesignBase

    module, attr = path.split(":")
    cls = getattr(importlib.import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, SwapDesignBase)):
        raise ConfigError(f"swap design {name!r}: {path} is not a SwapDesignBase subclass")
    return cls


def create_design(name: str, **options: Any) -> SwapDesign:
    """Build a swap design by name (libCacheSim's ``create_cache``)."""
    design: SwapDesign = design_class(name)(**options)
    return design


__all__ = [
    "AOP_WRITEPAGE_ACTIVATE",
    "DESIGNS",
    "NO_ENTRY",
    "SwapDesign",
    "SwapHooks",
    "SwapoffResult",
    "SwpEntry",
    "SwpSlot",
    "create_design",
    "design_class",
]
