"""The machine-wide state every layer of one machine shares: the kernel's globals.

Not a kernel file: in the kernel these are globals (``vm_event_states``, the cgroup
hierarchy, ``current``'s CPU, ``CONFIG_DEBUG_VM``, the fault-injection attributes, the
tracepoints); the model keeps them in one :class:`KernelEnv` that the machine builds and
hands to every constructor (the swap design, its swap cache and devices, zswap), so nothing
is set or poked into an object after it was built. A timed run builds the env with its
recorder as the tracer and moves ``current_cpu`` before each operation.
"""

from __future__ import annotations

import logging
from collections import Counter

from vswap.kernel.faults import NO_FAULTS, FaultInjector
from vswap.kernel.memcontrol import MemCgroupTree
from vswap.kernel.tracing import NULL_TRACER, KernelTracer
from vswap.kernel.vmstat import VmStat

__all__ = ["KernelEnv"]

_log = logging.getLogger(__name__)


class KernelEnv:
    """Counters, the memcg tree, the tracer, the fault injector, the current CPU, the
    debug switch and the one warning helper of one machine.

    Args:
        vmstat: the ``/proc/vmstat`` counters (a new one if None).
        memcgs: the cgroup tree (a new one, root only, if None).
        tracer: the kernel-step hooks (:data:`~vswap.kernel.tracing.NULL_TRACER`: untimed).
        faults: the fault injector (:data:`~vswap.kernel.faults.NO_FAULTS`: none).
        debug_vm: ``CONFIG_DEBUG_VM``: :meth:`warn` raises instead of counting.
    """

    __slots__ = ("current_cpu", "debug_vm", "faults", "memcgs", "tracer", "vmstat",
                 "warnings")

    def __init__(self, *, vmstat: VmStat | None = None, memcgs: MemCgroupTree | None = None,
                 tracer: KernelTracer = NULL_TRACER, faults: FaultInjector = NO_FAULTS,
                 debug_vm: bool = False) -> None:
        self.vmstat = vmstat if vmstat is not None else VmStat()
        self.memcgs = memcgs if memcgs is not None else MemCgroupTree()
        self.tracer = tracer
        self.faults = faults
        #: ``smp_processor_id()`` of the task doing the current operation (per-CPU clusters,
        #: vswap partitions); a timed run sets it before each operation.
        self.current_cpu = 0
        self.debug_vm = debug_vm
        #: ``VM_WARN_ON`` hits by message (:meth:`warn`).
        self.warnings: Counter[str] = Counter()

    def warn(self, msg: str) -> None:
        """Models: ``VM_WARN_ON()`` / ``WARN_ON_ONCE()``: count the warning and log its
        first hit on this machine (the ``vswap.kernel.env`` logger, WARNING; the kernel
        prints a WARN_ON_ONCE once, and the counts carry the rest into the results); under
        ``debug_vm`` raise AssertionError instead (tests and CI turn it on).

        The project's one path for warnings the kernel would print (see :mod:`vswap.log`).
        """
        self.warnings[msg] += 1
        if self.debug_vm:
            raise AssertionError(f"VM_WARN_ON: {msg}")
        if self.warnings[msg] == 1:
            _log.warning("VM_WARN_ON: %s", msg)
