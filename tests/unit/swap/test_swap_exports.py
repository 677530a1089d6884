"""Pin the public surface of ``vswap.swap`` (Trio's test_exports, SimPy's __all__ check)."""

from __future__ import annotations

import vswap.swap as swap


def test_exported_names_are_pinned() -> None:
    assert sorted(swap.__all__) == sorted([
        "AOP_WRITEPAGE_ACTIVATE", "DESIGNS", "NO_ENTRY", "SwapDesign", "SwapHooks",
        "SwapoffResult", "SwpEntry", "SwpSlot", "create_design", "design_class",
    ])
    for name in swap.__all__:
        assert hasattr(swap, name)


def test_every_registered_design_implements_the_protocol() -> None:
    for name in swap.DESIGNS:
        design = swap.create_design(name)
        assert isinstance(design, swap.SwapDesign), name
        assert design.name.startswith(name.split("-")[0])


def test_unknown_design_is_a_config_error() -> None:
    import pytest

    from vswap.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown swap design 'nope'"):
        swap.create_design("nope")
