"""The host's C program writes byte-for-byte the model's page contents; its modes parse
their options as the model's workloads do. Needs gcc, not root."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from vswap.host.program import build_program
from vswap.workloads.content import CONTENTS, page_content


@pytest.fixture(scope="module")
def prog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    try:
        return build_program()
    finally:
        mp.undo()


@pytest.mark.parametrize("content", CONTENTS)
def test_pages_match_the_model(prog: Path, content: str) -> None:
    for index in (0, 1, 2, 3, 511, 131071, 10**7 + 3):
        out = subprocess.run([str(prog), "page", content, str(index)], capture_output=True,
                             check=True).stdout
        assert out == page_content(content, index), (content, index)


def test_build_is_cached(prog: Path) -> None:
    mtime = prog.stat().st_mtime_ns
    import os
    os.environ["XDG_CACHE_HOME"] = str(prog.parent.parent)
    try:
        assert build_program() == prog
    finally:
        del os.environ["XDG_CACHE_HOME"]
    assert prog.stat().st_mtime_ns == mtime


def test_pattern_and_pageout_verify_without_swap(prog: Path) -> None:
    out = subprocess.run([str(prog), "pattern", "--size", "1M", "--content", "mixed",
                          "--passes", "2"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    assert lines[0].startswith("pattern pass 1: wrote 256 pages") and lines[0].endswith(
        " 0 wrong")
    assert lines[1].startswith("pattern pass 2:") and lines[2].endswith("usecs to free memory")
    out = subprocess.run([str(prog), "pageout", "--size", "256K", "--content", "zero"],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("pageout: wrote 64 pages") and " 0 wrong" in out


def test_usemem_reports_like_the_model(prog: Path) -> None:
    out = subprocess.run([str(prog), "usemem", "-n", "2", "-t", "2", "-r", "2", "-Z",
                          "262144"], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    # rw bytes = size / 8 + size * repeat, per task, four tasks.
    assert sum(1 for x in lines if x.startswith(f"{262144 // 8 + 2 * 262144} bytes / ")) == 4
    assert sum(1 for x in lines if x.startswith("read again 262144 bytes")) == 4
    assert sum(1 for x in lines if x.endswith("usecs to free memory")) == 4


@pytest.mark.parametrize("argv", [["pattern", "--size", "1M", "--content", "blue"],
                                  ["usemem"], ["nope"], ["pattern", "--bogus"]])
def test_bad_arguments_exit_2(prog: Path, argv: list[str]) -> None:
    p = subprocess.run([str(prog), *argv], capture_output=True, text=True, check=False)
    assert p.returncode == 2 and p.stderr.startswith("vswap-hostwl: ")
