"""Every example configuration parses and builds a machine for each of its designs."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vswap.config import build_machine, load_config
from vswap.config.build import scaled_knob_value
from vswap.kernel.memcontrol import MAX
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.memcg_files import page_counter_memparse
from vswap.sim.device_kinds import get_device_kind

# sweep-*.toml are sweep specifications (a configuration plus [sweep]): tests/unit/sweep.
EXAMPLES = sorted(p for p in (Path(__file__).parents[3] / "examples").glob("*.toml")
                  if not p.stem.startswith("sweep-"))
SMALL = 1 / 1024


def test_the_examples_exist() -> None:
    names = {p.stem for p in EXAMPLES}
    assert {"rfc-usemem", "rfc-kernel-build", "rfc-swapoff", "zswap-no-swapfile",
            "zswap-writeback-off", "swapoff-half-full", "two-cgroups"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_builds_on_every_design(path: Path) -> None:
    config = dataclasses.replace(load_config(path), scale=SMALL)
    assert config.source == str(path)
    for design in config.designs:
        m = build_machine(config, design)
        assert m.config.design == design
        assert m.nr_pages * PAGE_SIZE == config.scaled(config.machine.ram)
        assert m.config.nr_cpus == config.machine.cpus
        infos = m.swaps()
        assert len(infos) == len(config.devices)
        for info, dev in zip(infos, config.devices):
            assert info["Type"] == ("file" if dev.type == "file" else "partition")
            # The header page is not a slot.
            assert info["Size"] == config.scaled(dev.size) // 1024 - 4
            assert info["Used"] == 0
            if dev.priority is not None:
                assert info["Priority"] == dev.priority
            get_device_kind(dev.kind)
        assert (m.zswap is not None) == (config.zswap is not None)
        if config.zswap is not None:
            assert m.zswap.params == config.zswap
        for cg in config.cgroups:
            for name, value in cg.knobs.items():
                got = m.cgroup_read(cg.path, name).strip()
                want = scaled_knob_value(config, name, value)
                if name == "memory.zswap.writeback":
                    assert got == value
                elif want == "max":
                    assert got == "max"
                else:
                    assert int(got) == int(want) < page_counter_memparse(value, name)
        for name, value in config.machine.sysctl.items():
            path_ = "/proc/sys/vm/" + name.removeprefix("vm.")
            assert m.sysfs_read(path_).strip() == str(value)
        m.check_invariants()


def test_rfc_examples_are_at_full_scale() -> None:
    by = {p.stem: load_config(p) for p in EXAMPLES}
    usemem = by["rfc-usemem"]
    assert usemem.scale == 1.0 and usemem.machine.cpus == 52
    assert usemem.cgroup("/usemem").knobs == {"memory.max": "16G"}  # type: ignore[union-attr]
    assert usemem.workloads[0].command == "usemem --init-time -w -O -s 10 -n 16 2g"
    assert usemem.designs == ("classic", "vswap", "vswap-static", "vswap-dynamic")
    kbuild = by["rfc-kernel-build"]
    assert kbuild.zswap is not None and kbuild.zswap.enabled
    assert kbuild.cgroup("/kbuild").knobs == {"memory.max": "3G"}  # type: ignore[union-attr]
    assert kbuild.workloads[0].command == "kbuild -j 52"
    swapoff = by["rfc-swapoff"]
    assert [(d.type, d.size) for d in swapoff.devices] == [("file", 32 << 30)]
    assert swapoff.workloads[0].command == "swapoff --fill 0.5 --drop-swapcache"
    assert by["zswap-no-swapfile"].devices == ()
    wb = by["zswap-writeback-off"]
    assert wb.cgroup("/wb0").knobs["memory.zswap.writeback"] == "0"  # type: ignore[union-attr]
    two = by["two-cgroups"]
    assert [c.path for c in two.cgroups] == ["/services", "/services/web", "/services/db"]


def test_example_workloads_parse_with_the_workload_parsers() -> None:
    from vswap.workloads import parse_workload

    for path in EXAMPLES:
        config = load_config(path, parse_workload=parse_workload)
        assert config.workloads, path
        for w in config.workloads:
            assert parse_workload(w.command).name == w.command.split()[0], w.command


def test_scaled_knob_values() -> None:
    config = dataclasses.replace(load_config(EXAMPLES[0]), scale=0.5)
    assert scaled_knob_value(config, "memory.max", "16G") == str(8 << 30)
    assert scaled_knob_value(config, "memory.max", "max") == "max"
    assert scaled_knob_value(config, "memory.zswap.writeback", "0") == "0"
    # Rounded down to whole pages.
    assert scaled_knob_value(config, "memory.high", "12289") == "4096"
    assert page_counter_memparse("max", "x") == MAX
