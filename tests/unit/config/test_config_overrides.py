"""Command-line flags over a configuration (apply_overrides) and their parsers."""

from __future__ import annotations

import pytest

from vswap.config import (
    DEFAULT_WORKLOAD_CGROUP,
    CgroupSpec,
    DeviceSpec,
    RunConfig,
    WorkloadSpec,
    apply_overrides,
    build_machine,
    loads_config,
    parse_designs,
    parse_swap_device,
)
from vswap.errors import ConfigError

BASE = """
designs = ["classic"]
seed = 3
[machine]
ram = "64M"
cpus = 2
[sysctl]
vm.swappiness = 100
[[swap]]
type = "file"
size = "64M"
priority = 5
[zswap]
compressor = "lz4"
max_pool_percent = 10
[cgroups."/a"]
memory.max = "16M"
memory.swap.max = "32M"
[cgroups."/b"]
memory.max = "8M"
[[workloads]]
cgroup = "/a"
command = "usemem -n 1 32M"
[[workloads]]
cgroup = "/b"
command = "memhog 16M"
"""


@pytest.fixture
def base() -> RunConfig:
    return loads_config(BASE, source="base.toml")


def test_nothing_given_changes_nothing(base: RunConfig) -> None:
    assert apply_overrides(base) == base
    assert apply_overrides(base, design=None, seed=None, swap_device=None) == base


def test_each_flag(base: RunConfig) -> None:
    c = apply_overrides(base, design="classic,vswap", seed="9", cpus=8, ram="128M",
                        scale="0.5", verify="false")
    assert c.designs == ("classic", "vswap") and c.seed == 9 and c.scale == 0.5
    assert c.machine.cpus == 8 and c.machine.ram == 128 << 20 and not c.verify
    assert c.machine.sysctl == {"vm.swappiness": 100}
    assert base.designs == ("classic",) and base.machine.cpus == 2  # not changed in place


def test_memory_max_goes_to_every_workload_cgroup(base: RunConfig) -> None:
    c = apply_overrides(base, memory_max="128M")
    assert c.cgroup("/a").knobs == {"memory.max": "128M", "memory.swap.max": "32M"}  # type: ignore[union-attr]
    assert c.cgroup("/b").knobs == {"memory.max": "128M"}  # type: ignore[union-attr]


def test_workload_replaces_the_workloads_in_the_first_cgroup(base: RunConfig) -> None:
    c = apply_overrides(base, workload="usemem -n 4 -O 64M", memory_max="max")
    assert c.workloads == (WorkloadSpec(cgroup="/a", command="usemem -n 4 -O 64M"),)
    assert c.cgroup("/a").knobs["memory.max"] == "max"  # type: ignore[union-attr]
    assert c.cgroup("/b").knobs["memory.max"] == "8M"  # type: ignore[union-attr]


def test_flags_without_a_config() -> None:
    c = apply_overrides(RunConfig(), workload="memhog 64M", memory_max="32M",
                        swap_device=["file:1G", "mem:512M:pmem"], zswap="zstd", cpus="2")
    assert c.workloads == (WorkloadSpec(cgroup=DEFAULT_WORKLOAD_CGROUP, command="memhog 64M"),)
    assert c.cgroups == (CgroupSpec(path="/workload", knobs={"memory.max": "32M"}),)
    assert c.devices == (DeviceSpec(type="file", size=1 << 30),
                         DeviceSpec(type="mem", size=512 << 20, kind="pmem"))
    assert c.devices[0].kind == "ssd"
    assert c.zswap is not None and c.zswap.compressor == "zstd" and c.zswap.enabled
    m = build_machine(apply_overrides(c, scale=1 / 64), "vswap")
    assert m.cgroup_read("/workload", "memory.max") == f"{(32 << 20) // 64}\n"
    assert [d["Type"] for d in m.swaps()] == ["file", "partition"]


def test_memory_max_alone_makes_the_default_cgroup() -> None:
    c = apply_overrides(RunConfig(), memory_max="1G")
    assert c.cgroups == (CgroupSpec(path="/workload", knobs={"memory.max": "1G"}),)


def test_zswap_off_and_swap_none(base: RunConfig) -> None:
    c = apply_overrides(base, zswap="off", swap_device="none")
    assert c.zswap is None and c.devices == ()
    c = apply_overrides(base, zswap="zstd")
    assert c.zswap.compressor == "zstd" and c.zswap.max_pool_percent == 10  # type: ignore[union-attr]


@pytest.mark.parametrize("flags, message", [
    ({"desgin": "vswap"}, "apply_overrides: unknown flag 'desgin'"),
    ({"design": "vswap,nosuch"}, "--design: unknown swap design 'nosuch'"),
    ({"design": ","}, "--design: no design given"),
    ({"design": "vswap,vswap"}, "--design: a design is listed twice (vswap,vswap)"),
    ({"workload": " "}, "--workload: empty command line"),
    ({"memory_max": "12Q"}, "--memory-max: invalid value '12Q'"),
    ({"swap_device": "disk:1G"}, "--swap-device: 'disk:1G' is not file:SIZE[:KIND], "
                                 "mem:SIZE[:KIND] or none"),
    ({"swap_device": "file:1Q"}, "--swap-device: cannot parse '1Q' as a size"),
    ({"swap_device": "mem:16K"}, "--swap-device: 16K is under 10 pages"),
    ({"swap_device": "mem:1G:tape"}, "--swap-device: unknown device kind 'tape'"),
    ({"swap_device": ["none", "mem:1G"]}, "--swap-device: 'none' cannot be combined"),
    ({"zswap": "lz5"}, "--zswap: compressor lz5 not available"),
    ({"cpus": -1}, "--cpus: -1 is not a positive CPU count"),
    ({"cpus": "many"}, "--cpus: 'many' is not an integer"),
    ({"cpus": True}, "--cpus: True is not an integer"),
    ({"ram": "4K"}, "--ram: 4096 bytes is less than 16 pages"),
    ({"seed": -2}, "--seed: -2 is negative"),
    ({"scale": "x"}, "--scale: 'x' is not a number"),
    ({"scale": 0}, "--scale: 0 is outside (0, 1024]"),
    ({"verify": "maybe"}, "--verify: 'maybe' is not true or false"),
])
def test_bad_flags(flags: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        apply_overrides(RunConfig(), **flags)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_memory_max_refused_for_the_root_cgroup() -> None:
    c = loads_config('[[workloads]]\ncommand = "memhog 1G"')
    with pytest.raises(ConfigError, match="--memory-max: the workload runs in the root cgroup"):
        apply_overrides(c, memory_max="1G")


def test_parsers() -> None:
    assert parse_designs(["vswap", " classic "]) == ("vswap", "classic")
    assert parse_swap_device("none") is None
    assert parse_swap_device("file:8G:NVMe") == DeviceSpec(type="file", size=8 << 30,
                                                           kind="nvme")
