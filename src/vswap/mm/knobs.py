"""The sysctl and sysfs knobs of the memory manager, as one table.

Models the files (v6.14), each defined where the kernel defines it:

=========================================================== ===================================
file                                                        kernel
=========================================================== ===================================
``/proc/sys/vm/swappiness`` (0..200)                        mm/vmscan.c ``vm_swappiness``
``/proc/sys/vm/page-cluster`` (0..31)                       mm/swap.c ``page_cluster``
``/sys/kernel/mm/swap/vma_ra_enabled``                      mm/swap_state.c
``/sys/kernel/mm/swap/tiers``                               swap tiers v10 mm/swap_tier.c
``/sys/kernel/mm/transparent_hugepage/enabled`` and
``.../hugepages-<size>kB/enabled``, ``.../stats/<name>``    mm/huge_memory.c
``/sys/kernel/mm/transparent_hugepage/shmem_enabled``       mm/shmem.c ``shmem_huge``
``/sys/module/zswap/parameters/<name>``                     mm/zswap.c ``module_param``
``.../zswap/parameters/writeback_batch_size``,
``writeback_compressed``                                    model only (docs/future.md)
``/sys/kernel/mm/swap/discontig_swapout`` (0/1)             model only (docs/future.md)
``/sys/kernel/mm/swap/mixed_swapin`` (0/1)                  model only (docs/future.md)
``/sys/kernel/mm/swap/compact`` (write 1; reads the runs)   model only (docs/future.md)
``/proc/sys/vm/drop_caches`` (1..4)                         fs/drop_caches.c (anon: ``drop_slab``)
``/proc/sys/vm/compact_memory`` (write 1)                   mm/compaction.c ``compact_nodes``
=========================================================== ===================================

:data:`KNOBS` maps a file to its :class:`Knob`; :data:`KNOB_DIRS` maps a directory prefix to
the knob family beneath it. A write parses and validates before it changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from vswap._mypyc import trait
from vswap.errors import ConfigError
from vswap.kernel.errors import Errno, KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm._base import MachineBase
from vswap.mm.huge_memory import THP_ORDERS
from vswap.mm.mm_types import Vma
from vswap.mm.shmem import SHMEM_ENABLED_MODES
from vswap.swap.compaction import swap_compact
from vswap.swap.folio_slots import virtual_design
from vswap.zswap.host import wb_batch_unsupported

__all__ = ["KNOBS", "KNOB_DIRS", "Knob", "KnobsMixin"]

THP_DIR: Final = "/sys/kernel/mm/transparent_hugepage/"
ZSWAP_DIR: Final = "/sys/module/zswap/parameters/"


@dataclass(frozen=True, slots=True)
class Knob:
    """One knob: ``read`` formats it (with the trailing newline), ``write`` parses
    the stripped text, raising KernelError(EINVAL) before changing anything if malformed.
    For a directory family both also get the path below the directory."""

    source: str
    read: Callable[[MachineBase, str], str]
    write: Callable[[MachineBase, str, str], None]


# -- vm sysctls and the swap readahead switch -----------------------------------------------
def _write_swappiness(m: MachineBase, _rest: str, text: str) -> None:
    if not text.isdigit() or not 0 <= int(text) <= 200:
        raise KernelError(Errno.EINVAL, f"swappiness: {text!r} outside 0..200")
    m.swappiness = int(text)


def _write_page_cluster(m: MachineBase, _rest: str, text: str) -> None:
    if not text.isdigit() or int(text) > 31:
        raise KernelError(Errno.EINVAL, f"page-cluster: {text!r} is not 0..31")
    m.page_cluster = int(text)


def _write_vma_ra_enabled(m: MachineBase, _rest: str, text: str) -> None:
    if text.lower() not in ("true", "false", "1", "0", "y", "n"):
        raise KernelError(Errno.EINVAL, f"vma_ra_enabled: {text!r} is not a boolean")
    m.vma_ra_enabled = text.lower() in ("true", "1", "y")


def _write_drop_caches(m: MachineBase, _rest: str, text: str) -> None:
    """``drop_caches_sysctl_handler``: 1 drops the page cache (the model keeps no clean
    file pages; tmpfs pages are never dropped), 2 the slab objects (``drop_slab``: the
    deferred split queue, zswap), 3 both; 4 only silences the message."""
    if not text.isdigit() or not 1 <= int(text) <= 4:
        raise KernelError(Errno.EINVAL, f"drop_caches: {text!r} is not 1..4")
    m.drop_caches = int(text)
    if int(text) & 2:
        m.drop_slab()


def _read_compact_memory(_m: MachineBase, _rest: str) -> str:
    raise KernelError(Errno.EACCES, "compact_memory: write-only (mode 0200)")


def _write_compact_memory(m: MachineBase, _rest: str, text: str) -> None:
    """``sysctl_compaction_handler``: 1 compacts every node (``compact_nodes``); any other
    value is EINVAL (since 6.x)."""
    if text != "1":
        raise KernelError(Errno.EINVAL, f"compact_memory: {text!r} is not 1")
    m.compact_memory()


# -- model-only swap knobs of the virtual designs' future use cases (docs/future.md) ----------
def _parse_bool01(name: str, text: str) -> bool:
    if text not in ("0", "1"):
        raise KernelError(Errno.EINVAL, f"{name}: {text!r} is not 0 or 1")
    return text == "1"


def _read_discontig(m: MachineBase, _rest: str) -> str:
    d = virtual_design(m.design, "discontig_swapout")
    return f"{int(d.discontig_swapout)}\n"


def _write_discontig(m: MachineBase, _rest: str, text: str) -> None:
    on = _parse_bool01("discontig_swapout", text)
    virtual_design(m.design, "discontig_swapout").discontig_swapout = on


def _read_mixed(m: MachineBase, _rest: str) -> str:
    d = virtual_design(m.design, "mixed_swapin")
    return f"{int(d.mixed_swapin)}\n"


def _write_mixed(m: MachineBase, _rest: str, text: str) -> None:
    on = _parse_bool01("mixed_swapin", text)
    virtual_design(m.design, "mixed_swapin").mixed_swapin = on
    m.mixed_thp_swapin = on


def _write_compact(m: MachineBase, _rest: str, text: str) -> None:
    """``echo 1 > compact``: compact every swap device now (as ``vm.compact_memory`` does
    for memory); each device's :class:`~vswap.swap.compaction.CompactResult` is kept in
    ``swap_compactions``."""
    if text != "1":
        raise KernelError(Errno.EINVAL, f"compact: {text!r} is not 1")
    for si in list(m.design.devices.devices()):
        m.swap_compactions.append(swap_compact(m.design, si))


# -- transparent huge pages ------------------------------------------------------------------
def thp_order_of(rest: str) -> int:
    """The order of ``hugepages-<size>kB/enabled`` (KernelError(ENOENT) if no such size)."""
    size, _, leaf = rest.partition("/")
    for order in THP_ORDERS:
        if size == f"hugepages-{(PAGE_SIZE << order) // 1024}kB" and leaf == "enabled":
            return order
    raise KernelError(Errno.ENOENT, f"no THP knob {rest}")


def _read_thp(m: MachineBase, rest: str) -> str:
    if rest == "enabled":
        return m.thp.format_enabled(None)
    if rest == "shmem_enabled":
        return " ".join(f"[{v}]" if v == m.shmem_enabled else v
                        for v in SHMEM_ENABLED_MODES) + "\n"
    size, _, leaf = rest.partition("/")
    order = thp_order_of(size + "/enabled")
    if leaf == "enabled":
        return m.thp.format_enabled(order)
    if leaf.startswith("stats/"):
        return f"{m.thp.stats[order][leaf[6:]]}\n"
    raise KernelError(Errno.ENOENT, f"no knob {THP_DIR}{rest}")


def _write_thp(m: MachineBase, rest: str, text: str) -> None:
    if rest == "shmem_enabled":
        # shmem_enabled_store(): one of SHMEM_ENABLED_MODES, else EINVAL.
        if text not in SHMEM_ENABLED_MODES:
            raise KernelError(Errno.EINVAL, f"shmem_enabled: bad mode {text!r}")
        m.shmem_enabled = text
        return
    m.thp.set_enabled(None if rest == "enabled" else thp_order_of(rest), text)
    m.thp_any_enabled = any(m.thp.orders_for(Vma(0, 1, hugepage=True)))


# -- zswap module parameters -----------------------------------------------------------------
def _read_zswap(m: MachineBase, name: str) -> str:
    if m.zswap is None:
        raise KernelError(Errno.ENOENT, f"no knob {ZSWAP_DIR}{name}")
    v = getattr(m.zswap.params, name)
    return ("Y" if v else "N") + "\n" if isinstance(v, bool) else f"{v}\n"


def _write_zswap(m: MachineBase, name: str, text: str) -> None:
    if m.zswap is None:
        raise KernelError(Errno.ENOENT, "zswap is not configured on this machine")
    if name in ("writeback_batch_size", "writeback_compressed"):
        why = wb_batch_unsupported(m.design.name, name)
        if why is not None:
            raise KernelError(Errno.ENOTSUP, why)
    cur = getattr(m.zswap.params, name, None)
    if isinstance(cur, bool):
        if text.upper() not in ("Y", "N", "1", "0"):
            raise KernelError(Errno.EINVAL, f"zswap.{name}: {text!r} is not Y/N")
        new: Any = text.upper() in ("Y", "1")
    elif isinstance(cur, int):
        if not text.isdigit():
            raise KernelError(Errno.EINVAL, f"zswap.{name}: {text!r} is not a number")
        new = int(text)
    else:
        new = text
    try:
        m.zswap.set_param(name, new)
    except ConfigError as exc:
        raise KernelError(Errno.EINVAL, str(exc)) from None


# -- swap tiers ------------------------------------------------------------------------------
def _write_swap_tiers(m: MachineBase, _rest: str, text: str) -> None:
    m.design.devices.tiers.write(text)


#: Single files.
KNOBS: dict[str, Knob] = {
    "/proc/sys/vm/swappiness": Knob(
        "mm/vmscan.c", lambda m, _: f"{m.swappiness}\n", _write_swappiness),
    "/proc/sys/vm/page-cluster": Knob(
        "mm/swap.c", lambda m, _: f"{m.page_cluster}\n", _write_page_cluster),
    "/proc/sys/vm/drop_caches": Knob(
        "fs/drop_caches.c", lambda m, _: f"{m.drop_caches}\n", _write_drop_caches),
    "/proc/sys/vm/compact_memory": Knob(
        "mm/compaction.c", _read_compact_memory, _write_compact_memory),
    "/sys/kernel/mm/swap/vma_ra_enabled": Knob(
        "mm/swap_state.c", lambda m, _: "true\n" if m.vma_ra_enabled else "false\n",
        _write_vma_ra_enabled),
    "/sys/kernel/mm/swap/discontig_swapout": Knob(
        "model only: vswap.swap.folio_slots", _read_discontig, _write_discontig),
    "/sys/kernel/mm/swap/mixed_swapin": Knob(
        "model only: vswap.swap.folio_slots", _read_mixed, _write_mixed),
    "/sys/kernel/mm/swap/compact": Knob(
        "model only: vswap.swap.compaction", lambda m, _: f"{len(m.swap_compactions)}\n",
        _write_compact),
    "/sys/kernel/mm/swap/tiers": Knob(
        "mm/swap_tier.c (swap tiers v10)", lambda m, _: m.design.devices.tiers.read(),
        _write_swap_tiers),
}

#: Directories whose files form one family (the path below the directory is passed on).
KNOB_DIRS: dict[str, Knob] = {
    THP_DIR: Knob("mm/huge_memory.c", _read_thp, _write_thp),
    ZSWAP_DIR: Knob("mm/zswap.c", _read_zswap, _write_zswap),
}


def _find(path: str) -> tuple[Knob, str]:
    knob = KNOBS.get(path)
    if knob is not None:
        return knob, ""
    for prefix, family in KNOB_DIRS.items():
        if path.startswith(prefix):
            return family, path[len(prefix):]
    raise KernelError(Errno.ENOENT, f"no knob {path}")


@trait
class KnobsMixin(MachineBase):
    """``sysfs_write`` / ``sysfs_read`` of :class:`~vswap.mm.machine.Machine`."""

    def sysfs_write(self, path: str, value: str | int) -> None:
        """Write a knob of :data:`KNOBS` or :data:`KNOB_DIRS` (``echo value > path``).

        Raises:
            KernelError(EINVAL): malformed value (nothing changed); (ENOENT): unknown path.
        """
        knob, rest = _find(path)
        knob.write(self, rest, str(value).strip())

    def sysfs_read(self, path: str) -> str:
        """Read a knob written by :meth:`sysfs_write`, or an mTHP statistic
        (``.../hugepages-<size>kB/stats/<name>``)."""
        knob, rest = _find(path)
        return knob.read(self, rest)
