"""``vswap mkswap`` and ``vswap swapinfo``: output, util-linux parity, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.kernel.types import PAGE_SIZE
from vswap.swap.swap_area import build_swap_header, mkswap, swap_header_from_file

U = "01234567-89ab-cdef-0123-456789abcdef"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status: int, out: str, err: str, text: str) -> None:
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("vswap: error: ")
    assert text in err


# --- mkswap ----------------------------------------------------------------------------------


def test_mkswap_prints_util_linux_summary(capsys: pytest.CaptureFixture[str],
                                          tmp_path: Path) -> None:
    path = tmp_path / "swap"
    status, out, err = run(capsys, "mkswap", str(path), "--size", "1G", "--uuid", U)
    assert (status, err) == (0, "")
    assert out == ("Setting up swapspace version 1, size = 1024 MiB (1073737728 bytes)\n"
                   f"no label, UUID={U}\n")
    assert path.stat().st_size == 1 << 30
    assert swap_header_from_file(path).uuid == uuid.UUID(U)


def test_mkswap_label_and_random_uuid(capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    path = tmp_path / "swap"
    status, out, _ = run(capsys, "mkswap", str(path), "--size", "64k", "-L", "mine")
    assert status == 0
    h = swap_header_from_file(path)
    assert out.splitlines() == ["Setting up swapspace version 1, size = 60 KiB (61440 bytes)",
                                f"LABEL=mine, UUID={h.uuid}"]


def test_mkswap_allocate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "swap"
    assert run(capsys, "mkswap", str(path), "--size", "2M", "--allocate")[0] == 0
    assert path.stat().st_blocks * 512 >= 2 << 20


@pytest.mark.parametrize("size", ["40K", "1M", "65540K", "1536M"])
def test_mkswap_summary_matches_util_linux(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                           size: str) -> None:
    tool = shutil.which("mkswap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if tool is None:
        pytest.fail("mkswap (util-linux) is not installed")
    ours = tmp_path / "ours"
    status, out, _ = run(capsys, "mkswap", str(ours), "--size", size, "-L", "x", "-U", U)
    assert status == 0
    theirs = tmp_path / "theirs"
    with open(theirs, "wb") as f:
        f.truncate(ours.stat().st_size)
    theirs.chmod(0o600)
    real = subprocess.run([tool, "-L", "x", "-U", U, str(theirs)], check=True,
                          capture_output=True, text=True).stdout
    assert out == real
    # Same header page, byte for byte (read alone: the 1536M files are sparse, and reading
    # them whole put 3 GiB through memory for one page).
    with open(ours, "rb") as a, open(theirs, "rb") as b:
        assert a.read(PAGE_SIZE) == b.read(PAGE_SIZE)


@pytest.mark.parametrize(("argv", "text"), [
    (["--size", "12Q"], "--size: cannot parse '12Q'"),
    (["--size", "36K"], "EINVAL: swap area needs to be at least 40 KiB"),
    (["--size", "40001"], "not a multiple of the page size"),
    (["--size", "1M", "--uuid", "nope"], "--uuid: 'nope' is not a UUID"),
    (["--size", "1M", "--label", "seventeen-bytes-x"], "at most 16"),
])
def test_mkswap_bad_input(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                          argv: list[str], text: str) -> None:
    path = tmp_path / "swap"
    assert_one_line_error(*run(capsys, "mkswap", str(path), *argv), text)
    assert not path.exists()


def test_mkswap_missing_size_is_usage_error(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    # main() returns the usage error's status (no SystemExit escapes it).
    assert main(["mkswap", str(tmp_path / "swap")]) == 2
    assert "--size" in capsys.readouterr().err


def test_mkswap_unwritable_paths(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_one_line_error(*run(capsys, "mkswap", str(tmp_path / "no" / "swap"), "--size",
                               "1M"), "No such file or directory")
    afile = tmp_path / "file"
    afile.write_text("x")
    # ENOTDIR is an OSError the dispatcher does not list: still one line.
    assert_one_line_error(*run(capsys, "mkswap", str(afile / "swap"), "--size", "1M"),
                          "Not a directory")
    assert_one_line_error(*run(capsys, "mkswap", str(tmp_path), "--size", "1M"),
                          "a directory")


# --- swapinfo --------------------------------------------------------------------------------


def test_swapinfo_text(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "swap"
    mkswap(path, 64 << 20, label="info", uuid=uuid.UUID(U))
    status, out, err = run(capsys, "swapinfo", str(path))
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        f"file:        {path}",
        "version:     1",
        "last_page:   16383",
        "size:        64 MiB (67104768 bytes, 16383 pages after the header)",
        "nr_badpages: 0",
        "bad_pages:   none",
        f"UUID:        {U}",
        "label:       info",
    ]


def test_swapinfo_json_bad_pages_and_byteswap(capsys: pytest.CaptureFixture[str],
                                              tmp_path: Path) -> None:
    path = tmp_path / "img"
    page = build_swap_header(last_page=99, uuid=uuid.UUID(U), bad_pages=(9, 3),
                             byteswapped=True)
    path.write_bytes(page + bytes(99 * PAGE_SIZE))
    status, out, _ = run(capsys, "swapinfo", "--json", str(path))
    assert status == 0
    assert json.loads(out) == {
        "file": str(path), "version": 1, "last_page": 99, "nr_pages": 100,
        "size_bytes": 99 * PAGE_SIZE, "nr_badpages": 2, "bad_pages": [9, 3],
        "nr_good_pages": 97, "uuid": U, "label": None, "byteswapped": True,
    }
    status, out, _ = run(capsys, "swapinfo", str(path))
    assert "version:     1 (byte-swapped header)" in out
    assert "bad_pages:   9 3" in out
    assert "label:       (none)" in out


def test_swapinfo_odd_label_bytes_do_not_crash(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    path = tmp_path / "swap"
    page = bytearray(build_swap_header(last_page=15, uuid=uuid.UUID(U)))
    page[1052:1054] = b"\xffA"
    path.write_bytes(bytes(page) + bytes(15 * PAGE_SIZE))
    status, out, _ = run(capsys, "swapinfo", str(path))
    assert status == 0
    assert "label:       \\xffA" in out  # escaped, as blkid prints it


def test_swapinfo_reads_util_linux_file(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    tool = shutil.which("mkswap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if tool is None:
        pytest.fail("mkswap (util-linux) is not installed")
    path = tmp_path / "swap"
    with open(path, "wb") as f:
        f.truncate(1 << 20)
    path.chmod(0o600)
    subprocess.run([tool, "-L", "ul", "-U", U, str(path)], check=True, capture_output=True)
    status, out, _ = run(capsys, "swapinfo", "--json", str(path))
    assert status == 0
    info = json.loads(out)
    assert (info["last_page"], info["uuid"], info["label"]) == (255, U, "ul")


def test_swapinfo_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"hello" * 2000)
    assert_one_line_error(*run(capsys, "swapinfo", str(junk)),
                          f"EINVAL: {junk}: Unable to find swap-space signature")
    short = tmp_path / "short"
    mkswap(short, 1 << 20)
    with open(short, "r+b") as f:
        f.truncate(1 << 19)
    assert_one_line_error(*run(capsys, "swapinfo", str(short)),
                          "Swap area shorter than signature indicates")
    old = tmp_path / "v0"
    old.write_bytes(bytes(PAGE_SIZE - 10) + b"SWAP-SPACE" + bytes(PAGE_SIZE))
    assert_one_line_error(*run(capsys, "swapinfo", str(old)), "version 0")
    assert_one_line_error(*run(capsys, "swapinfo", str(tmp_path / "missing")),
                          "No such file or directory")
    assert_one_line_error(*run(capsys, "swapinfo", str(tmp_path)), "a directory")
