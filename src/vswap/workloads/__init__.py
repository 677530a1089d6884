"""Workloads: the RFC's benchmarks as programs running on the modelled kernel.

Each module is one workload behind :class:`~vswap.workloads._base.Workload`; each parses its
own command line (``usemem -n 16 -O 2g``, ``memhog 1G``, ``stress-ng --pageswap 4
--pageswap-ops 1000``, ``kbuild -j 52 --jobs 300``, ``swapoff --fill 0.5``,
``pattern --size 64M --content mixed``, ``pageout --size 64M --content text``,
``tmpfs -j 4 --objects 8 --object-size 256K``, ``hibernate --size 16M --image 4M``,
``thp-churn --size 2M --thp-size 64K``, ``uffd-move --size 16M``,
``trace traces/sqlite-query.npz``, ``coldstart --app 1G --others 3G``,
``zswap-wb --size 64M``). Bad input is a
one-line :class:`~vswap.errors.ConfigError`.
"""

from __future__ import annotations

import shlex

from vswap.errors import ConfigError
from vswap.workloads._base import Workload
from vswap.workloads.coldstart import Coldstart
from vswap.workloads.hibernate import Hibernate
from vswap.workloads.kbuild import Kbuild
from vswap.workloads.memhog import Memhog
from vswap.workloads.mthp_frag import MthpFrag
from vswap.workloads.mthp_mixed import MthpMixed
from vswap.workloads.pattern import Pageout, Pattern
from vswap.workloads.stress_ng import StressNgPageswap
from vswap.workloads.swapoff import SwapoffWorkload
from vswap.workloads.thp_churn import ThpChurn
from vswap.workloads.tmpfs import Tmpfs
from vswap.workloads.trace import TraceWorkload
from vswap.workloads.uffd_move import UffdMove
from vswap.workloads.usemem import Usemem
from vswap.workloads.zswap_wb import ZswapWb

#: Workload name -> class.
WORKLOADS: dict[str, type[Workload]] = {
    w.name: w for w in (Usemem, Memhog, StressNgPageswap, Kbuild, SwapoffWorkload, Pattern,
                        Pageout, TraceWorkload, MthpFrag,
                        MthpMixed, Tmpfs, Coldstart, Hibernate, ZswapWb, ThpChurn,
                        UffdMove)}

__all__ = ["WORKLOADS", "Workload", "parse_workload"]


def parse_workload(command: str) -> Workload:
    """Build a workload from its command line.

    Raises:
        ConfigError: empty or unparseable line, unknown workload, or bad options.
    """
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"--workload: {exc}") from None
    if not argv:
        raise ConfigError("--workload: empty command line")
    cls = WORKLOADS.get(argv[0])
    if cls is None:
        raise ConfigError(f"unknown workload {argv[0]!r} (known: {', '.join(WORKLOADS)})")
    return cls.parse(argv[1:], command)
