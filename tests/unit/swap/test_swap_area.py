"""The swap header format, swapon's validation, and mkswap, against util-linux where it can."""

from __future__ import annotations

import os
import random
import shutil
import stat
import struct
import subprocess
import uuid
from pathlib import Path

import pytest

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.swap.swap_area import (
    MAX_SWAP_BADPAGES,
    MIN_GOODPAGES,
    SWAP_HEADER_MAGIC_V0,
    SwapHeader,
    build_swap_header,
    check_swap_area_size,
    mkswap,
    parse_swap_header,
    size_to_human_string,
    swap_header_from_file,
)

U = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")


def util_linux(tool: str) -> str:
    """Path of a util-linux tool; a missing one fails the test (interop is required)."""
    path = shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if path is None:
        pytest.fail(f"{tool} (util-linux) is not installed; interop tests need it")
    return path


def einval(excinfo: pytest.ExceptionInfo[KernelError], name: str, text: str) -> None:
    assert excinfo.value.errno is Errno.EINVAL
    assert excinfo.value.detail.startswith(f"{name}: ")
    assert text in excinfo.value.detail


def parse(page: bytes, file_pages: int | None = None, regular_file: bool = False) -> SwapHeader:
    return parse_swap_header(page, file_pages=file_pages, name="sw", regular_file=regular_file)


# --- layout -----------------------------------------------------------------------------


def test_layout_constants() -> None:
    assert MAX_SWAP_BADPAGES == 637
    assert MIN_GOODPAGES == 10


def test_header_fields_at_kernel_offsets() -> None:
    page = build_swap_header(last_page=0x1234, uuid=U, label="lab", bad_pages=(3, 9))
    assert len(page) == PAGE_SIZE
    assert page[:1024] == bytes(1024)
    assert struct.unpack_from("<III", page, 1024) == (1, 0x1234, 2)
    assert page[1036:1052] == U.bytes
    assert page[1052:1068] == b"lab" + bytes(13)
    assert page[1068:1536] == bytes(468)
    assert struct.unpack_from("<II", page, 1536) == (3, 9)
    assert page[1544:4086] == bytes(4086 - 1544)
    assert page[4086:] == b"SWAPSPACE2"


def test_byteswapped_build_swaps_counters_not_arrays() -> None:
    page = build_swap_header(last_page=20, uuid=U, label="x", bad_pages=(5,), byteswapped=True)
    assert struct.unpack_from(">IIII", page, 1024)[:3] == (1, 20, 1)
    assert struct.unpack_from(">I", page, 1536) == (5,)
    assert page[1036:1052] == U.bytes
    assert page[1052:1053] == b"x"


# --- parse: round trips -------------------------------------------------------------------


def test_random_headers_round_trip() -> None:
    rng = random.Random(1234)
    for _ in range(300):
        last_page = rng.randrange(1, 1 << 32)
        bad = tuple(rng.randrange(1, last_page + 1)
                    for _ in range(rng.randrange(0, min(MAX_SWAP_BADPAGES, last_page) + 1)))
        if last_page - len(set(bad)) <= 0:
            continue
        label = "".join(rng.choice("abcXYZ019-_") for _ in range(rng.randrange(0, 17)))
        u = uuid.UUID(int=rng.getrandbits(128))
        swapped = rng.random() < 0.3
        page = build_swap_header(last_page=last_page, uuid=u, label=label, bad_pages=bad,
                                 byteswapped=swapped)
        h = parse(page)
        assert h == SwapHeader(version=1, last_page=last_page, nr_badpages=len(bad), uuid=u,
                               label=label, bad_pages=bad, byteswapped=swapped)
        assert build_swap_header(last_page=h.last_page, uuid=h.uuid, label=h.label,
                                 bad_pages=h.bad_pages, byteswapped=swapped) == page


def test_derived_sizes() -> None:
    h = parse(build_swap_header(last_page=99, uuid=U, bad_pages=(4, 4, 8)))
    assert h.nr_pages == 100
    assert h.size_bytes == 99 * PAGE_SIZE
    assert h.nr_badpages == 3
    assert h.nr_good_pages == 97  # duplicates count once


def test_label_edge_cases_round_trip() -> None:
    for label in ("", "0123456789abcdef", "zé", "swap\u2603"):
        assert parse(build_swap_header(last_page=10, uuid=U, label=label)).label == label
    # Bytes that are not UTF-8 survive decode and re-encode unchanged.
    page = bytearray(build_swap_header(last_page=10, uuid=U))
    page[1052:1055] = b"\xff\xfeA"
    h = parse(bytes(page))
    assert build_swap_header(last_page=10, uuid=U, label=h.label) == bytes(page)


def test_bootbits_are_ignored() -> None:
    page = bytearray(build_swap_header(last_page=10, uuid=U))
    page[:1024] = b"\xaa" * 1024
    assert parse(bytes(page)).last_page == 10


# --- parse: every refusal -----------------------------------------------------------------


def test_no_signature() -> None:
    with pytest.raises(KernelError) as e:
        parse(bytes(PAGE_SIZE))
    einval(e, "sw", "Unable to find swap-space signature")
    page = bytearray(build_swap_header(last_page=10, uuid=U))
    page[-1:] = b"3"
    with pytest.raises(KernelError) as e:
        parse(bytes(page))
    einval(e, "sw", "Unable to find swap-space signature")


def test_short_page_is_zero_extended_and_refused() -> None:
    with pytest.raises(KernelError) as e:
        parse(build_swap_header(last_page=10, uuid=U)[:4000])
    einval(e, "sw", "Unable to find swap-space signature")


def test_version0_magic_refused_with_reason() -> None:
    page = build_swap_header(last_page=10, uuid=U, magic=SWAP_HEADER_MAGIC_V0)
    with pytest.raises(KernelError) as e:
        parse(page)
    einval(e, "sw", "Unable to find swap-space signature")
    assert "version 0" in e.value.detail


@pytest.mark.parametrize(("version", "shown"), [(0, "0"), (2, "2"), (0xFFFF_FFFF, "-1")])
def test_other_versions_refused(version: int, shown: str) -> None:
    with pytest.raises(KernelError) as e:
        parse(build_swap_header(last_page=10, uuid=U, version=version))
    einval(e, "sw", f"Unable to handle swap header version {shown}")
    assert e.value.detail.endswith(f"version {shown}")


def test_byteswapped_header_accepted() -> None:
    page = build_swap_header(last_page=300, uuid=U, label="be", bad_pages=(7, 300),
                             byteswapped=True)
    h = parse(page, file_pages=301)
    assert (h.version, h.last_page, h.bad_pages, h.label, h.uuid) == (1, 300, (7, 300), "be", U)
    assert h.byteswapped
    assert not parse(build_swap_header(last_page=300, uuid=U)).byteswapped


def test_byteswapped_too_many_badpages_refused_before_reading_list() -> None:
    page = build_swap_header(last_page=300, uuid=U, nr_badpages=MAX_SWAP_BADPAGES + 1,
                             byteswapped=True)
    with pytest.raises(KernelError) as e:
        parse(page)
    einval(e, "sw", "byte-swapped header lists 638 bad pages")


def test_empty_swap_file() -> None:
    with pytest.raises(KernelError) as e:
        parse(build_swap_header(last_page=0, uuid=U))
    einval(e, "sw", "Empty swap-file")


def test_area_shorter_than_signature() -> None:
    page = build_swap_header(last_page=99, uuid=U)
    assert parse(page, file_pages=100).nr_pages == 100
    assert parse(page, file_pages=1000).nr_pages == 100  # a longer file is fine
    assert parse(page, file_pages=0).nr_pages == 100  # unknown size: not checked
    with pytest.raises(KernelError) as e:
        parse(page, file_pages=99)
    einval(e, "sw", "Swap area shorter than signature indicates")


def test_regular_file_may_not_list_bad_pages() -> None:
    page = build_swap_header(last_page=99, uuid=U, bad_pages=(5,))
    assert parse(page, regular_file=False).bad_pages == (5,)
    with pytest.raises(KernelError) as e:
        parse(page, regular_file=True)
    einval(e, "sw", "only a block device")
    assert parse(build_swap_header(last_page=99, uuid=U), regular_file=True).last_page == 99


def test_too_many_bad_pages() -> None:
    page = build_swap_header(last_page=9999, uuid=U, nr_badpages=MAX_SWAP_BADPAGES + 1)
    with pytest.raises(KernelError) as e:
        parse(page)
    einval(e, "sw", "more than MAX_SWAP_BADPAGES (637)")
    full = tuple(range(1, MAX_SWAP_BADPAGES + 1))
    assert parse(build_swap_header(last_page=9999, uuid=U, bad_pages=full)).bad_pages == full


def test_checks_run_in_kernel_order() -> None:
    # Short file and too many bad pages: the size check comes first in the kernel.
    page = build_swap_header(last_page=9999, uuid=U, nr_badpages=MAX_SWAP_BADPAGES + 1)
    with pytest.raises(KernelError) as e:
        parse(page, file_pages=10)
    einval(e, "sw", "Swap area shorter")
    # Bad version and empty: the version check comes first.
    with pytest.raises(KernelError) as e:
        parse(build_swap_header(last_page=0, uuid=U, version=3))
    einval(e, "sw", "version 3")


@pytest.mark.parametrize("bad", [0, 100, 0xFFFF_FFFF])
def test_bad_page_index_out_of_range(bad: int) -> None:
    with pytest.raises(KernelError) as e:
        parse(build_swap_header(last_page=99, uuid=U, bad_pages=(3, bad)))
    einval(e, "sw", f"bad page {bad} outside 1..99")


def test_bad_page_may_be_last_page() -> None:
    assert parse(build_swap_header(last_page=99, uuid=U, bad_pages=(99, 1))).bad_pages == (99, 1)


def test_every_page_bad_is_empty() -> None:
    with pytest.raises(KernelError) as e:
        parse(build_swap_header(last_page=3, uuid=U, bad_pages=(1, 2, 3, 3)))
    einval(e, "sw", "Empty swap-file")


# --- build: what the format cannot hold ---------------------------------------------------


@pytest.mark.parametrize(("kwargs", "text"), [
    ({"label": "x" * 17}, "at most 16"),
    ({"label": "é" * 9}, "18 bytes long"),
    ({"label": "a\0b"}, "NUL"),
    ({"bad_pages": range(1, MAX_SWAP_BADPAGES + 2)}, "at most 637"),
    ({"last_page": 1 << 32}, "__u32"),
    ({"version": -1}, "__u32"),
    ({"bad_pages": (1 << 32,)}, "__u32"),
    ({"magic": b"SWAP"}, "not 10 bytes"),
])
def test_build_refuses_unrepresentable(kwargs: dict[str, object], text: str) -> None:
    args: dict[str, object] = {"last_page": 100, "uuid": U, **kwargs}
    with pytest.raises(KernelError) as e:
        build_swap_header(**args)  # type: ignore[arg-type]
    assert e.value.errno is Errno.EINVAL
    assert text in e.value.detail


# --- util-linux size format ---------------------------------------------------------------


@pytest.mark.parametrize(("nbytes", "text"), [
    (0, "0 B"), (1023, "1023 B"), (1024, "1 KiB"), (1075, "1 KiB"), (1076, "1.1 KiB"),
    (36864, "36 KiB"), (1536, "1.5 KiB"),
    (1073737728, "1024 MiB"), (3 << 29, "1.5 GiB"), ((1 << 30) + (1 << 20), "1 GiB"),
    ((1 << 30) + 60 * (1 << 20), "1.1 GiB"), (1 << 62, "4 EiB"),
])
def test_size_to_human_string(nbytes: int, text: str) -> None:
    assert size_to_human_string(nbytes) == text


# --- mkswap --------------------------------------------------------------------------------


def test_mkswap_writes_sparse_file_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "swap"
    h = mkswap(path, 64 << 20, label="data", uuid=U)
    assert h == SwapHeader(version=1, last_page=16383, nr_badpages=0, uuid=U, label="data",
                           bad_pages=())
    st = path.stat()
    assert st.st_size == 64 << 20
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_blocks * 512 < 1 << 20  # sparse: only the header page is written
    assert swap_header_from_file(path) == h
    assert path.read_bytes()[:PAGE_SIZE] == build_swap_header(last_page=16383, uuid=U,
                                                              label="data")


def test_mkswap_allocate_reserves_blocks(tmp_path: Path) -> None:
    path = tmp_path / "swap"
    mkswap(path, 4 << 20, allocate=True)
    assert path.stat().st_blocks * 512 >= 4 << 20


def test_mkswap_replaces_old_contents(tmp_path: Path) -> None:
    path = tmp_path / "swap"
    path.write_bytes(b"\x77" * (128 << 10))
    mkswap(path, 64 << 10, force=True)  # without --force, data is never overwritten
    data = path.read_bytes()
    assert len(data) == 64 << 10
    assert data[PAGE_SIZE:] == bytes(60 << 10)


def test_mkswap_random_uuid_by_default(tmp_path: Path) -> None:
    a = mkswap(tmp_path / "a", 40 << 10)
    b = mkswap(tmp_path / "b", 40 << 10)
    assert a.uuid != b.uuid
    assert a.uuid.version == 4
    assert a.label == ""


def test_mkswap_bad_pages_readable_only_as_block_device(tmp_path: Path) -> None:
    path = tmp_path / "img"
    h = mkswap(path, 64 << 10, bad_pages=(2, 15))
    assert h.bad_pages == (2, 15)
    assert swap_header_from_file(path, block_device=True) == h
    with pytest.raises(KernelError) as e:
        swap_header_from_file(path)
    einval(e, str(path), "only a block device")


@pytest.mark.parametrize(("size", "kwargs", "text"), [
    (40 << 10 | 1, {}, "not a multiple of the page size"),
    (36 << 10, {}, "at least 40 KiB"),
    (0, {}, "at least 40 KiB"),
    ((1 << 32) * PAGE_SIZE + PAGE_SIZE, {}, "too large"),
    (40 << 10, {"label": "x" * 17}, "at most 16"),
    (40 << 10, {"bad_pages": (10,)}, "bad page 10 outside 1..9"),
    (40 << 10, {"bad_pages": (0,)}, "bad page 0 outside"),
    (40 << 10, {"bad_pages": range(1, 10)}, "unreadable"),
])
def test_mkswap_refusals_leave_no_file(tmp_path: Path, size: int, kwargs: dict[str, object],
                                       text: str) -> None:
    path = tmp_path / "swap"
    with pytest.raises(KernelError) as e:
        mkswap(path, size, **kwargs)  # type: ignore[arg-type]
    assert e.value.errno is Errno.EINVAL
    assert text in e.value.detail
    assert not path.exists()


def test_minimum_size_accepted() -> None:
    assert check_swap_area_size(MIN_GOODPAGES * PAGE_SIZE) == 9
    assert check_swap_area_size((1 << 32) * PAGE_SIZE) == 0xFFFF_FFFF


def test_header_from_file_errors(tmp_path: Path) -> None:
    short = tmp_path / "short"
    mkswap(short, 64 << 10)
    with open(short, "r+b") as f:
        f.truncate(32 << 10)
    with pytest.raises(KernelError) as e:
        swap_header_from_file(short)
    einval(e, str(short), "Swap area shorter than signature indicates")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    with pytest.raises(KernelError) as e:
        swap_header_from_file(empty)
    einval(e, str(empty), "Unable to find swap-space signature")
    with pytest.raises(FileNotFoundError):
        swap_header_from_file(tmp_path / "missing")


# --- interop with util-linux ----------------------------------------------------------------


def test_util_linux_mkswap_file_is_read(tmp_path: Path) -> None:
    tool = util_linux("mkswap")
    path = tmp_path / "swap"
    with open(path, "wb") as f:
        f.truncate(8 << 20)
    path.chmod(0o600)
    subprocess.run([tool, "-L", "ul-label", "-U", str(U), str(path)], check=True,
                   capture_output=True)
    h = swap_header_from_file(path)
    assert (h.version, h.last_page, h.nr_badpages, h.uuid, h.label) == (
        1, (8 << 20) // PAGE_SIZE - 1, 0, U, "ul-label")


def test_util_linux_mkswap_rounds_down_partial_page(tmp_path: Path) -> None:
    tool = util_linux("mkswap")
    path = tmp_path / "swap"
    with open(path, "wb") as f:
        f.truncate(41000)  # 10 pages and a bit
    path.chmod(0o600)
    subprocess.run([tool, str(path)], check=True, capture_output=True)
    h = swap_header_from_file(path)
    assert h.last_page == 9
    assert h.label == ""


def test_vswap_mkswap_file_read_by_swaplabel(tmp_path: Path) -> None:
    tool = util_linux("swaplabel")
    path = tmp_path / "swap"
    for label in ("vswap-test", "0123456789abcdef"):
        mkswap(path, 1 << 20, label=label, uuid=U, force=True)  # replaces the last loop's
        out = subprocess.run([tool, str(path)], check=True, capture_output=True,
                             text=True).stdout
        assert out.split() == ["LABEL:", label, "UUID:", str(U)]


def test_swaplabel_edits_are_read_back(tmp_path: Path) -> None:
    tool = util_linux("swaplabel")
    path = tmp_path / "swap"
    mkswap(path, 1 << 20, label="before", uuid=U)
    new = uuid.UUID("fedcba98-7654-3210-fedc-ba9876543210")
    subprocess.run([tool, "-L", "after", "-U", str(new), str(path)], check=True,
                   capture_output=True)
    h = swap_header_from_file(path)
    assert (h.label, h.uuid, h.last_page) == ("after", new, 255)


def test_vswap_mkswap_file_probed_by_blkid(tmp_path: Path) -> None:
    tool = shutil.which("blkid", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if tool is None:
        pytest.skip("blkid not installed")
    path = tmp_path / "swap"
    mkswap(path, 1 << 20, label="probe", uuid=U)
    out = subprocess.run([tool, "-p", "-o", "export", str(path)], check=True,
                         capture_output=True, text=True).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines())
    assert fields["TYPE"] == "swap"
    assert fields["VERSION"] == "1"
    assert fields["LABEL"] == "probe"
    assert fields["UUID"] == str(U)


@pytest.mark.parametrize("byteswapped", [False, True])
def test_vswap_header_described_by_file(tmp_path: Path, byteswapped: bool) -> None:
    tool = shutil.which("file")
    if tool is None:
        pytest.skip("file(1) not installed")
    path = tmp_path / "swap"
    page = build_swap_header(last_page=255, uuid=U, label="magic", bad_pages=(4, 5),
                             byteswapped=byteswapped)
    path.write_bytes(page + bytes(255 * PAGE_SIZE))
    out = subprocess.run([tool, "-b", str(path)], check=True, capture_output=True,
                         text=True).stdout
    endian = "big" if byteswapped else "little"
    assert f"Linux swap file, 4k page size, {endian} endian, version 1, size 255 pages, " \
           f"2 bad pages, LABEL=magic, UUID={U}" in out
