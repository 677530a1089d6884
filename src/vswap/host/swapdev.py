"""Swap devices on the host: a swap file made by ``vswap mkswap``, or a zram device.

Models: nothing; it drives the real kernel. ``file:SIZE`` makes a fully allocated swap file
(the kernel refuses files with holes) in the host directory with vswap's own ``mkswap``
(:func:`vswap.swap.swap_area.mkswap`) and ``swapon(2)``s it. ``zram:SIZE[,comp=ALGO]``
configures ``/dev/zramN`` (``comp_algorithm``, then ``disksize``;
drivers/block/zram/zram_drv.c), writes the swap header onto the block device and swaps it
on; cleanup swaps it off and writes ``reset``. Every step is journalled in the run's
:class:`~vswap.host.state.HostState` before it is made.

Device statistics read back: ``/proc/swaps`` (size and used, KiB), zram's ``mm_stat``,
``io_stat`` and block ``stat`` with the kernel's field names.
"""

from __future__ import annotations

import os
import uuid as uuid_mod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vswap.host.state import HostError, HostState, host_dir, libc_call, proc_swaps
from vswap.kernel.types import PAGE_SIZE
from vswap.run.context import DeviceSpec
from vswap.swap.swap_area import build_swap_header, check_swap_area_size, mkswap

__all__ = [
    "IO_STAT_FIELDS",
    "MM_STAT_FIELDS",
    "HostSwapDevice",
    "setup_device",
    "zram_stats",
]

#: ``/sys/block/zramN/mm_stat`` fields, in order (Documentation/admin-guide/blockdev/zram.rst).
MM_STAT_FIELDS = ("orig_data_size", "compr_data_size", "mem_used_total", "mem_limit",
                  "mem_used_max", "same_pages", "pages_compacted", "huge_pages",
                  "huge_pages_since")
#: ``/sys/block/zramN/io_stat`` fields, in order.
IO_STAT_FIELDS = ("failed_reads", "failed_writes", "invalid_io", "notify_free")
#: ``/sys/block/<dev>/stat`` fields we keep (Documentation/block/stat.rst order).
BLOCK_STAT_FIELDS = ("read_ios", "read_merges", "read_sectors", "read_ticks", "write_ios",
                     "write_merges", "write_sectors", "write_ticks")

#: swapon(2) flags: ``SWAP_FLAG_PREFER`` with a priority (include/linux/swap.h).
SWAP_FLAG_PREFER = 0x8000


@dataclass
class HostSwapDevice:
    """A swap device a host run made and swapped on."""

    spec: DeviceSpec
    path: str
    #: ``zram0`` for a zram device, else "".
    zram: str = ""
    #: The block device the swap file lives on (``vda``), for its I/O counters.
    block: str = ""

    @property
    def kind(self) -> str:
        return "zram" if self.zram else "file"

    def swaps_row(self) -> dict[str, Any] | None:
        return proc_swaps().get(self.path)


def _find_zram() -> str:
    """The first zram device that is not initialised.

    Raises:
        HostError: no zram device, or all are in use.
    """
    devs = sorted(p.name for p in Path("/sys/block").glob("zram*"))
    if not devs:
        raise HostError("no zram device (/sys/block/zram*; the zram module is not loaded)")
    for name in devs:
        if (Path("/sys/block") / name / "initstate").read_text().strip() == "0":
            return name
    raise HostError(f"every zram device is in use ({', '.join(devs)})")


def block_of(path: Path) -> str:
    """The /sys/block name of the disk holding ``path`` (partitions map to their disk)."""
    st = os.stat(path)
    major, minor = os.major(st.st_dev), os.minor(st.st_dev)
    link = Path(f"/sys/dev/block/{major}:{minor}")
    try:
        real = link.resolve()
    except OSError:
        return ""
    if (real / "partition").exists():
        real = real.parent
    return real.name if (Path("/sys/block") / real.name).exists() else ""


def _mkswap_block_device(path: str, label: str) -> None:
    """Write a swap header on a block device of any size (``vswap mkswap`` writes files)."""
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        size -= size % PAGE_SIZE
        last_page = check_swap_area_size(size)
        os.pwrite(fd, build_swap_header(last_page=last_page, uuid=uuid_mod.uuid4(),
                                        label=label), 0)
        os.fsync(fd)
    finally:
        os.close(fd)


def _swapon(path: str) -> None:
    try:
        libc_call("swapon", path.encode(), 0)
    except OSError as exc:
        raise HostError(f"swapon {path}: {exc.strerror}") from None


def setup_device(state: HostState, spec: DeviceSpec, index: int) -> HostSwapDevice:
    """Make and swap on the device ``spec`` describes (journalled).

    Raises:
        HostError: a ``mem:`` device (model only), no free zram device, an algorithm the
            kernel's zram does not offer, or the kernel refused swapon.
    """
    if spec.backing == "file":
        path = host_dir() / f"swapfile{index}"
        state.record("file", path=str(path))
        try:
            mkswap(path, spec.size, label=f"vswap-host{index}", allocate=True)
        except OSError as exc:
            raise HostError(f"mkswap {path}: {exc.strerror}") from None
        state.record("swapon", path=str(path))
        _swapon(str(path))
        return HostSwapDevice(spec, str(path), block=block_of(path))
    if spec.backing == "zram":
        name = _find_zram()
        sysdir = Path("/sys/block") / name
        comp = spec.option("comp")
        offered = (sysdir / "comp_algorithm").read_text().replace("[", "").replace("]", "")
        if comp not in offered.split():
            raise HostError(f"zram: this kernel's zram has no {comp!r} "
                            f"(offered: {offered.strip()})")
        state.record("zram", device=name)
        try:
            (sysdir / "comp_algorithm").write_text(comp)
            (sysdir / "disksize").write_text(str(spec.size))
        except OSError as exc:
            raise HostError(f"zram {name}: {exc.strerror}") from None
        dev = f"/dev/{name}"
        _mkswap_block_device(dev, f"vswap-host{index}")
        state.record("swapon", path=dev)
        _swapon(dev)
        return HostSwapDevice(spec, dev, zram=name)
    raise HostError(f"--swap-device {spec.text()}: host runs take file:SIZE or "
                    "zram:SIZE[,comp=ALGO] (mem: devices exist only in the model)")


def _fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    try:
        values = path.read_text().split()
    except OSError:
        return {}
    out: dict[str, int] = {}
    for name, v in zip(names, values):
        try:
            out[name] = int(v)
        except ValueError:
            continue
    return out


def block_stat(name: str) -> dict[str, int]:
    return _fields(Path("/sys/block") / name / "stat", BLOCK_STAT_FIELDS) if name else {}


def zram_stats(name: str) -> dict[str, Any]:
    """zram's ``mm_stat``, ``io_stat`` and block ``stat``, by the kernel's field names."""
    sysdir = Path("/sys/block") / name
    out: dict[str, Any] = {"mm_stat": _fields(sysdir / "mm_stat", MM_STAT_FIELDS),
                           "io_stat": _fields(sysdir / "io_stat", IO_STAT_FIELDS),
                           "stat": block_stat(name)}
    try:
        comp = (sysdir / "comp_algorithm").read_text().split()
        out["comp_algorithm"] = next((c[1:-1] for c in comp if c.startswith("[")), "")
        out["disksize"] = int((sysdir / "disksize").read_text())
    except (OSError, ValueError):
        pass
    return out
