"""Stateful property tests over the whole machine, one state machine per swap design.

Rules are the operations a workload and an administrator perform (task writes and reads, fork,
exit, munmap, ``MADV_PAGEOUT``, ``memory.reclaim``, zswap writeback, swapon, swapoff, limit
changes) plus the fault injector's rates (device write/read errors, device full, zswap
compression/allocation/decompression failures, swapoff EINTR/ENOMEM). The oracle is the
harness's plain dict of page tags per task (:mod:`vswap.reliability`). After every step:
every readable page equals the oracle (read without side effects), swap counts equal the
page-table references plus swap-cache pins, nothing is held by nothing, the counters agree,
and the machine's, the design's and zswap's invariants hold. Each test case ends with every
task exited and :meth:`Machine.check_no_leaks`.

Budget: ``max_examples`` and ``stateful_step_count`` below; CI runs a third of the examples
the thorough profile runs (``VSWAP_HYPOTHESIS_PROFILE=thorough``, tests/budget.py): the eight
machines took 12 of the suite's 31 CPU-minutes under coverage at the thorough counts. See
docs/reliability.md for the counts and the measured times.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from budget import examples
from vswap.kernel.faults import FAULT_POINTS
from vswap.reliability import TASK_PAGES, Harness
from vswap.swap import DESIGNS

#: Examples per design: the two designs the project compares get more (thorough: 600 and
#: 200, the counts CI ran until it had to fit 10 minutes).
EXAMPLES = {"classic": examples(ci=200, thorough=600), "vswap": examples(ci=200, thorough=600)}
EXAMPLES_OTHER = examples(ci=70, thorough=200)
STEPS = 50

rates_st = st.fixed_dictionaries({}, optional={
    p: st.sampled_from([0.0, 0.05, 0.2, 0.5]) for p in FAULT_POINTS})
k_st = st.integers(0, 15)
page_st = st.integers(0, TASK_PAGES - 1)


class ReliabilityMachine(RuleBasedStateMachine):
    design = "classic"

    @initialize(seed=st.integers(0, 1 << 20), zswap=st.booleans(), rates=rates_st,
                tasks=st.integers(1, 3))
    def setup(self, seed: int, zswap: bool, rates: dict[str, float], tasks: int) -> None:
        self.h = Harness(self.design, seed=seed, zswap=zswap, rates=rates)
        for i in range(tasks):
            self.h.spawn(i)

    @rule(cg=st.integers(0, 1))
    def spawn(self, cg: int) -> None:
        if len(self.h.tasks) < 5:
            self.h.spawn(cg)

    @rule(k=k_st, page=page_st, n=st.integers(1, 12), zero=st.booleans())
    def write(self, k: int, page: int, n: int, zero: bool) -> None:
        self.h.write(k, page, n, zero)

    @rule(k=k_st, page=page_st, n=st.integers(1, 8))
    def read(self, k: int, page: int, n: int) -> None:
        self.h.read(k, page, n)

    @rule(k=k_st)
    def fork(self, k: int) -> None:
        if len(self.h.tasks) < 6:
            self.h.fork(k)

    @rule(k=k_st)
    def exit(self, k: int) -> None:
        self.h.exit(k)

    @rule(k=k_st, page=page_st, n=st.integers(1, 8))
    def munmap(self, k: int, page: int, n: int) -> None:
        self.h.munmap(k, page, n)

    @rule(k=k_st, page=page_st, n=st.integers(1, TASK_PAGES))
    def pageout(self, k: int, page: int, n: int) -> None:
        self.h.pageout(k, page, n)

    @rule(cg=st.integers(0, 1), kib=st.sampled_from([16, 64, 256, 4096]))
    def reclaim(self, cg: int, kib: int) -> None:
        self.h.reclaim(cg, kib)

    @rule(cg=st.integers(0, 1), nr=st.integers(1, 32))
    def zswap_writeback(self, cg: int, nr: int) -> None:
        self.h.zswap_writeback(cg, nr)

    @rule(dev=st.integers(0, 1))
    def swap_toggle(self, dev: int) -> None:
        self.h.swap_toggle(dev)

    @rule(cg=st.integers(0, 1), knob=st.integers(0, 3), value=st.integers(0, 3))
    def set_limit(self, cg: int, knob: int, value: int) -> None:
        self.h.set_limit(cg, knob, value)

    @rule(rates=rates_st)
    def change_fault_rates(self, rates: dict[str, float]) -> None:
        self.h.faults.set_rates(rates)

    @invariant()
    def everything_checks_out(self) -> None:
        if hasattr(self, "h"):
            self.h.check()

    def teardown(self) -> None:
        if hasattr(self, "h"):
            self.h.finish()


def _test_case_for(design: str) -> type:
    cls = type(f"Reliability_{design.replace('-', '_')}", (ReliabilityMachine,),
               {"design": design})
    case = cls.TestCase
    case.settings = settings(max_examples=EXAMPLES.get(design, EXAMPLES_OTHER),
                             stateful_step_count=STEPS, deadline=None)
    return case


for _design in DESIGNS:
    globals()[f"TestReliability_{_design.replace('-', '_')}"] = _test_case_for(_design)
