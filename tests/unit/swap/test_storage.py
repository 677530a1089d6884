"""Swap storage: real bytes in, the same bytes out, and every offset rule enforced."""

from __future__ import annotations

import array
import functools
import os
import random
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.swap.storage import FileSwapStorage, MemSwapStorage, SwapStorage
from vswap.swap.swap_area import build_swap_header, mkswap, parse_swap_header

U = uuid.UUID("01234567-89ab-cdef-0123-456789abcdef")
SIZE = 1 << 20  # 256 pages
NR = SIZE // PAGE_SIZE

Factory = Callable[..., "FileSwapStorage | MemSwapStorage"]


@pytest.fixture(params=["file", "mem"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Build a storage of either kind with the same arguments; closes them all at the end."""
    made: list[FileSwapStorage | MemSwapStorage] = []

    def factory(size: int = SIZE, label: str | None = None,
                bad_pages: tuple[int, ...] = ()) -> FileSwapStorage | MemSwapStorage:
        s: FileSwapStorage | MemSwapStorage
        if request.param == "file":
            path = tmp_path / f"swap{len(made)}"
            mkswap(path, size, label=label, uuid=U, bad_pages=bad_pages)
            s = FileSwapStorage.open(path, block_device=bool(bad_pages))
        else:
            s = MemSwapStorage(size, label, uuid=U, bad_pages=bad_pages)
        made.append(s)
        return s

    yield factory
    for s in made:
        s.close()


def pages(rng: random.Random, n: int) -> list[bytes]:
    return [rng.randbytes(PAGE_SIZE) for _ in range(n)]


def errno_of(fn: Callable[[], object]) -> Errno:
    with pytest.raises(KernelError) as e:
        fn()
    return e.value.errno


# --- identity --------------------------------------------------------------------------------


def test_protocol_and_identity(make: Factory) -> None:
    s = make(label="lbl")
    assert isinstance(s, SwapStorage)
    assert s.nr_pages == NR == s.header.last_page + 1
    assert (s.header.uuid, s.header.label) == (U, "lbl")
    if s.kind == "file":
        assert isinstance(s, FileSwapStorage)
        assert s.name.endswith("swap0")
    else:
        assert s.kind == "mem"
        assert s.name == "mem:1M"


# --- round trips -------------------------------------------------------------------------------


def test_random_pages_round_trip(make: Factory) -> None:
    s = make()
    rng = random.Random(2024)
    expect: dict[int, bytes] = {}
    for _ in range(600):
        off = rng.randrange(1, NR)
        data = rng.randbytes(PAGE_SIZE)
        s.write_page(off, data)
        expect[off] = data
    for off in range(1, NR):
        assert s.read_page(off) == expect.get(off, bytes(PAGE_SIZE)), off


def test_mixed_writes_touch_only_their_pages(make: Factory) -> None:
    s = make()
    rng = random.Random(11)
    model = [bytes(PAGE_SIZE)] * NR  # index 0 unused: the header
    for _ in range(300):
        nr = rng.choice((1, 1, 2, 4, 16))
        off = rng.randrange(1, NR - nr + 1)
        chunk = pages(rng, nr)
        if nr == 1 and rng.random() < 0.5:
            s.write_page(off, chunk[0])
        else:
            s.write_pages(off, b"".join(chunk))
        model[off:off + nr] = chunk
    assert s.read_pages(1, NR - 1) == b"".join(model[1:])


def test_multi_page_round_trip(make: Factory) -> None:
    s = make()
    rng = random.Random(7)
    block = b"".join(pages(rng, 16))
    s.write_pages(100, block)
    assert s.read_pages(100, 16) == block
    assert s.read_page(107) == block[7 * PAGE_SIZE:8 * PAGE_SIZE]
    s.write_pages(NR - 3, block[:3 * PAGE_SIZE])  # up to and including last_page
    assert s.read_pages(NR - 3, 3) == block[:3 * PAGE_SIZE]
    assert s.read_pages(99, 1) == bytes(PAGE_SIZE)


def test_any_buffer_is_accepted(make: Factory) -> None:
    s = make()
    rng = random.Random(3)
    raw = rng.randbytes(3 * PAGE_SIZE)
    s.write_page(1, bytearray(raw[:PAGE_SIZE]))
    s.write_page(2, memoryview(raw)[PAGE_SIZE:2 * PAGE_SIZE])
    words = array.array("Q", raw[2 * PAGE_SIZE:])
    s.write_page(3, memoryview(words))  # 512 items, 4096 bytes
    assert s.read_pages(1, 3) == raw
    s.write_pages(10, memoryview(array.array("I", raw)))
    assert s.read_pages(10, 3) == raw
    assert type(s.read_page(1)) is bytes


def test_file_pages_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "swap"
    mkswap(path, 4 << 20, label="keep", uuid=U)
    rng = random.Random(99)
    written = {off: rng.randbytes(PAGE_SIZE) for off in rng.sample(range(1, 1024), 300)}
    with FileSwapStorage.open(path) as s:
        for off, data in written.items():
            s.write_page(off, data)
        s.flush()
    with FileSwapStorage.open(path) as s:
        for off, data in written.items():
            assert s.read_page(off) == data
        assert s.header.label == "keep"
    raw = path.read_bytes()
    for off, data in written.items():
        assert raw[off * PAGE_SIZE:(off + 1) * PAGE_SIZE] == data


def test_header_page_cannot_be_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "swap"
    mkswap(path, SIZE, uuid=U)
    with FileSwapStorage.open(path) as s:
        before = s.header
        s.write_pages(1, bytes(PAGE_SIZE) * (NR - 1))
        with pytest.raises(KernelError):
            s.write_page(0, b"\xff" * PAGE_SIZE)
    with FileSwapStorage.open(path) as s:
        assert s.header == before


def test_mem_header_page_is_a_real_header() -> None:
    with MemSwapStorage(SIZE, "m", uuid=U, bad_pages=(5,)) as s:
        page = s.header_page()
        assert page == build_swap_header(last_page=NR - 1, uuid=U, label="m", bad_pages=(5,))
        assert parse_swap_header(page, file_pages=NR, name="x") == s.header


def test_mem_storage_commits_memory_lazily() -> None:
    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    before = rss()
    with MemSwapStorage(1 << 30) as s:
        s.write_page(100_000, b"\1" * PAGE_SIZE)
        assert rss() - before < 32 << 20


def test_file_longer_than_area_maps_only_the_area(tmp_path: Path) -> None:
    path = tmp_path / "swap"
    mkswap(path, SIZE, uuid=U)
    with open(path, "r+b") as f:
        f.truncate(2 * SIZE)
    with FileSwapStorage.open(path) as s:
        assert s.nr_pages == NR
        s.write_page(NR - 1, b"\2" * PAGE_SIZE)
        assert errno_of(lambda: s.write_page(NR, b"\2" * PAGE_SIZE)) is Errno.EINVAL


def test_util_linux_swap_file_stores_pages(tmp_path: Path) -> None:
    tool = shutil.which("mkswap", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if tool is None:
        pytest.fail("mkswap (util-linux) is not installed")
    path = tmp_path / "swap"
    with open(path, "wb") as f:
        f.truncate(SIZE)
    path.chmod(0o600)
    subprocess.run([tool, "-U", str(U), str(path)], check=True, capture_output=True)
    data = random.Random(5).randbytes(PAGE_SIZE)
    with FileSwapStorage.open(path) as s:
        assert (s.nr_pages, s.header.uuid) == (NR, U)
        s.write_page(NR - 1, data)
    with FileSwapStorage.open(path) as s:
        assert s.read_page(NR - 1) == data


# --- offset rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("off", [0, -1, NR, NR + 100])
def test_header_and_out_of_range_offsets_are_einval(make: Factory, off: int) -> None:
    s = make()
    page = b"\3" * PAGE_SIZE
    assert errno_of(lambda: s.read_page(off)) is Errno.EINVAL
    assert errno_of(lambda: s.write_page(off, page)) is Errno.EINVAL
    assert errno_of(lambda: s.read_pages(off, 1)) is Errno.EINVAL
    assert errno_of(lambda: s.write_pages(off, page)) is Errno.EINVAL


def test_offset_zero_message_names_the_header(make: Factory) -> None:
    s = make()
    with pytest.raises(KernelError) as e:
        s.read_page(0)
    assert "swap header" in e.value.detail
    assert e.value.detail.startswith(f"{s.name}: ")


def test_ranges_crossing_the_end_are_einval_and_write_nothing(make: Factory) -> None:
    s = make()
    assert errno_of(lambda: s.read_pages(NR - 2, 3)) is Errno.EINVAL
    assert errno_of(lambda: s.write_pages(NR - 2, b"\4" * 3 * PAGE_SIZE)) is Errno.EINVAL
    assert s.read_pages(NR - 2, 2) == bytes(2 * PAGE_SIZE)
    assert errno_of(lambda: s.read_pages(5, 0)) is Errno.EINVAL
    assert errno_of(lambda: s.read_pages(5, -1)) is Errno.EINVAL


@pytest.mark.parametrize("n", [0, 1, PAGE_SIZE - 1, PAGE_SIZE + 1, 2 * PAGE_SIZE])
def test_write_page_needs_exactly_one_page(make: Factory, n: int) -> None:
    s = make()
    with pytest.raises(KernelError) as e:
        s.write_page(5, b"\5" * n)
    assert e.value.errno is Errno.EINVAL
    assert f"got {n}" in e.value.detail
    assert s.read_page(5) == bytes(PAGE_SIZE)


@pytest.mark.parametrize("n", [0, 1, PAGE_SIZE - 1, PAGE_SIZE + 1])
def test_write_pages_needs_whole_pages(make: Factory, n: int) -> None:
    s = make()
    assert errno_of(lambda: s.write_pages(5, b"\6" * n)) is Errno.EINVAL
    assert errno_of(lambda: s.write_pages(5, memoryview(array.array("H", [1] * 2049)))
                    ) is Errno.EINVAL
    assert s.read_pages(5, 2) == bytes(2 * PAGE_SIZE)


def test_bad_pages_are_eio_for_everyone(make: Factory) -> None:
    s = make(bad_pages=(10, 20, 20))
    page = b"\7" * PAGE_SIZE
    for off in (10, 20):
        assert errno_of(functools.partial(s.read_page, off)) is Errno.EIO
        assert errno_of(functools.partial(s.write_page, off, page)) is Errno.EIO
    assert errno_of(lambda: s.read_pages(5, 6)) is Errno.EIO  # 5..10
    assert errno_of(lambda: s.write_pages(18, page * 5)) is Errno.EIO  # 18..22
    assert s.read_pages(18, 2) == bytes(2 * PAGE_SIZE)  # nothing was written
    s.write_pages(11, page * 9)  # 11..19 lies between the bad pages
    assert s.read_pages(11, 9) == page * 9
    s.write_page(9, page)
    assert s.read_pages(5, 5) == bytes(4 * PAGE_SIZE) + page
    with pytest.raises(KernelError) as e:
        s.read_page(20)
    assert "page 20 is listed bad" in e.value.detail


def test_file_close_unsynced_loses_nothing_written(tmp_path: Path) -> None:
    # close_unsynced() skips the msync, not the data: the pages are in the file's page cache, so a
    # reopen (and the file's bytes) still see every page written, one by one (write_page)
    # or several at once (write_pages), and the descriptor is closed.
    path = tmp_path / "swap"
    mkswap(path, 1 << 20, uuid=U)
    rng = random.Random(7)
    one = {off: rng.randbytes(PAGE_SIZE) for off in (1, 17, 200)}
    many = rng.randbytes(3 * PAGE_SIZE)
    fds = _open_fds()
    s = FileSwapStorage.open(path)
    for off, data in one.items():
        s.write_page(off, data)
    s.write_pages(100, many)
    assert s.read_pages(100, 3) == many
    s.close_unsynced()
    s.close_unsynced()  # idempotent
    assert _open_fds() == fds
    assert errno_of(lambda: s.read_page(1)) is Errno.EBADF
    raw = path.read_bytes()
    with FileSwapStorage.open(path) as again:
        for off, data in one.items():
            assert again.read_page(off) == data
            assert raw[off * PAGE_SIZE:(off + 1) * PAGE_SIZE] == data
        assert again.read_pages(100, 3) == many


def test_closed_storage_is_ebadf(make: Factory) -> None:
    s = make()
    s.write_page(1, b"\x08" * PAGE_SIZE)
    s.close()
    s.close()  # idempotent
    page = b"\x08" * PAGE_SIZE
    assert errno_of(lambda: s.read_page(1)) is Errno.EBADF
    assert errno_of(lambda: s.write_page(1, page)) is Errno.EBADF
    assert errno_of(lambda: s.read_pages(1, 1)) is Errno.EBADF
    assert errno_of(lambda: s.write_pages(1, page)) is Errno.EBADF
    assert "closed" in repr(s)
    if isinstance(s, FileSwapStorage):
        assert errno_of(s.flush) is Errno.EBADF
    else:
        assert errno_of(s.header_page) is Errno.EBADF


# --- opening --------------------------------------------------------------------------------------


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_open_refuses_non_swap_files_without_leaking(tmp_path: Path) -> None:
    path = tmp_path / "junk"
    path.write_bytes(b"\0" * SIZE)
    fds = _open_fds()
    with pytest.raises(KernelError) as e:
        FileSwapStorage.open(path)
    assert e.value.errno is Errno.EINVAL
    assert e.value.detail == f"{path}: Unable to find swap-space signature"
    assert _open_fds() == fds


def test_open_regular_file_with_bad_pages(tmp_path: Path) -> None:
    path = tmp_path / "img"
    mkswap(path, SIZE, bad_pages=(3,))
    with pytest.raises(KernelError) as e:
        FileSwapStorage.open(path)
    assert "only a block device" in e.value.detail
    with FileSwapStorage.open(path, block_device=True) as s:
        assert s.header.bad_pages == (3,)
        assert errno_of(lambda: s.read_page(3)) is Errno.EIO


def test_open_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FileSwapStorage.open(tmp_path / "missing")
    with pytest.raises(IsADirectoryError):
        FileSwapStorage.open(tmp_path)


@pytest.mark.parametrize(("size", "kwargs", "text"), [
    (SIZE + 1, {}, "multiple of the page size"),
    (9 * PAGE_SIZE, {}, "at least 40 KiB"),
    (SIZE, {"label": "y" * 17}, "at most 16"),
    (SIZE, {"bad_pages": (NR,)}, "outside 1..255"),
])
def test_mem_storage_refusals(size: int, kwargs: dict[str, object], text: str) -> None:
    with pytest.raises(KernelError) as e:
        MemSwapStorage(size, **kwargs)  # type: ignore[arg-type]
    assert e.value.errno is Errno.EINVAL
    assert text in e.value.detail
