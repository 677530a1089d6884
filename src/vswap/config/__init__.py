"""Run configuration: one TOML file describes a machine, its swap devices, zswap, the cgroup
tree with its knobs in kernel spelling, the workloads, the designs to compare, seed and scale.

Public surface:

* :func:`load_config` (a file), :func:`loads_config` (text), :func:`parse_config` (a dict):
  validated :class:`RunConfig`; every error is one line naming the file and key.
* :func:`apply_overrides`: command-line flags over a configuration.
* :func:`build_machine`: a :class:`~vswap.mm.machine.Machine` for one design, built through
  the machine's own interfaces (``swapon``, ``cgroup_write``, ``sysfs_write``).

docs/config.md is the reference for the file format.
"""

from __future__ import annotations

from .build import build_machine, scaled_knob_value
from .loader import key_path, load_config, loads_config, parse_config
from .overrides import (
    DEFAULT_WORKLOAD_CGROUP,
    OVERRIDE_FLAGS,
    apply_overrides,
    parse_designs,
    parse_swap_device,
)
from .spec import (
    KERNEL_MEMCG_FILES,
    SETTABLE_KNOBS,
    SIZE_KNOBS,
    SYSCTLS,
    CgroupSpec,
    DeviceSpec,
    MachineSpec,
    RunConfig,
    WorkloadSpec,
)

__all__ = [
    "DEFAULT_WORKLOAD_CGROUP",
    "KERNEL_MEMCG_FILES",
    "OVERRIDE_FLAGS",
    "SETTABLE_KNOBS",
    "SIZE_KNOBS",
    "SYSCTLS",
    "CgroupSpec",
    "DeviceSpec",
    "MachineSpec",
    "RunConfig",
    "WorkloadSpec",
    "apply_overrides",
    "build_machine",
    "key_path",
    "load_config",
    "loads_config",
    "parse_config",
    "parse_designs",
    "parse_swap_device",
    "scaled_knob_value",
]
