"""``vswap bench future``: the large-folio tables (fragmentation, mixed-swapin), small."""

from __future__ import annotations

from pathlib import Path

import pytest

from vswap.cli import main
from vswap.errors import ConfigError
from vswap.report.result import RunResult, load_results
from vswap.run.future import FUTURE_TABLES, future_tables
from vswap.units import parse_scale


def _rows(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
          ) -> tuple[str, dict[str, dict[str, float]]]:
    out = tmp_path / "r.json"
    assert main(["bench", "future", *argv, "--jobs", "1", "--json", str(out)]) == 0
    text = " ".join(capsys.readouterr().out.split())
    table = argv[argv.index("--table") + 1]
    scale = argv[argv.index("--scale") + 1] if "--scale" in argv else None
    designs = tuple(argv[argv.index("--design") + 1].split(","))
    (t,) = future_tables([table], parse_scale(scale) if scale else 1 / 128, designs=designs)
    results: list[RunResult] = load_results(out)
    assert len(results) == len(t.configs)
    for r in results:
        assert r.data_loss == 0 and r.verified_pages > 0
    return text, {label: dict(r.workload_metrics) for label, r in zip(t.configs, results)}


def test_tables_are_registered_after_tiers() -> None:
    assert list(FUTURE_TABLES)[:3] == ["tiers", "fragmentation", "mixed-swapin"]


def test_fragmentation_rows_per_design() -> None:
    (t,) = future_tables(["fragmentation"], 1 / 128,
                         designs=("classic", "swap-table-p4", "vswap"))
    assert list(t.configs) == ["classic", "classic --compact", "swap-table-p4", "vswap",
                               "vswap --discontig", "vswap --compact"]
    assert t.configs["vswap --compact"].workloads == [
        ("/folio", "mthp-frag --unrelated 64M --compact")]
    (t,) = future_tables(["fragmentation"], 1 / 128, designs=("vswap-ste",))
    assert list(t.configs) == ["vswap-ste", "vswap-ste --discontig", "vswap-ste --compact"]
    with pytest.raises(ConfigError, match="not modelled for design 'nope'"):
        future_tables(["mixed-swapin"], 1 / 128, designs=("nope",))


def test_fragmentation_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 1/256: the smallest scale whose device (4 MiB, two 512-page clusters) leaves
    # compaction something to move; at 1/512 the device is one cluster and classic's
    # compaction moves nothing. Half the CPU of the default 1/128.
    text, m = _rows(["--table", "fragmentation", "--design", "classic,vswap,vswap-ste",
                     "--scale", "1/256"],
                    tmp_path, capsys)
    assert "large folios on a fragmented device" in text
    cl, cc = m["classic"], m["classic --compact"]
    folios = cl["mthp_folios"]
    assert folios > 0
    # As the kernel does it: classic splits every folio.
    assert cl["mthp_swpout"] == 0 and cl["mthp_swpout_fallback"] == folios
    assert cl["mthp_split"] == folios
    # The work of classic's compaction: a walk of page tables (the unrelated mapping's
    # included) rewriting one PTE per moved slot.
    assert cc["compact_ptes_scanned"] > cc["compact_ptes_rewritten"] == cc["compact_moved"]
    for v in ("vswap", "vswap-ste"):
        vs, vd, vc = m[v], m[f"{v} --discontig"], m[f"{v} --compact"]
        # RFC v2 (and STE) as written keep the folios: only the physical allocation fails.
        assert vs["mthp_swpout"] == vs["mthp_swpout_fallback"] == vs["pageout_pswpout"] == 0
        # Discontiguous slots: every folio out whole, no fallback, fewer write requests.
        assert vd["mthp_swpout"] == vd["discontig_swpout"] == folios
        assert vd["mthp_swpout_fallback"] == 0
        assert 0 < vd["swapout_writes"] < cl["swapout_writes"]
        # No PTE: one descriptor (virtual word) update per moved slot.
        assert vc["compact_ptes_scanned"] == 0
        assert vc["compact_desc_updates"] == vc["compact_moved"]
        assert f"compaction: {v} " in text and f"{v}/classic" in text
        assert f"discontiguous: {v} swaps {folios:.0f} of {folios:.0f} folios out whole" \
            in text
    # Compaction rebuilds free clusters and raises the largest free run; then every folio
    # goes out whole (one write each); classic's and vswap's come back in fewer requests.
    for c in (cc, m["vswap --compact"], m["vswap-ste --compact"]):
        assert c["frag_free_clusters_before"] == 0 < c["frag_free_clusters_after"]
        assert c["frag_largest_free_run_after"] > c["frag_largest_free_run_before"]
        assert c["mthp_swpout"] == folios and c["mthp_swpout_fallback"] == 0
        assert c["swapout_writes"] == folios
        assert c["compact_moved"] > 0 and c["compact_time_s"] > 0
    for c in (cc, m["vswap --compact"]):
        assert c["readback_reads"] < cl["readback_reads"]
        assert c["readback_time_s"] < cl["readback_time_s"]
    assert "vswap --compact / classic" in text


def test_mixed_swapin_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, m = _rows(["--table", "mixed-swapin", "--design", "classic,vswap-v6,vswap-ste",
                     "--scale", "1/256"], tmp_path, capsys)
    assert "mixed-backing large-folio swap-in" in text
    cl = m["classic"]
    folios = cl["mthp_folios"]
    pages = folios * 16
    for v in ("vswap-v6", "vswap-ste"):
        vo, vm = m[v], m[f"{v} --mixed"]
        for r in (cl, vo, vm):
            assert r["written_back"] > 0
            assert r["readback_pswpin"] > 0 and r["readback_zswpin"] > 0
            assert r["readback_swpin_zero"] > 0
        # Order-0 fallback: one major fault per page, no mTHP swap-in.
        for r in (cl, vo):
            assert r["mthp_swpin"] == 0 and r["readback_pgmajfault"] == pages
        # Mixed swap-in: every folio whole, one fault each, fewer read requests, faster.
        assert vm["mthp_swpin"] == vm["mixed_swpin"] == folios
        assert vm["mthp_swpin_fallback"] == 0 and vm["readback_pgmajfault"] == folios
        assert vm["mixed_swapfile_pages"] == vm["readback_pswpin"]
        assert vm["readback_reads"] < cl["readback_reads"]
        assert vm["readback_time_s"] < cl["readback_time_s"] / 2
        assert f"{v} --mixed / classic" in text
        assert f"mixed swap-in: {v} --mixed reads {folios:.0f} of {folios:.0f}" in text
