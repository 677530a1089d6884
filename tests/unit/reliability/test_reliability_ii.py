"""Reliability II (issue 17): every bad input one line, nothing destroyed, every loss visible.

The hostile corpus (:mod:`hostile`) runs in-process, each input under an alarm so a
regression that hangs fails instead of stalling the suite; then the checks that must see
every failure (a folio freed locked, a page the oracle has no record of, usemem's own
check, the soak's counts and statuses), the exit statuses, mkswap's care, atomic writes,
and Hypothesis over arguments and files of every kind the commands read.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
import hostile

from vswap.cli import main
from vswap.errors import ConfigError
from vswap.kernel.errors import DataLossError, KernelError
from vswap.kernel.folio import Folio
from vswap.kernel.types import PAGE_SIZE
from vswap.mm.checks import BadPageError, check_folio_free
from vswap.mm.integrity import PageOracle
from vswap.report.result import load_results, save_results
from vswap.swap.swap_area import escape_label, mkswap, swap_header_from_file
from vswap.units import MAX_SIZE, parse_size


class _Hang(Exception):
    pass


def _run_cli(argv: list[str], timeout: int = 60) -> tuple[int, str, str]:
    """``vswap ARGV`` in-process: (status, stdout, stderr); an escaping exception is a test
    failure (a traceback a user would see), a run over ``timeout`` seconds a hang."""
    out, err = io.StringIO(), io.StringIO()

    def alarm(signum: int, frame: object) -> None:
        raise _Hang(" ".join(argv)[:200])

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(timeout)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as exc:
                rc = exc.code if isinstance(exc.code, int) else 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return rc, out.getvalue(), err.getvalue()


def _assert_well_formed(rc: int, err: str, argv: list[str]) -> None:
    lines = err.splitlines()
    prefix = {2: "vswap: error: ", 3: "vswap: ", 4: "vswap: OOM: "}.get(rc)
    if prefix is not None:
        assert len(lines) >= 1 and lines[-1].startswith(prefix), (argv, err)
    if rc == 2:
        assert len(lines) == 1, (argv, err)


# -- the hostile corpus --------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    d = tmp_path_factory.mktemp("hostile")
    hostile.prepare(d)
    yield d
    os.chmod(d / "ro", stat.S_IRWXU)


#: Inputs that start processes or run for seconds: the subprocess runner covers them.
_SLOW = ("compare", "soak --minutes 0.005")


@pytest.mark.parametrize("argv, expected", [
    (a, e) for a, e in hostile.INPUTS if not " ".join(a).startswith(_SLOW)],
    ids=lambda v: " ".join(v)[:60] if isinstance(v, list) else None)
def test_hostile_input(corpus_dir: Path, argv: list[str], expected: tuple[int, ...],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(corpus_dir)
    args = hostile.expand(argv, corpus_dir)
    rc, _out, err = _run_cli(args)
    assert rc in expected, (args, rc, err)
    _assert_well_formed(rc, err, args)
    if rc == 0 and "--json" in args and args[0] == "run":
        (r,) = load_results(args[args.index("--json") + 1])
        assert r.data_loss == 0 and r.tasks_killed == 0


def test_hostile_inputs_destroyed_nothing(corpus_dir: Path) -> None:
    """Runs after the corpus: what mkswap and the config were refused kept every byte."""
    assert (corpus_dir / "data.txt").read_text() == "precious data\n"
    assert (corpus_dir / "keep.txt").read_text() == "keep me\n"
    assert (corpus_dir / "ext4.img").read_bytes()[0x438:0x43A] == b"\x53\xef"
    assert swap_header_from_file(corpus_dir / "old-swap").label == "old"
    assert os.path.islink(corpus_dir / "link")
    assert not [p for p in corpus_dir.iterdir() if p.name.startswith(".")], "temp files left"


# -- exit statuses ---------------------------------------------------------------------------

def test_oom_killed_workload_exits_4_with_a_line_saying_so(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    rc, _, err = _run_cli(["run", "--workload", "usemem -n 1 8M", "--memory-max", "1M",
                           "--swap-device", "none", "--json", str(out)])
    assert rc == 4 and err.startswith("vswap: OOM: classic: 1 task of 'usemem -n 1 8M' "
                                       "killed (/bench oom_kill 1)")
    (r,) = load_results(out)  # the result is still written
    assert r.tasks_killed == 1


def _corrupt_third_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from vswap.mm.machine import Machine

    orig = Machine.read
    calls = [0]

    def read(self: Machine, task: object, addr: int, length: int) -> bytes:
        data = orig(self, task, addr, length)  # type: ignore[arg-type]
        calls[0] += 1
        return b"\x01" + data[1:] if calls[0] == 3 else data

    monkeypatch.setattr(Machine, "read", read)


@pytest.mark.parametrize("flag", ["-r 2", "-Z"])
def test_usemem_check_reports_a_loss_and_run_exits_3(tmp_path: Path, flag: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """usemem's own check sees a word the machine handed back wrong (the oracle cannot: the
    page itself is intact), and ``vswap run`` exits 3 on it."""
    _corrupt_third_read(monkeypatch)
    out = tmp_path / "r.json"
    rc, _stdout, err = _run_cli(["run", "--workload", f"usemem -n 1 {flag} 2M",
                                "--swap-device", "file:8M", "--memory-max", "1M",
                                "--json", str(out)])
    assert rc == 3 and err == "vswap: DATA LOSS: read back wrong: classic: 1 pages\n"
    (r,) = load_results(out)
    assert r.data_loss == 1 and r.verified_pages > 0
    assert any(line.startswith("Data wrong at offset 0x") and "got 0x" in line
               for line in r.report)


def test_bench_rfc_empty_table_is_an_error() -> None:
    rc, _, err = _run_cli(["bench", "rfc", "--table", ","])
    assert rc == 2 and err.startswith("vswap: error: --table: no table given")


# -- checks that see everything --------------------------------------------------------------

def test_a_folio_freed_locked_or_referenced_is_a_bad_page() -> None:
    f = Folio(0)
    check_folio_free(f)
    for flag, value in (("locked", True), ("writeback", True), ("swapcache", True),
                        ("mapcount", 1), ("mm_pins", 2)):
        g = Folio(0)
        setattr(g, flag, value)
        with pytest.raises(BadPageError, match="Bad page state"):
            check_folio_free(g)


def test_machine_free_folio_checks_the_folio(monkeypatch: pytest.MonkeyPatch) -> None:
    """A planted bug of the issue: the read-error path leaving a folio locked is caught where
    the folio is freed."""
    from vswap.mm.machine import Machine, MachineConfig

    m = Machine(MachineConfig(ram=4 << 20, design="classic"))
    t = m.spawn("t")
    addr = m.mmap(t, 4 * PAGE_SIZE)
    m.write(t, addr, b"x" * PAGE_SIZE)
    (folio,) = [f for lv in m.lruvecs.values() for f in (*lv.inactive, *lv.active)]
    folio.locked = True
    with pytest.raises(BadPageError, match="locked"):
        m.munmap(t, addr, 4 * PAGE_SIZE)


def test_oracle_fails_on_a_page_it_has_no_record_of() -> None:
    o = PageOracle()
    f = Folio(0, b"\x07" * PAGE_SIZE)
    f.swap = 0x42
    o.record_folio(f)
    o.verify(f, 0, 0x42, None, 1, "test")
    assert o.stats.checked == 1
    with pytest.raises(DataLossError, match="no record"):
        o.verify(f, 0, 0x43, None, 1, "test")
    assert o.stats.unverified == 1 and o.stats.checked == 1


def test_soak_survived_is_counted_from_checks_that_passed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from vswap import reliability

    r = reliability.soak("classic", seconds=0.3, seed=3)
    assert not r.failure and sum(r.injected.values()) > 0
    assert r.survived == r.injected, "every machine ended with a passing check"
    calls = [0]
    orig = reliability.Harness.check

    def failing_after_faults(self: reliability.Harness) -> None:
        calls[0] += 1
        if calls[0] > 3 and sum(self.faults.statistics().injected.values()) > sum(
                self.survived.values()):
            raise reliability.HarnessError("planted: a check failed")
        orig(self)

    monkeypatch.setattr(reliability.Harness, "check", failing_after_faults)
    r = reliability.soak("classic", seconds=5, seed=3)
    assert r.failure_kind == "other"
    assert sum(r.survived.values()) < sum(r.injected.values())


@pytest.mark.parametrize("exc, status, line", [
    ("loss", 3, "vswap: DATA LOSS on classic: "),
    ("leak", 3, "vswap: LEAK on classic: "),
    ("other", 1, "vswap: soak FAILED on classic: "),
])
def test_soak_status_says_what_failed(exc: str, status: int, line: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from vswap import reliability
    from vswap.mm.checks import LeakError

    error = {"loss": reliability.HarnessDataLoss("page 3: wrong bytes"),
             "leak": LeakError("1 slot left"), "other": reliability.HarnessError("odd")}[exc]

    def check(self: reliability.Harness) -> None:
        raise error

    monkeypatch.setattr(reliability.Harness, "check", check)
    rc, _, err = _run_cli(["soak", "--minutes", "0.002", "--design", "classic"])
    assert rc == status and err.startswith(line)


# -- mkswap ------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, found", [
    (b"hello", "non-zero bytes (the first at offset 0)"),
    (bytes(5000) + b"\x01", "non-zero bytes (the first at offset 5000)"),
    (bytes(0x438) + b"\x53\xef" + bytes(100), "an ext2/3/4 filesystem signature"),
    (b"XFSB" + bytes(100), "an XFS filesystem signature"),
])
def test_mkswap_refuses_a_file_holding_data(tmp_path: Path, content: bytes,
                                            found: str) -> None:
    f = tmp_path / "f"
    f.write_bytes(content)
    with pytest.raises(KernelError, match=re.escape(f"holds {found}")) as exc:
        mkswap(f, 64 << 10)
    assert "EEXIST" in str(exc.value) and f.read_bytes() == content
    mkswap(f, 64 << 10, force=True)
    assert swap_header_from_file(f).last_page == 15


def test_mkswap_refuses_an_existing_swap_area_and_links(tmp_path: Path) -> None:
    f = tmp_path / "swap"
    mkswap(f, 64 << 10, label="mine")
    with pytest.raises(KernelError, match=r"holds a swap signature \(label 'mine'\)"):
        mkswap(f, 64 << 10)
    (tmp_path / "link").symlink_to(f)
    with pytest.raises(KernelError, match="a symbolic link"):
        mkswap(tmp_path / "link", 64 << 10, force=True)
    with pytest.raises(KernelError, match="a directory"):
        mkswap(tmp_path, 64 << 10, force=True)
    # Empty and all-zero files hold nothing to lose.
    (tmp_path / "zero").write_bytes(bytes(1 << 20))
    mkswap(tmp_path / "zero", 64 << 10)
    assert swap_header_from_file(tmp_path / "zero").nr_pages == 16


def test_mkswap_that_fails_leaves_the_file_as_it_was(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "f"
    f.write_bytes(b"old contents")

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(OSError):
        mkswap(f, 64 << 10, force=True)
    assert f.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["f"], "no temporary file left"


def test_labels_are_printed_escaped(tmp_path: Path) -> None:
    assert escape_label("a\nb\x1b[2J\\") == "a\\x0ab\\x1b[2J\\\\"
    assert escape_label("\udcff") == "\\xff"
    f = tmp_path / "s"
    rc, out, _ = _run_cli(["mkswap", str(f), "--size", "64K", "--label", "x\nLABEL=forged"])
    assert rc == 0 and out.splitlines()[1].startswith("LABEL=x\\x0aLABEL=forged, UUID=")
    rc, out, _ = _run_cli(["swapinfo", str(f)])
    assert rc == 0 and "label:       x\\x0aLABEL=forged\n" in out
    assert len(out.splitlines()) == 8


# -- atomic writes -----------------------------------------------------------------------------

def test_a_failed_result_write_keeps_the_old_file_and_says_where(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vswap.report.result import RunResult

    out = tmp_path / "r.json"
    save_results(out, [RunResult("classic", "usemem 1M", 1)])
    before = out.read_bytes()

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(ConfigError, match=r"--json .*r.json: could not write the result "
                                          r"there: No space left on device"):
        save_results(out, [RunResult("vswap", "usemem 1M", 1)])
    monkeypatch.undo()
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    with pytest.raises(ConfigError, match="/dev/full: a character device, not a regular"):
        save_results("/dev/full", [RunResult("vswap", "usemem 1M", 1)])


# -- Hypothesis: numbers of any length, arguments and files of every kind ----------------------

@given(st.text(alphabet="0123456789", min_size=1, max_size=600),
       st.sampled_from(["", "K", "M", "G", "T", "P", "KiB"]))
def test_parse_size_of_any_length_is_exact_or_refused(digits: str, suffix: str) -> None:
    try:
        v = parse_size(digits + suffix)
    except ConfigError as exc:
        assert "\n" not in str(exc)
        mult = {"": 1, "K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "G": 1 << 30,
                "T": 1 << 40, "P": 1 << 50}[suffix]
        assert len(digits) > 64 - len(suffix) or int(digits) * mult > MAX_SIZE
        return
    mult = {"": 1, "K": 1 << 10, "KiB": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40,
            "P": 1 << 50}[suffix]
    assert v == int(digits) * mult <= MAX_SIZE


_NUMBERS = st.one_of(
    st.integers().map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(alphabet="0123456789", min_size=1, max_size=400),
    st.sampled_from(["nan", "inf", "-inf", "1e-99999999", "1/3", "1e308", "0x10", "-0"]))


@settings(max_examples=40, deadline=None)
@given(opt=st.sampled_from([["metadata", "--usage"], ["metadata", "--swap-size"],
                            ["demo", "--pages"], ["demo", "--seed"], ["demo", "--swap-size"],
                            ["soak", "--minutes"], ["soak", "--seed"],
                            ["bench", "rfc", "--kbuild-jobs"], ["bench", "rfc", "--seed"],
                            ["bench", "rfc", "--scale"], ["run", "--cpus"],
                            ["run", "--seed"], ["run", "--scale"], ["run", "--memory-max"],
                            ["compare", "--jobs"]]),
       value=_NUMBERS)
def test_numeric_options_take_numbers_of_any_length(opt: list[str], value: str) -> None:
    """Every numeric option with a number of any length: refused in one line, or (for the
    cheap commands, where a value in range runs) a well-formed result. The run commands
    get an impossible --swap-device after the value so that no accepted value runs."""
    tail = {"metadata": ["--json"], "demo": ["--design", ","], "soak": ["--design", ","],
            "bench": ["--table", ","], "run": ["--swap-device", "tape:1G"],
            "compare": ["--swap-device", "tape:1G"]}[opt[0]]
    argv = [*opt, value, *tail]
    rc, out, err = _run_cli(argv, timeout=30)
    assert rc in (0, 2), (argv, err)
    _assert_well_formed(rc, err, argv)
    if rc == 0:
        assert opt[0] == "metadata"
        data = json.loads(out)
        assert data["backends"] and data["swap_size_bytes"] > 0


_RESULT_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 1 << 40), st.floats(allow_nan=False),
              st.text(max_size=5)),
    lambda kids: st.one_of(st.lists(kids, max_size=3),
                           st.dictionaries(st.text(max_size=8), kids, max_size=3)),
    max_leaves=8)


@pytest.fixture(scope="module")
def good_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("good") / "r.json"
    rc, _, err = _run_cli(["run", *hostile.SMALL, "--memory-max", "2M", "--zswap", "lz4",
                           "--json", str(out)])
    assert rc == 0, err
    data: dict[str, object] = json.loads(out.read_text())
    return data


def _changed_result(good_result: dict[str, object], data: st.DataObject
                    ) -> dict[str, object]:
    doc = json.loads(json.dumps(good_result))
    node = doc["runs"][0]
    for _ in range(data.draw(st.integers(1, 3))):
        if not isinstance(node, dict) or not node:
            break
        key = data.draw(st.sampled_from(sorted(node)))
        if data.draw(st.booleans()) or not isinstance(node[key], dict | list):
            node[key] = data.draw(_RESULT_VALUES)
            break
        node = node[key] if isinstance(node[key], dict) else {}
    return doc


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_stat_on_result_files_with_any_field_changed(
        good_result: dict[str, object], tmp_path_factory: pytest.TempPathFactory,
        data: st.DataObject) -> None:
    """A result file with one field (at any depth) replaced by any JSON value: stat prints
    it or refuses it in one line naming the file; never a traceback."""
    _check_readers(_changed_result(good_result, data), tmp_path_factory,
                   ["stat", "{f}"], ["stat", "{f}", "--table"],
                   ["stat", "{f}", "--at", "peak"])


@settings(max_examples=6, deadline=None)
@given(data=st.data())
def test_plot_on_result_files_with_any_field_changed(
        good_result: dict[str, object], tmp_path_factory: pytest.TempPathFactory,
        data: st.DataObject) -> None:
    """The same for plot (few examples: drawing costs most of a second)."""
    _check_readers(_changed_result(good_result, data), tmp_path_factory,
                   ["plot", "{f}", "--out", "{d}"])


def _check_readers(doc: dict[str, object], tmp_path_factory: pytest.TempPathFactory,
                   *argvs: list[str]) -> None:
    f = tmp_path_factory.mktemp("r") / "r.json"
    f.write_text(json.dumps(doc))
    for template in argvs:
        argv = [a.replace("{f}", str(f)).replace("{d}", str(f.parent)) for a in template]
        rc, _out, err = _run_cli(argv, timeout=60)
        assert rc in (0, 2), (argv, err)
        _assert_well_formed(rc, err, argv)
        if rc == 2:
            assert str(f) in err


@settings(max_examples=40, deadline=None)
@given(header=st.binary(min_size=0, max_size=PAGE_SIZE), signed=st.booleans(),
       pages=st.integers(0, 40), last_page=st.integers(0, 1 << 32))
def test_swapinfo_on_any_area(tmp_path_factory: pytest.TempPathFactory, header: bytes,
                              signed: bool, pages: int, last_page: int) -> None:
    page = bytearray(header.ljust(PAGE_SIZE, b"\0"))
    if signed:
        page[-10:] = b"SWAPSPACE2"
        page[1024:1032] = (1).to_bytes(4, "little") + (last_page % (1 << 32)).to_bytes(
            4, "little")
    f = tmp_path_factory.mktemp("a") / "area"
    f.write_bytes(bytes(page) + bytes(pages * PAGE_SIZE))
    rc, out, err = _run_cli(["swapinfo", str(f), "--json"])
    assert rc in (0, 2), err
    _assert_well_formed(rc, err, ["swapinfo"])
    if rc == 0:
        info = json.loads(out)
        assert 0 < info["last_page"] <= pages and info["nr_pages"] == info["last_page"] + 1


_TOML_VALUES = st.one_of(
    st.integers().map(str), st.text(max_size=10).map(json.dumps),
    st.sampled_from(['"64M"', '"9' + "9" * 300 + '"', "-1", "1e400", "nan", "true",
                     '"max"', "[]", "{}", '"/a\\nb"', '"1/0"']))


@settings(max_examples=40, deadline=None)
@given(key=st.sampled_from(["seed", "scale", "machine.cpus", "machine.ram", "swap.size",
                            "swap.priority", "swap.path", "swap.label",
                            "cgroups.memory.max", "workloads.command", "workloads.cgroup",
                            "zswap.max_pool_percent"]),
       value=_TOML_VALUES)
def test_configs_with_any_value(tmp_path_factory: pytest.TempPathFactory, key: str,
                                value: str) -> None:
    """A config with one value of any kind: refused in one line naming the file, or run
    (small) to a well-formed result."""
    vals = {"seed": "1", "scale": "1", "machine.cpus": "2", "machine.ram": '"64M"',
            "swap.size": '"8M"', "swap.priority": "5", "swap.label": '"s"',
            "cgroups.memory.max": '"2M"', "workloads.command": '"usemem -n 1 1M"',
            "workloads.cgroup": '"/w"', "zswap.max_pool_percent": "20"}
    d = tmp_path_factory.mktemp("c")
    vals["swap.path"] = json.dumps(str(d / "swapfile"))
    vals[key] = value
    text = (f'designs = ["classic"]\nseed = {vals["seed"]}\nscale = {vals["scale"]}\n'
            f'[machine]\ncpus = {vals["machine.cpus"]}\nram = {vals["machine.ram"]}\n'
            f'[[swap]]\ntype = "file"\nsize = {vals["swap.size"]}\n'
            f'priority = {vals["swap.priority"]}\npath = {vals["swap.path"]}\n'
            f'label = {vals["swap.label"]}\n'
            f'[zswap]\nenabled = true\nmax_pool_percent = {vals["zswap.max_pool_percent"]}\n'
            f'[cgroups."/w"]\nmemory.max = {vals["cgroups.memory.max"]}\n'
            f'[[workloads]]\ncgroup = {vals["workloads.cgroup"]}\n'
            f'command = {vals["workloads.command"]}\n')
    cfg = d / "c.toml"
    cfg.write_text(text)
    out = d / "r.json"
    # A relative swap.path is made relative to the working directory: run in the test's own
    # folder, or the values Hypothesis draws become swap files in the checkout (two did).
    with contextlib.chdir(d):
        rc, _, err = _run_cli(["run", "--config", str(cfg), "--json", str(out)], timeout=60)
    assert rc in (0, 2, 4), (key, value, err)
    _assert_well_formed(rc, err, ["run", key, value])
    if rc == 2:
        assert str(cfg) in err or "--json" in err
    if rc in (0, 4):
        (r,) = load_results(out)
        assert r.design == "classic" and r.data_loss == 0


@pytest.mark.parametrize("target", ["/dev/full", "{ro}/r.json", "{d}/file/r.json", "{d}"])
def test_unwritable_outputs_are_refused_before_the_run(tmp_path: Path, target: str) -> None:
    (tmp_path / "file").write_text("x")
    ro = "/sys/kernel" if os.geteuid() == 0 else str(tmp_path / "ro")
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir(mode=0o500)
    path = target.replace("{ro}", ro).replace("{d}", str(tmp_path))
    argvs = [["run", *hostile.SMALL, "--json", path]]
    if target != "{d}":  # a folder is what plot --out wants
        argvs.append(["plot", str(tmp_path / "missing.json"), "--out", path])
    for argv in argvs:
        rc, out, err = _run_cli(argv)
        assert rc == 2 and err.startswith(("vswap: error: --json", "vswap: error: --out")), err
        assert out == "", "refused before anything ran"
