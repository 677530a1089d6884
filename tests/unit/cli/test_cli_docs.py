"""The docs match the code: every command and flag docs/cli.md names exists (and every flag
a command has is documented in its section), every configuration key docs/config.md lists
is one the loader accepts (and every key it accepts is listed), and the README's command
synopses use real flags."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from vswap.cli import build_parser
from vswap.config import SETTABLE_KNOBS, SYSCTLS, build_machine, loads_config
from vswap.config.loader import (
    _DEVICE_KEYS,
    _MACHINE_KEYS,
    _TIER_KEYS,
    _TOP_KEYS,
    _WORKLOAD_KEYS,
    _ZSWAP_KEYS,
)
from vswap.config.spec import SYSFS_KNOBS
from vswap.workloads import WORKLOADS

DOCS = Path(__file__).resolve().parents[3] / "docs"
README = DOCS.parent / "README.md"
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*)")


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _flags(p: argparse.ArgumentParser) -> set[str]:
    """A command's flags, its sub-subcommands' included (``host run --cpus``)."""
    out = {o for a in p._actions for o in a.option_strings
           if o.startswith("--") and o != "--help"}
    for a in p._actions:
        if isinstance(a, argparse._SubParsersAction):
            out |= set().union(*(_flags(sp) for sp in a.choices.values()))
    return out


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _cli_docs() -> dict[str, str]:
    """Command -> the text that documents it: its section of cli.md, or the page cli.md's
    command table links it to (``host`` -> docs/host.md)."""
    text = (DOCS / "cli.md").read_text()
    out: dict[str, str] = {}
    for title, body in _sections(text).items():
        for c in title.split(", "):
            out[c.split()[0]] = out.get(c.split()[0], "") + body
    for names, target in re.findall(r"^\| (\[.+?\])\(([a-z-]+\.md)\) \|", text,
                                    flags=re.MULTILINE):
        for name in re.findall(r"`([a-z]+)", names):
            out[name] = (DOCS / target).read_text()
    return out


def test_every_command_in_cli_md_exists() -> None:
    text = (DOCS / "cli.md").read_text()
    commands = _commands()
    named = set(re.findall(r"`vswap ([a-z]+)", text)) | set(
        re.findall(r"^vswap ([a-z]+)", text, flags=re.MULTILINE))
    assert named <= set(commands), named - set(commands)
    assert set(_cli_docs()) == set(commands), "every command is documented, and only those"


def _workload_flags() -> set[str]:
    """The workloads' own options (``usemem -s``, ``kbuild --heap``), which the run
    commands' docs quote inside workload command lines."""
    return set().union(*(_flags(w.parser()) for w in WORKLOADS.values()))


def test_every_flag_in_cli_md_exists_and_every_flag_is_documented() -> None:
    commands = _commands()
    real = _workload_flags().union(*(_flags(p) for p in commands.values()))
    for name, body in _cli_docs().items():
        said = set(FLAG.findall(body))
        assert said <= real, (name, sorted(said - real))
        assert _flags(commands[name]) <= said, (name, sorted(_flags(commands[name]) - said))


def test_readme_synopses_use_real_flags() -> None:
    commands = _commands()
    for line in README.read_text().splitlines():
        m = re.match(r"\| `vswap ([a-z]+)([^|]*)` \|", line)
        if m is None:
            continue
        flags = set(FLAG.findall(m.group(2).replace("\\|", "|")))
        assert flags <= _flags(commands[m.group(1)]), (m.group(1), flags)


def _table_keys(section: str) -> list[str]:
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)


def test_every_config_key_in_config_md_is_accepted() -> None:
    text = (DOCS / "config.md").read_text()
    sections = _sections(text)
    assert set(_table_keys(sections["Top-level keys"])) == set(_TOP_KEYS) - {
        "machine", "sysctl", "sysfs", "swap", "zswap", "cgroups", "workloads", "swap_tiers"}
    assert set(_table_keys(sections["`[swap_tiers]`"])) == set(_TIER_KEYS)
    assert set(_table_keys(sections["`[machine]`"])) == set(_MACHINE_KEYS)
    assert set(_table_keys(sections["`[[swap]]`: devices"])) == set(_DEVICE_KEYS)
    assert set(_table_keys(sections["`[[workloads]]`"])) == set(_WORKLOAD_KEYS)
    zswap = re.findall(r"`([a-z_]+)` \(", sections["`[zswap]`"])
    assert set(zswap) == set(_ZSWAP_KEYS)
    sysctl = re.findall(r"`(vm\.[a-z_-]+)` \(", sections["`[sysctl]`"])
    assert set(sysctl) == set(SYSCTLS)
    sysfs = re.findall(r"`(/sys/[^`]+)`", sections["`[sysfs]`"])
    assert set(sysfs) == set(SYSFS_KNOBS)
    knobs = _table_keys(sections['`[cgroups."PATH"]`'])
    assert knobs == list(SETTABLE_KNOBS)


def test_the_config_md_example_loads_and_builds() -> None:
    text = (DOCS / "config.md").read_text()
    example = re.search(r"```toml\n(.*?)```", text, flags=re.DOTALL)
    assert example is not None
    config = loads_config(example.group(1), source="docs/config.md")
    assert config.devices and config.zswap is not None and config.workloads
    config = type(config)(**{**config.__dict__, "scale": 1 / 1024})
    for design in config.designs:
        assert build_machine(config, design).config.design == design
