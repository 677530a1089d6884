"""The virtual swap state machine (test_vswap_stateful.py) run on ``vswap-v6``.

Same rules, reference model and invariants as the seed's design: swap-outs of mixed orders,
contents and cgroups (writeback off, a swap.max limit), forks, unmaps, faults, swap-in
races, zswap writeback, zswap on/off, swapoff and swapon. The v6 table is small (clusters
of 4 slots) and two CPUs alternate, so clusters are created, cached, shared through the
partial lists and freed all the time. Run twice: as v6, and with v4's and v6's optimisations
off (the v3 behaviour the later reviews measured).
"""

from __future__ import annotations

from typing import ClassVar

from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, rule
from test_vswap_stateful import VswapMachine
from vswaphelpers import add_device, attach_zswap

from vswap.kernel.env import KernelEnv
from vswap.swap.vswap_v6 import VirtualSwapV6


class V6Machine(VswapMachine):
    OPTIONS: ClassVar[dict[str, bool]] = {}

    def __init__(self) -> None:
        RuleBasedStateMachine.__init__(self)
        self.d = VirtualSwapV6(env=KernelEnv(debug_vm=True), cluster_shift=2, nr_cpus=2,  # type: ignore[assignment]
                               **self.OPTIONS)
        self.z = attach_zswap(self.d)  # type: ignore[arg-type]
        add_device(self.d, pages=48)
        self.nowb = self.d.memcgs.create("/nowb")
        self.nowb.zswap_writeback = False
        self.limited = self.d.memcgs.create("/limited")
        self.limited.swap.max = 6
        self.pages = {}
        self.next_id = 0

    @rule()
    def other_cpu(self) -> None:
        """Later operations run on the other CPU (its own allocation and lookup caches)."""
        self.d.env.current_cpu ^= 1

    @rule()
    def cpu_dead(self) -> None:
        """``vswap_cpu_dead``: the current CPU drops its cached clusters."""
        self.d.table.vswap_cpu_dead(self.d.env.current_cpu)  # type: ignore[attr-defined]


class V3LikeMachine(V6Machine):
    OPTIONS: ClassVar[dict[str, bool]] = {"batch_free": False, "iter_cache": False,
                                          "rmap_cache_only": False}


for _m in (V6Machine, V3LikeMachine):
    _m.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None,
                                    derandomize=True)

TestVswapV6Stateful = V6Machine.TestCase
TestVswapV3LikeStateful = V3LikeMachine.TestCase
