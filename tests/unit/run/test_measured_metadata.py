"""Swap metadata measured from running designs: it agrees with ``vswap metadata`` structure by
structure at every usage, and scaled to 32 GB it reproduces the published figures.

Published figures (source: /work/shared/reference/upstream-and-interfaces.md, section 1.1):
vswap v6's 32 GB table, "[PATCH v6 00/22] Virtual Swap Space" section II.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vswap.errors import ConfigError
from vswap.metadata.layouts import Backend
from vswap.run.measured_metadata import (
    MeasuredCell,
    layout_of,
    measure_metadata,
    needs_device,
    scaled_to,
)
from vswap.swap import DESIGNS, design_class

#: 32 GB = 8,388,608 slots; the runs use 1/1024 of it (8,192 slots, 16 clusters).
SLOTS_32G = 8_388_608
SWAP_SIZE = 32 << 20
USAGES = (0, 25, 50, 75, 100)

PUBLISHED: dict[tuple[str, Backend], tuple[str, ...]] = {
    ("vswap-v6", Backend.ZSWAP): ("0.00", "48.25", "96.50", "144.75", "193.00"),
    ("vswap-v6", Backend.DISK): ("2.00", "66.25", "130.50", "194.75", "259.00"),
}

#: Every registered design that declares a metadata layout takes part.
MEASURED = [d for d in DESIGNS if getattr(design_class(d), "metadata_layout", None)]
#: What a design may report beyond its layout: zsmalloc's own slabs (pool metadata) and zswap's
#: per-64 MiB trees of the swap-table designs, whose xa_nodes depend on where the cluster
#: allocator put the slots (the calculator prices dense trees; no published figure has them).
NOT_SWAP_METADATA = ("zswap_zs_handle", "zswap_zspage", "zswap_tree_xarray")


@pytest.fixture(scope="module")
def cells(measured_metadata: Callable[..., list[MeasuredCell]]
          ) -> Callable[[str, Backend], list[MeasuredCell]]:
    """``measure_metadata(design, backend)`` at SWAP_SIZE and USAGES, each run once per
    session (tests/conftest.py: tests/unit/swap/test_swap_table_metadata.py asserts on the
    same runs of the swap-table designs)."""
    return lambda design, backend: measured_metadata(design, backend, SWAP_SIZE, USAGES)


def test_designs_take_part() -> None:
    assert "vswap-v6" in MEASURED


@pytest.mark.parametrize("backend", list(Backend), ids=[b.value for b in Backend])
@pytest.mark.parametrize("design", MEASURED)
def test_measured_equals_the_calculator_at_every_usage(cells, design: str,  # type: ignore[no-untyped-def]
                                                        backend: Backend) -> None:
    layout = layout_of(design)
    declared = {s.name for s in layout.for_backend(backend, full=True)}
    for cell in cells(design, backend):
        for name, expected in cell.expected(full=True).items():
            assert cell.structure(name) == expected, (
                f"{design} {backend.value} {cell.usage_percent}%: {name} measured "
                f"{cell.structure(name)} B, the calculator says {expected} B")
        extra = {k for k, v in cell.measured.items() if v and k not in declared}
        assert extra <= set(NOT_SWAP_METADATA), f"undeclared structures {extra}"


@pytest.mark.parametrize(("design", "backend"), list(PUBLISHED),
                         ids=[f"{d}-{b.value}" for d, b in PUBLISHED])
def test_scaled_to_32g_reproduces_the_published_table(cells, design: str,  # type: ignore[no-untyped-def]
                                                      backend: Backend) -> None:
    got = tuple(f"{scaled_to(c, SLOTS_32G):.2f}" for c in cells(design, backend))
    assert got == PUBLISHED[design, backend]


def test_vswap_v6_per_page_and_per_slot_costs(cells) -> None:  # type: ignore[no-untyped-def]
    """24 B per swapped page plus the 64 B bitmap per cluster (zswap: no device); disk adds
    2 bits per device slot and 8 B of reverse map per swapped page."""
    z = cells("vswap-v6", Backend.ZSWAP)[-1]
    assert z.structure("swp_desc") == 24 * z.geometry.used_slots
    d0, d100 = cells("vswap-v6", Backend.DISK)[0], cells("vswap-v6", Backend.DISK)[-1]
    assert d0.counted_bytes() * 8 == 2 * d0.geometry.nr_slots
    assert d100.structure("swap_table_rmap") == 8 * 8192


def test_needs_device() -> None:
    assert not needs_device(layout_of("vswap-v6"), Backend.ZSWAP)
    assert needs_device(layout_of("vswap-v6"), Backend.DISK)


def test_bad_input() -> None:
    with pytest.raises(ConfigError):
        layout_of("classic")
    with pytest.raises(ConfigError):
        measure_metadata("vswap-v6", Backend.ZSWAP, swap_size=SWAP_SIZE, usages=(50, 25))
    with pytest.raises(ConfigError):
        measure_metadata("vswap-v6", Backend.ZSWAP, swap_size=4096, usages=(0,))
