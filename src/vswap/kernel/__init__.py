"""The shared kernel vocabulary: the model's counterpart of include/linux/.

A leaf package: it imports nothing of the project but the base modules (``vswap.errors``,
``vswap.units``), and every layer of the kernel model (``zswap``, ``swap``, ``mm``) builds on
it. ``tests/unit/test_layering.py`` (run by ``bin/test``) enforces that.

* :mod:`~vswap.kernel.types`: ``swp_entry_t`` / ``swp_slot_t`` and the layout constants;
* :mod:`~vswap.kernel.folio`: ``struct folio``;
* :mod:`~vswap.kernel.memcontrol`: memory cgroups (``struct mem_cgroup``, page counters)
  and the cgroup tree;
* :mod:`~vswap.kernel.vmstat`: the ``/proc/vmstat`` event counters;
* :mod:`~vswap.kernel.errors`: errno values and the exceptions that carry them;
* :mod:`~vswap.kernel.sizes`: kernel structure sizes (metadata accounting);
* :mod:`~vswap.kernel.tracing`: the kernel-step hooks a timed run records, and the
  :class:`~vswap.kernel.tracing.Cost` names of critical sections;
* :mod:`~vswap.kernel.faults`: fault injection at named points;
* :mod:`~vswap.kernel.env`: :class:`~vswap.kernel.env.KernelEnv`, the machine-wide state
  every constructor is handed.
"""
