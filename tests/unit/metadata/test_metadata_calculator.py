"""The swap-metadata calculator against every published cell, plus its CLI and bad input.

Published figures (the only place they are written down in the project, besides the docs):
the v6 Virtual Swap Space cover letter's 32 GB table (section II, both backends, old design
and vswap) and Kairui Song's per-phase figures (reply to vswap v3, 2026-02-11, 0% and 100%,
the disk case: his vswap figure is the cover letter's disk column). Source of both:
/work/shared/reference/upstream-and-interfaces.md, sections 1.1 and 1.2.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from vswap.cli import main
from vswap.kernel import sizes
from vswap.metadata.calculator import (
    Geometry,
    format_mib,
    metadata_cell,
    structure_bytes,
    xarray_dense_node_count,
)
from vswap.metadata.layouts import LAYOUTS, Backend, Kind, Structure

SWAP_32G = 32 << 30

# (design, backend) -> {usage %: "MB as printed"}
PUBLISHED: dict[tuple[str, Backend], dict[int, str]] = {
    # v6 cover letter, 32 GB swapfile = 8,388,608 entries.
    ("6.19", Backend.ZSWAP): {0: "25.00", 25: "57.00", 50: "89.00", 75: "121.00", 100: "153.00"},
    ("vswap-v6", Backend.ZSWAP): {0: "0.00", 25: "48.25", 50: "96.50", 75: "144.75",
                                  100: "193.00"},
    ("6.19", Backend.DISK): {0: "25.00", 25: "41.00", 50: "57.00", 75: "73.00", 100: "89.00"},
    ("vswap-v6", Backend.DISK): {0: "2.00", 25: "66.25", 50: "130.50", 75: "194.75",
                                 100: "259.00"},
}
KAIRUI: dict[str, dict[int, str]] = {
    "swap-table-p2": {0: "25.50", 100: "89.50"},   # "mm-stable (swap table P2) 25.50 / 89.5"
    "swap-table-p3": {0: "17.50", 100: "81.50"},
    "swap-table-p4": {0: "0.50", 100: "64.50"},
    "vswap-v6": {0: "2.00", 100: "259.00"},
}

CELLS = ([(d, b, u, mb) for (d, b), row in PUBLISHED.items() for u, mb in row.items()]
         + [(d, Backend.DISK, u, mb) for d, row in KAIRUI.items() for u, mb in row.items()])


@pytest.mark.parametrize(("design", "backend", "usage", "expected"), CELLS,
                         ids=[f"{d}-{b.value}-{u}" for d, b, u, _ in CELLS])
def test_published_cell(design: str, backend: Backend, usage: int, expected: str) -> None:
    cell = metadata_cell(LAYOUTS[design], backend, SWAP_32G, usage)
    assert format_mib(cell.total_bytes) == expected
    assert cell.geometry.nr_slots == 8_388_608


def test_every_published_cell_is_covered() -> None:
    assert len(CELLS) == 4 * 5 + 4 * 2


@pytest.mark.parametrize(("backend", "per_slot"), [(Backend.ZSWAP, 16), (Backend.DISK, 8)])
def test_old_design_decomposition(backend: Backend, per_slot: int) -> None:
    # 25 MiB static = 8 swap_map + 16 swap_cgroup + 1 zeromap; dynamic 8 (+8 zswap tree) B/slot.
    cell = metadata_cell(LAYOUTS["6.19"], backend, SWAP_32G, 100)
    parts = dict(cell.structures)
    assert parts["swap_map"] == 8 << 20
    assert parts["swap_cgroup"] == 16 << 20
    assert parts["zeromap"] == 1 << 20
    assert cell.total_bytes - (25 << 20) == per_slot * 8_388_608


def test_classic_matches_old_design_under_published_accounting() -> None:
    # The swap table replaced the XArray swap cache at the same 8 B per entry.
    for backend in Backend:
        for usage in (0, 25, 50, 75, 100):
            a = metadata_cell(LAYOUTS["classic"], backend, SWAP_32G, usage)
            b = metadata_cell(LAYOUTS["6.19"], backend, SWAP_32G, usage)
            assert a.total_bytes == b.total_bytes


def test_classic_and_seed_use_sizes_constants() -> None:
    classic = {s.name: s for s in LAYOUTS["classic"].structures}
    assert classic["swap_map"].bytes == sizes.SWAP_MAP_BYTES_PER_SLOT
    assert classic["swap_cgroup"].bytes == sizes.SWAP_CGROUP_BYTES_PER_SLOT
    assert classic["zeromap"].bits == sizes.ZEROMAP_BITS_PER_SLOT
    assert classic["swap_cluster_info"].bytes == sizes.SWAP_CLUSTER_INFO_BYTES
    assert classic["zswap_entry"].bytes == sizes.ZSWAP_ENTRY_BYTES
    seed = {s.name: s for s in LAYOUTS["vswap-rfc-v2"].structures}
    assert seed["swp_desc"].bytes == sizes.SWP_DESC_BYTES_RFC_V2 == 48
    assert seed["swap_map"].kind is Kind.STATIC_PER_SLOT
    assert "zeromap" not in seed and "swap_cgroup" not in seed


def test_seed_values() -> None:
    # 48 desc + 8 vswap_map + 8 swap cache shadow (+ 8 zswap tree | + 8 rmap), 8 B per cluster.
    n = 8_388_608
    z = metadata_cell(LAYOUTS["vswap-rfc-v2"], Backend.ZSWAP, SWAP_32G, 100)
    assert z.total_bytes == 72 * n + 8 * (n // 512)
    d = metadata_cell(LAYOUTS["vswap-rfc-v2"], Backend.DISK, SWAP_32G, 0)
    assert d.total_bytes == n  # the static swap_map byte
    assert metadata_cell(LAYOUTS["vswap-rfc-v2"], Backend.ZSWAP, SWAP_32G, 0).total_bytes == 0


def test_every_structure_cites_a_source() -> None:
    for layout in LAYOUTS.values():
        assert layout.source
        for s in layout.structures:
            assert s.source, (layout.name, s.name)
            assert s.counted or s.note, (layout.name, s.name)


def test_full_mode_adds_left_out_structures() -> None:
    # Kairui's P2 counts the 32 B cluster headers the cover letter leaves out of 6.19.
    full = metadata_cell(LAYOUTS["6.19"], Backend.DISK, SWAP_32G, 0, full=True)
    assert format_mib(full.total_bytes) == "25.50"
    p2 = metadata_cell(LAYOUTS["swap-table-p2"], Backend.DISK, SWAP_32G, 0)
    assert full.total_bytes == p2.total_bytes
    # Full XArray accounting counts whole nodes: more than 8 B per entry.
    c = metadata_cell(LAYOUTS["classic"], Backend.ZSWAP, SWAP_32G, 100, full=True)
    parts = dict(c.structures)
    assert parts["swap_cache"] > 8 * 8_388_608
    assert parts["zswap_entry"] == sizes.ZSWAP_ENTRY_BYTES * 8_388_608


@pytest.mark.parametrize("n", [0, 1, 2, 63, 64, 65, 4096, 4097, 20000])
def test_dense_xarray_matches_general_helper(n: int) -> None:
    assert xarray_dense_node_count(n) == sizes.xarray_node_count(range(n))


def test_geometry_and_partial_clusters() -> None:
    g = Geometry.at_usage(SWAP_32G, Fraction(1, 8))  # 0.125% = 10485.76 -> 10485 slots
    assert g.used_slots == 10485
    assert g.used_clusters == 21
    table = Structure(name="t", kind=Kind.PER_USED_CLUSTER, bytes=4096, source="test")
    assert structure_bytes(table, g) == 21 * 4096
    dev = Structure(name="d", kind=Kind.PER_DEVICE, bytes=100, source="test")
    assert structure_bytes(dev, g) == 100
    with pytest.raises(ValueError):
        Geometry(10, 11)


def test_structure_declaration_checks() -> None:
    with pytest.raises(ValueError):
        Structure(name="x", kind=Kind.PER_DEVICE, bytes=0, source="s")
    with pytest.raises(ValueError):
        Structure(name="x", kind=Kind.PER_CLUSTER, bytes=0, bits=1, source="s")
    with pytest.raises(ValueError):
        Structure(name="x", kind=Kind.PER_CLUSTER, bytes=1, span=4, source="s")
    with pytest.raises(ValueError):
        Structure(name="x", kind=Kind.PER_CLUSTER, bytes=1, backends=frozenset(), source="s")


def test_cell_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        metadata_cell(LAYOUTS["classic"], Backend.DISK, SWAP_32G, 101)
    with pytest.raises(ValueError):
        metadata_cell(LAYOUTS["classic"], Backend.DISK, 100, 0)


# --- CLI ----------------------------------------------------------------------------------------

def test_cli_table_prints_published_values(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metadata", "--swap-size", "32G", "--usage", "0,25,50,75,100",
                 "--backend", "disk", "--design", "6.19,vswap-v6"]) == 0
    out = capsys.readouterr().out
    for mb in ("25.00", "41.00", "57.00", "73.00", "89.00",
               "2.00", "66.25", "130.50", "194.75", "259.00"):
        assert mb in out
    assert "disk backend" in out and "8,388,608 slots" in out


def test_cli_defaults_cover_all_designs_and_backends(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metadata"]) == 0
    out = capsys.readouterr().out
    for name in LAYOUTS:
        assert name in out
    assert "zswap backend" in out and "disk backend" in out
    assert "193.00" in out and "153.00" in out


def test_cli_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metadata", "--json", "--backend", "zswap", "--design", "vswap-v6",
                 "--usage", "25"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["nr_slots"] == 8_388_608
    cell = data["backends"]["zswap"]["vswap-v6"][0]
    assert cell["mib"] == 48.25
    assert cell["structures"] == {"swp_desc": 48 << 20, "vswap_cluster": 1 << 18}
    assert data["full"] is False


def test_cli_per_structure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metadata", "--per-structure", "--backend", "disk",
                 "--design", "swap-table-p3", "--usage", "0,100"]) == 0
    out = capsys.readouterr().out
    assert "swap_cgroup" in out and "swap_table" in out and "total" in out
    assert "17.50" in out and "81.50" in out


def test_cli_full(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metadata", "--full", "--json", "--backend", "disk", "--design", "6.19",
                 "--usage", "0"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backends"]["disk"]["6.19"][0]["mib"] == 25.5


@pytest.mark.parametrize(("argv", "option"), [
    (["--usage", "120"], "--usage"),
    (["--usage", "-1"], "--usage"),
    (["--usage", "abc"], "--usage"),
    (["--usage", ","], "--usage"),
    (["--design", "nosuch"], "--design"),
    (["--design", ","], "--design"),
    (["--swap-size", "3X"], "--swap-size"),
    (["--swap-size", "100"], "--swap-size"),
    (["--backend", "tape"], "--backend"),
    (["--backend", ""], "--backend"),
])
def test_cli_bad_input(argv: list[str], option: str,
                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["metadata", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error: ")
    assert option in err
    assert err.count("\n") == 1


def test_geometry_first_slots_and_cluster_slack() -> None:
    """A running design's geometry: used slots start after the ids it never hands out."""
    g = Geometry(8192, 2048, device_first=0, virtual_first=1)
    assert g.clusters_touched("device") == 4
    assert g.clusters_touched("virtual") == 5, "ids 1..2048 touch five clusters"
    assert Geometry(8192, 0, virtual_first=1).clusters_touched("virtual") == 0
    assert Geometry(8192, 512, virtual_first=512).clusters_touched("virtual") == 1
    slack = Structure(name="rows", kind=Kind.CLUSTER_SLACK, bytes=24, space="virtual",
                      source="test", counted=False)
    assert structure_bytes(slack, g, full=True) == 24 * (5 * 512 - 2048)
    with pytest.raises(ValueError):
        Geometry(8192, 1, device_first=-1)
    with pytest.raises(ValueError):
        Structure(name="x", kind=Kind.PER_USED_CLUSTER, bytes=8, source="t", space="disk")
