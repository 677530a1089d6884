"""``vswap demo``: the README's main command runs every design and verifies every page."""

from __future__ import annotations

import pytest

from vswap.cli import main


def test_demo_with_zswap_shows_vswap_zswap_and_zero_pages_use_no_disk_slot(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every classic page holds a slot; under vswap only the 20 random pages do, which
    v6.14's zswap rejects (reject_compress_poor) and which go to the device."""
    assert main(["demo", "--pages", "60", "--design", "classic,vswap,vswap-v6",
                 "--swap-size", "4M"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "disk slots used" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    # vswap-v6's (v6.19) zswap stores the random pages as-is: no disk slot at all.
    assert cells[1:] == ["60", "20", "0"], row
    pswpout = next(line for line in out.splitlines() if line.lstrip("│ ").startswith("pswpout"))
    assert [c.strip() for c in pswpout.split("│") if c.strip()][1:] == ["20", "20", "0"]
    assert "pages verified" in out


def test_demo_without_zswap_zero_pages_take_no_slot_under_vswap(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--pages", "30", "--zswap", "off", "--design", "classic,vswap",
                 "--swap-size", "4M"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines()
               if "disk slots used" in line)
    cells = [c.strip() for c in row.split("│") if c.strip()]
    assert cells[1:] == ["30", "20"], row


@pytest.mark.parametrize("argv, message", [
    (["demo", "--swap-size", "3X"], "--swap-size"),
    (["demo", "--pages", "0"], "--pages"),
    (["demo", "--zswap", "lzo-rle"], "lzo-rle"),
    (["demo", "--design", "nope"], "unknown swap design"),
])
def test_demo_bad_input_one_line(argv: list[str], message: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("vswap: error:") and message in err and err.count("\n") == 1
