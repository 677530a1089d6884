"""What the mTHP workloads (``mthp-frag``, ``mthp-mixed``, ``thp-churn``) share: their
``--thp-size`` option and the per-size ``enabled`` switches they set."""

from __future__ import annotations

from typing import Any

from vswap.kernel.types import PAGE_SIZE
from vswap.mm.huge_memory import THP_ORDERS, order_size_name
from vswap.units import parse_size
from vswap.workloads._base import WorkloadParser

#: ``/sys/kernel/mm/transparent_hugepage/``: the per-size ``hugepages-<size>kB`` folders.
THP_DIR = "/sys/kernel/mm/transparent_hugepage/"


def thp_order_arg(p: WorkloadParser, text: str, workload: str) -> int:
    """The folio order of ``--thp-size TEXT`` (16K to 2M); a usage error otherwise."""
    thp = parse_size(text, what=f"{workload} --thp-size")
    order = next((o for o in THP_ORDERS if PAGE_SIZE << o == thp), None)
    if order is None:
        p.error(f"--thp-size {text}: an mTHP size, 16K to 2M")
    return order


def enable_only_thp_order(m: Any, order: int) -> None:
    """Models: writing ``madvise`` to the ``enabled`` file of one mTHP size and ``never``
    to every other, so that an ``MADV_HUGEPAGE`` region faults in folios of that size."""
    for o in THP_ORDERS:
        m.sysfs_write(f"{THP_DIR}{order_size_name(o)}/enabled",
                      "madvise" if o == order else "never")
