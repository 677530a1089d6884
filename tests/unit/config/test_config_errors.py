"""Every validation error path: one line naming the file, the key path and the problem."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from vswap.cli import main
from vswap.config import (
    RunConfig,
    build_machine,
    key_path,
    load_config,
    loads_config,
    parse_config,
)
from vswap.errors import ConfigError
from vswap.swap import DESIGNS

KNOWN_DESIGNS = ", ".join(DESIGNS)


def _error(text: str, **kw: object) -> str:
    with pytest.raises(ConfigError) as info:
        loads_config(text, source="config.toml", **kw)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


# (TOML text, the exact message)
EXACT = [
    ("bogus = 1", "config.toml: bogus: unknown key (known: designs, seed, scale, verify, "
                  "page_data, costs, machine, sysctl, sysfs, swap, zswap, cgroups, "
                  "workloads, swap_tiers)"),
    # cgroups: knobs the kernel does not have, has read-only, or the model lacks
    ('[cgroups."/a"]\nmemory.maxx = "1G"',
     'config.toml: cgroups."/a".memory.maxx: unknown cgroup knob; did you mean memory.max? '
     '(the kernel has: memory.max, memory.high, memory.swap.max, memory.swap.high, '
     'memory.zswap.max, memory.zswap.writeback, memory.swap.tiers.max, ...)'),
    ('[cgroups."/a"]\n"cpu.max" = "max"',
     'config.toml: cgroups."/a".cpu.max: unknown cgroup knob '
     '(the kernel has: memory.max, memory.high, memory.swap.max, memory.swap.high, '
     'memory.zswap.max, memory.zswap.writeback, memory.swap.tiers.max, ...)'),
    ('[cgroups."/a"]\nmemory.current = 0',
     'config.toml: cgroups."/a".memory.current: read-only in the kernel (settable: '
     'memory.max, memory.high, memory.swap.max, memory.swap.high, memory.zswap.max, '
     'memory.zswap.writeback, memory.swap.tiers.max)'),
    ('[cgroups."/a"]\nmemory.low = "1G"',
     'config.toml: cgroups."/a".memory.low: a kernel knob the model does not implement '
     '(settable: memory.max, memory.high, memory.swap.max, memory.swap.high, '
     'memory.zswap.max, memory.zswap.writeback, memory.swap.tiers.max)'),
    ('[cgroups."/a"]\nmemory.reclaim = "1G"',
     'config.toml: cgroups."/a".memory.reclaim: an action when written, not a setting '
     '(settable: memory.max, memory.high, memory.swap.max, memory.swap.high, '
     'memory.zswap.max, memory.zswap.writeback, memory.swap.tiers.max)'),
    # cgroups: values in kernel syntax
    ('[cgroups."/a"]\nmemory.max = "16X"',
     'config.toml: cgroups."/a".memory.max: invalid value \'16X\' (bytes with K/M/G '
     'suffix, or \'max\')'),
    ('[cgroups."/a"]\nmemory.max = "1.5G"',
     'config.toml: cgroups."/a".memory.max: invalid value \'1.5G\' (bytes with K/M/G '
     'suffix, or \'max\')'),
    ('[cgroups."/a"]\nmemory.max = true',
     'config.toml: cgroups."/a".memory.max: expected a size in kernel syntax ("16G", '
     '"max") or a byte count, got a boolean (true)'),
    ('[cgroups."/a"]\nmemory.swap.max = -1',
     'config.toml: cgroups."/a".memory.swap.max: -1 is negative'),
    ('[cgroups."/a"]\nmemory.zswap.writeback = true',
     'config.toml: cgroups."/a".memory.zswap.writeback: expected 0 or 1 (kernel syntax), '
     'got a boolean (true)'),
    ('[cgroups."/a"]\nmemory.zswap.writeback = 2',
     'config.toml: cgroups."/a".memory.zswap.writeback: expected 0 or 1 (kernel syntax), '
     'got an integer (2)'),
    # cgroups: paths
    ('[cgroups.a]\nmemory.max = "1G"',
     "config.toml: cgroups.a: a cgroup path starts with / (relative to /sys/fs/cgroup)"),
    ('[cgroups."/"]\nmemory.max = "1G"',
     'config.toml: cgroups."/": the root cgroup has no memory.max, memory.swap.max, ... '
     '(set them on a child cgroup)'),
    ('[cgroups."/a/.."]', "config.toml: cgroups.\"/a/..\": '..' is not a valid cgroup name"),
    ('[cgroups."/a"]\n[cgroups."/a/"]', 'config.toml: cgroups."/a/": /a is given twice'),
    ('cgroups = 3', "config.toml: cgroups: expected a table, got an integer (3)"),
    ('[cgroups]\n"/a" = "16G"', 'config.toml: cgroups."/a": expected a table, got a string '
                                "('16G')"),
    # designs, seed, scale, verify
    ('designs = ["clasic"]', "config.toml: designs[0]: unknown swap design 'clasic'; did you "
                             f"mean classic? (known: {KNOWN_DESIGNS})"),
    ('designs = ["vswap", "vswap"]', "config.toml: designs[1]: vswap is listed twice"),
    ('designs = []', "config.toml: designs: expected a non-empty array of design names, "
                     "got an array"),
    ('designs = [1]', "config.toml: designs[0]: expected a string, got an integer (1)"),
    ('seed = "1"', "config.toml: seed: expected an integer, got a string ('1')"),
    ('seed = -1', "config.toml: seed: -1 is outside 0..4294967295"),
    ('scale = 0', "config.toml: scale: 0 is outside (0, 1024]"),
    ('scale = "small"', "config.toml: scale: 'small' is not a number or a fraction such as "
                        "1/64"),
    ('scale = true', "config.toml: scale: expected a number or a fraction such as \"1/128\", "
                     "got a boolean (true)"),
    ('costs = 3', "config.toml: costs: expected a string, got an integer (3)"),
    ('costs = "/nonexistent/c.json"', "config.toml: costs: /nonexistent/c.json: no such file"),
    ('verify = "yes"', "config.toml: verify: expected true or false, got a string ('yes')"),
    # machine, sysctl, sysfs
    ('[machine]\nram = "3X"', "config.toml: machine.ram: cannot parse '3X' as a size "
                              "(examples: 4096, 64K, 1G)"),
    ('[machine]\nram = 4096', "config.toml: machine.ram: 4096 bytes is less than 16 pages"),
    ('[machine]\nram = 1.5', "config.toml: machine.ram: expected a size (\"64M\" or a byte "
                             "count), got a float (1.5)"),
    ('[machine]\ncpus = 0', "config.toml: machine.cpus: 0 is outside 1..4096"),
    ('[machine]\ncpus = "4"', "config.toml: machine.cpus: expected an integer, got a string "
                              "('4')"),
    ('[machine]\nmemory = "1G"', "config.toml: machine.memory: unknown key (known: ram, cpus)"),
    ('machine = []', "config.toml: machine: expected a table, got an array"),
    ('[sysctl]\nvm.swapiness = 60',
     "config.toml: sysctl.vm.swapiness: unknown sysctl; did you mean vm.swappiness? "
     "(supported: vm.swappiness, vm.page-cluster, vm.min_free_kbytes, "
     "vm.watermark_scale_factor)"),
    ('[sysctl]\nvm.swappiness = 201', "config.toml: sysctl.vm.swappiness: 201 is outside "
                                      "0..200"),
    ('[sysctl]\n"vm.page-cluster" = "3"', 'config.toml: sysctl.vm.page-cluster: expected an '
                                          "integer, got a string ('3')"),
    ('[sysfs]\n"/sys/kernel/mm/foo" = "1"',
     'config.toml: sysfs."/sys/kernel/mm/foo": unsupported sysfs knob (supported: '
     '/sys/kernel/mm/swap/vma_ra_enabled, /sys/kernel/mm/transparent_hugepage/enabled, '
     '/sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/enabled, '
     '/sys/kernel/mm/swap/discontig_swapout, /sys/kernel/mm/swap/mixed_swapin; zswap '
     'parameters go '
     'in [zswap])'),
    ('[sysfs]\n"/sys/kernel/mm/swap/vma_ra_enabled" = 1',
     'config.toml: sysfs."/sys/kernel/mm/swap/vma_ra_enabled": expected a string, got an '
     'integer (1)'),
    # swap devices
    ('[swap]\ntype = "file"', "config.toml: swap: expected an array of tables ([[swap]]), "
                              "got a table"),
    ('[[swap]]\ntype = "file"', "config.toml: swap[0].size: missing (every [[swap]] needs "
                                "type and size)"),
    ('[[swap]]\ntype = "tape"\nsize = "1G"', "config.toml: swap[0].type: 'tape' is not a "
                                             "device type (file or mem)"),
    ('[[swap]]\ntype = "mem"\nsize = "1G"\n[[swap]]\ntype = "mem"\nsize = "32K"',
     "config.toml: swap[1].size: 32768 bytes is under 10 pages, too small for a swap area"),
    ('[[swap]]\ntype = "mem"\nsize = "1G"\npriority = 40000',
     "config.toml: swap[0].priority: 40000 is outside 0..32767"),
    ('[[swap]]\ntype = "mem"\nsize = "1G"\nkind = "floppy"',
     "config.toml: swap[0].kind: unknown device kind 'floppy' (known: hdd, nvme, pmem, "
     "remote, ssd, zram)"),
    ('[[swap]]\ntype = "mem"\nsize = "1G"\npath = "/swapfile"',
     "config.toml: swap[0].path: only a file device has a path"),
    ('[[swap]]\ntype = "file"\nsize = "1G"\npath = "/s"\n'
     '[[swap]]\ntype = "file"\nsize = "1G"\npath = "/s"',
     "config.toml: swap[1].path: /s is already a swap device"),
    ('[[swap]]\ntype = "mem"\nsize = "1G"\nlabel = "a-label-that-is-too-long"',
     "config.toml: swap[0].label: a swap label holds at most 16 bytes"),
    ('[[swap]]\ntype = "mem"\nsize = "1G"\nprio = 5',
     "config.toml: swap[0].prio: unknown key; did you mean priority? (known: type, size, "
     "priority, kind, path, label)"),
    ('swap = ["mem:1G"]', "config.toml: swap[0]: expected a table, got a string ('mem:1G')"),
    # zswap
    ('[zswap]\nmax_pool_percent = 120', "config.toml: zswap.max_pool_percent: 120 is outside "
                                        "0..100"),
    ('[zswap]\nenabled = "Y"', "config.toml: zswap.enabled: expected true or false, got a "
                               "string ('Y')"),
    ('[zswap]\nzpool = "zsmalloc"',
     "config.toml: zswap.zpool: unknown zswap parameter (known: enabled, compressor, "
     "max_pool_percent, accept_threshold_percent, shrinker_enabled, writeback_batch_size, "
     "writeback_compressed)"),
    ('[zswap]\nwriteback_batch_size = 0', "config.toml: zswap.writeback_batch_size: 0 is "
                                          "outside 1..512"),
    # workloads
    ('[[workloads]]\ncgroup = "/a"', "config.toml: workloads[0].command: missing (the "
                                     "workload's command line, e.g. \"usemem -n 4 -O 64M\")"),
    ('[[workloads]]\ncommand = "  "', "config.toml: workloads[0].command: empty command line"),
    ('[[workloads]]\ncommand = "usemem \'1G"', "config.toml: workloads[0].command: cannot "
                                               "split \"usemem '1G\": No closing quotation"),
    ('[[workloads]]\ncommand = "memhog 1G"\ncgroup = "/nope"',
     "config.toml: workloads[0].cgroup: /nope is not declared in [cgroups] (declared: /)"),
    ('[[workloads]]\ncommand = "memhog 1G"\nrepeat = 2',
     "config.toml: workloads[0].repeat: unknown key (known: cgroup, command)"),
    ('workloads = "memhog 1G"', "config.toml: workloads: expected an array of tables "
                                "([[workloads]]), got a string ('memhog 1G')"),
]


@pytest.mark.parametrize("text, message", EXACT, ids=[m.split(": ")[1] for _, m in EXACT])
def test_validation_error(text: str, message: str) -> None:
    assert _error(text) == message


def test_compressor_not_available() -> None:
    message = _error('[zswap]\ncompressor = "lz5"')
    assert message.startswith("config.toml: zswap.compressor: compressor lz5 not available "
                              "(not a kernel compressor name); available: ")


def test_not_toml() -> None:
    assert _error("designs = [").startswith("config.toml: not valid TOML: ")


def test_workload_parser_errors_are_prefixed_with_the_key() -> None:
    def parse(command: str) -> None:
        raise ConfigError(f"unknown workload {command.split()[0]!r}")

    assert _error('[[workloads]]\ncommand = "nosuch -x"', parse_workload=parse) == (
        "config.toml: workloads[0].command: unknown workload 'nosuch'")


def test_quoted_and_dotted_knobs_are_the_same_knob() -> None:
    a = loads_config('[cgroups."/a"]\nmemory.swap.max = "1G"')
    b = loads_config('[cgroups."/a"]\n"memory.swap.max" = "1G"')
    assert a.cgroups == b.cgroups
    assert a.cgroups[0].knobs == {"memory.swap.max": "1G"}
    assert _error('[cgroups."/a"]\n"memory.swap.maxx" = 1').startswith(
        'config.toml: cgroups."/a".memory.swap.maxx: unknown cgroup knob')


def test_workload_may_run_in_an_implicit_parent() -> None:
    config = loads_config('[cgroups."/a/b"]\nmemory.max = "1G"\n'
                          '[[workloads]]\ncgroup = "/a/"\ncommand = "memhog 1G"')
    assert config.workloads[0].cgroup == "/a"


def test_defaults() -> None:
    config = parse_config({})
    assert config == RunConfig(source="config")
    assert config.designs == ("classic", "vswap") and config.zswap is None
    assert config.machine.ram == 1 << 30


def test_key_path_spelling() -> None:
    assert key_path("cgroups", "/a", "memory", "max") == 'cgroups."/a".memory.max'
    assert key_path("swap", 1, "size") == "swap[1].size"
    assert key_path('we"ird') == '"we\\"ird"'


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing.toml: no such file$"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match=r"a directory, not a regular file$"):
        load_config(tmp_path)
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match=r"bin.toml: not UTF-8 text \(byte 0\)$"):
        load_config(tmp_path / "bin.toml")
    # Neither blocks nor reads for ever (issue 17).
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(ConfigError, match=r"fifo: a FIFO, not a regular file$"):
        load_config(tmp_path / "fifo")
    with pytest.raises(ConfigError, match=r"/dev/zero: a character device, not a regular"):
        load_config("/dev/zero")
    (tmp_path / "c.toml").write_text('designs = ["x"]')
    with pytest.raises(ConfigError, match=rf"^{tmp_path}/c.toml: designs\[0\]: unknown"):
        load_config(tmp_path / "c.toml")


# -- errors only the build can see (they depend on the scale) --------------------------------
def _build_error(text: str, design: str = "classic", scale: float = 1.0) -> str:
    config = dataclasses.replace(loads_config(text, source="config.toml"), scale=scale)
    with pytest.raises(ConfigError) as info:
        build_machine(config, design)
    assert "\n" not in str(info.value)
    return str(info.value)


def test_build_errors() -> None:
    assert _build_error("", design="nosuch") == (
        f"config.toml: unknown swap design 'nosuch' (known: {KNOWN_DESIGNS})")
    assert _build_error('[machine]\nram = "8M"', scale=1 / 64) == (
        "config.toml: machine.ram: 128K at scale 1/64: ram=131072 too small for its "
        "watermarks (min_free_kbytes=128)")
    assert _build_error('[machine]\nram = "1M"', scale=1 / 64) == (
        "config.toml: machine.ram: 16K at scale 1/64: ram=16384 is not a whole number "
        "of pages >= 16")
    assert _build_error('[[swap]]\ntype = "mem"\nsize = "1M"', scale=1 / 64) == (
        "config.toml: swap[0].size: 1M at scale 1/64 is 4 pages; a swap area needs at "
        "least 10")
    message = _build_error('[[swap]]\ntype = "file"\nsize = "1M"\npath = "/proc/nope/swap"')
    assert message.startswith("config.toml: swap[0].path: /proc/nope/swap: ")
    message = _build_error('[sysfs]\n"/sys/kernel/mm/transparent_hugepage/enabled" = "often"')
    assert message.startswith('config.toml: sysfs."/sys/kernel/mm/transparent_hugepage/'
                              'enabled": EINVAL')


def test_build_two_mem_devices_of_one_size_and_file_devices(tmp_path: Path) -> None:
    text = ('[[swap]]\ntype = "mem"\nsize = "1M"\n[[swap]]\ntype = "mem"\nsize = "1M"\n'
            f'[[swap]]\ntype = "file"\nsize = "1M"\npath = "{tmp_path}/swapfile"\n'
            'priority = 7\nlabel = "mine"\n'
            '[[swap]]\ntype = "file"\nsize = "1M"\nkind = "hdd"\n')
    m = build_machine(loads_config(text), "vswap", workdir=tmp_path)
    names = [d["Filename"] for d in m.swaps()]
    assert names[:3] == ["mem:1M", "mem:1M#1", f"{tmp_path}/swapfile"]
    assert m.swaps()[2]["Priority"] == 7
    assert (tmp_path / "swapfile").read_bytes()[4096 - 10:4096] == b"SWAPSPACE2"
    # The unnamed file device was made in the workdir and unlinked once open.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["swapfile"]
    hdd = list(m.design.devices.devices())[3]
    assert not hdd.flags & 0x10  # SWP_SOLIDSTATE: a rotational kind


def test_cli_run_commands_report_config_errors_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The config errors reach the user as one ``vswap: error:`` line (through any command
    that raises them; ``stat`` is used here because it is ours)."""
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["stat", str(bad)]) == 2
    assert capsys.readouterr().err == f"vswap: error: {bad}: not a vswap result file\n"
