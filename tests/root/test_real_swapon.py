"""A file made by ``vswap mkswap`` is accepted by the real kernel's ``swapon``.

Opt-in: needs root and changes the machine (adds and removes a swap area). Run with
``VSWAP_ROOT_TESTS=1`` as root; the area is swapped off and deleted whatever happens.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.swap.swap_area import swap_header_from_file

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(not (hasattr(os, "geteuid") and os.geteuid() == 0
                            and os.environ.get("VSWAP_ROOT_TESTS") == "1"),
                       reason="needs root and VSWAP_ROOT_TESTS=1"),
]

SBIN = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"


def tool(name: str) -> str:
    path = shutil.which(name, path=SBIN)
    if path is None:
        pytest.fail(f"{name} (util-linux) is not installed")
    return path


def active_swaps() -> list[str]:
    """Paths in /proc/swaps (the kernel's own list; header line skipped)."""
    with open("/proc/swaps") as f:
        return [line.split()[0] for line in f.read().splitlines()[1:]]


@pytest.fixture
def swap_file(tmp_path: Path) -> Iterator[Path]:
    """A path for the area; swapped off (if the kernel still has it) and removed at the end."""
    path = tmp_path / "vswap-root-test.swap"
    try:
        yield path
    finally:
        if str(path) in active_swaps():
            subprocess.run([tool("swapoff"), str(path)], check=False)
        path.unlink(missing_ok=True)
        assert str(path) not in active_swaps()


def test_swapon_accepts_vswap_mkswap(swap_file: Path, capsys: pytest.CaptureFixture[str]
                                     ) -> None:
    area_uuid = uuid.UUID("7a8b9c0d-1e2f-4a5b-8c6d-7e8f9a0b1c2d")
    status = main(["mkswap", str(swap_file), "--size", "64M", "--allocate", "--label",
                   "vswap-root", "--uuid", str(area_uuid)])
    assert status == 0, capsys.readouterr().err
    swap_file.chmod(0o600)
    assert swap_header_from_file(swap_file).uuid == area_uuid
    subprocess.run([tool("swapon"), str(swap_file)], check=True, capture_output=True,
                   text=True)
    with open("/proc/swaps") as f:
        rows = {line.split()[0]: line.split() for line in f.read().splitlines()[1:]}
    assert str(swap_file) in rows
    kind, size_kib = rows[str(swap_file)][1:3]
    assert kind == "file"
    # /proc/swaps shows usable pages (all but the header) in KiB.
    assert int(size_kib) == (64 << 10) - 4
    subprocess.run([tool("swapoff"), str(swap_file)], check=True, capture_output=True)
    assert str(swap_file) not in active_swaps()
