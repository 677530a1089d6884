"""The hostile and careless inputs of issue 17, as a corpus: every one must end in exit 0 with
a well-formed result, or in one line ``vswap: error: ...`` (exit 2), ``vswap: OOM: ...``
(exit 4) or a loss line (exit 3); never a traceback, a hang, or a destroyed file.

:func:`prepare` makes the files the inputs name in a directory (a swap area, a FIFO, a
symlink, a read-only folder, malformed result files and configs); ``{d}`` in an argument is
that directory. ``python tests/unit/reliability/hostile.py`` runs every input as a
subprocess with a timeout and prints the counts (tracebacks, hangs, statuses) that
docs/reliability.md records; ``test_hostile_inputs.py`` runs them in-process.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

#: A small workload and swap device, so the run commands finish in well under a second.
SMALL = ["--workload", "usemem -n 1 2M", "--swap-device", "file:8M", "--memory-max", "1M"]
HUGE = "9" * 400

#: (argv, expected statuses). Expected statuses say what the input should end in; the
#: runner reports every input whose status is not among them.
INPUTS: list[tuple[list[str], tuple[int, ...]]] = [
    # numbers of any length, NaN and infinity, out-of-range counts
    (["mkswap", "{d}/new1", "--size", HUGE], (2,)),
    (["mkswap", "{d}/new2", "--size", HUGE + "G"], (2,)),
    (["mkswap", "{d}/new3", "--size", "1." + "0" * 500 + "1M"], (2,)),
    (["mkswap", "{d}/new4", "--size", "16T"], (2,)),
    (["mkswap", "{d}/new5", "--size", "1e9"], (2,)),
    (["mkswap", "{d}/new6", "--size", "nan"], (2,)),
    (["mkswap", "{d}/new7", "--size", "64K", "--label", "a\nb"], (0,)),
    (["mkswap", "{d}/new8", "--size", "64K", "--label", "x" * 17], (2,)),
    (["mkswap", "{d}/new9", "--size", "64K", "--uuid", "nope"], (2,)),
    (["run", *SMALL, "--memory-max", HUGE], (2,)),
    (["run", *SMALL, "--ram", HUGE + "P"], (2,)),
    (["run", *SMALL, "--cpus", "100000000"], (2,)),
    (["run", *SMALL, "--cpus", "0"], (2,)),
    (["run", *SMALL, "--cpus", "-3"], (2,)),
    (["run", *SMALL, "--cpus", HUGE], (2,)),
    (["run", *SMALL, "--seed", "-1"], (2,)),
    (["run", *SMALL, "--seed", HUGE], (2,)),
    (["run", *SMALL, "--scale", "1e-99999999"], (2,)),
    (["run", *SMALL, "--scale", "1/" + HUGE], (2,)),
    (["run", *SMALL, "--scale", "nan"], (2,)),
    (["run", *SMALL, "--swap-device", "file:" + HUGE], (2,)),
    (["run", "--workload", "usemem -n 1 -s inf 2M", "--swap-device", "file:8M"], (2,)),
    (["run", "--workload", "usemem -n 1 -s nan 2M", "--swap-device", "file:8M"], (2,)),
    (["run", "--workload", "usemem -n 1 -s 1e308 2M", "--swap-device", "file:8M"], (2,)),
    (["run", "--workload", "usemem -n 100000000 2M", "--swap-device", "file:8M"], (2,)),
    (["run", "--workload", "usemem -n 1 -r " + HUGE + " 2M", "--swap-device", "file:8M"],
     (2,)),
    (["run", "--workload", "usemem -n 1 -t 100000000 2M"], (2,)),
    (["run", "--workload", "usemem -n 1 " + HUGE], (2,)),
    (["run", "--workload", "usemem -n 1 2M", "--memory-max", "0", "--swap-device", "none"],
     (4,)),
    (["run", "--workload", "usemem -n 1 8M", "--memory-max", "1M", "--swap-device", "none"],
     (4,)),
    (["run", "--workload", "usemem 'unterminated"], (2,)),
    (["run", "--workload", ""], (2,)),
    (["run", "--design", ","], (2,)),
    (["run", "--design", "classic,vswap"], (2,)),
    (["run", "--zswap", "nope"], (2,)),
    (["run", "--swap-device", "tape:1G"], (2,)),
    (["run", "--swap-device", "file:1G:floppy"], (2,)),
    (["run", "--costs", "{d}/fifo"], (2,)),
    (["run", "--costs", "/dev/zero"], (2,)),
    (["run", "--costs", "{d}/garbage.json"], (2,)),
    (["run", "--config", "{d}/fifo"], (2,)),
    (["run", "--config", "/dev/zero"], (2,)),
    (["run", "--config", "{d}"], (2,)),
    (["run", "--config", "{d}/bad.toml"], (2,)),
    (["run", "--config", "{d}/binary.toml"], (2,)),
    (["run", "--config", "{d}/clobber.toml"], (2,)),
    (["run", "--config", "{d}/newline-cgroup.toml"], (2,)),
    (["run", "--config", "{d}/slash-cgroup.toml"], (0,)),
    (["run", "--config", "{d}/neg-seed.toml"], (2,)),
    (["run", *SMALL, "--json", "/dev/full"], (2,)),
    (["run", *SMALL, "--json", "{d}/ro/out.json"], (2,)),
    (["run", *SMALL, "--json", "{d}/regular/out.json"], (2,)),
    (["run", *SMALL, "--json", "{d}"], (2,)),
    (["run", *SMALL, "--json", "{d}/out.json"], (0,)),
    (["compare", *SMALL, "--design", "classic,vswap", "--json", "/dev/full"], (2,)),
    (["compare", *SMALL, "--jobs", "-1"], (2,)),
    (["compare", *SMALL, "--jobs", HUGE], (2,)),
    (["compare", *SMALL, "--design", ",,"], (2,)),
    # bench
    (["bench", "rfc", "--table", ","], (2,)),
    (["bench", "rfc", "--table", "nope"], (2,)),
    (["bench", "rfc", "--scale", "0"], (2,)),
    (["bench", "rfc", "--scale", "1e-99999999"], (2,)),
    (["bench", "rfc", "--kbuild-jobs", "0"], (2,)),
    (["bench", "rfc", "--kbuild-jobs", HUGE], (2,)),
    (["bench", "rfc", "--seed", "-5"], (2,)),
    (["bench", "rfc", "--design", ","], (2,)),
    (["bench", "rfc", "--jobs", "-2"], (2,)),
    # demo
    (["demo", "--design", ","], (2,)),
    (["demo", "--design", "nope"], (2,)),
    (["demo", "--swap-size", "16T"], (2,)),
    (["demo", "--swap-size", HUGE], (2,)),
    (["demo", "--swap-size", "16K"], (2,)),
    (["demo", "--pages", "100000000"], (2,)),
    (["demo", "--pages", HUGE], (2,)),
    (["demo", "--pages", "0"], (2,)),
    (["demo", "--pages", "40000", "--swap-size", "1M"], (2,)),
    (["demo", "--zswap", "nope"], (2,)),
    (["demo", "--seed", "-1"], (2,)),
    (["demo", "--pages", "30", "--design", "classic"], (0,)),
    # metadata
    (["metadata", "--usage", "1e-99999999"], (2,)),
    (["metadata", "--usage", "1/" + HUGE], (2,)),
    (["metadata", "--usage", HUGE], (2,)),
    (["metadata", "--usage", "nan"], (2,)),
    (["metadata", "--usage", "inf"], (2,)),
    (["metadata", "--usage", ",".join(["50"] * 5000)], (2,)),
    (["metadata", "--swap-size", HUGE], (2,)),
    (["metadata", "--swap-size", "1P"], (2,)),
    (["metadata", "--swap-size", "16T", "--usage", "0"], (0,)),
    (["metadata", "--design", ","], (2,)),
    (["metadata", "--backend", "tape"], (2,)),
    (["metadata", "--usage", "50", "--json"], (0,)),
    # mkswap and the files it meets
    (["mkswap", "{d}/data.txt", "--size", "64K"], (2,)),
    (["mkswap", "{d}/ext4.img", "--size", "64K"], (2,)),
    (["mkswap", "{d}/old-swap", "--size", "64K"], (2,)),
    (["mkswap", "{d}/link", "--size", "64K"], (2,)),
    (["mkswap", "{d}/dangling", "--size", "64K"], (2,)),
    (["mkswap", "{d}/fifo", "--size", "64K"], (2,)),
    (["mkswap", "{d}/keep.txt", "--size", "1P"], (2,)),
    (["mkswap", "{d}/ro/new", "--size", "64K"], (2,)),
    (["mkswap", "{d}/regular/new", "--size", "64K"], (2,)),
    (["mkswap", "{d}", "--size", "64K"], (2,)),
    (["mkswap", "/dev/full", "--size", "64K"], (2,)),
    (["mkswap", "/dev/null", "--size", "64K"], (2,)),
    (["mkswap", "{d}/zeros", "--size", "64K"], (0,)),
    (["mkswap", "{d}/forced", "--size", "64K", "--force"], (0,)),
    # swapinfo and the files it reads
    (["swapinfo", "{d}/fifo"], (2,)),
    (["swapinfo", "/dev/zero"], (2,)),
    (["swapinfo", "/dev/null"], (2,)),
    (["swapinfo", "{d}"], (2,)),
    (["swapinfo", "{d}/data.txt"], (2,)),
    (["swapinfo", "{d}/nonexistent"], (2,)),
    (["swapinfo", "{d}/unreadable"], (2,)),
    (["swapinfo", "{d}/swap"], (0,)),
    (["swapinfo", "{d}/swap", "--json"], (0,)),
    (["swapinfo", "{d}/odd-label"], (0,)),
    # stat and plot on what is not a result file
    (["stat", "{d}/fifo"], (2,)),
    (["stat", "/dev/zero"], (2,)),
    (["stat", "/dev/null"], (2,)),
    (["stat", "{d}"], (2,)),
    (["stat", "{d}/huge.json"], (2,)),
    (["stat", "{d}/garbage.json"], (2,)),
    (["stat", "{d}/bad-metrics.json"], (2,)),
    (["stat", "{d}/bad-types.json"], (2,)),
    (["stat", "{d}/bad-vmstat.json"], (2,)),
    (["stat", "{d}/bad-run.json"], (2,)),
    (["stat", "{d}/deep.json"], (2,)),
    (["stat", "{d}/bad-types.json", "--table"], (2,)),
    (["stat", "{d}/bad-vmstat.json", "--table"], (2,)),
    (["stat", "{d}/bad-peak.json", "--at", "peak"], (2,)),
    (["plot", "{d}/fifo"], (2,)),
    (["plot", "{d}/bad-types.json"], (2,)),
    (["plot", "{d}/bad-timeline.json"], (2,)),
    (["plot", "{d}/bad-metrics.json"], (2,)),
    (["plot", "{d}/good.json", "--out", "/dev/full"], (2,)),
    (["plot", "{d}/good.json", "--out", "{d}/ro"], (2,)),
    (["plot", "{d}/good.json", "--out", "{d}/regular"], (2,)),
    (["plot", "{d}/good.json", "--format", "gif"], (2,)),
    (["plot", "{d}/good.json", "--design", ","], (2,)),
    # soak
    (["soak", "--minutes", "nan"], (2,)),
    (["soak", "--minutes", "inf"], (2,)),
    (["soak", "--minutes", HUGE], (2,)),
    (["soak", "--minutes", "1", "--design", ","], (2,)),
    (["soak", "--minutes", "1", "--seed", "-1"], (2,)),
    (["soak", "--minutes", "1", "--seed", HUGE], (2,)),
    (["soak", "--minutes", "0.005", "--design", "classic"], (0,)),
]


def _result(**run: object) -> str:
    base = {"design": "classic", "workload": "usemem 1M", "seed": 1}
    base.update(run)
    return json.dumps({"format": "vswap-result", "version": 1, "runs": [base]})


def prepare(d: Path) -> None:
    """Make in ``d`` every file the inputs name (the good result file needs a run: made
    with the library, small)."""
    from vswap.swap.swap_area import mkswap

    os.mkfifo(d / "fifo")
    (d / "data.txt").write_text("precious data\n")
    (d / "keep.txt").write_text("keep me\n")
    img = bytearray(64 << 10)
    img[1024 + 0x38:1024 + 0x3A] = b"\x53\xef"  # the ext2/3/4 superblock magic
    (d / "ext4.img").write_bytes(bytes(img))
    mkswap(d / "old-swap", 64 << 10, label="old")
    mkswap(d / "swap", 64 << 10, label="swap")
    mkswap(d / "odd-label", 64 << 10, label="\x1b[2J\nLABEL=x")
    (d / "zeros").write_bytes(bytes(64 << 10))
    (d / "forced").write_text("overwrite me, I was asked to\n")
    os.symlink(d / "data.txt", d / "link")
    os.symlink(d / "nowhere", d / "dangling")
    (d / "ro").mkdir()
    os.chmod(d / "ro", stat.S_IRUSR | stat.S_IXUSR)
    (d / "regular").write_text("a file, not a folder\n")
    (d / "unreadable").write_text("x")
    os.chmod(d / "unreadable", 0)
    (d / "garbage.json").write_text("{not json")
    (d / "huge.json").write_text("[" * 200_000)
    (d / "deep.json").write_text("[" * 5000 + "]" * 5000)
    (d / "bad-metrics.json").write_text(_result(metrics="fast"))
    (d / "bad-types.json").write_text(_result(design=7, workload=[1], seed="one",
                                              devices="none", timeline=5))
    (d / "bad-vmstat.json").write_text(_result(vmstat={"pswpin": "many"}, meminfo=[]))
    (d / "bad-run.json").write_text(json.dumps({"format": "vswap-result", "version": 1,
                                                "runs": [5]}))
    (d / "bad-peak.json").write_text(_result(peak={"vmstat": 3}))
    (d / "bad-timeline.json").write_text(_result(timeline=[{"t_ns": "x"}, 4]))
    (d / "bad.toml").write_text("designs = [\n")
    (d / "binary.toml").write_bytes(b"\xff\xfe\x00garbage")
    (d / "clobber.toml").write_text(
        f'designs = ["classic"]\n[[swap]]\ntype = "file"\nsize = "64K"\npath = "{d}/data.txt"\n'
        '[[workloads]]\ncommand = "usemem 1M"\n')
    (d / "newline-cgroup.toml").write_text(
        'designs = ["classic"]\n[cgroups."/a\\nb"]\nmemory.max = "1M"\n'
        '[[workloads]]\ncgroup = "/a\\nb"\ncommand = "usemem 1M"\n')
    (d / "slash-cgroup.toml").write_text(
        'designs = ["classic"]\n[cgroups."/a//b/"]\nmemory.max = "4M"\n'
        '[[workloads]]\ncgroup = "/a//b"\ncommand = "usemem 1M"\n')
    (d / "neg-seed.toml").write_text(
        'designs = ["classic"]\nseed = -1\n[[workloads]]\ncommand = "usemem 1M"\n')
    good = d / "good.json"
    rc = subprocess.run([sys.executable, "-m", "vswap", "run", *SMALL, "--json", str(good)],
                        capture_output=True, check=False).returncode
    if rc != 0 or not good.exists():
        raise RuntimeError("could not make the good result file")


def expand(argv: list[str], d: Path) -> list[str]:
    """``argv`` with ``{d}`` made the directory; ``{d}/ro`` is ``/sys/kernel`` for root,
    whom a mode of 0500 does not stop (sysfs refuses every new file)."""
    ro = "/sys/kernel" if os.geteuid() == 0 else f"{d}/ro"
    return [a.replace("{d}/ro", ro).replace("{d}", str(d)) for a in argv]


def main() -> int:
    """Run every input as ``python -m vswap`` with a timeout; print each surprise and the
    counts."""
    timeout = float(os.environ.get("HOSTILE_TIMEOUT", "30"))
    counts = {"tried": 0, "traceback": 0, "hang": 0, "unexpected status": 0}
    with tempfile.TemporaryDirectory(prefix="vswap-hostile-") as tmp:
        d = Path(tmp)
        prepare(d)
        try:
            for argv, expected in INPUTS:
                args = expand(argv, d)
                counts["tried"] += 1
                shown = " ".join(a if len(a) < 40 else a[:20] + f"...({len(a)})" for a in argv)
                # A session of its own, so a timeout ends the command's worker processes too.
                with subprocess.Popen([sys.executable, "-m", "vswap", *args], text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, start_new_session=True) as p:
                    try:
                        _, stderr = p.communicate(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        os.killpg(p.pid, signal.SIGKILL)
                        p.communicate()
                        counts["hang"] += 1
                        print(f"HANG       {shown}")
                        continue
                if "Traceback" in stderr:
                    counts["traceback"] += 1
                    last = stderr.strip().splitlines()[-1][:100]
                    print(f"TRACEBACK  {shown}: {last}")
                elif p.returncode not in expected:
                    counts["unexpected status"] += 1
                    err = stderr.strip().replace("\n", " | ")[:120]
                    print(f"STATUS {p.returncode:3d} (want {expected}) {shown}: {err}")
        finally:
            os.chmod(d / "ro", stat.S_IRWXU)
            for name in ("data.txt", "keep.txt", "ext4.img", "old-swap"):
                if not (d / name).exists() or (d / name).stat().st_size == 0:
                    print(f"DESTROYED  {name}")
            if (d / "data.txt").read_text() != "precious data\n":
                print("DESTROYED  data.txt (content)")
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
