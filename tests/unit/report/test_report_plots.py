"""Figures: their data, titles and legends before saving, and valid PNG/SVG files after."""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from reporthelpers import small_run

from vswap.cli import main
from vswap.errors import ConfigError
from vswap.report.plots import (
    locations_figure,
    locks_figure,
    make_figures,
    parse_formats,
    rfc_figure,
    save_figures,
    usage_figure,
)
from vswap.report.result import RunMetrics, RunResult, save_results

MiB = 1 << 20


@pytest.fixture(scope="module")
def runs() -> list[RunResult]:
    return [small_run("classic"), small_run("vswap")]


def test_usage_figure_plots_the_timeline(runs: list[RunResult]) -> None:
    fig = usage_figure(runs)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["memory in use", "swap cache", "zswap pool",
                                               "swap device slots used"]
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["classic", "vswap"]
    for ax, key, div in zip(axes, ["resident_pages", "swapcache_pages", "zswap_pool_bytes",
                                   "device_slots"], [256, 256, MiB, 256]):
        for line, run in zip(ax.get_lines(), runs):
            assert list(line.get_xdata()) == [s["t_ns"] / 1e6 for s in run.timeline]
            assert list(line.get_ydata()) == [s[key] / div for s in run.timeline]
    # The last sample: classic's zero and zswap pages hold device slots too; vswap's only
    # hold slots for data on the device.
    dev_classic, dev_vswap = (line.get_ydata()[-1] for line in axes[3].get_lines())
    assert dev_classic > dev_vswap > 0
    last = runs[1].timeline[-1]
    assert last["device_slots"] == last["device_pages"]
    assert axes[2].get_xlabel() == "virtual time (ms)"
    assert fig.get_suptitle() == "Memory and swap over time: usemem -n 1 3M"


def test_locations_figure_stacks_the_four_places(runs: list[RunResult]) -> None:
    fig = locations_figure(runs)
    assert [ax.get_title() for ax in fig.axes] == ["classic", "vswap"]
    legend = fig.axes[0].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["resident", "zswap", "zero",
                                                           "device"]
    for ax, run in zip(fig.axes, runs):
        layers = ax.collections
        assert len(layers) == 4
        # The top of the stack at the last sample is the sum of the four layers (MiB).
        last = run.timeline[-1]
        total = (last["resident_pages"] + last["zswap_pages"] + last["zero_pages"]
                 + last["device_pages"]) / 256
        top = max(v[1] for v in layers[3].get_paths()[0].vertices)
        assert top == pytest.approx(total)


def test_locks_figure_bars_are_wait_ms(runs: list[RunResult]) -> None:
    fig = locks_figure(runs)
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == ["swap_cache", "swap_cluster"]
    heights = [p.get_height() for p in ax.patches]
    assert heights == pytest.approx([5.0, 1.0, 5.5, 1.0])
    assert ax.get_ylabel() == "total wait (ms)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["classic", "vswap"]


def test_rfc_figure_compares_ratios(runs: list[RunResult]) -> None:
    fig = rfc_figure(runs)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["real (s)", "user (s)", "sys (s)", "throughput (KB/s)", "free time (s)"]
    sys_ax = fig.axes[2]
    rfc_classic, rfc_vswap, model_classic, model_vswap = (p.get_height()
                                                          for p in sys_ax.patches)
    assert rfc_classic == model_classic == 1.0
    assert rfc_vswap == pytest.approx(373.01 / 341.09)
    assert model_vswap == pytest.approx(1.1)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["RFC", "model"]
    assert fig.axes[0].get_ylabel() == "/ classic"
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["classic", "vswap"]
    footer = " ".join(t.get_text() for t in fig.texts)
    assert "RFC v2 cover letter, V.1" in footer and "costs: the built-in table" in footer


def test_rfc_figure_has_one_row_per_bench_table(runs: list[RunResult]) -> None:
    """A bench result's tables are compared each with its own baseline, labelled by design
    alone; the swapoff row compares the swapoff command's own times."""
    import dataclasses

    usemem = [dataclasses.replace(r, configuration={"table": "usemem"}) for r in runs]
    swapoff = [dataclasses.replace(r, configuration={"table": "swapoff"},
                                   rfc={"real_s": rr, "user_s": 0.0, "sys_s": rs},
                                   swapoff={"real_s": mr, "sys_s": ms})
               for r, rr, rs, mr, ms in zip(runs, (25.54, 11.69), (11.48, 9.96),
                                            (2.0, 1.0), (1.0, 0.9))]
    fig = rfc_figure(usemem + swapoff)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_ylabel() for ax in visible if ax.get_ylabel()] == [
        "usemem: / classic", "swapoff: / classic"]
    # usemem: five metrics; swapoff: real and sys (user is 0 in the RFC: no ratio).
    assert [ax.get_title() for ax in visible][5:] == ["real (s)", "sys (s)"]
    real = visible[5]
    rfc_c, rfc_v, model_c, model_v = (p.get_height() for p in real.patches)
    assert (rfc_c, model_c) == (1.0, 1.0)
    assert rfc_v == pytest.approx(11.69 / 25.54) and model_v == pytest.approx(0.5)
    for ax in visible:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["classic", "vswap"]


def test_make_figures_skips_what_is_missing() -> None:
    bare = RunResult(design="classic", workload="w", seed=1, metrics=RunMetrics(real_s=1))
    figures, skipped = make_figures([bare])
    assert figures == {}
    assert skipped == {"usage": "no timeline samples in the result",
                       "locations": "no timeline samples in the result",
                       "locks": "no lock statistics in the result",
                       "rfc": "no RFC reference numbers in the result"}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_save_figures_writes_valid_png_and_svg(runs: list[RunResult], tmp_path: Path) -> None:
    figures, skipped = make_figures(runs)
    assert list(figures) == ["usage", "locations", "locks", "rfc"] and not skipped
    paths = save_figures(figures, tmp_path / "out", "r", ("png", "svg"))
    assert [p.name for p in paths] == [f"r-{n}.{f}" for n in figures for f in ("png", "svg")]
    assert _png_size(tmp_path / "out" / "r-usage.png") == (1000, 650)
    root = ET.parse(tmp_path / "out" / "r-locks.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert "swap_cache" in (tmp_path / "out" / "r-locks.svg").read_text()


def test_plot_cli(runs: list[RunResult], tmp_path: Path,
                  capsys: pytest.CaptureFixture[str]) -> None:
    result = save_results(tmp_path / "run.json", runs)
    assert main(["plot", str(result), "--out", str(tmp_path / "p"), "--format", "svg"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [str(tmp_path / "p" / f"run-{n}.svg")
                   for n in ("usage", "locations", "locks", "rfc")]
    bare = save_results(tmp_path / "bare.json", [RunResult(design="vswap", workload="w", seed=1,
                                                           locks=runs[0].locks)])
    assert main(["plot", str(bare), "--out", str(tmp_path / "q"), "--design", "vswap"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == str(tmp_path / "q" / "bare-locks.png")
    assert "skipped rfc: no RFC reference numbers in the result" in out


@pytest.mark.parametrize("argv, message", [
    (["--format", "gif"], "--format: unknown format 'gif' (formats: png, svg)"),
    (["--design", "classic"], "no run of design 'classic' (runs: vswap)"),
])
def test_plot_cli_errors(tmp_path: Path, argv: list[str], message: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    bare = save_results(tmp_path / "bare.json", [RunResult(design="vswap", workload="w",
                                                           seed=1)])
    assert main(["plot", str(bare), *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error: ") and message in err and err.count("\n") == 1
    assert main(["plot", str(bare), "--out", str(tmp_path)]) == 2
    assert "nothing to plot" in capsys.readouterr().err


def test_parse_formats() -> None:
    assert parse_formats("PNG, svg,png") == ("png", "svg")
    with pytest.raises(ConfigError, match="no format given"):
        parse_formats(" , ")
