"""Bad input everywhere: fuzz the parsers and the command line (Hypothesis).

Every bad input must end in a one-line error and a non-zero exit (the CLI), or in the
documented exception (the library parsers: ``ConfigError`` for sizes, ``KernelError`` for
cgroup files and swap headers), never in a traceback of another kind.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import hostile

from vswap.cli import build_parser, main
from vswap.errors import ConfigError
from vswap.kernel.errors import KernelError
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.machine import Machine, MachineConfig
from vswap.swap.swap_area import parse_swap_header
from vswap.units import parse_size

GARBAGE = ["", " ", "-1", "abc", "1Q", "nan", "inf", "-0.5", "\x00", "9" * 40, "0x10",
           "1.5.2", "é", "classic,nope", "max max", "--", "-", "/nonexistent/dir/file",
           "1e99", "64K,", ",", "=", "none"]
garbage_st = st.one_of(st.sampled_from(GARBAGE), st.text(max_size=6))


@given(st.one_of(garbage_st, st.from_regex(r"\s*[0-9]{0,20}(\.[0-9]{0,3})?\s*[kmgtpKMGTPx]?"
                                           r"(i?[bB])?\s*", fullmatch=True)))
def test_parse_size_gives_a_size_or_config_error(text: str) -> None:
    try:
        v = parse_size(text)
    except ConfigError as exc:
        assert len(str(exc).splitlines()) == 1
        return
    assert isinstance(v, int) and v >= 0


_MACHINE = Machine(MachineConfig(ram=4 << 20, design="classic"))
_MACHINE.create_cgroup("/f")
CG_FILES = ["memory.max", "memory.high", "memory.low", "memory.min", "memory.swap.max",
            "memory.swap.high", "memory.zswap.max", "memory.zswap.writeback",
            "memory.reclaim", "memory.oom.group", "memory.current", "memory.stat",
            "memory.nope", "", "../memory.max"]


@settings(max_examples=200, deadline=None)
@given(name=st.sampled_from(CG_FILES), value=st.one_of(garbage_st, st.sampled_from(
    ["max", "0", "4096", "64K", "1M swappiness=max", "1M swappiness=201", "1 2", "-4K"])))
def test_cgroup_write_accepts_or_raises_kernel_error(name: str, value: str) -> None:
    m = _MACHINE
    try:
        m.cgroup_write("/f", name, value)
    except KernelError as exc:
        assert "\n" not in str(exc)
    m.check_invariants()


@settings(max_examples=200, deadline=None)
@given(page=st.binary(max_size=PAGE_SIZE), tail=st.booleans(),
       pages=st.one_of(st.none(), st.integers(0, 1 << 20)), regular=st.booleans())
def test_parse_swap_header_decodes_or_raises_kernel_error(page: bytes, tail: bool,
                                                         pages: int | None,
                                                         regular: bool) -> None:
    if tail:   # make the signature check pass more often, so later checks are reached
        page = page.ljust(PAGE_SIZE, b"\0")[:PAGE_SIZE - 10] + b"SWAPSPACE2"
    try:
        h = parse_swap_header(page, file_pages=pages, name="fuzz", regular_file=regular)
    except KernelError as exc:
        assert str(exc).startswith("EINVAL")
        return
    assert h.last_page > 0


def _options(sub: str) -> list[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    p = subparsers.choices[sub]
    return [s for a in p._actions for s in a.option_strings
            if a.nargs != 0 and s.startswith("--") and s != "--help"]


#: Subcommands fuzzed here (the listed ones that exist), each with at least one bad value.
SUBCOMMANDS = [s for s in ("mkswap", "swapinfo", "metadata", "demo", "soak", "run",
                           "compare", "stat", "plot")
               if s in build_parser()._actions[-1].choices]  # type: ignore[attr-defined]


def _run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    out = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 2
    return rc, err.getvalue()


#: Options put before the drawn ones for the subcommands that run a workload: an input they
#: accept (``--json 1Q`` names a file) then runs a small workload (hostile.SMALL, as the
#: hostile corpus does), not the default one (``compare`` ran the default on all eight
#: designs for each such input: 219 CPU-seconds under coverage). A drawn option given again
#: replaces the value (argparse keeps the last; a second --swap-device adds a device), so
#: every option is still fuzzed.
SMALL_RUN = {"run": hostile.SMALL, "compare": hostile.SMALL}


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_cli_bad_input_is_one_line_error(sub: str, tmp_path: os.PathLike[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    opts = _options(sub)

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        argv = [sub, *SMALL_RUN.get(sub, [])]
        if opts:
            argv += [data.draw(st.sampled_from(opts)), data.draw(st.sampled_from(GARBAGE[2:]))]
        argv += data.draw(st.lists(st.one_of(garbage_st, st.sampled_from(opts or ["x"])),
                                   max_size=4))
        rc, err = _run_cli(argv)
        if rc == 0:
            return
        lines = err.splitlines()
        assert len(lines) == 1 and lines[0].startswith("vswap: error:"), (argv, err)

    fuzz()


def test_cli_unknown_command_and_no_command() -> None:
    rc, err = _run_cli(["nope"])
    assert rc == 2 and err.startswith("vswap: error:") and len(err.splitlines()) == 1
    rc, err = _run_cli(["soak"])
    assert rc == 2 and err.startswith("vswap: error:")
    rc, err = _run_cli(["soak", "--minutes", "0"])
    assert rc == 2 and err.startswith("vswap: error: --minutes")
    rc, err = _run_cli(["soak", "--minutes", "1", "--design", "bogus"])
    assert rc == 2 and "unknown swap design" in err


def test_cli_error_with_line_break_in_file_name_is_one_line() -> None:
    """Regression: a missing file whose name holds a line break (``\\x85``, ``\\n``) gave a
    two-line error."""
    for name in ("\x85", "a\nb", "x\u2028y"):
        rc, err = _run_cli(["swapinfo", name])
        assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("vswap: error:")


def test_cli_negative_jobs_is_one_line_error() -> None:
    """Regression: ``compare --jobs -1`` ended in a ValueError traceback from the process
    pool."""
    if "compare" not in SUBCOMMANDS:
        pytest.skip("no compare command")
    rc, err = _run_cli(["compare", "--jobs", "-1"])
    assert rc != 0 and len(err.splitlines()) == 1 and err.startswith("vswap: error:")


def test_cli_stops_quietly_when_its_reader_goes_away() -> None:
    """``vswap ... | head``: stdout's reader closes the pipe before the command has
    written; the command stops with the SIGPIPE status (141), no error line, no
    traceback (it printed ``vswap: error: [Errno 32] Broken pipe`` and exited 2)."""
    import subprocess
    import sys

    r, w = os.pipe()
    os.close(r)  # the reader is gone before the first write
    try:
        proc = subprocess.run([sys.executable, "-m", "vswap", "metadata", "--json"],
                              stdout=w, stderr=subprocess.PIPE, timeout=120, check=False)
    finally:
        os.close(w)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == b""
